package questionnaire_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"eprom/questionnaire"
)

// feedbackDef has a 0–16 sum the patient sees, with bands in plain words,
// and a mean the patient does not see.
const feedbackDef = `{"id": "fb", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "items": [
	{"linkId": "a", "type": "choice", "text": {"en": "A"}, "options": [
		{"value": "0", "score": 0, "text": {"en": "0"}}, {"value": "4", "score": 4, "text": {"en": "4"}}]},
	{"linkId": "b", "type": "choice", "text": {"en": "B"}, "options": [
		{"value": "1", "score": 1, "text": {"en": "1"}}, {"value": "12", "score": 12, "text": {"en": "12"}}]}],
 "scores": [
	{"id": "total", "method": "sum", "items": ["a", "b"], "feedback": true, "bands": [
		{"code": "low", "min": 0, "max": 7, "label": {"en": "Low"}, "feedback": {"en": "Few problems."}},
		{"code": "high", "min": 8, "max": 16, "label": {"en": "High"}, "feedback": {"en": "Many problems."}}]},
	{"id": "avg", "method": "mean", "items": ["a", "b"]}]}`

func TestFeedbackIsChecked(t *testing.T) {
	d := mustParse(t, feedbackDef)
	if fs := d.FeedbackScores(); len(fs) != 1 || fs[0].ID != "total" {
		t.Fatalf("FeedbackScores = %v, want total", fs)
	}
	for _, tt := range []struct{ name, from, to, path string }{
		{"a band of a feedback score without its words", `, "feedback": {"en": "Many problems."}`, ``,
			"scores[0].bands[1].feedback"},
		{"words on a band of a score the patient does not see", `"feedback": true, `, ``,
			"scores[0].bands[0].feedback"},
	} {
		_, err := questionnaire.Parse([]byte(strings.Replace(feedbackDef, tt.from, tt.to, 1)))
		if err == nil || !strings.Contains(err.Error(), tt.path) {
			t.Errorf("%s: %v, want a problem at %s", tt.name, err, tt.path)
		}
	}
}

func TestScoreRange(t *testing.T) {
	d := mustParse(t, scored)
	for _, tt := range []struct {
		id     string
		lo, hi float64
		ok     bool
	}{
		{"sum", 0, 16, true},      // four 0–4 items, reverse coding changes nothing
		{"prorated", 0, 16, true}, // scaled up to every item
		{"mean", 0, 4, true},
		{"withHidden", 0, 14, true}, // a 0–4 choice and a 0–10 scale
		{"ticks", 0, 3, true},       // both options ticked
	} {
		lo, hi, ok := d.Range(d.Score(tt.id))
		if lo != tt.lo || hi != tt.hi || ok != tt.ok {
			t.Errorf("Range(%s) = %v, %v, %v; want %v, %v, %v", tt.id, lo, hi, ok, tt.lo, tt.hi, tt.ok)
		}
	}
	open := mustParse(t, `{"id": "n", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "items": [
		{"linkId": "x", "type": "integer", "text": {"en": "X"}}], "scores": [{"id": "s", "method": "sum", "items": ["x"]}]}`)
	if _, _, ok := open.Range(open.Score("s")); ok {
		t.Error("a number without min and max has a range")
	}
}

