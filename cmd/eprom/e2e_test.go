package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"eprom/store/signing"
	"eprom/web/sink"
)

// binaries builds eprom and registry-sink once for the process tests.
var binaries = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "eprom-e2e-bin-")
	if err != nil {
		return "", err
	}
	for _, b := range []struct{ name, pkg string }{{"eprom", "."}, {"registry-sink", "../registry-sink"}} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, b.name), b.pkg).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("build %s: %v\n%s", b.name, err, out)
		}
	}
	return dir, nil
})

// proc is a program of the test, run as its own process.
type proc struct {
	t    *testing.T
	name string
	args []string
	env  []string
	addr string // its health check lives at http://addr/healthz
	cmd  *exec.Cmd
	log  *lockedBuffer
}

func newProc(t *testing.T, name, addr string, env []string, args ...string) *proc {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, name: filepath.Join(bin, name), args: args, env: env, addr: addr, log: &lockedBuffer{}}
	t.Cleanup(func() { p.kill() })
	return p
}

// start runs the program and waits until it answers.
func (p *proc) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.name, p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { p.cmd.Wait(); close(exited) }()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + p.addr + "/healthz"); err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-exited:
			p.t.Fatalf("%s exited:\n%s", p.name, p.log.String())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s did not come up:\n%s", p.name, p.log.String())
		}
	}
}

// kill ends the process at once, as a power cut would: SIGKILL.
func (p *proc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Process.Wait()
		p.cmd = nil
	}
}

// patient answers an audit order through the pages over HTTP, as a
// browser would; done is true when the submit got its 303 to /done.
func patient(base, code string) (done bool, err error) {
	client := browserClient()
	resp, err := client.Get(base + "/c/" + code)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusGone {
		return false, nil // submitted in an earlier try whose answer was lost
	}
	if resp.StatusCode != http.StatusSeeOther {
		return false, fmt.Errorf("code: %d", resp.StatusCode)
	}
	return answerAudit(client, base)
}

// answerAudit answers an audit order in a session that has begun, and
// sends it.
func answerAudit(client *http.Client, base string) (done bool, err error) {
	resp, err := client.Get(base + "/q")
	if err != nil {
		return false, err
	}
	if resp.StatusCode == http.StatusSeeOther {
		// Every page answered in an earlier try: the review; or sent.
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, "/done") {
			return false, nil
		}
		if resp, err = client.Get(base + resp.Header.Get("Location")); err != nil {
			return false, err
		}
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(page)
	if m == nil {
		return false, fmt.Errorf("no form: %d", resp.StatusCode)
	}
	csrf := string(m[1])
	post := func(path string, form url.Values) (*http.Response, error) {
		form.Set("csrf", csrf)
		resp, err := client.PostForm(base+path, form)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	if _, err := post("/q", url.Values{"page": {"1"}, "action": {"next"}, "q1": {"1"}, "q2": {"0"}, "q3": {"1"}, "q4": {"0"}, "q5": {"0"}}); err != nil {
		return false, err
	}
	if _, err := post("/q", url.Values{"page": {"2"}, "action": {"review"}, "q6": {"0"}, "q7": {"1"}, "q8": {"0"}, "q9": {"0"}, "q10": {"2"}}); err != nil {
		return false, err
	}
	resp, err = post("/q/submit", url.Values{})
	if err != nil {
		return false, err
	}
	if resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/done") {
		return true, nil
	}
	return false, fmt.Errorf("submit: %d", resp.StatusCode)
}

// orderRetrying creates an audit order through the API; it retries while
// the server is down.
func orderRetrying(t *testing.T, base string) (id, code string) {
	t.Helper()
	id, code, err := tryOrder(base)
	if err != nil {
		t.Fatal(err)
	}
	return id, code
}

// tryOrder is orderRetrying for any goroutine: it returns what went wrong.
func tryOrder(base string) (id, code string, err error) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		req, _ := http.NewRequest("POST", base+"/api/v1/orders", strings.NewReader(`{"questionnaire": "audit", "patientRef": "p"}`))
		req.Header.Set("Authorization", "Bearer serve-test-token-0123")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if resp.StatusCode == 201 {
			return m["id"].(string), m["code"].(string), nil
		}
	}
	return "", "", errors.New("could not create an order in 30 s")
}

