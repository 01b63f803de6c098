package web

import (
	"context"
	"math"
	"strconv"
	"sync"
	"time"

	"eprom/questionnaire"
	"eprom/store"

	"github.com/gofiber/fiber/v2"
)

// CodeLimits slow down guessing of codes (README, "Code limits", has the
// arithmetic). Two counts, both of codes that no order has:
//
//   - per client address (an IPv4 address, an IPv6 /64): PerAddress within
//     Window, then that address is refused until the first of them leaves
//     the window;
//   - a global budget, deployment-wide in Redis mode: at most GlobalPerMin
//     unknown codes are looked up in a minute, from everyone. A code is
//     reserved against both before it is looked up, so that a burst cannot
//     slip past, and given back when it is real.
//
// When the budget is spent (the alarm), an attempt from an address with
// fewer than Suspect failures of its own waits for a free slot (a patient
// gets in, a few seconds later); one from an address with more is refused
// at once. Zero fields get the defaults.
type CodeLimits struct {
	// PerAddress is how many unknown codes one address may try within
	// Window. Default 100 (NIST SP 800-63B allows at most 100 consecutive
	// failures), so that patients behind one address (clinic Wi-Fi, a
	// carrier's NAT) do not lock each other out.
	PerAddress int
	// Window is the per-address window. Default 1 hour, which is also the
	// longest: the sweeper forgets addresses idle for an hour.
	Window time.Duration
	// Suspect is how many failures of its own within Window make an
	// address's attempts refused at once during the alarm. Default 3.
	Suspect int
	// GlobalPerMin is the global budget, a minute's unknown codes.
	// Default 200: the most that keeps the expected time to hit one of
	// 1,000,000 open 50-bit codes above 10 years.
	GlobalPerMin int
	// GlobalWindow is the budget's sliding window: at most
	// GlobalPerMin×GlobalWindow/1 min unknown codes in any GlobalWindow.
	// Short, so that a burst spends only seconds of it and a waiting
	// patient finds a free slot within GlobalWindow. Default 6 seconds.
	GlobalWindow time.Duration
	// MaxWait is how long an attempt waits, in all, for a free slot of the
	// budget before it is refused. Default 8 seconds.
	MaxWait time.Duration
	// Sleep waits d, or until ctx ends. Default: a timer. Tests give one
	// that moves their clock.
	Sleep func(ctx context.Context, d time.Duration) error

	perWindow int        // the budget per GlobalWindow
	alarm     *codeAlarm // of this server
}

