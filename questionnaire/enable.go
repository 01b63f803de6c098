package questionnaire

import "cmp"

// Enabled reports for every item, by linkId, whether it is shown given the
// answers. An item is hidden when its group is hidden or when its enableWhen
// conditions do not hold; a condition on a hidden question is false whatever
// its operator, so hiding is transitive. Answers to hidden items do not count.
func (d *Definition) Enabled(a Answers) map[string]bool {
	enabled := make(map[string]bool, len(d.order))
	for _, it := range d.order { // document order: conditions look only backwards
		if p := d.parent[it]; p != nil && !enabled[p.LinkID] {
			enabled[it.LinkID] = false
			continue
		}
		enabled[it.LinkID] = it.conditionsHold(a, enabled)
	}
	return enabled
}

// IsEnabled reports whether the item with the given linkId is shown given
// the answers.
func (d *Definition) IsEnabled(linkID string, a Answers) bool {
	return d.Enabled(a)[linkID]
}

// Conditions reports, for each enableWhen condition of the item in order,
// whether it holds given the answers; a condition on a hidden question
// does not. Nil when there is no such item.
func (d *Definition) Conditions(linkID string, a Answers) []bool {
	it := d.byID[linkID]
	if it == nil {
		return nil
	}
	enabled := d.Enabled(a)
	out := make([]bool, len(it.EnableWhen))
	for i := range it.EnableWhen {
		c := &it.EnableWhen[i]
		if enabled[c.Question] {
			v, answered := a[c.Question]
			out[i] = c.holds(v, answered && !v.Empty())
		}
	}
	return out
}

// Prune returns the answers without those to hidden items, to items that
// take no answer (groups, display texts), to linkIds the definition does
// not have, and without empty values. The answers given are left unchanged.
func (d *Definition) Prune(a Answers) Answers {
	enabled := d.Enabled(a)
	out := make(Answers, len(a))
	for id, v := range a {
		if enabled[id] && d.byID[id].Type.Answerable() && !v.Empty() {
			out[id] = v
		}
	}
	return out
}

func (it *Item) conditionsHold(a Answers, enabled map[string]bool) bool {
	if len(it.EnableWhen) == 0 {
		return true
	}
	anyOf := it.EnableBehavior == "any"
	for _, c := range it.EnableWhen {
		holds := false
		if enabled[c.Question] {
			v, answered := a[c.Question]
			holds = c.holds(v, answered && !v.Empty())
		}
		if anyOf && holds {
			return true
		}
		if !anyOf && !holds {
			return false
		}
	}
	return !anyOf
}

// holds evaluates the condition against the question's answer, as FHIR R4
// defines the operators: exists tests for an answer; "=" holds when some
// answer equals the value and "!=" when none does; the ordering operators
// compare numbers or dates. Without an answer only "exists false" holds.
func (c *Condition) holds(v Value, answered bool) bool {
	if c.Operator == OpExists {
		return answered == c.want.Bool
	}
	if !answered {
		return false
	}
	if c.Operator == OpNe {
		eq := *c
		eq.Operator = OpEq
		return !eq.holds(v, answered)
	}
	if v.Type == MultiChoice {
		for _, s := range v.Strings {
			if c.compare(Value{Type: Choice, String: s}) {
				return true
			}
		}
		return false
	}
	return c.compare(v)
}

// compare applies the operator to one answer value.
func (c *Condition) compare(v Value) bool {
	var order int
	switch v.Type {
	case Integer, Decimal, Scale:
		order = cmp.Compare(v.Number, c.want.Number)
	case Boolean:
		if v.Bool != c.want.Bool {
			order = 1
		}
	default: // choice, date (YYYY-MM-DD orders as text), text
		order = cmp.Compare(v.String, c.want.String)
	}
	switch c.Operator {
	case OpEq:
		return order == 0
	case OpNe:
		return order != 0
	case OpGt:
		return order > 0
	case OpLt:
		return order < 0
	case OpGe:
		return order >= 0
	case OpLe:
		return order <= 0
	}
	return false
}
