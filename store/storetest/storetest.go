// Package storetest is the contract suite that every store implementation
// must pass, with the outbox and the Submissions service wired as `eprom
// serve` wires them; each adapter's tests call Run.
package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/store"

	"github.com/google/uuid"
)

// Store is a store adapter with the outbox beside it and the service that
// closes orders into it, as `eprom serve` wires them.
type Store struct {
	store.Orders
	store.Patients
	store.Queue
	*store.Submissions
}

// Opener opens a fresh, empty store for one test. reopen closes it and opens
// the same data again, as a restart would; adapters without persistence of
// their own may reopen by returning the same store.
type Opener func(tb testing.TB) (s *Store, reopen func() *Store)

// t0 is the suite's "now".
var t0 = T0

// T0 is the "now" of the orders NewOrder makes.
var T0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// NewOrder returns a valid order created at t0 and expiring after ttl.
func NewOrder(ttl time.Duration) *questionnaire.Order {
	return &questionnaire.Order{
		ID:            uuid.Must(uuid.NewV7()).String(),
		Status:        questionnaire.StatusOrdered,
		Questionnaire: questionnaire.QuestionnaireRef{ID: "audit", Version: "1.0.0", Digest: "sha256:00"},
		Language:      "nb",
		PatientRef:    "patient-1",
		Client:        "registry",
		CreatedAt:     t0,
		UpdatedAt:     t0,
		ExpiresAt:     t0.Add(ttl),
	}
}

