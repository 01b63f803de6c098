package schemas_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"eprom/questionnaire"
	"eprom/schemas"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// shippedFiles returns the name and content of every shipped definition.
func shippedFiles(tb testing.TB) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	names, err := fs.Glob(schemas.Shipped(), "*.json")
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range names {
		if n == schemas.SchemaFile {
			continue
		}
		b, err := fs.ReadFile(schemas.Shipped(), n)
		if err != nil {
			tb.Fatal(err)
		}
		out[n] = b
	}
	if len(out) == 0 {
		tb.Fatal("no shipped definitions")
	}
	return out
}

// mustLoad loads the shipped catalogue.
func mustLoad(tb testing.TB) *questionnaire.Catalogue {
	tb.Helper()
	cat, err := schemas.Load(schemas.Shipped())
	if err != nil {
		tb.Fatal(err)
	}
	return cat
}

func TestShippedDefinitionsLoad(t *testing.T) {
	cat := mustLoad(t)
	var ids []string
	for _, d := range cat.List() {
		ids = append(ids, d.ID+"@"+d.Version)
	}
	want := []string{"audit@1.1.0", "audit@1.0.0", "dudit@1.1.0", "dudit@1.0.0",
		"kvarus-erfaring@1.2.0", "kvarus-erfaring@1.1.0", "kvarus-erfaring@1.0.0",
		"kvarus-maalepunkt@1.2.0", "kvarus-maalepunkt@1.1.0", "kvarus-maalepunkt@1.0.0"}
	if !slices.Equal(ids, want) {
		t.Errorf("shipped %v, want %v", ids, want)
	}
	// New orders get the latest version; orders of 1.0.0 keep theirs.
	latest := map[string]string{"audit": "1.1.0", "dudit": "1.1.0", "kvarus-erfaring": "1.2.0", "kvarus-maalepunkt": "1.2.0"}
	for _, id := range []string{"audit", "dudit", "kvarus-erfaring", "kvarus-maalepunkt"} {
		if d, err := cat.Get(id, ""); err != nil || d.Version != latest[id] {
			t.Errorf("latest %s: %v %v, want %s", id, d, err, latest[id])
		}
		if _, err := cat.Get(id, "1.0.0"); err != nil {
			t.Errorf("%s 1.0.0: %v", id, err)
		}
	}
}

// TestShippedDefinitionsMatchTheJSONSchema validates every shipped file with
// the JSON Schema library directly, independent of the loader.
func TestShippedDefinitionsMatchTheJSONSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemas.Schema()))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		t.Fatalf("the JSON Schema does not compile: %v", err)
	}
	for name, data := range shippedFiles(t) {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	t.Run("and the schema rejects what the format forbids", func(t *testing.T) {
		for _, bad := range []string{
			`{"id": "x", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "items": [{"linkId": "q", "type": "radio", "text": {"en": "Q"}}]}`,
			`{"id": "x", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "items": [{"linkId": "q", "type": "text", "text": {"en": "Q"}, "colour": 1}]}`,
			`{"id": "x", "version": "1.0.0", "languages": ["en"], "title": {"EN": "T"}, "items": [{"linkId": "q", "type": "text", "text": {"en": "Q"}}]}`,
			`{"id": "x", "version": "1.0", "languages": ["en"], "title": {"en": "T"}, "items": [{"linkId": "q", "type": "text", "text": {"en": "Q"}}]}`,
			`{"id": "x", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "patientTitle": "P", "items": [{"linkId": "q", "type": "text", "text": {"en": "Q"}}]}`,
			`{"id": "x", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "items": [{"linkId": "q", "type": "display", "sensitive": true, "text": {"en": "Q"}}]}`,
			`{"id": "x", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "items": [{"linkId": "q", "type": "text", "sensitive": "yes", "text": {"en": "Q"}}]}`,
			`{"id": "x", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "items": [{"linkId": "q", "type": "integer", "text": {"en": "Q"}}],
			  "scores": [{"id": "s", "method": "sum", "items": ["q"], "hiddenScore": "0"}]}`,
		} {
			inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(bad))
			if sch.Validate(inst) == nil {
				t.Errorf("accepted: %s", bad)
			}
		}
	})
}

// textFields are the fields of the format that hold a text.
var textFields = []string{"title", "patientTitle", "description", "text", "help", "unit", "minLabel", "maxLabel", "label", "feedback"}

