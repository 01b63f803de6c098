package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// redisServer is a Redis of the test's own, so it can be restarted.
type redisServer struct {
	t    *testing.T
	addr string
	dir  string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but no redis-server on PATH: .ci/run must install it")
		}
		t.Skip("SKIPPED replica tests: no redis-server on PATH (apt-get install -y redis-server); they run under CI=true")
	}
	r := &redisServer{t: t, addr: freeAddr(t), dir: t.TempDir()}
	r.start(bin)
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) start(bin string) {
	r.t.Helper()
	if err := r.run(bin); err != nil {
		r.t.Fatal(err)
	}
}

// run starts redis-server and waits until it answers; safe off the test's
// goroutine.
func (r *redisServer) run(bin string) error {
	_, port, _ := net.SplitHostPort(r.addr)
	// Append-only with fsync always: a restart keeps what Redis said it had.
	r.cmd = exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--dir", r.dir, "--save", "",
		"--appendonly", "yes", "--appendfsync", "always")
	if err := r.cmd.Start(); err != nil {
		return err
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", r.addr); err == nil {
			c.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			c.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				return nil
			}
		}
	}
	return errors.New("redis-server did not come up")
}

func (r *redisServer) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Signal(os.Interrupt)
		r.cmd.Wait()
		r.cmd = nil
	}
}

// restart stops Redis, leaves it down for a while, and starts it again;
// safe off the test's goroutine. It returns when Redis went down and when
// it answered again.
func (r *redisServer) restart(down time.Duration) (from, to time.Time, err error) {
	bin, _ := exec.LookPath("redis-server")
	from = time.Now()
	r.stop()
	time.Sleep(down)
	err = r.run(bin)
	return from, time.Now(), err
}

// replicas are two eprom processes on one Redis, behind a round-robin
// proxy like a load balancer, delivering to one sink.
type replicas struct {
	t          *testing.T
	redis      *redisServer
	a, b       *proc
	sink       *proc
	sinkOut    string
	proxy      string // the patients' address: alternates between a and b
	aURL, bURL string
	dataA      string
}

func newReplicas(t *testing.T, pullOnly ...bool) *replicas {
	if os.Getenv("EPROM_SKIP_E2E") != "" && os.Getenv("CI") != "true" {
		t.Skip("SKIPPED process test: EPROM_SKIP_E2E is set")
	}
	r := &replicas{t: t, redis: startRedis(t)}
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	raw := make([]byte, 32)
	rand.Read(raw)
	os.WriteFile(secret, raw, 0o600)
	keys := filepath.Join(dir, "signing-keys.pem")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	os.WriteFile(keys, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)

	addrs := freeAddrs(t, 3)
	proxyLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.proxy = "http://" + proxyLn.Addr().String()
	r.aURL, r.bURL = "http://"+addrs[0], "http://"+addrs[1]
	r.sinkOut = filepath.Join(dir, "sink.jsonl")
	r.dataA = filepath.Join(dir, "a")
	common := []string{"EPROM_API_TOKENS=" + testToken, "EPROM_PUBLIC_URL=" + r.proxy, "EPROM_STORE=redis://" + r.redis.addr + "/0",
		"EPROM_SECRET_FILE=" + secret, "EPROM_SIGNING_KEYS_FILE=" + keys,
		"EPROM_DELIVERY_MAX_BACKOFF=1s", "EPROM_SWEEP_INTERVAL=200ms"}
	if len(pullOnly) == 0 || !pullOnly[0] {
		common = append(common, "EPROM_REGISTRY_URL=http://"+addrs[2]+"/")
	}
	r.a = newProc(t, "eprom", addrs[0], append([]string{"EPROM_ADDR=" + addrs[0], "EPROM_DATA=" + r.dataA}, common...), "serve")
	r.b = newProc(t, "eprom", addrs[1], append([]string{"EPROM_ADDR=" + addrs[1], "EPROM_DATA=" + filepath.Join(dir, "b")}, common...), "serve")
	r.a.start()
	r.b.start()
	r.sink = newProc(t, "registry-sink", addrs[2], nil, "--jwks", r.aURL+"/.well-known/jwks.json", "--listen", addrs[2], "--out", r.sinkOut)
	r.sink.start()

	// The load balancer: request by request, A then B.
	var n atomic.Int64
	targets := []*url.URL{mustURL(r.aURL), mustURL(r.bURL)}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(targets[n.Add(1)%2])
		pr.Out.Host = pr.In.Host
	}}
	srv := &http.Server{Handler: proxy}
	go srv.Serve(proxyLn)
	t.Cleanup(func() { srv.Close() })
	return r
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// browserClient is a patient's browser: a cookie jar, no redirects.
func browserClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// upToReview enters the code and answers both audit pages through base;
// it returns the browser and the form token.
func upToReview(t *testing.T, base, code string) (*http.Client, string) {
	t.Helper()
	c, csrf, err := toReview(base, code)
	if err != nil {
		t.Fatal(err)
	}
	return c, csrf
}

