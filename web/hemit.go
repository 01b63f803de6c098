package web

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"eprom/locales"
	"eprom/questionnaire"
	"eprom/questionnaire/hemit"
	"eprom/store"
	"eprom/store/delivery"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// HemitPrefix is where HEMIT's API lives; its errors answer as HEMIT's do.
const HemitPrefix = "/api/v2/"

// HemitBases are the path prefixes HEMIT's API is also served under: those
// of HEMIT's own environments (…/webapi in QA and production,
// …/PromsWebApi in test), so that a registry that changes only the host
// of its ePROM base URL reaches us too. Paths are matched in any case.
var HemitBases = []string{"", "/webapi", "/promswebapi"}

// registerHemitRoutes adds HEMIT's order API (DESIGN.md §11).
func (s *Server) registerHemitRoutes(app *fiber.App) {
	for _, base := range HemitBases {
		app.Post(base+"/api/v2/formorder", s.authenticateHemit, s.handleFormOrder)
	}
}

// authenticateHemit requires "Authorization: Basic <apiKey>" with a
// client's HEMIT key: the key as it is (as HEMIT's clients send it), or
// base64 of "key", ":key" or "key:" (as an HTTP library's basic
// authentication sends a key given as the password or the user name).
func (s *Server) authenticateHemit(c *fiber.Ctx) error {
	scheme, value, _ := strings.Cut(strings.TrimSpace(c.Get(fiber.HeaderAuthorization)), " ")
	var client *questionnaire.Client
	if strings.EqualFold(scheme, "Basic") {
		value = strings.TrimSpace(value)
		keys := []string{value}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
			if raw, err := enc.DecodeString(value); err == nil {
				user, pass, _ := strings.Cut(string(raw), ":")
				keys = append(keys, string(raw), user, pass)
			}
		}
		client = s.cfg.Clients().LookupHemit(keys...)
	}
	if client == nil {
		c.Set(fiber.HeaderWWWAuthenticate, `Basic realm="eprom"`)
		return questionnaire.Errorf(questionnaire.EUNAUTHORIZED, "A valid API key is required, sent as the header Authorization: Basic followed by the key.")
	}
	c.Locals(clientKey, client)
	return c.Next()
}

// handleFormOrder serves POST /api/v2/formorder: an order as HEMIT's API
// takes it, answered as HEMIT answers (200, the request's fields echoed
// with id, singleUseCode, loginUrl and notificationChannel), its status
// callback put in the outbox with it.
func (s *Server) handleFormOrder(c *fiber.Ctx) error {
	client := caller(c)
	body := c.Body()
	var (
		req *hemit.Request
		err error
	)
	isForm := strings.HasPrefix(strings.ToLower(c.Get(fiber.HeaderContentType)), fiber.MIMEApplicationForm)
	if isForm {
		req, err = hemit.ParseForm(body)
	} else {
		req, err = hemit.ParseJSON(body)
	}
	if err != nil {
		return err
	}
	form, ok := client.Hemit.Form(req.FormID)
	if !ok || !questionnaire.IsGUID(req.FormID) {
		return questionnaire.Errorf(questionnaire.EINVALID, "No form with id='%s' exists", req.FormID)
	}
	now := s.now()
	o, err := questionnaire.NewOrder(&questionnaire.OrderRequest{
		Questionnaire: form.Questionnaire, Version: form.Version, Language: form.Language,
		PatientRef: req.NationalID, ExpiresAt: req.ExpiryDate,
	}, s.cfg.Catalogue, questionnaire.Orderer{Client: client}, locales.Languages, uuid.Must(uuid.NewV7()).String(), now)
	if err != nil {
		return hemitError(err, "expiryDate")
	}
	def, err := s.cfg.Catalogue.Get(o.Questionnaire.ID, o.Questionnaire.Version)
	if err != nil {
		return err
	}
	prefill, rest, errs, err := hemit.Prefill(def, req.Metadata, now.In(s.cfg.Location))
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		var parts []string
		for _, e := range errs {
			msg := s.answerMessage("en", def, e)
			if it := def.Item(e.LinkID); it != nil && e.Code == questionnaire.AnswerOption {
				var values []string
				for _, o := range it.Options {
					values = append(values, o.Value)
				}
				msg = "not one of its options, " + strings.Join(values, ", ")
			}
			parts = append(parts, fmt.Sprintf("%s: %s (metadata has %s)", e.LinkID, strings.TrimSuffix(msg, "."), e.Params["given"]))
		}
		return questionnaire.Errorf(questionnaire.EINVALID, "metadata prefills answers the form cannot take: %s", strings.Join(parts, "; "))
	}
	if o.Prefill == nil && len(prefill) > 0 {
		o.Prefill = map[string][]string{}
	}
	for k := range prefill {
		delete(o.Prefill, k)
		delete(o.Prefill, k+questionnaire.OtherSuffix) // a value set by the registry replaces the definition's
	}
	maps.Copy(o.Prefill, prefill)
	o.Hemit = &questionnaire.HemitOrder{FormID: req.FormID, TestMode: req.TestMode, Echo: req.Echo(o.ExpiresAt)}
	if len(rest) > 0 {
		raw, err := json.Marshal(rest)
		if err != nil {
			return err
		}
		o.Hemit.Metadata = string(raw)
	}
	idem, err := idempotency(c, client, body, !isForm)
	if err != nil {
		return err
	}
	var announce *store.Message
	if !req.TestMode {
		payload, err := hemit.Ordered(client.Hemit.APIKey, o.ID, now)
		if err != nil {
			return err
		}
		if announce, err = s.cfg.Submissions.Sign(store.KindHemit, client.ID, o.ID, hemit.StatusOrdered, payload, now); err != nil {
			return err
		}
	}
	got, code, created, err := s.cfg.Submissions.Create(c.UserContext(), o, idem, announce)
	if err != nil {
		return err
	}
	if got.Hemit == nil {
		return questionnaire.Errorf(questionnaire.ECONFLICT, "This Idempotency-Key was used for an order of the API /api/v1; use a new key for a new order.")
	}
	action := "order.create"
	if created {
		s.metrics.order(questionnaire.StatusOrdered)
	} else {
		action = "order.create.replay"
	}
	s.auditAs(c).Info(action, "api", "hemit", "order", got.ID, "questionnaire", got.Questionnaire.ID,
		"version", got.Questionnaire.Version, "status", string(got.Status), "testMode", got.Hemit.TestMode)
	if code != "" {
		code = questionnaire.FormatCode(code)
	}
	out, err := hemit.Response(got.Hemit.Echo, got.ID, code, s.cfg.PublicURL+"/")
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Status(http.StatusOK).Send(out)
}

