package questionnaire_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"eprom/questionnaire"
)

// controllers has one controlling question of each answerable type.
const controllers = `
	{"linkId": "c", "type": "choice", "text": {"en": "C"}, "options": [
		{"value": "a", "text": {"en": "A"}}, {"value": "b", "text": {"en": "B"}}, {"value": "c", "text": {"en": "C"}}]},
	{"linkId": "m", "type": "multichoice", "text": {"en": "M"}, "options": [
		{"value": "a", "text": {"en": "A"}}, {"value": "b", "text": {"en": "B"}}]},
	{"linkId": "b", "type": "boolean", "text": {"en": "B"}},
	{"linkId": "i", "type": "integer", "text": {"en": "I"}},
	{"linkId": "x", "type": "decimal", "text": {"en": "X"}},
	{"linkId": "s", "type": "scale", "min": 0, "max": 10, "text": {"en": "S"}},
	{"linkId": "d", "type": "date", "text": {"en": "D"}},
	{"linkId": "t", "type": "text", "text": {"en": "T"}}`

// withCondition returns a definition whose item "dep" has one condition.
func withCondition(tb testing.TB, question, op string, answer any) *questionnaire.Definition {
	tb.Helper()
	ans, _ := json.Marshal(answer)
	return mustParse(tb, fmt.Sprintf(`{"id": "ew", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "items": [%s,
		{"linkId": "dep", "type": "boolean", "text": {"en": "Dep"},
		 "enableWhen": [{"question": %q, "operator": %q, "answer": %s}]}]}`, controllers, question, op, ans))
}

func TestEnableWhenTruthTable(t *testing.T) {
	choice := func(s string) questionnaire.Value { return questionnaire.Value{Type: questionnaire.Choice, String: s} }
	multi := func(s ...string) questionnaire.Value {
		return questionnaire.Value{Type: questionnaire.MultiChoice, Strings: s}
	}
	boolean := func(b bool) questionnaire.Value { return questionnaire.Value{Type: questionnaire.Boolean, Bool: b} }
	integer := func(n float64) questionnaire.Value {
		return questionnaire.Value{Type: questionnaire.Integer, Number: n}
	}
	decimal := func(n float64) questionnaire.Value {
		return questionnaire.Value{Type: questionnaire.Decimal, Number: n}
	}
	scale := func(n float64) questionnaire.Value { return questionnaire.Value{Type: questionnaire.Scale, Number: n} }
	date := func(s string) questionnaire.Value { return questionnaire.Value{Type: questionnaire.Date, String: s} }
	text := func(s string) questionnaire.Value {
		return questionnaire.Value{Type: questionnaire.TextType, String: s}
	}
	none := (*questionnaire.Value)(nil)
	v := func(x questionnaire.Value) *questionnaire.Value { return &x }

	tests := []struct {
		q      string
		op     string
		answer any
		value  *questionnaire.Value // nil: unanswered
		want   bool
	}{
		// exists
		{"c", "exists", true, v(choice("a")), true},
		{"c", "exists", true, none, false},
		{"c", "exists", false, none, true},
		{"c", "exists", false, v(choice("a")), false},
		{"t", "exists", true, v(text("hei")), true},
		// choice
		{"c", "=", "a", v(choice("a")), true},
		{"c", "=", "a", v(choice("b")), false},
		{"c", "=", "a", none, false},
		{"c", "!=", "a", v(choice("b")), true},
		{"c", "!=", "a", v(choice("a")), false},
		{"c", "!=", "a", none, false},
		// multichoice: "=" some ticked option equals, "!=" none does (FHIR R4)
		{"m", "=", "a", v(multi("a", "b")), true},
		{"m", "=", "a", v(multi("b")), false},
		{"m", "!=", "a", v(multi("a")), false},
		{"m", "!=", "a", v(multi("a", "b")), false},
		{"m", "!=", "a", v(multi("b")), true},
		{"m", "!=", "a", none, false},
		{"m", "exists", true, v(multi()), false}, // nothing ticked is no answer
		// boolean
		{"b", "=", true, v(boolean(true)), true},
		{"b", "=", true, v(boolean(false)), false},
		{"b", "=", false, v(boolean(false)), true},
		{"b", "!=", true, v(boolean(false)), true},
		{"b", "!=", true, v(boolean(true)), false},
		// integer
		{"i", "=", 3, v(integer(3)), true},
		{"i", "!=", 3, v(integer(3)), false},
		{"i", ">", 3, v(integer(4)), true},
		{"i", ">", 3, v(integer(3)), false},
		{"i", ">=", 3, v(integer(3)), true},
		{"i", ">=", 3, v(integer(2)), false},
		{"i", "<", 3, v(integer(2)), true},
		{"i", "<", 3, v(integer(3)), false},
		{"i", "<=", 3, v(integer(3)), true},
		{"i", "<=", 3, v(integer(4)), false},
		{"i", ">", 3, none, false},
		{"i", "<", 3, none, false},
		// decimal
		{"x", ">", 2.5, v(decimal(2.6)), true},
		{"x", ">", 2.5, v(decimal(2.5)), false},
		{"x", "<=", 2.5, v(decimal(2.5)), true},
		// scale
		{"s", ">=", 7, v(scale(7)), true},
		{"s", "<", 7, v(scale(7)), false},
		// date
		{"d", "<", "2020-01-01", v(date("2019-12-31")), true},
		{"d", "<", "2020-01-01", v(date("2020-01-01")), false},
		{"d", ">=", "2020-01-01", v(date("2020-01-01")), true},
		{"d", "=", "2020-01-01", v(date("2020-01-02")), false},
		// text
		{"t", "=", "ja", v(text("ja")), true},
		{"t", "!=", "ja", v(text("nei")), true},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s %s %v with %v", tt.q, tt.op, tt.answer, tt.value)
		if tt.value == nil {
			name = fmt.Sprintf("%s %s %v unanswered", tt.q, tt.op, tt.answer)
		}
		t.Run(name, func(t *testing.T) {
			d := withCondition(t, tt.q, tt.op, tt.answer)
			a := questionnaire.Answers{}
			if tt.value != nil {
				a[tt.q] = *tt.value
			}
			if got := d.IsEnabled("dep", a); got != tt.want {
				t.Errorf("enabled = %v, want %v", got, tt.want)
			}
		})
	}
}

