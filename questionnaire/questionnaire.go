// Package questionnaire defines questionnaire definitions and what is done
// with them: strict decoding and semantic validation of the public definition
// format (docs/questionnaire-format.md), the canonical digest, a catalogue of
// versions, typed answers decoded from HTML forms and JSON, answer validation,
// enableWhen skip logic and scoring.
//
// It is the domain of the service and imports only the standard library.
package questionnaire

import "regexp"

// ItemType is the kind of an item; the names follow FHIR R4 where FHIR has one.
type ItemType string

// The item types of the definition format.
const (
	Group       ItemType = "group"
	Display     ItemType = "display"
	Choice      ItemType = "choice"
	MultiChoice ItemType = "multichoice"
	Boolean     ItemType = "boolean"
	Integer     ItemType = "integer"
	Decimal     ItemType = "decimal"
	Scale       ItemType = "scale"
	Date        ItemType = "date"
	TextType    ItemType = "text"
)

var itemTypes = []ItemType{Group, Display, Choice, MultiChoice, Boolean, Integer, Decimal, Scale, Date, TextType}

// Answerable reports whether items of this type take an answer.
func (t ItemType) Answerable() bool {
	switch t {
	case Choice, MultiChoice, Boolean, Integer, Decimal, Scale, Date, TextType:
		return true
	}
	return false
}

// numeric reports whether answers of this type are numbers.
func (t ItemType) numeric() bool { return t == Integer || t == Decimal || t == Scale }

// DefaultMaxLength is the maximum length, in characters, of a text answer
// whose item does not set maxLength.
const DefaultMaxLength = 2000

// Text is a text in several languages, keyed by language code.
type Text map[string]string

// Get returns the text in the first of langs that it has, then in nb, then
// in en, then in any language; "" when the text is empty.
func (t Text) Get(langs ...string) string {
	for _, list := range [][]string{langs, {"nb", "en"}} {
		for _, l := range list {
			if s, ok := t[l]; ok && s != "" {
				return s
			}
		}
	}
	for _, l := range sortedKeys(t) {
		if t[l] != "" {
			return t[l]
		}
	}
	return ""
}

// Definition is one version of a questionnaire.
type Definition struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	// URL is the canonical URL of the FHIR Questionnaire the definition
	// is, or was imported from; a QuestionnaireResponse names it with the
	// version. Without it the canonical is derived from the id (FHIRURL).
	URL          string            `json:"url,omitempty"`
	Languages    []string          `json:"languages"`
	Title        Text              `json:"title"`
	PatientTitle Text              `json:"patientTitle,omitempty"` // shown to patients instead of Title; see ShownTitle
	Description  Text              `json:"description,omitempty"`
	Demo         bool              `json:"demo,omitempty"`
	Source       string            `json:"source,omitempty"`
	Copyright    string            `json:"copyright,omitempty"`
	Translations map[string]string `json:"translations,omitempty"`
	Items        []*Item           `json:"items"`
	Scores       []*Score          `json:"scores,omitempty"`

	digest string
	byID   map[string]*Item // every item by linkId
	order  []*Item          // every item, in document (pre-)order
	parent map[*Item]*Item  // nil for top-level items
	pages  []Page
}

// Item is a group, a display text or a question.
type Item struct {
	LinkID string   `json:"linkId"`
	Type   ItemType `json:"type"`
	Text   Text     `json:"text,omitempty"`
	// Markup is Text with formatting, in the languages that have it: an
	// XHTML fragment of p, br, strong, em, b, i, ul, ol, li and a href
	// (https, mailto, tel); a question's takes only the inline ones. The
	// page shows it, written anew (SanitizeMarkup); Text is what the
	// review, the envelope and every other language show.
	Markup         Text        `json:"markup,omitempty"`
	Prefix         string      `json:"prefix,omitempty"`
	Help           Text        `json:"help,omitempty"`
	Required       bool        `json:"required,omitempty"`
	EnableWhen     []Condition `json:"enableWhen,omitempty"`
	EnableBehavior string      `json:"enableBehavior,omitempty"`
	Items          []*Item     `json:"items,omitempty"`
	Options        []Option    `json:"options,omitempty"`
	Min            *float64    `json:"min,omitempty"`
	Max            *float64    `json:"max,omitempty"`
	Unit           Text        `json:"unit,omitempty"`
	MinLabel       Text        `json:"minLabel,omitempty"`
	MaxLabel       Text        `json:"maxLabel,omitempty"`
	MinDate        string      `json:"minDate,omitempty"`
	MaxDate        string      `json:"maxDate,omitempty"`
	MaxLength      *int        `json:"maxLength,omitempty"`
	MinLength      *int        `json:"minLength,omitempty"`
	// Pattern is a regular expression (Go's RE2 syntax) that a text answer
	// must match as a whole; PatternHint says in words what it asks for,
	// beside the field and in the error.
	Pattern     string `json:"pattern,omitempty"`
	PatternHint Text   `json:"patternHint,omitempty"`
	Multiline   bool   `json:"multiline,omitempty"`
	// Initial is the answer a new order's draft starts from, in the JSON
	// answer format's value; the patient sees it ticked or filled in and
	// may change it, unless ReadOnly.
	Initial any `json:"initial,omitempty"`
	// ReadOnly shows the question with its answer (Initial, or what the
	// order filled in) as text the patient cannot change; a value posted
	// for it is ignored.
	ReadOnly bool `json:"readOnly,omitempty"`
	// Other offers, beside a choice's options, a field for the patient's
	// own answer (FHIR's open-choice): the form field OtherField().
	Other bool `json:"other,omitempty"`
	// Sensitive marks a question (or a group of them) about something hard,
	// such as hopelessness, injecting or a message to the clinician: the
	// patient page shows a calm notice of where to get help now beside it.
	Sensitive bool `json:"sensitive,omitempty"`

	initial Value             // Initial, typed by the semantic check
	pattern *regexp.Regexp    // Pattern, anchored at both ends
	markup  map[string]string // Markup by language, sanitized
}

