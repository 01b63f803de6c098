package questionnaire_test

import (
	"strings"
	"testing"
	"time"

	"eprom/questionnaire"
)

func TestNewCode(t *testing.T) {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	seen := make(map[string]bool, 10000)
	counts := map[rune]int{}
	for range 10000 {
		c := questionnaire.NewCode()
		if len(c) != questionnaire.CodeLength {
			t.Fatalf("%q has %d symbols", c, len(c))
		}
		for _, r := range c {
			if !strings.ContainsRune(alphabet, r) {
				t.Fatalf("%q has %q, outside Crockford's alphabet", c, r)
			}
			counts[r]++
		}
		if seen[c] {
			t.Fatalf("%q generated twice", c)
		}
		seen[c] = true

		for _, typed := range []string{c, strings.ToLower(c), questionnaire.FormatCode(c), " " + c[:3] + " " + c[3:7] + " - " + c[7:] + " "} {
			if got, ok := questionnaire.NormalizeCode(typed); !ok || got != c {
				t.Fatalf("NormalizeCode(%q) = %q, %v; want %q", typed, got, ok, c)
			}
		}
	}
	// 100,000 symbols over 32: each about 3125; a broken generator is far off.
	for _, r := range alphabet {
		if n := counts[r]; n < 2700 || n > 3550 {
			t.Errorf("symbol %q drawn %d times of 100000", r, n)
		}
	}
}

func TestNormalizeCode(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"7KQM2-XPD9R", "7KQM2XPD9R", true},
		{"7kqm2 xpd9r", "7KQM2XPD9R", true},
		{"7KQM2\u2013XPD9R", "7KQM2XPD9R", true}, // an en dash from a word processor
		{"OOOOO-IIIII", "0000011111", true},
		{"lllll-ooooo", "1111100000", true},
		{"7KQM2-XPD9", "", false},   // too short
		{"7KQM2-XPD9RR", "", false}, // too long
		{"7KQM2-XPD9U", "", false},  // U is not in the alphabet
		{"7KQM2-XPD9!", "", false},
		{"7KQM2-XPD9Ø", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := questionnaire.NormalizeCode(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizeCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if got := questionnaire.FormatCode("7KQM2XPD9R"); got != "7KQM2-XPD9R" {
		t.Errorf("FormatCode = %q", got)
	}
}

func TestOrderTransitions(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	open := func() *questionnaire.Order {
		return &questionnaire.Order{ID: "o", Status: questionnaire.StatusOrdered, ExpiresAt: now.Add(time.Hour)}
	}
	if o := open(); o.Cancel(now) != nil || o.Status != questionnaire.StatusCancelled || o.ClosedAt == nil {
		t.Errorf("cancel: %+v", o)
	}
	o := open()
	o.Status = questionnaire.StatusSubmitted
	if err := o.Cancel(now); questionnaire.ErrorCode(err) != questionnaire.ECONFLICT {
		t.Errorf("cancel a submitted order: %v", err)
	}
	if o := open(); o.Reissue(now) != nil || o.CodeGeneration != 1 || !o.Status.Open() {
		t.Errorf("reissue: %+v", o)
	}
	if o := open(); o.Expire(now) || o.Status != questionnaire.StatusOrdered {
		t.Error("expired before its time")
	}
	if o := open(); !o.Expire(now.Add(time.Hour)) || o.Status != questionnaire.StatusExpired {
		t.Error("not expired at its time")
	}
	if o := open(); !o.Expired(now.Add(time.Hour)) || o.Expired(now) {
		t.Error("Expired is off")
	}
}
