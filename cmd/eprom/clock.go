package main

import (
	"context"
	"sync"
	"time"

	"eprom/store"
)

// stepTolerance is how far the wall clock may drift from the monotonic
// clock between two looks before it counts as a step. NTP slews at most
// 0.5 ms a second; a step (a clock set by hand, a VM resumed, an NTP
// correction of a clock that was far off) is seconds or more.
const stepTolerance = 5 * time.Second

// clockGuard notices a step of the wall clock, by comparing the wall time
// that passed since its last look with the monotonic time that did.
type clockGuard struct {
	read     func() (wall time.Time, mono time.Duration)
	mu       sync.Mutex
	lastWall time.Time
	lastMono time.Duration
}

func newClockGuard() *clockGuard {
	start := time.Now()
	return newClockGuardReading(func() (time.Time, time.Duration) {
		now := time.Now()
		return now.Round(0), now.Sub(start)
	})
}

func newClockGuardReading(read func() (time.Time, time.Duration)) *clockGuard {
	g := &clockGuard{read: read}
	g.lastWall, g.lastMono = read()
	return g
}

// step returns how far the wall clock stepped since the last look: zero,
// or a step beyond stepTolerance (negative: back); and the wall time now.
func (g *clockGuard) step() (time.Duration, time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	wall, mono := g.read()
	d := wall.Sub(g.lastWall) - (mono - g.lastMono)
	g.lastWall, g.lastMono = wall, mono
	if d > -stepTolerance && d < stepTolerance {
		return 0, wall
	}
	return d, wall
}

// checkClock moves what measures a wait with a step of the wall clock:
// the outbox's leases and retry times, and the failure counts of code
// entry kept in memory, those set before the step (store.Stepped). Order expiry is a date the registry chose and is
// not moved.
func (s *service) checkClock(ctx context.Context) {
	d, now := s.clock.step()
	if d == 0 {
		return
	}
	n, err := s.queue.Shift(ctx, d, now)
	if err != nil {
		s.logger.Error("the wall clock stepped; the outbox's leases and retry times could not move with it", "by", d.String(), "err", err.Error())
		return
	}
	if m, ok := s.limits.(*store.MemoryLimits); ok {
		m.Shift(d, now)
	}
	s.logger.Warn("the wall clock stepped; the outbox's leases and retry times moved with it", "by", d.String(), "messages", n)
}
