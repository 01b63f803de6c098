package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"time"

	"eprom/locales"
	"eprom/questionnaire"
	"eprom/store"

	"github.com/gofiber/fiber/v2"
)

// CodeLimits slow down guessing of codes. Zero fields get the defaults.
type CodeLimits struct {
	PerIP        int           // wrong codes one client may try within Window; default 10
	Window       time.Duration // default 15 minutes
	GlobalPerMin int           // wrong codes from everyone in a minute before all code entry is throttled; default 600
}

func (l *CodeLimits) defaults() {
	if l.PerIP == 0 {
		l.PerIP = 10
	}
	if l.Window == 0 {
		l.Window = 15 * time.Minute
	}
	if l.GlobalPerMin == 0 {
		l.GlobalPerMin = 600
	}
}

// globalKey counts wrong codes from everyone.
const globalKey = "code:*"

// registerPatientRoutes adds the patient pages (DESIGN.md §6).
func (s *Server) registerPatientRoutes(app *fiber.App) {
	app.Get("/", s.handleCodeForm)
	app.Post("/", s.handleCodeSubmit)
	app.Get("/c/:code", s.handleCodeLink)
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
	Demo   bool
	Langs  []langLink
	CSRF   string
	Script bool
	Errors []errorLink
}

// errorLink is one line of an error summary.
type errorLink struct {
	Anchor, Label, Message string
}

