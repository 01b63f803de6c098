package fhir_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/questionnaire/fhir"
	"eprom/schemas"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func qrTestdataDir() string {
	if dir := os.Getenv("EPROM_TESTDATA"); dir != "" {
		return dir
	}
	return filepath.Join("..", "..", "..", "shared", "testdata")
}

// qrTestdata is the test material (../shared/testdata, or
// $EPROM_TESTDATA): the R4 JSON Schema and the FHIR questionnaires.
// Outside CI a checkout without it skips, saying what; under CI=true it
// must be there.
func qrTestdata(t testing.TB, what string) string {
	t.Helper()
	dir := qrTestdataDir()
	if _, err := os.Stat(filepath.Join(dir, "fhir", "fhir.schema.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but no FHIR test material at %s: %v", dir, err)
		}
		t.Skipf("SKIPPED %s: no FHIR test material at %s (set EPROM_TESTDATA); it runs under CI=true", what, dir)
	}
	return dir
}

// r4Schemas holds the R4 JSON Schema's Questionnaire and
// QuestionnaireResponse, compiled once for the test binary from one read
// of the file: it is large.
var r4Schemas = sync.OnceValues(func() (map[string]*jsonschema.Schema, error) {
	f, err := os.Open(filepath.Join(qrTestdataDir(), "fhir", "fhir.schema.json"))
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
	out := map[string]*jsonschema.Schema{}
	for _, name := range []string{"Questionnaire", "QuestionnaireResponse"} {
		if out[name], err = c.Compile("fhir.schema.json#/definitions/" + name); err != nil {
			return nil, err
		}
	}
	return out, nil
})

// qrSchema is the R4 JSON Schema's QuestionnaireResponse.
func qrSchema() (*jsonschema.Schema, error) {
	s, err := r4Schemas()
	return s["QuestionnaireResponse"], err
}

