// Package fhir imports FHIR R4 Questionnaires as definitions of this
// service's format (issue 12, DESIGN.md §2). Nothing that changes meaning is
// dropped silently: what cannot be mapped faithfully is a Finding of the
// import report, with its JSON path, and what a patient page cannot honour
// (attachments, references, a question under a question…) refuses the form
// unless the import is lenient.
//
// Export writes a definition back as an R4 Questionnaire (the import of
// the export has the same digest), and QuestionnaireResponse writes a
// response's answers as an R4 QuestionnaireResponse for its envelope.
package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"eprom/questionnaire"

	"github.com/yuin/goldmark"
	gmhtml "github.com/yuin/goldmark/renderer/html"
)

// Finding is one line of the import report.
type Finding struct {
	Path   string `json:"path"`   // JSON path in the source, e.g. item[2].item[0].answerOption[1]
	What   string `json:"what"`   // the element
	Why    string `json:"why"`    // what was done with it, and why
	Refuse bool   `json:"refuse"` // the form cannot be offered faithfully without it
}

func (f Finding) String() string {
	mark := "note"
	if f.Refuse {
		mark = "REFUSE"
	}
	return fmt.Sprintf("%s %s: %s: %s", mark, f.Path, f.What, f.Why)
}

// Result is an imported form: the definition in this service's format (as
// JSON, and parsed), and the report.
type Result struct {
	JSON       []byte
	Definition *questionnaire.Definition
	Report     []Finding
	Refused    bool // a finding refuses the form and the import was not lenient
}

// Import reads an R4 Questionnaire (or a Bundle, or a resource that
// contains one) and maps it. With lenient, findings that would refuse the
// form are kept in the report and the rest is imported.
func Import(data []byte, lenient bool) (*Result, error) {
	q, err := find(data)
	if err != nil {
		return nil, err
	}
	im := &importer{q: q, valueSets: map[string][]concept{}, codes: map[string]map[string]string{}}
	for i, raw := range q.Contained {
		im.containedValueSet(fmt.Sprintf("contained[%d]", i), raw)
	}
	def := im.definition()
	out, err := json.MarshalIndent(def, "", "  ")
	if err != nil {
		return nil, err
	}
	res := &Result{JSON: out, Report: im.report}
	for _, f := range im.report {
		if f.Refuse && !lenient {
			res.Refused = true
		}
	}
	d, err := questionnaire.Parse(out)
	if err != nil {
		return res, fmt.Errorf("fhir: the imported definition does not pass the format's checks: %w", err)
	}
	res.Definition = d
	return res, nil
}

// The parts of R4 the importer reads.
type (
	resource struct {
		ResourceType string            `json:"resourceType"`
		Entry        []json.RawMessage `json:"entry"`
		Contained    []json.RawMessage `json:"contained"`
	}
	fhirQuestionnaire struct {
		ResourceType string            `json:"resourceType"`
		ID           string            `json:"id"`
		URL          string            `json:"url"`
		Version      string            `json:"version"`
		Name         string            `json:"name"`
		Title        string            `json:"title"`
		Language     string            `json:"language"`
		Description  string            `json:"description"`
		DescExt      *element          `json:"_description"`
		Copyright    string            `json:"copyright"`
		Extension    []extension       `json:"extension"`
		Item         []*item           `json:"item"`
		Contained    []json.RawMessage `json:"contained"`
		TitleExt     *element          `json:"_title"`
	}
	item struct {
		LinkID         string         `json:"linkId"`
		Text           string         `json:"text"`
		TextExt        *element       `json:"_text"`
		Type           string         `json:"type"`
		Required       bool           `json:"required"`
		Repeats        bool           `json:"repeats"`
		ReadOnly       bool           `json:"readOnly"`
		MaxLength      *int           `json:"maxLength"`
		Prefix         string         `json:"prefix"`
		EnableWhen     []enableWhen   `json:"enableWhen"`
		EnableBehavior string         `json:"enableBehavior"`
		AnswerOption   []answerOption `json:"answerOption"`
		AnswerValueSet string         `json:"answerValueSet"`
		Initial        []initialValue `json:"initial"`
		Item           []*item        `json:"item"`
		Extension      []extension    `json:"extension"`
		Code           []coding       `json:"code"`
	}
	element struct {
		Extension []extension `json:"extension"`
	}
	extension struct {
		URL          string      `json:"url"`
		ValueInteger *int64      `json:"valueInteger"`
		ValueDecimal *float64    `json:"valueDecimal"`
		ValueString  *string     `json:"valueString"`
		ValueBoolean *bool       `json:"valueBoolean"`
		ValueCoding  *coding     `json:"valueCoding"`
		ValueCode    *string     `json:"valueCode"`
		ValueDate    *string     `json:"valueDate"`
		Extension    []extension `json:"extension"`

		ValueStringExt       *element `json:"_valueString"`
		ValueCodeableConcept *struct {
			Coding []coding `json:"coding"`
		} `json:"valueCodeableConcept"`
		ValueExpression *struct {
			Language   string `json:"language"`
			Expression string `json:"expression"`
		} `json:"valueExpression"`
	}
	coding struct {
		System     string      `json:"system"`
		Code       string      `json:"code"`
		Display    string      `json:"display"`
		DisplayExt *element    `json:"_display"`
		Extension  []extension `json:"extension"`
	}
	initialValue struct {
		ValueBoolean  *bool    `json:"valueBoolean"`
		ValueDecimal  *float64 `json:"valueDecimal"`
		ValueInteger  *int64   `json:"valueInteger"`
		ValueDate     *string  `json:"valueDate"`
		ValueDateTime *string  `json:"valueDateTime"`
		ValueTime     *string  `json:"valueTime"`
		ValueString   *string  `json:"valueString"`
		ValueCoding   *coding  `json:"valueCoding"`
		ValueQuantity *struct {
			Value *float64 `json:"value"`
		} `json:"valueQuantity"`
	}
	answerOption struct {
		InitialSelected bool        `json:"initialSelected"`
		ValueCoding     *coding     `json:"valueCoding"`
		ValueString     *string     `json:"valueString"`
		ValueStringExt  *element    `json:"_valueString"`
		ValueInteger    *int64      `json:"valueInteger"`
		ValueDate       *string     `json:"valueDate"`
		Extension       []extension `json:"extension"`
	}
	enableWhen struct {
		Question      string   `json:"question"`
		Operator      string   `json:"operator"`
		AnswerBoolean *bool    `json:"answerBoolean"`
		AnswerCoding  *coding  `json:"answerCoding"`
		AnswerString  *string  `json:"answerString"`
		AnswerInteger *int64   `json:"answerInteger"`
		AnswerDecimal *float64 `json:"answerDecimal"`
		AnswerDate    *string  `json:"answerDate"`
	}
	concept struct {
		Code       string      `json:"code"`
		Display    string      `json:"display"`
		DisplayExt *element    `json:"_display"`
		Extension  []extension `json:"extension"`
		system     string
	}
	valueSet struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Compose      struct {
			Include []struct {
				System  string    `json:"system"`
				Concept []concept `json:"concept"`
			} `json:"include"`
		} `json:"compose"`
	}
)

