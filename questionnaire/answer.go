package questionnaire

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Value is a typed answer to one item. Which field holds the answer depends
// on Type:
//
//	choice       String, the option value; or Other, the patient's own answer
//	multichoice  Strings, the option values in the order of the definition,
//	             and Other, the patient's own answer, when the item takes one
//	boolean      Bool
//	integer      Number (a whole number)
//	scale        Number (a whole number)
//	decimal      Number
//	date         String, as YYYY-MM-DD
//	text         String
type Value struct {
	Type    ItemType
	String  string
	Strings []string
	Number  float64
	Bool    bool
	Other   string // the patient's own answer beside a choice's options (Item.Other)
}

// Answers is a set of answers keyed by linkId. An item without an answer has
// no entry.
type Answers map[string]Value

// maxExactInt bounds whole-number answers so that they stay exact in a float64.
const maxExactInt = 1 << 53

// FormFields returns the value as the HTML form fields of its item: the
// linkId's values (Form), and the own answer's field when there is one.
func (v Value) FormFields(linkID string) map[string][]string {
	f := map[string][]string{}
	if v.Type != Choice || v.String != "" {
		f[linkID] = v.Form()
	}
	if v.Other != "" {
		f[linkID+OtherSuffix] = []string{v.Other}
	}
	return f
}

// Form returns the value as HTML form values: one string, or one a ticked option.
func (v Value) Form() []string {
	switch v.Type {
	case MultiChoice:
		return v.Strings
	case Boolean:
		return []string{strconv.FormatBool(v.Bool)}
	case Integer, Scale, Decimal:
		// Plain digits, never an exponent, which the form would refuse.
		return []string{strconv.FormatFloat(v.Number, 'f', -1, 64)}
	default:
		return []string{v.String}
	}
}

// Empty reports whether the value holds no answer: no option ticked, or an
// empty string where a string belongs.
func (v Value) Empty() bool {
	switch v.Type {
	case MultiChoice:
		return len(v.Strings) == 0 && v.Other == ""
	case Choice:
		return v.String == "" && v.Other == ""
	case Date, TextType:
		return v.String == ""
	}
	return false
}

// Equal reports whether two values are the same answer.
func (v Value) Equal(o Value) bool {
	return v.Type == o.Type && v.String == o.String && slices.Equal(v.Strings, o.Strings) &&
		v.Number == o.Number && v.Bool == o.Bool && v.Other == o.Other
}

// JSON returns the value as the JSON value of the answer format: a string, an
// array of strings, a number or a boolean; null for a choice answered only
// with the patient's own answer (AnswerJSON.Other).
func (v Value) JSON() any {
	switch v.Type {
	case Choice:
		if v.String == "" {
			return nil
		}
		return v.String
	case MultiChoice:
		if v.Strings == nil {
			return []string{}
		}
		return v.Strings
	case Boolean:
		return v.Bool
	case Integer, Scale, Decimal:
		return json.Number(formatNumber(v.Number))
	default:
		return v.String
	}
}

// AnswerJSON is one answer in the JSON answer format.
type AnswerJSON struct {
	LinkID string `json:"linkId"`
	Value  any    `json:"value"`
	Other  string `json:"other,omitempty"` // the patient's own answer beside a choice's options
}

// List returns the answers in document order, in the JSON answer format
// (`[{"linkId": "q1", "value": "2"}, ...]`). Answers to linkIds the
// definition does not have are left out.
func (d *Definition) List(a Answers) []AnswerJSON {
	out := make([]AnswerJSON, 0, len(a))
	for _, it := range d.order {
		if v, ok := a[it.LinkID]; ok {
			out = append(out, AnswerJSON{LinkID: it.LinkID, Value: v.JSON(), Other: v.Other})
		}
	}
	return out
}

// MarshalAnswers encodes answers in the JSON answer format, in document order.
func (d *Definition) MarshalAnswers(a Answers) ([]byte, error) {
	return json.Marshal(d.List(a))
}

var (
	integerForm = regexp.MustCompile(`^[-+]?[0-9]+$`)
	decimalForm = regexp.MustCompile(`^[-+]?([0-9]+([.,][0-9]*)?|[.,][0-9]+)$`)
)

