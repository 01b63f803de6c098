// Package web is the HTTP face of the service, built on fiber: the order
// API for ordering systems (each client sees only its own orders and
// envelopes), QR codes and printable slips, the pull API and the JWKS,
// health checks and metrics, and the patient pages. Templates and static
// assets are embedded and parsed once at start-up.
package web

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"eprom/locales"
	"eprom/questionnaire"
	"eprom/store"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// MaxBodySize is the largest request body accepted.
const MaxBodySize = 64 << 10

// Config holds what the web layer needs. Zero values get the defaults
// documented on each field.
type Config struct {
	// ReadTimeout is how long a request may take to arrive, headers and
	// body; a slower or idle one gets 408. Default 30 seconds.
	ReadTimeout time.Duration

	// PublicURL is the address patients use, without a trailing slash;
	// patient URLs are PublicURL + "/c/" + code. Required.
	PublicURL string

	// Clients returns the ordering systems as configured now; each API
	// token belongs to one. Called for every API request. Required.
	Clients func() *questionnaire.Clients

	// Catalogue holds the questionnaire definitions. Required.
	Catalogue *questionnaire.Catalogue

	// Orders, Patients and Limits are the store. Required.
	Orders   store.Orders
	Patients store.Patients
	Limits   store.Limits
	// Links signs the short-lived links to a slip and seals what a
	// patient's browser keeps for a moment (store.Secrets); nil: orders
	// carry no slipUrl and the done page shows no feedback.
	Links Secrets

	// Queue is the outbox, and Submissions closes orders into it. Required.
	Queue       store.Queue
	Submissions *store.Submissions

	// SharedLeases, with several replicas, takes acks for envelopes
	// another replica holds. Nil: an id not here is 404.
	SharedLeases store.SharedLeases

	// Keys publishes the signing keys at /.well-known/jwks.json. Required.
	Keys JWKS

	// CodeLimits slow down guessing of codes.
	CodeLimits CodeLimits

	// Demo shows a DEMO banner on every page.
	Demo bool

	// DemoRegistry, when set, is mounted at /demo/registry.
	DemoRegistry DemoRegistry

	// Clinic, with DemoRegistry, serves the training patient page at
	// /demo/clinic.
	Clinic *DemoClinic

	// Delivery, when set, adds the push worker's totals to /metrics.
	Delivery DeliveryCounters

	// Locales translates the user interface. Required.
	Locales *locales.Catalog

	// Location is the time zone of dates shown to people. Default: Europe/Oslo.
	Location *time.Location

	// Logger receives request and error logs. Default: slog.Default().
	Logger *slog.Logger

	// Audit receives one record per order action. Default: Logger.
	Audit *slog.Logger

	// Now is the clock. Default: time.Now.
	Now func() time.Time

	// TrustedProxies are the CIDRs or addresses of proxies whose
	// X-Forwarded-For gives the client's address. Default: none, so the
	// peer's address counts.
	TrustedProxies []string
}

// Secrets are the keys web uses of those derived from the server secret.
type Secrets interface {
	LinkMAC(data []byte) []byte
	SealBrowser(aad string, plain []byte) []byte
	OpenBrowser(aad string, sealed []byte) ([]byte, error)
}

// Server is the web layer.
type Server struct {
	chrome    sync.Map // language → *chrome
	helpCache atomic.Pointer[helpCache]
	assets    map[string]string // static file → its content version
	cfg       Config
	app       *fiber.App
	public    *url.URL
	secure    bool // PublicURL is https: HSTS and Secure cookies
	templates map[string]*template.Template
	static    fs.FS
	metrics   *Metrics
	trusted   []*net.IPNet // proxies whose X-Forwarded-For counts

	demoHemit demoHemit // the demo's HEMIT callbacks
	clinic    *clinic   // the demo's training patient page

	jwksMu sync.Mutex
	jwks   []byte // the JWKS document, worked out at jwksAt
	jwksAt time.Time

	inflight atomic.Int64 // requests being handled (logRequests)
}

// InFlight is the number of requests being handled now. The bolt store
// reads it to know whether a write has others to wait for (bolt.SetBusy).
func (s *Server) InFlight() int { return int(s.inflight.Load()) }

