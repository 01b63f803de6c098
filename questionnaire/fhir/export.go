package fhir

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"eprom/questionnaire"
)

// Export writes a definition as an R4 Questionnaire, so a form of this
// service runs in any SDC renderer: groups, questions, options with their
// ordinal values, bounds, units, help texts, skip logic and translations
// use FHIR's own elements and the core and SDC extensions; what FHIR has
// no element for (a patient title, the sensitive flag, a score's
// reverse-coded items, bands…) is kept in this service's extensions
// (ExtensionBase), which other renderers ignore. A plain sum of option
// scores is also an SDC calculatedExpression on a hidden item, which SDC
// renderers compute. Import of the export gives back the definition with
// the same digest.
func Export(d *questionnaire.Definition) ([]byte, error) {
	ex := &exporter{d: d, lang: d.Languages[0]}
	q := &xQuestionnaire{
		ResourceType: "Questionnaire",
		ID:           d.ID,
		URL:          d.FHIRURL(),
		Version:      d.Version,
		Status:       "active",
		Language:     ex.lang,
		Copyright:    d.Copyright,
	}
	q.Title, q.TitleExt = ex.text(d.Title)
	if len(d.Description) > 0 {
		q.Description, q.DescExt = ex.text(d.Description)
	}
	if len(d.PatientTitle) > 0 {
		s, ext := ex.text(d.PatientTitle)
		q.Extension = append(q.Extension, xExtension{URL: extPatientTitle, ValueString: &s, ValueStringExt: ext})
	}
	if d.Demo {
		q.Extension = append(q.Extension, xExtension{URL: extDemo, ValueBoolean: ptr(true)})
	}
	if d.Source != "" {
		q.Extension = append(q.Extension, xExtension{URL: extSource, ValueString: ptr(d.Source)})
	}
	for _, l := range d.Languages {
		if st, ok := d.Translations[l]; ok {
			q.Extension = append(q.Extension, xExtension{URL: extTranslationStatus, Extension: []xExtension{
				{URL: "lang", ValueCode: ptr(l)}, {URL: "status", ValueCode: ptr(st)}}})
		}
	}
	for _, it := range d.Items {
		q.Item = append(q.Item, ex.item(it))
	}
	for _, s := range d.Scores {
		q.Item = append(q.Item, ex.score(s))
	}
	return json.MarshalIndent(q, "", "  ")
}

// This service's extensions, for what FHIR has no element for.
const (
	ExtensionBase        = "urn:eprom:fhir:"
	extPatientTitle      = ExtensionBase + "patientTitle"
	extDemo              = ExtensionBase + "demo"
	extSource            = ExtensionBase + "source"
	extTranslationStatus = ExtensionBase + "translationStatus"
	extSensitive         = ExtensionBase + "sensitive"
	extOptionValue       = ExtensionBase + "optionValue"
	extMinDate           = ExtensionBase + "minDate"
	extMaxDate           = ExtensionBase + "maxDate"
	extScore             = ExtensionBase + "score"

	extOptionExclusive  = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"
	extSliderStep       = "http://hl7.org/fhir/StructureDefinition/questionnaire-sliderStepValue"
	extCalculated       = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
	itemControlSystem   = "http://hl7.org/fhir/questionnaire-item-control"
	fhirPathMediaType   = "text/fhirpath"
	controlHelp         = "help"
	controlLower        = "lower"
	controlUpper        = "upper"
	controlSlider       = "slider"
	controlCheckBox     = "check-box"
	controlRadioButton  = "radio-button"
	controlDropDown     = "drop-down"
	controlAutocomplete = "autocomplete"
)