// newBase fills the layout's fields; path is where the language links go.
func (s *Server) newBase(lang, title, path string) base {
	b := base{Lang: lang, Title: title, Demo: s.cfg.Demo}
	for _, l := range locales.Languages {
		q := url.Values{"lang": {l}}
		b.Langs = append(b.Langs, langLink{Code: l, Label: langLabels[l], Href: path + "?" + q.Encode(), Current: l == lang})
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
	return t.ExecuteTemplate(c.Response().BodyWriter(), "layout", data)
}

// messageView is a page with a heading and a few paragraphs.
type messageView struct {
	base
	Heading      string
	Paragraphs   []string
	ShowCodeLink bool
}

// message renders a plain page of text in lang.
func (s *Server) message(c *fiber.Ctx, status int, lang, key string, codeLink bool, data ...any) error {
	v := messageView{base: s.newBase(lang, s.T(lang, key+".title"), "/"), ShowCodeLink: codeLink}
	v.Page = key
	v.Heading = v.Title
	v.Paragraphs = []string{s.T(lang, key+".text", data...)}
	return s.render(c, status, "message.html", v)
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
	cookie, field := c.Cookies(s.csrfCookie()), c.FormValue("csrf")
	if cookie == "" || subtle.ConstantTimeCompare([]byte(cookie), []byte(field)) != 1 {
		return s.renderCodeForm(c, fiber.StatusForbidden, lang, "", s.T(lang, "code.csrf"))
	}
	return s.enterCode(c, lang, c.FormValue("code"))
}

// handleCodeLink serves GET /c/:code: the link in the QR code.
func (s *Server) handleCodeLink(c *fiber.Ctx) error {
	code, _ := url.PathUnescape(c.Params("code"))
	return s.enterCode(c, s.language(c, ""), code)
}

// enterCode exchanges a code for a session, or says clearly why not.
func (s *Server) enterCode(c *fiber.Ctx, lang, typed string) error {
	ctx, now := c.UserContext(), s.now()
	limits := s.cfg.CodeLimits
	ipKey := "code:" + c.IP()
	if wait, err := s.codeWait(c, ipKey, now); err != nil {
		return err
	} else if wait > 0 {
		minutes := int(math.Ceil(wait.Minutes()))
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		return s.message(c, fiber.StatusTooManyRequests, lang, "limit", false, map[string]any{"Minutes": minutes})
	}
	code, ok := questionnaire.NormalizeCode(typed)
	if !ok {
		return s.renderCodeForm(c, fiber.StatusUnprocessableEntity, lang, typed, s.T(lang, "code.malformed"))
	}
	o, current, err := s.cfg.Orders.LookupCode(ctx, code)
	if questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND {
		if err := s.cfg.Limits.AddFailure(ctx, ipKey, limits.Window, now); err != nil {
			return err
		}
		if err := s.cfg.Limits.AddFailure(ctx, globalKey, time.Minute, now); err != nil {
			return err
		}
		return s.renderCodeForm(c, fiber.StatusNotFound, lang, typed, s.T(lang, "code.unknown"))
	} else if err != nil {
		return err
	}
	lang = s.language(c, o.Language)
	switch {
	case !current:
		return s.message(c, fiber.StatusGone, lang, "closed.reissued", false)
	case o.Expired(now):
		return s.message(c, fiber.StatusGone, lang, "closed.expired", false)
	case !o.Status.Open():
		return s.message(c, fiber.StatusGone, lang, closedMessage[o.Status], false)
	}
	sess := &store.Session{ID: randomToken(), OrderID: o.ID, CSRF: randomToken(), CreatedAt: now, SeenAt: now}
	if _, err := s.cfg.Patients.StartSession(ctx, sess, now); err != nil {
		if questionnaire.ErrorCode(err) == questionnaire.ECONFLICT {
			return s.message(c, fiber.StatusGone, lang, "closed.expired", false)
		}
		return err
	}
	s.setCookie(c, s.sessionCookie(), sess.ID, 0)
	s.clearCookie(c, s.csrfCookie())
	return c.Redirect("/q", fiber.StatusSeeOther)
}

// codeWait says how long a client must wait before trying a code again:
// after PerIP wrong codes in Window, or while wrong codes from everyone
// exceed GlobalPerMin in a minute.
func (s *Server) codeWait(c *fiber.Ctx, ipKey string, now time.Time) (time.Duration, error) {
	limits := s.cfg.CodeLimits
	ctx := c.UserContext()
	n, oldest, err := s.cfg.Limits.Failures(ctx, ipKey, limits.Window, now)
	if err != nil {
		return 0, err
	}
	if n >= limits.PerIP {
		s.cfg.Logger.Warn("code entry limited", "reason", "per-client limit", "failures", n)
		return oldest.Add(limits.Window).Sub(now), nil
	}
	n, oldest, err = s.cfg.Limits.Failures(ctx, globalKey, time.Minute, now)
	if err != nil {
		return 0, err
	}
	if n >= limits.GlobalPerMin {
		s.cfg.Logger.Error("code failure rate alarm: all code entry throttled", "failures_last_minute", n)
		return oldest.Add(time.Minute).Sub(now), nil
	}
	return 0, nil
}

// handleDone serves GET /done: thanks, and the page can be closed.
func (s *Server) handleDone(c *fiber.Ctx) error {
	lang := s.language(c, "")
	key := "done"
	if c.Query("declined") != "" {
		key = "done.declined"
	}
	v := messageView{base: s.newBase(lang, s.T(lang, key+".title"), "/done")}
	v.Page = key
	v.Heading = v.Title
	v.Paragraphs = []string{s.T(lang, key+".text"), s.T(lang, "done.close")}
	return s.render(c, fiber.StatusOK, "message.html", v)
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
	sess, err := s.cfg.Patients.Session(ctx, id, now)
	if questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND {
		s.clearCookie(c, s.sessionCookie())
		return s.message(c, fiber.StatusUnauthorized, lang, "session.ended", true)
	} else if err != nil {
		return err
	}
	o, err := s.cfg.Orders.Order(ctx, sess.OrderID)
	if err != nil {
		return err
	}
	lang = s.language(c, o.Language)
	if !o.Status.Open() || o.Expired(now) {
		s.cfg.Patients.EndSession(ctx, id)
		s.clearCookie(c, s.sessionCookie())
		if o.Status == questionnaire.StatusSubmitted || o.Status == questionnaire.StatusDelivered {
			return c.Redirect("/done", fiber.StatusSeeOther)
		}
		key := closedMessage[o.Status]
		if o.Expired(now) || key == "" {
			key = "closed.expired"
		}
		return s.message(c, fiber.StatusGone, lang, key, false)
	}
	if c.Method() == fiber.MethodPost && subtle.ConstantTimeCompare([]byte(c.FormValue("csrf")), []byte(sess.CSRF)) != 1 {
		s.cfg.Logger.Warn("csrf token mismatch", "route", c.Route().Path)
		return s.message(c, fiber.StatusForbidden, lang, "session.csrf", false)
	}
	def, err := s.cfg.Catalogue.Get(o.Questionnaire.ID, o.Questionnaire.Version)
	if err != nil {
		return fmt.Errorf("order %s: definition: %w", o.ID, err)
	}
	draft, err := s.cfg.Patients.Draft(ctx, o.ID)
	if err != nil {
		return err
	}
	c.Locals(visitKey, &visit{session: sess, order: o, def: def, draft: draft, lang: lang})
	return c.Next()
}

func getVisit(c *fiber.Ctx) *visit { return c.Locals(visitKey).(*visit) }

// endVisit ends the session: the cookie goes, and so does the record.
func (s *Server) endVisit(c *fiber.Ctx, v *visit) {
	if err := s.cfg.Patients.EndSession(c.UserContext(), v.session.ID); err != nil {
		s.cfg.Logger.Error("end session", "err", err.Error())
	}
	s.clearCookie(c, s.sessionCookie())
}
