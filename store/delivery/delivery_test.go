package delivery_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/store"
	"eprom/store/bolt"
	"eprom/store/delivery"

	"github.com/google/uuid"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		status int
		err    error
		want   delivery.Outcome
	}{
		{200, nil, delivery.Delivered},
		{201, nil, delivery.Delivered},
		{204, nil, delivery.Delivered},
		{500, nil, delivery.Retry},
		{502, nil, delivery.Retry},
		{503, nil, delivery.Retry},
		{408, nil, delivery.Retry},
		{425, nil, delivery.Retry},
		{429, nil, delivery.Retry},
		{0, errors.New("connection refused"), delivery.Retry},
		{400, nil, delivery.DeadLetter},
		{401, nil, delivery.DeadLetter},
		{403, nil, delivery.DeadLetter},
		{404, nil, delivery.DeadLetter},
		{409, nil, delivery.DeadLetter},
		{413, nil, delivery.DeadLetter},
		{422, nil, delivery.DeadLetter},
		{301, nil, delivery.DeadLetter},
	}
	for _, tt := range tests {
		if got := delivery.Classify(tt.status, tt.err); got != tt.want {
			t.Errorf("Classify(%d, %v) = %v, want %v", tt.status, tt.err, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	min, max := time.Second, 5*time.Minute
	for attempt := range 40 {
		ceiling := max
		if attempt < 30 && min<<attempt < max {
			ceiling = min << attempt
		}
		lo, hi := max, time.Duration(0)
		for range 2000 {
			d := delivery.Backoff(attempt, min, max)
			if d < min || d > ceiling {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, min, ceiling)
			}
			lo, hi = minDur(lo, d), maxDur(hi, d)
		}
		// Full jitter: the draws spread over the range, not bunched at one end.
		if ceiling >= 8*time.Second && (lo > min+(ceiling-min)/10 || hi < ceiling-(ceiling-min)/10) {
			t.Errorf("attempt %d: draws %v–%v do not cover [%v, %v]", attempt, lo, hi, min, ceiling)
		}
	}
	if d := delivery.Backoff(0, min, max); d != min {
		t.Errorf("the first retry waits %v, want %v", d, min)
	}
}

func minDur(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}

func maxDur(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// openQueue opens an outbox in a temporary folder.
func openQueue(t *testing.T) *bolt.Queue {
	t.Helper()
	secrets, _ := store.NewSecrets(make([]byte, 32))
	s, err := bolt.Open(filepath.Join(t.TempDir(), "eprom.db"), secrets)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Queue()
}

// submit puts one message for the registry in the outbox.
func submit(t *testing.T, q *bolt.Queue) string { return submitTo(t, q, "registry") }

// submitTo puts one message for a destination in the outbox.
func submitTo(t *testing.T, q *bolt.Queue, dest string) string {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	now := time.Now()
	m := &store.Message{ID: id, Kind: store.KindEnvelope, Destination: dest, Body: []byte("jws-" + id), CreatedAt: now, NextAt: now}
	if err := q.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return id
}

// to routes every envelope for the registry to url.
func to(url, token string) func(kind, dest string) (delivery.Route, bool) {
	return func(kind, dest string) (delivery.Route, bool) {
		return delivery.Route{URL: url, Token: token}, kind == store.KindEnvelope && dest == "registry"
	}
}

// run starts a worker and returns a function that stops it. Backoffs and
// the poll not set are short.
func run(t *testing.T, cfg delivery.Config) (*delivery.Worker, func()) {
	t.Helper()
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 40*time.Millisecond
	}
	cfg.Poll = 10 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := delivery.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	return w, func() { cancel(); <-done }
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("never: %s", what)
}

func TestWorkerDelivers(t *testing.T) {
	s := openQueue(t)
	var mu sync.Mutex
	got := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/jose" || r.Header.Get("Authorization") != "Bearer reg-token" || r.Method != "POST" {
			http.Error(w, "bad request", 400)
			return
		}
		mu.Lock()
		got[r.Header.Get("Idempotency-Key")] = string(body)
		mu.Unlock()
		w.WriteHeader(201)
	}))
	defer srv.Close()
	ids := []string{submit(t, s), submit(t, s), submit(t, s)}
	w, stop := run(t, delivery.Config{Queue: s, Routes: to(srv.URL, "reg-token")})
	defer stop()
	ids = append(ids, submit(t, s)) // one more while it runs: the signal wakes it
	eventually(t, "all delivered", func() bool {
		st, _ := s.Stats(context.Background(), time.Now())
		return st.Depth == 0 && w.Counters.Delivered.Load() == 4
	})
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if got[id] != "jws-"+id {
			t.Errorf("%s was not posted with its id as Idempotency-Key", id)
		}
	}
	if w.Counters.Delivered.Load() != 4 || w.Counters.Attempts.Load() != 4 {
		t.Errorf("counters: %d delivered of %d attempts", w.Counters.Delivered.Load(), w.Counters.Attempts.Load())
	}
}

