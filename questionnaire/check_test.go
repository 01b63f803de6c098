package questionnaire_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"eprom/questionnaire"
)

// baseDefinition is a small, valid definition that uses every item type;
// the tests below break it one rule at a time.
const baseDefinition = `{
  "id": "test-form",
  "version": "1.2.3",
  "languages": ["nb", "en"],
  "title": {"nb": "Test", "en": "Test"},
  "items": [
    {"linkId": "p1", "type": "group", "text": {"nb": "Side 1", "en": "Page 1"}, "items": [
      {"linkId": "intro", "type": "display", "text": {"nb": "Hei", "en": "Hello"}},
      {"linkId": "used", "type": "choice", "required": true, "text": {"nb": "Brukt?", "en": "Used?"},
       "options": [{"value": "yes", "score": 1, "text": {"nb": "Ja", "en": "Yes"}},
                   {"value": "no", "score": 0, "text": {"nb": "Nei", "en": "No"}}]},
      {"linkId": "days", "type": "integer", "min": 1, "max": 30, "required": true,
       "unit": {"nb": "dager", "en": "days"}, "text": {"nb": "Dager?", "en": "Days?"},
       "enableWhen": [{"question": "used", "operator": "=", "answer": "yes"}]},
      {"linkId": "how", "type": "multichoice", "other": true, "text": {"nb": "Hvordan?", "en": "How?"},
       "enableWhen": [{"question": "days", "operator": ">=", "answer": 2}],
       "options": [{"value": "smoke", "score": 1, "text": {"nb": "Røyk", "en": "Smoke"}},
                   {"value": "inject", "score": 2, "text": {"nb": "Sprøyte", "en": "Inject"}},
                   {"value": "none", "score": 0, "exclusive": true, "text": {"nb": "Ingen", "en": "None"}}]}
    ]},
    {"linkId": "p2", "type": "group", "text": {"nb": "Side 2", "en": "Page 2"}, "items": [
      {"linkId": "kids", "type": "boolean", "text": {"nb": "Barn?", "en": "Children?"}},
      {"linkId": "units", "type": "decimal", "min": 0, "max": 100, "text": {"nb": "Enheter?", "en": "Units?"}},
      {"linkId": "qol", "type": "scale", "min": 0, "max": 10, "required": true, "text": {"nb": "Livskvalitet", "en": "Quality of life"},
       "minLabel": {"nb": "Dårlig", "en": "Bad"}, "maxLabel": {"nb": "God", "en": "Good"}},
      {"linkId": "start", "type": "date", "minDate": "1990-01-01", "maxDate": "today", "text": {"nb": "Start", "en": "Start"}},
      {"linkId": "note", "type": "text", "maxLength": 20, "multiline": true, "text": {"nb": "Noe mer?", "en": "Anything else?"}}
    ]}
  ],
  "scores": [
    {"id": "total", "method": "sum", "items": ["used", "qol"], "reverse": ["qol"], "minAnswered": 1,
     "bands": [{"code": "low", "min": 0, "max": 5, "label": {"nb": "Lav", "en": "Low"}},
               {"code": "high", "min": 6, "max": 11, "label": {"nb": "Høy", "en": "High"}}]}
  ]
}`

// mustParse parses a definition and fails the test on any problem.
func mustParse(tb testing.TB, data string) *questionnaire.Definition {
	tb.Helper()
	d, err := questionnaire.Parse([]byte(data))
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return d
}

