package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/store"
)

func newSession(orderID string, now time.Time) *store.Session {
	return &store.Session{ID: questionnaire.NewCode() + questionnaire.NewCode(), OrderID: orderID, CSRF: "csrf", CreatedAt: now, SeenAt: now}
}

func runPatients(t *testing.T, open Opener, create func(*testing.T, *Store, *questionnaire.Order) string, errCode func(*testing.T, error, string)) {
	ctx := context.Background()
	day := 24 * time.Hour

	t.Run("a session opens the order once and is found until idle", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(day)
		create(t, s, o)
		sess := newSession(o.ID, t0)
		got, err := s.StartSession(ctx, sess, t0)
		if err != nil || got.Status != questionnaire.StatusOpened || got.OpenedAt == nil || !got.OpenedAt.Equal(t0) {
			t.Fatalf("StartSession: %+v, %v", got, err)
		}
		again, err := s.StartSession(ctx, newSession(o.ID, t0.Add(time.Hour)), t0.Add(time.Hour))
		if err != nil || !again.OpenedAt.Equal(t0) {
			t.Fatalf("a second session moved openedAt: %+v, %v", again, err)
		}
		found, err := s.Session(ctx, sess.ID, t0.Add(29*time.Minute))
		if err != nil || found.OrderID != o.ID || found.CSRF != "csrf" || found.ID != sess.ID {
			t.Fatalf("Session: %+v, %v", found, err)
		}
		// Seen at 29 minutes: alive until 59.
		if _, err := s.Session(ctx, sess.ID, t0.Add(58*time.Minute)); err != nil {
			t.Fatalf("touched session gone: %v", err)
		}
		_, err = s.Session(ctx, sess.ID, t0.Add(88*time.Minute+time.Second))
		errCode(t, err, questionnaire.ENOTFOUND)
		d, _ := s.Draft(ctx, o.ID)
		if len(d.Events) != 2 || d.Events[0].Type != questionnaire.EventOpened {
			t.Fatalf("events %v, want two opened", d.Events)
		}
	})

	t.Run("a pending session opens nothing until OpenSession", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(day)
		o.Prefill = map[string][]string{"q1": {"2"}}
		create(t, s, o)
		sess := newSession(o.ID, t0)
		sess.Pending = true
		got, err := s.StartSession(ctx, sess, t0)
		if err != nil || got.Status != questionnaire.StatusOrdered || got.OpenedAt != nil {
			t.Fatalf("StartSession of a pending session: %+v, %v; want the order still ordered", got, err)
		}
		if now, _ := s.Order(ctx, o.ID); now.Status != questionnaire.StatusOrdered {
			t.Fatalf("stored order %s after a pending session, want ordered", now.Status)
		}
		if d, _ := s.Draft(ctx, o.ID); len(d.Events) != 0 || len(d.Answers) != 0 {
			t.Fatalf("draft %+v after a pending session, want untouched", d)
		}
		found, err := s.Session(ctx, sess.ID, t0.Add(time.Minute))
		if err != nil || !found.Pending {
			t.Fatalf("Session: %+v, %v; want it pending", found, err)
		}
		opened, err := s.OpenSession(ctx, found, t0.Add(2*time.Minute))
		if err != nil || opened.Status != questionnaire.StatusOpened || !opened.OpenedAt.Equal(t0.Add(2*time.Minute)) || found.Pending {
			t.Fatalf("OpenSession: %+v, %v (pending %v)", opened, err, found.Pending)
		}
		if again, _ := s.Session(ctx, sess.ID, t0.Add(3*time.Minute)); again.Pending {
			t.Fatal("the stored session is still pending after OpenSession")
		}
		d, _ := s.Draft(ctx, o.ID)
		if len(d.Events) != 1 || d.Events[0].Type != questionnaire.EventOpened || d.Answers["q1"][0] != "2" {
			t.Fatalf("draft %+v after OpenSession, want one opened event and the prefill", d)
		}
		s.CancelOrder(ctx, o.ID, t0.Add(4*time.Minute))
		late := newSession(o.ID, t0)
		late.Pending = true
		_, err = s.OpenSession(ctx, late, t0.Add(5*time.Minute))
		errCode(t, err, questionnaire.ECONFLICT)
		_, err = s.StartSession(ctx, late, t0.Add(5*time.Minute))
		errCode(t, err, questionnaire.ECONFLICT)
	})

	t.Run("the first session starts the draft from the order's prefill, once", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(day)
		o.Prefill = map[string][]string{"q1": {"2"}, "unit": {"Avd. Rus"}}
		create(t, s, o)
		if _, err := s.StartSession(ctx, newSession(o.ID, t0), t0); err != nil {
			t.Fatal(err)
		}
		d, _ := s.Draft(ctx, o.ID)
		if got := d.Answers; len(got) != 2 || got["q1"][0] != "2" || got["unit"][0] != "Avd. Rus" {
			t.Fatalf("draft answers %v, want the prefill", got)
		}
		// The patient withdraws an answer; a second session must not bring it back.
		_, _, err := s.UpdateDraft(ctx, o.ID, t0.Add(time.Minute), func(d *questionnaire.Draft) error {
			delete(d.Answers, "q1")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.StartSession(ctx, newSession(o.ID, t0.Add(2*time.Minute)), t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		d, _ = s.Draft(ctx, o.ID)
		if _, back := d.Answers["q1"]; back || len(d.Answers) != 1 {
			t.Fatalf("draft answers %v after a second session, want only unit", d.Answers)
		}
	})

	t.Run("ErrNotFound: an unknown or ended session", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(day)
		create(t, s, o)
		sess := newSession(o.ID, t0)
		s.StartSession(ctx, sess, t0)
		if err := s.EndSession(ctx, sess.ID); err != nil {
			t.Fatal(err)
		}
		_, err := s.Session(ctx, sess.ID, t0)
		errCode(t, err, questionnaire.ENOTFOUND)
		_, err = s.Session(ctx, "nope", t0)
		errCode(t, err, questionnaire.ENOTFOUND)
		if err := s.EndSession(ctx, "nope"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrConflict: no session on a closed order", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(time.Hour)
		create(t, s, o)
		_, err := s.StartSession(ctx, newSession(o.ID, t0), t0.Add(time.Hour))
		errCode(t, err, questionnaire.ECONFLICT)
		s.CancelOrder(ctx, o.ID, t0)
		_, err = s.StartSession(ctx, newSession(o.ID, t0), t0)
		errCode(t, err, questionnaire.ECONFLICT)
	})

	t.Run("a draft is saved, moves the order in progress, and survives a restart", func(t *testing.T) {
		s, reopen := open(t)
		o := NewOrder(day)
		create(t, s, o)
		s.StartSession(ctx, newSession(o.ID, t0), t0)
		got, d, err := s.UpdateDraft(ctx, o.ID, t0.Add(time.Minute), func(d *questionnaire.Draft) error {
			d.Answers["q1"] = []string{"2"}
			d.Answers["q2"] = []string{"a", "b"}
			d.Page = 1
			return nil
		})
		if err != nil || got.Status != questionnaire.StatusInProgress || len(d.Answers) != 2 || len(d.Events) != 1 {
			t.Fatalf("UpdateDraft: %+v %+v, %v", got, d, err)
		}
		s = reopen()
		back, err := s.Draft(ctx, o.ID)
		if err != nil || back.Page != 1 || len(back.Answers["q2"]) != 2 || back.Answers["q1"][0] != "2" ||
			!back.UpdatedAt.Equal(t0.Add(time.Minute)) || len(back.Events) != 1 {
			t.Fatalf("after restart: %+v, %v", back, err)
		}
	})

	t.Run("ErrConflict: no draft saved on a closed order", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(day)
		create(t, s, o)
		s.CancelOrder(ctx, o.ID, t0)
		_, _, err := s.UpdateDraft(ctx, o.ID, t0, func(*questionnaire.Draft) error { return nil })
		errCode(t, err, questionnaire.ECONFLICT)
	})

	t.Run("concurrent saves of different pages keep both", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(day)
		create(t, s, o)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				_, _, err := s.UpdateDraft(ctx, o.ID, t0, func(d *questionnaire.Draft) error {
					d.Answers[fmt.Sprintf("q%d", i)] = []string{"1"}
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if d, _ := s.Draft(ctx, o.ID); len(d.Answers) != 20 {
			t.Fatalf("%d answers kept of 20", len(d.Answers))
		}
	})

	t.Run("an error from the change stores nothing", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(day)
		create(t, s, o)
		_, _, err := s.UpdateDraft(ctx, o.ID, t0, func(d *questionnaire.Draft) error {
			d.Answers["q1"] = []string{"1"}
			return questionnaire.Errorf(questionnaire.EINVALID, "no")
		})
		errCode(t, err, questionnaire.EINVALID)
		if d, _ := s.Draft(ctx, o.ID); len(d.Answers) != 0 {
			t.Fatal("stored")
		}
	})

	t.Run("a cancelled order keeps no answers", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(day)
		create(t, s, o)
		s.UpdateDraft(ctx, o.ID, t0, func(d *questionnaire.Draft) error { d.Answers["q1"] = []string{"1"}; return nil })
		s.CancelOrder(ctx, o.ID, t0)
		if d, _ := s.Draft(ctx, o.ID); len(d.Answers) != 0 {
			t.Fatalf("the draft outlived the cancel: %v", d.Answers)
		}
	})

	t.Run("submit stores one response, closes the order and drops the draft", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(day)
		code := create(t, s, o)
		s.UpdateDraft(ctx, o.ID, t0, func(d *questionnaire.Draft) error { d.Answers["q1"] = []string{"1"}; return nil })
		r := &questionnaire.Response{OrderID: o.ID, Type: questionnaire.ResponseAnswered, Language: "nb",
			Answers: []questionnaire.AnswerJSON{{LinkID: "q1", Value: "1"}}, SubmittedAt: t0}
		got, err := s.Submit(ctx, r, t0)
		if err != nil || got.Status != questionnaire.StatusSubmitted || got.SubmittedAt == nil {
			t.Fatalf("Submit: %+v, %v", got, err)
		}
		env := Envelope(t, s, got.SubmissionID)
		if env.OrderID != o.ID || env.Type != "response" || len(env.Answers) != 1 || env.PatientRef != "patient-1" ||
			env.SubmittedAt == nil || !env.OrderedAt.Equal(t0) {
			t.Fatalf("envelope: %+v", env)
		}
		if d, _ := s.Draft(ctx, o.ID); len(d.Answers) != 0 {
			t.Fatalf("the draft is still there: %v", d)
		}
		_, err = s.Submit(ctx, r, t0)
		errCode(t, err, questionnaire.ECONFLICT)
		_, err = s.OrderCode(ctx, o.ID, t0)
		errCode(t, err, questionnaire.ECONFLICT)
		if byCode, _, _ := s.LookupCode(ctx, code); byCode.Status != questionnaire.StatusSubmitted {
			t.Fatalf("the code's order is %s", byCode.Status)
		}
		if exp, _ := s.Expire(ctx, t0.Add(2*day)); len(exp) != 0 {
			t.Fatal("a submitted order expired later")
		}
	})

	t.Run("concurrent submits of one order store exactly one response", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(day)
		create(t, s, o)
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				r := &questionnaire.Response{OrderID: o.ID, Type: questionnaire.ResponseAnswered, SubmittedAt: t0}
				if _, err := s.Submit(ctx, r, t0); err == nil {
					ok.Add(1)
				} else if questionnaire.ErrorCode(err) != questionnaire.ECONFLICT {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 {
			t.Fatalf("%d submits succeeded, want 1", ok.Load())
		}
		if st, _ := s.Stats(ctx, t0); st.Depth != 1 {
			t.Fatalf("%d envelopes in the outbox, want 1", st.Depth)
		}
	})

	t.Run("decline closes the order as declined", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(day)
		create(t, s, o)
		got, err := s.Submit(ctx, &questionnaire.Response{OrderID: o.ID, Type: questionnaire.ResponseDeclined, SubmittedAt: t0}, t0)
		if err != nil || got.Status != questionnaire.StatusDeclined || got.ClosedAt == nil {
			t.Fatalf("%+v, %v", got, err)
		}
		if env := Envelope(t, s, got.SubmissionID); env.Type != "declined" || len(env.Answers) != 0 || env.Reason != "" {
			t.Fatalf("envelope %+v", env)
		}
	})

	t.Run("a decline's reason goes in its envelope", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(day)
		create(t, s, o)
		r := &questionnaire.Response{OrderID: o.ID, Type: questionnaire.ResponseDeclined, Reason: questionnaire.DeclineReservation, SubmittedAt: t0}
		got, err := s.Submit(ctx, r, t0)
		if err != nil || got.Status != questionnaire.StatusDeclined {
			t.Fatalf("%+v, %v", got, err)
		}
		if env := Envelope(t, s, got.SubmissionID); env.Type != "declined" || env.Reason != questionnaire.DeclineReservation {
			t.Fatalf("envelope %+v", env)
		}
	})

	t.Run("a reason that is not one is refused, and the order stays open", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(day)
		create(t, s, o)
		for _, r := range []*questionnaire.Response{
			{OrderID: o.ID, Type: questionnaire.ResponseDeclined, Reason: "tired", SubmittedAt: t0},
			{OrderID: o.ID, Type: questionnaire.ResponseAnswered, Reason: questionnaire.DeclineNotNow, SubmittedAt: t0},
		} {
			_, err := s.Submit(ctx, r, t0)
			errCode(t, err, questionnaire.EUNPROCESSABLE)
		}
		if got, err := s.Order(ctx, o.ID); err != nil || got.Status != questionnaire.StatusOrdered {
			t.Fatalf("the order after refused submits: %+v, %v", got, err)
		}
		if st, _ := s.Stats(ctx, t0); st.Depth != 0 {
			t.Fatalf("%d envelopes in the outbox, want none", st.Depth)
		}
	})

	t.Run("idle sessions are purged", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(day)
		create(t, s, o)
		old, fresh := newSession(o.ID, t0), newSession(o.ID, t0.Add(20*time.Minute))
		s.StartSession(ctx, old, t0)
		s.StartSession(ctx, fresh, t0.Add(20*time.Minute))
		// Redis forgets idle sessions by itself (TTL); a store that does
		// not purges them here. Either way the idle one is gone.
		if _, err := s.PurgeSessions(ctx, t0.Add(31*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Session(ctx, old.ID, t0.Add(31*time.Minute)); questionnaire.ErrorCode(err) != questionnaire.ENOTFOUND {
			t.Fatalf("the idle session: %v", err)
		}
		if _, err := s.Session(ctx, fresh.ID, t0.Add(31*time.Minute)); err != nil {
			t.Fatal("the fresh session was purged")
		}
	})
}