// readSink reads the sink's records; a last line still being written is
// left for the next read.
func readSink(t *testing.T, path string) []sink.Record {
	t.Helper()
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.LastIndexByte(raw, '\n'); i >= 0 {
		raw = raw[:i+1]
	} else {
		raw = nil
	}
	var out []sink.Record
	for _, line := range bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r sink.Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("a broken line in the sink's file: %v", err)
		}
		out = append(out, r)
	}
	return out
}

// cluster is a service and a sink as processes.
type cluster struct {
	t             *testing.T
	base, sinkOut string
	data          string
	server, sink  *proc
}

func newCluster(t *testing.T, sinkRunning bool) *cluster {
	if os.Getenv("EPROM_SKIP_E2E") != "" && os.Getenv("CI") != "true" {
		t.Skip("SKIPPED process test: EPROM_SKIP_E2E is set")
	}
	dir := t.TempDir()
	addrs := freeAddrs(t, 2)
	addr, sinkAddr := addrs[0], addrs[1]
	c := &cluster{t: t, base: "http://" + addr, sinkOut: filepath.Join(dir, "sink.jsonl"), data: filepath.Join(dir, "data")}
	c.server = newProc(t, "eprom", addr, []string{
		"EPROM_ADDR=" + addr, "EPROM_DATA=" + c.data, "EPROM_API_TOKENS=" + testToken, "EPROM_PUBLIC_URL=" + c.base,
		"EPROM_REGISTRY_URL=http://" + sinkAddr + "/", "EPROM_DELIVERY_MAX_BACKOFF=1s",
	}, "serve")
	c.sink = newProc(t, "registry-sink", sinkAddr, nil,
		"--jwks", c.base+"/.well-known/jwks.json", "--listen", sinkAddr, "--out", c.sinkOut)
	c.server.start()
	if sinkRunning {
		c.sink.start()
	}
	return c
}

// queueList runs `eprom queue list` on the running server's data folder.
func (c *cluster) queueList() string {
	c.t.Helper()
	bin, _ := binaries()
	out, err := exec.Command(filepath.Join(bin, "eprom"), "queue", "list", "-data", c.data).CombinedOutput()
	if err != nil {
		c.t.Fatalf("queue list: %v\n%s", err, out)
	}
	return string(out)
}

