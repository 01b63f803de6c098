package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/store"
	"eprom/store/bolt"
	"eprom/store/signing"
	"eprom/store/storetest"
)

// secret is a fixed test secret.
var secret = bytes.Repeat([]byte{7}, 32)

// MustOpen opens a store on a file in a temporary folder and closes it when
// the test ends.
func MustOpen(tb testing.TB, path string) *bolt.Store {
	tb.Helper()
	book, err := store.NewCodebook(secret)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := bolt.Open(path, book, keyring(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
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
	storetest.Run(t, func(tb testing.TB) (storetest.Store, func() storetest.Store) {
		path := filepath.Join(tb.TempDir(), "eprom.db")
		s := MustOpen(tb, path)
		return s, func() storetest.Store {
			s.Close()
			return MustOpen(tb, path)
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
	if !bytes.Contains(raw, []byte("patient-1")) {
		t.Fatal("the file does not hold the orders; the test would prove nothing")
	}
	for _, c := range codes {
		if bytes.Contains(raw, []byte(c)) || bytes.Contains(raw, []byte(c[:5]+"-"+c[5:])) {
			t.Errorf("code %s is in the file in clear", c)
		}
	}
}

func TestOpenFailsClearlyWhenTheFileIsInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eprom.db")
	MustOpen(t, path)
	book, _ := store.NewCodebook(secret)
	_, err := bolt.Open(path, book, nil)
	if err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second open: %v", err)
	}
}

func TestAnotherSecretFindsNoCode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eprom.db")
	s := MustOpen(t, path)
	_, code, _, _ := s.CreateOrder(context.Background(), storetest.NewOrder(time.Hour), nil)
	s.Close()
	other, _ := store.NewCodebook(bytes.Repeat([]byte{8}, 32))
	s2, err := bolt.Open(path, other, nil)
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

func TestDeliveryReportsAreRetried(t *testing.T) {
	s := MustOpen(t, filepath.Join(t.TempDir(), "eprom.db"))
	ctx := context.Background()
	down := true
	var reported []string
	s.SetDelivered(func(ctx context.Context, orderID string, at time.Time) error {
		if down {
			return errors.New("redis: unavailable")
		}
		reported = append(reported, orderID)
		return nil
	})
	o := storetest.NewOrder(time.Hour)
	s.CreateOrder(ctx, o, nil)
	closed, err := s.Submit(ctx, &questionnaire.Response{OrderID: o.ID, Type: questionnaire.ResponseAnswered}, o.CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(ctx, closed.SubmissionID, o.CreatedAt); err != nil {
		t.Fatalf("a failed report failed the ack: %v", err)
	}
	if n, err := s.ReportDeliveries(ctx); err == nil || n != 0 {
		t.Fatalf("reported %d while down, %v", n, err)
	}
	down = false
	if n, err := s.ReportDeliveries(ctx); err != nil || n != 1 || len(reported) != 1 || reported[0] != o.ID {
		t.Fatalf("reported %d (%v), %v", n, reported, err)
	}
	if n, _ := s.ReportDeliveries(ctx); n != 0 {
		t.Fatal("reported twice")
	}
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
