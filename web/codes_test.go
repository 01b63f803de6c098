package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/store"
	"eprom/web"
)

// The code limits' tests run on the harness's clock: waiting for a free
// slot of the global budget goes through a sleeper that moves the clock
// (or does not), so nothing here waits for real time.

// withCodeLimits changes the code limits.
func withCodeLimits(f func(*web.CodeLimits)) option {
	return func(h *harness) { f(&h.cfg.CodeLimits) }
}

// sleeper is the code limits' Sleep: it counts what it was asked to wait
// and, when advance is set, moves the harness's clock that far.
type sleeper struct {
	mu      sync.Mutex
	advance bool
	total   time.Duration
	calls   int
}

func (s *sleeper) slept() (time.Duration, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total, s.calls
}

func (s *sleeper) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total, s.calls = 0, 0
}

func withSleeper(s *sleeper) option {
	return func(h *harness) {
		h.cfg.CodeLimits.Sleep = func(ctx context.Context, d time.Duration) error {
			if d <= 0 {
				panic(fmt.Sprintf("asked to sleep %v", d))
			}
			s.mu.Lock()
			s.total += d
			s.calls++
			s.mu.Unlock()
			if s.advance {
				h.clock.Add(d)
			}
			return ctx.Err()
		}
	}
}

// withClock makes the harness run on another's clock (replicas).
func withClock(c *clock) option {
	return func(h *harness) { h.clock, h.cfg.Now = c, c.Now }
}

// lookups counts the codes the store was asked for that no order has,
// with the time of each, to check the global budget from outside.
type lookups struct {
	store.Orders
	now     func() time.Time
	mu      sync.Mutex
	unknown []time.Time
}

func (l *lookups) LookupCode(ctx context.Context, code string) (*questionnaire.Order, bool, error) {
	o, current, err := l.Orders.LookupCode(ctx, code)
	if questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND {
		l.mu.Lock()
		l.unknown = append(l.unknown, l.now())
		l.mu.Unlock()
	}
	return o, current, err
}

func (l *lookups) times() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Time(nil), l.unknown...)
}

