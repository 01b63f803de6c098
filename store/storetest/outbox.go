package storetest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"eprom/questionnaire"
)

// Envelope reads the payload of a submission's JWS, without verifying it.
func Envelope(t testing.TB, s Store, id string) *questionnaire.Envelope {
	t.Helper()
	sub, err := s.Submission(context.Background(), id)
	if err != nil {
		t.Fatalf("Submission %q: %v", id, err)
	}
	parts := strings.Split(sub.JWS, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS compact serialization: %q", sub.JWS)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var env questionnaire.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	if env.ID != id || sub.KeyID == "" {
		t.Fatalf("envelope id %q in submission %q, kid %q", env.ID, id, sub.KeyID)
	}
	return &env
}

// submitted creates an order and submits a response to it; it returns the
// submission id.
func submitted(t *testing.T, s Store, create func(*testing.T, Store, *questionnaire.Order) string, at time.Time) (string, *questionnaire.Order) {
	t.Helper()
	o := NewOrder(24 * time.Hour)
	create(t, s, o)
	r := &questionnaire.Response{OrderID: o.ID, Type: questionnaire.ResponseAnswered, Language: "nb",
		Answers: []questionnaire.AnswerJSON{{LinkID: "q1", Value: "1"}}, SubmittedAt: at}
	got, err := s.Submit(context.Background(), r, at)
	if err != nil {
		t.Fatal(err)
	}
	return got.SubmissionID, got
}