// DecodeForm decodes HTML form values (fields named by linkId, a multichoice
// item repeated once per ticked option) into typed answers for the given
// items; nil items means every question of the definition. Other fields are
// ignored, and so are empty values: an unanswered item has no entry.
//
// It reports values that are not of the item's type (a word where a number
// belongs, an impossible date). Whether values are allowed (options, bounds,
// length, required) is Validate's work.
func (d *Definition) DecodeForm(form map[string][]string, items []*Item) (Answers, AnswerErrors) {
	if items == nil {
		items = d.Questions()
	}
	a := make(Answers)
	var errs AnswerErrors
	for _, it := range items {
		if !it.Type.Answerable() {
			continue
		}
		var vals []string
		for _, s := range form[it.LinkID] {
			if strings.TrimSpace(s) != "" {
				vals = append(vals, s)
			}
		}
		other := ""
		if it.Other {
			if o := form[it.OtherField()]; len(o) > 0 {
				other = strings.TrimSpace(strings.ReplaceAll(strings.Join(o, "\n"), "\r\n", "\n"))
			}
		}
		if len(vals) == 0 && other == "" {
			continue
		}
		if it.Type == MultiChoice {
			for i := range vals {
				vals[i] = strings.TrimSpace(vals[i])
			}
			a[it.LinkID] = Value{Type: MultiChoice, Strings: it.sortOptions(vals), Other: other}
			continue
		}
		if len(vals) > 1 {
			errs.add(it.LinkID, AnswerSingle)
			continue
		}
		if it.Type == Choice {
			v := Value{Type: Choice, Other: other}
			if len(vals) == 1 {
				v.String = strings.TrimSpace(vals[0])
			}
			a[it.LinkID] = v
			continue
		}
		v, code := parseFormValue(it.Type, vals[0])
		if code != "" {
			errs.add(it.LinkID, code)
			continue
		}
		a[it.LinkID] = v
	}
	return a, errs
}

// parseFormValue parses one form value of an item of type t; it returns a
// non-empty answer error code when s is not of that type. Surrounding white
// space never counts.
func parseFormValue(t ItemType, s string) (Value, string) {
	s = strings.TrimSpace(s)
	switch t {
	case Choice:
		return Value{Type: t, String: s}, ""
	case Boolean:
		switch s {
		case "true":
			return Value{Type: t, Bool: true}, ""
		case "false":
			return Value{Type: t, Bool: false}, ""
		}
		return Value{}, AnswerBoolean
	case Integer, Scale:
		s = stripSpaces(s)
		if !integerForm.MatchString(s) {
			return Value{}, AnswerInteger
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n > maxExactInt || n < -maxExactInt {
			return Value{}, AnswerInteger
		}
		return Value{Type: t, Number: float64(n)}, ""
	case Decimal:
		s = stripSpaces(s)
		if !decimalForm.MatchString(s) {
			return Value{}, AnswerDecimal
		}
		f, err := strconv.ParseFloat(strings.Replace(s, ",", ".", 1), 64)
		if err != nil || math.IsInf(f, 0) || math.Abs(f) > maxExactInt {
			return Value{}, AnswerDecimal
		}
		return Value{Type: t, Number: f}, ""
	case Date:
		if _, err := parseDate(s); err != nil {
			return Value{}, AnswerDate
		}
		return Value{Type: t, String: s}, ""
	case TextType:
		s = strings.ReplaceAll(s, "\r\n", "\n")
		if !validText(s) {
			return Value{}, AnswerText
		}
		return Value{Type: t, String: s}, ""
	}
	return Value{}, AnswerType
}

// stripSpaces removes the spaces people type into numbers ("1 000").
func stripSpaces(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// validText reports whether s is valid UTF-8 without control characters
// other than tab and newline.
func validText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return false
		}
	}
	return true
}

// parseDate parses a YYYY-MM-DD calendar date.
func parseDate(s string) (time.Time, error) {
	return time.Parse(time.DateOnly, s)
}

// sortOptions de-duplicates ticked option values and puts them in the order
// of the definition; of the values that are not options, the first is kept,
// last, for Validate to report. It is linear in the values posted: a post of
// thousands of made-up values costs no more than reading them, and no more
// than one of them is kept.
func (it *Item) sortOptions(vals []string) []string {
	ticked := make(map[string]bool, min(len(vals), len(it.Options)+1))
	foreign := ""
	for _, v := range vals {
		if it.Option(v) != nil {
			ticked[v] = true
		} else if foreign == "" {
			foreign = v
		}
	}
	var out []string
	for _, o := range it.Options {
		if ticked[o.Value] {
			out = append(out, o.Value)
		}
	}
	if foreign != "" {
		out = append(out, foreign)
	}
	return out
}

