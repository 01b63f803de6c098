package web

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"eprom/questionnaire"
	"eprom/questionnaire/fhir"

	"github.com/gofiber/fiber/v2"
)

// reviewView lists every shown answer, page by page.
type reviewView struct {
	base
	FormTitle string
	PageCount int
	BackHref  string // the last page shown
	Missing   string // how many required questions have no answer, said
	FirstHref string // where the first of them is
	Pages     []reviewPage
}

type reviewPage struct {
	Heading string
	Answers []reviewAnswer
}

type reviewAnswer struct {
	Anchor, Question, Answer, Href string
	Multiline                      bool
	State                          string // "", or missing (required), skipped (optional) or fix (typed, cannot be sent)
}

// handleReview serves GET /q/review: every shown question with its answer
// and a link to change it.
func (s *Server) handleReview(c *fiber.Ctx) error {
	v := getVisit(c)
	return s.renderReview(c, fiber.StatusOK, v, nil)
}

func (s *Server) renderReview(c *fiber.Ctx, status int, v *visit, errs questionnaire.AnswerErrors) error {
	def, lang := v.def, v.lang
	a := v.answers()
	enabled := v.enabled()
	title := def.ShownTitle().Get(lang, v.order.Language)
	docTitle := s.T(lang, "review.title") + " – " + title
	if len(errs) > 0 {
		docTitle = s.T(lang, "errors.prefix") + " " + docTitle
	}
	rv := reviewView{base: s.newBase(lang, docTitle, "/q/review"), FormTitle: title, PageCount: len(def.Pages())}
	rv.CSRF, rv.Page, rv.Script = v.session.CSRF, "review", true
	rv.BackHref = "/q?page=1"
	hrefOf := map[string]string{}
	missing := 0
	for i, p := range def.Pages() {
		if !pageVisible(p, enabled) {
			continue
		}
		rv.BackHref = "/q?page=" + strconv.Itoa(i+1)
		rp := reviewPage{Heading: s.T(lang, "review.page", map[string]any{"Number": i + 1})}
		if p.Group != nil {
			if h := p.Group.Text.Get(lang, v.order.Language); h != "" {
				rp.Heading = h
			}
		}
		for _, it := range p.Questions() {
			if !enabled[it.LinkID] {
				continue
			}
			ra := reviewAnswer{
				Anchor:    "q-" + it.LinkID,
				Question:  strings.TrimSpace(it.Prefix + " " + it.Text.Get(lang, v.order.Language)),
				Href:      "/q?page=" + strconv.Itoa(i+1) + "#" + reviewTarget(it),
				Multiline: it.Multiline,
			}
			if it.ReadOnly {
				ra.Href = "" // filled in by the order: nothing to change, nor a link to it from an error
			}
			hrefOf[it.LinkID] = ra.Href
			if val, ok := a[it.LinkID]; ok {
				ra.Answer = s.answerText(lang, v.order.Language, it, val)
			} else if t := typedText(it, v.draft.Typed, lang, v.order.Language); t != "" {
				ra.Answer, ra.State = s.T(lang, "review.fix", map[string]any{"Value": t}), "fix"
			} else if it.Required {
				ra.Answer, ra.State = s.T(lang, "review.missing"), "missing"
				if missing++; rv.FirstHref == "" {
					rv.FirstHref = ra.Href
				}
			} else {
				ra.Answer, ra.State = s.T(lang, "review.unanswered"), "skipped"
			}
			rp.Answers = append(rp.Answers, ra)
		}
		rv.Pages = append(rv.Pages, rp)
	}
	switch {
	case missing == 1:
		rv.Missing = s.T(lang, "review.missing_one")
	case missing > 1:
		rv.Missing = s.T(lang, "review.missing_count", map[string]any{"Count": missing})
	}
	for _, e := range errs {
		label := ""
		if it := def.Item(e.LinkID); it != nil {
			label = strings.TrimSpace(it.Prefix + " " + it.Text.Get(lang, v.order.Language))
		}
		rv.Errors = append(rv.Errors, errorLink{Href: hrefOf[e.LinkID], Anchor: "q-" + e.LinkID, Label: label, Message: s.answerMessage(lang, def, e)})
	}
	return s.writeHTML(c, status, "review.html", func(b *bytes.Buffer) { s.writeReview(b, &rv) })
}

