package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"eprom/questionnaire"
	"eprom/store"
	"eprom/store/bolt"
	"eprom/store/signing"
)

// The admin socket: a running service answers `eprom queue` here, in its
// data folder, when the bbolt file is locked. The folder's permissions
// guard it.
const adminSocket = "admin.sock"

// adminHandler serves the queue commands over the admin socket.
func adminHandler(outbox store.Queue) http.Handler {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any, err error) {
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			status := http.StatusInternalServerError
			if questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND {
				status = http.StatusNotFound
			}
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]string{"error": questionnaire.ErrorMessage(err)})
			return
		}
		json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /queue/stats", func(w http.ResponseWriter, r *http.Request) {
		st, err := outbox.Stats(r.Context(), time.Now())
		reply(w, st, err)
	})
	mux.HandleFunc("GET /queue/list", func(w http.ResponseWriter, r *http.Request) {
		subs, err := outbox.Messages(r.Context(), r.URL.Query().Get("dead") == "1", 1000)
		reply(w, subs, err)
	})
	mux.HandleFunc("POST /queue/retry/{id}", func(w http.ResponseWriter, r *http.Request) {
		err := outbox.Redrive(r.Context(), r.PathValue("id"), time.Now())
		reply(w, map[string]string{"id": r.PathValue("id"), "status": "queued"}, err)
	})
	return mux
}

// listenAdmin listens on the admin socket of a data folder.
func listenAdmin(data string) (net.Listener, error) {
	path := filepath.Join(data, adminSocket)
	os.Remove(path) // a socket left by a process that died
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	os.Chmod(path, 0o600)
	return ln, nil
}

// queueClient is where `eprom queue` reads: the file, or the running service.
type queueClient interface {
	stats(ctx context.Context) (store.OutboxStats, error)
	list(ctx context.Context, dead bool) ([]*store.Message, error)
	retry(ctx context.Context, id string) error
}

type fileQueue struct{ s *bolt.Queue }

func (q fileQueue) stats(ctx context.Context) (store.OutboxStats, error) {
	return q.s.Stats(ctx, time.Now())
}
func (q fileQueue) list(ctx context.Context, dead bool) ([]*store.Message, error) {
	return q.s.Messages(ctx, dead, 1000)
}
func (q fileQueue) retry(ctx context.Context, id string) error {
	return q.s.Redrive(ctx, id, time.Now())
}

type socketQueue struct{ client *http.Client }

func (q socketQueue) call(ctx context.Context, method, path string, out any) error {
	req, _ := http.NewRequestWithContext(ctx, method, "http://eprom"+path, nil)
	resp, err := q.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		return errors.New(e.Error)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (q socketQueue) stats(ctx context.Context) (st store.OutboxStats, err error) {
	err = q.call(ctx, "GET", "/queue/stats", &st)
	return st, err
}
func (q socketQueue) list(ctx context.Context, dead bool) (subs []*store.Message, err error) {
	path := "/queue/list"
	if dead {
		path += "?dead=1"
	}
	err = q.call(ctx, "GET", path, &subs)
	return subs, err
}
func (q socketQueue) retry(ctx context.Context, id string) error {
	var out map[string]string
	return q.call(ctx, "POST", "/queue/retry/"+id, &out)
}

// openQueue opens the data folder's outbox, or asks the running service.
func openQueue(data string) (queueClient, func(), error) {
	path := filepath.Join(data, "eprom.db")
	if _, err := os.Stat(path); err != nil {
		return nil, nil, fmt.Errorf("no data folder with an eprom.db at %s", data)
	}
	s, err := bolt.Open(path, nil)
	if err == nil {
		return fileQueue{s.Queue()}, func() { s.Close() }, nil
	}
	if !errors.Is(err, bolt.ErrInUse) {
		return nil, nil, err
	}
	sock := filepath.Join(data, adminSocket)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	return socketQueue{client}, func() {}, nil
}

// runQueue runs `eprom queue stats|list|dead|retry ID [-data DIR]`.
func runQueue(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const usage = "usage: eprom queue stats|list|dead|retry ID [-data DIR]\n"
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	id := ""
	if cmd == "retry" {
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			fmt.Fprint(stderr, usage)
			return 2
		}
		id, rest = rest[0], rest[1:]
	}
	fs := flag.NewFlagSet("eprom queue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr("EPROM_DATA", "./data"), "data folder (EPROM_DATA)")
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	q, done, err := openQueue(*data)
	if err != nil {
		fmt.Fprintf(stderr, "eprom: queue: %v\n", err)
		return 1
	}
	defer done()
	switch cmd {
	case "stats":
		st, err := q.stats(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "eprom: queue: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "depth %d\nleased %d\ndead %d\noldest %s\ndelivered (tombstones) %d\n",
			st.Depth, st.Leased, st.Dead, st.OldestAge.Round(time.Second), st.Delivered)
		for _, dest := range slices.Sorted(maps.Keys(st.ByDestination)) {
			fmt.Fprintf(stdout, "depth for %s %d\n", dest, st.ByDestination[dest])
		}
	case "list", "dead":
		subs, err := q.list(ctx, cmd == "dead")
		if err != nil {
			fmt.Fprintf(stderr, "eprom: queue: %v\n", err)
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tDESTINATION\tORDER\tTYPE\tCREATED\tATTEMPTS\tLAST ERROR")
		for _, s := range subs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", s.ID, s.Destination, s.Ref, s.Label, s.CreatedAt.Format(time.RFC3339), s.Attempts, s.LastError)
		}
		tw.Flush()
	case "retry":
		if err := q.retry(ctx, id); err != nil {
			if msg := questionnaire.ErrorMessage(err); questionnaire.ErrorCode(err) != "" {
				err = errors.New(msg)
			}
			fmt.Fprintf(stderr, "eprom: queue: retry %s: %v\n", id, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s is queued again\n", id)
	default:
		fmt.Fprint(stderr, usage)
		return 2
	}
	return 0
}

// runKeys runs `eprom keys rotate|list [-data DIR | -file PATH]`.
func runKeys(args []string, stdout, stderr io.Writer) int {
	const usage = "usage: eprom keys rotate|list [-data DIR | -file PATH]\n"
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "list") {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("eprom keys", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr("EPROM_DATA", "./data"), "data folder whose signing-keys.pem to use (EPROM_DATA)")
	file := fs.String("file", os.Getenv("EPROM_SIGNING_KEYS_FILE"), "keys file (EPROM_SIGNING_KEYS_FILE)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	path := *file
	if path == "" {
		path = filepath.Join(*data, "signing-keys.pem")
	}
	if args[0] == "rotate" {
		kid, err := signing.Rotate(path, time.Now())
		if err != nil {
			fmt.Fprintf(stderr, "eprom: keys rotate: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "new signing key %s in %s; a running eprom uses it within seconds\n", kid, path)
		return 0
	}
	k, err := signing.Load(path, false)
	if err != nil {
		fmt.Fprintf(stderr, "eprom: keys list: %v\n", err)
		return 1
	}
	for i, key := range k.Keys() {
		state := "published"
		if i == 0 {
			state = "signs"
		} else if !key.RetiredAt.IsZero() {
			state = "retired " + key.RetiredAt.Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "%s  %s\n", key.ID, state)
	}
	return 0
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