// queueStat runs `eprom queue stats` on the running server's data folder.
func (c *cluster) queueStat(name string) string {
	c.t.Helper()
	bin, _ := binaries()
	out, err := exec.Command(filepath.Join(bin, "eprom"), "queue", "stats", "-data", c.data).CombinedOutput()
	if err != nil {
		c.t.Fatalf("queue stats: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	c.t.Fatalf("no %q in:\n%s", name, out)
	return ""
}

// waitForAll waits until every order in want has arrived at the sink.
func (c *cluster) waitForAll(want map[string]bool) []sink.Record {
	c.t.Helper()
	var recs []sink.Record
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		recs = readSink(c.t, c.sinkOut)
		got := map[string]bool{}
		for _, r := range recs {
			got[r.Envelope.OrderID] = true
		}
		missing := 0
		for id := range want {
			if !got[id] {
				missing++
			}
		}
		if missing == 0 {
			return recs
		}
	}
	c.t.Fatalf("not every submission arrived; the sink has %d records of %d\nserver log:\n%.3000s", len(recs), len(want), c.server.log.String())
	return nil
}

// checkRecords asserts each order arrived at most once and every JWS
// verifies against the server's JWKS.
func (c *cluster) checkRecords(recs []sink.Record) {
	c.t.Helper()
	resp, err := http.Get(c.base + "/.well-known/jwks.json")
	if err != nil {
		c.t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	set, err := signing.ParseJWKS(raw)
	if err != nil {
		c.t.Fatal(err)
	}
	perOrder := map[string]int{}
	for _, r := range recs {
		perOrder[r.Envelope.OrderID]++
		payload, _, err := signing.Verify(r.JWS, set)
		if err != nil {
			c.t.Errorf("envelope %s does not verify: %v", r.Envelope.ID, err)
			continue
		}
		var env struct{ ID, OrderID string }
		json.Unmarshal(payload, &env)
		if env.ID != r.Envelope.ID || env.OrderID != r.Envelope.OrderID {
			c.t.Errorf("the stored envelope is not what was signed: %s", r.Envelope.ID)
		}
	}
	for id, n := range perOrder {
		if n != 1 {
			c.t.Errorf("order %s arrived %d times", id, n)
		}
	}
	if dead := c.queueStat("dead"); dead != "0" {
		c.t.Errorf("%s dead letters", dead)
	}
}

// TestCrashes sends 200 submissions through HTTP while the server is
// killed with SIGKILL five times and restarted: every submission that got
// its 303 to /done reaches the registry exactly once, signed.
func TestCrashes(t *testing.T) {
	c := newCluster(t, true)
	const n, workers, kills = 200, 8, 5

	var mu sync.Mutex
	confirmed := map[string]bool{}
	interrupted := 0 // patient flows cut short by a kill
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range jobs {
				id, code, err := tryOrder(c.base)
				if err != nil {
					t.Error(err)
					continue
				}
				for try := 0; ; try++ {
					done, err := patient(c.base, code)
					if done {
						mu.Lock()
						confirmed[id] = true
						mu.Unlock()
					}
					if err == nil || try > 200 {
						break
					}
					mu.Lock()
					interrupted++
					mu.Unlock()
					time.Sleep(50 * time.Millisecond) // the server is down: try again
				}
			}
		})
	}

	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for range kills {
			time.Sleep(time.Duration(200+rand.IntN(600)) * time.Millisecond)
			c.server.kill()
			c.server.start()
		}
	}()
	for i := range n {
		jobs <- i
		time.Sleep(20 * time.Millisecond) // spread the work over the kills
	}
	close(jobs)
	wg.Wait()
	<-killed

	if len(confirmed) < n/2 {
		t.Fatalf("only %d of %d submissions were confirmed", len(confirmed), n)
	}
	if interrupted == 0 {
		t.Error("no patient was interrupted: the kills missed the traffic, and the test proved nothing")
	}
	recs := c.waitForAll(confirmed)
	c.checkRecords(recs)
	t.Logf("%d submissions confirmed, %d envelopes at the registry, %d kills, %d flows interrupted", len(confirmed), len(recs), kills, interrupted)
}

// TestRegistryOutage runs the first half with the registry down: every
// envelope arrives once it is back.
func TestRegistryOutage(t *testing.T) {
	c := newCluster(t, false)
	confirmed := map[string]bool{}
	for range 30 {
		id, code := orderRetrying(t, c.base)
		if done, err := patient(c.base, code); !done || err != nil {
			t.Fatalf("submit: %v %v", done, err)
		}
		confirmed[id] = true
	}
	// The worker tries, fails and backs off: envelopes wait with the error
	// of an attempt, and the registry's destination waits out its backoff.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		list := c.queueList()
		if strings.Contains(list, "connection refused") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery was tried while the registry was down:\n%s", list)
		}
	}
	if depth := c.queueStat("depth"); depth != "30" {
		t.Errorf("depth %s while the registry is down, want 30", depth)
	}
	c.sink.start()
	for range 30 {
		id, code := orderRetrying(t, c.base)
		if done, err := patient(c.base, code); !done || err != nil {
			t.Fatalf("submit: %v %v", done, err)
		}
		confirmed[id] = true
	}
	recs := c.waitForAll(confirmed)
	c.checkRecords(recs)
	if depth := c.queueStat("depth"); depth != "0" {
		t.Errorf("depth %s after delivery", depth)
	}

	t.Run("the sink refuses a tampered envelope", func(t *testing.T) {
		jws := recs[0].JWS
		parts := strings.Split(jws, ".")
		payload := []byte(parts[1])
		payload[5] ^= 0x01 // one byte of the encoded payload
		req, _ := http.NewRequest("POST", "http://"+c.sink.addr+"/", strings.NewReader(parts[0]+"."+string(payload)+"."+parts[2]))
		req.Header.Set("Content-Type", "application/jose")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("tampered envelope: %d", resp.StatusCode)
		}
		if got := len(readSink(t, c.sinkOut)); got != len(recs) {
			t.Errorf("the sink stored it: %d records", got)
		}
	})
}