// typedText is what the draft holds as typed for an item, as the patient
// would say it: the text typed, or the options ticked and the own answer.
func typedText(it *questionnaire.Item, typed map[string][]string, lang, orderLang string) string {
	var parts []string
	for _, s := range typed[it.LinkID] {
		if o := it.Option(s); o != nil {
			s = o.Text.Get(lang, orderLang)
		}
		if s != "" {
			parts = append(parts, s)
		}
	}
	if it.Other {
		if s := firstValue(typed[it.OtherField()]); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}

// reviewTarget is the id of an item's field on its page, as itemView names it.
func reviewTarget(it *questionnaire.Item) string {
	switch it.Type {
	case questionnaire.Choice, questionnaire.MultiChoice, questionnaire.Boolean, questionnaire.Scale:
		return "f-" + it.LinkID + "-0"
	}
	return "f-" + it.LinkID
}

// answerText shows an answer as the patient would say it.
func (s *Server) answerText(lang, orderLang string, it *questionnaire.Item, v questionnaire.Value) string {
	get := func(t questionnaire.Text) string { return t.Get(lang, orderLang) }
	switch v.Type {
	case questionnaire.Choice:
		if o := it.Option(v.String); o != nil {
			return get(o.Text)
		}
		return v.Other
	case questionnaire.MultiChoice:
		var parts []string
		for _, val := range v.Strings {
			if o := it.Option(val); o != nil {
				parts = append(parts, get(o.Text))
			}
		}
		if v.Other != "" {
			parts = append(parts, v.Other)
		}
		return strings.Join(parts, "; ")
	case questionnaire.Boolean:
		if v.Bool {
			return s.T(lang, "item.yes")
		}
		return s.T(lang, "item.no")
	case questionnaire.Scale:
		return s.T(lang, "review.scale", map[string]any{"Value": number(lang, v.Number), "Max": number(lang, *it.Max)})
	case questionnaire.Integer, questionnaire.Decimal:
		return strings.TrimSpace(number(lang, v.Number) + " " + get(it.Unit))
	case questionnaire.Date:
		if d, err := time.Parse(time.DateOnly, v.String); err == nil {
			return s.date(lang, d)
		}
	}
	return v.String
}

// handleSubmit serves POST /q/submit: the whole response is validated,
// scored and stored, and the order closed, in one step; the session ends.
// A second submit (another tab, a replayed POST) finds the order closed and
// stores nothing.
func (s *Server) handleSubmit(c *fiber.Ctx) error {
	v := getVisit(c)
	now := s.now()
	// The draft as it is now: a page saved on another device a moment ago
	// is part of what is sent.
	draft, err := s.cfg.Patients.Draft(c.UserContext(), v.order.ID)
	if err != nil {
		return err
	}
	v.draft = draft
	kept, errs := v.def.Validate(v.answers(), nil, s.today())
	errs = onePerItem(v.def, append(s.typedErrors(v, nil), errs...), func(questionnaire.AnswerError) bool { return true })
	if len(errs) > 0 {
		// An empty draft may mean a submit from another tab (a double
		// click) closed the order since this request began: then thanks,
		// not errors.
		if o, err := s.cfg.Orders.Order(c.UserContext(), v.order.ID); err == nil && !o.Status.Open() {
			return s.closedPage(c, v, true)
		}
		return s.renderReview(c, fiber.StatusUnprocessableEntity, v, errs)
	}
	v.draft.AddEvent(questionnaire.Event{Type: questionnaire.EventSubmitted, At: now})
	r := &questionnaire.Response{
		OrderID:     v.order.ID,
		Type:        questionnaire.ResponseAnswered,
		Language:    v.lang,
		Answers:     v.def.List(kept),
		Scores:      v.def.ComputeScores(kept),
		Events:      v.draft.Events,
		SubmittedAt: now,
	}
	// The answers as FHIR, for the envelope; the error names linkIds only.
	if r.QuestionnaireResponse, err = fhir.QuestionnaireResponseOf(v.def, r, kept); err != nil {
		return err
	}
	return s.finish(c, v, r, questionnaire.EnvelopeResponse, "/done?lang="+v.lang)
}

// finish closes the order with the response (the envelope goes to the
// outbox), ends the session and goes to done. An order closed meanwhile,
// submitted in another tab or by a double click (then thanks) or cancelled
// or expired (then say so), gets its own page.
func (s *Server) finish(c *fiber.Ctx, v *visit, r *questionnaire.Response, kind, done string) error {
	r.Device = deviceOf(v.session.ID)
	o, err := s.cfg.Submissions.Submit(c.UserContext(), r, r.SubmittedAt)
	if questionnaire.ErrorCode(err) == questionnaire.ECONFLICT {
		return s.closedPage(c, v, true)
	} else if err != nil {
		return err
	}
	s.metrics.order(o.Status)
	s.metrics.submissions.WithLabelValues(kind).Inc()
	// The cookie goes; the session's record stays until it lapses, so that
	// a second click on Send that comes after this one has finished (the
	// usual double click) finds it and is thanked, not told it has ended.
	// It opens nothing: its order is closed.
	s.clearCookie(c, s.sessionCookie())
	s.setFeedback(c, v, r)
	c.Cookie(&fiber.Cookie{Name: doneCookie, Value: v.order.Owner() + "|" + r.Reason, Path: "/done", MaxAge: 600,
		HTTPOnly: true, Secure: s.secure, SameSite: fiber.CookieSameSiteLaxMode})
	return c.Redirect(done, fiber.StatusSeeOther)
}

// declineReasons are the reasons a patient may give for not answering, in
// the order the page offers them; none is required.
var declineReasons = []string{questionnaire.DeclineNotNow, questionnaire.DeclineThisForm, questionnaire.DeclineReservation}

// declineText names each reason's message.
var declineText = map[string]string{
	questionnaire.DeclineNotNow:      "decline.reason.not-now",
	questionnaire.DeclineThisForm:    "decline.reason.not-this-form",
	questionnaire.DeclineReservation: "decline.reason.reservation",
}

type declineView struct {
	base
	FormTitle   string
	BackHref    string
	Reasons     []declineReason
	Reservation string // how to reach whoever handles reservations
	Help        helpView
}

type declineReason struct {
	ID, Value, Text, Hint string
}

// handleDeclineForm serves GET /q/decline: you may say no, and why if you
// like; or save and answer later.
func (s *Server) handleDeclineForm(c *fiber.Ctx) error {
	v := getVisit(c)
	title := v.def.ShownTitle().Get(v.lang, v.order.Language)
	dv := declineView{base: s.newBase(v.lang, s.T(v.lang, "decline.title")+" – "+title, "/q/decline"), FormTitle: title,
		BackHref: "/q/review", Reservation: s.reservationContact(v.lang, v.order.Owner()), Help: s.help(v.lang, v.order.Owner())}
	if n, err := strconv.Atoi(c.Query("page")); err == nil && n >= 1 && n <= len(v.def.Pages()) {
		dv.BackHref = "/q?page=" + strconv.Itoa(n)
	}
	for i, r := range declineReasons {
		dr := declineReason{ID: "reason-" + strconv.Itoa(i), Value: r, Text: s.T(v.lang, declineText[r])}
		if r == questionnaire.DeclineReservation {
			dr.Hint = s.T(v.lang, "decline.reason.reservation.hint")
		}
		dv.Reasons = append(dv.Reasons, dr)
	}
	dv.CSRF, dv.Page = v.session.CSRF, "decline"
	return s.render(c, fiber.StatusOK, "decline.html", dv)
}

// handleDecline serves POST /q/decline: confirm=yes declines the order, with
// the reason if one was given (the registry acts on a reservation), and the
// session ends; confirm=later saves and leaves instead.
func (s *Server) handleDecline(c *fiber.Ctx) error {
	v := getVisit(c)
	switch postValue(c, "confirm") {
	case "later":
		_, _, err := s.cfg.Patients.UpdateDraft(c.UserContext(), v.order.ID, s.now(), func(d *questionnaire.Draft) error {
			d.Device = "" // this device leaves: coming back is not a second device
			d.AddEvent(questionnaire.Event{Type: questionnaire.EventSaved, At: s.now()})
			return nil
		})
		if questionnaire.ErrorCode(err) == questionnaire.ECONFLICT {
			return s.closedPage(c, v, false)
		} else if err != nil {
			return err
		}
		return s.savedPage(c, v)
	case "yes":
	default:
		return c.Redirect("/q/decline", fiber.StatusSeeOther)
	}
	reason := postValue(c, "reason")
	if !questionnaire.ValidDeclineReason(reason) {
		reason = "" // a reason the page does not offer is no reason given
	}
	now := s.now()
	v.draft.AddEvent(questionnaire.Event{Type: questionnaire.EventDeclined, At: now})
	r := &questionnaire.Response{OrderID: v.order.ID, Type: questionnaire.ResponseDeclined, Language: v.lang, Reason: reason,
		Answers: []questionnaire.AnswerJSON{}, Scores: []questionnaire.ScoreResult{}, Events: v.draft.Events, SubmittedAt: now}
	return s.finish(c, v, r, questionnaire.EnvelopeDeclined, "/done?declined=1&lang="+v.lang)
}