// RunLimits is the contract suite of store.Limits; open returns empty limits.
func RunLimits(t *testing.T, open func(tb testing.TB) store.Limits) {
	ctx := context.Background()
	window := 15 * time.Minute

	t.Run("reservations count within the window and leave it", func(t *testing.T) {
		s := open(t)
		for i := range 3 {
			ok, _, err := s.Reserve(ctx, "ip:1", 3, window, t0.Add(time.Duration(i)*time.Minute))
			if err != nil || !ok {
				t.Fatalf("reservation %d: %v %v", i, ok, err)
			}
		}
		ok, oldest, err := s.Reserve(ctx, "ip:1", 3, window, t0.Add(10*time.Minute))
		if err != nil || ok || !oldest.Equal(t0) {
			t.Fatalf("over the limit: ok=%v oldest=%v err=%v", ok, oldest, err)
		}
		if ok, _, _ := s.Reserve(ctx, "ip:2", 3, window, t0); !ok {
			t.Fatal("another key is limited")
		}
		if ok, _, _ := s.Reserve(ctx, "ip:1", 3, window, t0.Add(15*time.Minute+time.Second)); !ok {
			t.Fatal("the first failure did not leave the window")
		}
	})

	t.Run("a released reservation does not count", func(t *testing.T) {
		s := open(t)
		for i := range 5 {
			at := t0.Add(time.Duration(i) * time.Second)
			s.Reserve(ctx, "ip:1", 2, window, at)
			if err := s.Release(ctx, "ip:1", at); err != nil {
				t.Fatal(err)
			}
		}
		if ok, _, _ := s.Reserve(ctx, "ip:1", 1, window, t0.Add(time.Minute)); !ok {
			t.Fatal("released reservations still count")
		}
	})

	t.Run("a burst cannot slip past the limit", func(t *testing.T) {
		s := open(t)
		var granted atomic.Int32
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if ok, _, err := s.Reserve(ctx, "ip:1", 10, window, t0); err == nil && ok {
					granted.Add(1)
				}
			})
		}
		wg.Wait()
		if granted.Load() != 10 {
			t.Fatalf("%d of 50 granted, want 10", granted.Load())
		}
	})

	t.Run("purging keeps the keys still counting", func(t *testing.T) {
		s := open(t)
		s.Reserve(ctx, "old", 10, window, t0)
		s.Reserve(ctx, "new", 10, window, t0.Add(time.Hour))
		if _, err := s.PurgeLimits(ctx, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if ok, _, _ := s.Reserve(ctx, "new", 1, 2*time.Hour, t0.Add(time.Hour)); ok {
			t.Fatal("the new key was purged")
		}
	})
}
