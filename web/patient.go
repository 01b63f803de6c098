package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"time"

	"eprom/locales"
	"eprom/questionnaire"
	"eprom/store"

	"github.com/gofiber/fiber/v2"
)

// registerPatientRoutes adds the patient pages (DESIGN.md §6).
func (s *Server) registerPatientRoutes(app *fiber.App) {
	app.Get("/", s.handleCodeForm)
	app.Post("/", s.handleCodeSubmit)
	app.Get("/c/:code", s.handleCodeLink)
	app.Get("/c", func(c *fiber.Ctx) error { return c.Redirect("/", fiber.StatusSeeOther) })
	app.Get("/done", s.handleDone)
	q := app.Group("/q", s.patientSession)
	q.Get("", s.handlePageShow)
	q.Post("", s.handlePagePost)
	q.Get("/review", s.handleReview)
	q.Post("/submit", s.handleSubmit)
	q.Get("/decline", s.handleDeclineForm)
	q.Post("/decline", s.handleDecline)
}

// Cookie names; the __Host- prefix binds a cookie to this host and https.
func (s *Server) sessionCookie() string {
	if s.secure {
		return "__Host-eprom"
	}
	return "eprom"
}

func (s *Server) csrfCookie() string {
	if s.secure {
		return "__Host-eprom-csrf"
	}
	return "eprom-csrf"
}

const langCookie = "eprom-lang"

// randomToken returns 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) setCookie(c *fiber.Ctx, name, value string, maxAge int) {
	c.Cookie(&fiber.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HTTPOnly: true, Secure: s.secure, SameSite: fiber.CookieSameSiteLaxMode,
	})
}

func (s *Server) clearCookie(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{
		Name: name, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0),
		HTTPOnly: true, Secure: s.secure, SameSite: fiber.CookieSameSiteLaxMode,
	})
}

// language picks the user interface language: ?lang= (remembered in a
// cookie), then the cookie, then the order's language, then nb.
func (s *Server) language(c *fiber.Ctx, orderLang string) string {
	if l := c.Query("lang"); locales.Supported(l) {
		c.Cookie(&fiber.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
			Secure: s.secure, SameSite: fiber.CookieSameSiteLaxMode})
		return l
	}
	if l := c.Cookies(langCookie); locales.Supported(l) {
		return l
	}
	if locales.Supported(orderLang) {
		return orderLang
	}
	return locales.Default
}

// langLink is one entry of the language switch.
type langLink struct {
	Code, Label, Href string
	Current           bool
}

var langLabels = map[string]string{"nb": "Bokmål", "nn": "Nynorsk", "en": "English"}

// base is what every page's layout shows.
type base struct {
	Page   string // what the page is, for tests and styles: code, page-2, review, done…
	Lang   string
	Title  string
	Plain  string // the title without the errors' prefix, for the script once they are put right
	Demo   bool
	Langs  []langLink
	CSRF   string
	Script bool
	Errors []errorLink
}

// errorLink is one line of an error summary.
type errorLink struct {
	Href           string // where the question can be answered, when not on this page
	Anchor         string // the field's id on this page
	Label, Message string
}

// newBase fills the layout's fields; path (with any query) is where the
// language links go, so switching keeps the patient's place.
func (s *Server) newBase(lang, title, path string) base {
	b := base{Lang: lang, Title: title, Demo: s.cfg.Demo}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for _, l := range locales.Languages {
		b.Langs = append(b.Langs, langLink{Code: l, Label: langLabels[l], Href: path + sep + "lang=" + url.QueryEscape(l), Current: l == lang})
	}
	return b
}

