package bolt_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/store"
	"eprom/store/bolt"
	"eprom/store/storetest"
)

// TestOrdersReadAsStored: orders are kept decoded between reads, but a
// read gives what is stored: not a write that was rolled back, not what a
// caller did to the order it got, and every committed change.
func TestOrdersReadAsStored(t *testing.T) {
	s := MustOpen(t, filepath.Join(t.TempDir(), "eprom.db"))
	ctx := t.Context()
	o := storetest.NewOrder(time.Hour)
	if _, _, _, err := s.CreateOrder(ctx, o, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Order(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a caller's change stays the caller's", func(t *testing.T) {
		got.Status, got.Prefill = questionnaire.StatusCancelled, map[string][]string{"q1": {"9"}}
		again, _ := s.Order(ctx, o.ID)
		if again.Status != questionnaire.StatusOrdered || again.Prefill != nil {
			t.Fatalf("read %s %v after a caller changed its copy", again.Status, again.Prefill)
		}
		again.Status = questionnaire.StatusDeclined
		if third, _ := s.Order(ctx, o.ID); third.Status != questionnaire.StatusOrdered {
			t.Fatalf("read %s after a caller changed its copy", third.Status)
		}
	})

	t.Run("a write rolled back is not read", func(t *testing.T) {
		changed, _ := s.Order(ctx, o.ID)
		changed.Status = questionnaire.StatusCancelled
		fail := errors.New("another call of the batch failed")
		if err := bolt.PutOrderAndRollBackForTest(s, changed, fail); !errors.Is(err, fail) {
			t.Fatal(err)
		}
		if again, _ := s.Order(ctx, o.ID); again.Status != questionnaire.StatusOrdered {
			t.Fatalf("read %s, written by a transaction that rolled back", again.Status)
		}
	})

	t.Run("a committed change is read", func(t *testing.T) {
		if _, err := s.CancelOrder(ctx, o.ID, o.CreatedAt.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if again, _ := s.Order(ctx, o.ID); again.Status != questionnaire.StatusCancelled {
			t.Fatalf("read %s after a cancel", again.Status)
		}
	})
}

// TestDraftsAndSessionsReadAsStored: drafts and sessions are kept decoded
// too, and read as stored: not what a caller did to its copy, every saved
// change, nothing of a session that ended.
func TestDraftsAndSessionsReadAsStored(t *testing.T) {
	s := MustOpen(t, filepath.Join(t.TempDir(), "eprom.db"))
	ctx := t.Context()
	o := storetest.NewOrder(time.Hour)
	if _, _, _, err := s.CreateOrder(ctx, o, nil); err != nil {
		t.Fatal(err)
	}
	now := o.CreatedAt.Add(time.Minute)
	sess := &store.Session{ID: "session-id-0123456789", OrderID: o.ID, CSRF: "csrf", CreatedAt: now, SeenAt: now}
	if _, err := s.StartSession(ctx, sess, now); err != nil {
		t.Fatal(err)
	}
	save := func(value string) {
		t.Helper()
		if _, _, err := s.UpdateDraft(ctx, o.ID, now, func(d *questionnaire.Draft) error {
			d.Answers["q1"] = []string{value}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	save("1")
	d, _ := s.Draft(ctx, o.ID)
	d.Answers["q1"][0], d.Answers["q2"] = "9", []string{"9"}
	if again, _ := s.Draft(ctx, o.ID); again.Answers["q1"][0] != "1" || again.Answers["q2"] != nil {
		t.Fatalf("read %v after a caller changed its copy", again.Answers)
	}
	save("2")
	if again, _ := s.Draft(ctx, o.ID); again.Answers["q1"][0] != "2" {
		t.Fatalf("read %v after a save", again.Answers)
	}

	got, err := s.Session(ctx, sess.ID, now)
	if err != nil || got.CSRF != "csrf" {
		t.Fatalf("session %+v, %v", got, err)
	}
	got.CSRF = "changed"
	if again, _ := s.Session(ctx, sess.ID, now); again.CSRF != "csrf" {
		t.Fatalf("read %q after a caller changed its copy", again.CSRF)
	}
	later := now.Add(2 * time.Minute) // past touchEvery: SeenAt is written anew
	if again, _ := s.Session(ctx, sess.ID, later); !again.SeenAt.Equal(later) {
		t.Fatalf("seen at %v, want %v", again.SeenAt, later)
	}
	if again, _ := s.Session(ctx, sess.ID, later); !again.SeenAt.Equal(later) {
		t.Fatalf("read seen at %v after the touch, want %v", again.SeenAt, later)
	}
	if err := s.EndSession(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, kept := bolt.DecodedForTest(s, o.ID, sess.ID); kept {
		t.Error("an ended session is kept decoded")
	}
	if _, err := s.CancelOrder(ctx, o.ID, later); err != nil {
		t.Fatal(err)
	}
	if _, draft, _ := bolt.DecodedForTest(s, o.ID, sess.ID); draft {
		t.Error("the answers of a cancelled order (its draft deleted) are kept decoded")
	}
	if _, err := s.Session(ctx, sess.ID, later); questionnaire.ErrorCode(err) != questionnaire.ENOTFOUND {
		t.Fatalf("an ended session read: %v", err)
	}
}
