package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"time"

	"eprom/locales"
	"eprom/questionnaire"
	"eprom/store"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// registerOrderRoutes adds the order API under /api/v1 (authenticated).
func (s *Server) registerOrderRoutes(r fiber.Router) {
	r.Get("/questionnaires", s.handleQuestionnaireList)
	r.Post("/orders", s.handleOrderCreate)
	r.Get("/orders/:id", s.handleOrderGet)
	r.Post("/orders/:id/cancel", s.handleOrderCancel)
	r.Post("/orders/:id/reissue", s.handleOrderReissue)
	r.Get("/orders/:id/qr.png", s.handleOrderQRPNG)
	r.Get("/orders/:id/qr.svg", s.handleOrderQRSVG)
	r.Get("/orders/:id/slip", s.handleOrderSlip)
}

// orderResponse is an order as the API shows it: never the answers; the
// code and URL only while the order is open.
type orderResponse struct {
	ID              string                         `json:"id"`
	Status          questionnaire.Status           `json:"status"`
	Code            string                         `json:"code,omitempty"`
	URL             string                         `json:"url,omitempty"`
	Questionnaire   questionnaire.QuestionnaireRef `json:"questionnaire"`
	Language        string                         `json:"language"`
	PatientRef      string                         `json:"patientRef"`
	RegistrationRef string                         `json:"registrationRef,omitempty"`
	Unit            string                         `json:"unit,omitempty"`
	CreatedAt       time.Time                      `json:"createdAt"`
	ExpiresAt       time.Time                      `json:"expiresAt"`
	OpenedAt        *time.Time                     `json:"openedAt,omitempty"`
	SubmittedAt     *time.Time                     `json:"submittedAt,omitempty"`
	DeliveredAt     *time.Time                     `json:"deliveredAt,omitempty"`
	ClosedAt        *time.Time                     `json:"closedAt,omitempty"`
	ReissuedAt      *time.Time                     `json:"reissuedAt,omitempty"`
	SubmissionID    string                         `json:"submissionId,omitempty"`
	FormID          string                         `json:"formId,omitempty"`   // the registry's form GUID, for an order of HEMIT's API
	TestMode        bool                           `json:"testMode,omitempty"` // an order of HEMIT's API that returns nothing
	QR              string                         `json:"qr,omitempty"`
	QRSVG           string                         `json:"qrSvg,omitempty"`
	Slip            string                         `json:"slip,omitempty"`
	SlipURL         string                         `json:"slipUrl,omitempty"` // the slip for a browser without the API's header, for SlipLinkTTL, once
}

// respond builds the API view of an order; code is "" when not shown.
func (s *Server) respond(o *questionnaire.Order, code string) orderResponse {
	r := orderResponse{
		ID: o.ID, Status: o.Status, Questionnaire: o.Questionnaire, Language: o.Language,
		PatientRef: o.PatientRef, RegistrationRef: o.RegistrationRef, Unit: o.Unit,
		CreatedAt: o.CreatedAt, ExpiresAt: o.ExpiresAt, OpenedAt: o.OpenedAt, SubmittedAt: o.SubmittedAt,
		DeliveredAt: o.DeliveredAt, ClosedAt: o.ClosedAt, ReissuedAt: o.ReissuedAt,
	}
	if o.Hemit != nil {
		r.FormID, r.TestMode = o.Hemit.FormID, o.Hemit.TestMode
	}
	if o.DeliveredAt != nil {
		// Before delivery the envelope's id is the registry's to learn
		// from the envelope itself, not from the order.
		r.SubmissionID = o.SubmissionID
	}
	if o.Expired(s.now()) {
		r.Status = questionnaire.StatusExpired // the sweeper may not have run yet
	}
	if code != "" && r.Status.Open() {
		base := "/api/v1/orders/" + o.ID
		r.Code, r.URL = questionnaire.FormatCode(code), s.patientURL(code)
		r.QR, r.QRSVG, r.Slip = base+"/qr.png", base+"/qr.svg", base+"/slip"
		r.SlipURL = s.slipLink(o)
	}
	return r
}

// patientURL is the URL a code opens: {public-url}/c/{CODE}.
func (s *Server) patientURL(code string) string {
	return s.cfg.PublicURL + "/c/" + questionnaire.FormatCode(code)
}

