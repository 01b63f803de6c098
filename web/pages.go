package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"eprom/questionnaire"

	"github.com/gofiber/fiber/v2"
)

// answers returns the draft's typed answers.
func (v *visit) answers() questionnaire.Answers {
	v.decode()
	return maps.Clone(v.decoded) // callers change theirs
}

// enabled is the set of items enabled by the draft's answers; callers
// must not change it.
func (v *visit) enabled() map[string]bool {
	v.decode()
	if v.enabledSet == nil {
		v.enabledSet = v.def.Enabled(v.decoded)
	}
	return v.enabledSet
}

// decode decodes the draft's answers, once for each draft the visit has.
func (v *visit) decode() {
	if v.decodedFrom == v.draft && v.decoded != nil {
		return
	}
	v.decoded, _ = v.def.DecodeForm(v.draft.Answers, nil) // the draft holds only values that decoded before
	v.decodedFrom, v.enabledSet = v.draft, nil
}

// today is the patient's calendar day, for date bounds.
func (s *Server) today() time.Time { return s.now().In(s.cfg.Location) }

// pageVisible reports whether a page has anything to show given answers.
func pageVisible(p questionnaire.Page, enabled map[string]bool) bool {
	if p.Group != nil && !enabled[p.Group.LinkID] {
		return false
	}
	var any func([]*questionnaire.Item) bool
	any = func(items []*questionnaire.Item) bool {
		for _, it := range items {
			if enabled[it.LinkID] && (it.Type != questionnaire.Group || any(it.Items)) {
				return true
			}
		}
		return false
	}
	return any(p.Items)
}

// nextVisible returns the first visible page at or after i (step 1) or at
// or before i (step -1); -1 when there is none.
func nextVisible(def *questionnaire.Definition, enabled map[string]bool, i, step int) int {
	pages := def.Pages()
	for ; i >= 0 && i < len(pages); i += step {
		if pageVisible(pages[i], enabled) {
			return i
		}
	}
	return -1
}

// editable leaves out the read-only questions: the patient cannot
// answer them, so nothing posted for them is read.
func editable(questions []*questionnaire.Item) []*questionnaire.Item {
	return slices.DeleteFunc(slices.Clone(questions), func(it *questionnaire.Item) bool { return it.ReadOnly })
}

// firstUnanswered is where a returning patient resumes: the first visible
// page with a shown question not yet answered; -1 when all are answered.
func firstUnanswered(def *questionnaire.Definition, a questionnaire.Answers) int {
	enabled := def.Enabled(a)
	for i, p := range def.Pages() {
		if !pageVisible(p, enabled) {
			continue
		}
		for _, it := range editable(p.Questions()) {
			if _, ok := a[it.LinkID]; enabled[it.LinkID] && !ok {
				return i
			}
		}
	}
	return -1
}

// handlePageShow serves GET /q?page=N: one page of the questionnaire. With
// no page, a patient resumes at the first page with an unanswered question.
func (s *Server) handlePageShow(c *fiber.Ctx) error {
	v := getVisit(c)
	a := v.answers()
	enabled := v.enabled()
	i := -1
	if p := c.Query("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > len(v.def.Pages()) {
			return c.Redirect("/q", fiber.StatusSeeOther)
		}
		if i = nextVisible(v.def, enabled, n-1, 1); i < 0 {
			return c.Redirect("/q/review", fiber.StatusSeeOther)
		}
	} else if i = firstUnanswered(v.def, a); i < 0 {
		return c.Redirect("/q/review", fiber.StatusSeeOther)
	}
	return s.renderPage(c, fiber.StatusOK, v, i, s.typedErrors(v, v.def.Pages()[i].Questions()), nil)
}