// mutated returns baseDefinition changed by f, which edits the decoded tree.
func mutated(tb testing.TB, f func(def map[string]any)) []byte {
	tb.Helper()
	var def map[string]any
	if err := json.Unmarshal([]byte(baseDefinition), &def); err != nil {
		tb.Fatal(err)
	}
	f(def)
	b, err := json.Marshal(def)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// item returns the item at the given indexes: item(def, 0, 2) is items[0].items[2].
func item(def map[string]any, idx ...int) map[string]any {
	m := def
	for _, i := range idx {
		m = m["items"].([]any)[i].(map[string]any)
	}
	return m
}

func problemsOf(tb testing.TB, data []byte) []questionnaire.Problem {
	tb.Helper()
	_, err := questionnaire.Parse(data)
	if err == nil {
		return nil
	}
	var de *questionnaire.DefinitionError
	if !errors.As(err, &de) {
		tb.Fatalf("Parse returned %T, want *DefinitionError: %v", err, err)
	}
	return de.Problems
}

func TestParse(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		d := mustParse(t, baseDefinition)
		if d.ID != "test-form" || d.Version != "1.2.3" {
			t.Errorf("id, version = %q, %q", d.ID, d.Version)
		}
		if got := len(d.Pages()); got != 2 {
			t.Errorf("pages = %d, want 2", got)
		}
		if got := len(d.Questions()); got != 8 {
			t.Errorf("questions = %d, want 8", got)
		}
		if !strings.HasPrefix(d.Digest(), "sha256:") || len(d.Digest()) != 7+64 {
			t.Errorf("digest = %q", d.Digest())
		}
	})

	t.Run("a canonical url and an option's FHIR coding", func(t *testing.T) {
		d := mustParse(t, string(mutated(t, func(d map[string]any) {
			d["url"] = "http://helsenorge.no/Questionnaire/x"
			o := item(d, 0, 1)["options"].([]any)[0].(map[string]any)
			o["system"], o["code"] = "http://snomed.info/sct", "yes please"
		})))
		if got := d.Canonical(); got != "http://helsenorge.no/Questionnaire/x|1.2.3" {
			t.Errorf("Canonical = %q", got)
		}
		if got := d.Item("used").Option("yes"); got.System != "http://snomed.info/sct" || got.FHIRCode() != "yes please" {
			t.Errorf("option = %+v, FHIRCode %q", got, got.FHIRCode())
		}
		if got := d.Item("used").Option("no").FHIRCode(); got != "no" {
			t.Errorf("FHIRCode without a code = %q, want the value", got)
		}
		if got := mustParse(t, baseDefinition).Canonical(); got != "urn:eprom:questionnaire:test-form|1.2.3" {
			t.Errorf("derived Canonical = %q", got)
		}
	})

	t.Run("loose top-level items are gathered into pages", func(t *testing.T) {
		d := mustParse(t, `{"id": "loose", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "items": [
			{"linkId": "a", "type": "boolean", "text": {"en": "A"}},
			{"linkId": "b", "type": "boolean", "text": {"en": "B"}},
			{"linkId": "g", "type": "group", "items": [{"linkId": "c", "type": "boolean", "text": {"en": "C"}}]},
			{"linkId": "d", "type": "boolean", "text": {"en": "D"}}]}`)
		var sizes []int
		for _, p := range d.Pages() {
			sizes = append(sizes, len(p.Questions()))
		}
		if got := len(sizes); got != 3 || sizes[0] != 2 || sizes[1] != 1 || sizes[2] != 1 {
			t.Errorf("page sizes = %v, want [2 1 1]", sizes)
		}
	})
}

