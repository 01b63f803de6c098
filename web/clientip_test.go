package web_test

import (
	"fmt"
	"testing"

	"eprom/web"
)

// Which client a code counts against, through X-Forwarded-For: a wrong
// code from first, then a valid one from second, with one wrong code
// allowed an address.
func TestClientAddressFromXForwardedFor(t *testing.T) {
	tests := []struct {
		first, second string
		same          bool
	}{
		{"9.9.9.9:1111", "9.9.9.9", true},
		{"9.9.9.9:1111", "9.9.9.9:2222", true},
		{"9.9.9.9:1111", "9.9.9.8", false},
		{"[2001:db8::1]:443", "2001:db8::1", true},
		{"[2001:db8::1]", "2001:db8::2", true},            // one /64
		{"[2001:db8::1]:443", "[2001:db8:0:1::1]", false}, // the next /64
		{"2001:db8::1", "2001:db8:0:1::1", false},
		{"::ffff:9.9.9.9", "9.9.9.9", true},
		{"[fe80::1%eth0]:80", "fe80::2", true},
		// The client wrote the left entries; the proxy appended the right one.
		{"198.51.100.1, 9.9.9.9:1111", "192.0.2.77, 9.9.9.9", true},
		// A trusted proxy's own hop, with a port, is skipped.
		{"9.9.9.9, 10.1.2.3:8080", "9.9.9.9", true},
		{"[2001:db8::1]:443, 10.1.2.3", "2001:db8::5", true},
		// Garbage where the proxy's entry should be: the peer counts.
		{"9.9.9.9, garbage", "8.8.8.8, 9.9.9.9:99999999", true},
		{"9.9.9.9:", "[2001:db8::1]x", true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s then %s", tt.first, tt.second), func(t *testing.T) {
			h := newHarness(t, withTrustedProxies("0.0.0.0/32", "10.0.0.0/8"),
				withCodeLimits(func(l *web.CodeLimits) { l.PerAddress = 1 }))
			_, code := h.order("audit", "nb")
			wantPage(t, h.from(tt.first).get("/c/"+wrong(1)), 404)
			p := h.from(tt.second).get("/c/" + code)
			switch {
			case tt.same && p.status != 429:
				t.Errorf("counted as another client: %d", p.status)
			case !tt.same && p.status != 303:
				t.Errorf("counted as the same client: %d", p.status)
			}
		})
	}
}

// From a peer that is not a trusted proxy, X-Forwarded-For is whatever the
// client wrote: the peer's address counts.
func TestXForwardedForFromUntrustedPeersIsIgnored(t *testing.T) {
	for _, proxies := range [][]string{nil, {"10.0.0.0/8"}} {
		t.Run(fmt.Sprint(proxies), func(t *testing.T) {
			h := newHarness(t, withTrustedProxies(proxies...),
				withCodeLimits(func(l *web.CodeLimits) { l.PerAddress = 5 }))
			_, code := h.order("audit", "nb")
			for i := range 5 {
				wantPage(t, h.from(fmt.Sprintf("203.0.113.%d", i)).get("/c/"+wrong(i)), 404)
			}
			wantPage(t, h.from("198.51.100.1").get("/c/"+code), 429)
		})
	}
}