// The R4 elements the export writes, in FHIR's order, without empty ones.
type (
	xQuestionnaire struct {
		ResourceType string       `json:"resourceType"`
		ID           string       `json:"id"`
		Language     string       `json:"language,omitempty"`
		Extension    []xExtension `json:"extension,omitempty"`
		URL          string       `json:"url"`
		Version      string       `json:"version"`
		Title        string       `json:"title"`
		TitleExt     *xElement    `json:"_title,omitempty"`
		Status       string       `json:"status"`
		Description  string       `json:"description,omitempty"`
		DescExt      *xElement    `json:"_description,omitempty"`
		Copyright    string       `json:"copyright,omitempty"`
		Item         []*xItem     `json:"item"`
	}
	xElement struct {
		Extension []xExtension `json:"extension"`
	}
	xExtension struct {
		URL                  string        `json:"url"`
		Extension            []xExtension  `json:"extension,omitempty"`
		ValueBoolean         *bool         `json:"valueBoolean,omitempty"`
		ValueCode            *string       `json:"valueCode,omitempty"`
		ValueDate            *string       `json:"valueDate,omitempty"`
		ValueDecimal         *float64      `json:"valueDecimal,omitempty"`
		ValueInteger         *int64        `json:"valueInteger,omitempty"`
		ValueString          *string       `json:"valueString,omitempty"`
		ValueStringExt       *xElement     `json:"_valueString,omitempty"`
		ValueCoding          *xCoding      `json:"valueCoding,omitempty"`
		ValueCodeableConcept *xConcept     `json:"valueCodeableConcept,omitempty"`
		ValueExpression      *xExpression  `json:"valueExpression,omitempty"`
		ValueQuantity        *xQuantityVal `json:"valueQuantity,omitempty"`
	}
	xCoding struct {
		Extension  []xExtension `json:"extension,omitempty"`
		System     string       `json:"system,omitempty"`
		Code       string       `json:"code,omitempty"`
		Display    string       `json:"display,omitempty"`
		DisplayExt *xElement    `json:"_display,omitempty"`
	}
	xConcept struct {
		Coding []xCoding `json:"coding"`
	}
	xExpression struct {
		Language   string `json:"language"`
		Expression string `json:"expression"`
	}
	xQuantityVal struct {
		Value float64 `json:"value"`
	}
	xItem struct {
		Extension      []xExtension    `json:"extension,omitempty"`
		LinkID         string          `json:"linkId"`
		Prefix         string          `json:"prefix,omitempty"`
		Text           string          `json:"text,omitempty"`
		TextExt        *xElement       `json:"_text,omitempty"`
		Type           string          `json:"type"`
		EnableWhen     []xEnableWhen   `json:"enableWhen,omitempty"`
		EnableBehavior string          `json:"enableBehavior,omitempty"`
		Required       bool            `json:"required,omitempty"`
		Repeats        bool            `json:"repeats,omitempty"`
		ReadOnly       bool            `json:"readOnly,omitempty"`
		MaxLength      *int            `json:"maxLength,omitempty"`
		AnswerOption   []xAnswerOption `json:"answerOption,omitempty"`
		Initial        []qrAnswer      `json:"initial,omitempty"`
		Item           []*xItem        `json:"item,omitempty"`
	}
	xAnswerOption struct {
		Extension       []xExtension `json:"extension,omitempty"`
		ValueCoding     *xCoding     `json:"valueCoding"`
		InitialSelected bool         `json:"initialSelected,omitempty"`
	}
	xEnableWhen struct {
		Question      string   `json:"question"`
		Operator      string   `json:"operator"`
		AnswerBoolean *bool    `json:"answerBoolean,omitempty"`
		AnswerDecimal *float64 `json:"answerDecimal,omitempty"`
		AnswerInteger *int64   `json:"answerInteger,omitempty"`
		AnswerDate    *string  `json:"answerDate,omitempty"`
		AnswerString  *string  `json:"answerString,omitempty"`
		AnswerCoding  *xCoding `json:"answerCoding,omitempty"`
	}
)

func ptr[T any](v T) *T { return &v }

type exporter struct {
	d    *questionnaire.Definition
	lang string
}

// text returns a text in the definition's first language, and the FHIR
// translation extension for each other language, in the declared order.
func (ex *exporter) text(t questionnaire.Text) (string, *xElement) {
	var el xElement
	for _, l := range ex.d.Languages[1:] {
		if s, ok := t[l]; ok {
			el.Extension = append(el.Extension, xExtension{URL: extTranslation, Extension: []xExtension{
				{URL: "lang", ValueCode: ptr(l)}, {URL: "content", ValueString: ptr(s)}}})
		}
	}
	if len(el.Extension) == 0 {
		return t[ex.lang], nil
	}
	return t[ex.lang], &el
}

