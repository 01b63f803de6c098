package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/store"
	"eprom/store/bolt"
	"eprom/store/signing"
	"eprom/store/storetest"

	bbolt "go.etcd.io/bbolt"
)

// secret is a fixed test secret.
var secret = bytes.Repeat([]byte{7}, 32)

// MustOpen opens a store on a file in a temporary folder and closes it when
// the test ends.
func MustOpen(tb testing.TB, path string) *bolt.Store {
	tb.Helper()
	secrets, err := store.NewSecrets(secret)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := bolt.Open(path, secrets)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// wired is a store with its outbox and the Submissions service.
func wired(tb testing.TB, s *bolt.Store) *storetest.Store {
	return &storetest.Store{Orders: s, Patients: s, Queue: s.Queue(),
		Submissions: &store.Submissions{Orders: s, Queue: s.Queue(), Signer: keyring(tb)}}
}

// keyring is a signing keyring in a temporary folder, made once.
var keyring = func() func(testing.TB) *signing.Keyring {
	var once sync.Once
	var k *signing.Keyring
	return func(tb testing.TB) *signing.Keyring {
		once.Do(func() {
			dir, err := os.MkdirTemp("", "eprom-keys-")
			if err != nil {
				tb.Fatal(err)
			}
			if k, err = signing.Load(filepath.Join(dir, "keys.pem"), true); err != nil {
				tb.Fatal(err)
			}
		})
		return k
	}
}()

func TestContract(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) (*storetest.Store, func() *storetest.Store) {
		path := filepath.Join(tb.TempDir(), "eprom.db")
		s := MustOpen(tb, path)
		return wired(tb, s), func() *storetest.Store {
			s.Close()
			return wired(tb, MustOpen(tb, path))
		}
	})
}

func TestCodesAreNeverInTheFileInClear(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eprom.db")
	s := MustOpen(t, path)
	var codes []string
	for range 20 {
		o := storetest.NewOrder(time.Hour)
		_, code, _, err := s.CreateOrder(context.Background(), o, nil)
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, code)
	}
	s.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(raw, []byte(`"gen":0`)); n < len(codes) {
		t.Fatalf("the file holds %d code entries, want %d; the test would prove nothing", n, len(codes))
	}
	for _, c := range codes {
		if bytes.Contains(raw, []byte(c)) || bytes.Contains(raw, []byte(c[:5]+"-"+c[5:])) {
			t.Errorf("code %s is in the file in clear", c)
		}
	}
}

// The file alone reveals no answer and no patient reference: not in its
// live pages, and not in the free pages that deleted records leave.
func TestNothingReadableInTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eprom.db")
	s := MustOpen(t, path)
	storetest.RunAtRest(t, wired(t, s), func() []byte {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	})
}

// Closed orders go TombstoneTTL after their expiry, with their codes.
func TestClosedOrdersArePurged(t *testing.T) {
	s := wired(t, MustOpen(t, filepath.Join(t.TempDir(), "eprom.db")))
	ctx := context.Background()
	o := storetest.NewOrder(time.Hour)
	_, code, _, _ := s.CreateOrder(ctx, o, &store.Idempotency{Client: "registry", Key: "k", Hash: "sha256:aa"})
	s.Submit(ctx, &questionnaire.Response{OrderID: o.ID, Type: questionnaire.ResponseAnswered}, o.CreatedAt)
	open := storetest.NewOrder(time.Hour)
	s.CreateOrder(ctx, open, nil)
	if n, err := s.PurgeOrders(ctx, o.ExpiresAt.Add(store.TombstoneTTL-time.Second)); err != nil || n != 0 {
		t.Fatalf("purged %d before the time, %v", n, err)
	}
	if n, err := s.PurgeOrders(ctx, o.ExpiresAt.Add(store.TombstoneTTL)); err != nil || n != 2 {
		t.Fatalf("purged %d, %v", n, err) // the other expired unanswered: the sweeper closed it, or it is past use
	}
	if _, err := s.Order(ctx, o.ID); questionnaire.ErrorCode(err) != questionnaire.ENOTFOUND {
		t.Fatalf("the order is still there: %v", err)
	}
	if _, _, err := s.LookupCode(ctx, code); questionnaire.ErrorCode(err) != questionnaire.ENOTFOUND {
		t.Fatalf("its code still finds something: %v", err)
	}
	again, _, created, err := s.CreateOrder(ctx, storetest.NewOrder(time.Hour), &store.Idempotency{Client: "registry", Key: "k", Hash: "sha256:aa"})
	if err != nil || !created || again.ID == o.ID {
		t.Fatalf("the idempotency key outlived its order: %v %v", created, err)
	}
}

