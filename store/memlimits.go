package store

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryLimits keeps failure counts in memory, for a single process (the
// embedded store). They need no fsync: a wrong code costs no disk write,
// and a reservation lasts microseconds, so patients entering codes at once
// behind one address do not trip over each other's reservations. A restart
// forgets the counts; the window is 15 minutes.
type MemoryLimits struct {
	mu   sync.Mutex
	keys map[string][]time.Time // failure times, oldest first
}

var _ Limits = (*MemoryLimits)(nil)

// NewMemoryLimits returns empty limits.
func NewMemoryLimits() *MemoryLimits { return &MemoryLimits{keys: map[string][]time.Time{}} }

// recent drops the failures of key before since and returns the rest.
func (m *MemoryLimits) recent(key string, since time.Time) []time.Time {
	times := m.keys[key]
	i := 0
	for i < len(times) && !times[i].After(since) {
		i++
	}
	times = times[i:]
	if len(times) == 0 {
		delete(m.keys, key)
		return nil
	}
	m.keys[key] = times
	return times
}

// Reserve implements Limits.
func (m *MemoryLimits) Reserve(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (bool, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	times := m.recent(key, now.Add(-window))
	if len(times) >= limit {
		return false, times[0], nil
	}
	// Keep the list in time order even if clocks step back.
	i := len(times)
	for i > 0 && times[i-1].After(now) {
		i--
	}
	times = append(times, time.Time{})
	copy(times[i+1:], times[i:])
	times[i] = now
	m.keys[key] = times
	return true, time.Time{}, nil
}

// Release implements Limits.
func (m *MemoryLimits) Release(ctx context.Context, key string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	times := m.keys[key]
	for i := len(times) - 1; i >= 0; i-- {
		if times[i].Equal(at) {
			m.keys[key] = append(times[:i], times[i+1:]...)
			break
		}
	}
	if len(m.keys[key]) == 0 {
		delete(m.keys, key)
	}
	return nil
}

// PurgeLimits implements Limits.
func (m *MemoryLimits) PurgeLimits(ctx context.Context, before time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, times := range m.keys {
		if len(times) == 0 || times[len(times)-1].Before(before) {
			delete(m.keys, k)
			n++
		}
	}
	return n, nil
}

// Shift moves the times kept by d, for a wall clock that stepped by d and
// was noticed at now (only those set before the step: see Stepped):
// failures counted before a step back of an hour still leave their window
// when it ends, not an hour later.
func (m *MemoryLimits) Shift(d time.Duration, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, times := range m.keys {
		for i := range times {
			if Stepped(times[i], d, now) {
				times[i] = times[i].Add(d)
			}
		}
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	}
}

// Stepped reports whether t, a time kept by the service, was set before a
// step of the wall clock by d noticed at now, and so should move with it.
// Times set after the step are near now (a wait of minutes at most); those
// set before it are off by about the step, so half the step tells them
// apart: after a step back (d < 0) the ones more than |d|/2 ahead of now,
// after a step forward the ones more than d/2 behind it. A zero time is
// no time.
func Stepped(t time.Time, d time.Duration, now time.Time) bool {
	switch {
	case t.IsZero() || d == 0:
		return false
	case d < 0:
		return t.After(now.Add(-d / 2))
	default:
		return t.Before(now.Add(-d / 2))
	}
}