// Option is one of the answers a choice or multichoice item offers.
type Option struct {
	Value     string   `json:"value"`
	Text      Text     `json:"text"`
	Score     *float64 `json:"score,omitempty"`
	Exclusive bool     `json:"exclusive,omitempty"`
	// System and Code are the FHIR coding the option stands for, as an
	// imported form had it: Code only where it is not Value (a code with
	// spaces, say). A QuestionnaireResponse answers with them.
	System string `json:"system,omitempty"`
	Code   string `json:"code,omitempty"`
}

// Condition is one enableWhen condition: the item is shown when the answer
// to Question compares with Answer by Operator.
type Condition struct {
	Question string `json:"question"`
	Operator string `json:"operator"`
	Answer   any    `json:"answer"`

	want Value // Answer, typed after the question's type by the semantic check
}

// The enableWhen operators.
const (
	OpExists = "exists"
	OpEq     = "="
	OpNe     = "!="
	OpGt     = ">"
	OpLt     = "<"
	OpGe     = ">="
	OpLe     = "<="
)

// Score is a score computed from the answers, on the server only.
type Score struct {
	ID          string   `json:"id"`
	Title       Text     `json:"title,omitempty"`
	Method      string   `json:"method"`
	Items       []string `json:"items"`
	Reverse     []string `json:"reverse,omitempty"`
	MinAnswered *int     `json:"minAnswered,omitempty"`
	Prorate     bool     `json:"prorate,omitempty"`
	// HiddenScore, when set, is what an item of the score hidden by skip
	// logic (enableWhen, its own or a group's) counts as: such an item is
	// "skipped", and counts towards MinAnswered like an answered one, as
	// published instruments such as AUDIT score the questions they tell a
	// patient to skip. Without it a hidden item is missing. The value is
	// counted as it is, never reverse-coded.
	HiddenScore *float64 `json:"hiddenScore,omitempty"`
	Bands       []Band   `json:"bands,omitempty"`
	// Feedback lets the patient see the score after sending, beside the
	// earlier results the order carries (Order.Previous), with each band's
	// Feedback wording. Only such scores may be in an order's previous
	// results.
	Feedback bool `json:"feedback,omitempty"`
}

// The scoring methods.
const (
	MethodSum  = "sum"
	MethodMean = "mean"
)

