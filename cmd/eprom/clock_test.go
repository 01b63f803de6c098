package main

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock gives the guard readings of a wall clock that can be set and
// a monotonic clock that only goes on.
type fakeClock struct {
	mu   sync.Mutex
	wall time.Time
	mono time.Duration
}

func (f *fakeClock) read() (time.Time, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.wall, f.mono
}

func (f *fakeClock) pass(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wall, f.mono = f.wall.Add(d), f.mono+d
}

func TestClockGuardSeesSteps(t *testing.T) {
	f := &fakeClock{wall: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	g := newClockGuardReading(f.read)
	f.pass(time.Minute)
	if d, _ := g.step(); d != 0 {
		t.Errorf("a minute passed on both clocks: step %v", d)
	}
	f.pass(time.Minute)
	f.wall = f.wall.Add(2 * time.Second) // NTP slewing is far less; this is within tolerance
	if d, _ := g.step(); d != 0 {
		t.Errorf("2 s of drift counted as a step: %v", d)
	}
	f.pass(time.Minute)
	f.wall = f.wall.Add(-time.Hour)
	if d, _ := g.step(); d != -time.Hour {
		t.Errorf("a step back of an hour: %v", d)
	}
	f.pass(time.Minute)
	if d, _ := g.step(); d != 0 {
		t.Errorf("the same step seen twice: %v", d)
	}
	f.wall = f.wall.Add(3 * time.Hour)
	if d, _ := g.step(); d != 3*time.Hour {
		t.Errorf("a step forward of three hours: %v", d)
	}
}

// TestServiceMovesLeasesWithAClockStep: a registry leases an envelope
// through the pull API; the wall clock steps back an hour; the sweep's
// look at the clock moves the lease with it, so it still ends when it
// should instead of an hour later.
func TestServiceMovesLeasesWithAClockStep(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg := DefaultConfig()
	cfg.Data, cfg.PublicURL, cfg.APITokens, cfg.Addr = t.TempDir(), base, testToken, ln.Addr().String()
	var logs lockedBuffer
	svc, err := openService(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeClock{wall: time.Now()}
	svc.clock = newClockGuardReading(f.read)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	_, code := orderRetrying(t, base)
	if done, err := patient(base, code); !done || err != nil {
		t.Fatalf("submit: %v %v", done, err)
	}
	status, leased := api(t, "GET", base+"/api/v1/submissions?lease=30", "")
	items, _ := leased["submissions"].([]any)
	if status != 200 || len(items) != 1 {
		t.Fatalf("lease: %d, %d submissions", status, len(items))
	}
	id := items[0].(map[string]any)["id"].(string)
	before, err := svc.queue.Message(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}

	f.pass(time.Second)
	f.wall = f.wall.Add(-time.Hour)
	svc.checkClock(context.Background())

	after, _ := svc.queue.Message(context.Background(), id)
	if got := before.LeaseUntil.Sub(after.LeaseUntil); got != time.Hour {
		t.Errorf("the lease moved by %v with a step back of an hour, want an hour", got)
	}
	if !strings.Contains(logs.String(), "the wall clock stepped") || !strings.Contains(logs.String(), "by=-1h0m0s") {
		t.Errorf("no WARN of the step:\n%s", logs.String())
	}
}