// hemitError turns an order's refusal into HEMIT's 400, naming HEMIT's
// field where ours differs.
func hemitError(err error, expiryField string) error {
	if questionnaire.ErrorCode(err) != questionnaire.EUNPROCESSABLE {
		return err
	}
	msg := questionnaire.ErrorMessage(err)
	if strings.HasPrefix(msg, "The expiry") {
		msg = expiryField + ": " + msg
	}
	return questionnaire.Errorf(questionnaire.EINVALID, "%s", msg)
}

// hemitErrorBody answers an error of HEMIT's API as ASP.NET answers a
// BadRequest(string): the message as a JSON string to a client that
// accepts JSON, else as plain text.
func (s *Server) hemitErrorBody(c *fiber.Ctx, status int, msg string) error {
	c.Status(status)
	if strings.Contains(strings.ToLower(c.Get(fiber.HeaderAccept)), "json") {
		raw, _ := json.Marshal(msg)
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Send(raw)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	return c.SendString(msg)
}

// hemitStatus is the status of an error of HEMIT's API: every refusal of
// the request is HEMIT's 400.
func hemitStatus(status int) int {
	switch status {
	case http.StatusUnprocessableEntity, http.StatusForbidden:
		return http.StatusBadRequest
	}
	return status
}

// HemitReporter reports the close of an order placed through HEMIT's
// API as HEMIT's return callback (a store.Reporter), with the key of its
// client as configured when it closes; other orders go as envelopes, and a
// test order reports nothing.
func HemitReporter(clients func() *questionnaire.Clients, cat *questionnaire.Catalogue) store.Reporter {
	return func(o *questionnaire.Order, env *questionnaire.Envelope) (*store.Report, error) {
		if o.Hemit == nil {
			return nil, nil
		}
		if o.Hemit.TestMode {
			return &store.Report{Skip: true}, nil
		}
		apiKey := ""
		if c := clients().Get(o.Owner()); c != nil && c.Hemit != nil {
			apiKey = c.Hemit.APIKey
		}
		def, err := cat.Get(o.Questionnaire.ID, o.Questionnaire.Version)
		if err != nil {
			return nil, err
		}
		payload, err := hemit.Return(apiKey, def, o, env)
		if err != nil {
			return nil, err
		}
		label := hemit.StatusCompleted
		switch env.Type {
		case questionnaire.EnvelopeDeclined:
			label = hemit.StatusExpired + " (declined)"
		case questionnaire.EnvelopeCancelled:
			label = hemit.StatusExpired + " (cancelled)"
		case questionnaire.EnvelopeExpired:
			label = hemit.StatusExpired
		}
		return &store.Report{Kind: store.KindHemit, Label: label, Payload: payload}, nil
	}
}

// HemitRetryFor is how long a HEMIT callback that the registry refuses (a
// 4xx, {"success": false}) is tried again before it goes to the
// dead-letter list, where `eprom queue` lists it and can send it again.
const HemitRetryFor = 24 * time.Hour

// HemitRoute is where and how HEMIT's callbacks go: PUT
// {apiBaseUrl}/api/PromsFormOrder, the callback's JSON as the body and our
// detached JWS of it in X-Eprom-Signature; only {"success": true} is
// delivery; anything else is tried again, for HemitRetryFor when the
// registry refuses it, for ever when it is down. (An order's return waits
// for its status: store.Message.After.)
func HemitRoute(h *questionnaire.Hemit) delivery.Route {
	return delivery.Route{URL: strings.TrimSuffix(h.APIBaseURL, "/") + hemit.CallbackPath, Method: http.MethodPut,
		ContentType: "application/json; charset=utf-8", Detached: true, Accepted: hemit.Success, RetryFor: HemitRetryFor}
}

// isHemitPath reports whether a request is for HEMIT's API.
func isHemitPath(path string) bool {
	path = strings.ToLower(path)
	for _, base := range HemitBases {
		if strings.HasPrefix(path, base+HemitPrefix) {
			return true
		}
	}
	return false
}