func itemControl(code string) xExtension {
	return xExtension{URL: extItemControl, ValueCodeableConcept: &xConcept{Coding: []xCoding{{System: itemControlSystem, Code: code}}}}
}

// display is a display item under another: its help text, or a label of a
// slider's end.
func (ex *exporter) display(linkID, control string, t questionnaire.Text) *xItem {
	x := &xItem{LinkID: linkID, Type: "display", Extension: []xExtension{itemControl(control)}}
	x.Text, x.TextExt = ex.text(t)
	return x
}

func (ex *exporter) item(it *questionnaire.Item) *xItem {
	x := &xItem{LinkID: it.LinkID, Prefix: it.Prefix, Required: it.Required, ReadOnly: it.ReadOnly, EnableBehavior: it.EnableBehavior}
	if len(it.Text) > 0 {
		x.Text, x.TextExt = ex.text(it.Text)
	}
	if len(it.Markup) > 0 {
		// rendering-xhtml on _text, its translations on its _valueString.
		s, ext := ex.text(it.Markup)
		if x.TextExt == nil {
			x.TextExt = &xElement{}
		}
		x.TextExt.Extension = append(x.TextExt.Extension, xExtension{URL: extRenderingXHTML, ValueString: &s, ValueStringExt: ext})
	}
	if it.Sensitive {
		x.Extension = append(x.Extension, xExtension{URL: extSensitive, ValueBoolean: ptr(true)})
	}
	switch it.Type {
	case questionnaire.Group:
		x.Type = "group"
		for _, c := range it.Items {
			x.Item = append(x.Item, ex.item(c))
		}
	case questionnaire.Display, questionnaire.Boolean, questionnaire.Integer, questionnaire.Decimal, questionnaire.Date:
		x.Type = string(it.Type)
	case questionnaire.Scale:
		x.Type = "integer"
		x.Extension = append(x.Extension, itemControl(controlSlider), xExtension{URL: extSliderStep, ValueInteger: ptr(int64(1))})
	case questionnaire.TextType:
		x.Type = "string"
		if it.Multiline {
			x.Type = "text"
		}
		x.MaxLength = it.MaxLength
		if it.MinLength != nil {
			x.Extension = append(x.Extension, xExtension{URL: extMinLength, ValueInteger: ptr(int64(*it.MinLength))})
		}
		if it.Pattern != "" {
			x.Extension = append(x.Extension, xExtension{URL: extRegex, ValueString: ptr(it.Pattern)})
		}
		if len(it.PatternHint) > 0 {
			s, ext := ex.text(it.PatternHint)
			x.Extension = append(x.Extension, xExtension{URL: extEntryFormat, ValueString: &s, ValueStringExt: ext})
		}
	case questionnaire.Choice, questionnaire.MultiChoice:
		x.Type = "choice"
		if it.Other {
			x.Type = "open-choice"
		}
		control := controlRadioButton
		if it.Type == questionnaire.MultiChoice {
			x.Repeats, control = true, controlCheckBox
		}
		x.Extension = append(x.Extension, itemControl(control))
		initial, _ := it.InitialValue()
		for _, o := range it.Options {
			xo := ex.option(o)
			// FHIR gives a choice's initial answer on its options (que-11).
			xo.InitialSelected = initial.String == o.Value || slices.Contains(initial.Strings, o.Value)
			x.AnswerOption = append(x.AnswerOption, xo)
		}
	}
	if v, ok := it.InitialValue(); ok && it.Type != questionnaire.Choice && it.Type != questionnaire.MultiChoice {
		answers, err := (&qrBuilder{lang: ex.lang}).answer(it, v)
		if err == nil {
			x.Initial = answers
		}
	}
	for _, b := range []struct {
		url string
		v   *float64
	}{{extMinValue, it.Min}, {extMaxValue, it.Max}} {
		switch {
		case b.v == nil:
		case it.Type == questionnaire.Decimal:
			x.Extension = append(x.Extension, xExtension{URL: b.url, ValueDecimal: b.v})
		default:
			x.Extension = append(x.Extension, xExtension{URL: b.url, ValueInteger: ptr(int64(*b.v))})
		}
	}
	for _, b := range []struct{ url, own, v string }{{extMinValue, extMinDate, it.MinDate}, {extMaxValue, extMaxDate, it.MaxDate}} {
		switch {
		case b.v == "":
		case b.v == "today":
			x.Extension = append(x.Extension, xExtension{URL: b.own, ValueString: ptr(b.v)})
		default:
			x.Extension = append(x.Extension, xExtension{URL: b.url, ValueDate: ptr(b.v)})
		}
	}
	if len(it.Unit) > 0 {
		s, ext := ex.text(it.Unit)
		x.Extension = append(x.Extension, xExtension{URL: extUnit, ValueCoding: &xCoding{Display: s, DisplayExt: ext}})
	}
	for _, c := range it.EnableWhen {
		x.EnableWhen = append(x.EnableWhen, ex.condition(c))
	}
	if len(it.Help) > 0 {
		x.Item = append(x.Item, ex.display(it.LinkID+"-help", controlHelp, it.Help))
	}
	if len(it.MinLabel) > 0 {
		x.Item = append(x.Item, ex.display(it.LinkID+"-lower", controlLower, it.MinLabel))
	}
	if len(it.MaxLabel) > 0 {
		x.Item = append(x.Item, ex.display(it.LinkID+"-upper", controlUpper, it.MaxLabel))
	}
	return x
}

