package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	kvarusToken = "kvarus-token-0123456789"
	otherToken  = "other-token-0123456789"
)

// writeClients writes a clients file.
func writeClients(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// call sends an API request with a token; it returns the status and body.
func call(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeRefusesABadClientsFile(t *testing.T) {
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		writeClients(t, p, body)
		return p
	}
	good := file("good.json", `{"clients": [{"id": "kvarus", "tokens": ["`+kvarusToken+`"]}]}`)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"an unknown field, with its path", []string{"-clients-file", file("typo.json", `{"clients": [{"id": "kvarus", "tokens": ["`+kvarusToken+`"], "registryURL": "https://x"}]}`)},
			"clients[0].registryURL: unknown field"},
		{"a value of the wrong type", []string{"-clients-file", file("type.json", `{"clients": [{"id": "kvarus", "tokens": "`+kvarusToken+`"}]}`)},
			"clients[0].tokens: want an array"},
		{"a short token", []string{"-clients-file", file("short.json", `{"clients": [{"id": "kvarus", "tokens": ["short"]}]}`)},
			"clients[0].tokens[0]: a token needs at least 16 characters"},
		{"one token for two clients", []string{"-clients-file", file("twice.json", `{"clients": [{"id": "a", "tokens": ["`+kvarusToken+`"]}, {"id": "b", "tokens": ["`+kvarusToken+`"]}]}`)},
			"clients[1].tokens[0]: the same token as clients[0].tokens[0]"},
		{"a repeated id", []string{"-clients-file", file("ids.json", `{"clients": [{"id": "a", "tokens": ["`+kvarusToken+`"]}, {"id": "a", "tokens": ["`+otherToken+`"]}]}`)},
			"clients[1].id"},
		{"a bad registry URL", []string{"-clients-file", file("url.json", `{"clients": [{"id": "a", "tokens": ["`+kvarusToken+`"], "registryUrl": "ftp://x"}]}`)},
			"clients[0].registryUrl"},
		{"a missing file", []string{"-clients-file", filepath.Join(dir, "nope.json")}, "EPROM_CLIENTS_FILE"},
		{"not JSON", []string{"-clients-file", file("broken.json", `{"clients": [`)}, "EPROM_CLIENTS_FILE"},
		{"a clients file and API tokens", []string{"-clients-file", good, "-api-tokens", testToken}, "EPROM_CLIENTS_FILE and EPROM_API_TOKENS are both set"},
		{"a clients file and a registry URL", []string{"-clients-file", good, "-registry-url", "https://x"}, "EPROM_CLIENTS_FILE and EPROM_REGISTRY_URL are both set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "-data", filepath.Join(dir, "d"), "-addr", freeAddr(t)}, tt.args...)
			var stderr bytes.Buffer
			code := run(context.Background(), args, io.Discard, &stderr)
			out := strings.TrimSpace(stderr.String())
			if code != 1 || strings.Count(out, "\n") != 0 || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and one line with %q", code, out, tt.want)
			}
		})
	}
}