// Extension and code-system URLs the importer knows.
const (
	extOrdinal     = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
	extItemWeight  = "http://hl7.org/fhir/StructureDefinition/itemWeight"
	extMinValue    = "http://hl7.org/fhir/StructureDefinition/minValue"
	extMaxValue    = "http://hl7.org/fhir/StructureDefinition/maxValue"
	extUnit        = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
	extUnitOption  = "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption"
	extHidden      = "http://hl7.org/fhir/StructureDefinition/questionnaire-hidden"
	extItemControl = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
	extTranslation = "http://hl7.org/fhir/StructureDefinition/translation"

	extMinLength         = "http://hl7.org/fhir/StructureDefinition/minLength"
	extRegex             = "http://hl7.org/fhir/StructureDefinition/regex"
	extMaxDecimalPlaces  = "http://hl7.org/fhir/StructureDefinition/maxDecimalPlaces"
	extEntryFormat       = "http://hl7.org/fhir/StructureDefinition/entryFormat"
	extMaxOccurs         = "http://hl7.org/fhir/StructureDefinition/questionnaire-maxOccurs"
	extValidationText    = "http://ehelse.no/fhir/StructureDefinition/validationtext"
	extBiodesignValidity = "http://biodesign.stanford.edu/fhir/StructureDefinition/validationtext"
	extRepeatsText       = "http://ehelse.no/fhir/StructureDefinition/repeatstext"
	extRenderingXHTML    = "http://hl7.org/fhir/StructureDefinition/rendering-xhtml"
	extRenderingMarkdown = "http://hl7.org/fhir/StructureDefinition/rendering-markdown"
	scoringFormulas      = "http://ehelse.no/scoringFormulas"
	scoreTotal           = "TS"
	scoreSection         = "SS"
	scoreQuestion        = "QS"
	defaultLanguage      = "nb" // the registry's; a Questionnaire without a language is most often Norwegian here
	importedVersion      = "1.0.0"
	maxImportedLength    = 20000
)

// find returns the Questionnaire in data: the resource itself, the first in
// a Bundle's entries, or the first contained one.
func find(data []byte) (*fhirQuestionnaire, error) {
	var r resource
	if err := json.Unmarshal(data, &r); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := position(data, se.Offset)
			return nil, fmt.Errorf("fhir: not JSON: line %d, column %d: %v", line, col, err)
		}
		return nil, fmt.Errorf("fhir: not JSON: %w", err)
	}
	switch r.ResourceType {
	case "Questionnaire":
		var q fhirQuestionnaire
		if err := json.Unmarshal(data, &q); err != nil {
			return nil, fmt.Errorf("fhir: Questionnaire: %w", err)
		}
		return &q, nil
	case "Bundle":
		for _, e := range r.Entry {
			var entry struct {
				Resource json.RawMessage `json:"resource"`
			}
			if json.Unmarshal(e, &entry) == nil && len(entry.Resource) > 0 {
				if q, err := find(entry.Resource); err == nil {
					return q, nil
				}
			}
		}
	case "":
		return nil, fmt.Errorf("fhir: no resourceType")
	}
	for _, c := range r.Contained {
		if q, err := find(c); err == nil {
			return q, nil
		}
	}
	return nil, fmt.Errorf("fhir: a %s holds no Questionnaire", r.ResourceType)
}

// position is the line and column (from 1) of a byte offset.
func position(data []byte, offset int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < offset-1 && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

type importer struct {
	q         *fhirQuestionnaire
	lang      string
	valueSets map[string][]concept
	report    []Finding
	byLink    map[string]*questionnaire.Item
	scores    []scoreSpec                  // the TS and SS items, to be filled in by scoreList
	scored    []scoredItem                 // every choice item with option scores, in order, with its section
	texts     []map[string]string          // every text made, to keep the languages all of them have
	seen      []string                     // the translations' languages, in the order they first appear
	codes     map[string]map[string]string // by linkId, each option's value by its FHIR code
	optional  []map[string]string          // texts that need not have every language (markup), pruned like texts
}

// scoreSpec is a TS or SS item: a sum over the scored questions of the
// whole form, or of the group (at any depth) when group is set.
type scoreSpec struct {
	linkID string
	title  map[string]string
	group  string
	items  []string       // the items of a calculatedExpression's sum
	full   map[string]any // the whole score, from this service's extension
}

type scoredItem struct {
	linkID    string
	ancestors []string // the linkIds of the groups it is in, outermost first
}

func (im *importer) note(path, what, why string) {
	im.report = append(im.report, Finding{Path: path, What: what, Why: why})
}

func (im *importer) refuse(path, what, why string) {
	im.report = append(im.report, Finding{Path: path, What: what, Why: why, Refuse: true})
}

func (im *importer) containedValueSet(path string, raw json.RawMessage) {
	var vs valueSet
	if json.Unmarshal(raw, &vs) != nil || vs.ResourceType != "ValueSet" || vs.ID == "" {
		return
	}
	var list []concept
	for _, inc := range vs.Compose.Include {
		for _, c := range inc.Concept {
			c.system = inc.System
			list = append(list, c)
		}
	}
	im.valueSets["#"+vs.ID] = list
}

var notID = regexp.MustCompile(`[^a-z0-9]+`)

// definitionID makes an id of the format from the Questionnaire's id or name.
func definitionID(q *fhirQuestionnaire) string {
	for _, s := range []string{q.ID, q.Name, q.Title} {
		id := strings.Trim(notID.ReplaceAllString(strings.ToLower(s), "-"), "-")
		if id != "" {
			return id
		}
	}
	return "imported"
}

var semver = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)

// language maps a FHIR language code (nb-NO, en-US, no) to one of the format.
func language(code string) string {
	l := strings.ToLower(strings.SplitN(code, "-", 2)[0])
	switch l {
	case "":
		return ""
	case "no":
		return "nb"
	}
	return l
}