// handleQuestionnaireList serves GET /api/v1/questionnaires.
func (s *Server) handleQuestionnaireList(c *fiber.Ctx) error {
	type entry struct {
		ID        string             `json:"id"`
		Version   string             `json:"version"`
		Digest    string             `json:"digest"`
		Latest    bool               `json:"latest"`
		Title     questionnaire.Text `json:"title"`
		Languages []string           `json:"languages"`
		Demo      bool               `json:"demo,omitempty"`
	}
	list := []entry{}
	for _, d := range s.cfg.Catalogue.List() {
		latest, _ := s.cfg.Catalogue.Get(d.ID, "")
		list = append(list, entry{ID: d.ID, Version: d.Version, Digest: d.Digest(), Latest: latest == d,
			Title: d.Title, Languages: d.Languages, Demo: d.Demo})
	}
	return c.JSON(fiber.Map{"questionnaires": list})
}

// handleOrderCreate serves POST /api/v1/orders.
func (s *Server) handleOrderCreate(c *fiber.Ctx) error {
	body := c.Body()
	var req questionnaire.OrderRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	now := s.now()
	o, err := questionnaire.NewOrder(&req, s.cfg.Catalogue, questionnaire.Orderer{Client: caller(c), Token: tokenPos(c)},
		locales.Languages, uuid.Must(uuid.NewV7()).String(), now)
	if err != nil {
		return err
	}
	idem, err := idempotency(c, caller(c), body, true)
	if err != nil {
		return err
	}
	got, code, created, err := s.cfg.Orders.CreateOrder(c.UserContext(), o, idem)
	if err != nil {
		return err
	}
	status, action := fiber.StatusCreated, "order.create"
	if !created {
		status, action = fiber.StatusOK, "order.create.replay"
	} else {
		s.metrics.order(questionnaire.StatusOrdered)
	}
	s.audit(c, action, got)
	c.Location("/api/v1/orders/" + got.ID)
	return c.Status(status).JSON(s.respond(got, code))
}

// idempotency reads an Idempotency-Key header for a create request: nil
// when there is none. The request is named by a hash of its canonical
// JSON body, or of its bytes when it is not JSON (a form).
func idempotency(c *fiber.Ctx, client *questionnaire.Client, body []byte, isJSON bool) (*store.Idempotency, error) {
	key := c.Get("Idempotency-Key")
	if key == "" {
		return nil, nil
	}
	if len(key) > 255 || !isPrintableASCII(key) {
		return nil, questionnaire.Errorf(questionnaire.EINVALID, "Idempotency-Key must be printable ASCII of at most 255 characters.")
	}
	canon := body
	if isJSON {
		var err error
		if canon, err = questionnaire.Canonical(body); err != nil {
			return nil, questionnaire.Errorf(questionnaire.EINVALID, "The body is not valid JSON.")
		}
	}
	return &store.Idempotency{Client: client.ID, Key: key, Hash: questionnaire.Digest(canon)}, nil
}

// handleOrderGet serves GET /api/v1/orders/:id.
func (s *Server) handleOrderGet(c *fiber.Ctx) error {
	o, err := s.order(c)
	if err != nil {
		return err
	}
	code := ""
	if o.Status.Open() && !o.Expired(s.now()) {
		if code, err = s.cfg.Orders.OrderCode(c.UserContext(), o.ID, s.now()); err != nil &&
			questionnaire.ErrorCode(err) != questionnaire.ECONFLICT {
			return err
		}
	}
	s.audit(c, "order.get", o)
	return c.JSON(s.respond(o, code))
}

// handleOrderCancel serves POST /api/v1/orders/:id/cancel.
func (s *Server) handleOrderCancel(c *fiber.Ctx) error {
	o, err := s.order(c)
	if err != nil {
		return err
	}
	o, err = s.cfg.Submissions.Cancel(c.UserContext(), o.ID, s.now())
	if err != nil {
		return err
	}
	s.audit(c, "order.cancel", o)
	s.metrics.order(o.Status)
	return c.JSON(s.respond(o, ""))
}

