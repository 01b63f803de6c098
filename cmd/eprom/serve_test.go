package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "registry:serve-test-token-0123"

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	return freeAddrs(t, 1)[0]
}

// freeAddrs returns n distinct free loopback addresses: all are held
// until all are found, or the system could hand out one port twice.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}

// lockedBuffer collects a server's output from its goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// startServe runs `eprom serve` with args until the test ends or stop is
// called; stop returns the exit status.
func startServe(t *testing.T, addr string, args ...string) (stop func() int, logs *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"serve", "-addr", addr}, args...), io.Discard, logs) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("serve exited with %d:\n%s", code, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not come up:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var once sync.Once
	status := 0
	stop = func() int {
		once.Do(func() { cancel(); status = <-done })
		return status
	}
	t.Cleanup(func() { stop() })
	return stop, logs
}

func api(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer serve-test-token-0123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestServeKeepsOrdersAndCodesAcrossARestart(t *testing.T) {
	data := t.TempDir()
	addr := freeAddr(t)
	args := []string{"-data", data, "-api-tokens", testToken, "-public-url", "https://eprom.example.no"}
	stop, logs := startServe(t, addr, args...)

	status, order := api(t, "POST", "http://"+addr+"/api/v1/orders", `{"questionnaire": "kvarus-maalepunkt", "patientRef": "p-1"}`)
	if status != 201 {
		t.Fatalf("create: %d %v", status, order)
	}
	id, code := order["id"].(string), order["code"].(string)
	if order["url"] != "https://eprom.example.no/c/"+code {
		t.Errorf("url %v", order["url"])
	}
	if got := stop(); got != 0 {
		t.Fatalf("serve exited with %d after a graceful stop:\n%s", got, logs.String())
	}
	for _, f := range []string{"eprom.db", "secret", "audit.log"} {
		st, err := os.Stat(filepath.Join(data, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, st.Mode(), err)
		}
	}

	startServe(t, addr, args...)
	status, again := api(t, "GET", "http://"+addr+"/api/v1/orders/"+id, "")
	if status != 200 || again["code"] != code || again["status"] != "ordered" {
		t.Fatalf("after restart: %d %v, want code %s", status, again, code)
	}
	if strings.Contains(logs.String(), code) || strings.Contains(logs.String(), "p-1") {
		t.Error("the log holds the code or the patient reference")
	}
}

func TestServeRefusesBadConfiguration(t *testing.T) {
	data := t.TempDir()
	short := filepath.Join(data, "short-secret")
	os.WriteFile(short, []byte("too short"), 0o600)
	// Files and a folder open to others (as cp or an editor may leave them).
	loose := filepath.Join(data, "loose-secret")
	os.WriteFile(loose, bytes.Repeat([]byte{7}, 32), 0o600)
	os.Chmod(loose, 0o644)
	looseKeys := filepath.Join(data, "loose-keys.pem")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	os.WriteFile(looseKeys, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	os.Chmod(looseKeys, 0o640)
	openData := filepath.Join(data, "open")
	os.Mkdir(openData, 0o700)
	os.Chmod(openData, 0o755)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no API token", nil, nil, "EPROM_API_TOKENS: no API token"},
		{"a short API token", []string{"-api-tokens", "registry:short"}, nil, "shorter than 16"},
		{"a bad address", []string{"-api-tokens", testToken, "-addr", "8080"}, nil, "EPROM_ADDR"},
		{"a busy port", []string{"-api-tokens", testToken, "-addr", busy.Addr().String()}, nil, "EPROM_ADDR: cannot listen"},
		{"a bad public URL", []string{"-api-tokens", testToken, "-public-url", "eprom.example.no"}, nil, "EPROM_PUBLIC_URL"},
		{"an unknown store", []string{"-api-tokens", testToken, "-store", "postgres://x"}, nil, "EPROM_STORE"},
		{"a short secret", []string{"-api-tokens", testToken, "-secret-file", short}, nil, "EPROM_SECRET_FILE"},
		{"a secret others may read", []string{"-api-tokens", testToken, "-secret-file", loose}, nil,
			"EPROM_SECRET_FILE: " + loose + " is open to its group or others (mode 0644); only the service's user may read it: chmod 600 " + loose},
		{"a keys file its group may read", []string{"-api-tokens", testToken, "-signing-keys-file", looseKeys}, nil, "chmod 600 " + looseKeys},
		{"a data folder others may enter", []string{"-api-tokens", testToken, "-data", openData}, nil, "EPROM_DATA: " + openData + " is open to its group or others (mode 0755)"},
		{"a delivery timeout too short", []string{"-api-tokens", testToken, "-delivery-timeout", "5ms"}, nil, "EPROM_DELIVERY_TIMEOUT: \"5ms\" is not a duration from 100ms to 10m"},
		{"a missing secret file", []string{"-api-tokens", testToken, "-secret-file", filepath.Join(data, "nope")}, nil, "EPROM_SECRET_FILE"},
		{"a missing schemas folder", []string{"-api-tokens", testToken, "-schemas", filepath.Join(data, "nope")}, nil, "EPROM_SCHEMAS"},
		{"a broken schemas folder", []string{"-api-tokens", testToken, "-schemas", "../../schemas/testdata/broken"}, nil, "EPROM_SCHEMAS"},
		{"a bad trusted proxy", []string{"-api-tokens", testToken, "-trusted-proxies", "10.0.0.0/33"}, nil, "EPROM_TRUSTED_PROXIES"},
		{"tokens twice", []string{"-api-tokens", testToken}, map[string]string{"EPROM_API_TOKENS_FILE": "/x"}, "both set"},
		{"an unreadable tokens file", nil, map[string]string{"EPROM_API_TOKENS_FILE": filepath.Join(data, "nope")}, "EPROM_API_TOKENS_FILE"},
		{"a stray argument", []string{"-api-tokens", testToken, "extra"}, nil, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := append([]string{"serve", "-data", filepath.Join(data, "d"), "-addr", freeAddr(t)}, tt.args...)
			var stderr bytes.Buffer
			code := run(context.Background(), args, io.Discard, &stderr)
			out := strings.TrimSpace(stderr.String())
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if strings.Count(out, "\n") != 0 || !strings.HasPrefix(out, "eprom: ") || !strings.Contains(out, tt.want) {
				t.Errorf("stderr %q, want one line with %q", out, tt.want)
			}
		})
	}
}

func TestConfigPrecedence(t *testing.T) {
	env := map[string]string{"EPROM_ADDR": "127.0.0.1:9000", "EPROM_DATA": "/env/data", "EPROM_API_TOKENS": testToken}
	getenv := func(k string) string { return env[k] }
	cfg, err := parseConfig("serve", []string{"-data", "/flag/data"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9000" || cfg.Data != "/flag/data" || cfg.PublicURL != "http://localhost:8080" || cfg.Store != "bolt" {
		t.Errorf("got %+v: want the env's addr, the flag's data and the default public URL", cfg)
	}
}

func TestServeAPITokensFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens")
	os.WriteFile(file, []byte("# tokens\n"+testToken+"\n"), 0o600)
	t.Setenv("EPROM_API_TOKENS_FILE", file)
	addr := freeAddr(t)
	startServe(t, addr, "-data", filepath.Join(dir, "data"))
	if status, m := api(t, "GET", "http://"+addr+"/api/v1/questionnaires", ""); status != 200 {
		t.Errorf("%d %v", status, m)
	}
}
