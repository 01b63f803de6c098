package storetest

import (
	"context"
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

func runPatients(t *testing.T, open Opener, create func(*testing.T, Store, *questionnaire.Order) string, errCode func(*testing.T, error, string)) {
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
		d, _ := s.Draft(ctx, o.ID)
		d.Answers["q1"] = []string{"2"}
		d.Answers["q2"] = []string{"a", "b"}
		d.Page = 1
		got, err := s.SaveDraft(ctx, o.ID, d, t0.Add(time.Minute))
		if err != nil || got.Status != questionnaire.StatusInProgress {
			t.Fatalf("SaveDraft: %+v, %v", got, err)
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
		_, err := s.SaveDraft(ctx, o.ID, &questionnaire.Draft{}, t0)
		errCode(t, err, questionnaire.ECONFLICT)
	})

	t.Run("submit stores one response, closes the order and drops the draft", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(day)
		code := create(t, s, o)
		s.SaveDraft(ctx, o.ID, &questionnaire.Draft{Answers: map[string][]string{"q1": {"1"}}}, t0)
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
		if exp, _ := s.ExpireOrders(ctx, t0.Add(2*day)); len(exp) != 0 {
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
		if env := Envelope(t, s, got.SubmissionID); env.Type != "declined" || len(env.Answers) != 0 {
			t.Fatalf("envelope %+v", env)
		}
	})

	t.Run("idle sessions are purged", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(day)
		create(t, s, o)
		old, fresh := newSession(o.ID, t0), newSession(o.ID, t0.Add(20*time.Minute))
		s.StartSession(ctx, old, t0)
		s.StartSession(ctx, fresh, t0.Add(20*time.Minute))
		n, err := s.PurgeSessions(ctx, t0.Add(31*time.Minute))
		if err != nil || n != 1 {
			t.Fatalf("purged %d, %v", n, err)
		}
		if _, err := s.Session(ctx, fresh.ID, t0.Add(31*time.Minute)); err != nil {
			t.Fatal("the fresh session was purged")
		}
	})
}

func runLimits(t *testing.T, open Opener) {
	ctx := context.Background()
	window := 15 * time.Minute

	t.Run("failures count within the window and leave it", func(t *testing.T) {
		s, _ := open(t)
		for i := range 3 {
			if err := s.AddFailure(ctx, "ip:1", window, t0.Add(time.Duration(i)*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		s.AddFailure(ctx, "ip:2", window, t0)
		n, oldest, err := s.Failures(ctx, "ip:1", window, t0.Add(10*time.Minute))
		if err != nil || n != 3 || !oldest.Equal(t0) {
			t.Fatalf("n=%d oldest=%v err=%v", n, oldest, err)
		}
		n, oldest, _ = s.Failures(ctx, "ip:1", window, t0.Add(15*time.Minute+time.Second))
		if n != 2 || !oldest.Equal(t0.Add(time.Minute)) {
			t.Fatalf("after the first left: n=%d oldest=%v", n, oldest)
		}
		if n, _, _ := s.Failures(ctx, "ip:3", window, t0); n != 0 {
			t.Fatalf("an unknown key has %d", n)
		}
	})
}