// A record that cannot be opened (sealed under another secret, or
// damaged) holds up nothing: Receive dead-letters it and hands out the
// rest; the sweep expires the other orders and reports the one it could not.
func TestAnUnreadableRecordHoldsUpNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eprom.db")
	ctx := context.Background()
	other, _ := store.NewSecrets(bytes.Repeat([]byte{8}, 32))
	s, err := bolt.Open(path, other)
	if err != nil {
		t.Fatal(err)
	}
	foreign := storetest.NewOrder(time.Hour)
	s.CreateOrder(ctx, foreign, nil)
	now := foreign.CreatedAt
	bad := &store.Message{ID: "01900000-0000-7000-8000-000000000001", Kind: store.KindEnvelope, Destination: "registry", Body: []byte("x"), CreatedAt: now, NextAt: now}
	if err := s.Queue().Send(ctx, bad); err != nil {
		t.Fatal(err)
	}
	s.Close()

	w := wired(t, MustOpen(t, path))
	good := &store.Message{ID: "01900000-0000-7000-8000-000000000002", Kind: store.KindEnvelope, Destination: "registry", Body: []byte("y"), CreatedAt: now, NextAt: now}
	w.Send(ctx, good)
	got, err := w.Receive(ctx, "push", 10, time.Minute, now, nil)
	if err != nil || len(got) != 1 || got[0].ID != good.ID {
		t.Fatalf("received %v, %v; want the readable one", got, err)
	}
	dead, _ := w.Messages(ctx, true, 10)
	if len(dead) != 1 || dead[0].ID != bad.ID || !strings.Contains(dead[0].LastError, "cannot open") {
		t.Fatalf("dead letters %+v", dead)
	}

	mine := storetest.NewOrder(2 * time.Hour)
	w.CreateOrder(ctx, mine, nil)
	expired, err := w.Expire(ctx, mine.ExpiresAt)
	if len(expired) != 1 || expired[0].ID != mine.ID {
		t.Fatalf("expired %v; the readable order must expire", expired)
	}
	if err == nil || !strings.Contains(err.Error(), foreign.ID) {
		t.Fatalf("the unreadable order is not reported: %v", err)
	}
}