func (l *CodeLimits) defaults() {
	if l.PerAddress <= 0 {
		l.PerAddress = 100
	}
	if l.Window <= 0 || l.Window > time.Hour {
		l.Window = time.Hour
	}
	if l.Suspect <= 0 {
		l.Suspect = 3
	}
	if l.GlobalPerMin <= 0 {
		l.GlobalPerMin = 200
	}
	if l.GlobalWindow <= 0 {
		l.GlobalWindow = 6 * time.Second
	}
	if l.MaxWait <= 0 {
		l.MaxWait = 8 * time.Second
	}
	if l.Sleep == nil {
		l.Sleep = sleep
	}
	l.perWindow = int(int64(l.GlobalPerMin) * int64(l.GlobalWindow) / int64(time.Minute))
	if l.perWindow < 1 {
		// Fewer than one a window: one a window, the window stretched so
		// that the rate stays within GlobalPerMin.
		l.perWindow = 1
		l.GlobalWindow = (time.Minute + time.Duration(l.GlobalPerMin) - 1) / time.Duration(l.GlobalPerMin)
	}
	l.alarm = &codeAlarm{}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// globalKey counts unknown codes from everyone.
const globalKey = "code:*"

// Polling for a free slot of the budget: at the time the oldest leaves
// the window, but at least every pollMax (a real code gives its slot back
// early) and not more often than every pollMin.
const (
	pollMin = 10 * time.Millisecond
	pollMax = time.Second
)

// refusal says why a code entry is refused: the limit (the metric's label)
// and when to come back.
type refusal struct {
	limit string // "client" or "global"
	wait  time.Duration
}

// enterCode exchanges a code for a session, or says clearly why not. A
// code from a link (link true) may have been followed by a link preview,
// so its session is pending: the order is opened by the first page view.
func (s *Server) enterCode(c *fiber.Ctx, lang, typed string, link bool) error {
	ctx := c.UserContext()
	code, ok := questionnaire.NormalizeCode(typed)
	if !ok {
		return s.renderCodeForm(c, fiber.StatusUnprocessableEntity, lang, typed, s.T(lang, "code.malformed"))
	}
	key := "code:" + limitKey(s.clientAddr(c))
	at, no, err := s.admit(ctx, key)
	if err != nil {
		return err
	}
	if no != nil {
		return s.tooMany(c, lang, no)
	}
	o, current, err := s.cfg.Orders.LookupCode(ctx, code)
	if questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND {
		s.metrics.codeFailures.Inc()
		return s.renderCodeForm(c, fiber.StatusNotFound, lang, typed, s.T(lang, "code.unknown"))
	}
	// A real code, or a failure of ours: not a guess.
	s.release(ctx, key, at)
	s.release(ctx, globalKey, at)
	if err != nil {
		return err
	}
	now := s.now()
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
		if sess, err := s.session(ctx, id, now); err == nil && sess.OrderID == o.ID && sess.CodeGen == o.CodeGeneration {
			return c.Redirect("/q", fiber.StatusSeeOther)
		}
	}
	sess := &store.Session{ID: randomToken(), OrderID: o.ID, CodeGen: o.CodeGeneration, CSRF: randomToken(), CreatedAt: now, SeenAt: now, Pending: link}
	if link && s.cfg.Links != nil && o.Status == questionnaire.StatusOrdered {
		// Pending, in the cookie alone (pending.go): nothing is written
		// until a person sees a page.
		s.setCookie(c, s.sessionCookie(), s.pendingCookie(sess), 0)
		s.clearCookie(c, s.csrfCookie())
		s.clearFeedback(c)
		return c.Redirect("/q", fiber.StatusSeeOther)
	}
	opened, err := s.cfg.Patients.StartSession(ctx, sess, now)
	if err != nil {
		if questionnaire.ErrorCode(err) == questionnaire.ECONFLICT {
			return s.message(c, fiber.StatusGone, lang, "closed.expired", false)
		}
		return err
	}
	if o.Status == questionnaire.StatusOrdered && opened.Status != o.Status {
		s.metrics.order(opened.Status)
	}
	s.setCookie(c, s.sessionCookie(), sess.ID, 0)
	s.clearCookie(c, s.csrfCookie())
	s.clearFeedback(c) // a new form: nothing of an earlier one's results
	return c.Redirect("/q", fiber.StatusSeeOther)
}

// admit reserves a failure of the address key and one of the global
// budget, both at the time it returns, before a code is looked up; or it
// says why not. The caller gives both back when the code is real.
func (s *Server) admit(ctx context.Context, key string) (time.Time, *refusal, error) {
	l := &s.cfg.CodeLimits
	now := s.now()
	// Fewer than Suspect failures of its own: a patient's address, as far
	// as one can tell. More: the failure counts against PerAddress.
	suspect := false
	ok, _, err := s.cfg.Limits.Reserve(ctx, key, min(l.Suspect, l.PerAddress), l.Window, now)
	if err != nil {
		return now, nil, err
	}
	if !ok {
		suspect = true
		ok, oldest, err := s.cfg.Limits.Reserve(ctx, key, l.PerAddress, l.Window, now)
		if err != nil {
			return now, nil, err
		}
		if !ok {
			return now, s.refuse(now, "client", oldest.Add(l.Window).Sub(now), alarmClient), nil
		}
		// During the alarm the free slots are for the waiting patients.
		if until, on := l.alarm.on(now); on {
			s.release(ctx, key, now)
			return now, s.refuse(now, "global", until.Sub(now), alarmRefused), nil
		}
	}
	ok, oldest, err := s.cfg.Limits.Reserve(ctx, globalKey, l.perWindow, l.GlobalWindow, now)
	if err != nil || ok {
		if err != nil {
			s.release(ctx, key, now)
		}
		return now, nil, err
	}
	l.alarm.raise(now, l.GlobalWindow)
	s.note(now, alarmSpent)
	s.release(ctx, key, now)
	if suspect {
		return now, s.refuse(now, "global", l.GlobalWindow, alarmRefused), nil
	}
	// Wait for a free slot, without holding the address's reservation, so
	// that patients waiting behind one address do not make it suspect.
	for waited := time.Duration(0); ; {
		if waited >= l.MaxWait {
			return now, s.refuse(now, "global", oldest.Add(l.GlobalWindow).Sub(now), alarmGaveUp), nil
		}
		d := min(max(oldest.Add(l.GlobalWindow).Sub(now), pollMin), pollMax, l.MaxWait-waited)
		// A request held here cannot join a commit: not counted as in
		// flight meanwhile, it keeps no write waiting for it (InFlight).
		s.inflight.Add(-1)
		err := l.Sleep(ctx, d)
		s.inflight.Add(1)
		if err != nil {
			return now, nil, err
		}
		waited += d
		now = s.now()
		if ok, oldest, err = s.cfg.Limits.Reserve(ctx, globalKey, l.perWindow, l.GlobalWindow, now); err != nil {
			return now, nil, err
		}
		if ok {
			break
		}
		l.alarm.raise(now, l.GlobalWindow)
	}
	ok, oldest, err = s.cfg.Limits.Reserve(ctx, key, l.PerAddress, l.Window, now)
	if err != nil || !ok {
		s.release(ctx, globalKey, now)
		if err != nil {
			return now, nil, err
		}
		return now, s.refuse(now, "client", oldest.Add(l.Window).Sub(now), alarmClient), nil
	}
	s.metrics.rateLimited.WithLabelValues("slowed").Inc()
	s.note(now, alarmSlowed)
	return now, nil, nil
}

