package web

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"eprom/questionnaire"
	"eprom/store"

	"github.com/go-jose/go-jose/v4"
	"github.com/gofiber/fiber/v2"
)

// PullHolder is the lease holder name of a client's pulls.
func PullHolder(client string) string { return "pull:" + client }

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
// up to N of the caller's signed envelopes (1–100, default 10), hidden
// from others for S seconds (10–3600, default 300) until acknowledged.
func (s *Server) handleSubmissionsLease(c *fiber.Ctx) error {
	client := caller(c)
	if !client.MayPull() {
		return questionnaire.Errorf(questionnaire.EFORBIDDEN,
			"This client (%s) has its envelopes pushed to its registry; set \"pull\": true in the clients file to pull them too.", client.ID)
	}
	limit, err := queryInt(c, "limit", 10, 1, 100)
	if err != nil {
		return err
	}
	lease, err := queryInt(c, "lease", 300, 10, 3600)
	if err != nil {
		return err
	}
	mine := func(kind, dest string) int {
		if kind == store.KindEnvelope && dest == client.ID {
			return limit
		}
		return 0
	}
	msgs, err := s.cfg.Queue.Receive(c.UserContext(), PullHolder(client.ID), limit, time.Duration(lease)*time.Second, s.now(), mine)
	if err != nil {
		return err
	}
	if s.cfg.SharedLeases != nil {
		if err := s.cfg.SharedLeases.ShareLeases(c.UserContext(), msgs, s.now()); err != nil {
			// The envelopes are leased here; an ack through another
			// replica will be refused until the lease lapses and they
			// are leased again.
			s.cfg.Logger.Warn("share leases", "err", err.Error())
		}
	}
	out := make([]submissionView, 0, len(msgs))
	ids := make([]string, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, submissionView{ID: m.ID, OrderID: m.Ref, Type: m.Label, KeyID: m.KeyID, JWS: string(m.Body),
			Attempts: m.Attempts, CreatedAt: m.CreatedAt, LeaseUntil: m.LeaseUntil})
		ids = append(ids, m.ID)
	}
	if len(out) > 0 {
		s.auditAs(c).Info("submissions.lease", "count", len(out), "submissions", ids)
	}
	return c.JSON(fiber.Map{"submissions": out})
}

// handleSubmissionAck serves POST /api/v1/submissions/:id/ack: the
// registry has the envelope; its answers leave this service. Only the
// holder of the current lease may acknowledge.
func (s *Server) handleSubmissionAck(c *fiber.Ctx) error {
	id, client := c.Params("id"), caller(c)
	noSubmission := questionnaire.Errorf(questionnaire.ENOTFOUND, "No submission %q.", id)
	if err := checkID(id); err != nil {
		return noSubmission
	}
	holder, now := PullHolder(client.ID), s.now()
	err := s.cfg.Submissions.Delivered(c.UserContext(), id, holder, client.ID, now)
	if questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND && s.cfg.SharedLeases != nil {
		// Behind a load balancer the envelope may be another replica's:
		// that one applies the ack within a sweep.
		err := s.cfg.SharedLeases.RecordAck(c.UserContext(), id, holder, client.ID, now)
		if questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND {
			return noSubmission
		} else if err != nil {
			return err
		}
		s.auditAs(c).Info("submission.ack", "submission", id, "replica", "other")
		return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"id": id, "status": "accepted"})
	}
	if questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND {
		return noSubmission
	} else if err != nil {
		return err
	}
	s.auditAs(c).Info("submission.ack", "submission", id)
	return c.JSON(fiber.Map{"id": id, "status": "delivered"})
}

// handleJWKS serves GET /.well-known/jwks.json: the public signing keys.
// The set is worked out at most every 10 seconds: whether an old key is
// still needed asks the outbox, which must not be a cost anyone can impose.
func (s *Server) handleJWKS(c *fiber.Ctx) error {
	s.jwksMu.Lock()
	if s.jwks == nil || time.Since(s.jwksAt) > 10*time.Second {
		inUse := func(kid string) bool {
			used, err := s.cfg.Queue.KeyInUse(context.Background(), kid)
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
