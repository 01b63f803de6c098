package web

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"eprom/questionnaire"

	"github.com/go-jose/go-jose/v4"
	"github.com/gofiber/fiber/v2"
)

// PullHolder is the lease holder name of the pull API.
const PullHolder = "pull"

// RemoteAcks takes acks for envelopes that another replica holds.
type RemoteAcks interface {
	RecordAck(ctx context.Context, id string) error
}

// JWKS gives the public keys to publish.
type JWKS interface {
	JWKS(inUse func(kid string) bool, now time.Time) jose.JSONWebKeySet
}

// registerSubmissionRoutes adds the pull API under /api/v1 (authenticated).
func (s *Server) registerSubmissionRoutes(r fiber.Router) {
	r.Get("/submissions", s.handleSubmissionsLease)
	r.Post("/submissions/:id/ack", s.handleSubmissionAck)
}

// submissionView is one leased envelope in the pull API.
type submissionView struct {
	ID         string    `json:"id"`
	OrderID    string    `json:"orderId"`
	Type       string    `json:"type"`
	KeyID      string    `json:"kid"`
	JWS        string    `json:"jws"`
	Attempts   int       `json:"attempts"`
	CreatedAt  time.Time `json:"createdAt"`
	LeaseUntil time.Time `json:"leaseUntil"`
}

// handleSubmissionsLease serves GET /api/v1/submissions?limit=N&lease=S:
// up to N signed envelopes (1–100, default 10), hidden from others for S
// seconds (10–3600, default 300) until acknowledged.
func (s *Server) handleSubmissionsLease(c *fiber.Ctx) error {
	limit, err := queryInt(c, "limit", 10, 1, 100)
	if err != nil {
		return err
	}
	lease, err := queryInt(c, "lease", 300, 10, 3600)
	if err != nil {
		return err
	}
	subs, err := s.cfg.Outbox.Lease(c.UserContext(), PullHolder, limit, time.Duration(lease)*time.Second, s.now())
	if err != nil {
		return err
	}
	out := make([]submissionView, 0, len(subs))
	for _, sub := range subs {
		out = append(out, submissionView{ID: sub.ID, OrderID: sub.OrderID, Type: sub.Type, KeyID: sub.KeyID, JWS: sub.JWS,
			Attempts: sub.Attempts, CreatedAt: sub.CreatedAt, LeaseUntil: sub.LeaseUntil})
	}
	if len(out) > 0 {
		s.cfg.Audit.Info("submissions.lease", "token", caller(c), "count", len(out))
	}
	return c.JSON(fiber.Map{"submissions": out})
}

// handleSubmissionAck serves POST /api/v1/submissions/:id/ack: the
// registry has the envelope; its answers leave this service.
func (s *Server) handleSubmissionAck(c *fiber.Ctx) error {
	id := c.Params("id")
	if err := checkID(id); err != nil {
		return questionnaire.Errorf(questionnaire.ENOTFOUND, "No submission %q.", id)
	}
	err := s.cfg.Outbox.Ack(c.UserContext(), id, s.now())
	if questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND && s.cfg.RemoteAcks != nil {
		// Behind a load balancer the envelope may be another replica's:
		// that one applies the ack within a sweep.
		if err := s.cfg.RemoteAcks.RecordAck(c.UserContext(), id); err != nil {
			return err
		}
		s.cfg.Audit.Info("submission.ack", "token", caller(c), "submission", id, "replica", "other")
		return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"id": id, "status": "accepted"})
	}
	if err != nil {
		return err
	}
	s.cfg.Audit.Info("submission.ack", "token", caller(c), "submission", id)
	return c.JSON(fiber.Map{"id": id, "status": "delivered"})
}

// handleJWKS serves GET /.well-known/jwks.json: the public signing keys.
// The set is worked out at most every 10 seconds: whether an old key is
// still needed asks the outbox, which must not be a cost anyone can impose.
func (s *Server) handleJWKS(c *fiber.Ctx) error {
	s.jwksMu.Lock()
	if s.jwks == nil || time.Since(s.jwksAt) > 10*time.Second {
		inUse := func(kid string) bool {
			used, err := s.cfg.Outbox.KeyInUse(context.Background(), kid)
			return err != nil || used // when in doubt, keep publishing
		}
		s.jwks, _ = json.Marshal(s.cfg.Keys.JWKS(inUse, s.now()))
		s.jwksAt = time.Now()
	}
	body := s.jwks
	s.jwksMu.Unlock()
	// Short, so that a rotated key is fetched soon by those who cache.
	c.Set(fiber.HeaderCacheControl, "public, max-age=60")
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(body)
}

// queryInt reads a whole-number query parameter within bounds.
func queryInt(c *fiber.Ctx, name string, def, min, max int) (int, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, unprocessable("%s must be a whole number from %d to %d.", name, min, max)
	}
	return n, nil
}