// refuse counts a refusal: in the metric by limit, in the log by kind.
func (s *Server) refuse(now time.Time, limit string, wait time.Duration, kind int) *refusal {
	s.metrics.rateLimited.WithLabelValues(limit).Inc()
	s.note(now, kind)
	return &refusal{limit: limit, wait: wait}
}

// tooMany answers 429 with Retry-After and a page that says how long, and
// leads back to the code form.
func (s *Server) tooMany(c *fiber.Ctx, lang string, r *refusal) error {
	wait := max(r.wait, time.Second)
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	return s.message(c, fiber.StatusTooManyRequests, lang, "limit", true, map[string]any{"Minutes": int(math.Ceil(wait.Minutes()))})
}

// release gives back a reserved failure; a failure to do so is logged (it
// leaves the window by itself).
func (s *Server) release(ctx context.Context, key string, at time.Time) {
	if err := s.cfg.Limits.Release(ctx, key, at); err != nil {
		s.cfg.Logger.Warn("release a code attempt", "err", err.Error())
	}
}

// What the code limits did, for the log.
const (
	alarmSpent   = iota // an attempt found the global budget spent
	alarmSlowed         // ... waited, and was let through
	alarmGaveUp         // ... waited MaxWait in vain, and was refused
	alarmRefused        // refused during the alarm
	alarmClient         // refused: its address is over PerAddress
	alarmKinds
)

// codeAlarm knows whether the global budget was spent lately (in this
// process), and keeps the log to a line a minute, with the counts since
// the last line.
type codeAlarm struct {
	mu     sync.Mutex
	until  time.Time // the budget was found spent within a GlobalWindow before
	next   time.Time // the earliest time for the next line
	since  time.Time // the counts are from since
	counts [alarmKinds]int
}

// raise notes that the budget was found spent at now.
func (a *codeAlarm) raise(now time.Time, window time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if until := now.Add(window); until.After(a.until) {
		a.until = until
	}
}

// on says whether the alarm is on at now, and till when.
func (a *codeAlarm) on(now time.Time) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.until, now.Before(a.until)
}

// note counts what the limits did, and logs the counts once a minute.
// Never a code, an address or anything of a patient.
func (s *Server) note(now time.Time, kind int) {
	a := s.cfg.CodeLimits.alarm
	a.mu.Lock()
	if a.since.IsZero() {
		a.since = now
	}
	a.counts[kind]++
	if now.Before(a.next) {
		a.mu.Unlock()
		return
	}
	n, since := a.counts, a.since
	a.counts, a.since, a.next = [alarmKinds]int{}, now, now.Add(time.Minute)
	a.mu.Unlock()

	l := s.cfg.CodeLimits
	if n[alarmSpent]+n[alarmSlowed]+n[alarmGaveUp]+n[alarmRefused] == 0 {
		s.cfg.Logger.Warn("code entry limited: addresses over their limit of unknown codes",
			"refused", n[alarmClient], "since", since, "limit_per_address", l.PerAddress, "window", l.Window.String())
		return
	}
	s.cfg.Logger.Warn("code failure rate alarm: the global budget of unknown codes is spent",
		"found_spent", n[alarmSpent], "slowed", n[alarmSlowed], "gave_up", n[alarmGaveUp],
		"refused", n[alarmRefused], "refused_per_address", n[alarmClient], "since", since,
		"budget_per_minute", l.GlobalPerMin, "budget", strconv.Itoa(l.perWindow)+" per "+l.GlobalWindow.String())
}
