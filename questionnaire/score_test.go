package questionnaire_test

import (
	"net/url"
	"testing"

	"eprom/questionnaire"
)

// scored has four 0–4 items, one reverse-coded, a scale and a follow-up.
const scored = `{"id": "scored", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "items": [
	{"linkId": "a", "type": "choice", "text": {"en": "A"}, "options": [
		{"value": "0", "score": 0, "text": {"en": "0"}}, {"value": "1", "score": 1, "text": {"en": "1"}},
		{"value": "2", "score": 2, "text": {"en": "2"}}, {"value": "3", "score": 3, "text": {"en": "3"}},
		{"value": "4", "score": 4, "text": {"en": "4"}}]},
	{"linkId": "b", "type": "choice", "text": {"en": "B"}, "options": [
		{"value": "0", "score": 0, "text": {"en": "0"}}, {"value": "4", "score": 4, "text": {"en": "4"}}]},
	{"linkId": "c", "type": "choice", "text": {"en": "C"}, "options": [
		{"value": "0", "score": 0, "text": {"en": "0"}}, {"value": "4", "score": 4, "text": {"en": "4"}}]},
	{"linkId": "good", "type": "choice", "text": {"en": "I felt good"}, "options": [
		{"value": "0", "score": 0, "text": {"en": "0"}}, {"value": "1", "score": 1, "text": {"en": "1"}},
		{"value": "4", "score": 4, "text": {"en": "4"}}]},
	{"linkId": "gate", "type": "boolean", "text": {"en": "Gate"}},
	{"linkId": "hidden", "type": "scale", "min": 0, "max": 10, "text": {"en": "Shown when gate"},
	 "enableWhen": [{"question": "gate", "operator": "=", "answer": true}]},
	{"linkId": "tick", "type": "multichoice", "text": {"en": "Tick"}, "options": [
		{"value": "x", "score": 1, "text": {"en": "X"}}, {"value": "y", "score": 2, "text": {"en": "Y"}}]}],
 "scores": [
	{"id": "sum", "method": "sum", "items": ["a", "b", "c", "good"], "reverse": ["good"],
	 "bands": [{"code": "low", "min": 0, "max": 7, "label": {"en": "Low"}}, {"code": "high", "min": 8, "max": 16, "label": {"en": "High"}}]},
	{"id": "prorated", "method": "sum", "items": ["a", "b", "c", "good"], "minAnswered": 2, "prorate": true},
	{"id": "mean", "method": "mean", "items": ["a", "b", "c"], "minAnswered": 2},
	{"id": "sub", "method": "sum", "items": ["b", "c"]},
	{"id": "withHidden", "method": "sum", "items": ["a", "hidden"], "minAnswered": 2},
	{"id": "ticks", "method": "sum", "items": ["tick"]}]}`

