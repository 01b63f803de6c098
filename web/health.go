package web

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// handleHealthz serves GET /healthz: the process is alive.
func (s *Server) handleHealthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// handleReadyz serves GET /readyz: the process can serve requests, which
// means its store answers.
func (s *Server) handleReadyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	checks := fiber.Map{"store": "ok", "questionnaires": s.cfg.Catalogue.Len()}
	status := fiber.StatusOK
	if err := s.cfg.Orders.Ping(ctx); err != nil {
		s.cfg.Logger.Warn("readiness: store", "err", err.Error())
		checks["store"] = "unavailable"
		status = fiber.StatusServiceUnavailable
	}
	state := "ready"
	if status != fiber.StatusOK {
		state = "not ready"
	}
	return c.Status(status).JSON(fiber.Map{"status": state, "checks": checks})
}
