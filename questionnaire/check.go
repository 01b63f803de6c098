package questionnaire

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

var (
	idPattern       = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	semverPattern   = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?$`)
	languagePattern = regexp.MustCompile(`^[a-z]{2,3}(-[A-Z]{2})?$`)
	linkIDPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	valuePattern    = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// ReservedLinkIDs are the names of the patient form's own fields; no
// question may have them, since form fields are named by linkId.
var ReservedLinkIDs = []string{"action", "page", "csrf", "lang", "confirm", "code"}

// Limits of the format.
const (
	maxLinkIDLength  = 64
	maxTextMaxLength = 20000
)

// Translation statuses of a language's wording.
var translationStatuses = []string{"original", "official", "unvalidated"}

// checker runs the semantic rules over a decoded definition.
type checker struct {
	d     *Definition
	ps    problems
	langs map[string]bool
	seen  map[string]*Item  // linkIds met so far, in document order
	where map[string]string // the path of each linkId met
}

// check runs every semantic rule, collecting all problems; on success it
// indexes the definition.
func (d *Definition) check() error {
	c := &checker{d: d, langs: map[string]bool{}, seen: map[string]*Item{}, where: map[string]string{}}
	c.definition()
	if err := c.ps.err(); err != nil {
		return err
	}
	d.index()
	return nil
}

func (c *checker) definition() {
	d := c.d
	switch {
	case d.ID == "":
		c.ps.add("id", ProblemRequired, "missing")
	case !idPattern.MatchString(d.ID):
		c.ps.add("id", ProblemPattern, "%q is not a valid id (lower-case letters, digits and hyphens)", d.ID)
	}
	switch {
	case d.Version == "":
		c.ps.add("version", ProblemRequired, "missing")
	case !semverPattern.MatchString(d.Version):
		c.ps.add("version", ProblemPattern, "%q is not a semantic version such as 1.0.0", d.Version)
	}
	if d.URL != "" {
		if u, err := url.Parse(d.URL); err != nil || !u.IsAbs() || strings.ContainsAny(d.URL, "| \t\r\n") {
			c.ps.add("url", ProblemPattern, "%q is not an absolute URL without spaces or '|'", d.URL)
		} else if strings.HasPrefix(d.URL, DerivedURLPrefix) {
			c.ps.add("url", ProblemPattern, "%q: urls starting %s are derived from the id; leave url out", d.URL, DerivedURLPrefix)
		}
	}
	if len(d.Languages) == 0 {
		c.ps.add("languages", ProblemRequired, "declare at least one language")
	}
	for i, l := range d.Languages {
		path := fmt.Sprintf("languages[%d]", i)
		switch {
		case !languagePattern.MatchString(l):
			c.ps.add(path, ProblemPattern, "%q is not a language code such as nb", l)
		case c.langs[l]:
			c.ps.add(path, ProblemDuplicate, "%q is declared twice", l)
		}
		c.langs[l] = true
	}
	c.text("title", d.Title, true)
	c.text("patientTitle", d.PatientTitle, false)
	c.text("description", d.Description, false)
	for _, l := range sortedKeys(d.Translations) {
		path := "translations." + l
		if !c.langs[l] {
			c.ps.add(path, ProblemLanguage, "%q is not a declared language", l)
		}
		if st := d.Translations[l]; !slices.Contains(translationStatuses, st) {
			c.ps.add(path, ProblemPattern, "%q is not one of %s", st, strings.Join(translationStatuses, ", "))
		}
	}
	if len(d.Items) == 0 {
		c.ps.add("items", ProblemRequired, "a questionnaire needs at least one item")
	}
	c.items("items", d.Items)
	scoreIDs := map[string]string{}
	for i, s := range d.Scores {
		c.score(fmt.Sprintf("scores[%d]", i), s, scoreIDs)
	}
}

// text checks a text: present if required, and then in exactly the
// declared languages, none empty.
func (c *checker) text(path string, t Text, required bool) {
	if t == nil {
		if required {
			c.ps.add(path, ProblemRequired, "missing")
		}
		return
	}
	if len(c.d.Languages) == 0 {
		return // reported once at languages
	}
	for _, l := range c.d.Languages {
		s, ok := t[l]
		switch {
		case !ok:
			c.ps.add(join(path, l), ProblemLanguage, "missing the %q text", l)
		case strings.TrimSpace(s) == "":
			c.ps.add(join(path, l), ProblemRequired, "empty text")
		}
	}
	for _, l := range sortedKeys(t) {
		if !c.langs[l] {
			c.ps.add(join(path, l), ProblemLanguage, "%q is not a declared language (%s)", l, strings.Join(c.d.Languages, ", "))
		}
	}
}

func (c *checker) items(path string, items []*Item) {
	for i, it := range items {
		if it == nil {
			c.ps.add(fmt.Sprintf("%s[%d]", path, i), ProblemType, "want an object, got null")
			continue
		}
		c.item(fmt.Sprintf("%s[%d]", path, i), it)
	}
}

func (c *checker) item(path string, it *Item) {
	switch {
	case it.LinkID == "":
		c.ps.add(join(path, "linkId"), ProblemRequired, "missing")
	case len(it.LinkID) > maxLinkIDLength:
		c.ps.add(join(path, "linkId"), ProblemPattern, "longer than %d characters", maxLinkIDLength)
	case !linkIDPattern.MatchString(it.LinkID):
		c.ps.add(join(path, "linkId"), ProblemPattern, "%q is not a valid linkId (letters, digits, '.', '_' and '-')", it.LinkID)
	case slices.Contains(ReservedLinkIDs, it.LinkID):
		c.ps.add(join(path, "linkId"), ProblemPattern, "%q is reserved for the form's own fields (%s)", it.LinkID, strings.Join(ReservedLinkIDs, ", "))
	}
	t := it.Type
	switch {
	case t == "":
		c.ps.add(join(path, "type"), ProblemRequired, "missing")
	case !known(t):
		names := make([]string, len(itemTypes))
		for i, t := range itemTypes {
			names[i] = string(t)
		}
		c.ps.add(join(path, "type"), ProblemPattern, "%q is not an item type; want one of %s", t, strings.Join(names, ", "))
	}

	c.text(join(path, "text"), it.Text, t != Group)
	c.markup(join(path, "markup"), it)
	c.text(join(path, "help"), it.Help, false)
	c.fields(path, it)

	if t == Group && len(it.Items) == 0 {
		c.ps.add(join(path, "items"), ProblemRequired, "a group needs at least one item")
	}
	if (t == Choice || t == MultiChoice) && len(it.Options) == 0 {
		c.ps.add(join(path, "options"), ProblemRequired, "a %s item needs at least one option", t)
	}
	c.options(path, it)
	c.bounds(path, it)
	c.initial(join(path, "initial"), it)

	switch it.EnableBehavior {
	case "", "all", "any":
	default:
		c.ps.add(join(path, "enableBehavior"), ProblemPattern, "%q is not all or any", it.EnableBehavior)
	}
	for i := range it.EnableWhen {
		c.condition(fmt.Sprintf("%s.enableWhen[%d]", path, i), &it.EnableWhen[i])
	}

	// Only now is the item "earlier" for what follows, its own items included.
	if it.LinkID != "" {
		if first, dup := c.where[it.LinkID]; dup {
			c.ps.add(join(path, "linkId"), ProblemDuplicate, "%q is already used at %s", it.LinkID, first)
		} else {
			c.where[it.LinkID] = path
			c.seen[it.LinkID] = it
		}
	}
	c.items(join(path, "items"), it.Items)
}

// known reports whether t is an item type of the format.
func known(t ItemType) bool { return slices.Contains(itemTypes, t) }

// fields reports fields that the item's type does not take.
func (c *checker) fields(path string, it *Item) {
	t := it.Type
	if !known(t) {
		return // reported already; which fields fit is unknowable
	}
	numeric := t == Integer || t == Decimal || t == Scale
	rules := []struct {
		name    string
		set     bool
		allowed bool
	}{
		{"prefix", it.Prefix != "", t != Group},
		{"required", it.Required, t.Answerable()},
		{"items", len(it.Items) > 0, t == Group},
		{"options", len(it.Options) > 0, t == Choice || t == MultiChoice},
		{"min", it.Min != nil, numeric},
		{"max", it.Max != nil, numeric},
		{"unit", it.Unit != nil, t == Integer || t == Decimal},
		{"minLabel", it.MinLabel != nil, t == Scale},
		{"maxLabel", it.MaxLabel != nil, t == Scale},
		{"minDate", it.MinDate != "", t == Date},
		{"maxDate", it.MaxDate != "", t == Date},
		{"maxLength", it.MaxLength != nil, t == TextType},
		{"minLength", it.MinLength != nil, t == TextType},
		{"pattern", it.Pattern != "", t == TextType},
		{"patternHint", it.PatternHint != nil, t == TextType && it.Pattern != ""},
		{"initial", it.Initial != nil, t.Answerable()},
		{"readOnly", it.ReadOnly, t.Answerable()},
		{"multiline", it.Multiline, t == TextType},
		{"other", it.Other, t == Choice || t == MultiChoice},
		{"sensitive", it.Sensitive, t.Answerable() || t == Group},
	}
	for _, r := range rules {
		if r.set && !r.allowed {
			c.ps.add(join(path, r.name), ProblemNotAllowed, "not allowed on a %s item", t)
		}
	}
	if it.ReadOnly && (it.MinDate == "today" || it.MaxDate == "today") {
		c.ps.add(join(path, "readOnly"), ProblemNotAllowed, "a read-only date cannot be bounded by \"today\": once the day moves past its answer, nobody could put it right")
	}
	if it.ReadOnly && it.Required {
		c.ps.add(join(path, "required"), ProblemNotAllowed, "a read-only question cannot be required: the patient cannot answer it")
	}
	if t == TextType && it.Pattern != "" {
		c.text(join(path, "patternHint"), it.PatternHint, false)
	}
	if t == Integer || t == Decimal {
		c.text(join(path, "unit"), it.Unit, false)
	}
	if t == Scale {
		c.text(join(path, "minLabel"), it.MinLabel, false)
		c.text(join(path, "maxLabel"), it.MaxLabel, false)
	}
}

func (c *checker) options(path string, it *Item) {
	if it.Type != Choice && it.Type != MultiChoice {
		return
	}
	first := map[string]int{}
	for i, o := range it.Options {
		p := fmt.Sprintf("%s.options[%d]", path, i)
		switch {
		case o.Value == "":
			c.ps.add(join(p, "value"), ProblemRequired, "missing")
		case !valuePattern.MatchString(o.Value):
			c.ps.add(join(p, "value"), ProblemPattern, "%q is not a valid option value (letters, digits, '.', '_' and '-')", o.Value)
		default:
			if j, dup := first[o.Value]; dup {
				c.ps.add(join(p, "value"), ProblemDuplicate, "%q is already the value of options[%d]", o.Value, j)
			} else {
				first[o.Value] = i
			}
		}
		c.text(join(p, "text"), o.Text, true)
		if o.System != "" {
			if u, err := url.Parse(o.System); err != nil || !u.IsAbs() || strings.ContainsAny(o.System, " \t\r\n") {
				c.ps.add(join(p, "system"), ProblemPattern, "%q is not an absolute URI", o.System)
			}
		}
		if o.Code != "" && (strings.TrimSpace(o.Code) != o.Code || o.Code == o.Value) {
			c.ps.add(join(p, "code"), ProblemPattern, "%q: a code is given only when it differs from value, without leading or trailing spaces", o.Code)
		}
		if o.Exclusive && it.Type != MultiChoice {
			c.ps.add(join(p, "exclusive"), ProblemNotAllowed, "only a multichoice item has exclusive options")
		}
	}
}

func (c *checker) bounds(path string, it *Item) {
	switch it.Type {
	case Scale:
		if it.Min == nil {
			c.ps.add(join(path, "min"), ProblemRequired, "a scale item needs min")
		}
		if it.Max == nil {
			c.ps.add(join(path, "max"), ProblemRequired, "a scale item needs max")
		}
		fallthrough
	case Integer:
		for name, b := range map[string]*float64{"min": it.Min, "max": it.Max} {
			if b != nil && *b != math.Trunc(*b) {
				c.ps.add(join(path, name), ProblemType, "want a whole number for a %s item, got %s", it.Type, formatNumber(*b))
			}
		}
	case Date:
		for name, b := range map[string]string{"minDate": it.MinDate, "maxDate": it.MaxDate} {
			if b == "" || b == "today" {
				continue
			}
			if _, err := parseDate(b); err != nil {
				c.ps.add(join(path, name), ProblemPattern, "%q is not a date as YYYY-MM-DD or \"today\"", b)
			}
		}
		lo, hi := it.MinDate, it.MaxDate
		if lo != "" && hi != "" && lo != "today" && hi != "today" && lo > hi {
			c.ps.add(join(path, "minDate"), ProblemRange, "minDate %s is after maxDate %s", lo, hi)
		}
	case TextType:
		if n := it.MaxLength; n != nil && (*n < 1 || *n > maxTextMaxLength) {
			c.ps.add(join(path, "maxLength"), ProblemRange, "%d is not from 1 to %d", *n, maxTextMaxLength)
		}
		if n := it.MinLength; n != nil && (*n < 1 || *n > it.maxLength()) {
			c.ps.add(join(path, "minLength"), ProblemRange, "%d is not from 1 to the item's maxLength (%d)", *n, it.maxLength())
		}
		if it.Pattern != "" {
			it.pattern = nil
			if _, err := regexp.Compile(it.Pattern); err != nil {
				// Alone first: "a)|(b" would escape the anchors once wrapped.
				c.ps.add(join(path, "pattern"), ProblemPattern, "not a regular expression of Go's RE2 syntax: %v", err)
			} else if len(it.Pattern) > MaxPatternLength {
				c.ps.add(join(path, "pattern"), ProblemRange, "longer than %d bytes: each answer is matched against it on every post", MaxPatternLength)
			} else {
				it.pattern = regexp.MustCompile(`^(?:` + it.Pattern + `)$`)
			}
		}
	}
	if it.Min != nil && it.Max != nil && *it.Min > *it.Max {
		c.ps.add(join(path, "min"), ProblemRange, "min %s is greater than max %s", formatNumber(*it.Min), formatNumber(*it.Max))
	}
}

// markup checks an item's formatted text: only in declared languages that
// the plain text has too, well-formed, and nothing in it that the page
// would leave out; it keeps the sanitized form for the page.
func (c *checker) markup(path string, it *Item) {
	it.markup = nil
	if it.Markup == nil {
		return
	}
	if it.Type == Group {
		c.ps.add(path, ProblemNotAllowed, "not allowed on a group item: its text is a heading")
		return
	}
	for _, l := range sortedKeys(it.Markup) {
		p := join(path, l)
		switch {
		case !slices.Contains(c.d.Languages, l):
			c.ps.add(p, ProblemLanguage, "%q is not a declared language", l)
			continue
		case it.Text[l] == "":
			c.ps.add(p, ProblemLanguage, "text has no %q: the plain text is what the review and the envelope show", l)
			continue
		}
		res, err := SanitizeMarkup(it.Markup[l], it.Type != Display)
		switch {
		case err != nil:
			c.ps.add(p, ProblemPattern, "%v", err)
		case len(res.Dropped) > 0:
			allowed := strings.Join(append(slices.Clone(blockElements), inlineElements...), ", ")
			if it.Type != Display {
				allowed = strings.Join(inlineElements, ", ") + " (a question's text is in a label)"
			}
			c.ps.add(p, ProblemPattern, "the page would leave out %s; allowed are %s, and href (https, mailto, tel) on a",
				strings.Join(res.Dropped, ", "), allowed)
		case res.HTML == "":
			c.ps.add(p, ProblemRequired, "empty")
		default:
			if it.markup == nil {
				it.markup = map[string]string{}
			}
			it.markup[l] = res.HTML
		}
	}
}

// initial checks and types an item's initial answer: a value of the JSON
// answer format that passes the item's own checks (a date bound of "today"
// moves, so it is checked when the patient sends).
func (c *checker) initial(path string, it *Item) {
	it.initial = Value{}
	if it.Initial == nil || !it.Type.Answerable() {
		return
	}
	raw, err := canonicalJSON(it.Initial)
	if err != nil {
		c.ps.add(path, ProblemType, "not a JSON answer value: %v", err)
		return
	}
	v, code, ok := parseJSONValue(it, raw)
	if code == "" && !ok {
		c.ps.add(path, ProblemRequired, "empty: leave initial out for no initial answer")
		return
	}
	var errs AnswerErrors
	if code != "" {
		errs.add(it.LinkID, code)
	} else {
		fixed := *it
		if fixed.MinDate == "today" {
			fixed.MinDate = ""
		}
		if fixed.MaxDate == "today" {
			fixed.MaxDate = ""
		}
		fixed.checkValue(&errs, v, time.Time{})
	}
	if len(errs) > 0 {
		c.ps.add(path, ProblemType, "not a valid answer to this %s item (%s)", it.Type, errs[0].Code)
		return
	}
	it.initial = v
}

var operators = []string{OpExists, OpEq, OpNe, OpGt, OpLt, OpGe, OpLe}

// condition checks an enableWhen condition against the items met so far and
// types its answer.
func (c *checker) condition(path string, cond *Condition) {
	qpath := join(path, "question")
	target := c.seen[cond.Question]
	switch {
	case cond.Question == "":
		c.ps.add(qpath, ProblemRequired, "missing")
	case target == nil:
		c.ps.add(qpath, ProblemReference, "%q does not exist or comes later", cond.Question)
	case !known(target.Type):
		target = nil // its type is reported at the item
	case !target.Type.Answerable():
		c.ps.add(qpath, ProblemReference, "%q is a %s item and has no answer", cond.Question, target.Type)
	}
	opPath := join(path, "operator")
	switch {
	case cond.Operator == "":
		c.ps.add(opPath, ProblemRequired, "missing")
		return
	case !slices.Contains(operators, cond.Operator):
		c.ps.add(opPath, ProblemPattern, "%q is not an operator; want one of %s", cond.Operator, strings.Join(operators, " "))
		return
	}
	apath := join(path, "answer")
	if cond.Answer == nil {
		c.ps.add(apath, ProblemRequired, "missing")
		return
	}
	if cond.Operator == OpExists {
		b, ok := cond.Answer.(bool)
		if !ok {
			c.ps.add(apath, ProblemType, "want true or false with exists, got %s", jsonKind(cond.Answer))
		}
		cond.want = Value{Type: Boolean, Bool: b}
		return
	}
	if target == nil || !target.Type.Answerable() {
		return
	}
	ordering := cond.Operator != OpEq && cond.Operator != OpNe
	if ordering && !target.Type.numeric() && target.Type != Date {
		c.ps.add(opPath, ProblemReference, "%q needs a number or date question; %q is a %s item", cond.Operator, cond.Question, target.Type)
		return
	}
	want, msg := conditionValue(target, cond.Answer)
	if msg != "" {
		c.ps.add(apath, ProblemType, "%s", msg)
		return
	}
	cond.want = want
}

// conditionValue types an enableWhen answer after its question; msg says
// what is wrong when it does not fit.
func conditionValue(target *Item, answer any) (Value, string) {
	switch target.Type {
	case Choice, MultiChoice:
		s, ok := answer.(string)
		if !ok {
			return Value{}, fmt.Sprintf("want an option value of %q, got %s", target.LinkID, jsonKind(answer))
		}
		if target.Option(s) == nil {
			return Value{}, fmt.Sprintf("%q is not an option of %q", s, target.LinkID)
		}
		return Value{Type: Choice, String: s}, ""
	case Boolean:
		b, ok := answer.(bool)
		if !ok {
			return Value{}, fmt.Sprintf("want true or false for boolean %q, got %s", target.LinkID, jsonKind(answer))
		}
		return Value{Type: Boolean, Bool: b}, ""
	case Integer, Scale, Decimal:
		n, ok := answer.(json.Number)
		if !ok {
			return Value{}, fmt.Sprintf("want a number for %s %q, got %s", target.Type, target.LinkID, jsonKind(answer))
		}
		f, err := strconv.ParseFloat(string(n), 64)
		switch {
		case err != nil || math.Abs(f) > maxExactInt:
			return Value{}, fmt.Sprintf("%s is too large a number for %s %q", n, target.Type, target.LinkID)
		case target.Type != Decimal && f != math.Trunc(f):
			return Value{}, fmt.Sprintf("want a whole number for %s %q, got %s", target.Type, target.LinkID, n)
		case target.Min != nil && target.Max != nil && *target.Min > *target.Max:
			// the bounds are reported at the item
		case target.Min != nil && f < *target.Min, target.Max != nil && f > *target.Max:
			return Value{}, fmt.Sprintf("%s is outside the range of %q, so the condition is decided in advance", n, target.LinkID)
		}
		return Value{Type: target.Type, Number: f}, ""
	case Date:
		s, ok := answer.(string)
		if _, err := parseDate(s); !ok || err != nil {
			return Value{}, fmt.Sprintf("want a date as YYYY-MM-DD for date %q", target.LinkID)
		}
		return Value{Type: Date, String: s}, ""
	default: // text
		s, ok := answer.(string)
		if !ok {
			return Value{}, fmt.Sprintf("want a string for text %q, got %s", target.LinkID, jsonKind(answer))
		}
		return Value{Type: TextType, String: s}, ""
	}
}

// score checks a score against the whole, walked definition.
func (c *checker) score(path string, s *Score, ids map[string]string) {
	if s == nil {
		c.ps.add(path, ProblemType, "want an object, got null")
		return
	}
	switch {
	case s.ID == "":
		c.ps.add(join(path, "id"), ProblemRequired, "missing")
	case !linkIDPattern.MatchString(s.ID):
		c.ps.add(join(path, "id"), ProblemPattern, "%q is not a valid score id", s.ID)
	default:
		if first, dup := ids[s.ID]; dup {
			c.ps.add(join(path, "id"), ProblemDuplicate, "%q is already used at %s", s.ID, first)
		}
		ids[s.ID] = path
	}
	c.text(join(path, "title"), s.Title, false)
	switch s.Method {
	case MethodSum, MethodMean:
	case "":
		c.ps.add(join(path, "method"), ProblemRequired, "missing")
	default:
		c.ps.add(join(path, "method"), ProblemPattern, "%q is not sum or mean", s.Method)
	}
	if len(s.Items) == 0 {
		c.ps.add(join(path, "items"), ProblemRequired, "a score needs at least one item")
	}
	for i, id := range s.Items {
		p := fmt.Sprintf("%s.items[%d]", path, i)
		it := c.seen[id]
		switch {
		case it == nil:
			c.ps.add(p, ProblemReference, "%q does not exist", id)
		case !known(it.Type):
			// its type is reported at the item
		case slices.Index(s.Items, id) < i:
			c.ps.add(p, ProblemDuplicate, "%q is listed twice", id)
		case it.Type == Choice || it.Type == MultiChoice:
			for j, o := range it.Options {
				if o.Score == nil {
					c.ps.add(p, ProblemReference, "%q option %q (options[%d]) has no score", id, o.Value, j)
				}
			}
		case !it.Type.numeric():
			c.ps.add(p, ProblemReference, "%q is a %s item and cannot be scored", id, it.Type)
		}
	}
	for i, id := range s.Reverse {
		p := fmt.Sprintf("%s.reverse[%d]", path, i)
		it := c.seen[id]
		switch {
		case !slices.Contains(s.Items, id):
			c.ps.add(p, ProblemReference, "%q is not one of the score's items", id)
		case it == nil:
		case it.Type == MultiChoice:
			c.ps.add(p, ProblemReference, "%q is a multichoice item and cannot be reverse-coded", id)
		case it.Type.numeric() && (it.Min == nil || it.Max == nil):
			c.ps.add(p, ProblemReference, "%q needs min and max to be reverse-coded", id)
		}
	}
	if n := s.MinAnswered; n != nil && (*n < 1 || *n > len(s.Items)) {
		c.ps.add(join(path, "minAnswered"), ProblemRange, "%d is not from 1 to the %d items", *n, len(s.Items))
	}
	if s.Prorate && s.Method != MethodSum {
		c.ps.add(join(path, "prorate"), ProblemNotAllowed, "only a sum can be prorated")
	}
	c.hiddenScore(path, s)
	c.bands(path, s.Bands, s.Feedback)
	if s.Feedback {
		// What a patient sees needs words (a band) and an axis (a range).
		if len(s.Bands) == 0 {
			c.ps.add(join(path, "feedback"), ProblemRequired, "a score shown to the patient needs bands, each with its feedback words")
		}
		for _, id := range s.Items {
			if it := c.seen[id]; it != nil && it.Type.numeric() && (it.Min == nil || it.Max == nil) {
				c.ps.add(join(path, "feedback"), ProblemNotAllowed, "%q has no min and max, so the score shown to the patient has no range", id)
			}
		}
	}
}

// hiddenScore checks a score's hiddenScore: it must lie within the score
// range of every item it can stand for, and some item of the score must be
// able to be hidden, or it would never apply.
func (c *checker) hiddenScore(path string, s *Score) {
	if s.HiddenScore == nil {
		return
	}
	h, p := *s.HiddenScore, join(path, "hiddenScore")
	hideable := false
	for _, id := range s.Items {
		it := c.seen[id]
		if it == nil || !known(it.Type) || !c.hideable(it) {
			continue
		}
		hideable = true
		if it.Type != Choice && it.Type != MultiChoice && (it.Min == nil || it.Max == nil) {
			continue // an unbounded number: any value is in range
		}
		if lo, hi := it.scoreRange(); lo <= hi && (h < lo || h > hi) {
			c.ps.add(p, ProblemRange, "%s is outside the scores of %q (%s to %s)", formatNumber(h), id, formatNumber(lo), formatNumber(hi))
		}
	}
	if !hideable {
		c.ps.add(p, ProblemNotAllowed, "none of the score's items has enableWhen, itself or in a group, so none is ever hidden")
	}
}

// hideable reports whether skip logic can hide the item: it, or a group
// it is in, has enableWhen. It runs after the walk, on a well-formed tree.
func (c *checker) hideable(target *Item) bool {
	var find func(items []*Item, conditional bool) (found, hidden bool)
	find = func(items []*Item, conditional bool) (bool, bool) {
		for _, it := range items {
			if it == nil {
				continue
			}
			cond := conditional || len(it.EnableWhen) > 0
			if it == target {
				return true, cond
			}
			if found, hidden := find(it.Items, cond); found {
				return true, hidden
			}
		}
		return false, false
	}
	_, hidden := find(c.d.Items, false)
	return hidden
}

// bands checks a score's bands; with feedback each says in the patient's
// words what a value in it means, else none may.
func (c *checker) bands(path string, bands []Band, feedback bool) {
	codes := map[string]int{}
	for i, b := range bands {
		p := fmt.Sprintf("%s.bands[%d]", path, i)
		switch {
		case b.Code == "":
			c.ps.add(join(p, "code"), ProblemRequired, "missing")
		case !valuePattern.MatchString(b.Code):
			c.ps.add(join(p, "code"), ProblemPattern, "%q is not a valid band code", b.Code)
		default:
			if j, dup := codes[b.Code]; dup {
				c.ps.add(join(p, "code"), ProblemDuplicate, "%q is already the code of bands[%d]", b.Code, j)
			} else {
				codes[b.Code] = i
			}
		}
		if b.Min > b.Max {
			c.ps.add(join(p, "min"), ProblemRange, "min %s is greater than max %s", formatNumber(b.Min), formatNumber(b.Max))
		}
		c.text(join(p, "label"), b.Label, true)
		if feedback {
			c.text(join(p, "feedback"), b.Feedback, true)
		} else if b.Feedback != nil {
			c.ps.add(join(p, "feedback"), ProblemNotAllowed, "only the bands of a score with feedback: true speak to the patient")
		}
	}
	order := make([]int, len(bands))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(x, y int) bool { return bands[order[x]].Min < bands[order[y]].Min })
	for k := 1; k < len(order); k++ {
		prev, cur := bands[order[k-1]], bands[order[k]]
		if cur.Min <= prev.Max {
			c.ps.add(fmt.Sprintf("%s.bands[%d]", path, order[k]), ProblemRange,
				"%s–%s overlaps bands[%d] (%s–%s)", formatNumber(cur.Min), formatNumber(cur.Max),
				order[k-1], formatNumber(prev.Min), formatNumber(prev.Max))
		}
	}
}