// TestParseProblems breaks one rule per case and checks the path and code
// of the one problem reported.
func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		edit func(def map[string]any)
		path string
		code string
	}{
		{"ErrSyntax on a file that is not JSON", nil, "", questionnaire.ProblemSyntax},
		{"ErrUnknownField at the top", func(d map[string]any) { d["colour"] = "red" },
			"colour", questionnaire.ProblemUnknownField},
		{"ErrUnknownField in a nested item", func(d map[string]any) { item(d, 0, 1)["requierd"] = true },
			"items[0].items[1].requierd", questionnaire.ProblemUnknownField},
		{"ErrType on a string where a boolean belongs", func(d map[string]any) { item(d, 0, 1)["required"] = "yes" },
			"items[0].items[1].required", questionnaire.ProblemType},
		{"ErrType on a fraction where a whole number belongs", func(d map[string]any) { item(d, 1, 4)["maxLength"] = 2.5 },
			"items[1].items[4].maxLength", questionnaire.ProblemType},
		{"ErrType on items that are not an array", func(d map[string]any) { d["items"] = "none" },
			"items", questionnaire.ProblemType},
		{"ErrNotAllowed on required with readOnly", func(d map[string]any) { item(d, 0, 1)["readOnly"] = true },
			"items[0].items[1].required", questionnaire.ProblemNotAllowed},
		{"ErrNotAllowed on readOnly on a display", func(d map[string]any) { item(d, 0, 0)["readOnly"] = true },
			"items[0].items[0].readOnly", questionnaire.ProblemNotAllowed},
		{"ErrType on an initial that is not an option", func(d map[string]any) { item(d, 0, 1)["initial"] = "maybe" },
			"items[0].items[1].initial", questionnaire.ProblemType},
		{"ErrType on an initial outside the bounds", func(d map[string]any) { item(d, 0, 2)["initial"] = 31 },
			"items[0].items[2].initial", questionnaire.ProblemType},
		{"ErrType on an initial of the wrong JSON type", func(d map[string]any) { item(d, 1, 0)["initial"] = "yes" },
			"items[1].items[0].initial", questionnaire.ProblemType},
		{"ErrType on an initial with an exclusive option and another", func(d map[string]any) { item(d, 0, 3)["initial"] = []any{"smoke", "none"} },
			"items[0].items[3].initial", questionnaire.ProblemType},
		{"ErrType on an initial text longer than maxLength", func(d map[string]any) { item(d, 1, 4)["initial"] = strings.Repeat("x", 21) },
			"items[1].items[4].initial", questionnaire.ProblemType},
		{"ErrRequired on an empty initial", func(d map[string]any) { item(d, 1, 4)["initial"] = "" },
			"items[1].items[4].initial", questionnaire.ProblemRequired},
		{"ErrRange on a minLength over maxLength", func(d map[string]any) { item(d, 1, 4)["minLength"] = 21 },
			"items[1].items[4].minLength", questionnaire.ProblemRange},
		{"ErrNotAllowed on minLength on a number", func(d map[string]any) { item(d, 1, 1)["minLength"] = 2 },
			"items[1].items[1].minLength", questionnaire.ProblemNotAllowed},
		{"ErrPattern on a pattern that would escape its anchors", func(d map[string]any) { item(d, 1, 4)["pattern"] = "a)|(b" },
			"items[1].items[4].pattern", questionnaire.ProblemPattern},
		{"ErrRange on a pattern too long", func(d map[string]any) {
			item(d, 1, 4)["pattern"] = strings.Repeat("a", questionnaire.MaxPatternLength+1)
		},
			"items[1].items[4].pattern", questionnaire.ProblemRange},
		{"ErrNotAllowed on a read-only date bounded by today", func(d map[string]any) { item(d, 1, 3)["readOnly"] = true },
			"items[1].items[3].readOnly", questionnaire.ProblemNotAllowed},
		{"ErrPattern on a pattern Go cannot compile", func(d map[string]any) { item(d, 1, 4)["pattern"] = "(?<=a)b" },
			"items[1].items[4].pattern", questionnaire.ProblemPattern},
		{"ErrNotAllowed on patternHint without pattern", func(d map[string]any) {
			item(d, 1, 4)["patternHint"] = map[string]any{"nb": "8 siffer", "en": "8 digits"}
		}, "items[1].items[4].patternHint", questionnaire.ProblemNotAllowed},
		{"ErrLanguage on a patternHint missing a language", func(d map[string]any) {
			item(d, 1, 4)["pattern"] = "[0-9]{8}"
			item(d, 1, 4)["patternHint"] = map[string]any{"nb": "8 siffer"}
		}, "items[1].items[4].patternHint.en", questionnaire.ProblemLanguage},
		{"ErrRequired without an id", func(d map[string]any) { delete(d, "id") }, "id", questionnaire.ProblemRequired},
		{"ErrPattern on a url that is not absolute", func(d map[string]any) { d["url"] = "Questionnaire/audit" }, "url", questionnaire.ProblemPattern},
		{"ErrPattern on a url with the version in it", func(d map[string]any) { d["url"] = "http://x.no/q|1.0.0" }, "url", questionnaire.ProblemPattern},
		{"ErrPattern on a url that is the derived one", func(d map[string]any) { d["url"] = "urn:eprom:questionnaire:test-form" }, "url", questionnaire.ProblemPattern},
		{"ErrPattern on an option system that is not a URI", func(d map[string]any) {
			item(d, 0, 1)["options"].([]any)[0].(map[string]any)["system"] = "snomed"
		}, "items[0].items[1].options[0].system", questionnaire.ProblemPattern},
		{"ErrPattern on an option code that repeats its value", func(d map[string]any) {
			item(d, 0, 1)["options"].([]any)[0].(map[string]any)["code"] = "yes"
		}, "items[0].items[1].options[0].code", questionnaire.ProblemPattern},
		{"ErrPattern on an id with capitals", func(d map[string]any) { d["id"] = "Test" }, "id", questionnaire.ProblemPattern},
		{"ErrPattern on a version that is not semantic", func(d map[string]any) { d["version"] = "1.0" },
			"version", questionnaire.ProblemPattern},
		{"ErrRequired without languages", func(d map[string]any) { d["languages"] = []any{} },
			"languages", questionnaire.ProblemRequired},
		{"ErrDuplicate on a language declared twice", func(d map[string]any) { d["languages"] = []any{"nb", "en", "nb"} },
			"languages[2]", questionnaire.ProblemDuplicate},
		{"ErrRequired without a title", func(d map[string]any) { delete(d, "title") }, "title", questionnaire.ProblemRequired},
		{"ErrLanguage on a translation status for an undeclared language", func(d map[string]any) {
			d["translations"] = map[string]any{"nb": "original", "de": "official"}
		}, "translations.de", questionnaire.ProblemLanguage},
		{"ErrPattern on an unknown translation status", func(d map[string]any) {
			d["translations"] = map[string]any{"nb": "good"}
		}, "translations.nb", questionnaire.ProblemPattern},
		{"ErrRequired without items", func(d map[string]any) { d["items"] = []any{}; delete(d, "scores") },
			"items", questionnaire.ProblemRequired},
		{"ErrRequired on an item without linkId", func(d map[string]any) { delete(item(d, 0, 0), "linkId") },
			"items[0].items[0].linkId", questionnaire.ProblemRequired},
		{"ErrPattern on a linkId with a space", func(d map[string]any) { item(d, 0, 0)["linkId"] = "in tro" },
			"items[0].items[0].linkId", questionnaire.ProblemPattern},
		{"ErrPattern on a linkId the form uses itself", func(d map[string]any) { item(d, 0, 0)["linkId"] = "action" },
			"items[0].items[0].linkId", questionnaire.ProblemPattern},
		{"ErrPattern on a linkId over 64 characters", func(d map[string]any) { item(d, 0, 0)["linkId"] = strings.Repeat("a", 65) },
			"items[0].items[0].linkId", questionnaire.ProblemPattern},
		{"ErrDuplicate on a linkId used twice", func(d map[string]any) { item(d, 1, 0)["linkId"] = "used" },
			"items[1].items[0].linkId", questionnaire.ProblemDuplicate},
		{"ErrPattern on an unknown item type", func(d map[string]any) { item(d, 1, 0)["type"] = "radio" },
			"items[1].items[0].type", questionnaire.ProblemPattern},
		{"ErrRequired on a question without text", func(d map[string]any) { delete(item(d, 1, 0), "text") },
			"items[1].items[0].text", questionnaire.ProblemRequired},
		{"ErrLanguage on a text missing a declared language", func(d map[string]any) {
			item(d, 1, 0)["text"] = map[string]any{"nb": "Barn?"}
		}, "items[1].items[0].text.en", questionnaire.ProblemLanguage},
		{"ErrLanguage on a text in an undeclared language", func(d map[string]any) {
			item(d, 1, 0)["text"] = map[string]any{"nb": "Barn?", "en": "Children?", "nn": "Born?"}
		}, "items[1].items[0].text.nn", questionnaire.ProblemLanguage},
		{"ErrRequired on an empty text", func(d map[string]any) {
			item(d, 1, 0)["text"] = map[string]any{"nb": " ", "en": "Children?"}
		}, "items[1].items[0].text.nb", questionnaire.ProblemRequired},
		{"ErrLanguage on an option text", func(d map[string]any) {
			item(d, 0, 1)["options"].([]any)[1].(map[string]any)["text"] = map[string]any{"en": "No"}
		}, "items[0].items[1].options[1].text.nb", questionnaire.ProblemLanguage},
		{"ErrRequired on a group without items", func(d map[string]any) {
			d["items"] = append(d["items"].([]any), map[string]any{"linkId": "p3", "type": "group"})
		}, "items[2].items", questionnaire.ProblemRequired},
		{"ErrRequired on a multichoice without options", func(d map[string]any) { delete(item(d, 0, 3), "options") },
			"items[0].items[3].options", questionnaire.ProblemRequired},
		{"ErrNotAllowed on options of a text item", func(d map[string]any) {
			item(d, 1, 4)["options"] = item(d, 0, 1)["options"]
		}, "items[1].items[4].options", questionnaire.ProblemNotAllowed},
		{"ErrNotAllowed on min of a choice item", func(d map[string]any) { item(d, 0, 1)["min"] = 1 },
			"items[0].items[1].min", questionnaire.ProblemNotAllowed},
		{"ErrNotAllowed on required of a display item", func(d map[string]any) { item(d, 0, 0)["required"] = true },
			"items[0].items[0].required", questionnaire.ProblemNotAllowed},
		{"ErrNotAllowed on a unit of a scale item", func(d map[string]any) { item(d, 1, 2)["unit"] = map[string]any{"nb": "x", "en": "x"} },
			"items[1].items[2].unit", questionnaire.ProblemNotAllowed},
		{"ErrNotAllowed on maxDate of an integer item", func(d map[string]any) { item(d, 0, 2)["maxDate"] = "today" },
			"items[0].items[2].maxDate", questionnaire.ProblemNotAllowed},
		{"ErrNotAllowed on an exclusive option of a choice item", func(d map[string]any) {
			item(d, 0, 1)["options"].([]any)[1].(map[string]any)["exclusive"] = true
		}, "items[0].items[1].options[1].exclusive", questionnaire.ProblemNotAllowed},
		{"ErrDuplicate on an option value used twice", func(d map[string]any) {
			item(d, 0, 1)["options"].([]any)[1].(map[string]any)["value"] = "yes"
		}, "items[0].items[1].options[1].value", questionnaire.ProblemDuplicate},
		{"ErrPattern on an option value with a space", func(d map[string]any) {
			item(d, 0, 1)["options"].([]any)[1].(map[string]any)["value"] = "n o"
		}, "items[0].items[1].options[1].value", questionnaire.ProblemPattern},
		{"ErrRequired on a scale without max", func(d map[string]any) { delete(item(d, 1, 2), "max"); delete(d, "scores") },
			"items[1].items[2].max", questionnaire.ProblemRequired},
		{"ErrType on a scale with a fractional bound", func(d map[string]any) { item(d, 1, 2)["max"] = 9.5 },
			"items[1].items[2].max", questionnaire.ProblemType},
		{"ErrRange on min above max", func(d map[string]any) { item(d, 0, 2)["min"] = 31 },
			"items[0].items[2].min", questionnaire.ProblemRange},
		{"ErrPattern on a date bound that is not a date", func(d map[string]any) { item(d, 1, 3)["minDate"] = "1990-02-30" },
			"items[1].items[3].minDate", questionnaire.ProblemPattern},
		{"ErrRange on minDate after maxDate", func(d map[string]any) {
			item(d, 1, 3)["minDate"] = "2020-01-01"
			item(d, 1, 3)["maxDate"] = "2010-01-01"
		}, "items[1].items[3].minDate", questionnaire.ProblemRange},
		{"ErrRange on maxLength over the limit", func(d map[string]any) { item(d, 1, 4)["maxLength"] = 20001 },
			"items[1].items[4].maxLength", questionnaire.ProblemRange},
		{"ErrPattern on an unknown enableBehavior", func(d map[string]any) { item(d, 0, 2)["enableBehavior"] = "some" },
			"items[0].items[2].enableBehavior", questionnaire.ProblemPattern},
		{"ErrReference on enableWhen naming a missing item", func(d map[string]any) {
			item(d, 0, 2)["enableWhen"] = []any{map[string]any{"question": "q9", "operator": "exists", "answer": true}}
		}, "items[0].items[2].enableWhen[0].question", questionnaire.ProblemReference},
		{"ErrReference on enableWhen naming a later item", func(d map[string]any) {
			item(d, 0, 2)["enableWhen"] = []any{map[string]any{"question": "kids", "operator": "=", "answer": true}}
		}, "items[0].items[2].enableWhen[0].question", questionnaire.ProblemReference},
		{"ErrReference on enableWhen naming the item itself", func(d map[string]any) {
			item(d, 0, 2)["enableWhen"] = []any{map[string]any{"question": "days", "operator": "exists", "answer": true}}
		}, "items[0].items[2].enableWhen[0].question", questionnaire.ProblemReference},
		{"ErrReference on enableWhen naming a display item", func(d map[string]any) {
			item(d, 0, 2)["enableWhen"] = []any{map[string]any{"question": "intro", "operator": "exists", "answer": true}}
		}, "items[0].items[2].enableWhen[0].question", questionnaire.ProblemReference},
		{"ErrReference on enableWhen naming its own group", func(d map[string]any) {
			item(d, 0, 2)["enableWhen"] = []any{map[string]any{"question": "p1", "operator": "exists", "answer": true}}
		}, "items[0].items[2].enableWhen[0].question", questionnaire.ProblemReference},
		{"ErrPattern on an unknown operator", func(d map[string]any) {
			item(d, 0, 2)["enableWhen"] = []any{map[string]any{"question": "used", "operator": "==", "answer": "yes"}}
		}, "items[0].items[2].enableWhen[0].operator", questionnaire.ProblemPattern},
		{"ErrReference on an ordering operator on a choice", func(d map[string]any) {
			item(d, 0, 2)["enableWhen"] = []any{map[string]any{"question": "used", "operator": ">", "answer": "yes"}}
		}, "items[0].items[2].enableWhen[0].operator", questionnaire.ProblemReference},
		{"ErrRequired on a condition without answer", func(d map[string]any) {
			item(d, 0, 2)["enableWhen"] = []any{map[string]any{"question": "used", "operator": "="}}
		}, "items[0].items[2].enableWhen[0].answer", questionnaire.ProblemRequired},
		{"ErrType on exists with a string", func(d map[string]any) {
			item(d, 0, 2)["enableWhen"] = []any{map[string]any{"question": "used", "operator": "exists", "answer": "yes"}}
		}, "items[0].items[2].enableWhen[0].answer", questionnaire.ProblemType},
		{"ErrType on a condition answer that is not an option", func(d map[string]any) {
			item(d, 0, 2)["enableWhen"] = []any{map[string]any{"question": "used", "operator": "=", "answer": "maybe"}}
		}, "items[0].items[2].enableWhen[0].answer", questionnaire.ProblemType},
		{"ErrType on a fractional answer for an integer question", func(d map[string]any) {
			item(d, 0, 3)["enableWhen"] = []any{map[string]any{"question": "days", "operator": ">", "answer": 2.5}}
		}, "items[0].items[3].enableWhen[0].answer", questionnaire.ProblemType},
		{"ErrRequired on a score without method", func(d map[string]any) {
			delete(d["scores"].([]any)[0].(map[string]any), "method")
		}, "scores[0].method", questionnaire.ProblemRequired},
		{"ErrPattern on an unknown score method", func(d map[string]any) {
			d["scores"].([]any)[0].(map[string]any)["method"] = "median"
		}, "scores[0].method", questionnaire.ProblemPattern},
		{"ErrDuplicate on a score id used twice", func(d map[string]any) {
			d["scores"] = append(d["scores"].([]any), d["scores"].([]any)[0])
		}, "scores[1].id", questionnaire.ProblemDuplicate},
		{"ErrReference on a score item that does not exist", func(d map[string]any) {
			d["scores"].([]any)[0].(map[string]any)["items"] = []any{"used", "qol", "nope"}
		}, "scores[0].items[2]", questionnaire.ProblemReference},
		{"ErrReference on a score item that cannot be scored", func(d map[string]any) {
			d["scores"].([]any)[0].(map[string]any)["items"] = []any{"used", "qol", "note"}
		}, "scores[0].items[2]", questionnaire.ProblemReference},
		{"ErrReference on a scored choice with an option without score", func(d map[string]any) {
			delete(item(d, 0, 1)["options"].([]any)[1].(map[string]any), "score")
		}, "scores[0].items[0]", questionnaire.ProblemReference},
		{"ErrDuplicate on a score item listed twice", func(d map[string]any) {
			d["scores"].([]any)[0].(map[string]any)["items"] = []any{"used", "qol", "used"}
		}, "scores[0].items[2]", questionnaire.ProblemDuplicate},
		{"ErrReference on a reverse item not in the score", func(d map[string]any) {
			d["scores"].([]any)[0].(map[string]any)["reverse"] = []any{"days"}
		}, "scores[0].reverse[0]", questionnaire.ProblemReference},
		{"ErrReference on a reverse-coded item without bounds", func(d map[string]any) {
			delete(item(d, 1, 1), "max")
			s := d["scores"].([]any)[0].(map[string]any)
			s["items"], s["reverse"] = []any{"used", "units"}, []any{"units"}
		}, "scores[0].reverse[0]", questionnaire.ProblemReference},
		{"ErrRange on minAnswered above the number of items", func(d map[string]any) {
			d["scores"].([]any)[0].(map[string]any)["minAnswered"] = 3
		}, "scores[0].minAnswered", questionnaire.ProblemRange},
		{"ErrNotAllowed on a prorated mean", func(d map[string]any) {
			s := d["scores"].([]any)[0].(map[string]any)
			s["method"], s["prorate"] = "mean", true
		}, "scores[0].prorate", questionnaire.ProblemNotAllowed},
		{"ErrRange on overlapping bands", func(d map[string]any) {
			d["scores"].([]any)[0].(map[string]any)["bands"].([]any)[1].(map[string]any)["min"] = 5
		}, "scores[0].bands[1]", questionnaire.ProblemRange},
		{"ErrRange on a band with min above max", func(d map[string]any) {
			d["scores"].([]any)[0].(map[string]any)["bands"].([]any)[1].(map[string]any)["max"] = 5.5
		}, "scores[0].bands[1].min", questionnaire.ProblemRange},
		{"ErrDuplicate on a band code used twice", func(d map[string]any) {
			d["scores"].([]any)[0].(map[string]any)["bands"].([]any)[1].(map[string]any)["code"] = "low"
		}, "scores[0].bands[1].code", questionnaire.ProblemDuplicate},
		{"ErrLanguage on a patientTitle missing a declared language", func(d map[string]any) {
			d["patientTitle"] = map[string]any{"nb": "Spørsmål om deg"}
		}, "patientTitle.en", questionnaire.ProblemLanguage},
		{"ErrType on a patientTitle that is a plain string", func(d map[string]any) { d["patientTitle"] = "Spørsmål om deg" },
			"patientTitle", questionnaire.ProblemType},
		{"ErrNotAllowed on sensitive on a display item", func(d map[string]any) { item(d, 0, 0)["sensitive"] = true },
			"items[0].items[0].sensitive", questionnaire.ProblemNotAllowed},
		{"ErrType on sensitive that is not a boolean", func(d map[string]any) { item(d, 0, 1)["sensitive"] = "yes" },
			"items[0].items[1].sensitive", questionnaire.ProblemType},
		{"ErrRange on a hiddenScore outside an item's scores", func(d map[string]any) {
			s := d["scores"].([]any)[0].(map[string]any)
			s["items"], s["hiddenScore"] = []any{"used", "days"}, 0 // days is 1–30 and can be hidden
			delete(s, "reverse")
		}, "scores[0].hiddenScore", questionnaire.ProblemRange},
		{"ErrNotAllowed on a hiddenScore where no item can be hidden", func(d map[string]any) {
			d["scores"].([]any)[0].(map[string]any)["hiddenScore"] = 0 // used and qol have no enableWhen
		}, "scores[0].hiddenScore", questionnaire.ProblemNotAllowed},
		{"ErrLanguage on a band label", func(d map[string]any) {
			d["scores"].([]any)[0].(map[string]any)["bands"].([]any)[0].(map[string]any)["label"] = map[string]any{"nb": "Lav"}
		}, "scores[0].bands[0].label.en", questionnaire.ProblemLanguage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(`{"id": "broken",`)
			if tt.edit != nil {
				data = mutated(t, tt.edit)
			}
			ps := problemsOf(t, data)
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want 1 at %q (%s):\n%v", len(ps), tt.path, tt.code, ps)
			}
			if ps[0].Path != tt.path || ps[0].Code != tt.code {
				t.Errorf("got %s (%s), want path %q code %q", ps[0], ps[0].Code, tt.path, tt.code)
			}
			if ps[0].Message == "" {
				t.Error("the problem has no message")
			}
		})
	}
}

