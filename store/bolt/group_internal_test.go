package bolt

import (
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestGroupReadiness(t *testing.T) {
	g := &group{maxDelay: 5 * time.Millisecond, maxSize: 10}
	for _, c := range []struct {
		n      int
		waited time.Duration
		busy   int
		want   bool
	}{
		{1, 0, -1, true},                   // nothing says what the server does: at once
		{1, 0, 1, true},                    // one request, and it waits: at once
		{2, 0, 5, false},                   // three requests could still join
		{5, 0, 5, true},                    // all of them wait
		{6, 0, 5, true},                    // and a background write
		{3, 5 * time.Millisecond, 9, true}, // waited long enough
		{10, 0, 50, true},                  // full
	} {
		if got := g.ready(c.n, c.waited, c.busy); got != c.want {
			t.Errorf("ready(%d, %s, busy %d) = %v, want %v", c.n, c.waited, c.busy, got, c.want)
		}
	}
}

func openGroup(t *testing.T, maxDelay time.Duration, maxSize int) *group {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "g.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		t.Fatal(err)
	}
	return newGroup(db, maxDelay, maxSize)
}

// put writes key in the group and reports the transaction it was in.
func put(g *group, key string, txid *int) error {
	return g.do(func(tx *bolt.Tx) error {
		*txid = tx.ID()
		return tx.Bucket([]byte("b")).Put([]byte(key), []byte("v"))
	})
}

func TestGroupWaitsForTheRequestsInFlight(t *testing.T) {
	g := openGroup(t, time.Hour, 1000)
	g.poll = time.Hour // the last write to come must wake the group itself
	g.setBusy(func() int { return 3 })
	ids := make([]int, 3)
	done := make(chan int, 3)
	for i := range 2 {
		go func() { put(g, strconv.Itoa(i), &ids[i]); done <- i }()
	}
	select {
	case i := <-done:
		t.Fatalf("write %d committed while another request in flight could still join it", i)
	case <-time.After(100 * time.Millisecond):
	}
	go func() { put(g, "2", &ids[2]); done <- 2 }()
	for range 3 {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the writes were not committed once every request in flight waited")
		}
	}
	if ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("three writes in transactions %v, want one", ids)
	}
}

func TestGroupAloneCommitsAtOnce(t *testing.T) {
	for _, busy := range []func() int{nil, func() int { return 1 }} {
		g := openGroup(t, time.Hour, 1000)
		if busy != nil {
			g.setBusy(busy)
		}
		done := make(chan error, 1)
		var id int
		go func() { done <- put(g, "k", &id) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("busy set: %v: a write alone waited", busy != nil)
		}
	}
}

func TestGroupFullOrLate(t *testing.T) {
	// Full: two writes of at most two, with many requests in flight.
	g := openGroup(t, time.Hour, 2)
	g.setBusy(func() int { return 100 })
	var wg sync.WaitGroup
	ids := make([]int, 2)
	for i := range 2 {
		wg.Go(func() { put(g, strconv.Itoa(i), &ids[i]) })
	}
	waitOrFail(t, &wg, "a full group was not committed")
	if ids[0] != ids[1] {
		t.Errorf("a full group in transactions %v, want one", ids)
	}
	// Late: one write, many requests in flight, a short longest wait.
	g = openGroup(t, 20*time.Millisecond, 1000)
	g.setBusy(func() int { return 100 })
	wg.Go(func() { put(g, "k", new(int)) })
	waitOrFail(t, &wg, "a write waited past the longest wait")
}

func waitOrFail(t *testing.T, wg *sync.WaitGroup, msg string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal(msg)
	}
}

func TestGroupFailureIsItsCallersAlone(t *testing.T) {
	g := openGroup(t, time.Hour, 1000)
	g.setBusy(func() int { return 4 })
	refused := errors.New("refused")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	runs := make([]int, 4)
	var mu sync.Mutex
	var panicked any
	for i := range 4 {
		wg.Go(func() {
			// The panic runs again alone, in its caller's goroutine, and
			// panics there, as with bbolt's Batch.
			defer func() {
				if p := recover(); p != nil {
					panicked = p
				}
			}()
			errs[i] = g.do(func(tx *bolt.Tx) error {
				mu.Lock()
				runs[i]++
				mu.Unlock()
				if err := tx.Bucket([]byte("b")).Put([]byte(strconv.Itoa(i)), []byte("v")); err != nil {
					return err
				}
				if i == 1 {
					return refused // its put is rolled back with it
				}
				if i == 2 {
					panic("a bug")
				}
				return nil
			})
		})
	}
	waitOrFail(t, &wg, "the group did not end")
	if panicked != "a bug" {
		t.Errorf("the panicking write's caller got %v, want its panic", panicked)
	}
	if runs[1] < 2 || runs[2] < 2 {
		t.Errorf("the failing writes ran %d and %d times, want again alone", runs[1], runs[2])
	}
	for i, want := range []error{nil, refused, nil, nil} {
		if i == 2 {
			continue
		}
		if !errors.Is(errs[i], want) {
			t.Errorf("write %d: %v, want %v", i, errs[i], want)
		}
	}
	g.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("b"))
		for i, want := range []bool{true, false, false, true} {
			if got := b.Get([]byte(strconv.Itoa(i))) != nil; got != want {
				t.Errorf("write %d stored: %v, want %v", i, got, want)
			}
		}
		return nil
	})
}

func TestGroupCommitsWhenARequestEndsWithoutWriting(t *testing.T) {
	g := openGroup(t, time.Hour, 1000)
	var busy atomic.Int64
	busy.Store(2)
	g.setBusy(func() int { return int(busy.Load()) })
	var wg sync.WaitGroup
	wg.Go(func() { put(g, "k", new(int)) })
	time.Sleep(20 * time.Millisecond) // the write waits for the other request
	busy.Store(1)                     // which ends having written nothing
	waitOrFail(t, &wg, "a write still waited after the only other request ended")
}

func TestGroupOneWriteAfterAnother(t *testing.T) {
	g := openGroup(t, time.Hour, 1000)
	g.setBusy(func() int { return 1 })
	for i := range 5 { // each finds the committer gone, and starts one
		var wg sync.WaitGroup
		wg.Go(func() { put(g, strconv.Itoa(i), new(int)) })
		waitOrFail(t, &wg, "a write after another was not committed")
	}
}

func TestGroupTakesAtMostMaxSize(t *testing.T) {
	g := openGroup(t, 50*time.Millisecond, 2)
	g.setBusy(func() int { return 100 })
	release, held := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	size := map[int]int{} // transaction → writes in it
	write := func(key string, hold bool) {
		g.do(func(tx *bolt.Tx) error {
			if hold {
				close(held)
				<-release
			}
			mu.Lock()
			size[tx.ID()]++
			mu.Unlock()
			return tx.Bucket([]byte("b")).Put([]byte(key), []byte("v"))
		})
	}
	var wg sync.WaitGroup
	wg.Go(func() { write("held", true) })
	<-held
	for i := range 5 { // these come while the first commit is held
		wg.Go(func() { write(strconv.Itoa(i), false) })
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		g.mu.Lock()
		n := len(g.calls)
		g.mu.Unlock()
		if n == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes wait behind the held commit, want 5", n)
		}
	}
	close(release)
	waitOrFail(t, &wg, "the writes were not committed")
	total := 0
	for id, n := range size {
		total += n
		if n > 2 {
			t.Errorf("transaction %d took %d writes, at most 2", id, n)
		}
	}
	if total != 6 {
		t.Errorf("%d writes committed, want 6", total)
	}
}
