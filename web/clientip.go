package web

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// parseCIDRs reads trusted proxies: CIDRs, or single addresses.
func parseCIDRs(list []string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, s := range list {
		if !strings.Contains(s, "/") {
			ip := net.ParseIP(s)
			if ip == nil {
				return nil, fmt.Errorf("web: trusted proxy %q is neither an address nor a CIDR", s)
			}
			bits := 32
			if ip.To4() == nil {
				bits = 128
			}
			s = fmt.Sprintf("%s/%d", s, bits)
		}
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("web: trusted proxy %q: %w", s, err)
		}
		out = append(out, n)
	}
	return out, nil
}

func (s *Server) isTrusted(a netip.Addr) bool {
	ip := net.IP(a.AsSlice())
	for _, n := range s.trusted {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// clientAddr is the address of the client: the peer, or, when the peer is
// a trusted proxy, the nearest address in X-Forwarded-For that is not one.
// It reads the header from the right, because a proxy appends the address
// it saw and everything to its left is whatever the client wrote. IPv4
// addresses mapped into IPv6 are IPv4 addresses.
func (s *Server) clientAddr(c *fiber.Ctx) netip.Addr {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	peer = peer.Unmap()
	if len(s.trusted) == 0 || !s.isTrusted(peer) {
		return peer
	}
	var hops []string
	c.Request().Header.VisitAll(func(k, v []byte) {
		if strings.EqualFold(string(k), fiber.HeaderXForwardedFor) {
			hops = append(hops, strings.Split(string(v), ",")...)
		}
	})
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break // garbage: the last good address stands
		}
		client = a
		if !s.isTrusted(a) {
			break
		}
	}
	return client
}

// parseHop reads one X-Forwarded-For entry as proxies write it: an
// address (1.2.3.4, 2001:db8::1), an IPv4 address with a port
// (1.2.3.4:5678), or a bracketed IPv6 address with or without a port
// ([2001:db8::1], [2001:db8::1]:443). A zone is dropped.
func parseHop(h string) (netip.Addr, bool) {
	h = strings.TrimSpace(h)
	if rest, ok := strings.CutPrefix(h, "["); ok {
		host, tail, ok := strings.Cut(rest, "]")
		if !ok {
			return netip.Addr{}, false
		}
		if tail != "" {
			port, ok := strings.CutPrefix(tail, ":")
			if !ok || !isPort(port) {
				return netip.Addr{}, false
			}
		}
		h = host
	} else if strings.Count(h, ":") == 1 {
		host, port, _ := strings.Cut(h, ":")
		if !isPort(port) {
			return netip.Addr{}, false
		}
		h = host
	}
	a, err := netip.ParseAddr(h)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// isPort: 1 to 5 digits.
func isPort(s string) bool {
	if len(s) == 0 || len(s) > 5 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// limitKey names the client whose wrong codes count together: an IPv4
// address, or an IPv6 /64 (one subscriber's network: a client can pick
// any address in its /64, so a /128 would not limit it).
func limitKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}
