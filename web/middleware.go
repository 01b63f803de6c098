package web

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"path"
	"runtime/debug"
	"strings"
	"time"

	"eprom/questionnaire"

	"github.com/gofiber/fiber/v2"
)

// contentSecurityPolicy allows only this origin's scripts, styles and
// images, the script's autosave posts to this origin (connect-src), no
// inline script, and no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the headers every response carries. Responses are
// not cached (they may hold codes or answers) unless a handler says so.
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	s.setSecurityHeaders(c)
	return c.Next()
}

// setSecurityHeaders sets the headers every answer carries, also those
// made for a request fasthttp could not read (no middleware ran).
func (s *Server) setSecurityHeaders(c *fiber.Ctx) {
	h := &c.Response().Header
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
	h.Set("Cache-Control", "no-store")
	if s.secure {
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
}

// logRequests logs one line per request: the route pattern, never the path
// (which may hold a code), and never the query or the body.
func (s *Server) logRequests(c *fiber.Ctx) error {
	start := time.Now()
	s.inflight.Add(1)
	err := func() error {
		defer s.inflight.Add(-1) // whatever the middleware inside does
		return c.Next()
	}()
	if err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			c.Status(fiber.StatusInternalServerError)
		}
	}
	route := c.Route().Path
	if route == "/" && c.Path() != "/" {
		route = "(no route)"
	}
	s.metrics.request(route, c.Method(), c.Response().StatusCode(), time.Since(start))
	s.cfg.Logger.LogAttrs(c.UserContext(), slog.LevelInfo, "request",
		slog.String("method", c.Method()),
		slog.String("route", route),
		slog.Int("status", c.Response().StatusCode()),
		slog.Float64("ms", float64(time.Since(start).Microseconds())/1000),
	)
	return nil
}

// recover turns a panic into a logged internal error.
func (s *Server) recover(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.cfg.Logger.Error("panic", "route", c.Route().Path, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = errors.New("panic")
		}
	}()
	return c.Next()
}

// handleStatic serves GET /static/*: embedded assets, cached for a day.
func (s *Server) handleStatic(fsys fs.FS) fiber.Handler {
	return func(c *fiber.Ctx) error {
		name := path.Clean(c.Params("*"))
		if name == "." || strings.HasPrefix(name, "..") {
			return questionnaire.Errorf(questionnaire.ENOTFOUND, "not found")
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return questionnaire.Errorf(questionnaire.ENOTFOUND, "not found")
		}
		c.Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
		c.Set("Cache-Control", "public, max-age=86400")
		return c.Send(b)
	}
}

// maxPathLength is the longest path served: every route of the service
// fits in a tenth of it.
const maxPathLength = 2048

// refuseEncodedBodies answers 414 to a path over maxPathLength, and 415 to a request whose body is compressed
// (any Content-Encoding but identity): fiber would decode up to three
// stacked encodings after the 64 KiB wire limit was checked, so a
// kilobyte of gzip could become gigabytes in memory. No client of this
// service needs to compress what it sends.
func (s *Server) refuseEncodedBodies(c *fiber.Ctx) error {
	if len(c.Request().URI().PathOriginal()) > maxPathLength {
		return fiber.NewError(fiber.StatusRequestURITooLong)
	}
	if ce := strings.TrimSpace(c.Get(fiber.HeaderContentEncoding)); ce != "" && !strings.EqualFold(ce, "identity") {
		return fiber.NewError(fiber.StatusUnsupportedMediaType)
	}
	return c.Next()
}
