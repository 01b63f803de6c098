// Command eprom-load measures the service against the budgets of
// DESIGN.md §10, all in one run on one machine:
//
//   - the full patient journey over HTTP against the real server (order,
//     code, every page, review, submit): journeys/s, requests/s, and
//     p50/p95/p99 per step, with errors;
//   - a bare fiber hello-world on the same loopback, and our requests/s as
//     a ratio of it;
//   - raw bbolt batched commits, and the outbox's durable submits as a
//     ratio of them;
//   - the weight of every page of every shipped questionnaire, compressed;
//   - the server's memory (RSS) with 10,000 open drafts.
//
// make bench runs it: eprom-load -server bin/eprom.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"eprom/questionnaire"
	"eprom/schemas"
	"eprom/store"
	"eprom/store/bolt"
	"eprom/store/signing"

	"github.com/gofiber/fiber/v2"
	bbolt "go.etcd.io/bbolt"
)

const token = "load:eprom-load-token-0123456789"

func main() {
	server := flag.String("server", "bin/eprom", "the eprom binary to start")
	concurrency := flag.Int("c", 32, "patients at once")
	duration := flag.Duration("d", 20*time.Second, "how long to run the journeys")
	baseline := flag.Duration("baseline", 5*time.Second, "how long to run each baseline")
	drafts := flag.Int("drafts", 10000, "open drafts for the memory figure")
	cpuprofile := flag.String("cpuprofile", "", "write the load generator's own CPU profile of the journeys here")
	only := flag.Bool("journeys-only", false, "run the journeys and stop: for comparing two builds of the server")
	flag.Parse()

	dir, err := os.MkdirTemp("", "eprom-load-")
	check(err)
	defer os.RemoveAll(dir)
	cmd, base := start(*server, filepath.Join(dir, "journeys"))
	defer cmd.Process.Kill()

	fmt.Printf("eprom-load: %s, %d cores, concurrency %d\n\n", time.Now().Format("2006-01-02"), numCPU(), *concurrency)

	// The journey.
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		check(err)
		check(pprof.StartCPUProfile(f))
	}
	server0, self0 := procCPU(cmd.Process.Pid), selfCPU()
	res := journeys(base, *concurrency, *duration)
	server1, self1 := procCPU(cmd.Process.Pid), selfCPU()
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	res.print()
	fmt.Printf("  CPU per request: server %.0f µs, load generator %.0f µs\n",
		perRequest(server1-server0, res.requests), perRequest(self1-self0, res.requests))
	if *only {
		return
	}

	// A bare fiber hello-world, on the same machine, now.
	self0 = selfCPU()
	hello, helloN := helloWorld(*concurrency, *baseline)
	fmt.Printf("\nhello-world fiber: %.0f req/s (CPU per request, server and client: %.0f µs); our journey's %.0f req/s is %.0f%% of it\n",
		hello, perRequest(selfCPU()-self0, int(helloN)), res.reqPerSec(), 100*res.reqPerSec()/hello)

	// Durable submits against raw bbolt batched commits.
	raw, submits := commits(*concurrency, *baseline)
	fmt.Printf("bbolt batched commits (its Batch, best of 10, 2 and 1 ms delays): %.0f/s; outbox durable submits: %.0f/s (%.0f%%)\n", raw, submits, 100*submits/raw)

	// Page weight.
	fmt.Println()
	pageWeights(base)

	// Memory with open drafts, on a server of its own: the journeys'
	// orders and envelopes would be counted too, and the more of them the
	// faster the server ran.
	fmt.Println()
	cmd.Process.Kill()
	cmd.Wait()
	cmd, base = start(*server, filepath.Join(dir, "drafts"))
	defer cmd.Process.Kill()
	openDrafts(base, *drafts, *concurrency)
	fmt.Printf("server RSS with %d open drafts: %.1f MB (anonymous %.1f MB, the data file's pages %.1f MB)\n", *drafts,
		float64(rss(cmd.Process.Pid, "VmRSS"))/(1<<20), float64(rss(cmd.Process.Pid, "RssAnon"))/(1<<20), float64(rss(cmd.Process.Pid, "RssFile"))/(1<<20))
}

