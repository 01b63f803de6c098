package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/questionnaire/fhir"
	"eprom/store/signing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// fhirMaterial is the folder of FHIR questionnaires in the test material
// (../shared/testdata, or $EPROM_TESTDATA). Outside CI a checkout without it
// skips the test, saying what was skipped; under CI=true it must be there.
func fhirMaterial(t *testing.T, what string) string {
	t.Helper()
	dir := os.Getenv("EPROM_TESTDATA")
	if dir == "" {
		dir = "../../../shared/testdata"
	}
	dir = filepath.Join(dir, "fhir", "questionnaires")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but no FHIR test material at %s", dir)
		}
		t.Skipf("SKIPPED %s: no test material at %s (set EPROM_TESTDATA); it runs under CI=true", what, dir)
	}
	return dir
}

// responseSchema is the R4 JSON Schema's QuestionnaireResponse (the
// material's fhir.schema.json, beside the questionnaires), compiled once
// for the test binary: the file is large.
var responseSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	dir := os.Getenv("EPROM_TESTDATA")
	if dir == "" {
		dir = "../../../shared/testdata"
	}
	f, err := os.Open(filepath.Join(dir, "fhir", "fhir.schema.json"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("fhir.schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("fhir.schema.json#/definitions/QuestionnaireResponse")
})

// Every FHIR Questionnaire of the test material that imports runs in the
// service: in EPROM_SCHEMAS it is imported at load (its report in the
// log), it can be ordered, and a patient answers every page it shows over
// HTTP and sends it. The signed envelope's questionnaireResponse is a
// valid R4 QuestionnaireResponse that holds what was posted.
func TestServeRunsEveryImportedFHIRForm(t *testing.T) {
	dir := fhirMaterial(t, "serving the imported FHIR forms")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no questionnaires in %s", dir)
	}
	served := 0
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			res, err := fhir.Import(data, false)
			switch {
			case err != nil:
				t.Skipf("not served: it does not import: %v", err)
			case res.Refused:
				var why []string
				for _, f := range res.Report {
					if f.Refuse {
						why = append(why, f.String())
					}
				}
				t.Skipf("not served: the import refuses it: %s", strings.Join(why, "; "))
			}
			served++
			servePatientJourney(t, name, data, res)
		})
	}
	if served == 0 {
		t.Error("no file of the test material was served")
	}
}