func TestWorkerRetriesUntilTheRegistryAnswers(t *testing.T) {
	s := openQueue(t)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(503)
		case 2:
			w.WriteHeader(429)
		case 3:
			// a connection that breaks
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
		default:
			w.WriteHeader(200)
		}
	}))
	defer srv.Close()
	id := submit(t, s)
	w, stop := run(t, delivery.Config{Queue: s, Routes: to(srv.URL, "")})
	defer stop()
	eventually(t, "delivered after three failures", func() bool {
		_, err := s.Message(context.Background(), id)
		return err != nil && w.Counters.Delivered.Load() == 1
	})
	// Go's transport resends a request with an Idempotency-Key once on a
	// broken connection by itself, so the break may not count as a failure.
	if f := w.Counters.Failures.Load(); calls.Load() != 4 || f < 2 || f > 3 || w.Counters.Delivered.Load() != 1 {
		t.Errorf("%d calls, %d failures", calls.Load(), w.Counters.Failures.Load())
	}
}

func TestWorkerDeadLettersWhatTheRegistryRefuses(t *testing.T) {
	s := openQueue(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(422) }))
	defer srv.Close()
	id := submit(t, s)
	w, stop := run(t, delivery.Config{Queue: s, Routes: to(srv.URL, "")})
	defer stop()
	eventually(t, "dead-lettered", func() bool { st, _ := s.Stats(context.Background(), time.Now()); return st.Dead == 1 })
	sub, _ := s.Message(context.Background(), id)
	if sub.LastError != "422 Unprocessable Entity" || w.Counters.DeadLetters.Load() != 1 {
		t.Errorf("%+v", sub)
	}
}

func TestWorkerStopsCleanly(t *testing.T) {
	s := openQueue(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	id := submit(t, s)
	_, stop := run(t, delivery.Config{Queue: s, Routes: to(srv.URL, "")})
	eventually(t, "leased", func() bool { st, _ := s.Stats(context.Background(), time.Now()); return st.Leased == 1 })
	stop() // returns although the registry never answered
	if _, err := s.Message(context.Background(), id); err != nil {
		t.Fatal("the envelope was lost on shutdown")
	}
}

// One registry that fails does not hold up another's deliveries: its
// destination waits out its backoff, and never takes every slot.
func TestWorkerKeepsABackoffPerDestination(t *testing.T) {
	s := openQueue(t)
	var downCalls, upCalls atomic.Int32
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		downCalls.Add(1)
		w.WriteHeader(503)
	}))
	defer down.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upCalls.Add(1)
		w.WriteHeader(200)
	}))
	defer up.Close()
	for range 50 {
		submitTo(t, s, "down")
	}
	routes := func(kind, dest string) (delivery.Route, bool) {
		switch dest {
		case "down":
			return delivery.Route{URL: down.URL}, true
		case "up":
			return delivery.Route{URL: up.URL}, true
		}
		return delivery.Route{}, false
	}
	w, stop := run(t, delivery.Config{Queue: s, Routes: routes, Concurrency: 4, MinBackoff: 200 * time.Millisecond, MaxBackoff: time.Second})
	defer stop()
	eventually(t, "the failing destination paused", func() bool { _, ok := w.Paused(time.Now())["down"]; return ok })
	for range 5 {
		id := submitTo(t, s, "up")
		eventually(t, "delivered to the working registry", func() bool {
			_, err := s.Message(context.Background(), id)
			return questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND
		})
	}
	// 50 envelopes due at once for the failing registry: without a pause
	// of its own, each would be tried at once.
	if n := downCalls.Load(); n > 10 {
		t.Errorf("the failing registry got %d attempts in its backoff", n)
	}
	if upCalls.Load() != 5 {
		t.Errorf("the working registry got %d calls for 5 envelopes", upCalls.Load())
	}
}