// start runs the server on a data folder of its own and waits until it
// answers; it returns the process and the server's address.
func start(server, dir string) (*exec.Cmd, string) {
	check(os.MkdirAll(dir, 0o700))
	addr := freeAddr()
	base := "http://" + addr
	cmd := exec.Command(server, "serve")
	cmd.Env = append(os.Environ(), "EPROM_ADDR="+addr, "EPROM_DATA="+filepath.Join(dir, "data"),
		"EPROM_API_TOKENS="+token, "EPROM_PUBLIC_URL="+base)
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	check(err)
	cmd.Stderr = logFile
	check(cmd.Start())
	waitUp(base)
	return cmd, base
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "eprom-load:", err)
		os.Exit(1)
	}
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer ln.Close()
	return ln.Addr().String()
}

func waitUp(base string) {
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			return
		}
	}
	check(fmt.Errorf("the server did not come up"))
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

// transport is shared, with enough idle connections for every patient.
var transport = &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}

func client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Transport: transport, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// steps of the journey, in order.
var steps = []string{"order", "code", "page1", "post1", "page2", "post2", "review", "submit", "done"}

type result struct {
	mu       sync.Mutex
	lat      map[string][]time.Duration
	journeys int
	requests int
	errors   map[string]int
	elapsed  time.Duration
}

func (r *result) reqPerSec() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r *result) print() {
	fmt.Printf("patient journey (audit, %d requests each): %d journeys in %s: %.0f journeys/s, %.0f req/s\n",
		len(steps), r.journeys, r.elapsed.Round(time.Millisecond), float64(r.journeys)/r.elapsed.Seconds(), r.reqPerSec())
	fmt.Printf("  %-8s %9s %9s %9s\n", "step", "p50", "p95", "p99")
	var all []time.Duration
	for _, s := range steps {
		l := r.lat[s]
		all = append(all, l...)
		fmt.Printf("  %-8s %9s %9s %9s\n", s, pct(l, 50), pct(l, 95), pct(l, 99))
	}
	fmt.Printf("  %-8s %9s %9s %9s\n", "all", pct(all, 50), pct(all, 95), pct(all, 99))
	if len(r.errors) == 0 {
		fmt.Println("  errors: none")
	}
	for k, n := range r.errors {
		fmt.Printf("  errors: %d × %s\n", n, k)
	}
}

func pct(l []time.Duration, p int) string {
	if len(l) == 0 {
		return "-"
	}
	s := slices.Clone(l)
	slices.Sort(s)
	d := s[min(len(s)-1, len(s)*p/100)]
	return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
}

var csrf = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// journeys runs patients until the duration is over.
func journeys(base string, concurrency int, d time.Duration) *result {
	r := &result{lat: map[string][]time.Duration{}, errors: map[string]int{}}
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			lat := map[string][]time.Duration{}
			gz := new(gzip.Reader) // one per patient at a time, reset for each body
			n, reqs := 0, 0
			for time.Now().Before(deadline) {
				k, err := journey(base, lat, gz)
				reqs += k
				if err != nil {
					r.mu.Lock()
					r.errors[err.Error()]++
					r.mu.Unlock()
					continue
				}
				n++
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			r.journeys += n
			r.requests += reqs
			for k, v := range lat {
				r.lat[k] = append(r.lat[k], v...)
			}
		})
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	return r
}

