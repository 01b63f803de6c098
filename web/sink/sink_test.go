package sink_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/store/signing"
	"eprom/web/sink"

	"github.com/go-jose/go-jose/v4"
)

type fixture struct {
	t    *testing.T
	keys *signing.Keyring
	out  string
	sink *sink.Sink
	skew atomic.Int64 // how far the sink's clock is ahead, in nanoseconds
}

func newFixture(t *testing.T, token string) *fixture {
	t.Helper()
	dir := t.TempDir()
	keys, err := signing.Load(filepath.Join(dir, "keys.pem"), true)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, keys: keys, out: filepath.Join(dir, "out.jsonl")}
	f.open(token)
	return f
}

func (f *fixture) open(token string) {
	source := func(ctx context.Context, refresh bool) (*jose.JSONWebKeySet, error) {
		set := f.keys.JWKS(nil, time.Now())
		return &set, nil
	}
	now := func() time.Time { return time.Now().Add(time.Duration(f.skew.Load())) }
	s, err := sink.Open(sink.Config{Keys: source, Out: f.out, Token: token, Now: now})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { s.Close() })
	f.sink = s
}

// envelope signs an envelope with the given id.
func (f *fixture) envelope(id string) string {
	env := questionnaire.Envelope{ID: id, Type: "response", OrderID: "order-" + id, PatientRef: "p"}
	payload, _ := json.Marshal(env)
	jws, _, err := f.keys.Sign(payload)
	if err != nil {
		f.t.Fatal(err)
	}
	return jws
}

func (f *fixture) post(body string, header ...string) (int, map[string]string) {
	f.t.Helper()
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/jose")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	f.sink.ServeHTTP(rec, req)
	var m map[string]string
	json.Unmarshal(rec.Body.Bytes(), &m)
	return rec.Code, m
}

func (f *fixture) lines() []sink.Record {
	f.t.Helper()
	file, err := os.Open(f.out)
	if err != nil {
		f.t.Fatal(err)
	}
	defer file.Close()
	var out []sink.Record
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		var r sink.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestSink(t *testing.T) {
	f := newFixture(t, "")
	jws := f.envelope("env-1")

	t.Run("a verified envelope is stored", func(t *testing.T) {
		if code, m := f.post(jws, "Idempotency-Key", "env-1"); code != 200 || m["status"] != "stored" {
			t.Fatalf("%d %v", code, m)
		}
		lines := f.lines()
		if len(lines) != 1 || lines[0].Envelope.ID != "env-1" || lines[0].KeyID == "" {
			t.Fatalf("%+v", lines)
		}
	})

	t.Run("a duplicate is answered 200 and not stored again", func(t *testing.T) {
		if code, m := f.post(jws); code != 200 || m["status"] != "duplicate" {
			t.Fatalf("%d %v", code, m)
		}
		if n := len(f.lines()); n != 1 {
			t.Fatalf("%d lines", n)
		}
	})

	t.Run("ErrBadRequest: one byte of the payload flipped", func(t *testing.T) {
		parts := strings.Split(f.envelope("env-2"), ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		payload[len(payload)/2] ^= 0x01
		forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
		if code, m := f.post(forged); code != 400 || !strings.Contains(m["error"], "signature") {
			t.Fatalf("%d %v", code, m)
		}
		if n := len(f.lines()); n != 1 {
			t.Fatalf("a forged envelope was stored: %d lines", n)
		}
	})

	t.Run("ErrUnavailable: a key not published (yet: a rotation), so the sender retries", func(t *testing.T) {
		other, _ := signing.Load(filepath.Join(t.TempDir(), "o.pem"), true)
		payload, _ := json.Marshal(questionnaire.Envelope{ID: "env-3", OrderID: "o"})
		jws, _, _ := other.Sign(payload)
		if code, m := f.post(jws); code != 503 || !strings.Contains(m["error"], "unknown key") {
			t.Fatalf("%d %v", code, m)
		}
		if n := len(f.lines()); n != 1 {
			t.Fatalf("%d lines", n)
		}
		// Still not in the JWKS after the grace of a rotation: refused.
		f.skew.Store(int64(11 * time.Second))
		if code, m := f.post(jws); code != 400 || !strings.Contains(m["error"], "unknown key") || !strings.Contains(m["error"], "has not shown it") {
			t.Fatalf("an unknown key after 11 s: %d %v", code, m)
		}
		f.skew.Store(0)
	})

	t.Run("ErrBadRequest: not a JWS, or an Idempotency-Key that is not the id", func(t *testing.T) {
		if code, _ := f.post("hello"); code != 400 {
			t.Fatalf("%d", code)
		}
		if code, _ := f.post(f.envelope("env-4"), "Idempotency-Key", "other"); code != 400 {
			t.Fatalf("%d", code)
		}
	})

	t.Run("ErrUnsupportedMediaType and ErrMethodNotAllowed", func(t *testing.T) {
		if code, _ := f.post(jws, "Content-Type", "application/json"); code != 415 {
			t.Fatalf("%d", code)
		}
		rec := httptest.NewRecorder()
		f.sink.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("%d", rec.Code)
		}
	})

	t.Run("a restarted sink still knows what it has", func(t *testing.T) {
		f.sink.Close()
		f.open("")
		if code, m := f.post(jws); code != 200 || m["status"] != "duplicate" {
			t.Fatalf("%d %v", code, m)
		}
		if len(f.sink.Recent()) != 1 {
			t.Fatal("recent records were not read back")
		}
	})
}

func TestSinkToken(t *testing.T) {
	f := newFixture(t, "sink-secret")
	jws := f.envelope("env-1")
	if code, _ := f.post(jws); code != 401 {
		t.Fatalf("without token: %d", code)
	}
	if code, _ := f.post(jws, "Authorization", "Bearer sink-secret"); code != 200 {
		t.Fatalf("with token: %d", code)
	}
}
