package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"eprom/locales"
	"eprom/questionnaire"
	"eprom/questionnaire/fhir"
	"eprom/schemas"
	"eprom/store"
	"eprom/store/bolt"
	"eprom/store/delivery"
	redisstore "eprom/store/redis"
	"eprom/store/signing"
	"eprom/web"
	"eprom/web/sink"

	"github.com/go-jose/go-jose/v4"
)

// sweepInterval is how often open orders past their expiry are closed.
const sweepInterval = 30 * time.Second

// runServe runs `eprom serve` until ctx is cancelled (SIGINT, SIGTERM).
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig("eprom serve", args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "eprom: %v\n", err)
		return 1
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	svc, err := openService(cfg, logger)
	if err != nil {
		fmt.Fprintf(stderr, "eprom: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		svc.Close()
		fmt.Fprintf(stderr, "eprom: EPROM_ADDR: cannot listen on %s: %v\n", cfg.Addr, errors.Unwrap(err))
		return 1
	}
	if err := svc.Run(ctx, ln); err != nil {
		logger.Error("stopped", "err", err.Error())
		return 1
	}
	return 0
}

// service is the assembled server: store, web layer and background work.
type service struct {
	cfg         Config
	logger      *slog.Logger
	clients     atomic.Pointer[questionnaire.Clients]
	hup         chan os.Signal // SIGHUP: read the clients file again
	orders      store.Orders
	patients    store.Patients
	limits      store.Limits
	redis       *redisstore.Store // nil on the embedded store
	queue       *bolt.Queue
	submissions *store.Submissions
	keys        *signing.Keyring
	worker      *delivery.Worker
	web         *web.Server
	closer      []io.Closer
	clock       *clockGuard // notices steps of the wall clock
}