func scoresOf(t *testing.T, d *questionnaire.Definition, form url.Values) map[string]questionnaire.ScoreResult {
	t.Helper()
	a, errs := d.DecodeForm(form, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	out := map[string]questionnaire.ScoreResult{}
	for _, r := range d.ComputeScores(a) {
		out[r.ID] = r
	}
	return out
}

func assertScore(t *testing.T, got questionnaire.ScoreResult, want float64, band string) {
	t.Helper()
	if got.Value == nil {
		t.Errorf("%s: absent, want %v", got.ID, want)
		return
	}
	if *got.Value != want || got.Band != band {
		t.Errorf("%s = %v band %q, want %v band %q", got.ID, *got.Value, got.Band, want, band)
	}
}

func assertAbsent(t *testing.T, got questionnaire.ScoreResult) {
	t.Helper()
	if got.Value != nil {
		t.Errorf("%s = %v, want absent", got.ID, *got.Value)
	}
}

func TestScores(t *testing.T) {
	d := mustParse(t, scored)

	t.Run("sum with a reverse-coded item and bands", func(t *testing.T) {
		// a=3, b=4, c=0, good=1 reversed over 0..4 → 3; sum 10.
		s := scoresOf(t, d, url.Values{"a": {"3"}, "b": {"4"}, "c": {"0"}, "good": {"1"}})
		assertScore(t, s["sum"], 10, "high")
		// good=4 reversed → 0; sum 7, the top of the low band.
		s = scoresOf(t, d, url.Values{"a": {"3"}, "b": {"4"}, "c": {"0"}, "good": {"4"}})
		assertScore(t, s["sum"], 7, "low")
	})

	t.Run("all zero is a score of zero, not absent", func(t *testing.T) {
		s := scoresOf(t, d, url.Values{"a": {"0"}, "b": {"0"}, "c": {"0"}, "good": {"4"}})
		assertScore(t, s["sum"], 0, "low")
	})

	t.Run("absent when fewer than minAnswered (all, by default)", func(t *testing.T) {
		s := scoresOf(t, d, url.Values{"a": {"3"}, "b": {"4"}, "c": {"0"}})
		assertAbsent(t, s["sum"])
		if s["sum"].Answered != 3 || s["sum"].Band != "" {
			t.Errorf("answered %d band %q, want 3 and none", s["sum"].Answered, s["sum"].Band)
		}
		assertAbsent(t, scoresOf(t, d, url.Values{"a": {"3"}})["mean"])
		assertAbsent(t, scoresOf(t, d, url.Values{})["prorated"])
	})

	t.Run("prorated sum scales to every item", func(t *testing.T) {
		// a=3, b=4 answered of 4 items: 7 × 4 / 2 = 14.
		s := scoresOf(t, d, url.Values{"a": {"3"}, "b": {"4"}})
		assertScore(t, s["prorated"], 14, "")
		// a=1, b=0, c=4 of 4: 5 × 4 / 3 = 6.666… → 6.67.
		s = scoresOf(t, d, url.Values{"a": {"1"}, "b": {"0"}, "c": {"4"}})
		assertScore(t, s["prorated"], 6.67, "")
	})

	t.Run("mean over the answered items, rounded to two decimals", func(t *testing.T) {
		s := scoresOf(t, d, url.Values{"a": {"1"}, "b": {"4"}})
		assertScore(t, s["mean"], 2.5, "")
		s = scoresOf(t, d, url.Values{"a": {"1"}, "b": {"0"}, "c": {"4"}})
		assertScore(t, s["mean"], 1.67, "")
	})

	t.Run("subscale", func(t *testing.T) {
		assertScore(t, scoresOf(t, d, url.Values{"b": {"4"}, "c": {"4"}})["sub"], 8, "")
	})

	t.Run("answers to hidden items are not scored", func(t *testing.T) {
		s := scoresOf(t, d, url.Values{"a": {"2"}, "gate": {"false"}, "hidden": {"9"}})
		assertAbsent(t, s["withHidden"])
		s = scoresOf(t, d, url.Values{"a": {"2"}, "gate": {"true"}, "hidden": {"9"}})
		assertScore(t, s["withHidden"], 11, "")
	})

	t.Run("multichoice sums the ticked options", func(t *testing.T) {
		assertScore(t, scoresOf(t, d, url.Values{"tick": {"x", "y"}})["ticks"], 3, "")
	})

	t.Run("results come in the definition's order", func(t *testing.T) {
		var ids []string
		for _, r := range d.ComputeScores(nil) {
			ids = append(ids, r.ID)
		}
		want := []string{"sum", "prorated", "mean", "sub", "withHidden", "ticks"}
		if len(ids) != len(want) {
			t.Fatalf("got %v", ids)
		}
		for i := range want {
			if ids[i] != want[i] {
				t.Fatalf("got %v, want %v", ids, want)
			}
		}
	})
}

func TestScoresRoundHalfAwayFromZero(t *testing.T) {
	d := mustParse(t, `{"id": "r", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "items": [
		{"linkId": "a", "type": "decimal", "text": {"en": "A"}}, {"linkId": "b", "type": "decimal", "text": {"en": "B"}}],
		"scores": [{"id": "mean", "method": "mean", "items": ["a", "b"]}, {"id": "sum", "method": "sum", "items": ["a", "b"]}]}`)
	tests := []struct {
		a, b      string
		mean, sum float64
	}{
		{"1", "1,05", 1.03, 2.05},     // 1.025 is 1.02499… in binary
		{"10", "10,15", 10.08, 20.15}, // 10.075
		{"-1", "-1,05", -1.03, -2.05}, // away from zero
		{"0,001", "0,001", 0, 0},      // sums are rounded too
		{"2,5", "2,5", 2.5, 5},        // exact values stay
		{"0,3333", "0,3333", 0.33, 0.67},
	}
	for _, tt := range tests {
		s := scoresOf(t, d, url.Values{"a": {tt.a}, "b": {tt.b}})
		assertScore(t, s["mean"], tt.mean, "")
		assertScore(t, s["sum"], tt.sum, "")
	}
}

// skipped is AUDIT's skip logic in small: b and c are asked only when a is
// not 0, d only when b or c is not 0, e always. "skip" counts a hidden item
// as 0, "strict" as missing; "mean" and "prorated" count skipped items in
// the denominator; "reversed" reverse-codes d but not its hidden score.
const skipped = `{"id": "skipped", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "items": [
	{"linkId": "a", "type": "choice", "text": {"en": "A"}, "options": [
		{"value": "0", "score": 0, "text": {"en": "Never"}}, {"value": "2", "score": 2, "text": {"en": "2"}}]},
	{"linkId": "b", "type": "choice", "text": {"en": "B"}, "enableWhen": [{"question": "a", "operator": "!=", "answer": "0"}], "options": [
		{"value": "0", "score": 0, "text": {"en": "0"}}, {"value": "1", "score": 1, "text": {"en": "1"}}]},
	{"linkId": "c", "type": "choice", "text": {"en": "C"}, "enableWhen": [{"question": "a", "operator": "!=", "answer": "0"}], "options": [
		{"value": "0", "score": 0, "text": {"en": "0"}}, {"value": "1", "score": 1, "text": {"en": "1"}}]},
	{"linkId": "g", "type": "group", "enableBehavior": "any", "enableWhen": [
		{"question": "b", "operator": "!=", "answer": "0"}, {"question": "c", "operator": "!=", "answer": "0"}], "items": [
		{"linkId": "d", "type": "choice", "text": {"en": "D"}, "options": [
			{"value": "0", "score": 0, "text": {"en": "0"}}, {"value": "4", "score": 4, "text": {"en": "4"}}]}]},
	{"linkId": "e", "type": "choice", "text": {"en": "E"}, "options": [
		{"value": "0", "score": 0, "text": {"en": "0"}}, {"value": "4", "score": 4, "text": {"en": "4"}}]}],
 "scores": [
	{"id": "skip", "method": "sum", "items": ["a", "b", "c", "d", "e"], "hiddenScore": 0,
	 "bands": [{"code": "low", "min": 0, "max": 4, "label": {"en": "Low"}}, {"code": "high", "min": 5, "max": 11, "label": {"en": "High"}}]},
	{"id": "strict", "method": "sum", "items": ["a", "b", "c", "d", "e"]},
	{"id": "mean", "method": "mean", "items": ["a", "b", "c", "d", "e"], "hiddenScore": 0},
	{"id": "prorated", "method": "sum", "items": ["a", "b", "c", "d", "e"], "minAnswered": 2, "prorate": true, "hiddenScore": 0},
	{"id": "reversed", "method": "sum", "items": ["a", "d"], "reverse": ["d"], "hiddenScore": 0}]}`

func TestHiddenScore(t *testing.T) {
	d := mustParse(t, skipped)
	if d.Score("skip").HiddenScore == nil || *d.Score("skip").HiddenScore != 0 {
		t.Fatal("hiddenScore 0 was not decoded")
	}
	counts := func(t *testing.T, got questionnaire.ScoreResult, answered, skipped int) {
		t.Helper()
		if got.Answered != answered || got.Skipped != skipped {
			t.Errorf("%s: answered %d skipped %d, want %d and %d", got.ID, got.Answered, got.Skipped, answered, skipped)
		}
	}

	t.Run("a non-drinker: b, c and d skipped count as 0", func(t *testing.T) {
		s := scoresOf(t, d, url.Values{"a": {"0"}, "e": {"4"}})
		assertScore(t, s["skip"], 4, "low")
		counts(t, s["skip"], 2, 3)
		assertAbsent(t, s["strict"]) // without hiddenScore a hidden item is missing
		counts(t, s["strict"], 2, 0)
		assertScore(t, s["mean"], 0.8, "") // 4 over 5 counted items, not over 2 answered
		assertScore(t, s["prorated"], 4, "")
	})

	t.Run("b and c both 0: the group with d is skipped", func(t *testing.T) {
		s := scoresOf(t, d, url.Values{"a": {"2"}, "b": {"0"}, "c": {"0"}, "e": {"4"}})
		assertScore(t, s["skip"], 6, "high")
		counts(t, s["skip"], 4, 1)
	})

	t.Run("everything shown and answered: nothing skipped", func(t *testing.T) {
		s := scoresOf(t, d, url.Values{"a": {"2"}, "b": {"1"}, "c": {"0"}, "d": {"4"}, "e": {"0"}})
		assertScore(t, s["skip"], 7, "high")
		counts(t, s["skip"], 5, 0)
		assertScore(t, s["strict"], 7, "")
	})

	t.Run("a shown question left unanswered is missing, not skipped", func(t *testing.T) {
		s := scoresOf(t, d, url.Values{"a": {"2"}, "b": {"1"}, "e": {"0"}}) // c shown, no answer; d shown, no answer
		assertAbsent(t, s["skip"])
		counts(t, s["skip"], 3, 0)
	})

	t.Run("an answer to a hidden item is dropped and the item counts as skipped", func(t *testing.T) {
		s := scoresOf(t, d, url.Values{"a": {"0"}, "b": {"1"}, "c": {"1"}, "d": {"4"}, "e": {"0"}})
		assertScore(t, s["skip"], 0, "low")
		counts(t, s["skip"], 2, 3)
	})

	t.Run("no answer at all is no score, however much is skipped", func(t *testing.T) {
		s := scoresOf(t, d, url.Values{})
		assertAbsent(t, s["skip"])
		counts(t, s["skip"], 0, 3)
	})

	t.Run("the hidden score is not reverse-coded", func(t *testing.T) {
		assertScore(t, scoresOf(t, d, url.Values{"a": {"0"}})["reversed"], 0, "")                         // d skipped: 0, not 4
		assertScore(t, scoresOf(t, d, url.Values{"a": {"2"}, "b": {"1"}, "d": {"0"}})["reversed"], 6, "") // 2 + (0+4-0)
	})
}
