// Package sink is the reference registry-core receiver: it takes signed
// envelopes (POST, application/jose), verifies each against the service's
// JWKS, refuses a bad signature or an unknown key with 400, answers a
// duplicate (by envelope id) with 200 without storing it again, and appends
// what it accepts to a JSONL file, synced to disk before it answers 200.
//
// cmd/registry-sink runs it as a program; `eprom demo` runs one in process.
// A registry's developers can read it as a specification of what to do.
package sink

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"sync"
	"time"

	"eprom/questionnaire"
	"eprom/store/signing"

	"github.com/go-jose/go-jose/v4"
)

// MaxEnvelope is the largest envelope accepted.
const MaxEnvelope = 1 << 20

// KeySource returns the current key set; refresh asks for a fresh copy
// (an envelope names a key not seen yet).
type KeySource func(ctx context.Context, refresh bool) (*jose.JSONWebKeySet, error)

// Config configures a Sink.
type Config struct {
	Keys   KeySource    // required
	Out    string       // the JSONL file; required
	Token  string       // when set, "Authorization: Bearer <token>" is required
	Logger *slog.Logger // default slog.Default()
	Now    func() time.Time
}

// Record is one line of the JSONL file.
type Record struct {
	ReceivedAt time.Time               `json:"receivedAt"`
	KeyID      string                  `json:"kid"`
	JWS        string                  `json:"jws"` // as received, for anyone to verify again
	Envelope   *questionnaire.Envelope `json:"envelope"`
}

// Sink receives envelopes.
type Sink struct {
	cfg Config

	mu     sync.Mutex
	file   *os.File
	seen   map[string]bool
	recent []Record // newest last, at most keepRecent

	unknownMu sync.Mutex
	unknown   map[string]time.Time // kid → when it was first not in the JWKS
}

// rotationGrace is how long a kid the JWKS does not show is taken for a
// key just rotated in (503, retry later) before it is refused (400).
const rotationGrace = 10 * time.Second

const keepRecent = 200

// Open opens (or creates) the output file and reads the envelope ids
// already in it, so that a restarted sink still de-duplicates.
func Open(cfg Config) (*Sink, error) {
	if cfg.Keys == nil || cfg.Out == "" {
		return nil, errors.New("sink: Keys and Out are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	f, err := os.OpenFile(cfg.Out, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	s := &Sink{cfg: cfg, file: f, seen: map[string]bool{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 2*MaxEnvelope)
	for n := 1; sc.Scan(); n++ {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Envelope == nil {
			f.Close()
			return nil, fmt.Errorf("sink: %s line %d is not a record", cfg.Out, n)
		}
		s.seen[r.Envelope.ID] = true
		s.keep(r)
	}
	if err := sc.Err(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sink: read %s: %w", cfg.Out, err)
	}
	return s, nil
}

// Close closes the output file.
func (s *Sink) Close() error { return s.file.Close() }

func (s *Sink) keep(r Record) {
	s.recent = append(s.recent, r)
	if len(s.recent) > keepRecent {
		s.recent = s.recent[len(s.recent)-keepRecent:]
	}
}

// Recent returns the last records received, newest first.
func (s *Sink) Recent() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Record, len(s.recent))
	for i, r := range s.recent {
		out[len(out)-1-i] = r
	}
	return out
}