// handlePagePost serves POST /q: the answers of one page, and where to go:
// action next, back, review, save (and leave), decline, or autosave (from
// the script; answered with 204). Whatever the action, what was typed is
// kept: answers that can be kept as answers, and the rest as typed, so that
// Back and leaving never lose anything and never wait for a correction.
func (s *Server) handlePagePost(c *fiber.Ctx) error {
	v := getVisit(c)
	ctx, now := c.UserContext(), s.now()
	pages := v.def.Pages()
	n, err := strconv.Atoi(postValue(c, "page"))
	if err != nil || n < 1 || n > len(pages) {
		return questionnaire.Errorf(questionnaire.EINVALID, "The form has no valid page number.")
	}
	i := n - 1
	action := postValue(c, "action")
	switch action {
	case "next", "back", "review", "finish", "save", "autosave", "decline":
	default:
		action = "next" // Enter in a field, or an old browser without the button's value
	}

	before := v.enabled()
	form := formValues(c)
	questions := editable(pages[i].Questions()) // a read-only answer stays what the order made it
	in := s.readPage(v, form, questions)

	// The page's answers replace what the draft had for its questions (an
	// option unticked is an answer withdrawn), in the stored draft, so a
	// page saved at the same moment on another device is kept.
	device := deviceOf(v.session.ID)
	_, draft, err := s.cfg.Patients.UpdateDraft(ctx, v.order.ID, now, func(d *questionnaire.Draft) error {
		// An autosave that arrives after a later post of the same page (the
		// patient pressed Next while it was on its way) is dropped; every
		// other post is applied, whatever its stamp.
		if at := postedAt(form); at > 0 {
			if action == "autosave" && at < d.Stamps[n] {
				return nil
			}
			if d.Stamps == nil {
				d.Stamps = map[int]int64{}
			}
			d.Stamps[n] = max(d.Stamps[n], at)
		}
		for _, it := range questions {
			for _, k := range fieldsOf(it) {
				delete(d.Answers, k)
				delete(d.Typed, k)
				if val, ok := in.keep[k]; ok {
					d.Answers[k] = val
				}
				if val, ok := in.typed[k]; ok {
					if d.Typed == nil {
						d.Typed = map[string][]string{}
					}
					d.Typed[k] = val
				}
			}
		}
		if len(d.Typed) == 0 {
			d.Typed = nil
		}
		d.Page, d.Device = i, device
		if action == "save" {
			d.Device = "" // this device leaves: coming back is not a second device
		}
		if action != "autosave" {
			d.AddEvent(questionnaire.Event{Type: questionnaire.EventPage, At: now, Page: n})
		}
		if action == "save" {
			d.AddEvent(questionnaire.Event{Type: questionnaire.EventSaved, At: now})
		}
		return nil
	})
	if questionnaire.ErrorCode(err) == questionnaire.ECONFLICT {
		return s.closedPage(c, v, false)
	} else if err != nil {
		return err
	}
	v.draft = draft

	switch action {
	case "autosave":
		return c.SendStatus(fiber.StatusNoContent) // stale or not: nothing for the script to do
	case "save":
		return s.savedPage(c, v)
	case "decline":
		return c.Redirect("/q/decline?page="+strconv.Itoa(n), fiber.StatusSeeOther)
	case "back":
		if j := nextVisible(v.def, v.enabled(), i-1, -1); j >= 0 {
			return c.Redirect("/q?page="+strconv.Itoa(j+1), fiber.StatusSeeOther)
		}
		return c.Redirect("/q?page=1", fiber.StatusSeeOther)
	case "review":
		return c.Redirect("/q/review", fiber.StatusSeeOther)
	}

	// Without the script, a follow-up that an answer on this page brought
	// into view was never seen: it is introduced, not held against anyone.
	// With the script (which says so in the field js) it was seen.
	var errs questionnaire.AnswerErrors
	var fresh []string
	_, script := form["js"]
	isFresh := map[string]bool{}
	after := v.enabled()
	if !script {
		for _, it := range questions {
			_, answered := in.keep[it.LinkID]
			_, typed := in.typed[it.LinkID]
			if after[it.LinkID] && !before[it.LinkID] && !answered && !typed {
				isFresh[it.LinkID] = true
				fresh = append(fresh, it.LinkID) // optional ones too: never seen, never skipped unseen
			}
		}
	}
	for _, e := range in.errs {
		if e.Code == questionnaire.AnswerRequired && isFresh[e.LinkID] {
			continue
		}
		errs = append(errs, e)
	}
	if len(errs) > 0 || len(fresh) > 0 {
		return s.renderPage(c, fiber.StatusUnprocessableEntity, v, i, errs, fresh)
	}
	// next, and finish (the last page's button: an answer on the page may
	// have brought a later page into view) go to the next shown page.
	if j := nextVisible(v.def, after, i+1, 1); j >= 0 {
		return c.Redirect("/q?page="+strconv.Itoa(j+1), fiber.StatusSeeOther)
	}
	return c.Redirect("/q/review", fiber.StatusSeeOther)
}

