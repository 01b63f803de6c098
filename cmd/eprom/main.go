// Command eprom is the ePROM service: the server and its admin subcommands.
//
//	eprom serve                 run the service
//	eprom demo                  run it with demo codes, no configuration
//	eprom schemas check [DIR]   check questionnaire definitions
//	eprom schemas import ...    map FHIR R4 Questionnaires to definitions
//	eprom queue ...             look at and re-drive the outbox
//	eprom keys rotate|list      manage the signing keys
//	eprom version               print the version
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	_ "time/tzdata" // dates are shown in Europe/Oslo, also where the system has no zone files

	"eprom/questionnaire"
)

// version is stamped by `make build` with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: eprom <command> [arguments]

commands:
  serve                 run the service (eprom serve -h lists its settings)
  demo                  run the whole service with demo codes and no configuration
  schemas check [DIR]   check the shipped questionnaire definitions, or those in DIR
  schemas import [-out DIR] [-lenient] FILE...
                        map FHIR R4 Questionnaires to definitions, with a report
  queue stats|list|dead|retry ID [-data DIR]
                        the outbox of a data folder, stopped or running
  keys rotate|list [-data DIR | -file PATH]
                        a new signing key; the old ones stay published
  version               print the version
`

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// gcPercent is the collector's target (GOGC) when the environment sets
// none. The service's live heap is small and what a request allocates is
// garbage when it ends: letting the heap grow to 3 times the live heap
// between collections, rather than Go's 2, saves about a tenth of the
// server's CPU under load for about 12 MB more with 10,000 open drafts
// (make bench; 300 and 400 saved little more, and 400 went past the
// 100 MB budget). GOGC and GOMEMLIMIT in the environment still rule.
const gcPercent = 200

// randomWord returns n random symbols of the code alphabet.
func randomWord(n int) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(questionnaire.NewCode())
	}
	return b.String()[:n]
}

// run runs one command and returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "schemas":
		return runSchemas(args[1:], stdout, stderr)
	case "queue":
		return runQueue(ctx, args[1:], stdout, stderr)
	case "keys":
		return runKeys(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "eprom", version)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "eprom: unknown command %q\n\n%s", args[0], usage)
	return 2
}
