package bolt_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"eprom/questionnaire"
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
