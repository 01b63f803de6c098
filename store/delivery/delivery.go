// Package delivery pushes signed envelopes from the outbox to the registry
// core: POST {registry-url} with the JWS as body (application/jose) and the
// envelope id as Idempotency-Key. 2xx is delivery; 5xx, 408, 425, 429 and
// network errors are retried for ever with exponential backoff and full
// jitter; any other answer puts the envelope in the dead-letter list.
package delivery

import (
	"context"
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

// Config configures a Worker. Zero values get the defaults documented on
// each field.
type Config struct {
	Outbox      store.Outbox  // required
	URL         string        // required: the registry's receiving endpoint
	Token       string        // sent as "Authorization: Bearer <token>" when set
	Client      *http.Client  // default: 30 s timeout, no redirects followed
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

// Worker delivers envelopes until its context ends.
type Worker struct {
	cfg      Config
	Counters Counters
}

// New checks the configuration and fills in the defaults.
func New(cfg Config) (*Worker, error) {
	if cfg.Outbox == nil || cfg.URL == "" {
		return nil, errors.New("delivery: Outbox and URL are required")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			Timeout: 30 * time.Second,
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
	return &Worker{cfg: cfg}, nil
}

// Run delivers until ctx is cancelled, then waits for the deliveries in
// flight; an envelope whose delivery was cut short keeps its lease, which
// lapses, and is sent again.
func (w *Worker) Run(ctx context.Context) error {
	// Leases of an earlier run (a crash mid-delivery) hold nothing now:
	// send those envelopes again at once rather than after the lease.
	if n, err := w.cfg.Outbox.ReleaseLeases(ctx, Holder, time.Now()); err != nil {
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
			subs, err := w.cfg.Outbox.Lease(ctx, Holder, free, w.cfg.LeaseTTL, time.Now())
			if err != nil && ctx.Err() == nil {
				w.cfg.Logger.Error("delivery: lease", "err", err.Error())
			}
			for _, sub := range subs {
				slots <- struct{}{}
				wg.Go(func() {
					defer func() {
						<-slots
						select {
						case freed <- struct{}{}:
						default:
						}
					}()
					w.deliver(ctx, sub)
				})
			}
			if len(subs) == free {
				continue // there may be more due
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.cfg.Outbox.Enqueued():
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

// deliver sends one envelope and records the outcome.
func (w *Worker) deliver(ctx context.Context, sub *store.Submission) {
	status, retryAfter, err := w.post(ctx, sub)
	if ctx.Err() != nil {
		return // shutting down: the lease lapses and the envelope is sent again
	}
	w.Counters.Attempts.Add(1)
	now := time.Now()
	// A fresh context: the outcome must be recorded even as we stop.
	rec, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch Classify(status, err) {
	case Delivered:
		if err := w.cfg.Outbox.Ack(rec, sub.ID, now); err != nil {
			w.cfg.Logger.Error("delivery: ack", "submission", sub.ID, "err", err.Error())
			return
		}
		w.Counters.Delivered.Add(1)
	case Retry:
		w.Counters.Failures.Add(1)
		wait := Backoff(sub.Attempts, w.cfg.MinBackoff, w.cfg.MaxBackoff)
		if retryAfter > wait {
			wait = min(retryAfter, w.cfg.MaxBackoff)
		}
		reason := describe(status, err)
		w.cfg.Logger.Warn("delivery: will retry", "submission", sub.ID, "attempt", sub.Attempts+1, "reason", reason, "wait", wait.String())
		if err := w.cfg.Outbox.Retry(rec, sub.ID, now.Add(wait), reason); err != nil {
			w.cfg.Logger.Error("delivery: retry", "submission", sub.ID, "err", err.Error())
		}
	case DeadLetter:
		w.Counters.DeadLetters.Add(1)
		reason := describe(status, err)
		w.cfg.Logger.Error("delivery: dead letter", "submission", sub.ID, "reason", reason)
		if err := w.cfg.Outbox.Dead(rec, sub.ID, reason, now); err != nil {
			w.cfg.Logger.Error("delivery: dead", "submission", sub.ID, "err", err.Error())
		}
	}
}

// post sends the envelope; it returns the status and any Retry-After.
func (w *Worker) post(ctx context.Context, sub *store.Submission) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, strings.NewReader(sub.JWS))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/jose")
	req.Header.Set("Idempotency-Key", sub.ID)
	if w.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+w.cfg.Token)
	}
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	var after time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		after = time.Duration(s) * time.Second
	}
	return resp.StatusCode, after, nil
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
