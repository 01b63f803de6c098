package storetest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/store"
)

// Envelope reads the payload of a message's JWS, without verifying it.
func Envelope(t testing.TB, s *Store, id string) *questionnaire.Envelope {
	t.Helper()
	m, err := s.Message(context.Background(), id)
	if err != nil {
		t.Fatalf("Message %q: %v", id, err)
	}
	parts := strings.Split(string(m.Body), ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS compact serialization: %q", m.Body)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var env questionnaire.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	if env.ID != id || m.KeyID == "" || m.Kind != store.KindEnvelope || m.Ref != env.OrderID || m.Label != env.Type {
		t.Fatalf("envelope %+v in message %+v", env, m)
	}
	return &env
}

// submitted creates an order and submits a response to it; it returns the
// message id.
func submitted(t *testing.T, s *Store, create func(*testing.T, *Store, *questionnaire.Order) string, at time.Time) (string, *questionnaire.Order) {
	t.Helper()
	return submittedFor(t, s, create, "registry", at)
}

// submittedFor is submitted for an order of the given client.
func submittedFor(t *testing.T, s *Store, create func(*testing.T, *Store, *questionnaire.Order) string, client string, at time.Time) (string, *questionnaire.Order) {
	t.Helper()
	o := NewOrder(24 * time.Hour)
	o.Client = client
	create(t, s, o)
	r := &questionnaire.Response{OrderID: o.ID, Type: questionnaire.ResponseAnswered, Language: "nb",
		Answers: []questionnaire.AnswerJSON{{LinkID: "q1", Value: "1"}}, SubmittedAt: at}
	got, err := s.Submit(context.Background(), r, at)
	if err != nil {
		t.Fatal(err)
	}
	return got.SubmissionID, got
}