// pageInput is one page's form read against the rest of the draft.
type pageInput struct {
	keep  map[string][]string        // the page's answers, as form values
	typed map[string][]string        // what was typed that cannot be an answer, as typed
	errs  questionnaire.AnswerErrors // one per shown question of the page, in page order
}

// typedTypes are the item types a patient types into; what cannot be kept
// as an answer of these is kept as typed. A value that is not an option of
// a choice cannot come from the page, and is dropped.
var typedTypes = map[questionnaire.ItemType]bool{
	questionnaire.Integer: true, questionnaire.Decimal: true, questionnaire.Date: true, questionnaire.TextType: true,
}

// readPage decodes and checks the posted values of a page's questions,
// given the draft's answers on the other pages (for skip logic).
func (s *Server) readPage(v *visit, form map[string][]string, questions []*questionnaire.Item) pageInput {
	def := v.def
	posted, decodeErrs := def.DecodeForm(form, questions)
	merged := v.answers()
	for _, it := range questions {
		delete(merged, it.LinkID)
	}
	for k, val := range posted {
		merged[k] = val
	}
	_, checkErrs := def.Validate(merged, questions, s.today())
	onPage := make(map[string]bool, len(questions))
	for _, it := range questions {
		onPage[it.LinkID] = true
	}
	in := pageInput{keep: map[string][]string{}, typed: map[string][]string{}}
	wrong := map[string]bool{}
	var all questionnaire.AnswerErrors
	for _, e := range append(decodeErrs, checkErrs...) {
		if !onPage[e.LinkID] || wrong[e.LinkID] {
			continue
		}
		if e.Code != questionnaire.AnswerRequired {
			wrong[e.LinkID] = true
			delete(merged, e.LinkID)
			switch it := def.Item(e.LinkID); {
			case typedTypes[it.Type]:
				if t := firstValue(form[e.LinkID]); t != "" {
					in.typed[e.LinkID] = []string{keepTyped(t, it)}
				}
			case it.Type == questionnaire.MultiChoice && e.Code == questionnaire.AnswerExclusive:
				// Real options that cannot go together ("none of these" and
				// another): the ticks are kept, to be put right.
				in.typed[e.LinkID] = posted[e.LinkID].Strings
			case it.Type == questionnaire.Choice && e.Code == questionnaire.AnswerOtherBoth:
				in.typed[e.LinkID] = []string{posted[e.LinkID].String} // an option, and the own answer below
			}
			if it := def.Item(e.LinkID); it.Other {
				if t := strings.Join(form[it.OtherField()], "\n"); strings.TrimSpace(t) != "" {
					in.typed[it.OtherField()] = []string{keepTyped(t, it)}
				}
			}
		}
		all = append(all, e)
	}
	enabled := def.Enabled(merged)
	for k, val := range posted {
		if !wrong[k] {
			maps.Copy(in.keep, val.FormFields(k))
		}
	}
	in.errs = onePerItem(def, all, func(e questionnaire.AnswerError) bool {
		return enabled[e.LinkID] && !(e.Code == questionnaire.AnswerRequired && wrong[e.LinkID])
	})
	return in
}

// keepTyped is a typed value as it is kept: valid UTF-8, and no longer
// than the field allows and a little over (what the page's maxlength lets
// through, never the whole post), cut at a character.
func keepTyped(s string, it *questionnaire.Item) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	limit := questionnaire.DefaultMaxLength
	if it.MaxLength != nil && *it.MaxLength > limit {
		limit = *it.MaxLength
	}
	limit = 4*limit + 100 // characters to bytes, with room to spare
	if len(s) <= limit {
		return s
	}
	for limit > 0 && !utf8.RuneStart(s[limit]) {
		limit--
	}
	return s[:limit]
}