// TestWorkerCallsBackAsHemit: a Detached route with Accepted and RetryFor
// (HEMIT's callbacks) PUTs the JWS's payload with the JWS in a header,
// takes only {"success": true} as delivery and retries a 4xx until the
// receiver has refused the message for RetryFor in a row; a message After another waits until that one is
// delivered, and holds up nothing else.
func TestWorkerCallsBackAsHemit(t *testing.T) {
	s := openQueue(t)
	var (
		mu       sync.Mutex
		received []string // bodies, in order of arrival
		aCalls   int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sig := r.Header.Get(delivery.SignatureHeader)
		if r.Method != "PUT" || r.Header.Get("Content-Type") != "application/json" || sig != "aGVhZA.."+"c2ln" {
			http.Error(w, "wrong request", 500)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		received = append(received, string(body))
		switch string(body) {
		case `"old"`:
			http.Error(w, "gone", 404)
		case `"a-ordered"`:
			aCalls++
			switch aCalls {
			case 1:
				http.Error(w, "down", 500)
			case 2:
				w.Write([]byte(`{"success": false}`))
			case 3:
				http.Error(w, "not found", 404) // retried: the message is young
			case 4:
				w.Write([]byte(`OK`))
			default:
				w.Write([]byte(`{"success": true}`))
			}
		default:
			w.Write([]byte(`{"success": true}`))
		}
	}))
	defer srv.Close()
	send := func(body, after string, created time.Time) string {
		t.Helper()
		id := uuid.Must(uuid.NewV7()).String()
		m := &store.Message{ID: id, Kind: store.KindHemit, Destination: "mrs", After: after, CreatedAt: created, NextAt: created,
			Body: []byte("aGVhZA." + base64.RawURLEncoding.EncodeToString([]byte(body)) + ".c2ln")}
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		return id
	}
	now := time.Now()
	aOrdered := send(`"a-ordered"`, "", now)
	send(`"a-completed"`, aOrdered, now)
	send(`"b-ordered"`, "", now)
	old := send(`"old"`, "", now) // refused every time: dead after RetryFor
	route := func(kind, dest string) (delivery.Route, bool) {
		return delivery.Route{URL: srv.URL, Method: "PUT", ContentType: "application/json", Detached: true,
			Accepted: func(b []byte) bool { return string(b) == `{"success": true}` }, RetryFor: 500 * time.Millisecond}, kind == store.KindHemit
	}
	w, stop := run(t, delivery.Config{Queue: s, Routes: route, Concurrency: 4, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	defer stop()
	eventually(t, "three called back and one dead", func() bool {
		st, _ := s.Stats(context.Background(), time.Now())
		return st.Depth == 0 && st.Dead == 1 && w.Counters.Delivered.Load() == 3
	})
	mu.Lock()
	defer mu.Unlock()
	pos := map[string][]int{}
	for i, b := range received {
		pos[b] = append(pos[b], i)
	}
	if len(pos[`"a-ordered"`]) != 5 || len(pos[`"a-completed"`]) != 1 || len(pos[`"b-ordered"`]) != 1 || len(pos[`"old"`]) < 2 {
		t.Fatalf("received %v: want a's status five times (500, false, 404, OK, true), b's and a's return once, the refused one until RetryFor", received)
	}
	if pos[`"a-completed"`][0] < pos[`"a-ordered"`][4] {
		t.Errorf("received %v: a's return came before its status was taken", received)
	}
	if pos[`"b-ordered"`][0] > pos[`"a-ordered"`][4] {
		t.Errorf("received %v: b waited for a, which it does not follow", received)
	}
	dead, _ := s.Message(context.Background(), old)
	if dead == nil || dead.DeadAt.IsZero() || !strings.Contains(dead.LastError, "404") || dead.DeadAt.Sub(dead.RefusedSince) < 500*time.Millisecond {
		t.Errorf("a message refused with 404 for RetryFor: %+v, want a dead letter after RetryFor of refusals", dead)
	}
}

// TestWorkerTimesOutARegistryThatNeverAnswers: a registry that takes the
// connection and never answers holds an attempt for Timeout, then the
// envelope is retried, and another destination is delivered meanwhile.
func TestWorkerTimesOutARegistryThatNeverAnswers(t *testing.T) {
	s := openQueue(t)
	var hangs atomic.Int32
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hangs.Add(1) <= 2 {
			<-release // never answers (until the test ends)
			return
		}
		w.WriteHeader(200)
	}))
	defer hang.Close()
	defer close(release)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	defer up.Close()
	routes := func(kind, dest string) (delivery.Route, bool) {
		if dest == "hang" {
			return delivery.Route{URL: hang.URL}, true
		}
		return delivery.Route{URL: up.URL}, true
	}
	stuck := submitTo(t, s, "hang")
	w, stop := run(t, delivery.Config{Queue: s, Routes: routes, Concurrency: 2, Timeout: 200 * time.Millisecond})
	defer stop()
	other := submitTo(t, s, "up")
	eventually(t, "the other destination delivered", func() bool {
		_, err := s.Message(context.Background(), other)
		return questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND
	})
	eventually(t, "the silent registry's envelope delivered on the third attempt", func() bool {
		_, err := s.Message(context.Background(), stuck)
		return questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND
	})
	if n := hangs.Load(); n != 3 || w.Counters.Failures.Load() != 2 {
		t.Errorf("%d attempts at the silent registry, %d failures; want 3 and 2", n, w.Counters.Failures.Load())
	}
}