// Band is a labelled range of score values; Min and Max are inclusive.
type Band struct {
	Code  string  `json:"code"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Label Text    `json:"label"`
	// Feedback is what a patient reads of a value in the band, when the
	// score has Feedback: plain words, not a diagnosis.
	Feedback Text `json:"feedback,omitempty"`
}

// Page is what the patient sees at once: a top-level group, or a run of
// top-level items that are not groups.
type Page struct {
	Group *Item   // the top-level group, or nil for a run of loose items
	Items []*Item // the items on the page: the group's items, or the run
}

// ShownTitle returns the title to show a patient: PatientTitle when the
// definition has one, else Title. Title may be a registry's name for the
// form (such as «Målepunkt – pasientdel»), which means nothing to the
// person answering it.
func (d *Definition) ShownTitle() Text {
	if len(d.PatientTitle) > 0 {
		return d.PatientTitle
	}
	return d.Title
}

// SecondsPerQuestion is what EstimatedMinutes counts for a question.
const SecondsPerQuestion = 15

// EstimatedMinutes is about how long answering takes: SecondsPerQuestion
// for each question (skip logic may leave some out), in whole minutes,
// at least 2.
func (d *Definition) EstimatedMinutes() int {
	return max(2, (len(d.Questions())*SecondsPerQuestion+59)/60)
}

// DerivedURLPrefix starts the canonical URL of a definition that does not
// set one: DerivedURLPrefix + id.
const DerivedURLPrefix = "urn:eprom:questionnaire:"

// FHIRURL returns the definition's canonical URL: URL, or one derived
// from the id.
func (d *Definition) FHIRURL() string {
	if d.URL != "" {
		return d.URL
	}
	return DerivedURLPrefix + d.ID
}

// Canonical returns the definition's FHIR canonical reference, url|version.
func (d *Definition) Canonical() string { return d.FHIRURL() + "|" + d.Version }

// FHIRCode returns the FHIR code of the option: Code, or else Value.
func (o *Option) FHIRCode() string {
	if o.Code != "" {
		return o.Code
	}
	return o.Value
}

// Digest returns "sha256:" and the hex SHA-256 of the definition file's
// canonical JSON form.
func (d *Definition) Digest() string { return d.digest }

// Item returns the item with the given linkId, or nil.
func (d *Definition) Item(linkID string) *Item { return d.byID[linkID] }

// Pages returns the pages of the definition, in order.
func (d *Definition) Pages() []Page { return d.pages }

// Questions returns every answerable item, in document order.
func (d *Definition) Questions() []*Item {
	var qs []*Item
	for _, it := range d.order {
		if it.Type.Answerable() {
			qs = append(qs, it)
		}
	}
	return qs
}

// ItemCount returns the number of items of every type, groups included.
func (d *Definition) ItemCount() int { return len(d.order) }

// Questions returns the answerable items on the page, nested ones included,
// in document order.
func (p Page) Questions() []*Item {
	var qs []*Item
	var walk func([]*Item)
	walk = func(items []*Item) {
		for _, it := range items {
			if it.Type.Answerable() {
				qs = append(qs, it)
			}
			walk(it.Items)
		}
	}
	walk(p.Items)
	return qs
}

// Option returns the option with the given value, or nil.
func (it *Item) Option(value string) *Option {
	for i := range it.Options {
		if it.Options[i].Value == value {
			return &it.Options[i]
		}
	}
	return nil
}

// MaxPatternLength bounds an item's pattern, in bytes: every text answer
// is matched against it on every post.
const MaxPatternLength = 1000

// OtherSuffix ends the name of the form field of an item's own answer
// (Item.Other): linkIds cannot hold ':', so it never names an item.
const OtherSuffix = ":other"

// OtherMaxLength is the maximum length, in characters, of an own answer
// beside a choice's options.
const OtherMaxLength = 500

// OtherField returns the name of the form field of the item's own answer.
func (it *Item) OtherField() string { return it.LinkID + OtherSuffix }

// InitialValue returns the item's initial answer; ok is false when it has none.
func (it *Item) InitialValue() (v Value, ok bool) {
	return it.initial, it.initial.Type != "" // typed only when Initial is set and valid
}

// InitialForm returns the initial answers of the definition as form values
// by field name (Value.FormFields): what a new order's draft starts from.
func (d *Definition) InitialForm() map[string][]string {
	var out map[string][]string
	for _, it := range d.order {
		if v, ok := it.InitialValue(); ok {
			if out == nil {
				out = map[string][]string{}
			}
			for k, vals := range v.FormFields(it.LinkID) {
				out[k] = vals
			}
		}
	}
	return out
}

// maxLength returns the item's maximum text length in characters.
func (it *Item) maxLength() int {
	if it.MaxLength != nil {
		return *it.MaxLength
	}
	return DefaultMaxLength
}

// index fills the lookup tables and pages; it runs on a checked definition.
func (d *Definition) index() {
	d.byID = make(map[string]*Item)
	d.parent = make(map[*Item]*Item)
	d.order = d.order[:0]
	var walk func(parent *Item, items []*Item)
	walk = func(parent *Item, items []*Item) {
		for _, it := range items {
			d.byID[it.LinkID] = it
			d.parent[it] = parent
			d.order = append(d.order, it)
			walk(it, it.Items)
		}
	}
	walk(nil, d.Items)

	d.pages = nil
	var loose []*Item
	for _, it := range d.Items {
		if it.Type != Group {
			loose = append(loose, it)
			continue
		}
		if loose != nil {
			d.pages = append(d.pages, Page{Items: loose})
			loose = nil
		}
		d.pages = append(d.pages, Page{Group: it, Items: it.Items})
	}
	if loose != nil {
		d.pages = append(d.pages, Page{Items: loose})
	}
}