// answer writes a small JSON answer.
func answer(w http.ResponseWriter, status int, body map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// ServeHTTP receives one envelope.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		answer(w, http.StatusMethodNotAllowed, map[string]string{"error": "POST a signed envelope"})
		return
	}
	if s.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+s.cfg.Token)) != 1 {
		answer(w, http.StatusUnauthorized, map[string]string{"error": "a valid bearer token is required"})
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/jose" {
		answer(w, http.StatusUnsupportedMediaType, map[string]string{"error": "Content-Type must be application/jose"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxEnvelope+1))
	if err != nil {
		answer(w, http.StatusBadRequest, map[string]string{"error": "could not read the body"})
		return
	}
	if len(body) > MaxEnvelope {
		answer(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "envelope too large"})
		return
	}
	env, kid, err := s.verify(r.Context(), string(body))
	var later *retryLater
	if errors.As(err, &later) {
		// Not the sender's fault: keys not fetched yet, or a key just
		// rotated in that the JWKS does not show yet. Ask for a retry.
		s.cfg.Logger.Warn("sink: cannot verify yet", "reason", err.Error())
		w.Header().Set("Retry-After", "10")
		answer(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	if err != nil {
		s.cfg.Logger.Warn("sink: rejected", "reason", err.Error())
		answer(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if key := r.Header.Get("Idempotency-Key"); key != "" && key != env.ID {
		answer(w, http.StatusBadRequest, map[string]string{"error": "Idempotency-Key is not the envelope's id"})
		return
	}
	stored, err := s.store(env, kid, string(body))
	if err != nil {
		s.cfg.Logger.Error("sink: store", "err", err.Error())
		answer(w, http.StatusInternalServerError, map[string]string{"error": "could not store the envelope"})
		return
	}
	status := "stored"
	if !stored {
		status = "duplicate"
	}
	answer(w, http.StatusOK, map[string]string{"id": env.ID, "status": status})
}

// retryLater is a verification that may succeed later: no key set yet,
// or a key the set does not show yet.
type retryLater struct{ err error }

func (r *retryLater) Error() string { return r.err.Error() }

// verify checks the signature against the key set, fetching it again once
// when the key is unknown (a rotation), and decodes the envelope.
func (s *Sink) verify(ctx context.Context, jws string) (*questionnaire.Envelope, string, error) {
	set, err := s.cfg.Keys(ctx, false)
	if err != nil {
		return nil, "", &retryLater{fmt.Errorf("no key set: %w", err)}
	}
	payload, kid, err := signing.Verify(jws, set)
	if err != nil && kid != "" && len(set.Key(kid)) == 0 {
		if set, err = s.cfg.Keys(ctx, true); err != nil {
			return nil, "", &retryLater{fmt.Errorf("no key set: %w", err)}
		}
		payload, kid, err = signing.Verify(jws, set)
		if err != nil && len(set.Key(kid)) == 0 {
			// A key rotated in a moment ago may not be in the JWKS yet:
			// retry later, for rotationGrace; after that it is unknown.
			if s.unknownSince(kid) < rotationGrace {
				return nil, kid, &retryLater{err}
			}
			return nil, kid, fmt.Errorf("%w; the JWKS has not shown it for %s", err, rotationGrace)
		}
	}
	if err != nil {
		return nil, kid, err
	}
	var env questionnaire.Envelope
	if err := json.Unmarshal(payload, &env); err != nil || env.ID == "" || env.OrderID == "" {
		return nil, kid, errors.New("the payload is not an envelope")
	}
	return &env, kid, nil
}

// unknownSince notes a kid the JWKS does not show and says how long ago it
// was first seen so; the list is kept small.
func (s *Sink) unknownSince(kid string) time.Duration {
	s.unknownMu.Lock()
	defer s.unknownMu.Unlock()
	now := s.cfg.Now()
	if s.unknown == nil || len(s.unknown) > 1000 {
		s.unknown = map[string]time.Time{}
	}
	first, ok := s.unknown[kid]
	if !ok {
		s.unknown[kid] = now
		return 0
	}
	return now.Sub(first)
}

// store appends a new envelope and syncs; false for a duplicate.
func (s *Sink) store(env *questionnaire.Envelope, kid, jws string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[env.ID] {
		return false, nil
	}
	rec := Record{ReceivedAt: s.cfg.Now().UTC(), KeyID: kid, JWS: jws, Envelope: env}
	line, err := json.Marshal(rec)
	if err != nil {
		return false, err
	}
	// A write or sync that fails leaves no half line and no unsynced
	// record behind: the file goes back to its last good size, and the
	// sender's retry writes the record once.
	size, err := s.file.Seek(0, io.SeekEnd)
	if err != nil {
		return false, err
	}
	if _, err := s.file.Write(append(line, '\n')); err != nil {
		s.file.Truncate(size)
		return false, err
	}
	if err := s.file.Sync(); err != nil {
		s.file.Truncate(size)
		return false, err
	}
	s.seen[env.ID] = true
	s.keep(rec)
	return true, nil
}

// FetchJWKS returns a KeySource that reads a JWKS URL, keeping the set and
// fetching it again at most every 10 seconds when asked to refresh.
func FetchJWKS(url string, client *http.Client) KeySource {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	var (
		mu      sync.Mutex
		set     *jose.JSONWebKeySet
		fetched time.Time
	)
	return func(ctx context.Context, refresh bool) (*jose.JSONWebKeySet, error) {
		mu.Lock()
		defer mu.Unlock()
		if set != nil && (!refresh || time.Since(fetched) < 10*time.Second) {
			return set, nil
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			if set != nil {
				return set, nil // keep the set we have
			}
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			if set != nil {
				return set, nil
			}
			return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, err
		}
		fresh, err := signing.ParseJWKS(raw)
		if err != nil {
			return nil, err
		}
		set, fetched = fresh, time.Now()
		return set, nil
	}
}
