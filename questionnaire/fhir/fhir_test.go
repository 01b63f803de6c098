package fhir_test

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/questionnaire/fhir"
)

var update = flag.Bool("update", false, "write the golden import reports in testdata/")

// material finds ../shared/testdata/fhir/questionnaires (or under
// $EPROM_TESTDATA); outside CI a checkout without it skips, saying so;
// under CI=true it must be there.
func material(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("EPROM_TESTDATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "testdata")
	}
	dir = filepath.Join(dir, "fhir", "questionnaires")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but no FHIR test material at %s: %v", dir, err)
		}
		t.Skipf("SKIPPED FHIR import tests: no test material at %s (set EPROM_TESTDATA); they run under CI=true", dir)
	}
	return dir
}

func read(t testing.TB, dir, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// report is what the import of a file comes to, as the golden files pin it.
func report(data []byte) string {
	res, err := fhir.Import(data, false)
	var b strings.Builder
	switch {
	case res == nil:
		fmt.Fprintf(&b, "error: %v\n", err)
		return b.String()
	case err != nil:
		fmt.Fprintf(&b, "error: %v\n", err)
	case res.Refused:
		fmt.Fprintf(&b, "refused: %s@%s\n", res.Definition.ID, res.Definition.Version)
	default:
		d := res.Definition
		fmt.Fprintf(&b, "imported: %s@%s: %d questions, %d pages, %d scores\n", d.ID, d.Version, len(d.Questions()), len(d.Pages()), len(d.Scores))
	}
	for _, f := range res.Report {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

// TestImportEveryFile imports every questionnaire of the test material and
// compares what it comes to, the report line by line, with the golden file
// testdata/{name}.report (go test -update writes them).
func TestImportEveryFile(t *testing.T) {
	dir := material(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatal("no questionnaires in the test material")
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			got := report(read(t, dir, name))
			golden := filepath.Join("testdata", strings.TrimSuffix(name, ".json")+".report")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if got != string(want) {
				t.Errorf("the import of %s changed:\n--- got\n%s--- want\n%s", name, got, want)
			}
		})
	}
}

// imported imports a file of the material, which must import.
func imported(t *testing.T, name string) *questionnaire.Definition {
	t.Helper()
	res, err := fhir.Import(read(t, material(t), name), false)
	if err != nil || res.Refused {
		t.Fatalf("%s: %v, refused %v: %v", name, err, res != nil && res.Refused, res)
	}
	return res.Definition
}

// scores answers a form (values are option codes as imported) and returns
// its scores by id.
func scores(t *testing.T, d *questionnaire.Definition, form url.Values) map[string]float64 {
	t.Helper()
	a, errs := d.DecodeForm(form, nil)
	if len(errs) > 0 {
		t.Fatalf("answers: %v", errs)
	}
	kept, errs := d.Validate(a, nil, time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC))
	if len(errs) > 0 {
		t.Fatalf("answers: %v", errs)
	}
	out := map[string]float64{}
	for _, s := range d.ComputeScores(kept) {
		if s.Value != nil {
			out[s.ID] = *s.Value
		}
	}
	return out
}

// The refero scoring forms: ordinal values are the options' scores, and
// helsenorge's TS and SS items become sums, computed here by hand.
func TestReferoScoresAsRefero(t *testing.T) {
	t.Run("radio button", func(t *testing.T) {
		d := imported(t, "refero-scoring-choice-radio-button.json")
		got := scores(t, d, url.Values{"2.1": {"LA6570-1"}}) // Mer enn halvparten av dagene: 2
		if len(got) != 1 || got[d.Scores[0].ID] != 2 {
			t.Errorf("scores %v, want the total 2", got)
		}
	})
	t.Run("check box", func(t *testing.T) {
		d := imported(t, "refero-scoring-choice-check-box.json")
		got := scores(t, d, url.Values{"2.1": {"d"}}) // 3
		if len(got) != 1 || got[d.Scores[0].ID] != 3 {
			t.Errorf("scores %v, want the total 3", got)
		}
	})
	t.Run("section scores", func(t *testing.T) {
		d := imported(t, "refero-scoring-section-score.json")
		form := url.Values{
			"2.1.1": {"LA6569-3"}, "2.1.2": {"c"}, // 2 + 4 = 6
			"2.2.1": {"LA6571-9"}, "2.2.2": {"a"}, // 8 + 1 = 9
			"2.3.1": {"LA6568-5"}, "2.3.2.1": {"d"}, "2.3.2.2.1": {"LA6570-1"}, // 1 + 8 + 4 = 13
		}
		got := scores(t, d, form)
		want := map[string]float64{"sectionscore-213": 6, "sectionscore-223": 9, "sectionscore-230": 13, "totalscore-31": 28}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("scores %v, want %v", got, want)
		}
	})
}

// GAD-7 keeps its options in a contained ValueSet, with ordinal values.
func TestContainedValueSet(t *testing.T) {
	d := imported(t, "rkfhir-GAD-7.json")
	var scored int
	for _, it := range d.Questions() {
		if it.Type == questionnaire.Choice && len(it.Options) == 4 && it.Options[3].Score != nil && *it.Options[3].Score == 3 {
			scored++
		}
	}
	if scored != 7 {
		t.Errorf("%d of GAD-7's questions have the four options scored 0–3 from the ValueSet, want 7", scored)
	}
}

