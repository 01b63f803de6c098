// Package delivery pushes messages from the outbox to where they go: for an
// envelope, POST {the client's registryUrl} with the JWS as body
// (application/jose) and the message id as Idempotency-Key. 2xx is
// delivery; 5xx, 408, 425, 429 and network errors are retried for ever with
// exponential backoff and full jitter; any other answer puts the message
// in the dead-letter list. Each destination has a backoff of its own, and
// none may take every delivery slot, so one registry being down does not
// slow another's deliveries.
package delivery

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"eprom/store"
)

// Holder is the lease holder name of the push worker.
const Holder = "push"

// Route is where messages of one kind and destination are pushed.
type Route struct {
	URL         string // required
	Token       string // sent as "Authorization: Bearer <token>" when set
	ContentType string // default application/jose
	Method      string // default POST
	// Detached sends the JWS's payload as the body and the JWS, its
	// payload detached (RFC 7515 appendix F), in the header
	// X-Eprom-Signature.
	Detached bool
	// Accepted, when set, reads the body of a 2xx answer: false means the
	// receiver did not take the message, and it is tried again.
	Accepted func(body []byte) bool
	// RetryFor retries the answers that would put a message in the
	// dead-letter list (a 4xx, a 2xx that Accepted refuses) until the
	// receiver has refused the message this long in a row; 0: a 4xx is a
	// dead letter at once, and a refused 2xx is retried for ever.
	RetryFor time.Duration
}

// SignatureHeader carries the detached JWS of a Detached route's body.
const SignatureHeader = "X-Eprom-Signature"

// Config configures a Worker. Zero values get the defaults documented on
// each field.
type Config struct {
	Queue store.Queue // required
	// Routes says where messages of a kind and destination go; false: they
	// are not pushed (pull only, or a destination no longer configured).
	// Called often: it must be quick. Required.
	Routes func(kind, destination string) (Route, bool)
	// Done records a delivery. Default: Queue.Delete as Holder.
	Done        func(ctx context.Context, m *store.Message, now time.Time) error
	Client      *http.Client  // default: no redirects followed
	Timeout     time.Duration // how long one attempt may take, the answer read; default 10 s
	Concurrency int           // deliveries in flight at once; default 4
	LeaseTTL    time.Duration // how long a delivery may take before another may try; default 2 minutes
	MinBackoff  time.Duration // default 1 s
	MaxBackoff  time.Duration // default 5 minutes
	Poll        time.Duration // how often to look for retries that fell due; default 1 s
	Logger      *slog.Logger  // default slog.Default()
}

// Counters are the worker's running totals, for /metrics.
type Counters struct {
	Attempts    atomic.Int64 // POSTs sent
	Delivered   atomic.Int64 // envelopes acknowledged by a 2xx
	Failures    atomic.Int64 // attempts that will be retried
	DeadLetters atomic.Int64 // envelopes put in the dead-letter list
}

// Totals returns the counters' values, for /metrics.
func (w *Worker) Totals() (attempts, delivered, failures, deadLetters int64) {
	c := &w.Counters
	return c.Attempts.Load(), c.Delivered.Load(), c.Failures.Load(), c.DeadLetters.Load()
}

// Worker delivers messages until its context ends.
type Worker struct {
	cfg      Config
	Counters Counters

	mu    sync.Mutex
	dests map[string]*destination // by kind \x00 destination
}

// destination is the worker's view of one kind and destination.
type destination struct {
	inFlight    int
	failures    int       // attempts failed in a row
	pausedUntil time.Time // no new attempt before
}

// New checks the configuration and fills in the defaults.
func New(cfg Config) (*Worker, error) {
	if cfg.Queue == nil || cfg.Routes == nil {
		return nil, errors.New("delivery: Queue and Routes are required")
	}
	if cfg.Done == nil {
		q := cfg.Queue
		cfg.Done = func(ctx context.Context, m *store.Message, now time.Time) error {
			_, err := q.Delete(ctx, m.ID, Holder, "", now)
			return err
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // a redirect is an answer, not a place to resend answers
			},
		}
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 2 * time.Minute
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Worker{cfg: cfg, dests: map[string]*destination{}}, nil
}

// perDestination is how many deliveries one destination may have in
// flight: all slots but one, so a registry that hangs leaves room for the
// others.
func (w *Worker) perDestination() int { return max(1, w.cfg.Concurrency-1) }