// qrValidate checks a QuestionnaireResponse against the R4 JSON Schema.
func qrValidate(t *testing.T, qr []byte) {
	t.Helper()
	sch, err := qrSchema()
	if err != nil {
		t.Fatalf("the R4 JSON Schema: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(qr))
	if err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("not a valid R4 QuestionnaireResponse: %v\n%s", err, qr)
	}
}

// qrAnswerAll answers every question that the answers before it enable,
// in document order, with a valid value of its type; of the valid values
// it tries, it takes one that shows the most questions, so that skip logic
// opens up as much of the form as it can, and of those a different one
// from question to question (not always the first option).
func qrAnswerAll(t *testing.T, def *questionnaire.Definition, today time.Time) questionnaire.Answers {
	t.Helper()
	a := questionnaire.Answers{}
	for k, it := range def.Questions() {
		if !def.Enabled(a)[it.LinkID] {
			continue
		}
		best, shown := -1, -1
		cands := qrCandidates(it, today)
		for j := range cands {
			i := (j + k) % len(cands)
			v := cands[i]
			try := qrClone(a)
			try[it.LinkID] = v
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
			t.Fatalf("%s: no valid answer to %s (%s)", def.ID, it.LinkID, it.Type)
		}
		a[it.LinkID] = cands[best]
	}
	kept, errs := def.Validate(a, nil, today)
	if len(errs) > 0 || len(kept) != len(a) {
		t.Fatalf("%s: the answers do not validate: %v (%d of %d kept)", def.ID, errs, len(kept), len(a))
	}
	enabled := def.Enabled(kept)
	for _, it := range def.Questions() {
		if _, ok := kept[it.LinkID]; enabled[it.LinkID] && !ok {
			t.Fatalf("%s: the shown %s is not answered", def.ID, it.LinkID)
		}
	}
	return kept
}

func qrClone(a questionnaire.Answers) questionnaire.Answers {
	out := make(questionnaire.Answers, len(a)+1)
	for k, v := range a {
		out[k] = v
	}
	return out
}

// qrCandidates are answers of the item's type to try, the most telling
// first: several ticked options, a fraction, non-ASCII text.
func qrCandidates(it *questionnaire.Item, today time.Time) []questionnaire.Value {
	var out []questionnaire.Value
	switch it.Type {
	case questionnaire.Choice:
		for _, o := range it.Options {
			out = append(out, questionnaire.Value{Type: it.Type, String: o.Value})
		}
		if it.Other {
			out = append(out, questionnaire.Value{Type: it.Type, Other: "Mitt eget svar"})
		}
	case questionnaire.MultiChoice:
		var several []string
		for _, o := range it.Options {
			if !o.Exclusive {
				several = append(several, o.Value)
			}
		}
		if len(several) > 2 {
			several = []string{several[0], several[len(several)-1]}
		}
		if len(several) > 0 {
			out = append(out, questionnaire.Value{Type: it.Type, Strings: several})
			if it.Other {
				out = append(out, questionnaire.Value{Type: it.Type, Strings: several, Other: "Og dette"})
			}
		}
		for _, o := range it.Options {
			out = append(out, questionnaire.Value{Type: it.Type, Strings: []string{o.Value}})
		}
	case questionnaire.Boolean:
		out = append(out, questionnaire.Value{Type: it.Type, Bool: true}, questionnaire.Value{Type: it.Type, Bool: false})
	case questionnaire.Integer, questionnaire.Scale, questionnaire.Decimal:
		lo, hi := 0.0, 40.0
		if it.Min != nil {
			lo = *it.Min
		}
		if it.Max != nil {
			hi = *it.Max
		} else if it.Min != nil {
			hi = lo + 40
		}
		nums := []float64{lo + (hi-lo)/3, lo, hi}
		for _, n := range nums {
			if it.Type == questionnaire.Decimal {
				n = math.Round(n*100) / 100
			} else {
				n = math.Round(n)
			}
			out = append(out, questionnaire.Value{Type: it.Type, Number: n})
		}
	case questionnaire.Date:
		for _, s := range []string{"2020-02-29", it.MinDate, it.MaxDate} {
			if s == "today" {
				s = today.Format(time.DateOnly)
			}
			if s != "" {
				out = append(out, questionnaire.Value{Type: it.Type, String: s})
			}
		}
	case questionnaire.TextType:
		for _, s := range []string{"Svar med æ, ø og å", "12:30", "x", "pasient@example.no"} {
			out = append(out, questionnaire.Value{Type: it.Type, String: s})
		}
	}
	return out
}

// qrDecoded is a QuestionnaireResponse read back: the answers by linkId,
// typed after the definition, and each item's linkId with its parent's
// ("" at the top), in the order they come.
type qrDecoded struct {
	doc struct {
		ResourceType, Questionnaire, Status, Authored, Language string
		Item                                                    []*qrDecodedItem
	}
	answers questionnaire.Answers
	tree    []string // "parent/linkId", in document order
}

type qrDecodedItem struct {
	LinkID string                       `json:"linkId"`
	Text   string                       `json:"text"`
	Answer []map[string]json.RawMessage `json:"answer"`
	Item   []*qrDecodedItem             `json:"item"`
}

// qrDecode reads a QuestionnaireResponse back after the definition,
// checking as it goes that each item is the definition's, with its text in
// lang, and each answer the one value[x] of its type.
func qrDecode(t *testing.T, def *questionnaire.Definition, lang string, qr []byte) *qrDecoded {
	t.Helper()
	d := &qrDecoded{answers: questionnaire.Answers{}}
	if err := json.Unmarshal(qr, &d.doc); err != nil {
		t.Fatal(err)
	}
	var walk func(parent string, items []*qrDecodedItem)
	walk = func(parent string, items []*qrDecodedItem) {
		for _, ri := range items {
			d.tree = append(d.tree, parent+"/"+ri.LinkID)
			it := def.Item(ri.LinkID)
			if it == nil {
				t.Errorf("item %s: not in the definition", ri.LinkID)
				continue
			}
			if want := strings.TrimSpace(it.Text.Get(lang)); ri.Text != want {
				t.Errorf("item %s: text %q, want %q", ri.LinkID, ri.Text, want)
			}
			if it.Type == questionnaire.Group {
				if len(ri.Answer) > 0 || len(ri.Item) == 0 {
					t.Errorf("group %s: %d answers and %d items", ri.LinkID, len(ri.Answer), len(ri.Item))
				}
				walk(ri.LinkID, ri.Item)
				continue
			}
			if len(ri.Item) > 0 {
				t.Errorf("question %s has items", ri.LinkID)
			}
			if _, dup := d.answers[ri.LinkID]; dup {
				t.Errorf("question %s twice", ri.LinkID)
			}
			d.answers[ri.LinkID] = qrValue(t, it, lang, ri.Answer)
		}
	}
	walk("", d.doc.Item)
	return d
}

// qrValue types the answers to one question back as a Value.
func qrValue(t *testing.T, it *questionnaire.Item, lang string, answers []map[string]json.RawMessage) questionnaire.Value {
	t.Helper()
	v := questionnaire.Value{Type: it.Type}
	if len(answers) == 0 || (len(answers) > 1 && it.Type != questionnaire.MultiChoice) {
		// A choice has one answer: an option, or the patient's own.
		t.Errorf("%s (%s): %d answers", it.LinkID, it.Type, len(answers))
		return v
	}
	want := map[questionnaire.ItemType]string{
		questionnaire.Choice: "valueCoding", questionnaire.MultiChoice: "valueCoding", questionnaire.Boolean: "valueBoolean",
		questionnaire.Integer: "valueInteger", questionnaire.Scale: "valueInteger", questionnaire.Decimal: "valueDecimal",
		questionnaire.Date: "valueDate", questionnaire.TextType: "valueString",
	}[it.Type]
	if it.Type == questionnaire.Decimal && len(it.Unit) > 0 {
		want = "valueQuantity"
	}
	for i, ans := range answers {
		if raw, ok := ans["valueString"]; ok && it.Other && len(ans) == 1 && i == len(answers)-1 {
			// The patient's own answer beside the options, last.
			if err := json.Unmarshal(raw, &v.Other); err != nil || v.Other == "" {
				t.Errorf("%s: own answer %s: %v", it.LinkID, raw, err)
			}
			continue
		}
		raw, ok := ans[want]
		if !ok || len(ans) != 1 {
			t.Errorf("%s (%s): answer %v, want one %s", it.LinkID, it.Type, qrKeys(ans), want)
			continue
		}
		var err error
		switch want {
		case "valueCoding":
			var c struct{ System, Code, Display string }
			err = json.Unmarshal(raw, &c)
			o := qrOption(it, c.System, c.Code)
			if o == nil {
				t.Errorf("%s: coding %s|%s is not an option's", it.LinkID, c.System, c.Code)
				continue
			}
			if c.Display != o.Text.Get(lang) {
				t.Errorf("%s: display %q, want %q", it.LinkID, c.Display, o.Text.Get(lang))
			}
			v.String = o.Value
			v.Strings = append(v.Strings, o.Value)
		case "valueBoolean":
			err = json.Unmarshal(raw, &v.Bool)
		case "valueInteger", "valueDecimal":
			err = json.Unmarshal(raw, &v.Number)
		case "valueQuantity":
			var q struct {
				Value *float64
				Unit  string
			}
			err = json.Unmarshal(raw, &q)
			if q.Value == nil || q.Unit != it.Unit.Get(lang) {
				t.Errorf("%s: quantity %s, want a value and the unit %q", it.LinkID, raw, it.Unit.Get(lang))
			} else {
				v.Number = *q.Value
			}
		default:
			err = json.Unmarshal(raw, &v.String)
		}
		if err != nil {
			t.Errorf("%s: %s: %v", it.LinkID, want, err)
		}
	}
	if it.Type == questionnaire.MultiChoice {
		v.String = ""
	} else {
		v.Strings = nil
	}
	return v
}

// qrOption is the option a coding stands for: its system and FHIR code.
func qrOption(it *questionnaire.Item, system, code string) *questionnaire.Option {
	for i := range it.Options {
		if o := &it.Options[i]; o.System == system && o.FHIRCode() == code {
			return o
		}
	}
	return nil
}

func qrKeys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// qrWantTree is the item tree a response with the answers should have:
// each answered question and each group with an answer in it, under its
// parent, in document order.
func qrWantTree(def *questionnaire.Definition, a questionnaire.Answers) []string {
	var out []string
	var walk func(parent string, items []*questionnaire.Item) bool
	walk = func(parent string, items []*questionnaire.Item) bool {
		found := false
		for _, it := range items {
			switch {
			case it.Type == questionnaire.Group:
				at := len(out)
				out = append(out, parent+"/"+it.LinkID)
				if walk(it.LinkID, it.Items) {
					found = true
				} else {
					out = out[:at]
				}
			case it.Type.Answerable():
				if _, ok := a[it.LinkID]; ok {
					out = append(out, parent+"/"+it.LinkID)
					found = true
				}
			}
		}
		return found
	}
	walk("", def.Items)
	return out
}

// qrCheck makes the QuestionnaireResponse of the answers in every
// language of the definition, validates it against the R4 JSON Schema and
// reads it back: the same answers, the definition's tree, its canonical.
func qrCheck(t *testing.T, def *questionnaire.Definition, a questionnaire.Answers) {
	t.Helper()
	authored := time.Date(2026, 12, 2, 9, 30, 15, 120_000_000, time.FixedZone("CET", 3600))
	for _, lang := range def.Languages {
		r := &questionnaire.Response{OrderID: "o-1", Type: questionnaire.ResponseAnswered, Language: lang,
			Answers: def.List(a), Scores: def.ComputeScores(a), SubmittedAt: authored}
		qr, err := fhir.QuestionnaireResponse(def, r)
		if err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		if of, err := fhir.QuestionnaireResponseOf(def, r, a); err != nil || !bytes.Equal(of, qr) {
			t.Errorf("%s: QuestionnaireResponseOf the decoded answers differs (%v):\n%s\nwant\n%s", lang, err, of, qr)
		}
		qrValidate(t, qr)
		d := qrDecode(t, def, lang, qr)
		doc := d.doc
		if doc.ResourceType != "QuestionnaireResponse" || doc.Status != "completed" || doc.Questionnaire != def.Canonical() || doc.Language != lang {
			t.Errorf("%s: resourceType %q, status %q, questionnaire %q, language %q; want QuestionnaireResponse, completed, %q, %q",
				lang, doc.ResourceType, doc.Status, doc.Questionnaire, doc.Language, def.Canonical(), lang)
		}
		if at, err := time.Parse(time.RFC3339, doc.Authored); err != nil || !at.Equal(authored) {
			t.Errorf("%s: authored %q, want %s: %v", lang, doc.Authored, authored.Format(time.RFC3339Nano), err)
		}
		if want := qrWantTree(def, a); !slices.Equal(d.tree, want) {
			t.Errorf("%s: items\n%v\nwant\n%v", lang, d.tree, want)
		}
		if len(d.answers) != len(a) {
			t.Errorf("%s: %d questions answered, want %d", lang, len(d.answers), len(a))
		}
		for id, want := range a {
			if got, ok := d.answers[id]; !ok || !got.Equal(want) {
				t.Errorf("%s: %s reads back as %+v, want %+v", lang, id, got, want)
			}
		}
	}
}

// Every shipped definition, answered throughout, gives a valid R4
// QuestionnaireResponse that reads back as the answers given.
func TestQuestionnaireResponseOfEveryShippedDefinition(t *testing.T) {
	qrTestdata(t, "QuestionnaireResponse of the shipped definitions")
	cat, err := schemas.Load(schemas.Shipped())
	if err != nil {
		t.Fatal(err)
	}
	today := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	for _, def := range cat.List() {
		t.Run(def.ID+"@"+def.Version, func(t *testing.T) {
			qrCheck(t, def, qrAnswerAll(t, def, today))
		})
	}
}

// Every FHIR questionnaire of the test material that imports, answered
// throughout, gives a valid QuestionnaireResponse with the codes it came
// with.
func TestQuestionnaireResponseOfEveryImportedForm(t *testing.T) {
	dir := filepath.Join(qrTestdata(t, "QuestionnaireResponse of the imported FHIR forms"), "fhir", "questionnaires")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no questionnaires in %s", dir)
	}
	today := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	imported := 0
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res, err := fhir.Import(data, false)
			switch {
			case err != nil:
				t.Skipf("does not import: %v", err)
			case res.Refused:
				t.Skipf("refused by the import")
			}
			imported++
			def := res.Definition
			if !strings.HasPrefix(def.Canonical(), def.FHIRURL()+"|") {
				t.Errorf("canonical %q", def.Canonical())
			}
			qrCheck(t, def, qrAnswerAll(t, def, today))
		})
	}
	if imported == 0 {
		t.Error("no file of the test material imports")
	}
}

