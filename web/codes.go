package web

import (
	"context"
	"math"
	"strconv"
	"time"

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

// enterCode exchanges a code for a session, or says clearly why not.
// A wrong code counts against the client and against everyone; the count
// is reserved before the lookup, so that a burst of guesses cannot slip
// past it, and given back when the code is real.
func (s *Server) enterCode(c *fiber.Ctx, lang, typed string) error {
	ctx, now := c.UserContext(), s.now()
	code, ok := questionnaire.NormalizeCode(typed)
	if !ok {
		return s.renderCodeForm(c, fiber.StatusUnprocessableEntity, lang, typed, s.T(lang, "code.malformed"))
	}
	limits := s.cfg.CodeLimits
	ipKey := "code:" + s.clientIP(c)
	ok, oldest, err := s.cfg.Limits.Reserve(ctx, ipKey, limits.PerIP, limits.Window, now)
	if err != nil {
		return err
	}
	if !ok {
		s.metrics.rateLimited.WithLabelValues("client").Inc()
		s.cfg.Logger.Warn("code entry limited", "reason", "per-client limit")
		return s.tooMany(c, lang, oldest.Add(limits.Window).Sub(now))
	}
	ok, oldest, err = s.cfg.Limits.Reserve(ctx, globalKey, limits.GlobalPerMin, time.Minute, now)
	if err != nil {
		return err
	}
	if !ok {
		s.release(ctx, ipKey, now)
		s.metrics.rateLimited.WithLabelValues("global").Inc()
		s.cfg.Logger.Error("code failure rate alarm: all code entry throttled", "limit_per_minute", limits.GlobalPerMin)
		return s.tooMany(c, lang, oldest.Add(time.Minute).Sub(now))
	}
	o, current, err := s.cfg.Orders.LookupCode(ctx, code)
	if questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND {
		s.metrics.codeFailures.Inc()
		return s.renderCodeForm(c, fiber.StatusNotFound, lang, typed, s.T(lang, "code.unknown"))
	}
	// A real code, or a failure of ours: not a guess.
	s.release(ctx, ipKey, now)
	s.release(ctx, globalKey, now)
	if err != nil {
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
	// The same link opened again in this browser (another tab, a reload of
	// the QR page) keeps the session, so the first tab keeps working.
	if id := c.Cookies(s.sessionCookie()); id != "" {
		if sess, err := s.cfg.Patients.Session(ctx, id, now); err == nil && sess.OrderID == o.ID && sess.CodeGen == o.CodeGeneration {
			return c.Redirect("/q", fiber.StatusSeeOther)
		}
	}
	sess := &store.Session{ID: randomToken(), OrderID: o.ID, CodeGen: o.CodeGeneration, CSRF: randomToken(), CreatedAt: now, SeenAt: now}
	opened, err := s.cfg.Patients.StartSession(ctx, sess, now)
	if err != nil {
		if questionnaire.ErrorCode(err) == questionnaire.ECONFLICT {
			return s.message(c, fiber.StatusGone, lang, "closed.expired", false)
		}
		return err
	}
	if o.Status == questionnaire.StatusOrdered {
		s.metrics.order(opened.Status)
	}
	s.setCookie(c, s.sessionCookie(), sess.ID, 0)
	s.clearCookie(c, s.csrfCookie())
	return c.Redirect("/q", fiber.StatusSeeOther)
}

// tooMany answers 429 with Retry-After and a page that says how long.
func (s *Server) tooMany(c *fiber.Ctx, lang string, wait time.Duration) error {
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	return s.message(c, fiber.StatusTooManyRequests, lang, "limit", false, map[string]any{"Minutes": int(math.Ceil(wait.Minutes()))})
}

// release gives back a reserved failure; a failure to do so is logged (it
// leaves the window by itself).
func (s *Server) release(ctx context.Context, key string, at time.Time) {
	if err := s.cfg.Limits.Release(ctx, key, at); err != nil {
		s.cfg.Logger.Warn("release a code attempt", "err", err.Error())
	}
}