// SendTx joins the caller's transaction: the message is there when it
// commits, and not when it rolls back.
func TestSendTxJoinsTheCallersTransaction(t *testing.T) {
	s := MustOpen(t, filepath.Join(t.TempDir(), "eprom.db"))
	ctx := context.Background()
	now := time.Now()
	rolled := &store.Message{ID: "01900000-0000-7000-8000-0000000000e1", Kind: store.KindEnvelope, Destination: "registry", Body: []byte("x"), CreatedAt: now, NextAt: now}
	if err := bolt.SendInATransactionForTest(s, rolled, errors.New("the caller's own failure")); err == nil {
		t.Fatal("the failing transaction committed")
	}
	committed := &store.Message{ID: "01900000-0000-7000-8000-0000000000e2", Kind: store.KindEnvelope, Destination: "registry", Body: []byte("y"), CreatedAt: now, NextAt: now}
	if err := bolt.SendInATransactionForTest(s, committed, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Queue().Receive(ctx, "push", 10, time.Minute, now, nil)
	if err != nil || len(got) != 1 || got[0].ID != committed.ID || string(got[0].Body) != "y" {
		t.Fatalf("received %v, %v; want only the committed one", got, err)
	}
	if err := bolt.SendInATransactionForTest(s, committed, nil); questionnaire.ErrorCode(err) != questionnaire.ECONFLICT {
		t.Fatalf("the same id again: %v", err)
	}
}

// A discard of a message confirmed meanwhile (Recover racing a Confirm)
// leaves it whole.
func TestADiscardAfterTheConfirmKeepsTheMessage(t *testing.T) {
	s := MustOpen(t, filepath.Join(t.TempDir(), "eprom.db"))
	ctx := context.Background()
	q := s.Queue()
	now := time.Now()
	m := &store.Message{ID: "01900000-0000-7000-8000-0000000000d1", Kind: store.KindEnvelope, Destination: "registry", Body: []byte("x"), CreatedAt: now, NextAt: now}
	q.Prepare(ctx, m)
	q.Confirm(ctx, m.ID)
	if err := q.Discard(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	got, err := q.Receive(ctx, "push", 1, time.Minute, now, nil)
	if err != nil || len(got) != 1 || string(got[0].Body) != "x" {
		t.Fatalf("after a late discard: %v %v", got, err)
	}
}

// A message After another is not received while that one is prepared or
// queued (leased included); once it is delivered or dead, it is; and many
// that wait do not hide the one they wait for.
func TestAMessageWaitsForTheOneItFollows(t *testing.T) {
	s := MustOpen(t, filepath.Join(t.TempDir(), "eprom.db"))
	ctx := context.Background()
	q := s.Queue()
	now := time.Now()
	msg := func(id, after string, at time.Time) *store.Message {
		return &store.Message{ID: id, Kind: store.KindHemit, Destination: "mrs", After: after, Body: []byte(id), CreatedAt: at, NextAt: at}
	}
	first := msg("01900000-0000-7000-8000-0000000000f0", "", now)
	if err := q.Prepare(ctx, first); err != nil {
		t.Fatal(err)
	}
	// Five that wait, all due before it, more than a Receive takes.
	for i := range 5 {
		if err := q.Send(ctx, msg(fmt.Sprintf("01900000-0000-7000-8000-0000000000f%d", i+1), first.ID, now.Add(-time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	receive := func(n int) []string {
		t.Helper()
		got, err := q.Receive(ctx, "push", n, time.Minute, now, nil)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range got {
			ids = append(ids, m.ID[len(m.ID)-2:])
		}
		return ids
	}
	if got := receive(3); len(got) != 0 {
		t.Fatalf("received %v while the one they follow is prepared", got)
	}
	q.Confirm(ctx, first.ID)
	if got := receive(3); len(got) != 1 || got[0] != "f0" {
		t.Fatalf("received %v, want only f0: the others wait for it", got)
	}
	if got := receive(3); len(got) != 0 {
		t.Fatalf("received %v while f0 is leased", got)
	}
	if err := q.Retry(ctx, first.ID, "push", now.Add(time.Hour), "500", false, now); err != nil {
		t.Fatal(err)
	}
	if got := receive(3); len(got) != 0 {
		t.Fatalf("received %v while f0 waits for a retry", got)
	}
	q.ReleaseLeases(ctx, "push", now)
	if _, err := q.Receive(ctx, "push", 1, time.Minute, now.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Delete(ctx, first.ID, "push", "", now); err != nil {
		t.Fatal(err)
	}
	if got := receive(10); len(got) != 5 {
		t.Fatalf("received %v after f0 was delivered, want all five", got)
	}
}

func TestOpenFailsClearlyWhenTheFileIsInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eprom.db")
	MustOpen(t, path)
	_, err := bolt.Open(path, nil)
	if !errors.Is(err, bolt.ErrInUse) || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second open: %v", err)
	}
}

func TestAnotherSecretFindsNoCode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eprom.db")
	s := MustOpen(t, path)
	_, code, _, _ := s.CreateOrder(context.Background(), storetest.NewOrder(time.Hour), nil)
	s.Close()
	other, _ := store.NewSecrets(bytes.Repeat([]byte{8}, 32))
	s2, err := bolt.Open(path, other)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, _, err := s2.LookupCode(context.Background(), code); err == nil {
		t.Fatal("a store with another secret found the code")
	}
}

func TestPurges(t *testing.T) {
	s := MustOpen(t, filepath.Join(t.TempDir(), "eprom.db"))
	ctx := context.Background()
	o := storetest.NewOrder(time.Hour)
	s.CreateOrder(ctx, o, nil)
	s.StartSession(ctx, &store.Session{ID: "s1", OrderID: o.ID, SeenAt: o.CreatedAt}, o.CreatedAt)
	if n, err := s.PurgeSessions(ctx, o.CreatedAt.Add(31*time.Minute)); err != nil || n != 1 {
		t.Fatalf("purged %d sessions, %v", n, err)
	}
}

// The embedded store keeps failure counts in memory: no fsync per code.
func TestMemoryLimits(t *testing.T) {
	storetest.RunLimits(t, func(testing.TB) store.Limits { return store.NewMemoryLimits() })

	t.Run("purge counts what it forgets", func(t *testing.T) {
		m := store.NewMemoryLimits()
		t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		m.Reserve(context.Background(), "old", 10, time.Minute, t0)
		m.Reserve(context.Background(), "new", 10, time.Minute, t0.Add(time.Hour))
		if n, err := m.PurgeLimits(context.Background(), t0.Add(time.Minute)); err != nil || n != 1 {
			t.Fatalf("purged %d, %v", n, err)
		}
	})
}

func TestDeliveriesAreSettledWhenTheOrdersComeBack(t *testing.T) {
	s := MustOpen(t, filepath.Join(t.TempDir(), "eprom.db"))
	ctx := context.Background()
	down := &flakyOrders{Orders: s, down: true}
	sub := &store.Submissions{Orders: down, Queue: s.Queue(), Signer: keyring(t)}
	o := storetest.NewOrder(time.Hour)
	s.CreateOrder(ctx, o, nil)
	closed, err := sub.Submit(ctx, &questionnaire.Response{OrderID: o.ID, Type: questionnaire.ResponseAnswered}, o.CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	s.Queue().Receive(ctx, "push", 1, time.Minute, o.CreatedAt, nil)
	if err := sub.Delivered(ctx, closed.SubmissionID, "push", "", o.CreatedAt); err != nil {
		t.Fatalf("a failed settle failed the delivery: %v", err)
	}
	if n, err := sub.SettleDeliveries(ctx); err == nil || n != 0 {
		t.Fatalf("settled %d while down, %v", n, err)
	}
	if got, _ := s.Order(ctx, o.ID); got.Status != questionnaire.StatusSubmitted {
		t.Fatalf("status %s while the orders were down", got.Status)
	}
	down.down = false
	if n, err := sub.SettleDeliveries(ctx); err != nil || n != 1 {
		t.Fatalf("settled %d, %v", n, err)
	}
	if got, _ := s.Order(ctx, o.ID); got.Status != questionnaire.StatusDelivered {
		t.Fatalf("status %s after settling", got.Status)
	}
	if n, _ := sub.SettleDeliveries(ctx); n != 0 {
		t.Fatal("settled twice")
	}
}

// flakyOrders fails MarkDelivered while down.
type flakyOrders struct {
	store.Orders
	down bool
}

func (f *flakyOrders) MarkDelivered(ctx context.Context, id string, at time.Time) error {
	if f.down {
		return errors.New("redis: unavailable")
	}
	return f.Orders.MarkDelivered(ctx, id, at)
}

func BenchmarkLookupCode(b *testing.B) {
	s := MustOpen(b, filepath.Join(b.TempDir(), "eprom.db"))
	ctx := context.Background()
	var codes []string
	for range 1000 {
		_, code, _, _ := s.CreateOrder(ctx, storetest.NewOrder(time.Hour), nil)
		codes = append(codes, code)
	}
	i := 0
	for b.Loop() {
		if _, _, err := s.LookupCode(ctx, codes[i%len(codes)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSubmit is the durable part of a patient's submit: the order
// closed, its envelope signed, sealed and put in the outbox, one fsync
// shared by the submits that come together. BenchmarkRawCommit is bbolt's
// batched commit of a value of an envelope's size, the baseline.
func BenchmarkSubmit(b *testing.B) {
	s := wired(b, MustOpen(b, filepath.Join(b.TempDir(), "eprom.db")))
	ctx := context.Background()
	ids := make(chan string, b.N+64)
	for range b.N + 64 {
		o := storetest.NewOrder(time.Hour)
		s.CreateOrder(ctx, o, nil)
		ids <- o.ID
	}
	answers := make([]questionnaire.AnswerJSON, 10)
	for i := range answers {
		answers[i] = questionnaire.AnswerJSON{LinkID: fmt.Sprintf("q%d", i+1), Value: "2"}
	}
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := &questionnaire.Response{OrderID: <-ids, Type: questionnaire.ResponseAnswered, Language: "nb", Answers: answers, SubmittedAt: storetest.T0}
			if _, err := s.Submit(ctx, r, r.SubmittedAt); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkRawCommit(b *testing.B) {
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.MaxBatchDelay = 2 * time.Millisecond // bbolt's Batch at its best here (eprom-load)
	db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err })
	value := bytes.Repeat([]byte("x"), 2048)
	var seq atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := []byte(fmt.Sprint(seq.Add(1)))
			if err := db.Batch(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("b")).Put(k, value) }); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
