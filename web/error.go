package web

import (
	"errors"
	"net/http"
	"strings"

	"eprom/questionnaire"

	"github.com/gofiber/fiber/v2"
)

// statusOf maps application error codes to HTTP statuses.
var statusOf = map[string]int{
	questionnaire.EINVALID:        http.StatusBadRequest,
	questionnaire.EUNAUTHORIZED:   http.StatusUnauthorized,
	questionnaire.EFORBIDDEN:      http.StatusForbidden,
	questionnaire.ELEASE:          http.StatusConflict,
	questionnaire.ENOTFOUND:       http.StatusNotFound,
	questionnaire.ECONFLICT:       http.StatusConflict,
	questionnaire.ETOOLARGE:       http.StatusRequestEntityTooLarge,
	questionnaire.EUNPROCESSABLE:  http.StatusUnprocessableEntity,
	questionnaire.ETOOMANYREQUEST: http.StatusTooManyRequests,
	questionnaire.EUNAVAILABLE:    http.StatusServiceUnavailable,
	questionnaire.EINTERNAL:       http.StatusInternalServerError,
}

// apiError is the JSON body of every error: {"error": {"code", "message"}}.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// handleError is the one place where errors become responses. Application
// errors show their message; anything else is logged and shown only as an
// internal error, never with its text.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	code, msg := questionnaire.ErrorCode(err), questionnaire.ErrorMessage(err)
	status := statusOf[code]
	var fe *fiber.Error
	if errors.As(err, &fe) {
		// fiber's own errors: unknown routes, methods, body limits.
		status = fe.Code
		switch fe.Code {
		case fiber.StatusNotFound:
			code, msg = questionnaire.ENOTFOUND, "There is nothing at this address."
		case fiber.StatusMethodNotAllowed:
			code, msg = "method_not_allowed", "This method is not allowed here."
		case fiber.StatusRequestEntityTooLarge:
			code, msg = questionnaire.ETOOLARGE, "The request body is larger than 64 KiB."
		case fiber.StatusBadRequest:
			code, msg = questionnaire.EINVALID, "The request is malformed."
		case fiber.StatusUnsupportedMediaType:
			code, msg = "unsupported_encoding", "A request body must not be compressed: send it without Content-Encoding."
		case fiber.StatusRequestTimeout, fiber.StatusRequestHeaderFieldsTooLarge, fiber.StatusRequestURITooLong:
			// fasthttp could not read the request: too slow, or headers
			// past the read buffer. The client's fault, not ours.
			code, msg = questionnaire.EINVALID, http.StatusText(fe.Code)+"."
			s.cfg.Logger.Warn("client error", "status", fe.Code, "err", err.Error())
		default:
			status = http.StatusInternalServerError
		}
	}
	s.setSecurityHeaders(c)
	if status == http.StatusServiceUnavailable {
		s.cfg.Logger.Warn("unavailable", "route", c.Route().Path, "err", err.Error())
	}
	if status == 0 || status == http.StatusInternalServerError {
		s.cfg.Logger.Error("internal error", "route", c.Route().Path, "method", c.Method(), "err", err.Error())
		status, code, msg = http.StatusInternalServerError, questionnaire.EINTERNAL, "Internal error. It has been logged; please try again."
	}
	c.Set("Cache-Control", "no-store")
	if isHemitPath(c.Path()) {
		return s.hemitErrorBody(c, hemitStatus(status), msg)
	}
	if path := c.Path(); !strings.HasPrefix(path, "/api/") && !strings.HasPrefix(path, "/.well-known/") {
		return s.errorPage(c, status)
	}
	var body apiError
	body.Error.Code, body.Error.Message = code, msg
	return c.Status(status).JSON(body)
}

// errorPage answers a person (not the API) with a localized page.
func (s *Server) errorPage(c *fiber.Ctx, status int) error {
	lang := s.language(c, "")
	key := "error.internal"
	switch {
	case status == http.StatusServiceUnavailable:
		key = "error.unavailable"
		c.Set(fiber.HeaderRetryAfter, "10")
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		key = "error.not_found"
	case status < 500:
		key = "error.invalid"
	}
	if err := s.message(c, status, lang, key, true); err != nil {
		return c.Status(status).SendString(http.StatusText(status))
	}
	return nil
}