func TestRefusals(t *testing.T) {
	for name, src := range map[string]string{
		"attachment":                  `{"resourceType": "Questionnaire", "id": "a", "item": [{"linkId": "1", "text": "Photo", "type": "attachment"}, {"linkId": "2", "text": "OK?", "type": "boolean"}]}`,
		"a question under a question": `{"resourceType": "Questionnaire", "id": "b", "item": [{"linkId": "1", "text": "Smoke?", "type": "boolean", "item": [{"linkId": "1.1", "text": "How much?", "type": "integer"}]}]}`,
		"units":                       `{"resourceType": "Questionnaire", "id": "c", "item": [{"linkId": "1", "text": "Weight", "type": "quantity", "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption", "valueCoding": {"code": "kg"}}, {"url": "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption", "valueCoding": {"code": "lb"}}]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			res, err := fhir.Import([]byte(src), false)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Refused {
				t.Errorf("not refused: %v", res.Report)
			}
			lenient, err := fhir.Import([]byte(src), true)
			if err != nil || lenient.Refused || lenient.Definition == nil {
				t.Errorf("lenient: %v %+v", err, lenient)
			}
		})
	}
}

func TestNotAQuestionnaire(t *testing.T) {
	for _, src := range []string{`{"resourceType": "Patient"}`, `[1, 2`, `{}`} {
		if _, err := fhir.Import([]byte(src), true); err == nil {
			t.Errorf("%s: no error", src)
		}
	}
}

func FuzzImport(f *testing.F) {
	// The test material as seeds, when it is there (the fuzz run of make
	// test; TestImportEveryFile insists on it under CI).
	dir := os.Getenv("EPROM_TESTDATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "testdata")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "fhir", "questionnaires", "*.json"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"resourceType": "Questionnaire", "item": [{"linkId": "1", "type": "choice", "answerOption": [{"valueCoding": {"code": "a b"}}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := fhir.Import(data, true)
		if err == nil && res.Definition != nil {
			if _, err := questionnaire.Parse(res.JSON); err != nil {
				t.Fatalf("an imported definition does not parse again: %v", err)
			}
		}
	})
}

// tr is FHIR's translation extension for a text.
func tr(pairs ...string) string {
	var parts []string
	for i := 0; i+1 < len(pairs); i += 2 {
		parts = append(parts, fmt.Sprintf(`{"url": "http://hl7.org/fhir/StructureDefinition/translation", "extension": [{"url": "lang", "valueCode": %q}, {"url": "content", "valueString": %q}]}`, pairs[i], pairs[i+1]))
	}
	return `{"extension": [` + strings.Join(parts, ", ") + `]}`
}

func TestTranslations(t *testing.T) {
	src := `{"resourceType": "Questionnaire", "id": "t", "language": "nb-NO",
		"title": "Søvn", "_title": ` + tr("nn-NO", "Søvn", "en", "Sleep") + `,
		"item": [{"linkId": "1", "type": "choice", "text": "Har du sovet godt?", "_text": ` + tr("nn-NO", "Har du sove godt?", "en", "Have you slept well?") + `,
			"answerOption": [
				{"valueCoding": {"code": "y", "display": "Ja", "_display": ` + tr("nn-NO", "Ja", "en", "Yes") + `}},
				{"valueCoding": {"code": "n", "display": "Nei", "_display": ` + tr("nn-NO", "Nei", "en", "No") + `}}]},
			{"linkId": "2", "type": "string", "text": "Hva skjedde?", "_text": ` + tr("nn-NO", "Kva skjedde?") + `}]}`
	res, err := fhir.Import([]byte(src), false)
	if err != nil {
		t.Fatal(err)
	}
	d := res.Definition
	// nn is in every text; en is missing in item 2: only nb and nn are declared.
	if strings.Join(d.Languages, ",") != "nb,nn" {
		t.Errorf("languages %v, want nb,nn", d.Languages)
	}
	if got := d.Item("1").Text["nn"]; got != "Har du sove godt?" {
		t.Errorf("nn text %q", got)
	}
	if got := d.Item("1").Options[1].Text["nn"]; got != "Nei" {
		t.Errorf("nn option %q", got)
	}
	if _, ok := d.Item("1").Text["en"]; ok {
		t.Error("an incomplete translation is kept in one text")
	}
	if !strings.Contains(fmt.Sprint(res.Report), "translation en (4 of 5 texts)") {
		t.Errorf("the dropped English is not reported: %v", res.Report)
	}
}

// An open-choice is a choice that also takes the patient's own answer;
// with repeats, a multichoice that does.
func TestOpenChoice(t *testing.T) {
	res, err := fhir.Import([]byte(`{"resourceType": "Questionnaire", "id": "oc", "language": "en", "item": [
		{"linkId": "1", "text": "Colour", "type": "open-choice", "answerOption": [{"valueCoding": {"system": "urn:uuid:1", "code": "red", "display": "Red"}}]},
		{"linkId": "2", "text": "Pets", "type": "open-choice", "repeats": true, "answerOption": [{"valueCoding": {"code": "cat", "display": "Cat"}}]}]}`), false)
	if err != nil || res.Refused {
		t.Fatalf("%v %v", err, res.Report)
	}
	one, many := res.Definition.Item("1"), res.Definition.Item("2")
	if one.Type != questionnaire.Choice || !one.Other || many.Type != questionnaire.MultiChoice || !many.Other {
		t.Errorf("items: %+v %+v", one, many)
	}
	if o := one.Option("red"); o == nil || o.System != "urn:uuid:1" {
		t.Errorf("option red: %+v", o)
	}
}