// TestEveryTextInEveryLanguage walks each file's raw JSON, apart from the
// loader, and checks that every text has exactly the declared languages.
func TestEveryTextInEveryLanguage(t *testing.T) {
	for name, data := range shippedFiles(t) {
		var root map[string]any
		if err := json.Unmarshal(data, &root); err != nil {
			t.Fatal(err)
		}
		var langs []string
		for _, l := range root["languages"].([]any) {
			langs = append(langs, l.(string))
		}
		slices.Sort(langs)
		count := 0
		var walk func(p string, v any)
		walk = func(p string, v any) {
			switch v := v.(type) {
			case []any:
				for i, el := range v {
					walk(fmt.Sprintf("%s[%d]", p, i), el)
				}
			case map[string]any:
				for k, el := range v {
					if _, isFlag := el.(bool); slices.Contains(textFields, k) && !isFlag { // a score's feedback is a flag, a band's a text
						count++
						text := el.(map[string]any)
						var got []string
						for l, s := range text {
							got = append(got, l)
							if strings.TrimSpace(s.(string)) == "" {
								t.Errorf("%s: %s.%s.%s is empty", name, p, k, l)
							}
						}
						slices.Sort(got)
						if !slices.Equal(got, langs) {
							t.Errorf("%s: %s.%s has %v, want %v", name, p, k, got, langs)
						}
						continue
					}
					walk(p+"."+k, el)
				}
			}
		}
		walk("", root)
		if count < 10 {
			t.Errorf("%s: only %d texts found; is the walk broken?", name, count)
		}
	}
}

// TestDigestsAreStable pins each shipped version's digest: a version is
// immutable, so a change to a shipped file needs a new version. A reformatted
// copy keeps its digest.
func TestDigestsAreStable(t *testing.T) {
	pinned := map[string]string{}
	f, err := os.Open("testdata/digests.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		pinned[fields[0]+"@"+fields[1]] = fields[2]
	}
	for _, d := range mustLoad(t).List() {
		key := d.ID + "@" + d.Version
		switch want, ok := pinned[key]; {
		case !ok:
			t.Errorf("%s is not in testdata/digests.txt; add the line: %s %s %s", key, d.ID, d.Version, d.Digest())
		case want != d.Digest():
			t.Errorf("%s changed (digest %s, pinned %s). A version is immutable: give the change a new version.", key, d.Digest(), want)
		}
	}

	for name, data := range shippedFiles(t) {
		var tree any
		if err := json.Unmarshal(data, &tree); err != nil {
			t.Fatal(err)
		}
		compact, _ := json.Marshal(tree) // keys re-ordered, no white space
		a, errA := questionnaire.Parse(data)
		b, errB := questionnaire.Parse(compact)
		if errA != nil || errB != nil {
			t.Fatalf("%s: %v %v", name, errA, errB)
		}
		if a.Digest() != b.Digest() {
			t.Errorf("%s: reformatting changed the digest", name)
		}
	}
}

func TestKvarusMaalepunktCoversTheFormat(t *testing.T) {
	d, err := mustLoad(t).Get("kvarus-maalepunkt", "")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(d.Pages()); n < 4 {
		t.Errorf("%d pages, want at least 4", n)
	}
	used := map[questionnaire.ItemType]bool{}
	conditions := 0
	var walk func([]*questionnaire.Item)
	walk = func(items []*questionnaire.Item) {
		for _, it := range items {
			used[it.Type] = true
			conditions += len(it.EnableWhen)
			walk(it.Items)
		}
	}
	walk(d.Items)
	for _, typ := range []questionnaire.ItemType{questionnaire.Group, questionnaire.Display, questionnaire.Choice,
		questionnaire.MultiChoice, questionnaire.Boolean, questionnaire.Integer, questionnaire.Decimal,
		questionnaire.Scale, questionnaire.Date, questionnaire.TextType} {
		if !used[typ] {
			t.Errorf("no %s item", typ)
		}
	}
	if conditions == 0 {
		t.Error("no enableWhen follow-ups")
	}
	for _, id := range []string{"kvarus-maalepunkt", "kvarus-erfaring"} {
		if d, _ := mustLoad(t).Get(id, ""); !d.Demo {
			t.Errorf("%s does not say it is a demo form", id)
		}
	}
}

// answer fills a form with the given option values for q1, q2, ...
func answer(values ...string) url.Values {
	f := url.Values{}
	for i, v := range values {
		f.Set(fmt.Sprintf("q%d", i+1), v)
	}
	return f
}

