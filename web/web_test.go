package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"eprom/locales"
	"eprom/questionnaire"
	"eprom/schemas"
	"eprom/store"
	"eprom/store/bolt"
	"eprom/store/signing"
	"eprom/store/storetest"
	"eprom/web"
)

const (
	token     = "registry-token-0123456789"
	publicURL = "https://eprom.example.no"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// harness is a server on a temporary bbolt file, with its logs captured.
type harness struct {
	t     testing.TB
	srv   *web.Server
	store *bolt.Store
	path  string
	book  *store.Codebook
	keys  *signing.Keyring
	cfg   web.Config
	clock *clock
	logs  *syncBuffer
	audit *syncBuffer
}

// option changes the harness's web configuration.
type option func(*web.Config)

func withTrustedProxies(cidrs ...string) option {
	return func(c *web.Config) { c.TrustedProxies = cidrs }
}

func withGlobalLimit(n int) option {
	return func(c *web.Config) { c.CodeLimits.GlobalPerMin = n }
}

func newHarness(t testing.TB, opts ...option) *harness {
	t.Helper()
	cat, err := schemas.Load(schemas.Shipped())
	if err != nil {
		t.Fatal(err)
	}
	loc, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	book, _ := store.NewCodebook(bytes.Repeat([]byte{3}, 32))
	dir := t.TempDir()
	keys, err := signing.Load(filepath.Join(dir, "signing-keys.pem"), true)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "eprom.db")
	db, err := bolt.Open(path, book, keys)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := web.ParseTokens("registry:" + token + ",other:other-token-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: db, path: path, book: book, keys: keys, clock: &clock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)},
		logs: &syncBuffer{}, audit: &syncBuffer{}}
	t.Cleanup(func() { h.store.Close() })
	h.cfg = web.Config{
		PublicURL: publicURL,
		Tokens:    tokens,
		Catalogue: cat,
		Orders:    db,
		Patients:  db,
		Limits:    store.NewMemoryLimits(),
		Outbox:    db,
		Keys:      keys,
		Locales:   loc,
		Logger:    slog.New(slog.NewJSONHandler(h.logs, nil)),
		Audit:     slog.New(slog.NewJSONHandler(h.audit, nil)),
		Now:       h.clock.Now,
	}
	for _, o := range opts {
		o(&h.cfg)
	}
	if h.srv, err = web.New(h.cfg); err != nil {
		t.Fatal(err)
	}
	return h
}

// restart closes the store and starts a new server on the same file, as
// a process restart would.
func (h *harness) restart() {
	h.t.Helper()
	h.store.Close()
	db, err := bolt.Open(h.path, h.book, h.keys)
	if err != nil {
		h.t.Fatal(err)
	}
	h.store = db
	h.cfg.Orders, h.cfg.Patients, h.cfg.Outbox = db, db, db
	if h.srv, err = web.New(h.cfg); err != nil {
		h.t.Fatal(err)
	}
}

// listen serves the app on a loopback port until the test ends and returns
// its base URL, for what app.Test cannot show (body limits on the wire).
func (h *harness) listen() string {
	h.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	go h.srv.App().Listener(ln)
	h.t.Cleanup(func() { h.srv.App().Shutdown() })
	return "http://" + ln.Addr().String()
}

// envelope returns the payload of the envelope an order's closing sent.
func (h *harness) envelope(orderID string) *questionnaire.Envelope {
	h.t.Helper()
	o, err := h.store.Order(h.t.Context(), orderID)
	if err != nil || o.SubmissionID == "" {
		h.t.Fatalf("order %s has no submission: %+v %v", orderID, o, err)
	}
	return storetest.Envelope(h.t, h.store, o.SubmissionID)
}

// do sends a request through fiber's app.Test, with the registry's token
// unless auth is "" (none) or another token.
func (h *harness) do(method, path, body string, header ...string) *http.Response {
	h.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := h.srv.App().Test(req, -1)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// decode reads a JSON body into a map.
func decode(t testing.TB, resp *http.Response) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, b)
	}
	return m
}

// readAll reads a response body.
func readAll(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantError asserts the status and the error code of a JSON error body.
func wantError(t testing.TB, resp *http.Response, status int, code string) map[string]any {
	t.Helper()
	m := decode(t, resp)
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %v", resp.StatusCode, status, m)
	}
	e, ok := m["error"].(map[string]any)
	if !ok || e["code"] != code || e["message"] == "" {
		t.Fatalf("body %v, want error code %q with a message", m, code)
	}
	return e
}

// create creates an audit order and returns the response body.
func (h *harness) create(body string) map[string]any {
	h.t.Helper()
	resp := h.do("POST", "/api/v1/orders", body)
	m := decode(h.t, resp)
	if resp.StatusCode != http.StatusCreated {
		h.t.Fatalf("create: %d %v", resp.StatusCode, m)
	}
	return m
}