func (ex *exporter) option(o questionnaire.Option) xAnswerOption {
	c := &xCoding{System: o.System, Code: o.FHIRCode()}
	c.Display, c.DisplayExt = ex.text(o.Text)
	if o.Score != nil {
		c.Extension = append(c.Extension, xExtension{URL: extOrdinal, ValueDecimal: o.Score})
	}
	x := xAnswerOption{ValueCoding: c}
	if o.Exclusive {
		x.Extension = append(x.Extension, xExtension{URL: extOptionExclusive, ValueBoolean: ptr(true)})
	}
	if optionValue(o.FHIRCode(), 0) != o.Value {
		x.Extension = append(x.Extension, xExtension{URL: extOptionValue, ValueString: ptr(o.Value)})
	}
	return x
}

// condition types a condition's answer after its question, as FHIR does.
func (ex *exporter) condition(c questionnaire.Condition) xEnableWhen {
	w := xEnableWhen{Question: c.Question, Operator: c.Operator}
	if c.Operator == questionnaire.OpExists {
		b, _ := c.Answer.(bool)
		w.AnswerBoolean = &b
		return w
	}
	target := ex.d.Item(c.Question)
	switch v := c.Answer.(type) {
	case bool:
		w.AnswerBoolean = &v
	case json.Number:
		switch target.Type {
		case questionnaire.Decimal:
			f, _ := v.Float64()
			w.AnswerDecimal = &f
		default:
			n, _ := v.Int64()
			w.AnswerInteger = &n
		}
	case float64:
		if target.Type == questionnaire.Decimal {
			w.AnswerDecimal = &v
		} else {
			w.AnswerInteger = ptr(int64(v))
		}
	case string:
		switch target.Type {
		case questionnaire.Choice, questionnaire.MultiChoice:
			code := v
			if o := target.Option(v); o != nil {
				code = o.FHIRCode()
				w.AnswerCoding = &xCoding{System: o.System, Code: code}
			} else {
				w.AnswerCoding = &xCoding{Code: code}
			}
		case questionnaire.Date:
			w.AnswerDate = &v
		default:
			w.AnswerString = &v
		}
	}
	return w
}