func TestParseTokens(t *testing.T) {
	for _, bad := range []string{"", "registry", "registry:short", "a:0123456789abcdef,a:0123456789abcdeg",
		"bad name:0123456789abcdef", "a:0123456789abcdef,b:0123456789abcdef"} {
		if _, err := parseTokens(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	tokens, err := parseTokens("# comment\n\nregistry:0123456789abcdef\nbackup : fedcba9876543210fedc\n")
	if err != nil || len(tokens) != 2 || tokens[0] != "0123456789abcdef" || tokens[1] != "fedcba9876543210fedc" {
		t.Fatalf("%q %v", tokens, err)
	}
}

// The clients file is re-read on SIGHUP: a new client's token works at
// once, and a file that does not parse leaves the clients as they were.
func TestClientsFileIsReadAgainOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	clients := filepath.Join(dir, "clients.json")
	writeClients(t, clients, `{"clients": [
		{"id": "kvarus", "name": "KvaRus", "tokens": ["`+kvarusToken+`"], "questionnaires": ["kvarus-*"], "pull": true}]}`)
	addr := freeAddr(t)
	p := newProc(t, "eprom", addr, []string{"EPROM_ADDR=" + addr, "EPROM_DATA=" + filepath.Join(dir, "data"),
		"EPROM_CLIENTS_FILE=" + clients}, "serve")
	p.start()
	base := "http://" + addr
	order := func(token, q string) int {
		status, _ := call(t, "POST", base+"/api/v1/orders", token, `{"questionnaire": "`+q+`", "patientRef": "p"}`)
		return status
	}
	if s := order(kvarusToken, "kvarus-erfaring"); s != 201 {
		t.Fatalf("kvarus orders its own form: %d", s)
	}
	if s := order(kvarusToken, "audit"); s != 403 {
		t.Fatalf("kvarus orders audit: %d, want 403", s)
	}
	if s := order(otherToken, "audit"); s != 401 {
		t.Fatalf("an unknown token: %d", s)
	}
	writeClients(t, clients, `{"clients": [
		{"id": "kvarus", "tokens": ["`+kvarusToken+`"], "questionnaires": ["kvarus-*", "audit"], "pull": true},
		{"id": "other", "tokens": ["`+otherToken+`"]}]}`)
	p.cmd.Process.Signal(syscall.SIGHUP)
	eventually(t, "the new client's token works", func() bool { return order(otherToken, "audit") == 201 })
	if s := order(kvarusToken, "audit"); s != 201 {
		t.Errorf("kvarus may order audit after the reload: %d", s)
	}
	writeClients(t, clients, `{"clients": [{"id": "kvarus", "tokens": ["`+kvarusToken+`"], "typo": 1}]}`)
	p.cmd.Process.Signal(syscall.SIGHUP)
	eventually(t, "the bad file is reported", func() bool {
		return strings.Contains(p.log.String(), "the clients file is not used") && strings.Contains(p.log.String(), "clients[0].typo: unknown field")
	})
	if s := order(otherToken, "audit"); s != 201 {
		t.Errorf("after a bad reload the clients read before stay: %d", s)
	}
	if strings.Contains(p.log.String(), kvarusToken) || strings.Contains(p.log.String(), otherToken) {
		t.Error("a token is in the log")
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

// orderAs creates an audit order with a client's token.
func orderAs(base, token string) (id, code string, err error) {
	req, _ := http.NewRequest("POST", base+"/api/v1/orders", strings.NewReader(`{"questionnaire": "audit", "patientRef": "p"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	if resp.StatusCode != 201 {
		return "", "", fmt.Errorf("order: %d %v", resp.StatusCode, m)
	}
	return m["id"].(string), m["code"].(string), nil
}

// TestOneRegistryDownDoesNotSlowAnother: two registries, one answering 503
// for 30 s, slowly (2 s, an overloaded registry); the other's envelopes
// still arrive within a second of their submit throughout, and the first's
// arrive once it answers again.
func TestOneRegistryDownDoesNotSlowAnother(t *testing.T) {
	if os.Getenv("EPROM_SKIP_E2E") != "" && os.Getenv("CI") != "true" {
		t.Skip("SKIPPED process test: EPROM_SKIP_E2E is set")
	}
	// The failing registry holds each try for hang, then refuses it. An
	// envelope for the working registry that waited behind such a try
	// would wait up to hang: half of them longer than hang/2, the limit,
	// which leaves a healthy delivery seconds on a busy machine.
	const outage, hang = 30 * time.Second, 6 * time.Second
	dir := t.TempDir()
	addrs := freeAddrs(t, 2)
	addr, sinkAddr := addrs[0], addrs[1]
	base := "http://" + addr

	var (
		mu       sync.Mutex
		downGot  = map[string]bool{}
		downFrom = time.Now()
		refused  int
	)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(downFrom) < outage {
			refused++
			mu.Unlock()
			time.Sleep(hang)
			mu.Lock()
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		downGot[r.Header.Get("Idempotency-Key")] = true
		w.WriteHeader(http.StatusOK)
	}))
	defer down.Close()

	clients := filepath.Join(dir, "clients.json")
	writeClients(t, clients, `{"clients": [
		{"id": "kvarus", "tokens": ["`+kvarusToken+`"], "registryUrl": "http://`+sinkAddr+`/"},
		{"id": "other", "tokens": ["`+otherToken+`"], "registryUrl": "`+down.URL+`"}]}`)
	server := newProc(t, "eprom", addr, []string{"EPROM_ADDR=" + addr, "EPROM_DATA=" + filepath.Join(dir, "data"),
		"EPROM_PUBLIC_URL=" + base, "EPROM_CLIENTS_FILE=" + clients, "EPROM_DELIVERY_MAX_BACKOFF=5s"}, "serve")
	sinkOut := filepath.Join(dir, "sink.jsonl")
	sinkProc := newProc(t, "registry-sink", sinkAddr, nil, "--jwks", base+"/.well-known/jwks.json", "--listen", sinkAddr, "--out", sinkOut)
	server.start()
	sinkProc.start()
	mu.Lock()
	downFrom = time.Now()
	mu.Unlock()

	// The failing registry gets a backlog at once.
	var downOrders []string
	for range 20 {
		id, code, err := orderAs(base, otherToken)
		if err != nil {
			t.Fatal(err)
		}
		if done, err := patient(base, code); !done || err != nil {
			t.Fatalf("submit for the failing registry: %v %v", done, err)
		}
		downOrders = append(downOrders, id)
	}
	arrived := func(orderID string) bool {
		for _, r := range readSink(t, sinkOut) {
			if r.Envelope.OrderID == orderID {
				return true
			}
		}
		return false
	}
	var slowest time.Duration
	n := 0
	for time.Since(downFrom) < outage-2*time.Second {
		id, code, err := orderAs(base, kvarusToken)
		if err != nil {
			t.Fatal(err)
		}
		if done, err := patient(base, code); !done || err != nil {
			t.Fatalf("submit for the working registry: %v %v", done, err)
		}
		sent := time.Now()
		for !arrived(id) {
			if time.Since(sent) > hang/2 {
				t.Fatalf("an envelope for the working registry took over %s, %s into the other's outage\nserver log:\n%.3000s", hang/2,
					time.Since(downFrom).Round(time.Second), server.log.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		slowest = max(slowest, time.Since(sent))
		n++
		// One more for the failing registry now and then.
		if n%3 == 0 {
			id, code, err := orderAs(base, otherToken)
			if err == nil {
				if done, _ := patient(base, code); done {
					downOrders = append(downOrders, id)
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	mu.Lock()
	if refused == 0 {
		t.Error("the failing registry was never tried: the test proved nothing")
	}
	mu.Unlock()
	t.Logf("%d envelopes to the working registry during the outage, the slowest in %s", n, slowest.Round(time.Millisecond))
	// After the outage every envelope for the other registry arrives.
	eventually30 := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		got := len(downGot)
		mu.Unlock()
		if got >= len(downOrders) {
			break
		}
		if time.Now().After(eventually30) {
			t.Fatalf("%d of %d envelopes reached the registry after its outage", got, len(downOrders))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Each registry got only its own client's envelopes.
	for _, r := range readSink(t, sinkOut) {
		for _, id := range downOrders {
			if r.Envelope.OrderID == id {
				t.Errorf("the other client's order %s reached kvarus's registry", id)
			}
		}
	}
}

func TestRedisWithoutPasswordOrTLSIsWarnedOf(t *testing.T) {
	for url, warn := range map[string]bool{
		"redis://127.0.0.1:6379/0":          true,
		"redis://user@10.0.0.5:6379/0":      true,
		"redis://:secret@10.0.0.5:6379/0":   false,
		"redis://user:secret@10.0.0.5:6379": false,
		"rediss://10.0.0.5:6380/0":          false,
	} {
		if got := redisWarning(url) != ""; got != warn {
			t.Errorf("%s: warned %v, want %v", url, got, warn)
		}
	}
	if strings.Contains(redisWarning("redis://:secret@h:1"), "secret") {
		t.Error("the warning shows the password")
	}
}