// accept says how many due messages of a kind and destination to take now.
func (w *Worker) accept(now time.Time) store.Accept {
	return func(kind, dest string) int {
		if _, ok := w.cfg.Routes(kind, dest); !ok {
			return 0
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		d := w.dest(kind, dest)
		if now.Before(d.pausedUntil) {
			return 0
		}
		return max(0, w.perDestination()-d.inFlight)
	}
}

// dest returns the state of a kind and destination; w.mu must be held.
func (w *Worker) dest(kind, dest string) *destination {
	key := kind + "\x00" + dest
	d := w.dests[key]
	if d == nil {
		d = &destination{}
		w.dests[key] = d
	}
	return d
}

// Paused reports the destinations whose deliveries wait after failures,
// and until when, for logs and tests.
func (w *Worker) Paused(now time.Time) map[string]time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]time.Time{}
	for k, d := range w.dests {
		if _, dest, _ := strings.Cut(k, "\x00"); now.Before(d.pausedUntil) && d.pausedUntil.After(out[dest]) {
			out[dest] = d.pausedUntil // of two kinds to one destination, the later
		}
	}
	return out
}

// Run delivers until ctx is cancelled, then waits for the deliveries in
// flight; an envelope whose delivery was cut short keeps its lease, which
// lapses, and is sent again.
func (w *Worker) Run(ctx context.Context) error {
	// Leases of an earlier run (a crash mid-delivery) hold nothing now:
	// send those envelopes again at once rather than after the lease.
	if n, err := w.cfg.Queue.ReleaseLeases(ctx, Holder, time.Now()); err != nil {
		w.cfg.Logger.Error("delivery: release old leases", "err", err.Error())
	} else if n > 0 {
		w.cfg.Logger.Info("delivery: resending envelopes a stopped run had taken", "count", n)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, w.cfg.Concurrency)
	freed := make(chan struct{}, 1)
	ticker := time.NewTicker(w.cfg.Poll)
	defer ticker.Stop()
	for {
		free := cap(slots) - len(slots)
		if free > 0 {
			now := time.Now()
			msgs, err := w.cfg.Queue.Receive(ctx, Holder, free, w.cfg.LeaseTTL, now, w.accept(now))
			if err != nil && ctx.Err() == nil {
				w.cfg.Logger.Error("delivery: receive", "err", err.Error())
			}
			for _, m := range msgs {
				slots <- struct{}{}
				w.mu.Lock()
				w.dest(m.Kind, m.Destination).inFlight++
				w.mu.Unlock()
				wg.Go(func() {
					defer func() {
						w.mu.Lock()
						w.dest(m.Kind, m.Destination).inFlight--
						w.mu.Unlock()
						<-slots
						select {
						case freed <- struct{}{}:
						default:
						}
					}()
					w.deliver(ctx, m)
				})
			}
			if len(msgs) == free {
				continue // there may be more due
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.cfg.Queue.Enqueued():
		case <-freed:
		case <-ticker.C:
		}
	}
}

// Outcome is what a registry's answer means for an envelope.
type Outcome int

// The outcomes.
const (
	Delivered Outcome = iota
	Retry
	DeadLetter
)

// Classify says what an answer means: 2xx is delivery; 5xx, 408, 425, 429
// and errors on the way (err != nil) are retried; anything else is a dead
// letter, kept for a person to look at.
func Classify(status int, err error) Outcome {
	switch {
	case err != nil:
		return Retry
	case status >= 200 && status < 300:
		return Delivered
	case status >= 500, status == http.StatusRequestTimeout, status == http.StatusTooEarly, status == http.StatusTooManyRequests:
		return Retry
	}
	return DeadLetter
}

// Backoff returns the wait before the attempt after attempt failures:
// full jitter, uniform between min and min·2^attempts, capped at max.
func Backoff(attempts int, min, max time.Duration) time.Duration {
	ceiling := max
	if attempts < 30 {
		if c := min << attempts; c > 0 && c < max {
			ceiling = c
		}
	}
	if ceiling <= min {
		return min
	}
	return min + rand.N(ceiling-min+1)
}

// deliver sends one message and records the outcome.
func (w *Worker) deliver(ctx context.Context, m *store.Message) {
	route, ok := w.cfg.Routes(m.Kind, m.Destination)
	if !ok {
		// The destination went from the configuration meanwhile: the
		// message waits for pull, or for the destination to come back.
		rec, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.cfg.Queue.Retry(rec, m.ID, Holder, time.Now().Add(w.cfg.MaxBackoff), "no route to "+m.Destination, false, time.Now()); err != nil {
			w.cfg.Logger.Error("delivery: retry", "message", m.ID, "err", err.Error())
		}
		return
	}
	status, retryAfter, refused, err := w.post(ctx, route, m)
	if ctx.Err() != nil {
		return // shutting down: the lease lapses and the message is sent again
	}
	w.Counters.Attempts.Add(1)
	now := time.Now()
	// A fresh context: the outcome must be recorded even as we stop.
	rec, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	outcome := Classify(status, err)
	// A refusal: the receiver answered, and will not take it (a 2xx that
	// Accepted refuses, or a 4xx a route with RetryFor tries again).
	refusal := outcome == Delivered && refused || outcome == DeadLetter && route.RetryFor > 0
	if refusal {
		outcome = Retry
		if route.RetryFor > 0 && !m.RefusedSince.IsZero() && now.Sub(m.RefusedSince) >= route.RetryFor {
			outcome = DeadLetter // refused for RetryFor in a row
		}
	}
	w.mu.Lock()
	d := w.dest(m.Kind, m.Destination)
	if outcome == Retry {
		d.failures++
		pause := Backoff(d.failures-1, w.cfg.MinBackoff, w.cfg.MaxBackoff)
		if retryAfter > pause {
			pause = min(retryAfter, w.cfg.MaxBackoff)
		}
		if until := now.Add(pause); until.After(d.pausedUntil) {
			d.pausedUntil = until
		}
	} else {
		d.failures, d.pausedUntil = 0, time.Time{}
	}
	w.mu.Unlock()
	switch outcome {
	case Delivered:
		if err := w.cfg.Done(rec, m, now); err != nil {
			w.cfg.Logger.Error("delivery: record delivery", "message", m.ID, "err", err.Error())
			return
		}
		w.Counters.Delivered.Add(1)
	case Retry:
		w.Counters.Failures.Add(1)
		wait := Backoff(m.Attempts, w.cfg.MinBackoff, w.cfg.MaxBackoff)
		if retryAfter > wait {
			wait = min(retryAfter, w.cfg.MaxBackoff)
		}
		reason := describe(status, err)
		if refused {
			reason = fmt.Sprintf("%d, but the answer is not {\"success\": true}", status)
		}
		w.cfg.Logger.Warn("delivery: will retry", "message", m.ID, "destination", m.Destination, "attempt", m.Attempts+1,
			"reason", reason, "wait", wait.String())
		if err := w.cfg.Queue.Retry(rec, m.ID, Holder, now.Add(wait), reason, refusal, now); err != nil {
			w.cfg.Logger.Error("delivery: retry", "message", m.ID, "err", err.Error())
		}
	case DeadLetter:
		w.Counters.DeadLetters.Add(1)
		reason := describe(status, err)
		if refusal {
			reason += fmt.Sprintf(", refused for %s in a row", now.Sub(m.RefusedSince).Round(time.Minute))
		}
		w.cfg.Logger.Error("delivery: dead letter", "message", m.ID, "destination", m.Destination, "reason", reason)
		if err := w.cfg.Queue.Dead(rec, m.ID, Holder, reason, now); err != nil {
			w.cfg.Logger.Error("delivery: dead", "message", m.ID, "err", err.Error())
		}
	}
}

// post sends the message; it returns the status, any Retry-After, and
// whether a 2xx answer's body said the receiver did not take it.
func (w *Worker) post(ctx context.Context, route Route, m *store.Message) (status int, after time.Duration, refused bool, err error) {
	body, signature := m.Body, ""
	if route.Detached {
		header, payload, sig, ok := splitJWS(m.Body)
		if !ok {
			return 0, 0, false, errors.New("the message is not a compact JWS")
		}
		if body, err = base64.RawURLEncoding.DecodeString(payload); err != nil {
			return 0, 0, false, fmt.Errorf("the JWS payload: %w", err)
		}
		signature = header + ".." + sig
	}
	method := route.Method
	if method == "" {
		method = http.MethodPost
	}
	// A registry that takes the connection and never answers holds up
	// only this attempt, for Timeout: then it is retried, like a 503.
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, route.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, false, err
	}
	ct := route.ContentType
	if ct == "" {
		ct = "application/jose"
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Idempotency-Key", m.ID)
	if signature != "" {
		req.Header.Set(SignatureHeader, signature)
	}
	if route.Token != "" {
		req.Header.Set("Authorization", "Bearer "+route.Token)
	}
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return 0, 0, false, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		after = time.Duration(s) * time.Second
	}
	if route.Accepted != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		refused = !route.Accepted(answer)
	}
	return resp.StatusCode, after, refused, nil
}

// splitJWS splits a compact JWS into its three parts.
func splitJWS(jws []byte) (header, payload, sig string, ok bool) {
	parts := strings.Split(string(jws), ".")
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// describe says why an attempt failed, without the body (which the
// registry might fill with what we sent).
func describe(status int, err error) string {
	if err != nil {
		var ue interface{ Timeout() bool }
		if errors.As(err, &ue) && ue.Timeout() {
			return "timeout"
		}
		msg := err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:] // "connection refused", not the URL with its query
		}
		return "network: " + msg
	}
	return fmt.Sprintf("%d %s", status, http.StatusText(status))
}