// New checks the configuration, parses the templates and builds the routes.
func New(cfg Config) (*Server, error) {
	if cfg.Catalogue == nil || cfg.Orders == nil || cfg.Patients == nil || cfg.Limits == nil || cfg.Queue == nil ||
		cfg.Submissions == nil || cfg.Keys == nil || cfg.Locales == nil || cfg.Clients == nil {
		return nil, errors.New("web: Catalogue, Orders, Patients, Limits, Queue, Submissions, Keys, Locales and Clients are required")
	}
	cfg.CodeLimits.defaults()
	u, err := ParsePublicURL(cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	cfg.PublicURL = strings.TrimSuffix(u.String(), "/")
	if cfg.Location == nil {
		if cfg.Location, err = time.LoadLocation("Europe/Oslo"); err != nil {
			return nil, fmt.Errorf("web: time zone: %w", err)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Audit == nil {
		cfg.Audit = cfg.Logger
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, public: u, secure: u.Scheme == "https"}
	if s.trusted, err = parseCIDRs(cfg.TrustedProxies); err != nil {
		return nil, err
	}
	if cfg.Clinic != nil && cfg.DemoRegistry != nil {
		s.clinic = newClinic(*cfg.Clinic)
	}
	s.static, _ = fs.Sub(staticFiles, "static")
	s.metrics = newMetrics(cfg.Queue, cfg.Delivery)
	assets, err := assetVersions(s.static)
	s.assets = assets
	if err != nil {
		return nil, err
	}
	shared := template.FuncMap{ // what the other templates share with the pages written by Go
		"help":   func(h helpView) template.HTML { return htmlOf(func(b *bytes.Buffer) { writeHelp(b, &h) }) },
		"change": func(ch changeView) template.HTML { return htmlOf(func(b *bytes.Buffer) { s.writeChange(b, &ch) }) },
	}
	if s.templates, err = parseTemplates(cfg.Locales, assets, shared); err != nil {
		return nil, err
	}
	s.app = fiber.New(fiber.Config{
		AppName:               "eprom",
		BodyLimit:             MaxBodySize,
		ErrorHandler:          s.handleError,
		DisableStartupMessage: true,
		ReadTimeout:           cmp.Or(cfg.ReadTimeout, 30*time.Second),
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		// Room for a long cookie or path (a 9 KB cookie, a 5,000-character
		// /c/ path are a client's business: 404 or ignored); past it, 431.
		ReadBufferSize: 16 << 10,
		// /C/7KQM2-XPD9R, typed from a slip in capitals, is /c/7KQM2-XPD9R.
		CaseSensitive: false,
	})
	s.routes()
	return s, nil
}

// ParsePublicURL checks a public URL: http or https, a host, no query.
func ParsePublicURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q is not an http(s) URL such as https://eprom.example.no", raw)
	}
	return u, nil
}

// Catalogue returns the questionnaire definitions the server knows.
func (s *Server) Catalogue() *questionnaire.Catalogue { return s.cfg.Catalogue }

// App returns the fiber app, for tests (app.Test) and for Listen.
func (s *Server) App() *fiber.App { return s.app }

// Shutdown stops accepting requests and waits for those running, up to the
// context's deadline.
func (s *Server) Shutdown(ctx context.Context) error { return s.app.ShutdownWithContext(ctx) }

func (s *Server) routes() {
	app := s.app
	app.Use(s.logRequests, s.recover, s.securityHeaders, s.refuseEncodedBodies, compress.New(compress.Config{Level: compress.LevelBestSpeed}))
	app.Get("/static/*", s.handleStatic(s.static))
	app.Get("/healthz", s.handleHealthz)
	app.Get("/readyz", s.handleReadyz)
	app.Get("/.well-known/jwks.json", s.handleJWKS)
	app.Get("/metrics", s.metrics.handler())

	api := app.Group("/api/v1", s.authenticate)
	s.registerOrderRoutes(api)
	s.registerSubmissionRoutes(api)
	s.registerHemitRoutes(app)
	s.registerPatientRoutes(app)
	app.Get("/slip/:token", s.handleSignedSlip)
	if s.cfg.DemoRegistry != nil {
		s.registerDemoRoutes(app, s.cfg.DemoRegistry)
	}
}

// pageTemplates are the pages drawn inside layout.html; standalone ones
// (the slip) have their own HTML head.
var (
	// The question pages, the review and the messages are written by Go
	// (pagehtml.go).
	pageTemplates = []string{"code.html", "decline.html", "registry.html",
		"clinic.html", "clinic-patient.html", "clinic-code.html", "clinic-result.html"}
	standaloneTemplates = []string{"slip.html"}
)

// parseTemplates parses every template once, with the functions they use;
// a template that is missing or does not parse stops the start-up.
func parseTemplates(loc *locales.Catalog, assets map[string]string, shared template.FuncMap) (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"t": loc.T,
		"asset": func(name string) (string, error) {
			if v, ok := assets[name]; ok {
				return "/static/" + name + "?v=" + v, nil
			}
			return "", fmt.Errorf("no static file %s", name)
		},
	}
	maps.Copy(funcs, shared)
	out := map[string]*template.Template{}
	for _, name := range pageTemplates {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		out[name] = t
	}
	for _, name := range standaloneTemplates {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFiles, "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// assetVersions returns a short content hash of every static file, for
// cache-busting links.
func assetVersions(fsys fs.FS) (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[name] = hex.EncodeToString(sum[:4])
		return nil
	})
	return out, err
}

// now returns the current time from the configured clock.
func (s *Server) now() time.Time { return s.cfg.Now() }