// countLookups rebuilds the harness's server on a store that counts.
func (h *harness) countLookups() *lookups {
	h.t.Helper()
	l := &lookups{Orders: h.cfg.Orders, now: h.clock.Now}
	h.cfg.Orders = l
	srv, err := web.New(h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.srv = srv
	return l
}

// maxIn is the most of times (in order) within any span of d.
func maxIn(times []time.Time, d time.Duration) int {
	most, j := 0, 0
	for i := range times {
		for !times[i].Before(times[j].Add(d)) {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

// wrong is the i-th code no order has.
func wrong(i int) string { return fmt.Sprintf("ZZ%08d", i) }

// from is a browser at an address.
func (h *harness) from(ip string) *browser {
	b := h.browser()
	b.ip = ip
	return b
}

// trusted: app.Test's peer is 0.0.0.0, the harness's proxy.
var trusted = withTrustedProxies("0.0.0.0/32")

// freshAddress is an address no test has used.
func freshAddress() string {
	n := addresses.Add(1)
	return fmt.Sprintf("100.%d.%d.%d", 64+n>>16, n>>8&255, n&255)
}

var addresses atomic.Int64

// spend spends the global budget at the clock's time: n wrong codes from n
// fresh addresses.
func spend(t *testing.T, h *harness, n int) {
	t.Helper()
	for i := range n {
		wantPage(t, h.from(freshAddress()).get("/c/"+wrong(9000+i)), 404)
	}
}

func wantRetryAfter(t *testing.T, p page, want int) {
	t.Helper()
	if got := p.header.Get("Retry-After"); got != strconv.Itoa(want) {
		t.Errorf("Retry-After %q, want %d", got, want)
	}
}

// wantLimitPage: 429, in the patient's language, not blaming them, with
// the way back to the code form.
func wantLimitPage(t *testing.T, p page) {
	t.Helper()
	wantPage(t, p, 429, "Vent litt", "Det er ikke din feil", `href="/">Skriv inn koden</a>`)
	if strings.Contains(p.body, "koder som ikke finnes") {
		t.Error("the page blames the patient for codes that do not exist")
	}
}

func TestCodeLimitPerAddress(t *testing.T) {
	onBothStores(t, func(t *testing.T, store []option) {
		h := newHarness(t, append(store, trusted)...)
		_, code := h.order("audit", "nb")
		a := h.from("203.0.113.7")
		start := h.clock.Now()
		for i := range 100 { // one a second: the global budget is not touched
			h.clock.Add(time.Second)
			wantPage(t, a.get("/c/"+wrong(i)), 404)
		}
		p := a.get("/c/" + code)
		wantLimitPage(t, p)
		// The first failure, 1 s after start, leaves the hour at start+1h+1s.
		wantRetryAfter(t, p, int(start.Add(time.Hour+time.Second).Sub(h.clock.Now()).Seconds()))
		wantPage(t, a.post("/", a.get("/"), map[string][]string{"code": {code}}), 429) // the form counts too

		if p := h.from("203.0.113.8").get("/c/" + code); p.status != 303 {
			t.Errorf("the next IPv4 address is limited too: %d", p.status)
		}
		h.clock.Add(time.Hour - 99*time.Second)
		if p := a.get("/c/" + code); p.status != 303 {
			t.Errorf("still refused once the first failures left the hour: %d", p.status)
		}
	})
}

func TestCodeLimitsCountIPv6PerSlash64(t *testing.T) {
	h := newHarness(t, trusted, withCodeLimits(func(l *web.CodeLimits) { l.PerAddress = 5 }))
	_, code := h.order("audit", "nb")
	for i := range 5 {
		h.clock.Add(time.Second)
		// Every try from another address of the same /64.
		wantPage(t, h.from(fmt.Sprintf("2001:db8:1:2::%x", i+1)).get("/c/"+wrong(i)), 404)
	}
	wantPage(t, h.from("2001:db8:1:2:ffff:ffff:ffff:ffff").get("/c/"+code), 429)
	wantPage(t, h.from("[2001:db8:1:2::abcd]:443").get("/c/"+code), 429)
	for _, other := range []string{"2001:db8:1:3::1", "2001:db8:2:2::1"} {
		if p := h.from(other).get("/c/" + code); p.status != 303 {
			t.Errorf("%s, another /64, is limited: %d", other, p.status)
		}
	}
}

func TestCodeLimitsCountIPv4PerAddress(t *testing.T) {
	h := newHarness(t, trusted, withCodeLimits(func(l *web.CodeLimits) { l.PerAddress = 5 }))
	_, code := h.order("audit", "nb")
	for i := range 5 {
		h.clock.Add(time.Second)
		wantPage(t, h.from("198.51.100.20").get("/c/"+wrong(i)), 404)
	}
	wantPage(t, h.from("198.51.100.20").get("/c/"+code), 429)
	wantPage(t, h.from("::ffff:198.51.100.20").get("/c/"+code), 429) // the same address, mapped
	if p := h.from("198.51.100.21").get("/c/" + code); p.status != 303 {
		t.Errorf("the neighbouring address is limited: %d", p.status)
	}
}

func TestAValidCodeGetsInWhileTheBudgetIsSpent(t *testing.T) {
	onBothStores(t, func(t *testing.T, store []option) {
		sl := &sleeper{advance: true}
		h := newHarness(t, append(store, trusted, withSleeper(sl))...)
		_, code := h.order("audit", "nb")
		spend(t, h, 20) // 200 a minute is 20 in 6 s
		if total, _ := sl.slept(); total != 0 {
			t.Fatalf("slept %v within the budget", total)
		}
		p := h.from("203.0.113.50").get("/c/" + code)
		if p.status != 303 {
			t.Fatalf("a valid code from a clean address while the budget is spent: %d", p.status)
		}
		total, _ := sl.slept()
		if total < 6*time.Second || total > 8*time.Second {
			t.Errorf("slowed %v, want the 6 s until the budget's first slot is free, at most 8 s", total)
		}
	})
}

// The incident of issue 11: 78 addresses × 10 wrong codes; then a patient
// from a new address. The patient gets in within seconds, the guessers
// are slowed and refused, the budget holds, and the log has a line a
// minute, not a line a request.
func TestSeventyEightAddressesTimesTenWrongCodes(t *testing.T) {
	sl := &sleeper{advance: true}
	h := newHarness(t, trusted, withSleeper(sl))
	_, code := h.order("audit", "nb")
	l := h.countLookups()
	start := h.clock.Now()
	statuses := map[int]int{}
	for round := range 10 {
		for a := range 78 {
			p := h.from(fmt.Sprintf("198.51.100.%d", a+1)).get("/c/" + wrong(round*100+a))
			statuses[p.status]++
		}
	}
	elapsed := h.clock.Now().Sub(start)
	sl.reset()
	p := h.from("203.0.113.99").get("/c/" + code)
	if p.status != 303 {
		t.Fatalf("the patient: %d", p.status)
	}
	if total, _ := sl.slept(); total > 8*time.Second {
		t.Errorf("the patient waited %v", total)
	}
	times := l.times()
	if n := maxIn(times, 6*time.Second); n > 20 {
		t.Errorf("%d unknown codes looked up within 6 s, budget 20", n)
	}
	if n := maxIn(times, time.Minute); n > 200 {
		t.Errorf("%d unknown codes looked up within a minute, budget 200", n)
	}
	if statuses[404] != len(times) || statuses[404]+statuses[429] != 780 {
		t.Errorf("statuses %v, %d lookups", statuses, len(times))
	}
	// Each address tries 2 clean codes (slowed), then it is suspect.
	if statuses[404] > 3*78 {
		t.Errorf("%d wrong codes looked up, want at most 3 per address", statuses[404])
	}
	lines := logLines(t, h, "code failure rate alarm")
	if want := int(elapsed/time.Minute) + 1; len(lines) > want {
		t.Errorf("%d alarm lines in %v, want at most %d", len(lines), elapsed, want)
	}
	if strings.Contains(h.logs.String(), `"level":"ERROR"`) {
		t.Error("an ERROR in the log")
	}
}

func TestAWrongCodeIsRefusedDuringTheAlarm(t *testing.T) {
	onBothStores(t, func(t *testing.T, store []option) {
		sl := &sleeper{advance: true}
		h := newHarness(t, append(store, trusted, withSleeper(sl))...)
		_, code := h.order("audit", "nb")
		guesser, typo := h.from("203.0.113.66"), h.from("203.0.113.77")
		for i := range 3 { // three failures: suspect for the hour
			wantPage(t, guesser.get("/c/"+wrong(i)), 404)
		}
		wantPage(t, typo.get("/c/"+wrong(10)), 404) // one typo is not suspect
		h.clock.Add(10 * time.Minute)
		spend(t, h, 20)

		p := guesser.get("/c/" + wrong(20))
		wantLimitPage(t, p)
		wantRetryAfter(t, p, 6)
		if total, _ := sl.slept(); total != 0 {
			t.Errorf("the suspect address was held %v, not refused at once", total)
		}
		wantPage(t, guesser.get("/c/"+code), 429) // its address failed: no exception
		if p := typo.get("/c/" + code); p.status != 303 {
			t.Errorf("an address with one typo, during the alarm: %d", p.status)
		}
		if n := metric(t, h, `eprom_code_rate_limited_total{limit="global"}`); n != 2 {
			t.Errorf("global refusals %v, want 2", n)
		}
		if n := metric(t, h, `eprom_code_rate_limited_total{limit="slowed"}`); n != 1 {
			t.Errorf("slowed %v, want 1", n)
		}
		// After the alarm the suspect address is under its limit again.
		h.clock.Add(time.Minute)
		if p := guesser.get("/c/" + code); p.status != 303 {
			t.Errorf("after the alarm: %d", p.status)
		}
	})
}

func TestAWaitIsBoundedAndRefusedWithRetryAfter(t *testing.T) {
	sl := &sleeper{advance: false} // the budget never frees: time stands still
	h := newHarness(t, trusted, withSleeper(sl))
	_, code := h.order("audit", "nb")
	spend(t, h, 20)
	p := h.from("203.0.113.5").get("/c/" + code)
	wantLimitPage(t, p)
	wantRetryAfter(t, p, 6)
	if total, _ := sl.slept(); total != 8*time.Second {
		t.Errorf("waited %v, want 8 s", total)
	}
}

func TestAWaitEndsWithTheRequestContext(t *testing.T) {
	h := newHarness(t, trusted, withCodeLimits(func(l *web.CodeLimits) {
		l.Sleep = func(ctx context.Context, d time.Duration) error { return context.Canceled }
	}))
	_, code := h.order("audit", "nb")
	spend(t, h, 20)
	if p := h.from("203.0.113.5").get("/c/" + code); p.status == 303 || p.status == 429 {
		t.Errorf("a cancelled wait answered %d", p.status)
	}
}

func TestABurstCannotSpendMoreThanTheBudget(t *testing.T) {
	onBothStores(t, func(t *testing.T, store []option) {
		sl := &sleeper{advance: false} // all at one instant
		h := newHarness(t, append(store, trusted, withSleeper(sl))...)
		l := h.countLookups()
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for i := range 150 {
			wg.Go(func() {
				p := h.from(fmt.Sprintf("10.%d.%d.1", i/250, i%250)).get("/c/" + wrong(i))
				mu.Lock()
				statuses[p.status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if n := len(l.times()); n != 20 || statuses[404] != 20 || statuses[429] != 130 {
			t.Errorf("%d looked up, statuses %v: want 20 looked up and 130 refused", n, statuses)
		}
	})
}

// A long attack, from fresh and repeated addresses, with patients in
// between: in no 6 s more than 20 unknown codes are looked up, and every
// patient from an address of their own gets in, slowed by under 10 s.
func TestTheBudgetHoldsUnderALongAttack(t *testing.T) {
	sl := &sleeper{advance: true}
	h := newHarness(t, trusted, withSleeper(sl))
	l := h.countLookups()
	for i := range 3000 {
		h.clock.Add(50 * time.Millisecond)
		ip := fmt.Sprintf("10.0.%d.%d", (i%700)/250, (i%700)%250) // 700 addresses, over and over
		if i%3 == 0 {
			ip = fmt.Sprintf("10.1.%d.%d", i/250, i%250) // a fresh one
		}
		h.from(ip).get("/c/" + wrong(i))
		if i%250 == 0 {
			_, code := h.order("audit", "nb")
			sl.reset()
			if p := h.from(fmt.Sprintf("172.16.%d.1", i/250)).get("/c/" + code); p.status != 303 {
				t.Errorf("patient %d: %d", i/250, p.status)
			}
			if total, _ := sl.slept(); total >= 10*time.Second {
				t.Errorf("patient %d waited %v", i/250, total)
			}
		}
	}
	times := l.times()
	if n := maxIn(times, 6*time.Second); n > 20 {
		t.Errorf("%d unknown codes within 6 s, budget 20", n)
	}
	if n := maxIn(times, time.Minute); n > 200 {
		t.Errorf("%d unknown codes within a minute, budget 200", n)
	}
	if len(times) < 200 {
		t.Errorf("only %d looked up: the budget is not used", len(times))
	}
}

func TestTheBudgetIsSharedByReplicas(t *testing.T) {
	prefix := newRedisPrefix(t)
	sl := &sleeper{advance: true}
	a := newHarness(t, trusted, withRedis(prefix), withSleeper(sl))
	b := newHarness(t, trusted, withRedis(prefix), withSleeper(sl), withClock(a.clock))
	_, code := a.order("audit", "nb")
	spend(t, a, 20)
	wantPage(t, b.from("203.0.113.1").get("/c/"+wrong(1)), 404)
	if total, _ := sl.slept(); total < 6*time.Second {
		t.Errorf("B looked up a wrong code after %v, with A's budget spent", total)
	}
	spend(t, a, 19) // with B's, the window is full again
	sl.reset()
	if p := b.from("203.0.113.2").get("/c/" + code); p.status != 303 {
		t.Errorf("a patient on B: %d", p.status)
	}
	if total, _ := sl.slept(); total == 0 {
		t.Error("B did not see the budget spent on A")
	}
}

func TestTheAlarmIsLoggedOnceAMinute(t *testing.T) {
	h := newHarness(t, trusted, withSleeper(&sleeper{advance: true}))
	suspect := h.from("203.0.113.66")
	for i := range 3 {
		wantPage(t, suspect.get("/c/"+wrong(i)), 404)
	}
	h.clock.Add(time.Minute)
	refused := 0
	for i := range 150 { // 2½ minutes, 20 failures from new addresses each 6 s
		if i%6 == 0 {
			spend(t, h, 20)
		}
		h.clock.Add(time.Second)
		if p := suspect.get("/c/" + wrong(100+i)); p.status == 429 {
			refused++
		}
	}
	lines := logLines(t, h, "code failure rate alarm")
	if len(lines) != 3 {
		t.Fatalf("%d alarm lines over 2½ minutes, want 3 (one a minute):\n%s", len(lines), h.logs)
	}
	sum := 0
	for _, l := range lines {
		if l["level"] != "WARN" {
			t.Errorf("level %v", l["level"])
		}
		if l["budget_per_minute"] != float64(200) {
			t.Errorf("budget_per_minute %v", l["budget_per_minute"])
		}
		sum += int(l["refused"].(float64))
	}
	// What came after the last line waits for the next.
	if refused != 150 || sum > refused || sum < refused-31 {
		t.Errorf("the lines count %d refusals of %d", sum, refused)
	}
	for i := range 150 {
		if strings.Contains(h.logs.String(), wrong(100+i)) {
			t.Fatal("a code in the log")
		}
	}
}

func TestPerAddressRefusalsAreLoggedOnceAMinute(t *testing.T) {
	h := newHarness(t, trusted, withCodeLimits(func(l *web.CodeLimits) { l.PerAddress = 5 }))
	a := h.from("203.0.113.9")
	for i := range 100 {
		h.clock.Add(time.Second)
		a.get("/c/" + wrong(i))
	}
	lines := logLines(t, h, "code entry limited")
	if len(lines) != 2 {
		t.Fatalf("%d lines over 100 s, want 2:\n%s", len(lines), h.logs)
	}
	if n := lines[0]["refused"].(float64) + lines[1]["refused"].(float64); n > 95 || n < 1 {
		t.Errorf("refused %v", n)
	}
	if n := metric(t, h, `eprom_code_rate_limited_total{limit="client"}`); n != 95 {
		t.Errorf("client refusals %v, want 95", n)
	}
	if n := metric(t, h, `eprom_code_failures_total`); n != 5 {
		t.Errorf("failures %v, want 5", n)
	}
}

// logLines are the JSON log records whose message starts with msg.
func logLines(t *testing.T, h *harness, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(h.logs.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("a log line is not JSON: %s", sc.Text())
		}
		if s, _ := m["msg"].(string); strings.HasPrefix(s, msg) {
			out = append(out, m)
		}
	}
	return out
}

// metric reads one sample from /metrics.
func metric(t *testing.T, h *harness, sample string) float64 {
	t.Helper()
	body := string(readAll(t, h.do("GET", "/metrics", "")))
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// Patients behind one address (a clinic's Wi-Fi) wait at the same time:
// the one waiting does not make the address suspect for the next, even
// when a single failure would.
func TestPatientsWaitingBehindOneAddress(t *testing.T) {
	var h *harness
	var nested atomic.Bool
	var second page
	h = newHarness(t, trusted, withCodeLimits(func(l *web.CodeLimits) {
		l.Suspect = 1
		l.Sleep = func(ctx context.Context, d time.Duration) error {
			h.clock.Add(d)
			if nested.CompareAndSwap(false, true) {
				// The second patient comes while the first waits.
				_, code := h.order("audit", "nb")
				second = h.from("203.0.113.10").get("/c/" + code)
			}
			return nil
		}
	}))
	_, code := h.order("audit", "nb")
	spend(t, h, 20)
	if p := h.from("203.0.113.10").get("/c/" + code); p.status != 303 {
		t.Errorf("the first patient: %d", p.status)
	}
	if !nested.Load() {
		t.Fatal("the first patient did not wait")
	}
	if second.status != 303 {
		t.Errorf("the second patient, behind the same address while the first waited: %d", second.status)
	}
}

// A burst of guesses from one address cannot slip past its limit: each is
// reserved before it is looked up.
func TestABurstFromOneAddressIsLimited(t *testing.T) {
	h := newHarness(t, trusted, withCodeLimits(func(l *web.CodeLimits) { l.PerAddress = 10 }))
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			p := h.from("203.0.113.7").get("/c/" + wrong(i))
			mu.Lock()
			statuses[p.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[404] != 10 || statuses[429] != 40 {
		t.Errorf("statuses %v: want 10 tried and 40 refused", statuses)
	}
}

// The budget follows GlobalPerMin: 20 a minute is 2 in 6 s; 5 a minute,
// fewer than one in 6 s, is 1 in 12 s.
func TestTheBudgetFollowsTheSetting(t *testing.T) {
	for _, tt := range []struct {
		perMin, perWindow int
		window            time.Duration
	}{{20, 2, 6 * time.Second}, {5, 1, 12 * time.Second}} {
		t.Run(fmt.Sprint(tt.perMin), func(t *testing.T) {
			sl := &sleeper{advance: true}
			h := newHarness(t, trusted, withSleeper(sl), withGlobalLimit(tt.perMin),
				withCodeLimits(func(l *web.CodeLimits) { l.MaxWait = 20 * time.Second }))
			spend(t, h, tt.perWindow)
			if total, _ := sl.slept(); total != 0 {
				t.Fatalf("slept %v within the budget", total)
			}
			wantPage(t, h.from(freshAddress()).get("/c/"+wrong(1)), 404)
			if total, _ := sl.slept(); total != tt.window {
				t.Errorf("waited %v, want %v", total, tt.window)
			}
		})
	}
}