// openService builds everything `serve` needs from the configuration. Its
// errors are one line that names the setting or file at fault.
func openService(cfg Config, logger *slog.Logger) (*service, error) {
	// SIGHUP is caught from the start: one sent while the service opens
	// must not end it.
	svc := &service{cfg: cfg, logger: logger, hup: make(chan os.Signal, 1), clock: newClockGuard()}
	signal.Notify(svc.hup, syscall.SIGHUP)
	ok := false
	defer func() {
		if !ok {
			svc.Close()
		}
	}()
	redisMode := cfg.Store != "bolt"
	if redisMode && cfg.SecretFile == "" {
		return nil, errors.New("EPROM_SECRET_FILE: required with EPROM_STORE=redis://…: every replica must find every code, so they share one secret (head -c 32 /dev/urandom > secret)")
	}
	if redisMode && cfg.SigningKeysFile == "" {
		return nil, errors.New("EPROM_SIGNING_KEYS_FILE: required with EPROM_STORE=redis://…: every replica must publish the same keys (openssl genpkey -algorithm ed25519 -out signing-keys.pem)")
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("EPROM_DATA: %w", err)
	}

	if err := private("EPROM_DATA", cfg.Data); err != nil {
		return nil, err
	}
	secretPath, generate := cfg.SecretFile, false
	if secretPath == "" {
		secretPath, generate = filepath.Join(cfg.Data, "secret"), true
	}
	secret, err := store.LoadSecret(secretPath, generate)
	if err != nil {
		return nil, fmt.Errorf("EPROM_SECRET_FILE: %w", err)
	}
	if err := private("EPROM_SECRET_FILE", secretPath); err != nil {
		return nil, err
	}
	secrets, err := store.NewSecrets(secret)
	if err != nil {
		return nil, fmt.Errorf("EPROM_SECRET_FILE: %w", err)
	}

	folders := []fs.FS{schemas.Shipped()}
	if cfg.Schemas != "" {
		if st, err := os.Stat(cfg.Schemas); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("EPROM_SCHEMAS: %s is not a folder", cfg.Schemas)
		}
		folders = append(folders, os.DirFS(cfg.Schemas))
	}
	// A FHIR Questionnaire in the folder is imported; its report is logged.
	cat, err := schemas.LoadReporting(func(file string, f fhir.Finding) {
		logger.Info("FHIR import", "file", file, "path", f.Path, "what", f.What, "why", f.Why)
	}, folders...)
	if err != nil {
		return nil, fmt.Errorf("EPROM_SCHEMAS: %w (run `eprom schemas check` on the folder for every problem)", firstLine(err))
	}

	clients, err := cfg.loadClients()
	if err != nil {
		return nil, err
	}
	if err := clients.CheckForms(cat, locales.Languages); err != nil {
		return nil, fmt.Errorf("EPROM_CLIENTS_FILE: %s: %s", cfg.ClientsFile, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	svc.clients.Store(clients)
	loc, err := locales.New()
	if err != nil {
		return nil, err
	}

	keysPath, generate := cfg.SigningKeysFile, false
	if keysPath == "" {
		keysPath, generate = filepath.Join(cfg.Data, "signing-keys.pem"), true
	}
	keys, err := signing.Load(keysPath, generate)
	if err != nil {
		return nil, fmt.Errorf("EPROM_SIGNING_KEYS_FILE: %w", err)
	}
	if err := private("EPROM_SIGNING_KEYS_FILE", keysPath); err != nil {
		return nil, err
	}
	keys.OnReloadError(func(err error) {
		if d := (*signing.DroppedError)(nil); errors.As(err, &d) {
			logger.Warn("signing keys: "+d.Error(), "kids", d.IDs)
			return
		}
		logger.Error("signing keys: the changed file is not used; the keys read before still sign", "err", err.Error())
	})
	svc.keys = keys

	db, err := bolt.Open(filepath.Join(cfg.Data, "eprom.db"), secrets)
	if err != nil {
		return nil, fmt.Errorf("EPROM_DATA: %w", err)
	}
	svc.orders, svc.patients, svc.limits, svc.queue = db, db, store.NewMemoryLimits(), db.Queue()
	svc.closer = append(svc.closer, db)
	if err := keysCover(svc.queue, keys, keysPath); err != nil {
		return nil, err
	}
	if redisMode {
		if warning := redisWarning(cfg.Store); warning != "" {
			logger.Warn(warning)
		}
		rs, err := redisstore.Open(context.Background(), cfg.Store, "eprom:", secrets, db.Queue())
		if err != nil {
			return nil, fmt.Errorf("EPROM_STORE: %w", err)
		}
		svc.closer = append(svc.closer, rs)
		svc.orders, svc.patients, svc.limits, svc.redis = rs, rs, rs, rs
	}
	svc.submissions = &store.Submissions{Orders: svc.orders, Queue: svc.queue, Signer: keys,
		Report: web.HemitReporter(svc.clients.Load, cat)}
	svc.warnStranded(clients)

	svc.worker, err = delivery.New(delivery.Config{
		Queue:  svc.queue,
		Routes: svc.route,
		Done: func(ctx context.Context, m *store.Message, now time.Time) error {
			return svc.submissions.Delivered(ctx, m.ID, delivery.Holder, "", now)
		},
		MaxBackoff: cfg.maxBackoff, Concurrency: cfg.workers, Timeout: cfg.attemptTTL, Logger: logger,
	})
	if err != nil {
		return nil, err
	}

	auditFile, err := os.OpenFile(filepath.Join(cfg.Data, "audit.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("EPROM_DATA: audit log: %w", err)
	}
	svc.closer = append(svc.closer, auditFile)

	var demoRegistry web.DemoRegistry
	if cfg.demo {
		source := func(ctx context.Context, refresh bool) (*jose.JSONWebKeySet, error) {
			set := keys.JWKS(nil, time.Now())
			return &set, nil
		}
		r, err := sink.Open(sink.Config{Keys: source, Out: filepath.Join(cfg.Data, "demo-registry.jsonl"), Logger: logger})
		if err != nil {
			return nil, err
		}
		svc.closer = append(svc.closer, r)
		demoRegistry = demoSink{r}
	}
	var shared store.SharedLeases
	if svc.redis != nil {
		shared = svc.redis
	}
	svc.web, err = web.New(web.Config{
		PublicURL:      cfg.PublicURL,
		Clients:        svc.clients.Load,
		Catalogue:      cat,
		Orders:         svc.orders,
		Patients:       svc.patients,
		Limits:         svc.limits,
		Links:          secrets,
		Queue:          svc.queue,
		Submissions:    svc.submissions,
		SharedLeases:   shared,
		Keys:           keys,
		Locales:        loc,
		Demo:           cfg.demo,
		DemoRegistry:   demoRegistry,
		Clinic:         cfg.demoClinic,
		Delivery:       svc.worker,
		Logger:         logger,
		Audit:          slog.New(slog.NewJSONHandler(auditFile, nil)).With("log", "audit"),
		TrustedProxies: splitList(cfg.TrustedProxies),
	})
	if err != nil {
		return nil, fmt.Errorf("EPROM_PUBLIC_URL: %w", err)
	}
	// A write waits for others to share its commit only while requests
	// that could join it are being handled.
	db.SetBusy(svc.web.InFlight)
	ok = true
	return svc, nil
}

// route says where the worker pushes a message: an envelope goes to its
// client's registry, as the clients are configured now.
func (s *service) route(kind, destination string) (delivery.Route, bool) {
	c := s.clients.Load().Get(destination)
	switch {
	case c == nil:
		return delivery.Route{}, false
	case kind == store.KindEnvelope && c.RegistryURL != "":
		return delivery.Route{URL: c.RegistryURL, Token: c.RegistryToken}, true
	case kind == store.KindHemit && c.Hemit != nil:
		return web.HemitRoute(c.Hemit), true
	}
	return delivery.Route{}, false
}

// warnStranded warns of envelopes waiting for a destination that no client
// has: from EPROM_API_TOKENS to a clients file, keep the id "default".
func (s *service) warnStranded(clients *questionnaire.Clients) {
	st, err := s.queue.Stats(context.Background(), time.Now())
	if err != nil {
		s.logger.Warn("outbox stats", "err", err.Error())
		return
	}
	for dest, n := range st.ByDestination {
		if clients.Get(dest) == nil {
			s.logger.Warn("envelopes wait for a client that is not configured; add it to the clients file (the one of EPROM_API_TOKENS is \"default\")",
				"destination", dest, "envelopes", n)
		}
	}
}

// reloadClients reads the clients again (SIGHUP). A file that does not
// parse leaves the clients in use as they were.
func (s *service) reloadClients() {
	clients, err := s.cfg.loadClients()
	if err == nil {
		err = clients.CheckForms(s.web.Catalogue(), locales.Languages)
	}
	if err != nil {
		s.logger.Error("reload: the clients file is not used; the clients read before stay", "err", strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	s.clients.Store(clients)
	s.logger.Info("reload: clients read", "clients", len(clients.List()))
	s.warnStranded(clients)
}

// private refuses a data folder, secret or key file that its group or
// others may read or change: it holds health data and the keys that seal
// and sign it. The one line says which file and what fixes it.
func private(setting, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", setting, err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		fix := "600"
		if st.IsDir() {
			fix = "700"
		}
		return fmt.Errorf("%s: %s is open to its group or others (mode %04o); only the service's user may read it: chmod %s %s",
			setting, path, perm, fix, path)
	}
	return nil
}

// demoSink shows the reference receiver to the demo's registry page.
type demoSink struct{ *sink.Sink }

func (d demoSink) Arrived() []web.Arrival {
	var out []web.Arrival
	for _, r := range d.Recent() {
		out = append(out, web.Arrival{ReceivedAt: r.ReceivedAt, KeyID: r.KeyID, Envelope: r.Envelope})
	}
	return out
}

// redisWarning warns of a Redis URL with no password and no TLS: the
// sessions and sealed records of patients go to it, and anyone who reaches
// it could delete them.
func redisWarning(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if _, hasPassword := u.User.Password(); hasPassword || u.Scheme == "rediss" {
		return ""
	}
	return "EPROM_STORE: Redis is reached with no password and no TLS (rediss://); anyone who can reach it can read sessions and delete orders"
}

// Run serves on ln and sweeps expired orders until ctx is cancelled, then
// shuts down gracefully: running requests get up to 10 seconds.
func (s *service) Run(ctx context.Context, ln net.Listener) error {
	defer s.Close()
	s.logger.Info("listening", "addr", ln.Addr().String(), "public_url", s.cfg.PublicURL, "store", redacted(s.cfg.Store))

	var wg sync.WaitGroup
	bgCtx, stopBackground := context.WithCancel(context.Background())
	wg.Go(func() { s.sweep(bgCtx) })
	wg.Go(func() { s.worker.Run(bgCtx) })
	wg.Go(func() {
		for {
			select {
			case <-bgCtx.Done():
				return
			case <-s.hup:
				s.reloadClients()
			}
		}
	})

	served := make(chan error, 1)
	go func() { served <- s.web.App().Listener(ln) }()
	if admin, err := listenAdmin(s.cfg.Data); err != nil {
		s.logger.Warn("no admin socket; eprom queue works only while stopped", "err", err.Error())
	} else {
		adminSrv := &http.Server{Handler: adminHandler(s.queue), ReadHeaderTimeout: 5 * time.Second}
		go adminSrv.Serve(admin)
		defer adminSrv.Close()
	}

	var err error
	select {
	case <-ctx.Done():
		s.logger.Info("shutting down")
		shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = s.web.Shutdown(shutCtx)
		cancel()
		// A stop that came before the server began to accept would leave
		// it serving: Shutdown closes only the listeners it has seen.
		ln.Close()
		<-served
	case err = <-served:
	}
	stopBackground()
	wg.Wait()
	s.logger.Info("stopped")
	return err
}

// sweep closes open orders past their expiry, settles deliveries and
// prepared messages, and purges what has outlived its use, now and every
// sweepInterval.
func (s *service) sweep(ctx context.Context) {
	every := s.cfg.sweepEvery
	if every == 0 {
		every = sweepInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.checkClock(ctx)
		now := time.Now()
		if _, err := s.submissions.SettleDeliveries(ctx); err != nil {
			s.logger.Warn("sweep: settle deliveries", "err", err.Error())
		}
		if s.redis != nil {
			s.applyRemoteAcks(ctx)
			// Messages left prepared by a crash, or by a Redis that
			// failed mid-answer, a minute or more ago.
			if c, d, err := s.queue.Recover(ctx, now.Add(-time.Minute), s.submissions.ClosedWith); err != nil {
				s.logger.Warn("sweep: recover prepared envelopes", "err", err.Error())
			} else if c+d > 0 {
				s.logger.Info("prepared envelopes settled", "confirmed", c, "discarded", d)
			}
		}
		expired, err := s.submissions.Expire(ctx, now)
		if err != nil {
			s.logger.Error("sweep: expire orders", "err", err.Error())
		}
		if len(expired) > 0 {
			s.logger.Info("orders expired", "count", len(expired))
			s.web.Expired(len(expired))
		}
		for _, purge := range []struct {
			what string
			fn   func(context.Context, time.Time) (int, error)
		}{
			{"sessions", s.patients.PurgeSessions},
			{"tombstones", s.queue.PurgeTombstones},
			{"orders", s.orders.PurgeOrders},
			// Failure counts live 15 minutes at the most; an hour is plenty.
			{"limits", func(ctx context.Context, now time.Time) (int, error) {
				return s.limits.PurgeLimits(ctx, now.Add(-time.Hour))
			}},
		} {
			if _, err := purge.fn(ctx, now); err != nil {
				s.logger.Error("sweep: purge "+purge.what, "err", err.Error())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close releases the store and files, last opened first.
func (s *service) Close() {
	signal.Stop(s.hup)
	for i := len(s.closer) - 1; i >= 0; i-- {
		if err := s.closer[i].Close(); err != nil {
			s.logger.Warn("close", "err", err.Error())
		}
	}
	s.closer = nil
}

// applyRemoteAcks applies the acks that the registry gave through another
// replica for envelopes this replica holds (pull behind a balancer). Only
// envelopes a pull has leased can have one.
func (s *service) applyRemoteAcks(ctx context.Context) {
	msgs, err := s.queue.Messages(ctx, false, math.MaxInt)
	if err != nil {
		s.logger.Warn("sweep: remote acks", "err", err.Error())
		return
	}
	var ids []string
	for _, m := range msgs {
		if strings.HasPrefix(m.LeaseHolder, web.PullHolder("")) {
			ids = append(ids, m.ID)
		}
	}
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 500)]
		ids = ids[len(batch):]
		acks, err := s.redis.Acks(ctx, batch)
		if err != nil {
			s.logger.Warn("sweep: remote acks", "err", err.Error())
			return
		}
		for id, a := range acks {
			err := s.submissions.Delivered(ctx, id, a.Holder, a.Destination, a.At)
			switch questionnaire.ErrorCode(err) {
			case "":
			case questionnaire.ENOTFOUND, questionnaire.ELEASE:
				// Not this holder's to ack any more (leased again since):
				// it is delivered again, and the registry keeps it once.
				if err := s.redis.ForgetAck(ctx, id); err != nil {
					s.logger.Warn("sweep: forget a remote ack", "submission", id, "err", err.Error())
				}
			default:
				s.logger.Warn("sweep: apply a remote ack", "submission", id, "err", err.Error())
			}
		}
	}
}

// redacted hides a password in a store URL, for logs and messages.
func redacted(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(a store URL that does not parse)"
}

// firstLine returns an error's first line as an error.
func firstLine(err error) error {
	msg := err.Error()
	for i := range len(msg) {
		if msg[i] == '\n' {
			return errors.New(msg[:i])
		}
	}
	return err
}

// keysCover refuses a keys file that lacks a key which signed envelopes
// still waiting: the registry could not verify them once it is no longer
// published.
func keysCover(q *bolt.Queue, keys *signing.Keyring, path string) error {
	used, err := q.KeysInUse(context.Background())
	if err != nil {
		return fmt.Errorf("EPROM_DATA: %w", err)
	}
	have := keys.Keys()
	var missing []string
	for kid, n := range used {
		if !slices.ContainsFunc(have, func(k signing.Key) bool { return k.ID == kid }) {
			missing = append(missing, fmt.Sprintf("%s (%d envelopes)", kid, n))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return fmt.Errorf("EPROM_SIGNING_KEYS_FILE: %s lacks the keys that signed envelopes still waiting for delivery: %s; "+
		"put them back in the file, marked \"# retired: <time>\", so that registries can verify them", path, strings.Join(missing, ", "))
}