// score is a score as a hidden, read-only item: this service's score
// extension holds all of it; a plain sum of option scores is also an SDC
// calculatedExpression, for other renderers.
func (ex *exporter) score(s *questionnaire.Score) *xItem {
	x := &xItem{LinkID: ex.scoreLinkID(s.ID), Type: "decimal", ReadOnly: true}
	if len(s.Title) > 0 {
		x.Text, x.TextExt = ex.text(s.Title)
	}
	spec := []xExtension{{URL: "id", ValueString: ptr(s.ID)}, {URL: "method", ValueCode: ptr(s.Method)}}
	for _, id := range s.Items {
		spec = append(spec, xExtension{URL: "item", ValueString: ptr(id)})
	}
	for _, id := range s.Reverse {
		spec = append(spec, xExtension{URL: "reverse", ValueString: ptr(id)})
	}
	if s.MinAnswered != nil {
		spec = append(spec, xExtension{URL: "minAnswered", ValueInteger: ptr(int64(*s.MinAnswered))})
	}
	if s.Prorate {
		spec = append(spec, xExtension{URL: "prorate", ValueBoolean: ptr(true)})
	}
	if s.HiddenScore != nil {
		spec = append(spec, xExtension{URL: "hiddenScore", ValueDecimal: s.HiddenScore})
	}
	if s.Feedback {
		spec = append(spec, xExtension{URL: "feedback", ValueBoolean: ptr(true)})
	}
	for _, b := range s.Bands {
		label, ext := ex.text(b.Label)
		band := []xExtension{
			{URL: "code", ValueString: ptr(b.Code)},
			{URL: "min", ValueDecimal: ptr(b.Min)},
			{URL: "max", ValueDecimal: ptr(b.Max)},
			{URL: "label", ValueString: &label, ValueStringExt: ext},
		}
		if len(b.Feedback) > 0 {
			fb, ext := ex.text(b.Feedback)
			band = append(band, xExtension{URL: "feedback", ValueString: &fb, ValueStringExt: ext})
		}
		spec = append(spec, xExtension{URL: "band", Extension: band})
	}
	x.Extension = append(x.Extension, xExtension{URL: extHidden, ValueBoolean: ptr(true)})
	if e := ex.sumExpression(s); e != "" {
		x.Extension = append(x.Extension, xExtension{URL: extCalculated, ValueExpression: &xExpression{Language: fhirPathMediaType, Expression: e}})
	}
	x.Extension = append(x.Extension, xExtension{URL: extScore, Extension: spec})
	return x
}

// sumExpression is the FHIRPath of a score that is a plain sum of option
// scores, or "" for any other: a mean, reverse-coded or numeric items,
// prorating or skipped items that count are beyond a one-line sum.
func (ex *exporter) sumExpression(s *questionnaire.Score) string {
	if s.Method != questionnaire.MethodSum || len(s.Reverse) > 0 || s.Prorate || (s.HiddenScore != nil && *s.HiddenScore != 0) {
		return ""
	}
	quoted := make([]string, len(s.Items))
	for i, id := range s.Items {
		it := ex.d.Item(id)
		if it == nil || (it.Type != questionnaire.Choice && it.Type != questionnaire.MultiChoice) {
			return ""
		}
		quoted[i] = "'" + id + "'"
	}
	return SumExpression(quoted)
}

// SumExpression is the FHIRPath the export writes for a sum of the option
// scores (ordinal values) of the items with the given quoted linkIds.
func SumExpression(quoted []string) string {
	return "%resource.repeat(item).where(linkId in (" + strings.Join(quoted, " | ") + ")).answer.value.ordinal().sum()"
}

// scoreLinkID is the linkId of a score's item: "score-" and its id, made
// unique among the definition's linkIds.
func (ex *exporter) scoreLinkID(id string) string {
	l := "score-" + id
	for n := 2; ex.d.Item(l) != nil; n++ {
		l = "score-" + id + "-" + strconv.Itoa(n)
	}
	return l
}

// optionValue is how the importer makes an option value of a FHIR code:
// the characters a value may not hold become '-'; i (from 0) numbers an
// option whose code has none left.
func optionValue(code string, i int) string {
	v := strings.Trim(notValue.ReplaceAllString(code, "-"), "-")
	if v == "" {
		v = strconv.Itoa(i + 1)
	}
	return v
}
