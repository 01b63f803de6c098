package storetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/store"
)

// Markers put in answers and patient references, searched for in what a
// store keeps.
const (
	PatientMarker = "PATIENT-MARKER-4711"
	AnswerMarker  = "ANSWER-MARKER-2c9f"
)

// Reveals reports whether raw holds marker in clear or base64 (standard or
// URL alphabet, at any alignment), also base64 inside base64, as a JWS
// payload kept in a JSON record would hold it.
func Reveals(raw []byte, marker string) bool { return reveals(raw, marker, 2) }

var base64Run = regexp.MustCompile(`[A-Za-z0-9+/_-]{24,}`)

func reveals(raw []byte, marker string, depth int) bool {
	if encoded(raw, marker) {
		return true
	}
	if depth == 0 {
		return false
	}
	for _, run := range base64Run.FindAll(raw, -1) {
		for skip := range 4 {
			if skip >= len(run) {
				break
			}
			r := run[skip:]
			r = r[:len(r)/4*4]
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
				if dec, err := enc.DecodeString(string(r)); err == nil && reveals(dec, marker, depth-1) {
					return true
				}
			}
		}
	}
	return false
}

// encoded reports whether raw holds marker in clear or base64 once.
func encoded(raw []byte, marker string) bool {
	if bytes.Contains(raw, []byte(marker)) {
		return true
	}
	for pad := range 3 {
		plain := strings.Repeat("x", pad) + marker
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			s := enc.EncodeToString([]byte(plain))
			// Drop the symbols that mix the padding or the next bytes in.
			from, to := (pad*4+2)/3+1, len(s)-4
			if to > from && bytes.Contains(raw, []byte(s[from:to])) {
				return true
			}
		}
	}
	return false
}

// RunAtRest checks that what a store keeps reveals no answer and no
// patient reference while an order is answered, once it is submitted, and
// once its envelope is delivered. dump returns every byte the store keeps
// (the bbolt file; Redis's values and the outbox file).
func RunAtRest(t *testing.T, s *Store, dump func() []byte) {
	t.Helper()
	ctx := context.Background()
	o := NewOrder(24 * time.Hour)
	o.PatientRef, o.RegistrationRef = PatientMarker, PatientMarker+"-reg"
	// Registries may build idempotency keys from their own references.
	idem := &store.Idempotency{Client: "registry", Key: "order-" + PatientMarker, Hash: "sha256:00"}
	if _, _, _, err := s.CreateOrder(ctx, o, idem); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartSession(ctx, newSession(o.ID, t0), t0); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.UpdateDraft(ctx, o.ID, t0, func(d *questionnaire.Draft) error {
		d.Answers["q1"] = []string{AnswerMarker}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		raw := dump()
		if !bytes.Contains(raw, []byte(o.ID)) {
			t.Fatalf("%s: the dump does not hold the order's id; it proves nothing", when)
		}
		for _, marker := range []string{PatientMarker, AnswerMarker} {
			if Reveals(raw, marker) {
				t.Errorf("%s: %s is readable in what the store keeps", when, marker)
			}
		}
	}
	check("with a draft")
	r := &questionnaire.Response{OrderID: o.ID, Type: questionnaire.ResponseAnswered, Language: "nb",
		Answers: []questionnaire.AnswerJSON{{LinkID: "q1", Value: AnswerMarker}}, SubmittedAt: t0}
	closed, err := s.Submit(ctx, r, t0)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Message(ctx, closed.SubmissionID)
	if err != nil {
		t.Fatal(err)
	}
	// The check itself: the envelope, as sent, does show both.
	if !Reveals(m.Body, AnswerMarker) || !Reveals(m.Body, PatientMarker) {
		t.Fatal("Reveals does not find the markers in the signed envelope; the check proves nothing")
	}
	check("submitted, in the outbox")
	if _, err := s.Receive(ctx, "push", 10, time.Minute, t0, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Delivered(ctx, closed.SubmissionID, "push", "", t0); err != nil {
		t.Fatal(err)
	}
	check("delivered")
}
