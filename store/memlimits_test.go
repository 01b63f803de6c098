package store_test

import (
	"context"
	"testing"
	"time"

	"eprom/store"
)

// TestLimitsMoveWithAClockStep: failures counted before a step back of an
// hour leave their 15-minute window 15 minutes after they were made, not
// an hour and a quarter; one counted after the step stays where it is.
func TestLimitsMoveWithAClockStep(t *testing.T) {
	ctx := context.Background()
	m := store.NewMemoryLimits()
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	const window = 15 * time.Minute
	for i := range 3 {
		m.Reserve(ctx, "code:a", 3, window, t0.Add(time.Duration(i)*time.Second))
	}
	back := t0.Add(-time.Hour + 5*time.Second) // the clock was set an hour back
	m.Reserve(ctx, "code:b", 3, window, back)
	m.Shift(-time.Hour, back.Add(time.Second))
	if ok, _, _ := m.Reserve(ctx, "code:a", 3, window, back.Add(window-10*time.Second)); ok {
		t.Error("the three failures left their window early")
	}
	if ok, _, _ := m.Reserve(ctx, "code:a", 3, window, back.Add(window)); !ok {
		t.Error("the three failures from before the step still count after their window")
	}
	for range 2 {
		m.Reserve(ctx, "code:b", 3, window, back.Add(time.Minute))
	}
	if ok, _, _ := m.Reserve(ctx, "code:b", 3, window, back.Add(window-time.Second)); ok {
		t.Error("a failure counted after the step was moved")
	}
}

func TestStepped(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		t    time.Time
		d    time.Duration
		want bool
	}{
		{now.Add(time.Hour), -time.Hour, true},               // set before a step back: an hour ahead
		{now.Add(30 * time.Second), -time.Hour, false},       // a lease taken after it
		{now.Add(-time.Hour + time.Minute), time.Hour, true}, // set before a step forward
		{now.Add(-time.Second), time.Hour, false},
		{time.Time{}, -time.Hour, false},
		{now.Add(time.Hour), 0, false},
	} {
		if got := store.Stepped(tt.t, tt.d, now); got != tt.want {
			t.Errorf("Stepped(now%+v, %v) = %v, want %v", tt.t.Sub(now), tt.d, got, tt.want)
		}
	}
}