// DecodeJSON decodes answers in the JSON answer format:
//
//	[{"linkId": "q1", "value": "2"}, {"linkId": "q2", "value": ["a", "b"]},
//	 {"linkId": "q3", "value": 12}, {"linkId": "q4", "value": true}]
//
// A value is a string for choice, date and text items, an array of option
// values for multichoice, a number for integer, decimal and scale, and a
// boolean for boolean items; null means unanswered. It reports unknown
// linkIds, linkIds given twice and values of the wrong type; like DecodeForm
// it leaves the rest to Validate.
func (d *Definition) DecodeJSON(data []byte) (Answers, AnswerErrors) {
	var errs AnswerErrors
	list, ok := answerList(data)
	if !ok {
		errs.add("", AnswerMalformed)
		return nil, errs
	}
	a := make(Answers, len(list))
	seen := make(map[string]bool, len(list))
	for _, el := range list {
		it := d.byID[el.LinkID]
		switch {
		case it == nil || !it.Type.Answerable():
			errs.add(el.LinkID, AnswerUnknown)
			continue
		case seen[el.LinkID]:
			errs.add(el.LinkID, AnswerDuplicate)
			continue
		}
		seen[el.LinkID] = true
		v, code, ok := parseJSONValue(it, el.Value)
		if code == "" && el.Other != nil && strings.TrimSpace(*el.Other) != "" {
			switch {
			case !it.Other:
				code = AnswerType // only a choice that takes an own answer has one
			default:
				v.Type, v.Other, ok = it.Type, strings.TrimSpace(strings.ReplaceAll(*el.Other, "\r\n", "\n")), true
			}
		}
		if code != "" {
			errs.add(it.LinkID, code)
		} else if ok {
			a[it.LinkID] = v
		}
	}
	return a, errs
}

// answerElem is one element of the JSON answer format.
type answerElem struct {
	LinkID string
	Value  json.RawMessage
	Other  *string
}

// answerList reads the JSON answer format strictly: an array of objects
// with exactly the keys linkId (a string) and, optionally, value; keys are
// case-sensitive and appear once.
func answerList(data []byte) ([]answerElem, bool) {
	tree, err := decodeTree(data)
	if err != nil {
		return nil, false
	}
	arr, ok := tree.([]any)
	if !ok {
		return nil, false
	}
	out := make([]answerElem, 0, len(arr))
	for _, el := range arr {
		obj, ok := el.(map[string]any)
		if !ok {
			return nil, false
		}
		id, ok := obj["linkId"].(string)
		if !ok {
			return nil, false
		}
		e := answerElem{LinkID: id}
		for k, v := range obj {
			switch k {
			case "linkId":
			case "value":
				raw, err := canonicalJSON(v)
				if err != nil {
					return nil, false
				}
				e.Value = raw
			case "other":
				s, ok := v.(string)
				if !ok {
					return nil, false
				}
				e.Other = &s
			default:
				return nil, false
			}
		}
		out = append(out, e)
	}
	return out, true
}

// parseJSONValue decodes one JSON answer value for item it. ok is false for
// null, an empty string and an empty array, which mean "not answered".
func parseJSONValue(it *Item, raw json.RawMessage) (v Value, code string, ok bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return Value{}, "", false
	}
	switch it.Type {
	case MultiChoice:
		var vals []string
		if json.Unmarshal(raw, &vals) != nil {
			return Value{}, AnswerType, false
		}
		vals = slices.DeleteFunc(vals, func(s string) bool { return strings.TrimSpace(s) == "" })
		for i := range vals {
			vals[i] = strings.TrimSpace(vals[i])
		}
		if len(vals) == 0 {
			return Value{}, "", false
		}
		return Value{Type: MultiChoice, Strings: it.sortOptions(vals)}, "", true
	case Boolean:
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return Value{}, AnswerType, false
		}
		return Value{Type: Boolean, Bool: b}, "", true
	case Integer, Scale, Decimal:
		var n json.Number
		if raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
			return Value{}, AnswerType, false
		}
		code := AnswerDecimal
		if it.Type != Decimal {
			code = AnswerInteger
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || math.IsInf(f, 0) || math.Abs(f) > maxExactInt {
			return Value{}, code, false
		}
		if it.Type != Decimal && f != math.Trunc(f) {
			return Value{}, code, false
		}
		return Value{Type: it.Type, Number: f}, "", true
	default: // choice, date, text
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return Value{}, AnswerType, false
		}
		if strings.TrimSpace(s) == "" {
			return Value{}, "", false
		}
		v, code := parseFormValue(it.Type, s)
		return v, code, code == ""
	}
}