// qrSmallForm has a loose page, a group page with a nested group and a
// display text, a group hidden by skip logic, options with FHIR codes and
// choices that take the patient's own answer.
const qrSmallForm = `{
  "id": "small", "version": "2.0.0", "url": "http://example.org/Questionnaire/small", "languages": ["nb", "en"],
  "title": {"nb": "Lite skjema", "en": "Small form"},
  "items": [
    {"linkId": "mood", "type": "choice", "text": {"nb": "Humør", "en": "Mood"}, "options": [
      {"value": "good", "text": {"nb": "Godt", "en": "Good"}, "system": "http://example.org/mood", "code": "G 1"},
      {"value": "bad", "text": {"nb": "Dårlig", "en": "Bad"}}]},
    {"linkId": "page2", "type": "group", "text": {"nb": "Om deg", "en": "About you"}, "items": [
      {"linkId": "intro", "type": "display", "text": {"nb": "Noen spørsmål", "en": "Some questions"}},
      {"linkId": "weight", "type": "decimal", "unit": {"nb": "kg", "en": "kg"}, "text": {"nb": "Vekt", "en": "Weight"}},
      {"linkId": "inner", "type": "group", "items": [
        {"linkId": "days", "type": "integer", "text": {"nb": "Dager", "en": "Days"}},
        {"linkId": "when", "type": "date", "text": {"nb": "Når", "en": "When"}}]},
      {"linkId": "empty", "type": "group", "text": {"nb": "Tom", "en": "Empty"}, "items": [
        {"linkId": "note", "type": "text", "text": {"nb": "Merknad", "en": "Note"}}]},
      {"linkId": "what", "type": "multichoice", "other": true, "text": {"nb": "Hva", "en": "What"}, "options": [
        {"value": "a", "text": {"nb": "A", "en": "A"}},
        {"value": "b", "text": {"nb": "B", "en": "B"}},
        {"value": "c", "text": {"nb": "C", "en": "C"}}]}]},
    {"linkId": "bad-page", "type": "group", "enableWhen": [{"question": "mood", "operator": "=", "answer": "bad"}], "items": [
      {"linkId": "why", "type": "text", "text": {"nb": "Hvorfor", "en": "Why"}}]},
    {"linkId": "sure", "type": "boolean", "text": {"nb": "Sikker", "en": "Sure"}},
    {"linkId": "where", "type": "choice", "other": true, "text": {"nb": "Hvor", "en": "Where"}, "options": [
      {"value": "home", "text": {"nb": "Hjemme", "en": "At home"}}]},
    {"linkId": "ratio", "type": "decimal", "text": {"nb": "Forhold", "en": "Ratio"}}
  ]}`