// journey is one patient, start to end; it returns the requests made.
//
// It asks for gzip as a browser does, so the server compresses every page
// as it would for a patient, but it unpacks only the two bodies it reads
// (the order, for its code; the first page, for its CSRF token): the load generator shares the
// server's cores, and what it spends unpacking pages nobody reads would be
// counted against the server.
func journey(base string, lat map[string][]time.Duration, gz *gzip.Reader) (int, error) {
	c := client()
	reqs := 0
	var page bytes.Buffer
	do := func(step, method, path, body string, want int) error {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Accept-Encoding", "gzip") // set by hand: net/http then leaves the body packed
		switch {
		case step == "order":
			req.Header.Set("Authorization", "Bearer "+token[strings.Index(token, ":")+1:])
		case method == "POST":
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		t0 := time.Now()
		resp, err := c.Do(req)
		reqs++
		if err != nil {
			return fmt.Errorf("%s: %v", step, err)
		}
		page.Reset()
		_, err = page.ReadFrom(resp.Body)
		resp.Body.Close()
		lat[step] = append(lat[step], time.Since(t0))
		if err != nil {
			return fmt.Errorf("%s: %v", step, err)
		}
		if resp.StatusCode != want {
			return fmt.Errorf("%s: status %d", step, resp.StatusCode)
		}
		if resp.Header.Get("Content-Encoding") == "gzip" && (step == "order" || step == "page1") {
			if err := gz.Reset(bytes.NewReader(page.Bytes())); err != nil {
				return fmt.Errorf("%s: %v", step, err)
			}
			b, err := io.ReadAll(gz)
			if err != nil {
				return fmt.Errorf("%s: %v", step, err)
			}
			page.Reset()
			page.Write(b)
		}
		return nil
	}
	if err := do("order", "POST", "/api/v1/orders", `{"questionnaire": "audit", "patientRef": "load"}`, 201); err != nil {
		return reqs, err
	}
	var o struct{ Code string }
	if err := json.Unmarshal(page.Bytes(), &o); err != nil || o.Code == "" {
		return reqs, fmt.Errorf("order: no code in %.100q", page.String())
	}
	if err := do("code", "GET", "/c/"+o.Code, "", 303); err != nil {
		return reqs, err
	}
	if err := do("page1", "GET", "/q", "", 200); err != nil {
		return reqs, err
	}
	m := csrf.FindSubmatch(page.Bytes())
	if m == nil {
		return reqs, fmt.Errorf("page1: no form")
	}
	tok := url.QueryEscape(string(m[1]))
	if err := do("post1", "POST", "/q", "csrf="+tok+"&page=1&action=next&q1=2&q2=1&q3=1&q4=0&q5=0", 303); err != nil {
		return reqs, err
	}
	if err := do("page2", "GET", "/q?page=2", "", 200); err != nil {
		return reqs, err
	}
	if err := do("post2", "POST", "/q", "csrf="+tok+"&page=2&action=finish&q6=0&q7=1&q8=0&q9=0&q10=2", 303); err != nil {
		return reqs, err
	}
	if err := do("review", "GET", "/q/review", "", 200); err != nil {
		return reqs, err
	}
	if err := do("submit", "POST", "/q/submit", "csrf="+tok, 303); err != nil {
		return reqs, err
	}
	return reqs, do("done", "GET", "/done", "", 200)
}

// helloWorld measures a bare fiber app on loopback with the same client;
// it returns requests/s and the number of requests.
func helloWorld(concurrency int, d time.Duration) (float64, int64) {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/", func(c *fiber.Ctx) error { return c.SendString("hello, world") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	go app.Listener(ln)
	defer app.Shutdown()
	url := "http://" + ln.Addr().String() + "/"
	var n atomic.Int64
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			c := &http.Client{Transport: transport}
			for time.Now().Before(deadline) {
				resp, err := c.Get(url)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds(), n.Load()
}

// commits measures raw bbolt batched commits of an envelope-sized value,
// then Submissions.Submit on the bolt store (order closed, envelope signed
// and sealed, outbox write, one durable transaction), with the same
// concurrency.
func commits(concurrency int, d time.Duration) (raw, submits float64) {
	dir, err := os.MkdirTemp("", "eprom-load-bolt-")
	check(err)
	defer os.RemoveAll(dir)

	var seq atomic.Int64
	// Raw: bbolt's own Batch, at the best of three delays (bbolt's
	// default of 10 ms, and 2 and 1 ms), so that the ratio is to the best
	// bbolt does here rather than to a delay that suits the store.
	for _, delay := range []time.Duration{10 * time.Millisecond, 2 * time.Millisecond, time.Millisecond} {
		db, err := bbolt.Open(filepath.Join(dir, fmt.Sprintf("raw-%s.db", delay)), 0o600, nil)
		check(err)
		db.MaxBatchDelay = delay
		check(db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }))
		value := bytes.Repeat([]byte("x"), 2048)
		raw = max(raw, run(concurrency, d, func() error {
			k := strconv.FormatInt(seq.Add(1), 10)
			return db.Batch(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("b")).Put([]byte(k), value) })
		}))
		db.Close()
	}

	keys, err := signing.Load(filepath.Join(dir, "keys.pem"), true)
	check(err)
	secrets, _ := store.NewSecrets(bytes.Repeat([]byte{1}, 32))
	es, err := bolt.Open(filepath.Join(dir, "eprom.db"), secrets)
	check(err)
	defer es.Close()
	// As in the server, where every submitter is a request being handled.
	es.SetBusy(func() int { return concurrency })
	s := &store.Submissions{Orders: es, Queue: es.Queue(), Signer: keys}
	ctx := context.Background()
	cat, err := schemas.Load(schemas.Shipped())
	check(err)
	def, _ := cat.Get("audit", "")
	form := url.Values{"q1": {"2"}, "q2": {"1"}, "q3": {"1"}, "q4": {"0"}, "q5": {"0"}, "q6": {"0"}, "q7": {"1"}, "q8": {"0"}, "q9": {"0"}, "q10": {"2"}}
	a, _ := def.DecodeForm(form, nil)
	now := time.Now()
	// Orders enough for the whole run (at 25,000 submits/s), made before it.
	pool := int(25000 * d.Seconds())
	ids := make(chan string, pool)
	var made sync.WaitGroup
	var left atomic.Int64
	left.Store(int64(pool))
	for range concurrency {
		made.Go(func() {
			for left.Add(-1) >= 0 {
				o := &questionnaire.Order{ID: fmt.Sprintf("%032d", seq.Add(1)), Status: questionnaire.StatusInProgress, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour),
					Questionnaire: questionnaire.QuestionnaireRef{ID: "audit", Version: "1.0.0", Digest: def.Digest()}, Language: "nb", PatientRef: "load"}
				if _, _, _, err := es.CreateOrder(ctx, o, nil); err != nil {
					check(err)
				}
				ids <- o.ID
			}
		})
	}
	made.Wait()
	// Validation and scoring happen in the web layer before the store's
	// Submit: what is measured here is the durable part.
	answers, scores := def.List(a), def.ComputeScores(a)
	submits = run(concurrency, d, func() error {
		var id string
		select {
		case id = <-ids:
		default:
			return errSpent
		}
		r := &questionnaire.Response{OrderID: id, Type: questionnaire.ResponseAnswered, Language: "nb",
			Answers: answers, Scores: scores, SubmittedAt: time.Now()}
		_, err := s.Submit(ctx, r, time.Now())
		return err
	})
	return raw, submits
}