func TestQueueCommandOnAStoppedService(t *testing.T) {
	data := t.TempDir()
	base, stop := startService(t, data)
	for range 3 {
		_, code := orderRetrying(t, base)
		if done, err := patient(base, code); !done || err != nil {
			t.Fatalf("%v %v", done, err)
		}
	}
	stop()
	out := func(args ...string) string {
		var stdout, stderr strings.Builder
		if code := run(t.Context(), append(args, "-data", data), &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		return stdout.String()
	}
	if got := out("queue", "stats"); !strings.Contains(got, "depth 3\n") || !strings.Contains(got, "dead 0\n") {
		t.Errorf("stats (pull only, nothing delivered):\n%s", got)
	}
	list := out("queue", "list")
	if n := strings.Count(list, "response"); n != 3 {
		t.Errorf("list:\n%s", list)
	}
	var stderr strings.Builder
	if code := run(t.Context(), []string{"queue", "retry", "nope", "-data", data}, io.Discard, &stderr); code != 1 || !strings.Contains(stderr.String(), "no dead letter") {
		t.Errorf("retry of an unknown id: %d %s", code, stderr.String())
	}
	if got := out("keys", "list"); !strings.Contains(got, "signs") {
		t.Errorf("keys list: %s", got)
	}
	rotated := out("keys", "rotate")
	if !strings.Contains(rotated, "new signing key") {
		t.Errorf("keys rotate: %s", rotated)
	}
	if got := out("keys", "list"); strings.Count(got, "\n") != 2 || !strings.Contains(got, "retired") {
		t.Errorf("keys after rotate: %s", got)
	}

	// A keys file replaced by one without the key that signed the three
	// waiting envelopes: start-up refuses it, rather than stop publishing
	// the key the registry needs to verify them.
	keysFile := filepath.Join(data, "signing-keys.pem")
	kept, _ := os.ReadFile(keysFile)
	other := filepath.Join(t.TempDir(), "other.pem")
	if _, err := signing.Load(other, true); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(other)
	os.WriteFile(keysFile, raw, 0o600)
	stderr.Reset()
	serve := []string{"serve", "-data", data, "-api-tokens", testToken, "-addr", freeAddr(t)}
	code := run(t.Context(), serve, io.Discard, &stderr)
	line := strings.TrimSpace(stderr.String())
	if code != 1 || strings.Count(line, "\n") != 0 || !strings.Contains(line, "EPROM_SIGNING_KEYS_FILE: "+keysFile+" lacks the keys that signed envelopes still waiting") || !strings.Contains(line, "(3 envelopes)") {
		t.Errorf("serve on a keys file without the waiting envelopes' key: exit %d, %q", code, line)
	}
	os.WriteFile(keysFile, kept, 0o600)
	startService(t, data)
}

// TestDamagedDataFileStopsStartUp: eprom.db with 8 KB of random bytes at
// offset 4096 stops `eprom serve` and `eprom queue stats` with one line
// each, never a panic, never a service listening on it.
func TestDamagedDataFileStopsStartUp(t *testing.T) {
	data := t.TempDir()
	base, stop := startService(t, data)
	for range 3 {
		orderRetrying(t, base)
	}
	stop()
	f, err := os.OpenFile(filepath.Join(data, "eprom.db"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 8192)
	for i := range junk {
		junk[i] = byte(rand.Uint32())
	}
	f.WriteAt(junk, 4096)
	f.Close()

	for _, args := range [][]string{
		{"serve", "-data", data, "-api-tokens", testToken, "-addr", freeAddr(t)},
		{"queue", "stats", "-data", data},
	} {
		var stderr strings.Builder
		code := run(t.Context(), args, io.Discard, &stderr)
		line := strings.TrimSpace(stderr.String())
		if code != 1 || strings.Count(line, "\n") != 0 || !strings.Contains(line, "eprom.db: meta page 1") || !strings.Contains(line, "restore it from a backup") {
			t.Errorf("%s on a damaged eprom.db: exit %d, %q; want one line saying so", args[0], code, line)
		}
	}
}