// TestGoldenScores checks hand-computed AUDIT and DUDIT totals and bands.
func TestGoldenScores(t *testing.T) {
	cat := mustLoad(t)
	type golden struct {
		form    string
		name    string
		answers url.Values
		want    float64 // -1: absent
		band    string
		version string // "": every shipped version of the form
	}
	tests := []golden{
		{"audit", "all never: 0", answer("0", "0", "0", "0", "0", "0", "0", "0", "0", "0"), 0, "low", ""},
		{"audit", "2+1+1+0+0+0+1+0+0+2 = 7, top of zone I", answer("2", "1", "1", "0", "0", "0", "1", "0", "0", "2"), 7, "low", ""},
		{"audit", "2+1+1+0+0+0+0+0+4+0 = 8, bottom of zone II", answer("2", "1", "1", "0", "0", "0", "0", "0", "4", "0"), 8, "hazardous", ""},
		{"audit", "3+2+2+1+0+0+1+1+2+0 = 12", answer("3", "2", "2", "1", "0", "0", "1", "1", "2", "0"), 12, "hazardous", ""},
		{"audit", "4+3+3+1+1+1+1+1+0+0 = 15, top of zone II", answer("4", "3", "3", "1", "1", "1", "1", "1", "0", "0"), 15, "hazardous", ""},
		{"audit", "4+3+3+1+1+1+1+0+2+0 = 16, bottom of zone III", answer("4", "3", "3", "1", "1", "1", "1", "0", "2", "0"), 16, "harmful", ""},
		{"audit", "4+4+3+2+1+1+1+1+2+0 = 19, top of zone III", answer("4", "4", "3", "2", "1", "1", "1", "1", "2", "0"), 19, "harmful", ""},
		{"audit", "4+4+3+2+1+1+1+2+2+0 = 20, bottom of zone IV", answer("4", "4", "3", "2", "1", "1", "1", "2", "2", "0"), 20, "dependence", ""},
		{"audit", "everything at its highest: 40", answer("4", "4", "4", "4", "4", "4", "4", "4", "4", "4"), 40, "dependence", ""},
		{"audit", "nine of ten answered: absent", answer("4", "4", "4", "4", "4", "4", "4", "4", "4"), -1, "", ""},
		{"dudit", "all never: 0", answer("0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0"), 0, "below", ""},
		{"dudit", "1+1+1+1+1+0+0+0+0+0+0 = 5, below the cut-off for men", answer("1", "1", "1", "1", "1", "0", "0", "0", "0", "0", "0"), 5, "below", ""},
		{"dudit", "2+0+1+1+0+0+0+0+0+2+0 = 6, the cut-off for men", answer("2", "0", "1", "1", "0", "0", "0", "0", "0", "2", "0"), 6, "problems", ""},
		{"dudit", "4+2+2+2+2+2+2+2+2+2+2 = 24", answer("4", "2", "2", "2", "2", "2", "2", "2", "2", "2", "2"), 24, "problems", ""},
		{"dudit", "3+3+3+3+3+2+2+2+0+2+2 = 25, probably dependent", answer("3", "3", "3", "3", "3", "2", "2", "2", "0", "2", "2"), 25, "dependence", ""},
		{"dudit", "everything at its highest: 44", answer("4", "4", "4", "4", "4", "4", "4", "4", "4", "4", "4"), 44, "dependence", ""},
		{"dudit", "ten of eleven answered: absent", answer("4", "4", "4", "4", "4", "4", "4", "4", "4", "4"), -1, "", ""},
	}
	// AUDIT's published skip logic, from 1.1.0: after "Never" (Q1 = 0) go to
	// Q9 and Q10, and after Q2 + Q3 = 0 too; what is skipped scores 0.
	sparse := func(kv ...string) url.Values {
		f := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	tests = append(tests,
		golden{"audit", "never drinks, answers Q1, Q9 and Q10: 0+4+4 = 8", sparse("q1", "0", "q9", "4", "q10", "4"), 8, "hazardous", "1.1.0"},
		golden{"audit", "never drinks: 0+0+2 = 2", sparse("q1", "0", "q9", "0", "q10", "2"), 2, "low", "1.1.0"},
		golden{"audit", "never drinks: answers to Q2–Q8 are dropped", answer("0", "4", "4", "4", "4", "4", "4", "4", "0", "0"), 0, "low", "1.1.0"},
		golden{"audit", "Q2 + Q3 = 0: Q4–Q8 skipped, 3+0+0+2+4 = 9", sparse("q1", "3", "q2", "0", "q3", "0", "q9", "2", "q10", "4"), 9, "hazardous", "1.1.0"},
		golden{"audit", "Q3 not 0: Q4–Q8 asked, 1+0+1+1+0+0+0+0+0+0 = 3", answer("1", "0", "1", "1", "0", "0", "0", "0", "0", "0"), 3, "low", "1.1.0"},
		golden{"audit", "Q3 not 0 and Q4 unanswered: absent", sparse("q1", "1", "q2", "0", "q3", "1", "q5", "0", "q6", "0", "q7", "0", "q8", "0", "q9", "0", "q10", "0"), -1, "", "1.1.0"},
		golden{"audit", "never drinks, Q10 unanswered: absent", sparse("q1", "0", "q9", "4"), -1, "", "1.1.0"},
		golden{"audit", "1.0.0 has no skip logic: Q1, Q9, Q10 alone are too few", sparse("q1", "0", "q9", "4", "q10", "4"), -1, "", "1.0.0"},
	)
	for _, tt := range tests {
		versions := []string{tt.version}
		if tt.version == "" {
			versions = []string{"1.0.0", "1.1.0"}
		}
		for _, version := range versions {
			t.Run(tt.form+"@"+version+": "+tt.name, func(t *testing.T) {
				d, err := cat.Get(tt.form, version)
				if err != nil {
					t.Fatal(err)
				}
				goldenScore(t, d, tt.answers, tt.want, tt.band)
			})
		}
	}
}

// goldenScore checks the total a definition computes from form answers;
// want -1 means absent.
func goldenScore(t *testing.T, d *questionnaire.Definition, answers url.Values, want float64, band string) {
	t.Helper()
	a, errs := d.DecodeForm(answers, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	res := d.ComputeScores(a)
	if len(res) != 1 || res[0].ID != "total" {
		t.Fatalf("scores %v, want one total", res)
	}
	got := res[0]
	switch {
	case want < 0 && got.Value != nil:
		t.Errorf("total = %v, want absent", *got.Value)
	case want >= 0 && got.Value == nil:
		t.Errorf("total absent (%d answered, %d skipped), want %v", got.Answered, got.Skipped, want)
	case want >= 0 && (*got.Value != want || got.Band != band):
		t.Errorf("total = %v band %q, want %v band %q", *got.Value, got.Band, want, band)
	}
}

func TestCheckDirReportsBrokenDefinitions(t *testing.T) {
	files, err := schemas.CheckDir(os.DirFS("testdata/broken"), nil)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ file, path, code string }
	got := map[key]bool{}
	for _, f := range files {
		if f.Definition != nil {
			t.Errorf("%s: loaded, want problems", f.Name)
		}
		for _, p := range f.Problems {
			got[key{f.Name, p.Path, p.Code}] = true
		}
	}
	for _, want := range []key{
		{"enablewhen-missing.json", "items[1].enableWhen[0].question", questionnaire.ProblemReference},
		{"duplicate-linkid.json", "items[0].items[1].linkId", questionnaire.ProblemDuplicate},
		{"missing-nn.json", "items[0].text.nn", questionnaire.ProblemLanguage},
		{"unknown-field.json", "items[0].requierd", questionnaire.ProblemUnknownField},
		{"all-at-once.json", "colour", questionnaire.ProblemUnknownField},
		{"all-at-once.json", "version", questionnaire.ProblemPattern},
		{"all-at-once.json", "items[0].text.nn", questionnaire.ProblemLanguage},
		{"all-at-once.json", "items[0].items[1].linkId", questionnaire.ProblemDuplicate},
		{"all-at-once.json", "items[0].items[2].enableWhen[0].question", questionnaire.ProblemReference},
		{"all-at-once.json", "items[0].items[3].type", questionnaire.ProblemPattern},
		{"all-at-once.json", "scores[0].items[1]", questionnaire.ProblemReference},
		{"all-at-once.json", "scores[0].bands[1]", questionnaire.ProblemRange},
	} {
		if !got[want] {
			t.Errorf("missing %s problem at %s in %s", want.code, want.path, want.file)
		}
	}
}

func TestCheck(t *testing.T) {
	valid := string(shippedFiles(t)["audit-1.0.0.json"])

	t.Run("a mistake is reported once, in the domain's words", func(t *testing.T) {
		data := strings.Replace(valid, `"type": "choice"`, `"type": "radio"`, 1)
		f := schemas.Check("x.json", []byte(data))
		if len(f.Problems) != 1 || f.Problems[0].Code != questionnaire.ProblemPattern {
			t.Errorf("got %v", f.Problems)
		}
	})

	t.Run("not JSON", func(t *testing.T) {
		f := schemas.Check("x.json", []byte("{"))
		if len(f.Problems) != 1 || f.Problems[0].Code != questionnaire.ProblemSyntax {
			t.Errorf("got %v", f.Problems)
		}
	})
}

func TestCheckDirFindsConflictingVersions(t *testing.T) {
	valid := shippedFiles(t)["audit-1.0.0.json"]
	changed := bytes.Replace(valid, []byte(`"Lav risiko`), []byte(`"Lav  risiko`), 1)
	files, err := schemas.CheckDir(fstest.MapFS{
		"a/audit.json":      {Data: valid},
		"b/audit-copy.json": {Data: valid}, // the same file twice is fine
		"c/audit-edit.json": {Data: changed},
		"README.md":         {Data: []byte("not a definition")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("checked %d files, want 3", len(files))
	}
	for _, f := range files {
		conflict := len(f.Problems) == 1 && f.Problems[0].Code == questionnaire.ProblemConflict
		// The first file and the edited one are reported; the identical copy
		// is not the one at odds.
		if want := path.Base(f.Name) != "audit-copy.json"; conflict != want {
			t.Errorf("%s: problems %v", f.Name, f.Problems)
		}
	}
	if _, err := schemas.Load(fstest.MapFS{"x.json": {Data: valid}, "y.json": {Data: changed}}); err == nil {
		t.Error("Load accepted two contents for one version")
	}

	t.Run("a folder is checked against the shipped set", func(t *testing.T) {
		files, err := schemas.CheckDir(fstest.MapFS{"audit.json": {Data: changed}, "same.json": {Data: valid}}, mustLoad(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			conflict := len(f.Problems) == 1 && f.Problems[0].Code == questionnaire.ProblemConflict
			if want := f.Name == "audit.json"; conflict != want {
				t.Errorf("%s: problems %v", f.Name, f.Problems)
			}
		}
	})
}

// TestLatestVersionsSpeakToPatients checks the versions new orders get, as
// a tired patient meets them: a plain title (no registry or instrument
// name), the clinician called the clinician, no thanks before the answers
// are sent, and the hard questions marked sensitive.
func TestLatestVersionsSpeakToPatients(t *testing.T) {
	cat := mustLoad(t)
	jargon := []string{"målepunkt", "pasientdel", "measuring point", "patient part", "audit", "dudit"}
	for _, id := range []string{"audit", "dudit", "kvarus-erfaring", "kvarus-maalepunkt"} {
		d, err := cat.Get(id, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range d.Languages {
			title := strings.ToLower(d.ShownTitle().Get(l))
			for _, j := range jargon {
				if strings.Contains(title, j) {
					t.Errorf("%s %s: the patient's title %q holds %q", id, l, d.ShownTitle()[l], j)
				}
			}
		}
		var texts []questionnaire.Text
		texts = append(texts, d.ShownTitle(), d.Description)
		for _, it := range patientItems(d.Items) {
			texts = append(texts, it.Text, it.Help, it.Unit, it.MinLabel, it.MaxLabel)
			for _, o := range it.Options {
				texts = append(texts, o.Text)
			}
			if it.Type == questionnaire.Display {
				for l, s := range it.Text {
					if low := strings.ToLower(s); strings.HasPrefix(low, "takk") || strings.HasPrefix(low, "thank") {
						t.Errorf("%s %s: %s thanks the patient before anything is sent: %q", id, l, it.LinkID, s)
					}
				}
			}
		}
		for _, txt := range texts {
			for l, s := range txt {
				low := strings.ToLower(s)
				for _, w := range []string{"therapist", "terapeut", "the people treating you"} {
					if strings.Contains(low, w) {
						t.Errorf("%s %s: %q says %q; say clinician (behandler)", id, l, s, w)
					}
				}
			}
		}
	}

	d, _ := cat.Get("kvarus-maalepunkt", "")
	var sensitive []string
	for _, it := range patientItems(d.Items) {
		if it.Sensitive {
			sensitive = append(sensitive, it.LinkID)
		}
	}
	if want := []string{"deling", "haplos", "til-behandler"}; !slices.Equal(sensitive, want) {
		t.Errorf("kvarus-maalepunkt: sensitive %v, want %v", sensitive, want)
	}
	if len(d.PatientTitle) == 0 {
		t.Error("kvarus-maalepunkt has no patientTitle")
	}
	if old, _ := cat.Get("kvarus-maalepunkt", "1.0.0"); old.Item("takk") == nil || d.Item("takk") != nil {
		t.Error("1.0.0 keeps its thanks, 1.1.0 has none")
	}
}

// patientItems returns every item, nested ones included, in document order.
func patientItems(items []*questionnaire.Item) []*questionnaire.Item {
	var out []*questionnaire.Item
	for _, it := range items {
		out = append(out, it)
		out = append(out, patientItems(it.Items)...)
	}
	return out
}