// The response of a small form, exactly: groups only around answers, no
// display text, every answer type, the option's own system and code, the
// patient's own answer as a valueString.
func TestQuestionnaireResponseOfASmallForm(t *testing.T) {
	def, err := questionnaire.Parse([]byte(qrSmallForm))
	if err != nil {
		t.Fatal(err)
	}
	a := questionnaire.Answers{
		"mood":   {Type: questionnaire.Choice, String: "good"},
		"weight": {Type: questionnaire.Decimal, Number: 72.5},
		"days":   {Type: questionnaire.Integer, Number: 3},
		"when":   {Type: questionnaire.Date, String: "2026-11-30"},
		"what":   {Type: questionnaire.MultiChoice, Strings: []string{"a", "c"}, Other: "D"},
		"where":  {Type: questionnaire.Choice, Other: "På hytta"},
		"why":    {Type: questionnaire.TextType, String: "hidden, so never sent"},
		"sure":   {Type: questionnaire.Boolean, Bool: false},
		"ratio":  {Type: questionnaire.Decimal, Number: 0.25},
	}
	kept, errs := def.Validate(a, nil, time.Now())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	r := &questionnaire.Response{Type: questionnaire.ResponseAnswered, Language: "en", Answers: def.List(kept),
		SubmittedAt: time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC)}
	qr, err := fhir.QuestionnaireResponse(def, r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"resourceType": "QuestionnaireResponse", "questionnaire": "http://example.org/Questionnaire/small|2.0.0",
	  "status": "completed", "authored": "2026-12-02T09:30:00Z", "language": "en", "item": [
	    {"linkId": "mood", "text": "Mood", "answer": [{"valueCoding": {"system": "http://example.org/mood", "code": "G 1", "display": "Good"}}]},
	    {"linkId": "page2", "text": "About you", "item": [
	      {"linkId": "weight", "text": "Weight", "answer": [{"valueQuantity": {"value": 72.5, "unit": "kg"}}]},
	      {"linkId": "inner", "item": [
	        {"linkId": "days", "text": "Days", "answer": [{"valueInteger": 3}]},
	        {"linkId": "when", "text": "When", "answer": [{"valueDate": "2026-11-30"}]}]},
	      {"linkId": "what", "text": "What", "answer": [{"valueCoding": {"code": "a", "display": "A"}}, {"valueCoding": {"code": "c", "display": "C"}}, {"valueString": "D"}]}]},
	    {"linkId": "sure", "text": "Sure", "answer": [{"valueBoolean": false}]},
	    {"linkId": "where", "text": "Where", "answer": [{"valueString": "På hytta"}]},
	    {"linkId": "ratio", "text": "Ratio", "answer": [{"valueDecimal": 0.25}]}]}`
	var got, exp any
	if err := json.Unmarshal(qr, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatal(err)
	}
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(exp, "", "  ")
	if !bytes.Equal(g, w) {
		t.Errorf("got\n%s\nwant\n%s", g, w)
	}
	if strings.Contains(string(qr), "hidden") {
		t.Error("the answer to a hidden question is in the response")
	}
	if _, err := os.Stat(filepath.Join(qrTestdataDir(), "fhir", "fhir.schema.json")); err == nil {
		qrValidate(t, qr)
	}

	t.Run("a derived canonical without a url", func(t *testing.T) {
		d, err := questionnaire.Parse([]byte(strings.Replace(qrSmallForm, `"url": "http://example.org/Questionnaire/small", `, "", 1)))
		if err != nil {
			t.Fatal(err)
		}
		qr, err := fhir.QuestionnaireResponse(d, r)
		if err != nil || !strings.Contains(string(qr), `"questionnaire":"urn:eprom:questionnaire:small|2.0.0"`) {
			t.Errorf("%s %v", qr, err)
		}
	})
	t.Run("a decline has none", func(t *testing.T) {
		dr := *r
		dr.Type, dr.Answers = questionnaire.ResponseDeclined, nil
		if qr, err := fhir.QuestionnaireResponse(def, &dr); err == nil {
			t.Errorf("a decline's QuestionnaireResponse: %s", qr)
		}
	})
	t.Run("answers that do not fit are an error that names no answer", func(t *testing.T) {
		br := *r
		br.Answers = []questionnaire.AnswerJSON{{LinkID: "mood", Value: "sad-and-secret"}}
		qr, err := fhir.QuestionnaireResponse(def, &br)
		if err == nil || strings.Contains(err.Error(), "sad-and-secret") || !strings.Contains(err.Error(), "mood") {
			t.Errorf("%s %v", qr, err)
		}
		br.Answers = []questionnaire.AnswerJSON{{LinkID: "days", Value: "three"}}
		if _, err := fhir.QuestionnaireResponse(def, &br); err == nil || strings.Contains(err.Error(), "three") {
			t.Errorf("a word for a number: %v", err)
		}
	})
}