func (im *importer) definition() map[string]any {
	q := im.q
	im.lang = language(q.Language)
	if im.lang == "" {
		im.lang = defaultLanguage
		im.note("language", "no language", "the texts are taken as "+defaultLanguage)
	}
	version := q.Version
	if !semver.MatchString(version) {
		if version != "" {
			im.note("version", "version "+strconv.Quote(version), "not a semantic version; imported as "+importedVersion)
		}
		version = importedVersion
	}
	title := firstNonEmpty(q.Title, q.Name, q.ID, "Questionnaire")
	def := map[string]any{
		"id":      definitionID(q),
		"version": version,
		"title":   im.text(title, q.TitleExt),
	}
	// An export of a definition without a url carries the derived one: the
	// definition had none, and no source was made up for it either.
	ours := strings.HasPrefix(q.URL, questionnaire.DerivedURLPrefix)
	switch u, err := url.Parse(q.URL); {
	case q.URL == "" || ours:
	case err != nil || !u.IsAbs() || strings.ContainsAny(q.URL, "| \t\r\n"):
		im.note("url", "url "+strconv.Quote(q.URL), "not an absolute URL; not kept, the canonical is derived from the id")
	default:
		def["url"] = q.URL
	}
	if !ours {
		def["source"] = firstNonEmpty(q.URL, "FHIR Questionnaire "+q.ID)
	}
	if c := strings.TrimSpace(q.Copyright); c != "" {
		def["copyright"] = c
	}
	if d := strings.TrimSpace(q.Description); d != "" {
		def["description"] = im.text(d, q.DescExt)
	}
	translations := map[string]string{}
	for i, e := range q.Extension {
		p := fmt.Sprintf("extension[%d]", i)
		switch {
		case e.URL == extPatientTitle && e.ValueString != nil:
			def["patientTitle"] = im.text(*e.ValueString, e.ValueStringExt)
		case e.URL == extDemo && e.ValueBoolean != nil:
			if *e.ValueBoolean {
				def["demo"] = true
			}
		case e.URL == extSource && e.ValueString != nil:
			def["source"] = *e.ValueString
		case e.URL == extTranslationStatus:
			var lang, status string
			for _, part := range e.Extension {
				switch {
				case part.URL == "lang" && part.ValueCode != nil:
					lang = *part.ValueCode
				case part.URL == "status" && part.ValueCode != nil:
					status = *part.ValueCode
				}
			}
			if lang != "" && status != "" {
				translations[language(lang)] = status
			}
		default:
			im.note(p, "extension "+e.URL, "not understood; ignored")
		}
	}
	im.byLink = map[string]*questionnaire.Item{}
	items := im.items("item", q.Item, nil)
	if len(items) == 0 {
		im.refuse("item", "no items", "nothing a patient could answer")
	}
	def["items"] = items
	if scores := im.scoreList(); len(scores) > 0 {
		def["scores"] = scores
	}
	def["languages"] = im.languages()
	for l := range translations {
		if !slices.Contains(def["languages"].([]string), l) {
			delete(translations, l)
		}
	}
	if len(translations) > 0 {
		def["translations"] = translations
	}
	return def
}

// text makes a text in the form's language, with the translations (the FHIR
// translation extension on the element, ext) it has; which of those are
// kept is decided once every text is made (languages).
func (im *importer) text(s string, ext ...*element) map[string]string {
	t := im.translated(s, ext...)
	im.texts = append(im.texts, t)
	return t
}

// translated is a text and its translations, not registered as one of the
// texts every language must have (markup, which may lack some).
func (im *importer) translated(s string, ext ...*element) map[string]string {
	t := map[string]string{im.lang: s}
	for _, e := range ext {
		if e == nil {
			continue
		}
		for _, x := range e.Extension {
			if x.URL != extTranslation {
				continue
			}
			var lang, content string
			for _, part := range x.Extension {
				switch {
				case part.URL == "lang" && part.ValueCode != nil:
					lang = language(*part.ValueCode)
				case part.URL == "content" && part.ValueString != nil:
					content = strings.TrimSpace(*part.ValueString)
				}
			}
			if lang != "" && lang != im.lang && content != "" {
				t[lang] = content
				if !slices.Contains(im.seen, lang) {
					im.seen = append(im.seen, lang)
				}
			}
		}
	}
	return t
}

