package bolt

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// group commits writes together, as bbolt's DB.Batch does, and with its
// contract: a write's function may run more than once, and one that fails
// is taken out and run again on its own, so its error is its caller's
// alone. What differs is when a group is committed. DB.Batch waits a fixed
// delay from the first write; group waits only while that can gather
// more: a group is committed as soon as
//
//   - every request the server is handling waits for it (busy: nothing
//     else could join it, and waiting longer would leave the cores idle);
//   - or nothing tells it what the server is doing (busy not set: the CLI,
//     tests), or the group is full, or its first write has waited
//     maxDelay.
//
// A patient alone on the service waits for no one, and under load a
// commit, with its two fdatasyncs and its pages, is shared by as many
// writes as were on their way: fewer, larger commits, less CPU per write.
type group struct {
	db       *bolt.DB
	maxDelay time.Duration
	maxSize  int
	poll     time.Duration // how often a waiting group looks at busy again
	busy     atomic.Pointer[func() int]

	mu      sync.Mutex
	calls   []call
	first   time.Time     // when the oldest waiting call came
	running bool          // a committer is at work; it ends when no call waits
	arrived chan struct{} // a call came (capacity 1)
}

type call struct {
	fn  func(*bolt.Tx) error
	err chan error
}

// poll is how often a waiting group looks again at what the server does:
// a request that ends without writing does not tell it. A write that
// comes does.
const poll = 200 * time.Microsecond

func newGroup(db *bolt.DB, maxDelay time.Duration, maxSize int) *group {
	return &group{db: db, maxDelay: maxDelay, maxSize: maxSize, poll: poll, arrived: make(chan struct{}, 1)}
}

// setBusy tells the group how many requests the server is handling.
func (g *group) setBusy(busy func() int) { g.busy.Store(&busy) }

// errTrySolo tells a caller its function failed in the group: it runs it
// again in a transaction of its own.
var errTrySolo = errors.New("bolt: run alone")

// do runs fn in a shared read-write transaction and returns when that is
// committed.
func (g *group) do(fn func(*bolt.Tx) error) error {
	c := call{fn: fn, err: make(chan error, 1)}
	g.mu.Lock()
	if len(g.calls) == 0 {
		g.first = time.Now()
	}
	g.calls = append(g.calls, c)
	start := !g.running
	g.running = true
	g.mu.Unlock()
	if start {
		go g.commit()
	} else {
		select {
		case g.arrived <- struct{}{}:
		default:
		}
	}
	err := <-c.err
	if err == errTrySolo {
		err = g.db.Update(fn)
	}
	return err
}

// ready tells whether a group of n calls, the first of which has waited
// for waited, is to be committed now, with busy requests being handled
// (busy < 0: not known).
func (g *group) ready(n int, waited time.Duration, busy int) bool {
	return busy < 0 || n >= busy || n >= g.maxSize || waited >= g.maxDelay
}

// commit runs groups until no call waits.
func (g *group) commit() {
	timer := time.NewTimer(g.poll)
	timer.Stop()
	for {
		g.mu.Lock()
		n := len(g.calls)
		if n == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		waited, busy := time.Since(g.first), -1
		if f := g.busy.Load(); f != nil {
			busy = (*f)()
		}
		if !g.ready(n, waited, busy) {
			g.mu.Unlock()
			timer.Reset(min(g.poll, g.maxDelay-waited))
			select {
			case <-g.arrived:
				timer.Stop() // nothing stale is received after it (Go 1.23 timers)
			case <-timer.C:
			}
			continue
		}
		// At most maxSize: the calls that came during a slow commit wait
		// for the next group, so that a failing one reruns no more.
		calls := g.calls[:min(n, g.maxSize)]
		g.calls = slices.Clone(g.calls[len(calls):])
		g.mu.Unlock()
		g.run(calls)
	}
}

// run commits one group, as bbolt's batch does: a function that fails
// leaves the group, its caller runs it alone, and the others run again.
func (g *group) run(calls []call) {
	for len(calls) > 0 {
		failed := -1
		err := g.db.Update(func(tx *bolt.Tx) error {
			for i, c := range calls {
				if err := safely(c.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			calls[failed].err <- errTrySolo
			calls = append(calls[:failed], calls[failed+1:]...)
			continue
		}
		for _, c := range calls {
			c.err <- err
		}
		return
	}
}

// safely calls fn, with a panic as its error (run alone, it panics in its
// caller's goroutine).
func safely(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(tx)
}