// errSpent ends a run early: what it needs is spent. The rate is then
// per the whole duration, less than it was.
var errSpent = errors.New("spent")

// run calls fn from concurrency goroutines for d; it returns calls/s.
func run(concurrency int, d time.Duration, fn func() error) float64 {
	var n atomic.Int64
	var spent atomic.Bool
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				err := fn()
				if err == errSpent {
					spent.Store(true)
					return
				}
				check(err)
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if spent.Load() {
		fmt.Fprintln(os.Stderr, "eprom-load: the run ended early, its orders spent: the rate is less than it was")
	}
	return float64(n.Load()) / d.Seconds()
}

// wire fetches path asking for gzip, as a browser does, and returns what
// came over the wire and the body unpacked.
func wire(c *http.Client, url string) (sent, body []byte) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept-Encoding", "gzip") // set by hand: net/http then leaves the body packed
	resp, err := c.Do(req)
	check(err)
	defer resp.Body.Close()
	sent, _ = io.ReadAll(resp.Body)
	if resp.Header.Get("Content-Encoding") != "gzip" {
		return sent, sent
	}
	r, err := gzip.NewReader(bytes.NewReader(sent))
	check(err)
	body, err = io.ReadAll(r)
	check(err)
	return sent, body
}

// pageWeights fetches every page of every shipped questionnaire; the
// compressed sizes are what the server sent.
func pageWeights(base string) {
	c := client()
	cssSent, css := wire(c, base+"/static/eprom.css")
	cssGz := len(cssSent)
	fmt.Printf("page weight (HTML + CSS %d B raw, %d B gzip; budget 14 KB compressed):\n", len(css), cssGz)
	fmt.Printf("  %-20s %-9s %4s %9s %9s %11s\n", "questionnaire", "version", "page", "HTML raw", "HTML gz", "HTML+CSS gz")
	cat, err := schemas.Load(schemas.Shipped())
	check(err)
	worst := 0
	for _, d := range cat.List() {
		code, err := order(c, base, d.ID, d.Version)
		check(err)
		p := client()
		r, err := p.Get(base + "/c/" + code)
		check(err)
		r.Body.Close()
		for i := range d.Pages() {
			sent, html := wire(p, fmt.Sprintf("%s/q?page=%d", base, i+1))
			total := len(sent) + cssGz
			worst = max(worst, total)
			fmt.Printf("  %-20s %-9s %4d %9d %9d %11d\n", d.ID, d.Version, i+1, len(html), len(sent), total)
		}
	}
	verdict := "within"
	if worst > 14*1024 {
		verdict = "OVER"
	}
	fmt.Printf("  heaviest: %d B, %s the 14 KB budget\n", worst, verdict)
}