// languages declares the form's language and each translation that every
// text has; a translation some texts lack is dropped everywhere, and noted.
func (im *importer) languages() []string {
	count := map[string]int{}
	for _, t := range im.texts {
		for l := range t {
			count[l]++
		}
	}
	// The form's language first, then the translations in the order they
	// first appear (an export writes them in the declared order).
	langs := []string{im.lang}
	var partial []string
	for _, l := range im.seen {
		if n := count[l]; n == len(im.texts) {
			langs = append(langs, l)
		} else {
			partial = append(partial, fmt.Sprintf("%s (%d of %d texts)", l, n, len(im.texts)))
		}
	}
	keep := map[string]bool{}
	for _, l := range langs {
		keep[l] = true
	}
	for _, t := range append(slices.Clone(im.texts), im.optional...) {
		for l := range t {
			if !keep[l] {
				delete(t, l)
			}
		}
	}
	for _, p := range partial {
		im.note("translation", "translation "+p, "not complete: not imported; the form is offered in "+strings.Join(langs, ", "))
	}
	return langs
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

func hasExtension(exts []extension, url string) bool {
	for _, e := range exts {
		if e.URL == url {
			return true
		}
	}
	return false
}

func extensionOf(exts []extension, url string) *extension {
	for i := range exts {
		if exts[i].URL == url {
			return &exts[i]
		}
	}
	return nil
}

// items maps a list of items; depth 0 is the top level, where groups are pages.
func (im *importer) items(path string, list []*item, ancestors []string) []map[string]any {
	var out []map[string]any
	for i, it := range list {
		if m := im.item(fmt.Sprintf("%s[%d]", path, i), it, ancestors); m != nil {
			out = append(out, m)
		}
	}
	return out
}

// Extensions of an item that the mapping reads, or reports in its own words.
var itemExtensions = map[string]bool{
	extMinValue: true, extMaxValue: true, extUnit: true, extUnitOption: true, extItemControl: true,
	extHidden: true, extSensitive: true, extMinDate: true, extMaxDate: true, extSliderStep: true,
	extScore: true, extCalculated: true,
}

// Extensions that constrain or decorate an answer beyond what a page of
// this service checks; each is a line of the report saying what happens.
var unchecked = map[string]string{
	extMinLength:         "a minimum length on an answer that is not text; not checked",
	extRegex:             "a pattern on an answer that is not text; not checked",
	extMaxDecimalPlaces:  "the number of decimals is not checked",
	extEntryFormat:       "the format hint is not shown; the page shows its own (dates as dd.mm.åååå)",
	extValidationText:    "a custom error text; the page gives its own, in the patient's language",
	extBiodesignValidity: "a custom error text; the page gives its own, in the patient's language",
	extMaxOccurs:         "a repeating answer is not supported; one answer is taken",
	extRepeatsText:       "a repeating answer is not supported; one answer is taken",
}

// control returns the item's questionnaire-itemControl code, or "".
func control(exts []extension) string {
	if e := extensionOf(exts, extItemControl); e != nil && e.ValueCodeableConcept != nil {
		for _, c := range e.ValueCodeableConcept.Coding {
			if c.Code != "" {
				return c.Code
			}
		}
	}
	return ""
}

// formatting reports the rendering-xhtml or rendering-markdown of a text
// that takes no markup (a heading, a help text, a scale's end): the plain
// text is shown.
func (im *importer) formatting(path string, ext *element) {
	if ext == nil {
		return
	}
	for _, e := range ext.Extension {
		if e.URL == extRenderingXHTML || e.URL == extRenderingMarkdown {
			im.note(path, e.URL[strings.LastIndex(e.URL, "/")+1:], "the formatting is not kept here: the plain text is shown")
		}
	}
}

// item maps one item, or returns nil when it becomes something else (a
// score) or cannot be shown.
func (im *importer) item(path string, it *item, ancestors []string) map[string]any {
	if e := extensionOf(it.Extension, extScore); e != nil {
		im.ownScore(path, it, e)
		return nil
	}
	if e := extensionOf(it.Extension, extCalculated); e != nil {
		im.calculated(path, it, e)
		return nil
	}
	if e := extensionOf(it.Extension, extHidden); e != nil && e.ValueBoolean != nil && *e.ValueBoolean {
		im.note(path, "hidden item "+strconv.Quote(it.LinkID), "questionnaire-hidden: not shown to the patient, not imported")
		return nil
	}
	for _, c := range it.Code {
		if c.System == scoringFormulas {
			if im.scoreItem(path, it, c.Code, ancestors) {
				return nil
			}
		}
	}
	isText := it.Type == "string" || it.Type == "text"
	for _, e := range it.Extension {
		switch {
		case itemExtensions[e.URL]:
		case isText && (e.URL == extMinLength || e.URL == extRegex):
			// checked: textChecks
		case isText && extensionOf(it.Extension, extRegex) != nil && (e.URL == extValidationText || e.URL == extBiodesignValidity || e.URL == extEntryFormat):
			// the pattern's hint: textChecks
		case unchecked[e.URL] != "":
			im.note(path+".extension", e.URL[strings.LastIndex(e.URL, "/")+1:], unchecked[e.URL])
		default:
			im.note(path+".extension", "extension "+e.URL, "not understood; ignored")
		}
	}
	if it.Type == "group" {
		im.formatting(path+"._text", it.TextExt)
	}
	m := map[string]any{"linkId": it.LinkID}
	text := strings.TrimSpace(it.Text)
	if it.Prefix != "" && it.Type != "group" {
		m["prefix"] = it.Prefix
	}
	if it.Required {
		m["required"] = true
	}
	if e := extensionOf(it.Extension, extSensitive); e != nil && e.ValueBoolean != nil && *e.ValueBoolean {
		m["sensitive"] = true
	}
	ctl := control(it.Extension)
	switch it.Type {
	case "group":
		m["type"] = "group"
		if it.Repeats {
			im.refuse(path+".repeats", "repeating group", "a page cannot repeat a group of questions")
		}
		var shown []*item
		for i, c := range it.Item {
			if c.Type == "display" && control(c.Extension) == controlHelp {
				im.help(fmt.Sprintf("%s.item[%d]", path, i), c, m)
				continue
			}
			shown = append(shown, c)
		}
		children := im.items(path+".item", shown, append(slices.Clone(ancestors), it.LinkID))
		if len(children) == 0 {
			im.note(path, "group "+strconv.Quote(it.LinkID), "nothing left in it to show; not imported")
			return nil
		}
		m["items"] = children
		delete(m, "required")
		if text != "" {
			m["text"] = im.text(text, it.TextExt)
		}
		return im.conditions(path, it, m)
	case "display":
		if text == "" {
			return nil
		}
		m["type"] = "display"
		delete(m, "required")
		delete(m, "sensitive")
	case "boolean":
		m["type"] = "boolean"
	case "integer", "decimal", "quantity":
		m["type"] = it.Type
		if it.Type == "quantity" {
			m["type"] = "decimal"
		}
		im.numberBounds(path, it, m)
		if ctl == controlSlider {
			im.slider(path, it, m)
		}
	case "string", "text":
		m["type"] = "text"
		if it.Type == "text" {
			m["multiline"] = true
		}
		if it.MaxLength != nil {
			n := min(max(*it.MaxLength, 1), maxImportedLength)
			m["maxLength"] = n
		}
		im.textChecks(path, it, m)
	case "date":
		m["type"] = "date"
		im.dateBounds(path, it, m)
	case "dateTime":
		m["type"] = "date"
		im.note(path+".type", "dateTime", "asked as a date; the time of day is not asked")
		im.dateBounds(path, it, m)
	case "time":
		m["type"] = "text"
		m["maxLength"] = 5
		im.note(path+".type", "time", "asked as text (hh:mm), not checked as a time")
	case "choice", "open-choice":
		if it.Type == "open-choice" {
			m["other"] = true // a field for the patient's own answer under the options
		}
		opts := im.options(path, it)
		if len(opts) == 0 {
			im.refuse(path, "choice "+strconv.Quote(it.LinkID), "no answer options could be read")
			return nil
		}
		m["type"] = "choice"
		if it.Repeats {
			m["type"] = "multichoice"
		}
		switch ctl {
		case "", controlRadioButton, controlCheckBox:
		case controlDropDown, controlAutocomplete:
			im.note(path+".extension", "itemControl "+ctl, fmt.Sprintf("the %d options are offered as a list to tick, which works without a script and with a screen reader", len(opts)))
		default:
			im.note(path+".extension", "itemControl "+ctl, "not known for a choice; offered as a list to tick")
		}
		m["options"] = opts
		if hasScores(opts) {
			im.scored = append(im.scored, scoredItem{linkID: it.LinkID, ancestors: ancestors})
		}
	case "attachment", "reference", "url":
		im.refuse(path+".type", it.Type, "a patient page cannot take a "+it.Type)
		return nil
	default:
		im.refuse(path+".type", strconv.Quote(it.Type), "not an item type of FHIR R4 the importer knows")
		return nil
	}
	if it.Type != "group" {
		im.children(path, it, m)
	}
	if it.Type != "display" {
		im.initial(path, it, m)
		im.readOnly(path, it, m)
	}
	if text == "" {
		text = it.LinkID
		im.note(path+".text", "no text", "the linkId is shown as the question")
	}
	texts := im.text(text, it.TextExt)
	m["text"] = texts
	if mk := im.markup(path+"._text", it.TextExt, it.Type != "display", texts); len(mk) > 0 {
		m["markup"] = mk
	}
	return im.conditions(path, it, m)
}

// markup reads a text's rendering-xhtml, or else its rendering-markdown
// (as CommonMark, raw HTML left out), in each language the plain text has,
// and writes it anew with the elements the page allows (SanitizeMarkup);
// what is left out is reported. inline is for a question's text, which
// takes only the inline elements.
func (im *importer) markup(path string, ext *element, inline bool, texts map[string]string) map[string]string {
	if ext == nil {
		return nil
	}
	src := extensionOf(ext.Extension, extRenderingXHTML)
	kind := "rendering-xhtml"
	if src == nil {
		src, kind = extensionOf(ext.Extension, extRenderingMarkdown), "rendering-markdown"
	}
	if src == nil || src.ValueString == nil {
		return nil
	}
	p := path + ".extension"
	out := map[string]string{}
	var dropped []string
	im.optional = append(im.optional, out) // pruned of the languages the texts drop
	for l, raw := range im.translated(*src.ValueString, src.ValueStringExt) {
		if texts[l] == "" {
			continue
		}
		if kind == "rendering-markdown" {
			var buf bytes.Buffer
			if err := markdown.Convert([]byte(raw), &buf); err != nil {
				im.note(p, kind, "could not be read; the plain text is shown: "+err.Error())
				return nil
			}
			if strings.Contains(buf.String(), "raw HTML omitted") {
				dropped = appendOnce(dropped, "HTML written in the Markdown")
			}
			raw = buf.String()
		}
		res, err := questionnaire.SanitizeMarkup(raw, inline)
		if err != nil {
			im.note(p, kind, "the plain text is shown: the formatting is "+err.Error())
			return nil
		}
		for _, d := range res.Dropped {
			dropped = appendOnce(dropped, d)
		}
		if res.HTML != "" {
			out[l] = res.HTML
		}
	}
	if len(dropped) > 0 {
		where := "the page's elements"
		if inline {
			where = "a question's text, which is in a label, takes only strong, em, b, i, br and a"
		}
		im.note(p, kind, fmt.Sprintf("the formatting is shown with %s; left out: %s", where, strings.Join(dropped, ", ")))
	}
	return out
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// markdown reads rendering-markdown: CommonMark, raw HTML left out (as
// goldmark does unless told otherwise), written as XHTML.
var markdown = goldmark.New(goldmark.WithRendererOptions(gmhtml.WithXHTML()))

// help makes a display item with itemControl help the help text of m.
func (im *importer) help(path string, c *item, m map[string]any) {
	if _, twice := m["help"]; twice {
		im.note(path, "help", "a second help text; not imported")
		return
	}
	if t := strings.TrimSpace(c.Text); t != "" {
		im.formatting(path+"._text", c.TextExt)
		m["help"] = im.text(t, c.TextExt)
	}
}

// children maps the items under a question: help texts, and a slider's
// end labels; a question under a question has no place on the page.
func (im *importer) children(path string, it *item, m map[string]any) {
	for i, c := range it.Item {
		p := fmt.Sprintf("%s.item[%d]", path, i)
		ctl := control(c.Extension)
		switch {
		case c.Type == "display" && ctl == controlHelp:
			im.help(p, c, m)
		case c.Type == "display" && (ctl == controlLower || ctl == controlUpper) && m["type"] == "scale":
			key := "minLabel"
			if ctl == controlUpper {
				key = "maxLabel"
			}
			im.formatting(p+"._text", c.TextExt)
			m[key] = im.text(strings.TrimSpace(c.Text), c.TextExt)
		case c.Type == "display":
			im.note(p, "display "+strconv.Quote(c.LinkID), "a text under a question: not imported")
		default:
			im.refuse(p, "item "+strconv.Quote(c.LinkID), "a question nested under a question has no place on a page")
		}
	}
}

// slider makes an integer with itemControl slider a scale when its ends
// are whole numbers a patient can choose among on one line.
func (im *importer) slider(path string, it *item, m map[string]any) {
	lo, okLo := m["min"].(int64)
	hi, okHi := m["max"].(int64)
	if it.Type != "integer" || !okLo || !okHi || hi-lo < 1 || hi-lo > 20 {
		im.note(path+".extension", "itemControl slider", "asked as a number: a scale needs whole-number ends at most 20 apart")
		return
	}
	if e := extensionOf(it.Extension, extSliderStep); e != nil && (e.ValueInteger == nil || *e.ValueInteger != 1) {
		im.note(path+".extension", "sliderStepValue", "a scale steps by 1")
	}
	m["type"] = "scale"
	_ = lo
}

// dateBounds maps minValue/maxValue dates, and this service's "today".
func (im *importer) dateBounds(path string, it *item, m map[string]any) {
	for _, b := range []struct{ url, own, key string }{{extMinValue, extMinDate, "minDate"}, {extMaxValue, extMaxDate, "maxDate"}} {
		if e := extensionOf(it.Extension, b.url); e != nil {
			switch {
			case e.ValueDate != nil && dateOnly.MatchString(*e.ValueDate):
				m[b.key] = *e.ValueDate
			default:
				im.note(path+".extension", b.key, "not a date (YYYY-MM-DD); not checked")
			}
		}
		if e := extensionOf(it.Extension, b.own); e != nil && e.ValueString != nil && *e.ValueString == "today" {
			m[b.key] = "today"
		}
	}
}

var dateOnly = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

func hasScores(opts []map[string]any) bool {
	for _, o := range opts {
		if _, ok := o["score"]; ok {
			return true
		}
	}
	return false
}

func (im *importer) numberBounds(path string, it *item, m map[string]any) {
	for _, b := range []struct {
		url, key string
	}{{extMinValue, "min"}, {extMaxValue, "max"}} {
		e := extensionOf(it.Extension, b.url)
		switch {
		case e == nil:
		case e.ValueInteger != nil:
			m[b.key] = *e.ValueInteger
		case e.ValueDecimal != nil:
			if it.Type == "integer" && *e.ValueDecimal != math.Trunc(*e.ValueDecimal) {
				im.note(path+".extension", b.key, "a fractional bound on a whole number; rounded")
				m[b.key] = int64(math.Round(*e.ValueDecimal))
			} else {
				m[b.key] = *e.ValueDecimal
			}
		}
	}
	unit := ""
	var unitExt *element
	if e := extensionOf(it.Extension, extUnit); e != nil && e.ValueCoding != nil {
		unit, unitExt = firstNonEmpty(e.ValueCoding.Display, e.ValueCoding.Code), e.ValueCoding.DisplayExt
	}
	var options []string
	for _, e := range it.Extension {
		if e.URL == extUnitOption && e.ValueCoding != nil {
			options = append(options, firstNonEmpty(e.ValueCoding.Display, e.ValueCoding.Code))
		}
	}
	if unit == "" && len(options) > 0 {
		unit = options[0]
	}
	if len(options) > 1 {
		im.refuse(path+".extension", "unitOption", fmt.Sprintf("a choice of units (%s) is not supported; the answer would lose its unit", strings.Join(options, ", ")))
	}
	if unit != "" {
		m["unit"] = im.text(unit, unitExt)
	}
}

// textChecks maps minLength and regex on a text answer; the pattern's
// words are the form's validation text, or else its entryFormat.
func (im *importer) textChecks(path string, it *item, m map[string]any) {
	limit := maxImportedLength
	if n, ok := m["maxLength"].(int); ok {
		limit = n
	}
	if e := extensionOf(it.Extension, extMinLength); e != nil && e.ValueInteger != nil && *e.ValueInteger > 0 {
		n := int(min(*e.ValueInteger, int64(limit)))
		if int64(n) != *e.ValueInteger {
			im.note(path+".extension", "minLength", fmt.Sprintf("%d is more than the answer may hold; %d is asked", *e.ValueInteger, n))
		}
		m["minLength"] = n
	}
	e := extensionOf(it.Extension, extRegex)
	if e == nil || e.ValueString == nil || *e.ValueString == "" {
		return
	}
	if _, err := regexp.Compile(*e.ValueString); err != nil {
		im.note(path+".extension", "regex", "not a pattern Go's RE2 syntax reads (lookaround, back-references); not checked: "+err.Error())
		return
	}
	if len(*e.ValueString) > questionnaire.MaxPatternLength {
		im.note(path+".extension", "regex", fmt.Sprintf("longer than %d bytes; not checked", questionnaire.MaxPatternLength))
		return
	}
	m["pattern"] = *e.ValueString
	for _, url := range []string{extValidationText, extBiodesignValidity, extEntryFormat} {
		if h := extensionOf(it.Extension, url); h != nil && h.ValueString != nil && strings.TrimSpace(*h.ValueString) != "" {
			m["patternHint"] = im.text(strings.TrimSpace(*h.ValueString), h.ValueStringExt)
			return
		}
	}
}

// initial maps initial answers (initial, and answerOption.initialSelected
// on a choice) onto the item's type; one that does not fit is reported and
// left out, so the patient starts from no answer.
func (im *importer) initial(path string, it *item, m map[string]any) {
	t, _ := m["type"].(string)
	codes := im.codes[it.LinkID]
	var picked []string // option values
	for _, o := range it.AnswerOption {
		if val, ok := codes[optionKey(o.ValueCoding, o.ValueString, o.ValueInteger, o.ValueDate)]; ok && o.InitialSelected {
			picked = append(picked, val)
		}
	}
	var vals []any
	for i, v := range it.Initial {
		p := fmt.Sprintf("%s.initial[%d]", path, i)
		var got any
		switch t {
		case "choice", "multichoice":
			if val, ok := codes[optionKey(v.ValueCoding, v.ValueString, v.ValueInteger, v.ValueDate)]; ok {
				picked = append(picked, val)
				continue
			}
			if v.ValueString != nil && m["other"] == true {
				im.note(p, "initial", "an initial own answer is not prefilled")
				continue
			}
		case "boolean":
			if v.ValueBoolean != nil {
				got = *v.ValueBoolean
			}
		case "integer", "scale":
			if v.ValueInteger != nil {
				got = *v.ValueInteger
			}
		case "decimal":
			switch {
			case v.ValueDecimal != nil:
				got = *v.ValueDecimal
			case v.ValueInteger != nil:
				got = *v.ValueInteger
			case v.ValueQuantity != nil && v.ValueQuantity.Value != nil:
				got = *v.ValueQuantity.Value
			}
		case "date":
			switch {
			case v.ValueDate != nil && len(*v.ValueDate) == len("2006-01-02"):
				got = *v.ValueDate
			case v.ValueDateTime != nil && len(*v.ValueDateTime) >= len("2006-01-02"):
				got = (*v.ValueDateTime)[:len("2006-01-02")]
			}
		case "text":
			switch {
			case v.ValueString != nil:
				got = *v.ValueString
			case v.ValueTime != nil && len(*v.ValueTime) >= 5:
				got = (*v.ValueTime)[:5]
			}
		}
		if got == nil || !inBounds(got, m) {
			im.note(p, "initial", "not an answer this question takes; the patient starts from no answer")
			continue
		}
		vals = append(vals, got)
	}
	switch {
	case len(picked) > 0 && t == "multichoice":
		m["initial"] = picked
	case len(picked) > 0:
		if len(picked) > 1 {
			im.note(path+".initial", "initial", "more than one initial option on a single choice; the first is taken")
		}
		m["initial"] = picked[0]
	case len(vals) > 0:
		if len(vals) > 1 {
			im.note(path+".initial", "initial", "more than one initial answer; the first is taken")
		}
		m["initial"] = vals[0]
	}
}

// optionKey is what an option (or an answer naming one) is known by in
// the importer's codes: a coding's code, or the string, integer or date.
func optionKey(c *coding, s *string, i *int64, d *string) string {
	switch {
	case c != nil:
		return c.Code
	case s != nil:
		return *s
	case i != nil:
		return strconv.FormatInt(*i, 10)
	case d != nil:
		return *d
	}
	return ""
}

// inBounds reports whether an initial number, date or text fits the
// item's bounds, as the definition's check will ask.
func inBounds(v any, m map[string]any) bool {
	num := func(x any) (float64, bool) {
		switch n := x.(type) {
		case int64:
			return float64(n), true
		case float64:
			return n, true
		}
		return 0, false
	}
	if f, ok := num(v); ok {
		if lo, ok := num(m["min"]); ok && f < lo {
			return false
		}
		if hi, ok := num(m["max"]); ok && f > hi {
			return false
		}
		return true
	}
	if s, ok := v.(string); ok {
		if strings.TrimSpace(s) == "" {
			return false
		}
		if m["type"] == "date" {
			lo, _ := m["minDate"].(string)
			hi, _ := m["maxDate"].(string)
			return (lo == "" || lo == "today" || s >= lo) && (hi == "" || hi == "today" || s <= hi)
		}
		n := utf8.RuneCountInString(s)
		if max, ok := m["maxLength"].(int); ok && n > max {
			return false
		}
		if min, ok := m["minLength"].(int); ok && n < min {
			return false
		}
		if p, ok := m["pattern"].(string); ok && !regexp.MustCompile(`^(?:`+p+`)$`).MatchString(s) {
			return false
		}
	}
	return true
}

// readOnly keeps readOnly on a question; the patient cannot answer it, so
// it is not required of them.
func (im *importer) readOnly(path string, it *item, m map[string]any) {
	if !it.ReadOnly || it.Type == "group" {
		return
	}
	m["readOnly"] = true
	if m["required"] == true {
		delete(m, "required")
		im.note(path+".required", "required", "a read-only question is not required of the patient, who cannot answer it")
	}
	if _, ok := m["initial"]; !ok {
		im.note(path+".readOnly", "readOnly", "read-only without an initial answer: shown as not filled in")
	}
}

var notValue = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// options reads an item's answer options, inline or from a contained
// ValueSet, with their ordinal values as scores.
func (im *importer) options(path string, it *item) []map[string]any {
	type opt struct {
		value, text string
		system      string
		ext         *element // the text's translations
		score       *float64
		exclusive   bool
		own         string // the value an export gave the option
	}
	var list []opt
	switch {
	case len(it.AnswerOption) > 0:
		for i, o := range it.AnswerOption {
			p := fmt.Sprintf("%s.answerOption[%d]", path, i)
			switch {
			case o.ValueCoding != nil:
				c := o.ValueCoding
				x := opt{value: c.Code, system: c.System, text: firstNonEmpty(c.Display, c.Code), ext: c.DisplayExt, score: ordinal(append(c.Extension, o.Extension...))}
				if e := extensionOf(o.Extension, extOptionExclusive); e != nil && e.ValueBoolean != nil {
					x.exclusive = *e.ValueBoolean
				}
				if e := extensionOf(o.Extension, extOptionValue); e != nil && e.ValueString != nil {
					x.own = *e.ValueString
				}
				list = append(list, x)
				continue
			}
			im.note(p, "answerOption", "not a valueCoding: a QuestionnaireResponse answers it as a valueCoding with the value as its code")
			switch {
			case o.ValueString != nil:
				list = append(list, opt{value: *o.ValueString, text: *o.ValueString, ext: o.ValueStringExt, score: ordinal(o.Extension)})
			case o.ValueInteger != nil:
				s := strconv.FormatInt(*o.ValueInteger, 10)
				list = append(list, opt{value: s, text: s, score: ordinal(o.Extension)})
			case o.ValueDate != nil:
				list = append(list, opt{value: *o.ValueDate, text: *o.ValueDate, score: ordinal(o.Extension)})
			default:
				im.refuse(p, "answerOption", "an option of a kind the importer does not read")
			}
		}
	case it.AnswerValueSet != "":
		concepts, ok := im.valueSets[it.AnswerValueSet]
		if !ok {
			im.refuse(path+".answerValueSet", it.AnswerValueSet, "only a contained ValueSet (#id) can be read")
			return nil
		}
		for _, c := range concepts {
			list = append(list, opt{value: c.Code, system: c.system, text: firstNonEmpty(c.Display, c.Code), ext: c.DisplayExt, score: ordinal(c.Extension)})
		}
	}
	// A value is the code with what a value may not hold made '-'; the
	// code itself is kept beside it, so a response answers with it.
	seen := map[string]bool{}
	codes := map[string]string{}
	var out []map[string]any
	for i, o := range list {
		v := optionValue(o.value, i)
		if o.own != "" && !notValue.MatchString(o.own) {
			v = o.own
		}
		for seen[v] {
			v += "-" + strconv.Itoa(i+1)
		}
		seen[v] = true
		codes[o.value] = v
		m := map[string]any{"value": v, "text": im.text(o.text, o.ext)}
		if o.value != v && o.value != "" {
			m["code"] = o.value
		}
		if u, err := url.Parse(o.system); o.system != "" && err == nil && u.IsAbs() && !strings.ContainsAny(o.system, " \t\r\n") {
			m["system"] = o.system
		}
		if o.score != nil {
			m["score"] = *o.score
		}
		if o.exclusive && it.Repeats {
			m["exclusive"] = true
		}
		out = append(out, m)
	}
	im.codes[it.LinkID] = codes
	return out
}

func ordinal(exts []extension) *float64 {
	for _, url := range []string{extOrdinal, extItemWeight} {
		if e := extensionOf(exts, url); e != nil {
			switch {
			case e.ValueDecimal != nil:
				return e.ValueDecimal
			case e.ValueInteger != nil:
				f := float64(*e.ValueInteger)
				return &f
			}
		}
	}
	return nil
}

// conditions maps enableWhen; an answer of a kind the importer cannot type
// refuses the form (the question would show when it should not).
func (im *importer) conditions(path string, it *item, m map[string]any) map[string]any {
	if len(it.EnableWhen) == 0 {
		return m
	}
	var conds []map[string]any
	for i, w := range it.EnableWhen {
		p := fmt.Sprintf("%s.enableWhen[%d]", path, i)
		c := map[string]any{"question": w.Question, "operator": w.Operator}
		switch {
		case w.Operator == "exists":
			c["answer"] = w.AnswerBoolean != nil && *w.AnswerBoolean
		case w.AnswerBoolean != nil:
			c["answer"] = *w.AnswerBoolean
		case w.AnswerCoding != nil:
			v, ok := im.codes[w.Question][w.AnswerCoding.Code]
			if !ok {
				v = optionValue(w.AnswerCoding.Code, 0)
			}
			c["answer"] = v
		case w.AnswerString != nil:
			c["answer"] = *w.AnswerString
		case w.AnswerInteger != nil:
			c["answer"] = *w.AnswerInteger
		case w.AnswerDecimal != nil:
			c["answer"] = *w.AnswerDecimal
		case w.AnswerDate != nil:
			c["answer"] = *w.AnswerDate
		default:
			im.refuse(p, "enableWhen", "an answer of a kind the importer does not read")
			continue
		}
		conds = append(conds, c)
	}
	if len(conds) > 0 {
		m["enableWhen"] = conds
		if it.EnableBehavior != "" {
			m["enableBehavior"] = it.EnableBehavior
		}
	}
	return m
}

// scoreItem turns an item coded with helsenorge's scoring formulas into a
// score; it reports whether the item was taken.
func (im *importer) scoreItem(path string, it *item, code string, ancestors []string) bool {
	switch code {
	case scoreTotal, scoreSection:
		sc := scoreSpec{linkID: it.LinkID, title: im.text(firstNonEmpty(it.Text, it.LinkID), it.TextExt)}
		if code == scoreSection {
			if len(ancestors) == 0 {
				im.note(path, "section score", "not in a group: sums the whole form, as a total score does")
			} else {
				sc.group = ancestors[len(ancestors)-1]
			}
		}
		im.scores = append(im.scores, sc)
		im.note(path, "scoring formula "+code, "becomes the score "+strconv.Quote(it.LinkID)+", computed, not asked")
		return true
	case scoreQuestion:
		return false // the question itself; its options' ordinal values are its score
	}
	im.note(path+".code", "scoring formula "+strconv.Quote(code), "not known; the item is imported as it is")
	return false
}

// scoreList fills in the items of each score: a total score sums every
// scored question, a section score those in its group (at any depth).
func (im *importer) scoreList() []map[string]any {
	var out []map[string]any
	scored := map[string]bool{}
	for _, si := range im.scored {
		scored[si.linkID] = true
	}
	for _, s := range im.scores {
		if s.full != nil {
			out = append(out, s.full)
			continue
		}
		if s.items != nil {
			var missing []string
			for _, id := range s.items {
				if !scored[id] {
					missing = append(missing, id)
				}
			}
			if len(missing) > 0 {
				im.note("score "+s.linkID, "calculatedExpression", "sums "+strings.Join(missing, ", ")+", which is not a question with ordinal values; not imported")
				continue
			}
			out = append(out, map[string]any{"id": scoreID(s.linkID), "title": s.title, "method": questionnaire.MethodSum, "items": s.items})
			continue
		}
		var items []string
		for _, si := range im.scored {
			if s.group == "" || slices.Contains(si.ancestors, s.group) {
				items = append(items, si.linkID)
			}
		}
		if len(items) == 0 {
			im.note("score "+s.linkID, "score", "no scored question to sum; not imported")
			continue
		}
		out = append(out, map[string]any{"id": scoreID(s.linkID), "title": s.title, "method": questionnaire.MethodSum, "items": items})
	}
	return out
}

func scoreID(linkID string) string {
	id := strings.Trim(notID.ReplaceAllString(strings.ToLower(linkID), "-"), "-")
	if id == "" || id[0] < 'a' || id[0] > 'z' {
		id = "score-" + id
	}
	return id
}

// ownScore reads this service's score extension (an export's score item):
// the whole score, as the definition had it.
func (im *importer) ownScore(path string, it *item, e *extension) {
	sc := map[string]any{}
	var items, reverse []string
	var bands []map[string]any
	for _, part := range e.Extension {
		switch {
		case part.URL == "id" && part.ValueString != nil:
			sc["id"] = *part.ValueString
		case part.URL == "method" && part.ValueCode != nil:
			sc["method"] = *part.ValueCode
		case part.URL == "item" && part.ValueString != nil:
			items = append(items, *part.ValueString)
		case part.URL == "reverse" && part.ValueString != nil:
			reverse = append(reverse, *part.ValueString)
		case part.URL == "minAnswered" && part.ValueInteger != nil:
			sc["minAnswered"] = *part.ValueInteger
		case part.URL == "prorate" && part.ValueBoolean != nil && *part.ValueBoolean:
			sc["prorate"] = true
		case part.URL == "hiddenScore" && part.ValueDecimal != nil:
			sc["hiddenScore"] = *part.ValueDecimal
		case part.URL == "feedback" && part.ValueBoolean != nil && *part.ValueBoolean:
			sc["feedback"] = true
		case part.URL == "band":
			b := map[string]any{}
			for _, f := range part.Extension {
				switch {
				case f.URL == "code" && f.ValueString != nil:
					b["code"] = *f.ValueString
				case (f.URL == "min" || f.URL == "max") && f.ValueDecimal != nil:
					b[f.URL] = *f.ValueDecimal
				case (f.URL == "label" || f.URL == "feedback") && f.ValueString != nil:
					b[f.URL] = im.text(*f.ValueString, f.ValueStringExt)
				}
			}
			bands = append(bands, b)
		default:
			im.note(path+".extension", "score "+strconv.Quote(part.URL), "not understood; ignored")
		}
	}
	sc["items"] = items
	if len(reverse) > 0 {
		sc["reverse"] = reverse
	}
	if len(bands) > 0 {
		sc["bands"] = bands
	}
	if t := strings.TrimSpace(it.Text); t != "" {
		sc["title"] = im.text(t, it.TextExt)
	}
	im.scores = append(im.scores, scoreSpec{linkID: it.LinkID, full: sc})
}

// The plain sums of ordinal values that the importer reads from an SDC
// calculatedExpression: a where over linkIds, or a + of single items.
var (
	sumOfList = regexp.MustCompile(`^%resource\.(?:repeat\(item\)|descendants\(\))\.where\(linkIdin\(((?:'[^']+'\|)*'[^']+')\)\)\.answer\.value\.(?:ordinal|weight)\(\)\.sum\(\)$`)
	sumTerm   = regexp.MustCompile(`^\(?%resource\.(?:repeat\(item\)|descendants\(\)|item(?:\.item)*)\.where\(linkId='([^']+)'\)\.answer\.value\.(?:ordinal|weight)\(\)\)?$`)
)

// sumItems returns the linkIds an expression sums the ordinal values of,
// or nil when it is not such a plain sum.
func sumItems(expr string) []string {
	expr = strings.Join(strings.Fields(expr), "")
	if m := sumOfList.FindStringSubmatch(expr); m != nil {
		var ids []string
		for _, q := range strings.Split(m[1], "|") {
			ids = append(ids, strings.Trim(q, "'"))
		}
		return ids
	}
	var ids []string
	for _, term := range strings.Split(expr, "+") {
		m := sumTerm.FindStringSubmatch(term)
		if m == nil {
			return nil
		}
		ids = append(ids, m[1])
	}
	return ids
}

// calculated reads an SDC calculatedExpression: a plain sum of ordinal
// values becomes a score; any other expression is reported unsupported.
func (im *importer) calculated(path string, it *item, e *extension) {
	if e.ValueExpression == nil || e.ValueExpression.Language != fhirPathMediaType {
		im.note(path+".extension", "calculatedExpression", "not a FHIRPath expression: unsupported, not computed")
		return
	}
	ids := sumItems(e.ValueExpression.Expression)
	if ids == nil {
		im.note(path+".extension", "calculatedExpression "+strconv.Quote(e.ValueExpression.Expression), "unsupported: only a plain sum of ordinal values is computed; this item is not imported")
		return
	}
	sc := scoreSpec{linkID: it.LinkID, items: ids, title: im.text(firstNonEmpty(it.Text, it.LinkID), it.TextExt)}
	im.scores = append(im.scores, sc)
	im.note(path, "calculatedExpression", "a sum of the ordinal values of "+strings.Join(ids, ", ")+": becomes the score "+strconv.Quote(scoreID(it.LinkID))+", computed, not asked")
}
