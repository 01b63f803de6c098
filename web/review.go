package web

import (
	"strconv"
	"strings"
	"time"

	"eprom/questionnaire"

	"github.com/gofiber/fiber/v2"
)

// reviewView lists every shown answer, page by page.
type reviewView struct {
	base
	FormTitle string
	PageCount int
	Pages     []reviewPage
}

type reviewPage struct {
	Heading string
	Answers []reviewAnswer
}

type reviewAnswer struct {
	Anchor, Question, Answer, Href string
	Missing                        bool
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
	enabled := def.Enabled(a)
	title := def.Title.Get(lang, v.order.Language)
	rv := reviewView{base: s.newBase(lang, s.T(lang, "review.title")+" – "+title, "/q/review"), FormTitle: title, PageCount: len(def.Pages())}
	rv.CSRF, rv.Page = v.session.CSRF, "review"
	pageOf := map[string]int{}
	for i, p := range def.Pages() {
		if !pageVisible(p, enabled) {
			continue
		}
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
			pageOf[it.LinkID] = i + 1
			ra := reviewAnswer{
				Anchor:   "q-" + it.LinkID,
				Question: strings.TrimSpace(it.Prefix + " " + it.Text.Get(lang, v.order.Language)),
				Href:     "/q?page=" + strconv.Itoa(i+1) + "#q-" + it.LinkID,
			}
			if val, ok := a[it.LinkID]; ok {
				ra.Answer = s.answerText(lang, v.order.Language, it, val)
			} else {
				ra.Answer, ra.Missing = s.T(lang, "review.unanswered"), true
			}
			rp.Answers = append(rp.Answers, ra)
		}
		rv.Pages = append(rv.Pages, rp)
	}
	for _, e := range errs {
		label := ""
		if it := def.Item(e.LinkID); it != nil {
			label = it.Text.Get(lang, v.order.Language)
		}
		rv.Errors = append(rv.Errors, errorLink{Anchor: "q-" + e.LinkID, Label: label, Message: s.answerMessage(lang, e, nil, enabled)})
	}
	return s.render(c, status, "review.html", rv)
}

// answerText shows an answer as the patient would say it.
func (s *Server) answerText(lang, orderLang string, it *questionnaire.Item, v questionnaire.Value) string {
	get := func(t questionnaire.Text) string { return t.Get(lang, orderLang) }
	switch v.Type {
	case questionnaire.Choice:
		if o := it.Option(v.String); o != nil {
			return get(o.Text)
		}
	case questionnaire.MultiChoice:
		var parts []string
		for _, val := range v.Strings {
			if o := it.Option(val); o != nil {
				parts = append(parts, get(o.Text))
			}
		}
		return strings.Join(parts, "; ")
	case questionnaire.Boolean:
		if v.Bool {
			return s.T(lang, "item.yes")
		}
		return s.T(lang, "item.no")
	case questionnaire.Integer, questionnaire.Decimal, questionnaire.Scale:
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
	if len(errs) > 0 {
		// An empty draft may mean a submit from another tab (a double
		// click) closed the order since this request began: then thanks,
		// not errors.
		if o, err := s.cfg.Orders.Order(c.UserContext(), v.order.ID); err == nil && !o.Status.Open() {
			return s.closedPage(c, v)
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
	return s.finish(c, v, r, questionnaire.EnvelopeResponse, "/done?lang="+v.lang)
}

// finish closes the order with the response (the envelope goes to the
// outbox), ends the session and goes to done. An order closed meanwhile,
// submitted in another tab or by a double click (then thanks) or cancelled
// or expired (then say so), gets its own page.
func (s *Server) finish(c *fiber.Ctx, v *visit, r *questionnaire.Response, kind, done string) error {
	o, err := s.cfg.Submissions.Submit(c.UserContext(), r, r.SubmittedAt)
	if questionnaire.ErrorCode(err) == questionnaire.ECONFLICT {
		return s.closedPage(c, v)
	} else if err != nil {
		return err
	}
	s.metrics.order(o.Status)
	s.metrics.submissions.WithLabelValues(kind).Inc()
	s.endVisit(c, v)
	return c.Redirect(done, fiber.StatusSeeOther)
}

// handleDeclineForm serves GET /q/decline: are you sure?
func (s *Server) handleDeclineForm(c *fiber.Ctx) error {
	v := getVisit(c)
	title := v.def.Title.Get(v.lang, v.order.Language)
	dv := struct {
		base
		FormTitle string
	}{base: s.newBase(v.lang, s.T(v.lang, "decline.title"), "/q/decline"), FormTitle: title}
	dv.CSRF, dv.Page = v.session.CSRF, "decline"
	return s.render(c, fiber.StatusOK, "decline.html", dv)
}

// handleDecline serves POST /q/decline with confirm=yes: the patient will
// not answer; the order is declined and the session ends.
func (s *Server) handleDecline(c *fiber.Ctx) error {
	v := getVisit(c)
	if c.FormValue("confirm") != "yes" {
		return c.Redirect("/q/decline", fiber.StatusSeeOther)
	}
	now := s.now()
	v.draft.AddEvent(questionnaire.Event{Type: questionnaire.EventDeclined, At: now})
	r := &questionnaire.Response{OrderID: v.order.ID, Type: questionnaire.ResponseDeclined, Language: v.lang,
		Answers: []questionnaire.AnswerJSON{}, Scores: []questionnaire.ScoreResult{}, Events: v.draft.Events, SubmittedAt: now}
	return s.finish(c, v, r, questionnaire.EnvelopeDeclined, "/done?declined=1&lang="+v.lang)
}