// openDrafts leaves n patients in the middle of the questionnaire.
func openDrafts(base string, n, concurrency int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				c := client()
				code, err := order(c, base, "kvarus-maalepunkt", "")
				if err != nil {
					continue
				}
				if r, err := c.Get(base + "/c/" + code); err == nil {
					r.Body.Close()
				}
				r, err := c.Get(base + "/q")
				if err != nil {
					continue
				}
				page, _ := io.ReadAll(r.Body)
				r.Body.Close()
				m := csrf.FindSubmatch(page)
				if m == nil {
					continue
				}
				form := url.Values{"csrf": {string(m[1])}, "page": {"1"}, "action": {"autosave"},
					"behandling-start": {"2025-01-01"}, "bolig": {"egen"}, "arbeid": {"skole"}, "barn": {"false"}}
				if r, err := c.PostForm(base+"/q", form); err == nil {
					r.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	fmt.Printf("opened %d drafts in %s\n", n, time.Since(start).Round(time.Millisecond))
}

// order creates an order through the API, as a registry would, and
// returns its code; version "" is the latest.
func order(c *http.Client, base, questionnaireID, version string) (string, error) {
	req, _ := http.NewRequest("POST", base+"/api/v1/orders", strings.NewReader(fmt.Sprintf(`{"questionnaire": %q, "version": %q, "patientRef": "load"}`, questionnaireID, version)))
	req.Header.Set("Authorization", "Bearer "+token[strings.Index(token, ":")+1:])
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var o struct{ Code string }
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil || resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("order: status %d", resp.StatusCode)
	}
	return o.Code, nil
}

// rss reads a process's resident set size in bytes, or a part of it
// (field: VmRSS, RssAnon, RssFile).
func rss(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// procCPU reads the CPU time (user and system) a process has used so far.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command's name, which is in parentheses and
	// may hold spaces: utime and stime are the 12th and 13th of them, in
	// clock ticks of 1/100 s (USER_HZ on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// selfCPU is the CPU time (user and system) this process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perRequest is CPU time per request in microseconds.
func perRequest(d time.Duration, requests int) float64 {
	if requests == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(requests)
}
