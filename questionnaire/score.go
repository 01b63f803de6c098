package questionnaire

import "math"

// ScoreResult is one computed score. Value is nil when fewer items than the
// score's minimum were answered (or skipped, below): the score is absent,
// not zero. Answered counts the items answered; Skipped the items hidden by
// skip logic that counted as the score's hiddenScore.
type ScoreResult struct {
	ID       string   `json:"id"`
	Value    *float64 `json:"value,omitempty"`
	Band     string   `json:"band,omitempty"`
	Answered int      `json:"answered"`
	Skipped  int      `json:"skipped,omitempty"`
}

// ComputeScores computes every score of the definition from the answers. Answers
// to hidden items are not counted; a hidden item counts as its score's
// hiddenScore when the score has one. Results come in the definition's order.
func (d *Definition) ComputeScores(a Answers) []ScoreResult {
	a = d.Prune(a)
	enabled := d.Enabled(a)
	out := make([]ScoreResult, 0, len(d.Scores))
	for _, s := range d.Scores {
		out = append(out, s.compute(d, a, enabled))
	}
	return out
}

// Score returns the score definition with the given id, or nil.
func (d *Definition) Score(id string) *Score {
	for _, s := range d.Scores {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// Band returns the band that holds v, or nil.
func (s *Score) Band(v float64) *Band {
	for i := range s.Bands {
		if b := &s.Bands[i]; v >= b.Min && v <= b.Max {
			return b
		}
	}
	return nil
}

// compute computes the score from pruned answers; enabled says which items
// are shown. An item hidden by skip logic counts as HiddenScore when it is
// set (Skipped); otherwise, like a shown item without an answer, it is
// missing. At least one item must be answered for a value.
func (s *Score) compute(d *Definition, a Answers, enabled map[string]bool) ScoreResult {
	res := ScoreResult{ID: s.ID}
	sum := 0.0
	for _, id := range s.Items {
		if !enabled[id] {
			if s.HiddenScore != nil {
				sum += *s.HiddenScore
				res.Skipped++
			}
			continue
		}
		v, ok := a[id]
		if !ok {
			continue
		}
		it := d.byID[id]
		x, ok := itemScore(it, v)
		if !ok {
			continue
		}
		if s.isReverse(id) {
			lo, hi := it.scoreRange()
			x = lo + hi - x
		}
		sum += x
		res.Answered++
	}
	need := len(s.Items)
	if s.MinAnswered != nil {
		need = *s.MinAnswered
	}
	counted := res.Answered + res.Skipped
	if counted < need || res.Answered == 0 {
		return res
	}
	var value float64
	switch {
	case s.Method == MethodMean:
		value = sum / float64(counted)
	case s.Prorate:
		value = sum * float64(len(s.Items)) / float64(counted)
	default:
		value = sum
	}
	value = round2(value)
	res.Value = &value
	if b := s.Band(value); b != nil {
		res.Band = b.Code
	}
	return res
}

// round2 rounds to two decimals, half away from zero, as a person would
// round the decimal number: 1.025 → 1.03, although 1.025×100 is
// 102.49999999999999 in binary floating point.
func round2(v float64) float64 {
	x := v * 100
	x += math.Copysign(math.Abs(x)*1e-12+1e-9, x)
	return math.Round(x) / 100
}

func (s *Score) isReverse(linkID string) bool {
	for _, r := range s.Reverse {
		if r == linkID {
			return true
		}
	}
	return false
}

// itemScore returns the score of one answer; ok is false when the answer
// carries none (an option without a score, which the semantic check forbids
// for scored items, or a value of the wrong type).
func itemScore(it *Item, v Value) (float64, bool) {
	switch {
	case it.Type == Choice && v.Type == Choice:
		if o := it.Option(v.String); o != nil && o.Score != nil {
			return *o.Score, true
		}
	case it.Type == MultiChoice && v.Type == MultiChoice:
		if len(v.Strings) == 0 {
			return 0, false // only the patient's own answer, which has no score
		}
		sum := 0.0
		for _, s := range v.Strings {
			o := it.Option(s)
			if o == nil || o.Score == nil {
				return 0, false
			}
			sum += *o.Score
		}
		return sum, true
	case it.Type.numeric() && v.Type == it.Type:
		return v.Number, true
	}
	return 0, false
}

// scoreRange returns the lowest and highest score an answer to the item can
// have, for reverse coding. For a multichoice item it is the range of a
// single option's score.
func (it *Item) scoreRange() (lo, hi float64) {
	if it.Type == Choice || it.Type == MultiChoice {
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, o := range it.Options {
			if o.Score != nil {
				lo, hi = min(lo, *o.Score), max(hi, *o.Score)
			}
		}
		return lo, hi
	}
	if it.Min != nil && it.Max != nil {
		return *it.Min, *it.Max
	}
	return 0, 0
}

// Range returns the lowest and highest value the score can take, for the
// axis of a graph and to check values given for it; ok is false when an
// item of the score is a number without min and max.
func (d *Definition) Range(s *Score) (lo, hi float64, ok bool) {
	first := true
	for _, id := range s.Items {
		it := d.byID[id]
		if it == nil {
			return 0, 0, false
		}
		var a, b float64
		switch {
		case it.Type == MultiChoice:
			// Any number of options: from all that subtract (or none
			// ticked) to all that add.
			a, b = 0, 0
			for _, o := range it.Options {
				if o.Score != nil {
					a, b = a+min(0, *o.Score), b+max(0, *o.Score)
				}
			}
		case it.Type == Choice:
			a, b = it.scoreRange()
		case it.Min != nil && it.Max != nil:
			a, b = *it.Min, *it.Max
		default:
			return 0, 0, false
		}
		if s.HiddenScore != nil {
			a, b = min(a, *s.HiddenScore), max(b, *s.HiddenScore)
		}
		if s.Method == MethodSum && !s.Prorate && s.MinAnswered != nil && *s.MinAnswered < len(s.Items) {
			a, b = min(a, 0), max(b, 0) // an item left out adds nothing
		}
		switch {
		case first:
			lo, hi, first = a, b, false
		case s.Method == MethodMean:
			lo, hi = min(lo, a), max(hi, b)
		default:
			lo, hi = lo+a, hi+b
		}
	}
	return lo, hi, !first
}

// FeedbackScores returns the scores the patient may see after sending, in
// the definition's order.
func (d *Definition) FeedbackScores() []*Score {
	var out []*Score
	for _, s := range d.Scores {
		if s.Feedback {
			out = append(out, s)
		}
	}
	return out
}
