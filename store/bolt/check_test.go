package bolt_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eprom/store"
	"eprom/store/bolt"
	"eprom/store/storetest"
)

// filled writes a file of some hundred orders and closes it; it returns
// the path and the file's page size.
func filled(t *testing.T) (string, int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "eprom.db")
	s := MustOpen(t, path)
	for range 300 {
		if _, _, _, err := s.CreateOrder(context.Background(), storetest.NewOrder(time.Hour), nil); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	raw, _ := os.ReadFile(path)
	return path, int64(binary.NativeEndian.Uint32(raw[16+8:]))
}

// damage writes n random bytes into the file at off.
func damage(t *testing.T, path string, off int64, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(off), uint64(n)))
	for i := range junk {
		junk[i] = byte(r.Uint32())
	}
	if _, err := f.WriteAt(junk, off); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestDamagedFileIsRefused: a truncated file, or one with pages that are
// not what bbolt wrote, is refused by Open with ErrDamaged, never a panic
// and never a store that serves from it.
func TestDamagedFileIsRefused(t *testing.T) {
	secrets, _ := store.NewSecrets(secret)
	tests := []struct {
		name string
		harm func(t *testing.T, path string, page int64)
		want string
	}{
		{"8 KB of random bytes at offset 4096 (meta page 1, where pages are 4 KiB)", func(t *testing.T, path string, page int64) { damage(t, path, page, 8192) }, "meta page 1"},
		{"random bytes over the first meta page", func(t *testing.T, path string, page int64) { damage(t, path, 0, 512) }, "meta page 0"},
		{"the root bucket's page overwritten", func(t *testing.T, path string, page int64) {
			raw, _ := os.ReadFile(path)
			m := raw[16:] // the meta with the later transaction is the one in use
			if binary.NativeEndian.Uint64(raw[page+16+48:]) > binary.NativeEndian.Uint64(m[48:]) {
				m = raw[page+16:]
			}
			root := int64(binary.NativeEndian.Uint64(m[16:]))
			damage(t, path, root*page, int(page))
		}, "damaged"},
		{"every data page past the metas overwritten", func(t *testing.T, path string, page int64) {
			st, _ := os.Stat(path)
			damage(t, path, 2*page, int(st.Size()-2*page))
		}, "damaged"},
		{"truncated to half", func(t *testing.T, path string, page int64) {
			st, _ := os.Stat(path)
			os.Truncate(path, st.Size()/2/page*page)
		}, "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, page := filled(t)
			tt.harm(t, path, page)
			s, err := bolt.Open(path, secrets)
			if err == nil {
				s.Close()
				t.Fatal("a damaged file was opened")
			}
			if !errors.Is(err, bolt.ErrDamaged) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Open: %v; want ErrDamaged on one line, with %q", err, tt.want)
			}
		})
	}

	t.Run("a sound file opens, again and again", func(t *testing.T) {
		path, _ := filled(t)
		for range 3 {
			s, err := bolt.Open(path, secrets)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
		}
	})
}

// BenchmarkOpenChecked: the check at every start, on a file of 10,000
// orders.
func BenchmarkOpenChecked(b *testing.B) {
	path := filepath.Join(b.TempDir(), "eprom.db")
	s := MustOpen(b, path)
	for range 10000 {
		s.CreateOrder(context.Background(), storetest.NewOrder(time.Hour), nil)
	}
	s.Close()
	st, _ := os.Stat(path)
	b.ReportMetric(float64(st.Size())/1e6, "MB")
	secrets, _ := store.NewSecrets(secret)
	for b.Loop() {
		s, err := bolt.Open(path, secrets)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// TestShiftWithAStepBack: after the wall clock steps back an hour and the
// queue's times are shifted with it, a lease of 30 seconds still ends 30
// seconds after it was taken (the message is neither sent again at once
// nor held for an hour), and a retry due in 10 seconds is due in 10.
func TestShiftWithAStepBack(t *testing.T) {
	ctx := context.Background()
	q := MustOpen(t, filepath.Join(t.TempDir(), "eprom.db")).Queue()
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	const lease = 30 * time.Second
	for _, id := range []string{"01900000-0000-7000-8000-000000000001", "01900000-0000-7000-8000-000000000002"} {
		m := &store.Message{ID: id, Kind: store.KindEnvelope, Destination: "registry", Body: []byte("x"), CreatedAt: t0, NextAt: t0}
		if err := q.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	got, err := q.Receive(ctx, "push", 2, lease, t0, nil)
	if err != nil || len(got) != 2 {
		t.Fatalf("Receive: %d, %v", len(got), err)
	}
	// One is being sent; the other failed and is due again in 10 seconds.
	if err := q.Retry(ctx, got[1].ID, "push", t0.Add(10*time.Second), "503", false, t0); err != nil {
		t.Fatal(err)
	}
	back := t0.Add(-time.Hour + time.Second) // a second later, by a clock set an hour back
	// A third message, leased after the step by the clock as it is now,
	// before the step is noticed: its lease is right and must not move.
	third := &store.Message{ID: "01900000-0000-7000-8000-000000000003", Kind: store.KindEnvelope, Destination: "other", Body: []byte("x"), CreatedAt: back, NextAt: back}
	q.Send(ctx, third)
	if got, _ := q.Receive(ctx, "push", 1, lease, back, nil); len(got) != 1 || got[0].ID != third.ID {
		t.Fatalf("the third message was not leased: %v", got)
	}
	if n, err := q.Shift(ctx, -time.Hour, back.Add(time.Second)); err != nil || n != 2 {
		t.Fatalf("Shift: %d, %v; want the two messages of before the step", n, err)
	}
	if m, _ := q.Message(ctx, third.ID); !m.LeaseUntil.Equal(back.Add(lease)) {
		t.Errorf("a lease taken after the step moved to %v", m.LeaseUntil)
	}
	if again, _ := q.Receive(ctx, "pull:registry", 3, lease, back.Add(time.Second), nil); len(again) != 0 {
		t.Fatalf("received %d at once after the step: the lease and the retry time were lost", len(again))
	}
	if due, _ := q.Receive(ctx, "push", 3, lease, back.Add(9*time.Second), nil); len(due) != 1 || due[0].ID != got[1].ID {
		t.Fatalf("received %v 10 seconds after the retry was set, want only the retried message", due)
	}
	if _, err := q.Delete(ctx, got[0].ID, "push", "", back.Add(20*time.Second)); err != nil {
		t.Errorf("the sender's lease did not hold its 30 seconds across the step: %v", err)
	}
}