func TestPatientTitleAndSensitive(t *testing.T) {
	t.Run("ShownTitle falls back to the title", func(t *testing.T) {
		d := mustParse(t, baseDefinition)
		if got := d.ShownTitle().Get("nb"); got != "Test" {
			t.Errorf("ShownTitle = %q, want the title", got)
		}
	})
	t.Run("ShownTitle is the patientTitle when there is one", func(t *testing.T) {
		d := mustParse(t, string(mutated(t, func(d map[string]any) {
			d["title"] = map[string]any{"nb": "Målepunkt – pasientdel", "en": "Measuring point – patient part"}
			d["patientTitle"] = map[string]any{"nb": "Hvordan har du det?", "en": "How are you doing?"}
		})))
		if got := d.ShownTitle().Get("en"); got != "How are you doing?" {
			t.Errorf("ShownTitle = %q, want the patient title", got)
		}
		if got := d.Title.Get("nb"); got != "Målepunkt – pasientdel" {
			t.Errorf("Title = %q, want it kept for the registry", got)
		}
	})
	t.Run("sensitive on a question and on a group", func(t *testing.T) {
		d := mustParse(t, string(mutated(t, func(d map[string]any) {
			item(d, 1)["sensitive"] = true    // the group p2
			item(d, 0, 3)["sensitive"] = true // the multichoice "how"
		})))
		for id, want := range map[string]bool{"p2": true, "how": true, "used": false, "intro": false} {
			if got := d.Item(id).Sensitive; got != want {
				t.Errorf("%s: sensitive %v, want %v", id, got, want)
			}
		}
	})
}