// servePatientJourney serves one FHIR file and sends a patient through it.
func servePatientJourney(t *testing.T, name string, data []byte, res *fhir.Result) {
	def := res.Definition
	forms := t.TempDir()
	if err := os.WriteFile(filepath.Join(forms, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	_, logs := startServe(t, addr, "-data", t.TempDir(), "-api-tokens", testToken, "-schemas", forms)
	if len(res.Report) > 0 && (!strings.Contains(logs.String(), "FHIR import") || !strings.Contains(logs.String(), name)) {
		t.Errorf("the import report is not in the log:\n%s", logs.String())
	}
	base := "http://" + addr
	status, order := api(t, "POST", base+"/api/v1/orders", `{"questionnaire": "`+def.ID+`", "patientRef": "p-fhir"}`)
	if status != 201 {
		t.Fatalf("order: %d %v", status, order)
	}

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + "/c/" + order["code"].(string))
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("code: %v %v", resp, err)
	}
	resp, err = client.Get(base + "/q")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if resp.StatusCode != 200 || csrf == nil {
		t.Fatalf("page 1: %d\n%s", resp.StatusCode, page)
	}

	// Every page, in order: each question the answers so far show, with
	// a valid answer of its type; a hidden one is never posted.
	posted := url.Values{}
	answers := questionnaire.Answers{}
	today := time.Now()
	for i, p := range def.Pages() {
		form := url.Values{"csrf": {string(csrf[1])}, "page": {strconv.Itoa(i + 1)}, "action": {"next"}}
		for k, q := range p.Questions() {
			if !def.Enabled(answers)[q.LinkID] {
				continue
			}
			v, ok := validAnswer(def, q, answers, today, k)
			if !ok {
				t.Fatalf("no valid answer to %s (%s)", q.LinkID, q.Type)
			}
			answers[q.LinkID] = v
			for field, vals := range v.FormFields(q.LinkID) {
				form[field], posted[field] = vals, vals
			}
		}
		resp, err := client.PostForm(base+"/q", form)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("page %d: %d\n%s", i+1, resp.StatusCode, body)
		}
	}
	if len(posted) == 0 {
		t.Fatal("nothing to answer")
	}
	resp, err = client.PostForm(base+"/q/submit", url.Values{"csrf": {string(csrf[1])}})
	if err != nil || resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/done") {
		t.Fatalf("submit: %v %v", resp, err)
	}

	env := pullEnvelope(t, base)
	if env.Type != questionnaire.EnvelopeResponse || env.OrderID != order["id"] || env.Questionnaire.ID != def.ID {
		t.Fatalf("envelope %s of order %s for %s, want a response of %v for %s", env.Type, env.OrderID, env.Questionnaire.ID, order["id"], def.ID)
	}
	qr := env.QuestionnaireResponse
	if len(qr) == 0 {
		t.Fatal("the response envelope has no questionnaireResponse")
	}
	sch, err := responseSchema()
	if err != nil {
		t.Fatalf("the R4 JSON Schema: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(qr))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("the questionnaireResponse is not a valid R4 QuestionnaireResponse: %v\n%s", err, qr)
	}
	var head struct{ ResourceType, Questionnaire, Status string }
	json.Unmarshal(qr, &head)
	if head.ResourceType != "QuestionnaireResponse" || head.Status != "completed" || head.Questionnaire != def.Canonical() {
		t.Errorf("questionnaireResponse %+v, want a completed one of %s", head, def.Canonical())
	}

	// What the response holds, as form values, decodes as what was posted.
	got := responseForm(t, def, qr)
	want, _ := def.DecodeForm(posted, nil)
	back, errs := def.DecodeForm(got, nil)
	if len(errs) > 0 {
		t.Errorf("the questionnaireResponse's answers: %v", errs)
	}
	for id, w := range want {
		if g, ok := back[id]; !ok || !g.Equal(w) {
			t.Errorf("%s: the questionnaireResponse has %v, posted %v", id, got[id], posted[id])
		}
	}
	for id := range back {
		if _, ok := want[id]; !ok {
			t.Errorf("%s: in the questionnaireResponse, never posted", id)
		}
	}
}

// validAnswer is an answer of the item's type that the definition accepts
// beside the answers so far, the k-th of those it tries that show the most
// questions, so that skip logic opens up what it can and not every
// question gets its first option.
func validAnswer(def *questionnaire.Definition, it *questionnaire.Item, a questionnaire.Answers, today time.Time, k int) (questionnaire.Value, bool) {
	var cands []questionnaire.Value
	add := func(v questionnaire.Value) { v.Type = it.Type; cands = append(cands, v) }
	switch it.Type {
	case questionnaire.Choice:
		for _, o := range it.Options {
			add(questionnaire.Value{String: o.Value})
		}
		if it.Other {
			add(questionnaire.Value{Other: "Mitt eget svar"})
		}
	case questionnaire.MultiChoice:
		var several []string
		for _, o := range it.Options {
			if !o.Exclusive {
				several = append(several, o.Value)
			}
		}
		if len(several) > 1 {
			add(questionnaire.Value{Strings: []string{several[0], several[len(several)-1]}})
			if it.Other {
				add(questionnaire.Value{Strings: []string{several[0], several[len(several)-1]}, Other: "Og dette"})
			}
		}
		for _, o := range it.Options {
			add(questionnaire.Value{Strings: []string{o.Value}})
		}
	case questionnaire.Boolean:
		add(questionnaire.Value{Bool: true})
		add(questionnaire.Value{Bool: false})
	case questionnaire.Integer, questionnaire.Scale, questionnaire.Decimal:
		lo, hi := 0.0, 40.0
		if it.Min != nil {
			lo, hi = *it.Min, *it.Min+40
		}
		if it.Max != nil {
			hi = *it.Max
		}
		for _, n := range []float64{lo + (hi-lo)/3, lo, hi} {
			if it.Type == questionnaire.Decimal {
				n = math.Round(n*100) / 100
			} else {
				n = math.Round(n)
			}
			add(questionnaire.Value{Number: n})
		}
	case questionnaire.Date:
		for _, s := range []string{"2020-02-29", it.MinDate, it.MaxDate} {
			if s == "today" {
				s = today.Format(time.DateOnly)
			}
			if s != "" {
				add(questionnaire.Value{String: s})
			}
		}
	case questionnaire.TextType:
		for _, s := range []string{"Svar med æ, ø og å", "12:30", "x", "pasient@example.no"} {
			add(questionnaire.Value{String: s})
		}
	}
	best, shown := -1, -1
	for j := range cands {
		i := (j + k) % len(cands)
		try := questionnaire.Answers{it.LinkID: cands[i]}
		for id, v := range a {
			try[id] = v
		}
		if _, errs := def.Validate(try, []*questionnaire.Item{it}, today); len(errs.For(it.LinkID)) > 0 {
			continue
		}
		n := 0
		for _, on := range def.Enabled(try) {
			if on {
				n++
			}
		}
		if n > shown {
			best, shown = i, n
		}
	}
	if best < 0 {
		return questionnaire.Value{}, false
	}
	return cands[best], true
}

