package questionnaire

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Validate checks answers against the definition, on the day today (for
// date bounds given as "today"). It first drops the answers to items that
// enableWhen hides and to linkIds the definition lacks: those are never
// errors. It then checks every remaining answer (option, bounds, length) and
// that every shown, required question in scope is answered; a nil scope means
// the whole definition, as at submit; a page's Questions() check one page.
//
// It returns the kept answers and the errors in document order.
func (d *Definition) Validate(a Answers, scope []*Item, today time.Time) (Answers, AnswerErrors) {
	kept := d.Prune(a)
	enabled := d.Enabled(kept)
	inScope := func(it *Item) bool { return true }
	if scope != nil {
		set := make(map[*Item]bool, len(scope))
		for _, it := range scope {
			set[it] = true
		}
		inScope = func(it *Item) bool { return set[it] }
	}
	var errs AnswerErrors
	for _, it := range d.order {
		if !it.Type.Answerable() {
			continue
		}
		v, answered := kept[it.LinkID]
		if !answered {
			if it.Required && enabled[it.LinkID] && inScope(it) {
				errs.add(it.LinkID, AnswerRequired)
			}
			continue
		}
		if v.Type != it.Type {
			errs.add(it.LinkID, AnswerType)
			continue
		}
		it.checkValue(&errs, v, today)
		it.checkOther(&errs, v)
	}
	return kept, errs
}

// checkValue reports what is wrong with an answer of the item's type.
func (it *Item) checkValue(errs *AnswerErrors, v Value, today time.Time) {
	switch it.Type {
	case Choice:
		if v.String != "" && it.Option(v.String) == nil {
			errs.add(it.LinkID, AnswerOption)
		} else if v.String != "" && v.Other != "" {
			errs.add(it.LinkID, AnswerOtherBoth)
		}
	case MultiChoice:
		exclusive := false
		for _, s := range v.Strings {
			o := it.Option(s)
			if o == nil {
				errs.add(it.LinkID, AnswerOption)
				return
			}
			exclusive = exclusive || o.Exclusive
		}
		if exclusive && (len(v.Strings) > 1 || v.Other != "") {
			errs.add(it.LinkID, AnswerExclusive)
		}
	case Integer, Decimal, Scale:
		if it.Min != nil && v.Number < *it.Min {
			errs.add(it.LinkID, AnswerMin, "min", formatNumber(*it.Min))
		} else if it.Max != nil && v.Number > *it.Max {
			errs.add(it.LinkID, AnswerMax, "max", formatNumber(*it.Max))
		}
	case Date:
		if lo, ok := resolveDate(it.MinDate, today); ok && v.String < lo {
			errs.add(it.LinkID, AnswerDateMin, "min", lo)
		} else if hi, ok := resolveDate(it.MaxDate, today); ok && v.String > hi {
			errs.add(it.LinkID, AnswerDateMax, "max", hi)
		}
	case TextType:
		if !validText(v.String) {
			errs.add(it.LinkID, AnswerText)
		} else if n := utf8.RuneCountInString(v.String); n > it.maxLength() {
			errs.add(it.LinkID, AnswerMaxLength, "max", strconv.Itoa(it.maxLength()))
		} else if it.MinLength != nil && n < *it.MinLength {
			errs.add(it.LinkID, AnswerMinLength, "min", strconv.Itoa(*it.MinLength))
		} else if it.pattern != nil && !it.pattern.MatchString(v.String) {
			errs.add(it.LinkID, AnswerPattern)
		}
	}
}

// checkOther reports what is wrong with the patient's own answer beside
// a choice's options.
func (it *Item) checkOther(errs *AnswerErrors, v Value) {
	switch {
	case v.Other == "":
	case !it.Other:
		errs.add(it.LinkID, AnswerOption)
	case !validText(v.Other):
		errs.add(it.LinkID, AnswerText)
	case utf8.RuneCountInString(v.Other) > OtherMaxLength:
		errs.add(it.LinkID, AnswerMaxLength, "max", strconv.Itoa(OtherMaxLength))
	}
}

// resolveDate turns a date bound into YYYY-MM-DD; ok is false when unset.
func resolveDate(bound string, today time.Time) (string, bool) {
	switch bound {
	case "":
		return "", false
	case "today":
		return today.Format(time.DateOnly), true
	}
	return bound, true
}