// behaviour has two conditions on two booleans, combined by enableBehavior.
func behaviour(tb testing.TB, b string) *questionnaire.Definition {
	tb.Helper()
	return mustParse(tb, fmt.Sprintf(`{"id": "ew", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "items": [
		{"linkId": "p", "type": "boolean", "text": {"en": "P"}},
		{"linkId": "q", "type": "boolean", "text": {"en": "Q"}},
		{"linkId": "dep", "type": "boolean", "text": {"en": "Dep"}, %s
		 "enableWhen": [{"question": "p", "operator": "=", "answer": true}, {"question": "q", "operator": "=", "answer": true}]}]}`, b))
}

func TestEnableBehavior(t *testing.T) {
	yes, no := questionnaire.Value{Type: questionnaire.Boolean, Bool: true}, questionnaire.Value{Type: questionnaire.Boolean}
	tests := []struct {
		behavior string
		p, q     questionnaire.Value
		want     bool
	}{
		{"all", yes, yes, true},
		{"all", yes, no, false},
		{"all", no, yes, false},
		{"all", no, no, false},
		{"any", yes, yes, true},
		{"any", yes, no, true},
		{"any", no, yes, true},
		{"any", no, no, false},
		{"", yes, no, false}, // all is the default
		{"", yes, yes, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q with p=%v q=%v", tt.behavior, tt.p.Bool, tt.q.Bool), func(t *testing.T) {
			field := ""
			if tt.behavior != "" {
				field = fmt.Sprintf(`"enableBehavior": %q,`, tt.behavior)
			}
			d := behaviour(t, field)
			if got := d.IsEnabled("dep", questionnaire.Answers{"p": tt.p, "q": tt.q}); got != tt.want {
				t.Errorf("enabled = %v, want %v", got, tt.want)
			}
		})
	}
}

// chain: used → days (when used = yes) → how (when days exists) → shared
// (when how exists false, which would hold on its own if how were merely
// unanswered) and a group shown when used = yes.
const chain = `{"id": "chain", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "items": [
	{"linkId": "used", "type": "choice", "text": {"en": "Used?"}, "options": [
		{"value": "yes", "text": {"en": "Yes"}}, {"value": "no", "text": {"en": "No"}}]},
	{"linkId": "days", "type": "integer", "text": {"en": "Days"},
	 "enableWhen": [{"question": "used", "operator": "=", "answer": "yes"}]},
	{"linkId": "how", "type": "text", "text": {"en": "How"},
	 "enableWhen": [{"question": "days", "operator": "exists", "answer": true}]},
	{"linkId": "never", "type": "text", "text": {"en": "Never?"},
	 "enableWhen": [{"question": "how", "operator": "exists", "answer": false}]},
	{"linkId": "more", "type": "group", "enableWhen": [{"question": "used", "operator": "=", "answer": "yes"}], "items": [
		{"linkId": "inner", "type": "boolean", "text": {"en": "Inner"}}]}]}`

func TestEnableWhenIsTransitive(t *testing.T) {
	d := mustParse(t, chain)
	a := questionnaire.Answers{
		"used": {Type: questionnaire.Choice, String: "yes"},
		"days": {Type: questionnaire.Integer, Number: 3},
		"how":  {Type: questionnaire.TextType, String: "røyk"},
	}
	got := d.Enabled(a)
	for id, want := range map[string]bool{"used": true, "days": true, "how": true, "never": false, "more": true, "inner": true} {
		if got[id] != want {
			t.Errorf("used=yes: %s enabled = %v, want %v", id, got[id], want)
		}
	}

	// "no" hides days; its stale answer must not keep how shown, nor the
	// hidden how let "how exists false" show never.
	a["used"] = questionnaire.Value{Type: questionnaire.Choice, String: "no"}
	got = d.Enabled(a)
	for id, want := range map[string]bool{"used": true, "days": false, "how": false, "never": false, "more": false, "inner": false} {
		if got[id] != want {
			t.Errorf("used=no: %s enabled = %v, want %v", id, got[id], want)
		}
	}
	kept := d.Prune(a)
	if len(kept) != 1 {
		t.Errorf("Prune kept %v, want only used", kept)
	}
}