// toReview is upToReview for any goroutine: it returns what went wrong.
func toReview(base, code string) (*http.Client, string, error) {
	c := browserClient()
	resp, err := c.Get(base + "/c/" + code)
	if err != nil {
		return nil, "", err
	}
	resp.Body.Close()
	if resp.StatusCode != 303 {
		return nil, "", fmt.Errorf("code: %d", resp.StatusCode)
	}
	resp, err = c.Get(base + "/q")
	if err != nil {
		return nil, "", err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(page)
	if m == nil {
		return nil, "", fmt.Errorf("no form: %d %.300s", resp.StatusCode, page)
	}
	csrf := string(m[1])
	for _, form := range []url.Values{
		{"page": {"1"}, "action": {"next"}, "q1": {"1"}, "q2": {"0"}, "q3": {"1"}, "q4": {"0"}, "q5": {"0"}},
		{"page": {"2"}, "action": {"review"}, "q6": {"0"}, "q7": {"1"}, "q8": {"0"}, "q9": {"0"}, "q10": {"2"}},
	} {
		form.Set("csrf", csrf)
		resp, err := c.PostForm(base+"/q", form)
		if err != nil {
			return nil, "", err
		}
		resp.Body.Close()
		if resp.StatusCode != 303 {
			return nil, "", fmt.Errorf("page: %d", resp.StatusCode)
		}
	}
	return c, csrf, nil
}

// submitTo posts the submit with the browser's session cookie to one
// replica directly.
func submitTo(c *http.Client, from, replica, csrf string) (int, error) {
	req, _ := http.NewRequest("POST", replica+"/q/submit", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, ck := range c.Jar.Cookies(mustURL(from)) {
		req.AddCookie(ck)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestReplicasServeOnePatient(t *testing.T) {
	r := newReplicas(t)
	id, code := orderRetrying(t, r.aURL)    // ordered on A
	c, csrf := upToReview(t, r.proxy, code) // pages alternately on A and B
	if status, err := submitTo(c, r.proxy, r.bURL, csrf); err != nil || status != 303 {
		t.Fatalf("submit on B: %d %v", status, err)
	}
	c2 := &cluster{t: t, base: r.aURL, sinkOut: r.sinkOut, data: r.dataA, server: r.a}
	recs := c2.waitForAll(map[string]bool{id: true})
	if len(recs) != 1 || recs[0].Envelope.OrderID != id || len(recs[0].Envelope.Answers) != 10 {
		t.Fatalf("%+v", recs)
	}
	// Both replicas publish the same keys and know the order.
	_, a := api(t, "GET", r.aURL+"/api/v1/orders/"+id, "")
	_, b := api(t, "GET", r.bURL+"/api/v1/orders/"+id, "")
	if a["status"] == "" || a["status"] != b["status"] || a["submissionId"] != b["submissionId"] {
		t.Errorf("A says %v, B says %v", a, b)
	}
}

func TestReplicasSubmitOnceUnderRace(t *testing.T) {
	r := newReplicas(t)
	const n = 100
	orders := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for range n {
		id, code := orderRetrying(t, r.aURL)
		orders[id] = true
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, csrf, err := toReview(r.proxy, code)
			if err != nil {
				t.Error(err)
				return
			}
			// The same submit on A and on B at once.
			var inner sync.WaitGroup
			statuses := make([]int, 2)
			for i, replica := range []string{r.aURL, r.bURL} {
				inner.Go(func() { statuses[i], _ = submitTo(c, r.proxy, replica, csrf) })
			}
			inner.Wait()
			mu.Lock()
			defer mu.Unlock()
			if statuses[0] != 303 && statuses[1] != 303 {
				t.Errorf("neither submit succeeded: %v", statuses)
			}
		})
	}
	wg.Wait()
	c := &cluster{t: t, base: r.aURL, sinkOut: r.sinkOut, data: r.dataA, server: r.a}
	recs := c.waitForAll(orders)
	c.checkRecords(recs) // each order exactly once, every JWS verifies, no dead letters on A
	if len(recs) != n {
		t.Errorf("%d envelopes for %d orders", len(recs), n)
	}
}

func TestReplicasShareRateLimits(t *testing.T) {
	r := newReplicas(t)
	_, code := orderRetrying(t, r.aURL)
	client := browserClient()
	// 20 wrong codes on A spend the deployment's budget of a 6 s window
	// (200 a minute), shared in Redis: on B this address, with failures of
	// its own, is refused at once during the alarm.
	for i := range 20 {
		resp, err := client.Get(r.aURL + fmt.Sprintf("/c/AAAAA-AAA%02d", i))
		if err != nil || resp.StatusCode != 404 {
			t.Fatalf("wrong code on A: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	resp, err := client.Get(r.bURL + "/c/" + code)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("B after 20 failures on A: %d", resp.StatusCode)
	}
}

// TestReplicasThroughARedisRestart restarts Redis while patients answer
// through both replicas: Redis goes down once traffic flows and stays down
// 0.7 s; the patients go on until it is back and a little after. Requests
// during the outage may be slowed or refused, but only with 503 (the
// patient's "One moment" page), and a flow cut short is tried again. In the
// end every order is submitted and its envelope delivered once.
func TestReplicasThroughARedisRestart(t *testing.T) {
	r := newReplicas(t)
	const workers = 4
	type call struct {
		from, to time.Time
		err      error
	}
	var (
		mu        sync.Mutex
		orders    = map[string]bool{}
		confirmed = map[string]bool{}
		calls     []call
		wg        sync.WaitGroup
	)
	flowing := make(chan struct{}) // closed once the first orders are made
	var flowOnce sync.Once
	finished := make(chan struct{}) // closed a while after Redis is back
	type outage struct {
		from, to time.Time
		err      error
	}
	restarted := make(chan outage, 1)
	go func() {
		defer close(finished)
		select {
		case <-flowing:
		case <-time.After(20 * time.Second):
		}
		from, to, err := r.redis.restart(700 * time.Millisecond)
		restarted <- outage{from, to, err}
		time.Sleep(500 * time.Millisecond)
	}()
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-finished:
					return
				default:
				}
				id, code, err := tryOrder(r.aURL)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				orders[id] = true
				if len(orders) == 2*workers {
					flowOnce.Do(func() { close(flowing) })
				}
				mu.Unlock()
				for try := 0; ; try++ {
					from := time.Now()
					done, err := patient([]string{r.aURL, r.bURL}[(w+i)%2], code)
					mu.Lock()
					calls = append(calls, call{from, time.Now(), err})
					if done {
						confirmed[id] = true
					}
					mu.Unlock()
					if err == nil {
						break
					}
					if try == 100 {
						t.Errorf("order %s: no answer after %d tries: %v", id, try, err)
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	out := <-restarted
	if out.err != nil {
		t.Fatal(out.err)
	}
	during, refused := 0, 0
	for _, c := range calls {
		if c.from.Before(out.to) && c.to.After(out.from) {
			during++
		}
		if c.err != nil {
			refused++
			if !strings.Contains(c.err.Error(), "503") {
				t.Errorf("a flow during the restart failed otherwise than with 503: %v", c.err)
			}
		}
	}
	if during == 0 {
		t.Error("no patient's flow overlapped the outage: the restart missed the traffic, and the test proved nothing")
	}
	// Every order was sent, whether or not its patient saw the thanks
	// (a flow whose submit was cut short finds the order sent on retry).
	for id := range orders {
		if status, o := api(t, "GET", r.bURL+"/api/v1/orders/"+id, ""); status != 200 || (o["status"] != "submitted" && o["status"] != "delivered") {
			t.Errorf("order %s after the restart: %d %v", id, status, o)
		}
	}
	c := &cluster{t: t, base: r.aURL, sinkOut: r.sinkOut, data: r.dataA, server: r.a}
	recs := c.waitForAll(orders) // every order arrives, at most once each
	c.checkRecords(recs)
	t.Logf("%d orders, %d confirmed to the patient; %d flows overlapped the %s outage, %d were refused with 503 and tried again",
		len(orders), len(confirmed), during, out.to.Sub(out.from).Round(time.Millisecond), refused)
	// Both replicas answer again without a restart of their own.
	for _, base := range []string{r.aURL, r.bURL} {
		resp, err := http.Get(base + "/readyz")
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s not ready after Redis came back: %v %v", base, resp, err)
		} else {
			resp.Body.Close()
		}
	}
}

func TestReplicasWhileRedisIsDown(t *testing.T) {
	r := newReplicas(t)
	id, code := orderRetrying(t, r.aURL)
	r.redis.stop()

	resp, err := browserClient().Get(r.aURL + "/c/" + code + "?lang=en")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(page), "One moment") || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("patient page: %d %s %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}
	status, m := api(t, "GET", r.bURL+"/api/v1/orders/"+id, "")
	if e, _ := m["error"].(map[string]any); status != 503 || e["code"] != "unavailable" {
		t.Errorf("API: %d %v", status, m)
	}
	if resp, err := http.Get(r.aURL + "/readyz"); err != nil || resp.StatusCode != 503 {
		t.Errorf("readyz while Redis is down: %v %v", resp, err)
	}

	bin, _ := exec.LookPath("redis-server")
	r.redis.start(bin)
	// The replicas recover by themselves; the order is still there.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if status, m := api(t, "GET", r.bURL+"/api/v1/orders/"+id, ""); status == 200 && m["status"] == "ordered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replicas did not recover when Redis came back")
		}
	}
	if done, err := patient(r.aURL, code); !done || err != nil {
		t.Errorf("answering after Redis came back: %v %v", done, err)
	}
}

func TestReplicasTakeAcksForEachOther(t *testing.T) {
	r := newReplicas(t, true) // pull only
	id, code := orderRetrying(t, r.aURL)
	c, csrf := upToReview(t, r.proxy, code)
	if status, err := submitTo(c, r.proxy, r.aURL, csrf); err != nil || status != 303 {
		t.Fatalf("submit on A: %d %v", status, err)
	}
	status, m := api(t, "GET", r.aURL+"/api/v1/submissions?limit=10", "")
	subs, _ := m["submissions"].([]any)
	if status != 200 || len(subs) != 1 {
		t.Fatalf("lease on A: %d %v", status, m)
	}
	sub := subs[0].(map[string]any)["id"].(string)
	// The registry's ack reaches B, behind the balancer.
	status, m = api(t, "POST", r.bURL+"/api/v1/submissions/"+sub+"/ack", "")
	if status != 202 || m["status"] != "accepted" {
		t.Fatalf("ack on B: %d %v", status, m)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, o := api(t, "GET", r.bURL+"/api/v1/orders/"+id, ""); o["status"] == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("A never applied the ack taken by B")
		}
	}
	// The registry's retry of the ack, through either replica, is fine.
	if status, m := api(t, "POST", r.bURL+"/api/v1/submissions/"+sub+"/ack", ""); status != 202 {
		t.Errorf("the ack again on B: %d %v", status, m)
	}
	if status, m := api(t, "POST", r.aURL+"/api/v1/submissions/"+sub+"/ack", ""); status != 200 {
		t.Errorf("the ack again on A: %d %v", status, m)
	}
	// An id no replica leased is 404 on both.
	for _, base := range []string{r.aURL, r.bURL} {
		if status, m := api(t, "POST", base+"/api/v1/submissions/01900000-0000-7000-8000-000000000009/ack", ""); status != 404 {
			t.Errorf("an unknown id on %s: %d %v", base, status, m)
		}
	}
}
