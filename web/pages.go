package web

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"eprom/questionnaire"

	"github.com/gofiber/fiber/v2"
)

// answers returns the draft's typed answers.
func (v *visit) answers() questionnaire.Answers {
	a, _ := v.def.DecodeForm(v.draft.Answers, nil) // the draft holds only values that decoded before
	return a
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

// firstUnanswered is where a returning patient resumes: the first visible
// page with a shown question not yet answered; -1 when all are answered.
func firstUnanswered(def *questionnaire.Definition, a questionnaire.Answers) int {
	enabled := def.Enabled(a)
	for i, p := range def.Pages() {
		if !pageVisible(p, enabled) {
			continue
		}
		for _, it := range p.Questions() {
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
	enabled := v.def.Enabled(a)
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
	return s.renderPage(c, fiber.StatusOK, v, i, v.draft.Answers, nil, nil)
}

// handlePagePost serves POST /q: the answers of one page, and where to go:
// action next, back, review, save (and leave), or autosave (from the
// script; answered with 204).
func (s *Server) handlePagePost(c *fiber.Ctx) error {
	v := getVisit(c)
	ctx, now := c.UserContext(), s.now()
	pages := v.def.Pages()
	n, err := strconv.Atoi(c.FormValue("page"))
	if err != nil || n < 1 || n > len(pages) {
		return questionnaire.Errorf(questionnaire.EINVALID, "The form has no valid page number.")
	}
	i := n - 1
	action := c.FormValue("action")
	switch action {
	case "next", "back", "review", "finish", "save", "autosave":
	default:
		action = "next" // Enter in a field, or an old browser without the button's value
	}

	before := v.def.Enabled(v.answers())
	form := formValues(c)
	questions := pages[i].Questions()
	posted, decodeErrs := v.def.DecodeForm(form, questions)

	// The page's answers replace what the draft had for its questions (an
	// option unticked is an answer withdrawn), in the stored draft, so a
	// page saved at the same moment on another device is kept.
	_, draft, err := s.cfg.Patients.UpdateDraft(ctx, v.order.ID, now, func(d *questionnaire.Draft) error {
		for _, it := range questions {
			delete(d.Answers, it.LinkID)
			if val, ok := posted[it.LinkID]; ok {
				d.Answers[it.LinkID] = val.Form()
			}
		}
		d.Page = i
		if action != "autosave" {
			d.AddEvent(questionnaire.Event{Type: questionnaire.EventPage, At: now, Page: n})
		}
		if action == "save" {
			d.AddEvent(questionnaire.Event{Type: questionnaire.EventSaved, At: now})
		}
		return nil
	})
	if questionnaire.ErrorCode(err) == questionnaire.ECONFLICT {
		return s.closedPage(c, v)
	} else if err != nil {
		return err
	}
	v.draft = draft

	switch action {
	case "autosave":
		return c.SendStatus(fiber.StatusNoContent)
	case "save":
		s.endVisit(c, v)
		return s.message(c, fiber.StatusOK, v.lang, "saved", false, map[string]any{
			"Date": s.cfg.Locales.DateTime(v.lang, v.order.ExpiresAt.In(s.cfg.Location))})
	}

	// Raw values, so that what was typed wrong is shown as typed.
	raw := mergeRaw(draft.Answers, form, questions)
	if action == "back" {
		if decodeErrs = shown(v.def, v.answers(), decodeErrs); len(decodeErrs) > 0 {
			return s.renderPage(c, fiber.StatusUnprocessableEntity, v, i, raw, decodeErrs, before)
		}
		a := v.answers()
		if j := nextVisible(v.def, v.def.Enabled(a), i-1, -1); j >= 0 {
			return c.Redirect("/q?page="+strconv.Itoa(j+1), fiber.StatusSeeOther)
		}
		return c.Redirect("/q?page=1", fiber.StatusSeeOther)
	}

	a := v.answers()
	_, errs := v.def.Validate(a, questions, s.today())
	errs = append(shown(v.def, a, decodeErrs), errs...)
	if len(errs) > 0 {
		return s.renderPage(c, fiber.StatusUnprocessableEntity, v, i, raw, errs, before)
	}
	if action == "review" {
		return c.Redirect("/q/review", fiber.StatusSeeOther)
	}
	// next, and finish (the last page's button: an answer on the page may
	// have brought a later page into view) go to the next shown page.
	if j := nextVisible(v.def, v.def.Enabled(a), i+1, 1); j >= 0 {
		return c.Redirect("/q?page="+strconv.Itoa(j+1), fiber.StatusSeeOther)
	}
	return c.Redirect("/q/review", fiber.StatusSeeOther)
}

// shown keeps the errors of questions that are shown given the answers:
// what a hidden question holds is dropped, never rejected.
func shown(def *questionnaire.Definition, a questionnaire.Answers, errs questionnaire.AnswerErrors) questionnaire.AnswerErrors {
	enabled := def.Enabled(a)
	var out questionnaire.AnswerErrors
	for _, e := range errs {
		if enabled[e.LinkID] {
			out = append(out, e)
		}
	}
	return out
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

// mergeRaw overlays the posted values of a page's questions on the draft.
func mergeRaw(draft, form map[string][]string, questions []*questionnaire.Item) map[string][]string {
	out := make(map[string][]string, len(draft))
	for k, v := range draft {
		out[k] = v
	}
	for _, it := range questions {
		out[it.LinkID] = form[it.LinkID]
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
	Items      []*itemView
}

// itemView is one item as the page template shows it.
type itemView struct {
	LinkID        string
	Type          questionnaire.ItemType
	ID            string
	Anchor        string
	Text, Prefix  string
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
	Options       []optionView
	Errors        []string
	DescribedBy   string // ids of the help and error texts, for aria-describedby
	Children      []*itemView
	When          string // the conditions for the script, as JSON
	Hidden        bool
}

type optionView struct {
	Value, Text        string
	Hint               string // read by screen readers only: the label of a scale's end
	Checked, Exclusive bool
}

// renderPage shows page i with the raw values, the errors and, for the
// script, the enableWhen conditions that depend on this page.
func (s *Server) renderPage(c *fiber.Ctx, status int, v *visit, i int, raw map[string][]string,
	errs questionnaire.AnswerErrors, before map[string]bool) error {
	def, lang := v.def, v.lang
	page := def.Pages()[i]
	typed, _ := def.DecodeForm(raw, nil)
	enabled := def.Enabled(typed)

	onPage := map[string]bool{}
	for _, it := range page.Questions() {
		onPage[it.LinkID] = true
	}
	title := def.Title.Get(lang, v.order.Language)
	pv := pageView{
		base:       s.newBase(lang, title, "/q?page="+strconv.Itoa(i+1)),
		FormTitle:  title,
		PageNumber: i + 1,
		PageCount:  len(def.Pages()),
		Autosave:   true,
	}
	pv.Page = "page-" + strconv.Itoa(i+1)
	pv.Last = nextVisible(def, enabled, i+1, 1) < 0
	pv.CSRF = v.session.CSRF
	pv.Script = true
	if page.Group != nil {
		pv.Heading = page.Group.Text.Get(lang, v.order.Language)
	}
	if i == 0 {
		pv.Intro = def.Description.Get(lang, v.order.Language)
	}
	byLink := map[string][]string{}
	for _, e := range errs {
		msg := s.answerMessage(lang, e, before, enabled)
		byLink[e.LinkID] = append(byLink[e.LinkID], msg)
	}
	var build func(items []*questionnaire.Item) []*itemView
	build = func(items []*questionnaire.Item) []*itemView {
		var out []*itemView
		for _, it := range items {
			when, local := conditionsJSON(def, it, onPage, typed)
			if !enabled[it.LinkID] && !local {
				continue // hidden by answers on other pages: not shown at all
			}
			iv := s.itemView(it, lang, v.order.Language, raw[it.LinkID], byLink[it.LinkID])
			iv.When, iv.Hidden = when, !enabled[it.LinkID]
			if it.Type == questionnaire.Group {
				iv.Children = build(it.Items)
			}
			out = append(out, iv)
		}
		return out
	}
	pv.Items = build(page.Items)
	for _, e := range errs {
		it := def.Item(e.LinkID)
		label := ""
		if it != nil {
			label = it.Text.Get(lang, v.order.Language)
		}
		pv.Errors = append(pv.Errors, errorLink{Anchor: "q-" + e.LinkID, Label: label, Message: s.answerMessage(lang, e, before, enabled)})
	}
	return s.render(c, status, "page.html", pv)
}

// answerMessage translates an answer error; a required question that has
// just appeared because of an answer on the same page is introduced as such.
func (s *Server) answerMessage(lang string, e questionnaire.AnswerError, before, enabled map[string]bool) string {
	if e.Code == questionnaire.AnswerRequired && before != nil && !before[e.LinkID] && enabled[e.LinkID] {
		return s.T(lang, "answer.followup")
	}
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
	return s.T(lang, e.Code, data)
}

// date formats a calendar date in lang: "1. mars 2020", "1 March 2020".
func (s *Server) date(lang string, d time.Time) string {
	return s.T(lang, "date.day", map[string]any{"Day": d.Day(), "Month": s.T(lang, fmt.Sprintf("month.%d", int(d.Month()))), "Year": d.Year()})
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
		OptionalLabel: s.T(lang, "item.optional"), Errors: errs,
	}
	first := ""
	if len(raw) > 0 {
		first = raw[0]
	}
	var described []string
	if iv.Help != "" {
		described = append(described, iv.ID+"-help")
	}
	if len(errs) > 0 {
		described = append(described, iv.ID+"-error")
	}
	iv.DescribedBy = strings.Join(described, " ")
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
		if f, err := strconv.ParseFloat(first, 64); err == nil && lang != "en" {
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
	return string(b), true
}