// firstValue is the first value that is not blank.
func firstValue(vals []string) string {
	for _, s := range vals {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// onePerItem keeps the errors that pass keep, at most one per question
// (a wrong value before a missing one), in the definition's order.
func onePerItem(def *questionnaire.Definition, errs questionnaire.AnswerErrors, keep func(questionnaire.AnswerError) bool) questionnaire.AnswerErrors {
	byLink := map[string]questionnaire.AnswerError{}
	for _, e := range errs {
		if !keep(e) {
			continue
		}
		if old, ok := byLink[e.LinkID]; ok && old.Code != questionnaire.AnswerRequired {
			continue
		}
		byLink[e.LinkID] = e
	}
	var out questionnaire.AnswerErrors
	for _, it := range def.Questions() {
		if e, ok := byLink[it.LinkID]; ok {
			out = append(out, e)
		}
	}
	return out
}

// postedAt is the script's stamp of a post (milliseconds on the patient's
// clock, set when the post was made), 0 when there is none.
func postedAt(form map[string][]string) int64 {
	v := form["at"]
	if len(v) != 1 {
		return 0
	}
	at, err := strconv.ParseInt(v[0], 10, 64)
	if err != nil || at < 0 {
		return 0
	}
	return at
}

// deviceOf is a short, one-way name of a session, kept in the draft to
// notice a second device answering at the same time.
func deviceOf(sessionID string) string {
	sum := sha256.Sum256([]byte("device\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(sum[:6])
}

// typedErrors are the errors of what the draft holds as typed, for the
// shown questions among items (nil: all).
func (s *Server) typedErrors(v *visit, items []*questionnaire.Item) questionnaire.AnswerErrors {
	if len(v.draft.Typed) == 0 {
		return nil
	}
	if items == nil {
		items = v.def.Questions()
	}
	var with []*questionnaire.Item
	for _, it := range items {
		for _, k := range fieldsOf(it) {
			if _, ok := v.draft.Typed[k]; ok {
				with = append(with, it)
				break
			}
		}
	}
	if len(with) == 0 {
		return nil
	}
	in := s.readPage(v, v.draft.Typed, with)
	var out questionnaire.AnswerErrors
	for _, e := range in.errs {
		if e.Code != questionnaire.AnswerRequired {
			out = append(out, e)
		}
	}
	return out
}

// postValue is a field of a POST's urlencoded body, never of its query
// string: a link cannot carry a CSRF token, a code or a confirmation.
func postValue(c *fiber.Ctx, name string) string {
	return string(c.Request().PostArgs().Peek(name)) // a copy: kept beyond the request
}

// formValues returns the posted form as url.Values-like map.
func formValues(c *fiber.Ctx) map[string][]string {
	out := map[string][]string{}
	c.Request().PostArgs().VisitAll(func(k, v []byte) {
		key := string(k)
		out[key] = append(out[key], string(v))
	})
	return out
}

// fieldsOf returns the names of an item's form fields: its linkId, and
// the field of its own answer when it takes one.
func fieldsOf(it *questionnaire.Item) []string {
	if it.Other {
		return []string{it.LinkID, it.OtherField()}
	}
	return []string{it.LinkID}
}

// rawValues is what the page shows: the draft's answers, and what was typed.
func rawValues(d *questionnaire.Draft) map[string][]string {
	out := make(map[string][]string, len(d.Answers)+len(d.Typed))
	for k, v := range d.Answers {
		out[k] = v
	}
	for k, v := range d.Typed {
		out[k] = v
	}
	return out
}

// pageView is one questionnaire page.
type pageView struct {
	base
	FormTitle  string
	Heading    string
	Intro      string
	PageNumber int
	PageCount  int
	Last       bool
	Autosave   bool
	Fresh      bool // questions new to a patient without the script are introduced
	Elsewhere  bool // another device saved a moment ago
	Help       helpView
	Items      []*itemView
}

// itemView is one item as the page template shows it.
type itemView struct {
	LinkID        string
	Type          questionnaire.ItemType
	ID            string
	Anchor        string
	Text, Prefix  string
	Markup        template.HTML // Text with formatting, when the item has it in the language shown (sanitized at load)
	Help          string
	Required      bool
	OptionalLabel string
	Fieldset      bool
	InputType     string
	InputMode     string
	Value         string
	MaxLength     int
	MinAttr       string
	MaxAttr       string
	Unit          string
	MinLabel      string
	MaxLabel      string
	Multiline     bool
	Format        string // what a text answer's pattern asks for (PatternHint)
	ReadOnly      bool   // shown as text: Shown, the answer the order filled in
	Shown         string
	Options       []optionView
	Other         *otherView // the field of the patient's own answer beside the options
	Clear         string     // the label of the choice that withdraws an optional answer
	Errors        []string
	New           bool // brought into view by an answer on this page
	Sensitive     bool
	DescribedBy   string // ids of the help and error texts, for aria-describedby
	Children      []*itemView
	When          string // the conditions for the script, as JSON
	Hidden        bool
}

// otherView is the field of a patient's own answer under a choice's options.
type otherView struct {
	ID, Name, Label, Value string
	MaxLength              int
}

type optionView struct {
	ID, Value, Text    string
	Hint               string // the label of a scale's end
	Checked, Exclusive bool
}

// target is the id a link to the item goes to: its field, or the first of
// its options, so that following it puts the cursor there.
func (iv *itemView) target() string {
	if iv.Fieldset && len(iv.Options) > 0 {
		return iv.Options[0].ID
	}
	return iv.ID
}

// renderPage shows page i of the draft, with the errors (in page order) and
// the follow-ups new to the patient, and, for the script, the enableWhen
// conditions that depend on this page.
func (s *Server) renderPage(c *fiber.Ctx, status int, v *visit, i int, errs questionnaire.AnswerErrors, fresh []string) error {
	def, lang := v.def, v.lang
	page := def.Pages()[i]
	raw := rawValues(v.draft)
	typed, _ := def.DecodeForm(raw, nil)
	enabled := def.Enabled(typed)

	onPage := map[string]bool{} // the questions the script reads: a read-only one has no field
	for _, it := range editable(page.Questions()) {
		onPage[it.LinkID] = true
	}
	isNew := map[string]bool{}
	for _, l := range fresh {
		isNew[l] = true
	}
	title := def.ShownTitle().Get(lang, v.order.Language)
	progress := s.T(lang, "page.progress", map[string]any{"PageNumber": i + 1, "PageCount": len(def.Pages())})
	docTitle := progress + " – " + title
	plain := docTitle
	if len(errs) > 0 {
		docTitle = s.T(lang, "errors.prefix") + " " + docTitle
	}
	pv := pageView{
		base:       s.newBase(lang, docTitle, "/q?page="+strconv.Itoa(i+1)),
		FormTitle:  title,
		PageNumber: i + 1,
		PageCount:  len(def.Pages()),
		Autosave:   true,
		Fresh:      len(fresh) > 0,
		Help:       s.help(lang, v.order.Owner()),
	}
	pv.Page, pv.Plain = "page-"+strconv.Itoa(i+1), plain
	pv.Last = nextVisible(def, enabled, i+1, 1) < 0
	pv.CSRF = v.session.CSRF
	pv.Script = true
	pv.Elsewhere = v.draft.Device != "" && v.draft.Device != deviceOf(v.session.ID) && s.now().Sub(v.draft.UpdatedAt) < otherDeviceWindow
	if page.Group != nil {
		pv.Heading = page.Group.Text.Get(lang, v.order.Language)
	}
	if i == 0 {
		pv.Intro = def.Description.Get(lang, v.order.Language)
	}
	messages := make([]string, len(errs)) // translated once, for the item and the summary
	byLink := map[string][]string{}
	for n, e := range errs {
		messages[n] = s.answerMessage(lang, def, e)
		byLink[e.LinkID] = append(byLink[e.LinkID], messages[n])
	}
	views := map[string]*itemView{}
	var build func(items []*questionnaire.Item) []*itemView
	build = func(items []*questionnaire.Item) []*itemView {
		var out []*itemView
		for _, it := range items {
			when, local := conditionsJSON(def, it, onPage, typed)
			if !enabled[it.LinkID] && !local {
				continue // hidden by answers on other pages: not shown at all
			}
			iv := s.itemView(it, lang, v.order.Language, raw[it.LinkID], byLink[it.LinkID])
			if it.ReadOnly {
				iv.Shown = s.T(lang, "item.readonly_empty")
				if val, ok := typed[it.LinkID]; ok {
					iv.Shown = s.answerText(lang, v.order.Language, it, val)
				}
			}
			if it.Other {
				label := "item.other_choice"
				if it.Type == questionnaire.MultiChoice {
					label = "item.other_multi"
				}
				iv.Other = &otherView{ID: iv.ID + "-other", Name: it.OtherField(), Label: s.T(lang, label),
					Value: firstValue(raw[it.OtherField()]), MaxLength: questionnaire.OtherMaxLength}
			}
			iv.When, iv.Hidden, iv.New = when, !enabled[it.LinkID], isNew[it.LinkID]
			if it.Type == questionnaire.Group {
				iv.Children = build(it.Items)
			}
			views[it.LinkID] = iv
			out = append(out, iv)
		}
		return out
	}
	pv.Items = build(page.Items)
	for n, e := range errs {
		label, anchor := "", "q-"+e.LinkID
		if it := def.Item(e.LinkID); it != nil {
			label = strings.TrimSpace(it.Prefix + " " + it.Text.Get(lang, v.order.Language))
		}
		if iv := views[e.LinkID]; iv != nil {
			anchor = iv.target()
		}
		pv.Errors = append(pv.Errors, errorLink{Anchor: anchor, Label: label, Message: messages[n]})
	}
	return s.writeHTML(c, status, "page.html", func(b *bytes.Buffer) { s.writePage(b, &pv, progress) })
}

// otherDeviceWindow is how recent another device's save must be for the
// page to mention it.
const otherDeviceWindow = 10 * time.Minute

// answerMessage translates an answer error; the one on an exclusive
// option names the option as the page shows it.
func (s *Server) answerMessage(lang string, def *questionnaire.Definition, e questionnaire.AnswerError) string {
	data := map[string]any{}
	for k, v := range e.Params {
		data[k] = v
	}
	if d, err := time.Parse(time.DateOnly, e.Params["min"]); err == nil {
		data["min"] = s.date(lang, d)
	}
	if d, err := time.Parse(time.DateOnly, e.Params["max"]); err == nil {
		data["max"] = s.date(lang, d)
	}
	if e.Code == questionnaire.AnswerPattern {
		if it := def.Item(e.LinkID); it != nil && it.PatternHint.Get(lang) != "" {
			return s.T(lang, "answer.pattern_hint", map[string]any{"hint": it.PatternHint.Get(lang)})
		}
	}
	if e.Code == questionnaire.AnswerExclusive {
		data["option"] = ""
		if it := def.Item(e.LinkID); it != nil {
			for _, o := range it.Options {
				if o.Exclusive {
					data["option"] = o.Text.Get(lang)
					break
				}
			}
		}
	}
	return s.T(lang, e.Code, data)
}

// date formats a calendar date in lang: "1. mars 2020", "1 March 2020".
func (s *Server) date(lang string, d time.Time) string {
	return s.T(lang, "date.day", map[string]any{"Day": d.Day(), "Month": s.T(lang, fmt.Sprintf("month.%d", int(d.Month()))), "Year": d.Year()})
}

// dateTime is a date and a time of day, as people read it, in the
// service's time zone.
func (s *Server) dateTime(lang string, t time.Time) string {
	return s.cfg.Locales.DateTime(lang, t.In(s.cfg.Location))
}

// number formats a number for lang: a decimal comma in Norwegian.
func number(lang string, f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if lang != "en" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// itemView prepares one item for the template.
func (s *Server) itemView(it *questionnaire.Item, lang, orderLang string, raw []string, errs []string) *itemView {
	get := func(t questionnaire.Text) string { return t.Get(lang, orderLang) }
	iv := &itemView{
		LinkID: it.LinkID, Type: it.Type, ID: "f-" + it.LinkID, Anchor: "q-" + it.LinkID,
		Text: get(it.Text), Prefix: it.Prefix, Help: get(it.Help), Required: it.Required,
		OptionalLabel: s.T(lang, "item.optional"), Errors: errs, Sensitive: it.Sensitive,
		Format: get(it.PatternHint), ReadOnly: it.ReadOnly,
	}
	for _, l := range []string{lang, orderLang} {
		if it.Text[l] != "" {
			iv.Markup = template.HTML(it.MarkupHTML(l)) // written anew by questionnaire.SanitizeMarkup: an allow-list, escaped text
			break
		}
	}
	first := ""
	if len(raw) > 0 {
		first = raw[0]
	}
	var described []string
	if iv.Help != "" {
		described = append(described, iv.ID+"-help")
	}
	if iv.Format != "" {
		described = append(described, iv.ID+"-format")
	}
	if len(errs) > 0 {
		described = append(described, iv.ID+"-error")
	}
	iv.DescribedBy = strings.Join(described, " ")
	defer func() {
		for n := range iv.Options {
			iv.Options[n].ID = iv.ID + "-" + strconv.Itoa(n)
		}
		// A radio cannot be unticked: an optional one gets a choice that
		// withdraws the answer (an empty value, which is no answer).
		if iv.InputType == "radio" && !it.Required {
			iv.Clear = s.T(lang, "item.clear")
		}
	}()
	switch it.Type {
	case questionnaire.Choice, questionnaire.MultiChoice:
		iv.Fieldset, iv.InputType = true, "radio"
		if it.Type == questionnaire.MultiChoice {
			iv.InputType = "checkbox"
		}
		for _, o := range it.Options {
			iv.Options = append(iv.Options, optionView{Value: o.Value, Text: get(o.Text), Checked: slices.Contains(raw, o.Value), Exclusive: o.Exclusive})
		}
	case questionnaire.Boolean:
		iv.Fieldset, iv.InputType = true, "radio"
		iv.Options = []optionView{
			{Value: "true", Text: s.T(lang, "item.yes"), Checked: first == "true"},
			{Value: "false", Text: s.T(lang, "item.no"), Checked: first == "false"},
		}
	case questionnaire.Scale:
		iv.Fieldset, iv.InputType = true, "radio"
		iv.MinLabel, iv.MaxLabel = get(it.MinLabel), get(it.MaxLabel)
		for n := int(*it.Min); n <= int(*it.Max); n++ {
			val := strconv.Itoa(n)
			o := optionView{Value: val, Text: val, Checked: first == val}
			if n == int(*it.Min) {
				o.Hint = iv.MinLabel
			} else if n == int(*it.Max) {
				o.Hint = iv.MaxLabel
			}
			iv.Options = append(iv.Options, o)
		}
	case questionnaire.Integer:
		iv.InputType, iv.InputMode, iv.Value, iv.MaxLength = "text", "numeric", first, 16
		iv.Unit = get(it.Unit)
	case questionnaire.Decimal:
		iv.InputType, iv.InputMode, iv.MaxLength = "text", "decimal", 20
		iv.Value = first
		if f, err := strconv.ParseFloat(first, 64); err == nil && lang != "en" && canonicalNumber.MatchString(first) {
			iv.Value = number(lang, f) // shown with the comma people type
		}
		iv.Unit = get(it.Unit)
	case questionnaire.Date:
		iv.InputType, iv.Value = "date", first
		iv.MinAttr, iv.MaxAttr = dateAttr(it.MinDate, s.today()), dateAttr(it.MaxDate, s.today())
	case questionnaire.TextType:
		iv.InputType, iv.Value, iv.Multiline = "text", first, it.Multiline
		iv.MaxLength = questionnaire.DefaultMaxLength
		if it.MaxLength != nil {
			iv.MaxLength = *it.MaxLength
		}
	}
	return iv
}

// canonicalNumber is how a stored decimal answer is written; anything else
// is what the patient typed, and is shown as typed.
var canonicalNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

func dateAttr(bound string, today time.Time) string {
	if bound == "today" {
		return today.Format(time.DateOnly)
	}
	return bound
}

// conditionsJSON encodes an item's enableWhen for the script when some
// condition depends on a question of this page; local reports that. A
// condition on a question elsewhere is encoded as its known truth.
func conditionsJSON(def *questionnaire.Definition, it *questionnaire.Item, onPage map[string]bool, a questionnaire.Answers) (string, bool) {
	if len(it.EnableWhen) == 0 {
		return "", false
	}
	if when, ok := localConditions.Load(it); ok {
		return when.(string), true
	}
	type cond struct {
		Q     string `json:"q,omitempty"`
		Op    string `json:"op,omitempty"`
		V     any    `json:"v,omitempty"`
		Known *bool  `json:"k,omitempty"`
	}
	out := struct {
		Any bool   `json:"any,omitempty"`
		C   []cond `json:"c"`
	}{Any: it.EnableBehavior == "any"}
	local := false
	var holds []bool
	for i, w := range it.EnableWhen {
		if onPage[w.Question] {
			local = true
			out.C = append(out.C, cond{Q: w.Question, Op: w.Operator, V: w.Answer})
			continue
		}
		// On another page: the server knows whether it holds.
		if holds == nil {
			holds = def.Conditions(it.LinkID, a)
		}
		k := holds[i]
		out.C = append(out.C, cond{Known: &k})
	}
	if !local {
		return "", false
	}
	b, _ := json.Marshal(out)
	if holds == nil {
		// Every condition is on the item's own page, always the same one:
		// the same JSON for every patient.
		localConditions.Store(it, string(b))
	}
	return string(b), true
}

// localConditions keeps conditionsJSON of the items whose conditions are
// all on their own page, by item (definitions are never changed once
// loaded).
var localConditions sync.Map