func TestOrderPrevious(t *testing.T) {
	cat := questionnaire.NewCatalogue()
	if err := cat.Add(mustParse(t, feedbackDef)); err != nil {
		t.Fatal(err)
	}
	if err := cat.Add(mustParse(t, scored)); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	by := questionnaire.Orderer{Client: &questionnaire.Client{ID: "default"}}
	order := func(id string, p ...questionnaire.PreviousRequest) (*questionnaire.Order, error) {
		return questionnaire.NewOrder(&questionnaire.OrderRequest{Questionnaire: id, PatientRef: "p", Previous: p},
			cat, by, []string{"en"}, "o1", now)
	}
	prev := func(at, label string, total float64) questionnaire.PreviousRequest {
		return questionnaire.PreviousRequest{At: at, Label: label, Scores: map[string]*float64{"total": &total}}
	}

	o, err := order("fb", prev("2026-09-01", "Discharge", 5), prev("2026-03-01T23:30:00+01:00", "Baseline", 14))
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Previous) != 2 || o.Previous[0].At != "2026-03-01" || o.Previous[0].Label != "Baseline" || o.Previous[1].Scores["total"] != 5 {
		t.Errorf("previous = %+v, want oldest first, dates only", o.Previous)
	}
	// Values are rounded as the service rounds its own: 7.995 is 8.
	if o, err := order("fb", prev("2026-01-01", "", 7.995)); err != nil || o.Previous[0].Scores["total"] != 8 {
		t.Errorf("7.995: %v, %v", o, err)
	}
	if o, err := order("fb"); err != nil || o.Previous != nil {
		t.Errorf("no previous: %v, %v", o.Previous, err)
	}

	eleven := make([]questionnaire.PreviousRequest, 11)
	for i := range eleven {
		eleven[i] = prev("2026-01-01", "", 3)
	}
	for _, tt := range []struct {
		name string
		id   string
		p    []questionnaire.PreviousRequest
		want string
	}{
		{"eleven results", "fb", eleven, "previous has 11 results; at most 10"},
		{"a questionnaire without feedback", "scored", []questionnaire.PreviousRequest{{At: "2026-01-01", Scores: map[string]*float64{"sum": ptr(3)}}},
			"scored 1.0.0 shows the patient no scores"},
		{"no date", "fb", []questionnaire.PreviousRequest{prev("", "", 3)}, "previous[0].at is required"},
		{"not a date", "fb", []questionnaire.PreviousRequest{prev("1. mars", "", 3)}, `previous[0].at "1. mars" is not a date`},
		{"a date in the future", "fb", []questionnaire.PreviousRequest{prev("2026-12-04", "", 3)}, "previous[0].at 2026-12-04 is not a date a result can have"},
		{"no scores", "fb", []questionnaire.PreviousRequest{{At: "2026-01-01"}}, "previous[0].scores is required: at least one of total"},
		{"a score the patient does not see", "fb", []questionnaire.PreviousRequest{{At: "2026-01-01", Scores: map[string]*float64{"avg": ptr(2)}}},
			`previous[0].scores: "avg" is not a score fb shows the patient; it shows total`},
		{"a value outside the range", "fb", []questionnaire.PreviousRequest{prev("2026-01-01", "", 3), prev("2026-02-01", "", 17)},
			"previous[1].scores.total is 17, outside the score's range 1 to 16"},
		{"a null score", "fb", []questionnaire.PreviousRequest{{At: "2026-01-01", Scores: map[string]*float64{"total": nil}}},
			"previous[0].scores.total is null; leave out a score that could not be worked out"},
		{"a long label", "fb", []questionnaire.PreviousRequest{prev("2026-01-01", strings.Repeat("x", 41), 3)}, "previous[0].label has 41 characters"},
		{"a label with a control character", "fb", []questionnaire.PreviousRequest{prev("2026-01-01", "a\x07b", 3)}, "previous[0].label has a character"},
	} {
		_, err := order(tt.id, tt.p...)
		if questionnaire.ErrorCode(err) != questionnaire.EUNPROCESSABLE || !strings.Contains(questionnaire.ErrorMessage(err), tt.want) {
			t.Errorf("%s: %v, want 422 saying %q", tt.name, err, tt.want)
		}
	}
}

func ptr(v float64) *float64 { return &v }

// TestScoreRangeOfASumWithItemsLeftOut: a sum that may leave items out
// (minAnswered, not prorated) can be lower than every item's least.
func TestScoreRangeOfASumWithItemsLeftOut(t *testing.T) {
	d := mustParse(t, strings.Replace(feedbackDef, `"items": ["a", "b"], "feedback": true`, `"items": ["a", "b"], "minAnswered": 1, "feedback": true`, 1))
	if lo, hi, ok := d.Range(d.Score("total")); lo != 0 || hi != 16 || !ok {
		t.Errorf("Range = %v, %v, %v; want 0, 16 (b left out adds nothing)", lo, hi, ok)
	}
}

func TestFeedbackNeedsBandsAndARange(t *testing.T) {
	for _, tt := range []struct{ name, def string }{
		{"no bands", `{"id": "n", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "items": [
			{"linkId": "x", "type": "integer", "min": 0, "max": 9, "text": {"en": "X"}}], "scores": [{"id": "s", "method": "sum", "items": ["x"], "feedback": true}]}`},
		{"an open number", `{"id": "n", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "items": [
			{"linkId": "x", "type": "integer", "text": {"en": "X"}}], "scores": [{"id": "s", "method": "sum", "items": ["x"], "feedback": true,
			"bands": [{"code": "a", "min": 0, "max": 9, "label": {"en": "A"}, "feedback": {"en": "A."}}]}]}`},
	} {
		if _, err := questionnaire.Parse([]byte(tt.def)); err == nil || !strings.Contains(err.Error(), "scores[0].feedback") {
			t.Errorf("%s: %v, want a problem at scores[0].feedback", tt.name, err)
		}
	}
}

// TestMultichoiceKeepsOneForeignValue: thousands of made-up values for
// one multichoice item keep only the real options and the first made-up
// one, which Validate refuses; nothing else of them is kept.
func TestMultichoiceKeepsOneForeignValue(t *testing.T) {
	d := mustParse(t, scored)
	vals := []string{"y", "x", "y"}
	for i := range 5800 {
		vals = append(vals, fmt.Sprintf("junk-%d", i))
	}
	a, errs := d.DecodeForm(map[string][]string{"tick": vals}, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := a["tick"].Strings; !slices.Equal(got, []string{"x", "y", "junk-0"}) {
		t.Errorf("kept %d values: %.80v", len(got), got)
	}
	_, verrs := d.Validate(a, nil, time.Now())
	if len(verrs) != 1 || verrs[0].LinkID != "tick" || verrs[0].Code != questionnaire.AnswerOption {
		t.Errorf("Validate: %v, want one answer.option for tick", verrs)
	}
}
