package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"eprom/questionnaire"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
)

// DemoRegistry is the demo's built-in registry receiver (cmd mounts the
// reference receiver, registry-sink's): it takes envelopes as a registry
// would, and tells what arrived.
type DemoRegistry interface {
	http.Handler
	// Arrived returns the envelopes received and verified, newest first.
	Arrived() []Arrival
}

// Arrival is one envelope that reached the demo registry.
type Arrival struct {
	ReceivedAt time.Time
	KeyID      string
	Envelope   *questionnaire.Envelope
}

// registerDemoRoutes mounts the demo's built-in registry receiver: POST
// /demo/registry receives and verifies envelopes as a registry would, and
// GET /demo/registry shows what arrived.
func (s *Server) registerDemoRoutes(app *fiber.App, r DemoRegistry) {
	app.Post("/demo/registry", adaptor.HTTPHandler(r))
	app.Get("/demo/registry", func(c *fiber.Ctx) error { return s.handleDemoRegistry(c, r) })
	app.Put("/demo/api/PromsFormOrder", s.handleDemoHemit)
	app.Get("/demo/hemit", s.handleDemoHemitList)
	if s.clinic != nil {
		s.registerClinicRoutes(app)
	}
}

// demoCallback is one HEMIT callback that reached the demo registry.
type demoCallback struct {
	ReceivedAt time.Time       `json:"receivedAt"`
	Signature  string          `json:"X-Eprom-Signature"`
	Body       json.RawMessage `json:"body"`
}

// demoHemit keeps the last HEMIT callbacks of the demo, newest first.
type demoHemit struct {
	mu   sync.Mutex
	list []demoCallback
}

// handleDemoHemit serves PUT /demo/api/PromsFormOrder: the demo's HEMIT
// client's callbacks, taken as an MRS registry takes them.
func (s *Server) handleDemoHemit(c *fiber.Ctx) error {
	body := c.Body()
	if !json.Valid(body) {
		return c.Status(http.StatusBadRequest).JSON(fiber.Map{"success": false})
	}
	s.demoHemit.mu.Lock()
	s.demoHemit.list = append([]demoCallback{{ReceivedAt: s.now(), Signature: c.Get("X-Eprom-Signature"),
		Body: json.RawMessage(bytes.Clone(body))}}, s.demoHemit.list...)
	s.demoHemit.list = s.demoHemit.list[:min(len(s.demoHemit.list), 50)]
	s.demoHemit.mu.Unlock()
	return c.JSON(fiber.Map{"success": true})
}

// handleDemoHemitList serves GET /demo/hemit: the callbacks received,
// newest first, as JSON.
func (s *Server) handleDemoHemitList(c *fiber.Ctx) error {
	s.demoHemit.mu.Lock()
	defer s.demoHemit.mu.Unlock()
	c.Set("Cache-Control", "no-store")
	return c.JSON(fiber.Map{"callbacks": append([]demoCallback{}, s.demoHemit.list...)})
}

// demoRecord is one arrived envelope as the demo page shows it.
type demoRecord struct {
	ReceivedAt, Type, Questionnaire, OrderID, ID, KeyID string
	Scores                                              []string
	Answers                                             []string
}

// handleDemoRegistry serves GET /demo/registry: the envelopes the built-in
// receiver verified, newest first.
func (s *Server) handleDemoRegistry(c *fiber.Ctx, r DemoRegistry) error {
	var recs []demoRecord
	for _, rec := range r.Arrived() {
		e := rec.Envelope
		d := demoRecord{
			ReceivedAt:    rec.ReceivedAt.In(s.cfg.Location).Format("2006-01-02 15:04:05"),
			Type:          e.Type,
			Questionnaire: e.Questionnaire.ID + " " + e.Questionnaire.Version,
			OrderID:       e.OrderID, ID: e.ID, KeyID: rec.KeyID,
		}
		for _, sc := range e.Scores {
			v := "absent"
			if sc.Value != nil {
				v = number("en", *sc.Value)
			}
			if sc.Band != "" {
				v += " (" + sc.Band + ")"
			}
			d.Scores = append(d.Scores, sc.ID+" = "+v)
		}
		for _, a := range e.Answers {
			d.Answers = append(d.Answers, fmt.Sprintf("%s = %v", a.LinkID, a.Value))
		}
		recs = append(recs, d)
	}
	v := struct {
		base
		Records []demoRecord
		Count   int
	}{base: s.newBase("en", "Registry (demo)", "/demo/registry"), Records: recs, Count: len(recs)}
	v.Page = "demo-registry"
	c.Set("Refresh", "10")
	return s.render(c, fiber.StatusOK, "registry.html", v)
}