// pullEnvelope leases the one envelope waiting, as a registry pulls it,
// and verifies its signature against the service's JWKS.
func pullEnvelope(t *testing.T, base string) *questionnaire.Envelope {
	t.Helper()
	status, m := api(t, "GET", base+"/api/v1/submissions?limit=10", "")
	subs, _ := m["submissions"].([]any)
	if status != 200 || len(subs) != 1 {
		t.Fatalf("lease: %d, %d envelopes", status, len(subs))
	}
	jws, _ := subs[0].(map[string]any)["jws"].(string)
	resp, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	set, err := signing.ParseJWKS(raw)
	if err != nil {
		t.Fatal(err)
	}
	payload, _, err := signing.Verify(jws, set)
	if err != nil {
		t.Fatalf("the envelope does not verify: %v", err)
	}
	var env questionnaire.Envelope
	if err := json.Unmarshal(payload, &env); err != nil {
		t.Fatal(err)
	}
	return &env
}

// responseForm reads the answers of a QuestionnaireResponse back as form
// values after the definition: a coding as the option with its system and
// code, a string beside a choice's options as the patient's own answer, a
// number, a date or a string as it is.
func responseForm(t *testing.T, def *questionnaire.Definition, qr []byte) url.Values {
	t.Helper()
	type item struct {
		LinkID string `json:"linkId"`
		Answer []struct {
			ValueCoding *struct {
				System, Code string
			}
			ValueBoolean  *bool
			ValueInteger  *json.Number
			ValueDecimal  *json.Number
			ValueQuantity *struct{ Value json.Number }
			ValueDate     *string
			ValueString   *string
		} `json:"answer"`
		Item []json.RawMessage `json:"item"`
	}
	form := url.Values{}
	var walk func(raw []json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var ri item
			if err := json.Unmarshal(r, &ri); err != nil {
				t.Fatal(err)
			}
			it := def.Item(ri.LinkID)
			if it == nil {
				t.Errorf("item %s: not in the definition", ri.LinkID)
				continue
			}
			for _, a := range ri.Answer {
				switch {
				case a.ValueCoding != nil:
					found := false
					for _, o := range it.Options {
						if o.System == a.ValueCoding.System && o.FHIRCode() == a.ValueCoding.Code {
							form.Add(ri.LinkID, o.Value)
							found = true
						}
					}
					if !found {
						t.Errorf("%s: the coding %s|%s is no option's", ri.LinkID, a.ValueCoding.System, a.ValueCoding.Code)
					}
				case a.ValueBoolean != nil:
					form.Add(ri.LinkID, strconv.FormatBool(*a.ValueBoolean))
				case a.ValueInteger != nil:
					form.Add(ri.LinkID, a.ValueInteger.String())
				case a.ValueDecimal != nil:
					form.Add(ri.LinkID, a.ValueDecimal.String())
				case a.ValueQuantity != nil:
					form.Add(ri.LinkID, a.ValueQuantity.Value.String())
				case a.ValueDate != nil:
					form.Add(ri.LinkID, *a.ValueDate)
				case a.ValueString != nil && it.Other:
					form.Add(it.OtherField(), *a.ValueString) // the patient's own answer
				case a.ValueString != nil:
					form.Add(ri.LinkID, *a.ValueString)
				default:
					t.Errorf("%s: an answer of no type", ri.LinkID)
				}
			}
			walk(ri.Item)
		}
	}
	var doc struct {
		Item []json.RawMessage `json:"item"`
	}
	if err := json.Unmarshal(qr, &doc); err != nil {
		t.Fatal(err)
	}
	walk(doc.Item)
	return form
}