func runOutbox(t *testing.T, open Opener, create func(*testing.T, Store, *questionnaire.Order) string, errCode func(*testing.T, error, string)) {
	ctx := context.Background()
	lease := 5 * time.Minute

	t.Run("a submit wakes the worker", func(t *testing.T) {
		s, _ := open(t)
		submitted(t, s, create, t0)
		select {
		case <-s.Enqueued():
		default:
			t.Fatal("no signal after a submit")
		}
	})

	t.Run("lease hides, ack delivers and leaves a tombstone", func(t *testing.T) {
		s, _ := open(t)
		id, o := submitted(t, s, create, t0)
		got, err := s.Lease(ctx, "push", 10, lease, t0)
		if err != nil || len(got) != 1 || got[0].ID != id || got[0].JWS == "" || got[0].LeaseHolder != "push" {
			t.Fatalf("Lease: %v, %v", got, err)
		}
		if again, _ := s.Lease(ctx, "pull", 10, lease, t0.Add(time.Minute)); len(again) != 0 {
			t.Fatal("a leased envelope was leased again")
		}
		if st, _ := s.Stats(ctx, t0.Add(time.Minute)); st.Depth != 1 || st.Leased != 1 || st.OldestAge != time.Minute {
			t.Fatalf("stats %+v", st)
		}
		if err := s.Ack(ctx, id, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(ctx, id, t0.Add(2*time.Minute)); err != nil {
			t.Fatalf("a second ack: %v", err)
		}
		_, err = s.Submission(ctx, id)
		errCode(t, err, questionnaire.ENOTFOUND)
		delivered, _ := s.Order(ctx, o.ID)
		if delivered.Status != questionnaire.StatusDelivered || delivered.DeliveredAt == nil {
			t.Fatalf("order %+v", delivered)
		}
		if st, _ := s.Stats(ctx, t0); st.Depth != 0 || st.Delivered != 1 {
			t.Fatalf("stats %+v", st)
		}
		errCode(t, s.Ack(ctx, "nope", t0), questionnaire.ENOTFOUND)
	})

	t.Run("a lapsed lease comes back", func(t *testing.T) {
		s, _ := open(t)
		id, _ := submitted(t, s, create, t0)
		s.Lease(ctx, "pull", 10, lease, t0)
		got, _ := s.Lease(ctx, "push", 10, lease, t0.Add(lease))
		if len(got) != 1 || got[0].ID != id || got[0].LeaseHolder != "push" {
			t.Fatalf("after the lease lapsed: %v", got)
		}
	})

	t.Run("a restarted worker takes back its own leases, not pull's", func(t *testing.T) {
		s, _ := open(t)
		pushed, _ := submitted(t, s, create, t0)
		s.Lease(ctx, "push", 1, lease, t0)
		pulled, _ := submitted(t, s, create, t0)
		s.Lease(ctx, "pull", 1, lease, t0)
		if n, err := s.ReleaseLeases(ctx, "push", t0.Add(time.Second)); err != nil || n != 1 {
			t.Fatalf("released %d, %v", n, err)
		}
		got, _ := s.Lease(ctx, "push", 10, lease, t0.Add(time.Second))
		if len(got) != 1 || got[0].ID != pushed {
			t.Fatalf("after release: %v (pull's %s must stay leased)", got, pulled)
		}
	})

	t.Run("oldest first, at most n", func(t *testing.T) {
		s, _ := open(t)
		var ids []string
		for i := range 5 {
			id, _ := submitted(t, s, create, t0.Add(time.Duration(i)*time.Second))
			ids = append(ids, id)
		}
		got, _ := s.Lease(ctx, "push", 3, lease, t0.Add(time.Minute))
		if len(got) != 3 || got[0].ID != ids[0] || got[2].ID != ids[2] {
			t.Fatalf("leased %d", len(got))
		}
	})

	t.Run("retry waits, counts and keeps the error", func(t *testing.T) {
		s, _ := open(t)
		id, _ := submitted(t, s, create, t0)
		s.Lease(ctx, "push", 1, lease, t0)
		if err := s.Retry(ctx, id, t0.Add(30*time.Second), "503 Service Unavailable"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Lease(ctx, "push", 1, lease, t0.Add(29*time.Second)); len(got) != 0 {
			t.Fatal("leased before its retry time")
		}
		got, _ := s.Lease(ctx, "push", 1, lease, t0.Add(30*time.Second))
		if len(got) != 1 || got[0].Attempts != 1 || got[0].LastError != "503 Service Unavailable" {
			t.Fatalf("%+v", got)
		}
		errCode(t, s.Retry(ctx, "nope", t0, ""), questionnaire.ENOTFOUND)
	})

	t.Run("dead letters are kept, listed and re-driven", func(t *testing.T) {
		s, _ := open(t)
		id, _ := submitted(t, s, create, t0)
		s.Lease(ctx, "push", 1, lease, t0)
		if err := s.Dead(ctx, id, "400 Bad Request", t0); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Lease(ctx, "push", 1, lease, t0.Add(time.Hour)); len(got) != 0 {
			t.Fatal("a dead letter was leased")
		}
		dead, _ := s.Submissions(ctx, true, 10)
		if len(dead) != 1 || dead[0].ID != id || dead[0].JWS != "" || dead[0].LastError != "400 Bad Request" {
			t.Fatalf("dead list %+v", dead)
		}
		if sub, err := s.Submission(ctx, id); err != nil || sub.JWS == "" || sub.DeadAt.IsZero() {
			t.Fatalf("a dead letter by id: %+v %v", sub, err)
		}
		if st, _ := s.Stats(ctx, t0); st.Dead != 1 || st.Depth != 0 {
			t.Fatalf("stats %+v", st)
		}
		if err := s.Redrive(ctx, id, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Lease(ctx, "push", 1, lease, t0.Add(time.Hour))
		if len(got) != 1 || got[0].ID != id || got[0].Attempts != 0 {
			t.Fatalf("after redrive: %+v", got)
		}
		errCode(t, s.Redrive(ctx, id, t0), questionnaire.ENOTFOUND)
		errCode(t, s.Dead(ctx, "nope", "", t0), questionnaire.ENOTFOUND)
	})

	t.Run("an expired order sends an expired envelope, once", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(time.Hour)
		create(t, s, o)
		s.StartSession(ctx, newSession(o.ID, t0), t0)
		expired, err := s.ExpireOrders(ctx, t0.Add(time.Hour))
		if err != nil || len(expired) != 1 || expired[0].SubmissionID == "" {
			t.Fatalf("%v, %v", expired, err)
		}
		env := Envelope(t, s, expired[0].SubmissionID)
		if env.Type != "expired" || env.ExpiredAt == nil || env.SubmittedAt != nil || len(env.Events) != 1 || env.OpenedAt == nil {
			t.Fatalf("envelope %+v", env)
		}
		if st, _ := s.Stats(ctx, t0.Add(time.Hour)); st.Depth != 1 {
			t.Fatalf("stats %+v", st)
		}
	})

	t.Run("a cancelled order sends nothing", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(time.Hour)
		create(t, s, o)
		s.CancelOrder(ctx, o.ID, t0)
		s.ExpireOrders(ctx, t0.Add(2*time.Hour))
		if st, _ := s.Stats(ctx, t0); st.Depth != 0 {
			t.Fatalf("stats %+v", st)
		}
	})

	t.Run("tombstones are purged after 30 days", func(t *testing.T) {
		s, _ := open(t)
		id, _ := submitted(t, s, create, t0)
		s.Ack(ctx, id, t0)
		if n, _ := s.PurgeTombstones(ctx, t0.Add(30*24*time.Hour)); n != 0 {
			t.Fatal("purged too early")
		}
		if n, _ := s.PurgeTombstones(ctx, t0.Add(30*24*time.Hour+time.Second)); n != 1 {
			t.Fatal("not purged")
		}
		errCode(t, s.Ack(ctx, id, t0), questionnaire.ENOTFOUND)
	})

	t.Run("which keys are still needed", func(t *testing.T) {
		s, _ := open(t)
		id, _ := submitted(t, s, create, t0)
		sub, _ := s.Submission(ctx, id)
		if used, err := s.KeyInUse(ctx, sub.KeyID); err != nil || !used {
			t.Fatalf("in use: %v %v", used, err)
		}
		s.Ack(ctx, id, t0)
		if used, _ := s.KeyInUse(ctx, sub.KeyID); used {
			t.Fatal("still in use after delivery")
		}
	})

	t.Run("the outbox survives a restart", func(t *testing.T) {
		s, reopen := open(t)
		id, _ := submitted(t, s, create, t0)
		s = reopen()
		got, err := s.Lease(ctx, "push", 1, lease, t0)
		if err != nil || len(got) != 1 || got[0].ID != id {
			t.Fatalf("after restart: %v %v", got, err)
		}
	})
}