// handleOrderReissue serves POST /api/v1/orders/:id/reissue.
func (s *Server) handleOrderReissue(c *fiber.Ctx) error {
	o, err := s.order(c)
	if err != nil {
		return err
	}
	o, code, err := s.cfg.Orders.ReissueCode(c.UserContext(), o.ID, s.now())
	if err != nil {
		return err
	}
	s.audit(c, "order.reissue", o)
	return c.JSON(s.respond(o, code))
}

// order loads the order named in the path, if it is the caller's. Another
// client's order answers exactly as one that does not exist.
func (s *Server) order(c *fiber.Ctx) (*questionnaire.Order, error) {
	id := c.Params("id")
	if err := checkID(id); err != nil {
		return nil, err
	}
	o, err := s.cfg.Orders.Order(c.UserContext(), id)
	if questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND || err == nil && o.Owner() != caller(c).ID {
		return nil, noOrder(id)
	}
	return o, err
}

// noOrder is the answer for an order the caller cannot see.
func noOrder(id string) error {
	return questionnaire.Errorf(questionnaire.ENOTFOUND, "No order %q.", id)
}

// openOrderCode loads the order named in the path and its current code;
// ECONFLICT when the order is closed.
func (s *Server) openOrderCode(c *fiber.Ctx) (*questionnaire.Order, string, error) {
	o, err := s.order(c)
	if err != nil {
		return nil, "", err
	}
	code, err := s.cfg.Orders.OrderCode(c.UserContext(), o.ID, s.now())
	if err != nil {
		return nil, "", err
	}
	return o, code, nil
}

// checkID rejects ids that cannot be order ids before they reach the store.
func checkID(id string) error {
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return noOrder(id)
	}
	return nil
}

// audit records an order action: who (the client and the position of its
// token), what, which order. Never the code, the patient reference or
// answers.
func (s *Server) audit(c *fiber.Ctx, action string, o *questionnaire.Order) {
	s.auditAs(c).Info(action, "order", o.ID, "questionnaire", o.Questionnaire.ID,
		"version", o.Questionnaire.Version, "status", string(o.Status))
}

// decodeStrict decodes one JSON object into v: unknown fields and trailing
// data are errors that name what is wrong.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return questionnaire.Errorf(questionnaire.EINVALID, "The body is empty; send a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return questionnaire.Errorf(questionnaire.EINVALID, "The body is not valid JSON (at byte %d): %s.", se.Offset, se.Error())
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "The body"
			}
			return questionnaire.Errorf(questionnaire.EINVALID, "%s must be a JSON %s.", field, jsonTypeName(te.Type))
		case errors.Is(err, io.ErrUnexpectedEOF):
			return questionnaire.Errorf(questionnaire.EINVALID, "The body is not valid JSON: it ends too early.")
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return questionnaire.Errorf(questionnaire.EINVALID, "Unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
		case strings.Contains(err.Error(), "parsing time"):
			return questionnaire.Errorf(questionnaire.EINVALID, "expiresAt must be a time as RFC 3339, such as 2026-12-24T12:00:00+01:00.")
		default:
			return questionnaire.Errorf(questionnaire.EINVALID, "The body is not valid JSON.")
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return questionnaire.Errorf(questionnaire.EINVALID, "The body has data after the JSON object.")
	}
	// I-JSON (RFC 7493), as the definitions and HEMIT's API are read:
	// Go's decoder would turn invalid UTF-8 and a lone surrogate into
	// U+FFFD and let a repeated key win silently, so a patientRef could be
	// stored other than it was sent. The same rule with or without an
	// Idempotency-Key.
	if _, err := questionnaire.Canonical(body); err != nil {
		return questionnaire.Errorf(questionnaire.EINVALID, "The body is not I-JSON (RFC 7493): %s.", strings.Replace(err.Error(), "the file", "the body", 1))
	}
	return nil
}

// jsonTypeName names the JSON type a Go type is decoded from, for an
// error a registry's developer reads (never a Go type name).
func jsonTypeName(t reflect.Type) string {
	if t == reflect.TypeFor[time.Time]() {
		return "string (an RFC 3339 time)"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "whole number"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return "object"
}

func unprocessable(format string, args ...any) error {
	return questionnaire.Errorf(questionnaire.EUNPROCESSABLE, format, args...)
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
