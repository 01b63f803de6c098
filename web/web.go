// Package web is the HTTP face of the service, built on fiber: the order
// API for the registry, QR codes and printable slips, health checks, and
// (with the patient journey) the patient pages. Templates and static assets
// are embedded and parsed once at start-up.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"eprom/locales"
	"eprom/questionnaire"
	"eprom/store"

	"github.com/gofiber/fiber/v2"
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
	// PublicURL is the address patients use, without a trailing slash;
	// patient URLs are PublicURL + "/c/" + code. Required.
	PublicURL string

	// Tokens are the API bearer tokens. Required for the API.
	Tokens *Tokens

	// Catalogue holds the questionnaire definitions. Required.
	Catalogue *questionnaire.Catalogue

	// Orders is the store. Required.
	Orders store.Orders

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

// Server is the web layer.
type Server struct {
	cfg       Config
	app       *fiber.App
	public    *url.URL
	secure    bool // PublicURL is https: HSTS and Secure cookies
	templates map[string]*template.Template
}

// New checks the configuration, parses the templates and builds the routes.
func New(cfg Config) (*Server, error) {
	if cfg.Catalogue == nil || cfg.Orders == nil || cfg.Locales == nil || cfg.Tokens == nil {
		return nil, errors.New("web: Catalogue, Orders, Locales and Tokens are required")
	}
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
	if s.templates, err = parseTemplates(cfg.Locales); err != nil {
		return nil, err
	}
	s.app = fiber.New(fiber.Config{
		AppName:               "eprom",
		BodyLimit:             MaxBodySize,
		ErrorHandler:          s.handleError,
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		CaseSensitive:         true,
		// X-Forwarded-For counts only from a trusted proxy.
		EnableTrustedProxyCheck: len(cfg.TrustedProxies) > 0,
		TrustedProxies:          cfg.TrustedProxies,
		ProxyHeader:             proxyHeader(cfg.TrustedProxies),
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

// App returns the fiber app, for tests (app.Test) and for Listen.
func (s *Server) App() *fiber.App { return s.app }

// Shutdown stops accepting requests and waits for those running, up to the
// context's deadline.
func (s *Server) Shutdown(ctx context.Context) error { return s.app.ShutdownWithContext(ctx) }

func (s *Server) routes() {
	app := s.app
	app.Use(s.logRequests, s.recover, s.securityHeaders)
	static, _ := fs.Sub(staticFiles, "static")
	app.Get("/static/*", s.handleStatic(static))
	app.Get("/healthz", s.handleHealthz)
	app.Get("/readyz", s.handleReadyz)

	s.registerOrderRoutes(app.Group("/api/v1", s.authenticate))
}

// parseTemplates parses every page template once, with the functions they
// use; a template that does not parse stops the start-up.
func parseTemplates(loc *locales.Catalog) (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"t":    loc.T,
		"text": func(t questionnaire.Text, lang string) string { return t.Get(lang) },
	}
	out := map[string]*template.Template{}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		t, err := template.New(name[len("templates/"):]).Funcs(funcs).ParseFS(templateFiles, name)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		out[t.Name()] = t
	}
	for _, need := range []string{"slip.html"} {
		if out[need] == nil {
			return nil, fmt.Errorf("web: template %s is missing", need)
		}
	}
	return out, nil
}

// proxyHeader is X-Forwarded-For behind trusted proxies, and nothing else.
func proxyHeader(trusted []string) string {
	if len(trusted) == 0 {
		return ""
	}
	return fiber.HeaderXForwardedFor
}

// now returns the current time from the configured clock.
func (s *Server) now() time.Time { return s.cfg.Now() }
