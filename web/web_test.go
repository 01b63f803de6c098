package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
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
	redisstore "eprom/store/redis"
	"eprom/store/signing"
	"eprom/store/storetest"
	"eprom/web"
)

const (
	token      = "registry-token-0123456789"
	otherToken = "other-token-0123456789"
	publicURL  = "https://eprom.example.no"
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

// harness is a server on a temporary bbolt file (and, withRedis, a Redis
// key prefix of its own), with its logs captured.
type harness struct {
	t       testing.TB
	srv     *web.Server
	store   *storetest.Store
	bolt    *bolt.Store
	path    string
	secrets *store.Secrets
	keys    *signing.Keyring
	redis   string // the key prefix in Redis mode
	cfg     web.Config
	clock   *clock
	logs    *syncBuffer
	audit   *syncBuffer
}

// clients are the ordering systems of the harness: "registry" and "other",
// both pulling.
var clients = questionnaire.NewClients([]*questionnaire.Client{
	{ID: "registry", Name: "Registry", Tokens: []string{"first-token-0123456789", token}, Pull: true},
	{ID: "other", Name: "Other", Tokens: []string{otherToken}, Pull: true},
	{ID: "kvarus", Name: "KvaRus", Tokens: []string{kvarusToken}, Questionnaires: []string{"kvarus-*"},
		RegistryURL: "https://registry.example/eprom/inbox",
		Help: &questionnaire.Contact{Name: questionnaire.Text{"nb": "Rusklinikken", "en": "the addiction clinic"}, Phone: "+47 22 11 22 33",
			Hours: questionnaire.Text{"nb": "hverdager 8–15", "en": "weekdays 8–15"}},
		Privacy: &questionnaire.Contact{Name: questionnaire.Text{"nb": "KvaRus-sekretariatet"}, Email: "kvarus@example.no"}},
	{ID: "mrs", Name: "An MRS registry", Tokens: []string{mrsToken}, Hemit: &questionnaire.Hemit{APIKey: hemitKey,
		APIBaseURL: "https://mrs.example/PromsServices", Forms: map[string]string{auditForm: "audit", maalepunktForm: "kvarus-maalepunkt@1.0.0#en"}}},
})

// The client that speaks HEMIT's API: its token, its HEMIT key and two of
// its forms.
const (
	mrsToken       = "mrs-token-0123456789"
	hemitKey       = "hemit-key-0123456789"
	auditForm      = "1bc5f9f0-2607-49eb-94f0-6af955bbd79a"
	maalepunktForm = "0f68e0df-2a1b-4c3d-8e9f-000000000001"
)

// kvarusToken is the token of a client that may order only kvarus-* and
// has its envelopes pushed.
const kvarusToken = "kvarus-token-0123456789"

// option changes the harness or its web configuration.
type option func(*harness)

// onBothStores runs test on the bolt store and on Redis: store is the
// harness option that picks the store (none for bolt).
func onBothStores(t *testing.T, test func(t *testing.T, store []option)) {
	t.Run("bolt", func(t *testing.T) { test(t, nil) })
	t.Run("redis", func(t *testing.T) { test(t, []option{withRedis(newRedisPrefix(t))}) })
}

func withTrustedProxies(cidrs ...string) option {
	return func(h *harness) { h.cfg.TrustedProxies = cidrs }
}

func withGlobalLimit(n int) option {
	return func(h *harness) { h.cfg.CodeLimits.GlobalPerMin = n }
}

// withRedis runs the harness on Redis: orders, patients and limits there,
// the outbox on the bbolt file, as `eprom serve` wires them.
func withRedis(prefix string) option {
	return func(h *harness) { h.redis = prefix }
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
	secrets, _ := store.NewSecrets(bytes.Repeat([]byte{3}, 32))
	dir := t.TempDir()
	keys, err := signing.Load(filepath.Join(dir, "signing-keys.pem"), true)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, path: filepath.Join(dir, "eprom.db"), secrets: secrets, keys: keys,
		clock: &clock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}, logs: &syncBuffer{}, audit: &syncBuffer{}}
	h.cfg = web.Config{
		PublicURL: publicURL,
		Clients:   func() *questionnaire.Clients { return clients },
		Catalogue: cat,
		Keys:      keys,
		Locales:   loc,
		Logger:    slog.New(slog.NewJSONHandler(h.logs, nil)),
		Audit:     slog.New(slog.NewJSONHandler(h.audit, nil)),
		Now:       h.clock.Now,
		Links:     secrets,
	}
	for _, o := range opts {
		o(h)
	}
	h.open()
	t.Cleanup(func() { h.store.Close(); h.bolt.Close() })
	return h
}

// open opens the stores and builds the server on them.
func (h *harness) open() {
	h.t.Helper()
	db, err := bolt.Open(h.path, h.secrets)
	if err != nil {
		h.t.Fatal(err)
	}
	h.bolt = db
	var (
		orders   store.Orders   = db
		patients store.Patients = db
		limits   store.Limits   = store.NewMemoryLimits()
	)
	h.cfg.SharedLeases = nil
	if h.redis != "" {
		rs, err := redisstore.Open(context.Background(), redisURL(h.t), h.redis, h.secrets, db.Queue())
		if err != nil {
			h.t.Fatal(err)
		}
		orders, patients, limits, h.cfg.SharedLeases = rs, rs, rs, rs
	}
	sub := &store.Submissions{Orders: orders, Queue: db.Queue(), Signer: h.keys, Report: web.HemitReporter(h.cfg.Clients, h.cfg.Catalogue)}
	h.store = &storetest.Store{Orders: orders, Patients: patients, Queue: db.Queue(), Submissions: sub}
	h.cfg.Orders, h.cfg.Patients, h.cfg.Limits, h.cfg.Queue, h.cfg.Submissions = orders, patients, limits, db.Queue(), sub
	if h.srv, err = web.New(h.cfg); err != nil {
		h.t.Fatal(err)
	}
	db.SetBusy(h.srv.InFlight) // as eprom serve does
}

// restart closes the store and starts a new server on the same data, as
// a process restart would.
func (h *harness) restart() {
	h.t.Helper()
	h.store.Close()
	h.bolt.Close()
	h.open()
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

// redisURL is the Redis of the tests: $EPROM_TEST_REDIS, or database 14 on
// 127.0.0.1:6379. Without one the test is skipped, except under CI=true.
func redisURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("EPROM_TEST_REDIS")
	if url == "" {
		url = "redis://127.0.0.1:6379/14"
	}
	rs, err := redisstore.Open(context.Background(), url, "probe:", nil, nil)
	if err == nil {
		err = rs.Ping(context.Background())
		rs.Close()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but no Redis at %s: %v", url, err)
		}
		t.Skipf("SKIPPED a Redis test: no Redis at %s (%v); it runs under CI=true", url, err)
	}
	return url
}

// newRedisPrefix is a key prefix of its own for one test, deleted after.
func newRedisPrefix(t testing.TB) string {
	t.Helper()
	url := redisURL(t)
	prefix := fmt.Sprintf("webtest:%x:", rand.Uint64())
	t.Cleanup(func() {
		rs, err := redisstore.Open(context.Background(), url, prefix, nil, nil)
		if err != nil {
			return
		}
		defer rs.Close()
		ctx := context.Background()
		iter := rs.Client().Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rs.Client().Del(ctx, iter.Val())
		}
	})
	return prefix
}
