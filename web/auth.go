package web

import (
	"log/slog"
	"strings"

	"eprom/questionnaire"

	"github.com/gofiber/fiber/v2"
)

// Locals where authenticate leaves the caller.
const (
	clientKey   = "client"
	tokenPosKey = "tokenPos"
)

// authenticate requires a valid "Authorization: Bearer <token>" and finds
// the client (ordering system) it belongs to. The clients are read afresh
// for each request: a reload (SIGHUP) takes effect at once.
func (s *Server) authenticate(c *fiber.Ctx) error {
	scheme, token, _ := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	var (
		client *questionnaire.Client
		pos    int
	)
	if strings.EqualFold(scheme, "Bearer") && token != "" {
		client, pos = s.cfg.Clients().Lookup(strings.TrimSpace(token))
	}
	if client == nil {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="eprom"`)
		return questionnaire.Errorf(questionnaire.EUNAUTHORIZED, "A valid API token is required, sent as the header Authorization: Bearer followed by the token.")
	}
	c.Locals(clientKey, client)
	c.Locals(tokenPosKey, pos)
	return c.Next()
}

// caller returns the authenticated client.
func caller(c *fiber.Ctx) *questionnaire.Client {
	client, _ := c.Locals(clientKey).(*questionnaire.Client)
	return client
}

// tokenPos returns the position of the caller's token in its client's list.
func tokenPos(c *fiber.Ctx) int {
	pos, _ := c.Locals(tokenPosKey).(int)
	return pos
}

// auditAs returns the audit log with the caller named: the client and the
// position of its token, never the token.
func (s *Server) auditAs(c *fiber.Ctx) *slog.Logger {
	return s.cfg.Audit.With("client", caller(c).ID, "token", tokenPos(c))
}