func TestParseReportsEveryProblemAtOnce(t *testing.T) {
	data := mutated(t, func(d map[string]any) {
		d["colour"] = "red"                                                           // unknown field
		item(d, 1, 0)["linkId"] = "used"                                              // duplicate linkId
		item(d, 1, 1)["text"] = map[string]any{"nb": "Enheter?"}                      // missing en
		item(d, 0, 2)["enableWhen"].([]any)[0].(map[string]any)["question"] = "start" // comes later
	})
	want := map[string]string{
		"colour":                                   questionnaire.ProblemUnknownField,
		"items[1].items[0].linkId":                 questionnaire.ProblemDuplicate,
		"items[1].items[1].text.en":                questionnaire.ProblemLanguage,
		"items[0].items[2].enableWhen[0].question": questionnaire.ProblemReference,
	}
	ps := problemsOf(t, data)
	got := map[string]string{}
	for _, p := range ps {
		got[p.Path] = p.Code
	}
	for path, code := range want {
		if got[path] != code {
			t.Errorf("no %s problem at %s; got %v", code, path, ps)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d: %v", len(ps), len(want), ps)
	}
}

func TestParseRefusesTrailingData(t *testing.T) {
	ps := problemsOf(t, []byte(baseDefinition+` {}`))
	if len(ps) != 1 || ps[0].Code != questionnaire.ProblemSyntax {
		t.Errorf("got %v, want one syntax problem", ps)
	}
}

func TestParseSyntaxErrorSaysWhere(t *testing.T) {
	ps := problemsOf(t, []byte("{\n  \"id\": \"x\",\n  \"version\" \"1.0.0\"\n}"))
	if len(ps) != 1 || !strings.Contains(ps[0].Message, "line 3") {
		t.Errorf("got %v, want a syntax problem on line 3", ps)
	}
}

func TestParseIJSON(t *testing.T) {
	tests := []struct {
		name, data, path, code string
	}{
		{"ErrDuplicate on a key given twice", `{"id": "a", "id": "b"}`, "id", questionnaire.ProblemDuplicate},
		{"ErrDuplicate on a nested key given twice, with its path",
			strings.Replace(baseDefinition, `"linkId": "kids", "type": "boolean",`, `"linkId": "kids", "type": "boolean", "required": "yes", "required": true,`, 1),
			"items[1].items[0].required", questionnaire.ProblemDuplicate},
		{"ErrSyntax on a lone surrogate", strings.Replace(baseDefinition, `"Test"`, `"T\ud800"`, 1), "", questionnaire.ProblemSyntax},
		{"ErrSyntax on a reversed surrogate pair", strings.Replace(baseDefinition, `"Test"`, `"\udc00\ud800"`, 1), "", questionnaire.ProblemSyntax},
		{"ErrSyntax on invalid UTF-8", strings.Replace(baseDefinition, `"Test"`, "\"T\xff\"", 1), "", questionnaire.ProblemSyntax},
		{"ErrSyntax on nesting too deep", strings.Repeat("[", 100) + strings.Repeat("]", 100), "", questionnaire.ProblemSyntax},
		{"ErrRange on maxLength 0", strings.Replace(baseDefinition, `"maxLength": 20`, `"maxLength": 0`, 1),
			"items[1].items[4].maxLength", questionnaire.ProblemRange},
		{"ErrRange on minAnswered 0", strings.Replace(baseDefinition, `"minAnswered": 1`, `"minAnswered": 0`, 1),
			"scores[0].minAnswered", questionnaire.ProblemRange},
		{"ErrPattern on a pre-release with a leading zero", strings.Replace(baseDefinition, `"1.2.3"`, `"1.2.3-01"`, 1),
			"version", questionnaire.ProblemPattern},
		{"ErrType on a condition answer outside the question's range",
			strings.Replace(baseDefinition, `"operator": ">=", "answer": 2`, `"operator": ">=", "answer": 99`, 1),
			"items[0].items[3].enableWhen[0].answer", questionnaire.ProblemType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, []byte(tt.data))
			if len(ps) != 1 || ps[0].Path != tt.path || ps[0].Code != tt.code {
				t.Fatalf("got %v, want one %s at %q", ps, tt.code, tt.path)
			}
		})
	}

	t.Run("a valid surrogate pair is fine", func(t *testing.T) {
		mustParse(t, strings.Replace(baseDefinition, `"Test"`, `"\ud83d\ude00"`, 1))
	})

	t.Run("whole numbers written as 1e3 or 20.0 are whole numbers, with the same digest", func(t *testing.T) {
		a := mustParse(t, baseDefinition)
		b := mustParse(t, strings.Replace(baseDefinition, `"maxLength": 20`, `"maxLength": 2.0e1`, 1))
		if a.Digest() != b.Digest() {
			t.Error("the digest depends on how a number is written")
		}
	})
}

func TestTextGetLeavesTheCallersSliceAlone(t *testing.T) {
	langs := make([]string, 1, 4)
	langs[0] = "de"
	questionnaire.Text{"en": "x"}.Get(langs...)
	if got := langs[:cap(langs)]; got[1] != "" || got[2] != "" {
		t.Errorf("Get wrote into the caller's slice: %q", got)
	}
}
