package main

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// rss reads a process's resident set size from /proc, in bytes.
func rss(t *testing.T, pid int) int64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}

// TestDecompressionBombKeepsMemory: five bodies of gzip(gzip(300 MiB)),
// under a kilobyte each, sent to the order API of the `eprom serve`
// binary with a valid token, are refused with 415 and the process grows by
// less than 50 MB (it grew by 1.2 GB when fiber decoded them).
func TestDecompressionBombKeepsMemory(t *testing.T) {
	var inner bytes.Buffer
	zi, _ := gzip.NewWriterLevel(&inner, gzip.BestCompression)
	zi.Write([]byte(`{"questionnaire": "audit", "patientRef": "`))
	spaces := bytes.Repeat([]byte(" "), 1<<20)
	for range 300 {
		zi.Write(spaces)
	}
	zi.Write([]byte(`"}`))
	zi.Close()
	var bomb bytes.Buffer
	zo, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zo.Write(inner.Bytes())
	zo.Close()

	addr := freeAddr(t)
	p := newProc(t, "eprom", addr, []string{"EPROM_ADDR=" + addr, "EPROM_DATA=" + filepath.Join(t.TempDir(), "data"), "EPROM_API_TOKENS=" + testToken}, "serve")
	p.start()
	pid := p.cmd.Process.Pid
	before := rss(t, pid)
	for range 5 {
		req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/orders", bytes.NewReader(bomb.Bytes()))
		req.Header.Set("Authorization", "Bearer "+strings.SplitN(testToken, ":", 2)[1])
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "gzip, gzip")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("a %d-byte bomb: %d, want 415", bomb.Len(), resp.StatusCode)
		}
	}
	if grown := rss(t, pid) - before; grown > 50<<20 {
		t.Errorf("five refused bombs of %d bytes grew the process by %d MB", bomb.Len(), grown>>20)
	}
}
