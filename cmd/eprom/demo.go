package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"eprom/questionnaire"
)

// demoForms are ordered when the demo starts, one code each.
var demoForms = []struct{ id, lang string }{
	{"kvarus-maalepunkt", "nb"},
	{"kvarus-erfaring", "nb"},
	{"audit", "en"},
}

// demoHemitForms are the demo client's HEMIT form GUIDs (made up).
var demoHemitForms = []struct{ guid, ref string }{
	{"1bc5f9f0-2607-49eb-94f0-6af955bbd79a", "audit"},
	{"d0d1700d-0000-4000-8000-00000000d0d1", "dudit"},
	{"4a7e0000-0000-4000-8000-00000000a001", "kvarus-maalepunkt"},
}

// runDemo runs `eprom demo`: the whole service with no configuration, on a
// data folder of its own that is removed on exit, with a printed API token
// and a few demo codes.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eprom demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	keep := fs.String("data", "", "data folder to use and keep (default: a new temporary one, removed on exit)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	data := *keep
	if data == "" {
		dir, err := os.MkdirTemp("", "eprom-demo-")
		if err != nil {
			fmt.Fprintf(stderr, "eprom: demo: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
		data = dir
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "eprom: demo: -addr %q is not host:port\n", *addr)
		return 1
	}
	if host == "127.0.0.1" || host == "" {
		host = "localhost"
	}
	token := "demo-" + strings.ToLower(randomWord(24))
	cfg := DefaultConfig()
	cfg.Addr, cfg.Data, cfg.PublicURL, cfg.APITokens, cfg.demo = *addr, data, "http://"+net.JoinHostPort(host, port), "demo:"+token, true
	// Deliveries go to the built-in receiver, over HTTP as to a registry.
	cfg.RegistryURL = "http://" + net.JoinHostPort("127.0.0.1", port) + "/demo/registry"
	cfg.maxBackoff = 10 * time.Second
	// HEMIT's API too: callbacks to the built-in receiver, as to an MRS
	// registry's ApiBaseUrl.
	hemitKey := "demo-hemit-" + strings.ToLower(randomWord(20))
	cfg.demoHemit = &questionnaire.Hemit{APIKey: hemitKey, APIBaseURL: "http://" + net.JoinHostPort("127.0.0.1", port) + "/demo",
		Forms: map[string]string{}}
	for _, f := range demoHemitForms {
		cfg.demoHemit.Forms[f.guid] = f.ref
	}

	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc, err := openService(cfg, logger)
	if err != nil {
		fmt.Fprintf(stderr, "eprom: demo: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		svc.Close()
		fmt.Fprintf(stderr, "eprom: demo: cannot listen on %s (%v); try eprom demo -addr 127.0.0.1:8081\n", cfg.Addr, errors.Unwrap(err))
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, ln) }()

	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "ePROM demo: data in %s\n\n", data)
	fmt.Fprintf(stdout, "  Patient pages  %s/\n", cfg.PublicURL)
	fmt.Fprintf(stdout, "  API token      %s\n", token)
	fmt.Fprintf(stdout, "                 curl -H 'Authorization: Bearer %s' %s/api/v1/questionnaires\n\n", token, base)
	fmt.Fprintf(stdout, "  Demo codes (type one at %s/, or open its link on a phone-sized window):\n", cfg.PublicURL)
	for _, f := range demoForms {
		code, url, err := demoOrder(base, token, f.id, f.lang)
		if err != nil {
			fmt.Fprintf(stderr, "eprom: demo: ordering %s: %v\n", f.id, err)
			continue
		}
		fmt.Fprintf(stdout, "    %-18s %s  %s\n", f.id, code, url)
	}
	fmt.Fprintf(stdout, "\n  What arrives at the registry: %s/demo/registry\n", cfg.PublicURL)
	fmt.Fprintf(stdout, "\n  HEMIT's API     key %s (as an MRS registry orders), forms:\n", hemitKey)
	for _, f := range demoHemitForms {
		fmt.Fprintf(stdout, "                   %s  %s\n", f.guid, f.ref)
	}
	fmt.Fprintf(stdout, "                 curl -H 'Authorization: Basic %s' -H 'Content-Type: application/json' \\\n"+
		"                   -d '{\"formId\": \"%s\", \"nationalId\": \"26073941651\", \"distributionRule\": \"NoDistribution\"}' %s/api/v2/formorder\n",
		hemitKey, demoHemitForms[0].guid, base)
	fmt.Fprintf(stdout, "                 the callbacks it receives: %s/demo/hemit\n", cfg.PublicURL)
	fmt.Fprintf(stdout, "\nPress Ctrl+C to stop.\n")
	if err := <-done; err != nil {
		fmt.Fprintf(stderr, "eprom: demo: %v\n", err)
		return 1
	}
	return 0
}

// demoOrder orders a questionnaire through the API, as a registry would.
func demoOrder(base, token, id, lang string) (code, url string, err error) {
	body := fmt.Sprintf(`{"questionnaire": %q, "patientRef": "demo-patient", "language": %q, "ttl": "7d"}`, id, lang)
	req, _ := http.NewRequest("POST", base+"/api/v1/orders", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	var out struct{ Code, URL string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		return "", "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return out.Code, out.URL, nil
}