// Run runs the contract suite.
func Run(t *testing.T, open Opener) {
	ctx := context.Background()
	day := 24 * time.Hour

	create := func(t *testing.T, s *Store, o *questionnaire.Order) string {
		t.Helper()
		_, code, created, err := s.CreateOrder(ctx, o, nil)
		if err != nil || !created {
			t.Fatalf("CreateOrder: created=%v err=%v", created, err)
		}
		return code
	}
	errCode := func(t *testing.T, err error, want string) {
		t.Helper()
		if got := questionnaire.ErrorCode(err); got != want {
			t.Fatalf("error %v (code %q), want code %q", err, got, want)
		}
	}

	t.Run("creates an order and finds it by id and by code", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(14 * day)
		code := create(t, s, o)
		if _, ok := questionnaire.NormalizeCode(code); !ok || len(code) != questionnaire.CodeLength {
			t.Fatalf("code %q is not a normalized code", code)
		}
		got, err := s.Order(ctx, o.ID)
		if err != nil || got.ID != o.ID || got.Status != questionnaire.StatusOrdered || got.PatientRef != "patient-1" ||
			!got.ExpiresAt.Equal(o.ExpiresAt) {
			t.Fatalf("Order: %+v, %v", got, err)
		}
		byCode, current, err := s.LookupCode(ctx, code)
		if err != nil || byCode.ID != o.ID || !current {
			t.Fatalf("LookupCode: %v current=%v err=%v", byCode, current, err)
		}
		shown, err := s.OrderCode(ctx, o.ID, t0)
		if err != nil || shown != code {
			t.Fatalf("OrderCode = %q, %v; want %q", shown, err, code)
		}
	})

	t.Run("ErrNotFound: a wrong code finds nothing", func(t *testing.T) {
		s, _ := open(t)
		create(t, s, NewOrder(day))
		_, _, err := s.LookupCode(ctx, questionnaire.NewCode())
		errCode(t, err, questionnaire.ENOTFOUND)
	})

	t.Run("ErrNotFound: an unknown order id", func(t *testing.T) {
		s, _ := open(t)
		id := uuid.NewString()
		_, err := s.Order(ctx, id)
		errCode(t, err, questionnaire.ENOTFOUND)
		_, err = s.CancelOrder(ctx, id, t0)
		errCode(t, err, questionnaire.ENOTFOUND)
		_, _, err = s.ReissueCode(ctx, id, t0)
		errCode(t, err, questionnaire.ENOTFOUND)
		_, err = s.OrderCode(ctx, id, t0)
		errCode(t, err, questionnaire.ENOTFOUND)
	})

	t.Run("every order gets its own code", func(t *testing.T) {
		s, _ := open(t)
		seen := map[string]bool{}
		for range 50 {
			code := create(t, s, NewOrder(day))
			if seen[code] {
				t.Fatalf("code %s issued twice", code)
			}
			seen[code] = true
		}
	})

	t.Run("idempotency: the same key and body return the same order and code", func(t *testing.T) {
		s, _ := open(t)
		idem := &store.Idempotency{Client: "registry", Key: "k1", Hash: "sha256:aa"}
		first, code, created, err := s.CreateOrder(ctx, NewOrder(day), idem)
		if err != nil || !created {
			t.Fatal(created, err)
		}
		again, code2, created, err := s.CreateOrder(ctx, NewOrder(day), idem)
		if err != nil || created || again.ID != first.ID || code2 != code {
			t.Fatalf("retry: id %s (want %s) code %s (want %s) created=%v err=%v", again.ID, first.ID, code2, code, created, err)
		}
		if _, err := s.Order(ctx, first.ID); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrConflict: the same key with another body", func(t *testing.T) {
		s, _ := open(t)
		create := func(hash string) error {
			_, _, _, err := s.CreateOrder(ctx, NewOrder(day), &store.Idempotency{Client: "registry", Key: "k2", Hash: hash})
			return err
		}
		if err := create("sha256:aa"); err != nil {
			t.Fatal(err)
		}
		errCode(t, create("sha256:bb"), questionnaire.ECONFLICT)
	})

	t.Run("idempotency keys are per caller", func(t *testing.T) {
		s, _ := open(t)
		a, _, _, _ := s.CreateOrder(ctx, NewOrder(day), &store.Idempotency{Client: "a", Key: "k", Hash: "sha256:aa"})
		b, _, created, err := s.CreateOrder(ctx, NewOrder(day), &store.Idempotency{Client: "b", Key: "k", Hash: "sha256:aa"})
		if err != nil || !created || a.ID == b.ID {
			t.Fatalf("second caller got %v created=%v err=%v", b, created, err)
		}
	})

	t.Run("idempotency holds under concurrent retries", func(t *testing.T) {
		s, _ := open(t)
		idem := &store.Idempotency{Client: "registry", Key: "race", Hash: "sha256:aa"}
		var mu sync.Mutex
		ids, createdN := map[string]bool{}, 0
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				o, _, created, err := s.CreateOrder(ctx, NewOrder(day), idem)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				ids[o.ID] = true
				if created {
					createdN++
				}
			})
		}
		wg.Wait()
		if len(ids) != 1 || createdN != 1 {
			t.Fatalf("%d orders, %d created; want 1 and 1", len(ids), createdN)
		}
	})

	t.Run("cancel: the code stops working and the order says why", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(day)
		code := create(t, s, o)
		got, err := s.CancelOrder(ctx, o.ID, t0.Add(time.Minute))
		if err != nil || got.Status != questionnaire.StatusCancelled || got.ClosedAt == nil {
			t.Fatalf("CancelOrder: %+v, %v", got, err)
		}
		byCode, _, err := s.LookupCode(ctx, code)
		if err != nil || byCode.Status != questionnaire.StatusCancelled {
			t.Fatalf("LookupCode after cancel: %v, %v", byCode, err)
		}
		_, err = s.OrderCode(ctx, o.ID, t0)
		errCode(t, err, questionnaire.ECONFLICT)
		_, err = s.CancelOrder(ctx, o.ID, t0)
		errCode(t, err, questionnaire.ECONFLICT)
		_, _, err = s.ReissueCode(ctx, o.ID, t0)
		errCode(t, err, questionnaire.ECONFLICT)
	})

	t.Run("reissue: a new code, and the old one is dead", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(day)
		old := create(t, s, o)
		got, code, err := s.ReissueCode(ctx, o.ID, t0.Add(time.Minute))
		if err != nil || code == old || got.CodeGeneration != 1 || got.ReissuedAt == nil || !got.Status.Open() {
			t.Fatalf("ReissueCode: %+v code %s, %v", got, code, err)
		}
		if byOld, current, err := s.LookupCode(ctx, old); err != nil || current || byOld.ID != o.ID {
			t.Fatalf("old code: %v current=%v err=%v; want the order, not current", byOld, current, err)
		}
		if byNew, current, err := s.LookupCode(ctx, code); err != nil || !current || byNew.ID != o.ID {
			t.Fatalf("new code: %v current=%v err=%v", byNew, current, err)
		}
		if shown, _ := s.OrderCode(ctx, o.ID, t0); shown != code {
			t.Fatalf("OrderCode = %s, want the new %s", shown, code)
		}
	})

	t.Run("expire: due orders, once", func(t *testing.T) {
		s, _ := open(t)
		soon, later := NewOrder(time.Hour), NewOrder(2*day)
		code := create(t, s, soon)
		create(t, s, later)
		if got, err := s.Expire(ctx, t0.Add(59*time.Minute)); err != nil || len(got) != 0 {
			t.Fatalf("before expiry: %v, %v", got, err)
		}
		got, err := s.Expire(ctx, t0.Add(time.Hour))
		if err != nil || len(got) != 1 || got[0].ID != soon.ID || got[0].Status != questionnaire.StatusExpired {
			t.Fatalf("at expiry: %v, %v", got, err)
		}
		if again, _ := s.Expire(ctx, t0.Add(time.Hour)); len(again) != 0 {
			t.Fatalf("expired twice: %v", again)
		}
		if o, _, _ := s.LookupCode(ctx, code); o.Status != questionnaire.StatusExpired {
			t.Fatalf("status %s after expiry", o.Status)
		}
		_, err = s.OrderCode(ctx, soon.ID, t0.Add(time.Hour))
		errCode(t, err, questionnaire.ECONFLICT)
		if o, _ := s.Order(ctx, later.ID); o.Status != questionnaire.StatusOrdered {
			t.Fatalf("the later order is %s", o.Status)
		}
	})

	t.Run("a cancelled order is not expired later", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(time.Hour)
		create(t, s, o)
		s.CancelOrder(ctx, o.ID, t0)
		if got, _ := s.Expire(ctx, t0.Add(2*time.Hour)); len(got) != 0 {
			t.Fatalf("expired a cancelled order: %v", got)
		}
	})

	t.Run("an order past its expiry cannot be reissued, even before the sweeper runs", func(t *testing.T) {
		s, _ := open(t)
		o := NewOrder(time.Hour)
		create(t, s, o)
		_, _, err := s.ReissueCode(ctx, o.ID, t0.Add(2*time.Hour))
		errCode(t, err, questionnaire.ECONFLICT)
	})

	t.Run("orders and codes survive a restart", func(t *testing.T) {
		s, reopen := open(t)
		o := NewOrder(day)
		code := create(t, s, o)
		_, reissued, _ := s.ReissueCode(ctx, o.ID, t0)
		s = reopen()
		if got, current, err := s.LookupCode(ctx, reissued); err != nil || !current || got.ID != o.ID {
			t.Fatalf("after restart: %v current=%v err=%v", got, current, err)
		}
		if _, current, _ := s.LookupCode(ctx, code); current {
			t.Fatal("the reissued code came back to life after a restart")
		}
		if shown, err := s.OrderCode(ctx, o.ID, t0); err != nil || shown != reissued {
			t.Fatalf("OrderCode after restart = %q, %v", shown, err)
		}
	})

	t.Run("ping", func(t *testing.T) {
		s, _ := open(t)
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})

	runPatients(t, open, create, errCode)
	runOutbox(t, open, create, errCode)
}
