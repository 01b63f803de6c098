// Command registry-sink is the reference registry-core receiver: it
// verifies every signed envelope against the service's JWKS, refuses bad
// signatures, de-duplicates by envelope id and appends what it accepts to
// a JSONL file, synced before it answers.
//
//	registry-sink --jwks http://localhost:8080/.well-known/jwks.json --listen 127.0.0.1:9090 --out envelopes.jsonl
//
// Point the service at it with EPROM_REGISTRY_URL=http://127.0.0.1:9090/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"eprom/web/sink"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("registry-sink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jwks := fs.String("jwks", "", "URL of the service's JWKS (required), e.g. http://localhost:8080/.well-known/jwks.json")
	listen := fs.String("listen", "127.0.0.1:9090", "address to listen on")
	out := fs.String("out", "envelopes.jsonl", "JSONL file the verified envelopes are appended to")
	token := fs.String("token", os.Getenv("SINK_TOKEN"), "bearer token to require (SINK_TOKEN)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *jwks == "" {
		fmt.Fprintln(stderr, "registry-sink: --jwks is required")
		return 2
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	s, err := sink.Open(sink.Config{Keys: sink.FetchJWKS(*jwks, nil), Out: *out, Token: *token, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "registry-sink: %v\n", err)
		return 1
	}
	defer s.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "registry-sink: %v\n", err)
		return 1
	}
	mux := http.NewServeMux()
	mux.Handle("/", s)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	logger.Info("listening", "addr", ln.Addr().String(), "out", *out)
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "registry-sink: %v\n", err)
		return 1
	}
	return 0
}
