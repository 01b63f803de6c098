package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"eprom/locales"
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
	cfg      Config
	logger   *slog.Logger
	orders   store.Orders
	patients store.Patients
	limits   store.Limits
	redis    *redisstore.Store // nil on the embedded store
	db       *bolt.Store       // the whole store, or the outbox beside Redis
	keys     *signing.Keyring
	worker   *delivery.Worker // nil in pull-only mode
	web      *web.Server
	closer   []io.Closer
}

// openService builds everything `serve` needs from the configuration. Its
// errors are one line that names the setting or file at fault.
func openService(cfg Config, logger *slog.Logger) (*service, error) {
	svc := &service{cfg: cfg, logger: logger}
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

	secretPath, generate := cfg.SecretFile, false
	if secretPath == "" {
		secretPath, generate = filepath.Join(cfg.Data, "secret"), true
	}
	secret, err := store.LoadSecret(secretPath, generate)
	if err != nil {
		return nil, fmt.Errorf("EPROM_SECRET_FILE: %w", err)
	}
	book, err := store.NewCodebook(secret)
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
	cat, err := schemas.Load(folders...)
	if err != nil {
		return nil, fmt.Errorf("EPROM_SCHEMAS: %w (run `eprom schemas check` on the folder for every problem)", firstLine(err))
	}

	rawTokens, err := cfg.apiTokens()
	if err != nil {
		return nil, err
	}
	tokens, err := web.ParseTokens(rawTokens)
	if err != nil {
		return nil, fmt.Errorf("EPROM_API_TOKENS: %w", err)
	}
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
	svc.keys = keys

	db, err := bolt.Open(filepath.Join(cfg.Data, "eprom.db"), book, keys)
	if err != nil {
		return nil, fmt.Errorf("EPROM_DATA: %w", err)
	}
	svc.orders, svc.patients, svc.limits, svc.db = db, db, store.NewMemoryLimits(), db
	svc.closer = append(svc.closer, db)
	if redisMode {
		rs, err := redisstore.Open(context.Background(), cfg.Store, "eprom:", book, db)
		if err != nil {
			return nil, fmt.Errorf("EPROM_STORE: %w", err)
		}
		svc.closer = append(svc.closer, rs)
		svc.orders, svc.patients, svc.limits, svc.redis = rs, rs, rs, rs
		db.SetDelivered(func(ctx context.Context, orderID string, at time.Time) error {
			err := rs.MarkDelivered(ctx, orderID, at)
			if err != nil {
				logger.Warn("delivered, but the order's status could not be updated yet", "err", err.Error())
			}
			return err
		})
	}

	if cfg.RegistryURL != "" {
		token, err := cfg.registryToken()
		if err != nil {
			return nil, err
		}
		svc.worker, err = delivery.New(delivery.Config{Outbox: db, URL: cfg.RegistryURL, Token: token,
			MaxBackoff: cfg.maxBackoff, Concurrency: cfg.workers, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("EPROM_REGISTRY_URL: %w", err)
		}
	}

	auditFile, err := os.OpenFile(filepath.Join(cfg.Data, "audit.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("EPROM_DATA: audit log: %w", err)
	}
	svc.closer = append(svc.closer, auditFile)

	var demoRegistry *sink.Sink
	if cfg.demo {
		source := func(ctx context.Context, refresh bool) (*jose.JSONWebKeySet, error) {
			set := keys.JWKS(nil, time.Now())
			return &set, nil
		}
		demoRegistry, err = sink.Open(sink.Config{Keys: source, Out: filepath.Join(cfg.Data, "demo-registry.jsonl"), Logger: logger})
		if err != nil {
			return nil, err
		}
		svc.closer = append(svc.closer, demoRegistry)
	}
	svc.web, err = web.New(web.Config{
		PublicURL:      cfg.PublicURL,
		Tokens:         tokens,
		Catalogue:      cat,
		Orders:         svc.orders,
		Patients:       svc.patients,
		Limits:         svc.limits,
		Outbox:         db,
		RemoteAcks:     remoteAcks(svc.redis),
		Keys:           keys,
		Locales:        loc,
		Demo:           cfg.demo,
		DemoRegistry:   demoRegistry,
		Delivery:       deliveryCounters(svc.worker),
		Logger:         logger,
		Audit:          slog.New(slog.NewJSONHandler(auditFile, nil)).With("log", "audit"),
		TrustedProxies: splitList(cfg.TrustedProxies),
	})
	if err != nil {
		return nil, fmt.Errorf("EPROM_PUBLIC_URL: %w", err)
	}
	ok = true
	return svc, nil
}

// Run serves on ln and sweeps expired orders until ctx is cancelled, then
// shuts down gracefully: running requests get up to 10 seconds.
func (s *service) Run(ctx context.Context, ln net.Listener) error {
	defer s.Close()
	s.logger.Info("listening", "addr", ln.Addr().String(), "public_url", s.cfg.PublicURL, "store", redacted(s.cfg.Store))

	var wg sync.WaitGroup
	bgCtx, stopBackground := context.WithCancel(context.Background())
	wg.Go(func() { s.sweep(bgCtx) })
	if s.worker != nil {
		wg.Go(func() { s.worker.Run(bgCtx) })
	}

	served := make(chan error, 1)
	go func() { served <- s.web.App().Listener(ln) }()
	if admin, err := listenAdmin(s.cfg.Data); err != nil {
		s.logger.Warn("no admin socket; eprom queue works only while stopped", "err", err.Error())
	} else {
		adminSrv := &http.Server{Handler: adminHandler(s.db), ReadHeaderTimeout: 5 * time.Second}
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
		<-served
	case err = <-served:
	}
	stopBackground()
	wg.Wait()
	s.logger.Info("stopped")
	return err
}

// sweep closes open orders past their expiry, now and every sweepInterval.
func (s *service) sweep(ctx context.Context) {
	every := s.cfg.sweepEvery
	if every == 0 {
		every = sweepInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		now := time.Now()
		if s.redis != nil {
			if _, err := s.db.ReportDeliveries(ctx); err != nil {
				s.logger.Warn("sweep: report deliveries", "err", err.Error())
			}
			s.applyRemoteAcks(ctx, now)
			// Envelopes left prepared by a crash, or by a Redis that
			// failed mid-answer, a minute or more ago.
			if c, d, err := s.db.Recover(ctx, now.Add(-time.Minute), s.redis.ClosedWith); err != nil {
				s.logger.Warn("sweep: recover prepared envelopes", "err", err.Error())
			} else if c+d > 0 {
				s.logger.Info("prepared envelopes settled", "confirmed", c, "discarded", d)
			}
		}
		expired, err := s.orders.ExpireOrders(ctx, now)
		if err != nil {
			s.logger.Error("sweep", "err", err.Error())
		} else if len(expired) > 0 {
			s.logger.Info("orders expired", "count", len(expired))
			s.web.Expired(len(expired))
		}
		if _, err := s.patients.PurgeSessions(ctx, now); err != nil {
			s.logger.Error("sweep sessions", "err", err.Error())
		}
		if _, err := s.db.PurgeTombstones(ctx, now); err != nil {
			s.logger.Error("sweep tombstones", "err", err.Error())
		}
		// Failure counts live 15 minutes at the most; an hour is plenty.
		if _, err := s.limits.PurgeLimits(ctx, now.Add(-time.Hour)); err != nil {
			s.logger.Error("sweep limits", "err", err.Error())
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
	for i := len(s.closer) - 1; i >= 0; i-- {
		s.closer[i].Close()
	}
	s.closer = nil
}

// applyRemoteAcks acknowledges the envelopes of this replica that the
// registry acknowledged through another replica (pull behind a balancer).
func (s *service) applyRemoteAcks(ctx context.Context, now time.Time) {
	subs, err := s.db.Submissions(ctx, false, 1000)
	if err != nil || len(subs) == 0 {
		return
	}
	ids := make([]string, len(subs))
	for i, sub := range subs {
		ids[i] = sub.ID
	}
	acked, err := s.redis.Acked(ctx, ids)
	if err != nil {
		s.logger.Warn("sweep: remote acks", "err", err.Error())
		return
	}
	for _, id := range acked {
		if err := s.db.Ack(ctx, id, now); err != nil {
			s.logger.Warn("sweep: apply a remote ack", "submission", id, "err", err.Error())
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

// remoteAcks lets a replica take an ack for another's envelope.
func remoteAcks(rs *redisstore.Store) web.RemoteAcks {
	if rs == nil {
		return nil
	}
	return rs
}

// deliveryCounters gives /metrics the worker's totals, when there is one.
func deliveryCounters(w *delivery.Worker) web.DeliveryCounters {
	if w == nil {
		return nil
	}
	return w
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