// render executes a page template with the given status.
func (s *Server) render(c *fiber.Ctx, status int, name string, data any) error {
	t := s.templates[name]
	if t == nil {
		return fmt.Errorf("web: no template %s", name)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Status(status)
	start := time.Now()
	err := t.ExecuteTemplate(c.Response().BodyWriter(), "layout", data)
	s.metrics.pageRender.WithLabelValues(name).Observe(time.Since(start).Seconds())
	return err
}

// messageView is a page with a heading and a few paragraphs.
type messageView struct {
	base
	Heading      string
	Paragraphs   []string
	ShowCodeLink bool
	// CodeLinkMinor makes the way to the code form a plain link, where the
	// page says there is nothing more to do (sent, declined, cancelled).
	CodeLinkMinor bool
	Code          string // the saved page: the code to go on with
	ContinueHref  string // and the link that goes on at once
	ContinueText  string
	Help          *helpView    // the done page: where to get help now
	Contact       string       // the done page after a reservation: whom to ask
	Changes       []changeView // the done page: the change of the scores the patient may see
}

// message renders a plain page of text in lang.
func (s *Server) message(c *fiber.Ctx, status int, lang, key string, codeLink bool, data ...any) error {
	// A closed code and a refusal are not dead ends: the code form is a
	// link away (a newer code, another form, a second try).
	codeLink = codeLink || strings.HasPrefix(key, "closed.") || key == "limit"
	v := messageView{base: s.newBase(lang, s.T(lang, key+".title"), "/"), ShowCodeLink: codeLink}
	v.CodeLinkMinor = key == "closed.submitted" || key == "closed.declined" || key == "closed.cancelled"
	v.Page = key
	v.Heading = v.Title
	v.Paragraphs = []string{s.T(lang, key+".text", data...)}
	return s.writeHTML(c, status, "message.html", func(b *bytes.Buffer) { s.writeMessage(b, &v) })
}

// T translates for the patient pages.
func (s *Server) T(lang, id string, data ...any) string { return s.cfg.Locales.T(lang, id, data...) }

// codeView is the code form.
type codeView struct {
	base
	Code    string
	Message string
}

// handleCodeForm serves GET /: the code form.
func (s *Server) handleCodeForm(c *fiber.Ctx) error {
	return s.renderCodeForm(c, fiber.StatusOK, s.language(c, ""), "", "")
}

func (s *Server) renderCodeForm(c *fiber.Ctx, status int, lang, code, msg string) error {
	token := c.Cookies(s.csrfCookie())
	if token == "" {
		token = randomToken()
		s.setCookie(c, s.csrfCookie(), token, 0)
	}
	v := codeView{base: s.newBase(lang, s.T(lang, "code.title"), "/"), Code: code, Message: msg}
	v.Page = "code"
	v.CSRF = token
	return s.render(c, status, "code.html", v)
}

// handleCodeSubmit serves POST /: a typed code.
func (s *Server) handleCodeSubmit(c *fiber.Ctx) error {
	lang := s.language(c, "")
	cookie, field := c.Cookies(s.csrfCookie()), postValue(c, "csrf")
	if cookie == "" || subtle.ConstantTimeCompare([]byte(cookie), []byte(field)) != 1 {
		return s.renderCodeForm(c, fiber.StatusForbidden, lang, "", s.T(lang, "code.csrf"))
	}
	return s.enterCode(c, lang, postValue(c, "code"), false)
}

// handleCodeLink serves GET /c/:code: the link in the QR code.
func (s *Server) handleCodeLink(c *fiber.Ctx) error {
	if c.Method() == fiber.MethodHead {
		// A link checker or preview asks whether the page is there: it
		// is, and nothing is looked up, opened or counted.
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.SendStatus(fiber.StatusOK)
	}
	code, _ := url.PathUnescape(c.Params("code"))
	return s.enterCode(c, s.language(c, ""), code, true)
}

// doneCookie carries, from the last post to /done, which client the order
// was from (for its help line and contact) and a reservation; never in the
// address, which would tell the browser's history whose patient this is.
const doneCookie = "eprom-done"

// handleDone serves GET /done: thanks, where to get help now, and the page
// can be closed.
func (s *Server) handleDone(c *fiber.Ctx) error {
	lang := s.language(c, "")
	key, path := "done", "/done"
	if c.Query("declined") != "" {
		key, path = "done.declined", "/done?declined=1"
	}
	client, reason, _ := strings.Cut(c.Cookies(doneCookie), "|")
	v := messageView{base: s.newBase(lang, s.T(lang, key+".title"), path)}
	v.Page = key
	v.Heading = v.Title
	v.Paragraphs = []string{s.T(lang, key+".text")}
	if key == "done.declined" && reason == questionnaire.DeclineReservation {
		v.Paragraphs = append(v.Paragraphs, s.T(lang, "done.reservation"))
		v.Contact = s.reservationContact(lang, client)
	}
	if key == "done" {
		v.Changes = s.feedbackChanges(c, lang)
	}
	v.Paragraphs = append(v.Paragraphs, s.T(lang, "done.close"))
	h := s.help(lang, client)
	v.Help = &h
	return s.writeHTML(c, fiber.StatusOK, "message.html", func(b *bytes.Buffer) { s.writeMessage(b, &v) })
}

// reservationContact says whom to ask to have one's information deleted.
func (s *Server) reservationContact(lang, client string) string {
	if ct := s.contact(client, true); ct != nil {
		return s.contactLine(lang, "reservation.contact", ct)
	}
	return s.T(lang, "reservation.clinician")
}

// closedMessage says why a closed order's code or session no longer works.
var closedMessage = map[questionnaire.Status]string{
	questionnaire.StatusSubmitted: "closed.submitted",
	questionnaire.StatusDelivered: "closed.submitted",
	questionnaire.StatusDeclined:  "closed.declined",
	questionnaire.StatusCancelled: "closed.cancelled",
	questionnaire.StatusExpired:   "closed.expired",
}

// visit is what patientSession loads for the /q pages.
type visit struct {
	session *store.Session
	order   *questionnaire.Order
	def     *questionnaire.Definition
	draft   *questionnaire.Draft
	lang    string

	// The draft's answers decoded, and their enabled set, once per draft
	// (answers and enabled): a page post needed them four times.
	decodedFrom *questionnaire.Draft
	decoded     questionnaire.Answers
	enabledSet  map[string]bool
}

const visitKey = "visit"

// patientSession loads the session, its order, the definition and the
// draft for every /q page, and checks the CSRF token of every POST.
func (s *Server) patientSession(c *fiber.Ctx) error {
	ctx, now := c.UserContext(), s.now()
	id := c.Cookies(s.sessionCookie())
	lang := s.language(c, "")
	if id == "" {
		return s.message(c, fiber.StatusUnauthorized, lang, "session.none", true)
	}
	cookie := id
	sess, err := s.session(ctx, cookie, now)
	if questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND {
		s.clearCookie(c, s.sessionCookie())
		return s.message(c, fiber.StatusUnauthorized, lang, "session.ended", true)
	} else if err != nil {
		return err
	}
	id = sess.ID
	o, err := s.cfg.Orders.Order(ctx, sess.OrderID)
	if err != nil {
		return err
	}
	lang = s.language(c, o.Language)
	if sess.Pending && strings.HasPrefix(cookie, pendingPrefix) && o.Status != questionnaire.StatusOrdered {
		// A pending session of the cookie alone opens an order that is
		// not yet opened; once it is, the session it began is stored, and
		// a copy of the cookie is no session (pending.go).
		s.clearCookie(c, s.sessionCookie())
		return s.message(c, fiber.StatusUnauthorized, lang, "session.ended", true)
	}
	if sess.CodeGen != o.CodeGeneration {
		// The code was reissued (a lost slip): what it opened ends too.
		s.endSession(ctx, id)
		s.clearCookie(c, s.sessionCookie())
		return s.message(c, fiber.StatusGone, lang, "closed.reissued", true)
	}
	if !o.Status.Open() || o.Expired(now) {
		s.clearCookie(c, s.sessionCookie())
		if c.Method() == fiber.MethodPost && c.Path() == "/q/submit" && sentBy(o, sess.ID) {
			// A Send again from the session that sent it (a double click
			// that came late): thanks; the record stays for a third click.
			return c.Redirect("/done?lang="+lang, fiber.StatusSeeOther)
		}
		s.endSession(ctx, id)
		key := closedMessage[o.Status]
		if o.Expired(now) || key == "" {
			key = "closed.expired"
		}
		return s.message(c, fiber.StatusGone, lang, key, true)
	}
	if c.Method() == fiber.MethodPost && subtle.ConstantTimeCompare([]byte(postValue(c, "csrf")), []byte(sess.CSRF)) != 1 {
		s.cfg.Logger.Warn("csrf token mismatch", "route", c.Route().Path)
		v := messageView{base: s.newBase(lang, s.T(lang, "session.csrf.title"), "/q")}
		v.Page, v.Heading = "session.csrf", v.Title
		v.Paragraphs = []string{s.T(lang, "session.csrf.text")}
		v.ContinueHref, v.ContinueText = "/q", s.T(lang, "session.csrf.back")
		return s.writeHTML(c, fiber.StatusForbidden, "message.html", func(b *bytes.Buffer) { s.writeMessage(b, &v) })
	}
	preview := c.Method() != fiber.MethodPost && (c.Method() != fiber.MethodGet || prefetched(c))
	if sess.Pending && !preview {
		// The first page a person sees, or the first form they send (its
		// page was prerendered): the order is opened now, not when a link
		// preview followed the link.
		opened, err := s.cfg.Patients.OpenSession(ctx, sess, now)
		if questionnaire.ErrorCode(err) == questionnaire.ECONFLICT {
			s.endSession(ctx, id)
			s.clearCookie(c, s.sessionCookie())
			return s.message(c, fiber.StatusGone, lang, "closed.expired", true)
		} else if err != nil {
			return err
		}
		if o.Status == questionnaire.StatusOrdered && opened.Status != o.Status {
			s.metrics.order(opened.Status)
		}
		o = opened
	}
	if cookie != id && !sess.Pending { // the cookie held a pending session, stored now: it names the stored one
		s.setCookie(c, s.sessionCookie(), id, 0)
	}
	def, err := s.cfg.Catalogue.Get(o.Questionnaire.ID, o.Questionnaire.Version)
	if err != nil {
		return fmt.Errorf("order %s: definition: %w", o.ID, err)
	}
	draft, err := s.cfg.Patients.Draft(ctx, o.ID)
	if err != nil {
		return err
	}
	if sess.Pending {
		draft.Start(o) // a prerendered page shows the prefill, as the stored draft will once opened
	}
	c.Locals(visitKey, &visit{session: sess, order: o, def: def, draft: draft, lang: lang})
	return c.Next()
}

// prefetched reports whether a request is a browser's prefetch or
// prerender of a page, or a preview, rather than a person looking at it.
func prefetched(c *fiber.Ctx) bool {
	for _, h := range []string{"Sec-Purpose", "Purpose", "X-Purpose", "X-Moz"} {
		v := strings.ToLower(c.Get(h))
		if strings.Contains(v, "prefetch") || strings.Contains(v, "prerender") || strings.Contains(v, "preview") {
			return true
		}
	}
	return false
}

func getVisit(c *fiber.Ctx) *visit { return c.Locals(visitKey).(*visit) }

// closedPage answers a patient whose order closed while they were on it
// (cancelled, expired, or submitted in another tab): the session ends and
// the page says what happened. sending is true when this request is a
// Send (a double click, a replayed post): then a submitted order means
// thanks; otherwise it was sent from elsewhere, and the page says so
// rather than thank this device for what it did not send.
func (s *Server) closedPage(c *fiber.Ctx, v *visit, sending bool) error {
	s.clearCookie(c, s.sessionCookie())
	o, err := s.cfg.Orders.Order(c.UserContext(), v.order.ID)
	if err != nil {
		return err
	}
	if sending && sentBy(o, v.session.ID) {
		return c.Redirect("/done?lang="+v.lang, fiber.StatusSeeOther)
	}
	s.endSession(c.UserContext(), v.session.ID)
	key := closedMessage[o.Status]
	if key == "" || o.Expired(s.now()) {
		key = "closed.expired"
	}
	return s.message(c, fiber.StatusGone, v.lang, key, true)
}

// sentBy reports whether the order was sent (answered) from the session.
func sentBy(o *questionnaire.Order, sessionID string) bool {
	return (o.Status == questionnaire.StatusSubmitted || o.Status == questionnaire.StatusDelivered) && o.ClosedBy == deviceOf(sessionID)
}

// endVisit ends the session: the cookie goes, and so does the record.
func (s *Server) endVisit(c *fiber.Ctx, v *visit) {
	s.endSession(c.UserContext(), v.session.ID)
	s.clearCookie(c, s.sessionCookie())
}

// endSession deletes a session record; a failure is logged (the record
// lapses by itself after IdleTimeout).
func (s *Server) endSession(ctx context.Context, id string) {
	if err := s.cfg.Patients.EndSession(ctx, id); err != nil {
		s.cfg.Logger.Error("end session", "err", err.Error())
	}
}
