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
	"strconv"
	"strings"
	"time"

	"eprom/questionnaire"
	"eprom/web"

	"github.com/skip2/go-qrcode"
)

// demoForms are ordered when the demo starts, one code each: every
// shipped form.
var demoForms = []struct{ id, lang string }{
	{"kvarus-maalepunkt", "nb"},
	{"kvarus-erfaring", "nb"},
	{"dudit", "nb"},
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
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on; 0.0.0.0:8080 lets phones on the same network in")
	publicURL := fs.String("public-url", "", "the address patients use (default: http://localhost:PORT, or this machine's LAN address when listening on all interfaces)")
	noQR := fs.Bool("no-qr", false, "do not print the demo codes' QR codes")
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
	_, port, err := net.SplitHostPort(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "eprom: demo: -addr %q is not host:port\n", *addr)
		return 1
	}
	public, err := demoPublicURL(*addr, *publicURL, lanAddress)
	if err != nil {
		fmt.Fprintf(stderr, "eprom: demo: %v\n", err)
		return 1
	}
	token := "demo-" + strings.ToLower(randomWord(24))
	cfg := DefaultConfig()
	cfg.Addr, cfg.Data, cfg.PublicURL, cfg.APITokens, cfg.demo = *addr, data, public, "demo:"+token, true
	// Deliveries go to the built-in receiver, over HTTP as to a registry.
	cfg.RegistryURL = "http://" + net.JoinHostPort("127.0.0.1", port) + "/demo/registry"
	cfg.maxBackoff = 10 * time.Second
	// The training patient page orders through the API, as a registry.
	cfg.demoClinic = &web.DemoClinic{API: "http://" + net.JoinHostPort("127.0.0.1", port), Token: token}
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

	// What this machine's own curl reaches: the listening address, or
	// loopback when that is every interface.
	base := "http://" + ln.Addr().String()
	if a, ok := ln.Addr().(*net.TCPAddr); ok && a.IP.IsUnspecified() {
		base = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port))
	}
	fmt.Fprintf(stdout, "ePROM demo: data in %s\n\n", data)
	fmt.Fprintf(stdout, "  Patient pages  %s/\n", cfg.PublicURL)
	fmt.Fprintf(stdout, "  Clinic         %s/demo/clinic  (training: order for a made-up patient, hand over the code, read the results)\n", cfg.PublicURL)
	fmt.Fprintf(stdout, "  API token      %s\n", token)
	fmt.Fprintf(stdout, "                 curl -H 'Authorization: Bearer %s' %s/api/v1/questionnaires\n\n", token, base)
	fmt.Fprintf(stdout, "  Demo codes (type one at %s/, or open its link on a phone-sized window):\n", cfg.PublicURL)
	var codes []demoCode
	for _, f := range demoForms {
		code, url, err := demoOrder(base, token, f.id, f.lang)
		if err != nil {
			fmt.Fprintf(stderr, "eprom: demo: ordering %s: %v\n", f.id, err)
			continue
		}
		codes = append(codes, demoCode{f.id, code, url})
		fmt.Fprintf(stdout, "    %-18s %s  %s\n", f.id, code, url)
	}
	fmt.Fprintf(stdout, "  More codes: order them on the clinic page, or curl -H 'Authorization: Bearer %s' -d '{\"questionnaire\": \"audit\", \"patientRef\": \"demo\"}' %s/api/v1/orders\n",
		token, base)
	if strings.Contains(cfg.PublicURL, "://localhost") {
		fmt.Fprintf(stdout, "  (for a phone on the same network: eprom demo -addr 0.0.0.0:%s)\n", port)
	}
	if !*noQR {
		for _, c := range codes {
			fmt.Fprintf(stdout, "\n  %s  %s  %s\n", c.id, c.code, c.url)
			if err := terminalQR(stdout, c.url); err != nil {
				fmt.Fprintf(stderr, "eprom: demo: QR of %s: %v\n", c.id, err)
			}
		}
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

// demoCode is one of the demo's codes.
type demoCode struct{ id, code, url string }

// demoPublicURL is the address the demo's links and QR codes carry: the
// one given; for a loopback address, localhost; when listening on all
// interfaces, this machine's LAN address (lan), so that a phone on the
// same network can open them.
func demoPublicURL(addr, given string, lan func() string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("-addr %q is not host:port", addr)
	}
	if given != "" {
		u, err := web.ParsePublicURL(given)
		if err != nil {
			return "", fmt.Errorf("-public-url: %w", err)
		}
		return strings.TrimSuffix(u.String(), "/"), nil
	}
	switch host {
	case "", "0.0.0.0", "::":
		if ip := lan(); ip != "" {
			return "http://" + net.JoinHostPort(ip, port), nil
		}
		host = "localhost"
	case "127.0.0.1", "::1":
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// lanAddress is this machine's address on its local network: the first
// private IPv4 address of an interface that is up, else any non-loopback
// IPv4 address; "" when there is none.
func lanAddress() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	var other string
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.To4() == nil || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		if ipn.IP.IsPrivate() {
			return ipn.IP.String()
		}
		if other == "" {
			other = ipn.IP.String()
		}
	}
	return other
}

// terminalQR prints a QR code of text with Unicode half blocks, two
// modules a character high, black on white whatever the terminal's
// colours (a phone's camera reads it off the screen).
func terminalQR(w io.Writer, text string) error {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return err
	}
	bits := q.Bitmap() // with its quiet zone
	var b strings.Builder
	for y := 0; y < len(bits); y += 2 {
		b.WriteString("  \x1b[30;47m")
		for x := range bits[y] {
			top, bottom := bits[y][x], y+1 < len(bits) && bits[y+1][x]
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString("\x1b[0m\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
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