func runOutbox(t *testing.T, open Opener, create func(*testing.T, *Store, *questionnaire.Order) string, errCode func(*testing.T, error, string)) {
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

	t.Run("an envelope goes to its order's client", func(t *testing.T) {
		s, _ := open(t)
		id, o := submittedFor(t, s, create, "kvarus", t0)
		m, err := s.Message(ctx, id)
		if err != nil || m.Destination != "kvarus" || m.Ref != o.ID || m.Label != "response" {
			t.Fatalf("message %+v, %v", m, err)
		}
		if st, _ := s.Stats(ctx, t0); st.ByDestination["kvarus"] != 1 {
			t.Fatalf("stats %+v", st)
		}
	})

	t.Run("lease hides, delivery leaves a tombstone and marks the order delivered", func(t *testing.T) {
		s, _ := open(t)
		id, o := submitted(t, s, create, t0)
		got, err := s.Receive(ctx, "push", 10, lease, t0, nil)
		if err != nil || len(got) != 1 || got[0].ID != id || len(got[0].Body) == 0 || got[0].LeaseHolder != "push" {
			t.Fatalf("Receive: %v, %v", got, err)
		}
		if again, _ := s.Receive(ctx, "pull:registry", 10, lease, t0.Add(time.Minute), nil); len(again) != 0 {
			t.Fatal("a leased message was leased again")
		}
		if st, _ := s.Stats(ctx, t0.Add(time.Minute)); st.Depth != 1 || st.Leased != 1 || st.OldestAge != time.Minute {
			t.Fatalf("stats %+v", st)
		}
		if err := s.Delivered(ctx, id, "push", "", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.Delivered(ctx, id, "push", "", t0.Add(2*time.Minute)); err != nil {
			t.Fatalf("a second delivery by the same holder: %v", err)
		}
		_, err = s.Message(ctx, id)
		errCode(t, err, questionnaire.ENOTFOUND)
		delivered, _ := s.Order(ctx, o.ID)
		if delivered.Status != questionnaire.StatusDelivered || delivered.DeliveredAt == nil {
			t.Fatalf("order %+v", delivered)
		}
		if st, _ := s.Stats(ctx, t0); st.Depth != 0 || st.Delivered != 1 {
			t.Fatalf("stats %+v", st)
		}
		errCode(t, s.Delivered(ctx, "nope", "push", "", t0), questionnaire.ENOTFOUND)
	})

	t.Run("only the holder of the current lease may delete", func(t *testing.T) {
		s, _ := open(t)
		id, _ := submitted(t, s, create, t0)
		del := func(holder, dest string, at time.Time) error {
			_, err := s.Delete(ctx, id, holder, dest, at)
			return err
		}
		errCode(t, del("pull:registry", "registry", t0), questionnaire.ELEASE) // never leased
		s.Receive(ctx, "push", 10, lease, t0, nil)
		errCode(t, del("pull:registry", "registry", t0), questionnaire.ELEASE) // push holds it
		errCode(t, del("pull:other", "other", t0), questionnaire.ENOTFOUND)    // another client's
		s.Retry(ctx, id, "push", t0, "503", false, t0)
		s.Receive(ctx, "pull:registry", 10, lease, t0, nil)
		errCode(t, del("pull:registry", "registry", t0.Add(lease)), questionnaire.ELEASE) // lapsed
		s.Receive(ctx, "pull:registry", 10, lease, t0.Add(lease), nil)
		d, err := s.Delete(ctx, id, "pull:registry", "registry", t0.Add(lease+time.Second))
		if err != nil || d.ID != id || d.Destination != "registry" || d.Holder != "pull:registry" || !d.Unsettled {
			t.Fatalf("the holder's delete: %+v %v", d, err)
		}
		errCode(t, del("push", "", t0.Add(lease)), questionnaire.ELEASE)               // delivered by another
		errCode(t, del("pull:other", "other", t0.Add(lease)), questionnaire.ENOTFOUND) // not theirs either
		if n, err := s.SettleDeliveries(ctx); err != nil || n != 1 {
			t.Fatalf("settled %d, %v", n, err)
		}
	})

	t.Run("a message is sent once", func(t *testing.T) {
		s, _ := open(t)
		m := &store.Message{ID: "01900000-0000-7000-8000-00000000aaaa", Kind: store.KindEnvelope, Destination: "registry", Body: []byte("x"), CreatedAt: t0, NextAt: t0}
		if err := s.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		errCode(t, s.Send(ctx, m), questionnaire.ECONFLICT)
		got, err := s.Receive(ctx, "push", 10, lease, t0, nil)
		if err != nil || len(got) != 1 || string(got[0].Body) != "x" {
			t.Fatalf("received %v, %v", got, err)
		}
		s.Delete(ctx, m.ID, "push", "", t0)
		errCode(t, s.Send(ctx, m), questionnaire.ECONFLICT)
		if got, err := s.Receive(ctx, "push", 10, lease, t0.Add(time.Hour), nil); err != nil || len(got) != 0 {
			t.Fatalf("after delivery: %v, %v", got, err)
		}
	})

	t.Run("receive takes only what accept lets through", func(t *testing.T) {
		s, _ := open(t)
		a1, _ := submittedFor(t, s, create, "a", t0)
		submittedFor(t, s, create, "a", t0.Add(time.Second))
		b1, _ := submittedFor(t, s, create, "b", t0.Add(2*time.Second))
		onlyB := func(kind, dest string) int {
			if kind == store.KindEnvelope && dest == "b" {
				return 10
			}
			return 0
		}
		got, err := s.Receive(ctx, "pull:b", 10, lease, t0.Add(time.Minute), onlyB)
		if err != nil || len(got) != 1 || got[0].ID != b1 {
			t.Fatalf("b received %v, %v", got, err)
		}
		oneOfA := func(kind, dest string) int {
			if dest == "a" {
				return 1
			}
			return 0
		}
		got, _ = s.Receive(ctx, "push", 10, lease, t0.Add(time.Minute), oneOfA)
		if len(got) != 1 || got[0].ID != a1 {
			t.Fatalf("one of a: %v", got)
		}
	})

	t.Run("extend lengthens only the holder's lease", func(t *testing.T) {
		s, _ := open(t)
		id, _ := submitted(t, s, create, t0)
		s.Receive(ctx, "push", 1, lease, t0, nil)
		errCode(t, s.Extend(ctx, id, "pull:registry", lease, t0), questionnaire.ELEASE)
		if err := s.Extend(ctx, id, "push", 2*lease, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Receive(ctx, "pull:registry", 1, lease, t0.Add(lease+time.Minute), nil); len(got) != 0 {
			t.Fatal("received while the extended lease holds")
		}
	})

	t.Run("a lapsed lease comes back", func(t *testing.T) {
		s, _ := open(t)
		id, _ := submitted(t, s, create, t0)
		s.Receive(ctx, "pull:registry", 10, lease, t0, nil)
		got, _ := s.Receive(ctx, "push", 10, lease, t0.Add(lease), nil)
		if len(got) != 1 || got[0].ID != id || got[0].LeaseHolder != "push" {
			t.Fatalf("after the lease lapsed: %v", got)
		}
	})

	t.Run("a restarted worker takes back its own leases, not pull's", func(t *testing.T) {
		s, _ := open(t)
		pushed, _ := submitted(t, s, create, t0)
		s.Receive(ctx, "push", 1, lease, t0, nil)
		pulled, _ := submitted(t, s, create, t0)
		s.Receive(ctx, "pull:registry", 1, lease, t0, nil)
		if n, err := s.ReleaseLeases(ctx, "push", t0.Add(time.Second)); err != nil || n != 1 {
			t.Fatalf("released %d, %v", n, err)
		}
		got, _ := s.Receive(ctx, "push", 10, lease, t0.Add(time.Second), nil)
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
		got, _ := s.Receive(ctx, "push", 3, lease, t0.Add(time.Minute), nil)
		if len(got) != 3 || got[0].ID != ids[0] || got[2].ID != ids[2] {
			t.Fatalf("received %d", len(got))
		}
	})

	t.Run("retry waits, counts and keeps the error", func(t *testing.T) {
		s, _ := open(t)
		id, _ := submitted(t, s, create, t0)
		s.Receive(ctx, "push", 1, lease, t0, nil)
		errCode(t, s.Retry(ctx, id, "pull:registry", t0, "not mine", false, t0), questionnaire.ELEASE)
		if err := s.Retry(ctx, id, "push", t0.Add(30*time.Second), "503 Service Unavailable", false, t0); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Receive(ctx, "push", 1, lease, t0.Add(29*time.Second), nil); len(got) != 0 {
			t.Fatal("received before its retry time")
		}
		got, _ := s.Receive(ctx, "push", 1, lease, t0.Add(30*time.Second), nil)
		if len(got) != 1 || got[0].Attempts != 1 || got[0].LastError != "503 Service Unavailable" {
			t.Fatalf("%+v", got)
		}
		errCode(t, s.Retry(ctx, "nope", "push", t0, "", false, t0), questionnaire.ENOTFOUND)

		// Refusals in a row keep the first one's time; another failure
		// clears it.
		for i, step := range []struct {
			refused bool
			want    time.Time
		}{{true, t0.Add(31 * time.Second)}, {true, t0.Add(31 * time.Second)}, {false, time.Time{}}, {true, t0.Add(34 * time.Second)}} {
			at := t0.Add(time.Duration(31+i) * time.Second)
			if err := s.Retry(ctx, id, "push", at, "404", step.refused, at); err != nil {
				t.Fatal(err)
			}
			got, _ := s.Receive(ctx, "push", 1, lease, at, nil)
			if len(got) != 1 || !got[0].RefusedSince.Equal(step.want) {
				t.Fatalf("step %d: %+v, want refused since %v", i, got, step.want)
			}
		}
	})

	t.Run("dead letters are kept, listed and re-driven", func(t *testing.T) {
		s, _ := open(t)
		id, _ := submitted(t, s, create, t0)
		s.Receive(ctx, "push", 1, lease, t0, nil)
		s.Retry(ctx, id, "push", t0, "400 Bad Request", true, t0) // refused, then given up
		s.Receive(ctx, "push", 1, lease, t0, nil)
		if err := s.Dead(ctx, id, "push", "400 Bad Request", t0); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Receive(ctx, "push", 1, lease, t0.Add(time.Hour), nil); len(got) != 0 {
			t.Fatal("a dead letter was received")
		}
		dead, _ := s.Messages(ctx, true, 10)
		if len(dead) != 1 || dead[0].ID != id || len(dead[0].Body) != 0 || dead[0].LastError != "400 Bad Request" {
			t.Fatalf("dead list %+v", dead)
		}
		if m, err := s.Message(ctx, id); err != nil || len(m.Body) == 0 || m.DeadAt.IsZero() {
			t.Fatalf("a dead letter by id: %+v %v", m, err)
		}
		if st, _ := s.Stats(ctx, t0); st.Dead != 1 || st.Depth != 0 {
			t.Fatalf("stats %+v", st)
		}
		if err := s.Redrive(ctx, id, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Receive(ctx, "push", 1, lease, t0.Add(time.Hour), nil)
		if len(got) != 1 || got[0].ID != id || got[0].Attempts != 0 || !got[0].RefusedSince.IsZero() {
			t.Fatalf("after redrive: %+v, want a fresh start (no attempts, no refusals)", got)
		}
		errCode(t, s.Redrive(ctx, id, t0), questionnaire.ENOTFOUND)
		errCode(t, s.Dead(ctx, "nope", "push", "", t0), questionnaire.ENOTFOUND)
	})

	t.Run("an expired order sends an expired envelope, once", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(time.Hour)
		create(t, s, o)
		s.StartSession(ctx, newSession(o.ID, t0), t0)
		expired, err := s.Expire(ctx, t0.Add(time.Hour))
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
		s.Expire(ctx, t0.Add(2*time.Hour))
		if st, _ := s.Stats(ctx, t0); st.Depth != 0 {
			t.Fatalf("stats %+v", st)
		}
	})

	t.Run("tombstones are purged after 30 days", func(t *testing.T) {
		s, _ := open(t)
		id, _ := submitted(t, s, create, t0)
		s.Receive(ctx, "push", 1, lease, t0, nil)
		s.Delivered(ctx, id, "push", "", t0)
		if n, _ := s.PurgeTombstones(ctx, t0.Add(30*24*time.Hour)); n != 0 {
			t.Fatal("purged too early")
		}
		if n, _ := s.PurgeTombstones(ctx, t0.Add(30*24*time.Hour+time.Second)); n != 1 {
			t.Fatal("not purged")
		}
		errCode(t, s.Delivered(ctx, id, "push", "", t0), questionnaire.ENOTFOUND)
	})

	t.Run("which keys are still needed", func(t *testing.T) {
		s, _ := open(t)
		id, _ := submitted(t, s, create, t0)
		m, _ := s.Message(ctx, id)
		if used, err := s.KeyInUse(ctx, m.KeyID); err != nil || !used {
			t.Fatalf("in use: %v %v", used, err)
		}
		s.Receive(ctx, "push", 1, lease, t0, nil)
		s.Delivered(ctx, id, "push", "", t0)
		if used, _ := s.KeyInUse(ctx, m.KeyID); used {
			t.Fatal("still in use after delivery")
		}
	})

	t.Run("the outbox survives a restart", func(t *testing.T) {
		s, reopen := open(t)
		id, _ := submitted(t, s, create, t0)
		s = reopen()
		got, err := s.Receive(ctx, "push", 1, lease, t0, nil)
		if err != nil || len(got) != 1 || got[0].ID != id {
			t.Fatalf("after restart: %v %v", got, err)
		}
	})
}
