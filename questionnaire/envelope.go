package questionnaire

import (
	"encoding/json"
	"time"
)

// Envelope types.
const (
	EnvelopeResponse = "response" // the patient's answers
	EnvelopeDeclined = "declined" // the patient declined to answer
	EnvelopeExpired  = "expired"  // the order expired unanswered
	// EnvelopeCancelled is a cancel, for a store.Reporter that tells the
	// client of it (HEMIT's); a cancel sends no envelope.
	EnvelopeCancelled = "cancelled"
)

// Envelope is the payload of a signed submission to the registry core
// (DESIGN.md §7). Its ID, a UUIDv7, is the idempotency key.
type Envelope struct {
	ID              string           `json:"id"`
	Type            string           `json:"type"`
	Reason          string           `json:"reason,omitempty"` // a decline's reason (DeclineNotNow, ...); omitted when none was given
	OrderID         string           `json:"orderId"`
	PatientRef      string           `json:"patientRef"`
	RegistrationRef string           `json:"registrationRef,omitempty"`
	Unit            string           `json:"unit,omitempty"`
	Questionnaire   QuestionnaireRef `json:"questionnaire"`
	Language        string           `json:"language"`
	OrderedAt       time.Time        `json:"orderedAt"`
	OpenedAt        *time.Time       `json:"openedAt,omitempty"`
	SubmittedAt     *time.Time       `json:"submittedAt,omitempty"`
	ExpiredAt       *time.Time       `json:"expiredAt,omitempty"`
	Answers         []AnswerJSON     `json:"answers"`
	Scores          []ScoreResult    `json:"scores"`
	Events          []Event          `json:"events"`
	// QuestionnaireResponse is, in a response envelope and only there, the
	// answers as an R4 QuestionnaireResponse (DESIGN.md §12), the
	// Response's.
	QuestionnaireResponse json.RawMessage `json:"questionnaireResponse,omitempty"`
}

// NewEnvelope builds the envelope of an order closed by a response, a
// decline or its expiry. r is nil for an expiry; events are then the
// draft's, if any.
func NewEnvelope(id string, o *Order, r *Response, events []Event) *Envelope {
	e := &Envelope{
		ID: id, OrderID: o.ID, PatientRef: o.PatientRef, RegistrationRef: o.RegistrationRef, Unit: o.Unit,
		Questionnaire: o.Questionnaire, Language: o.Language, OrderedAt: o.CreatedAt, OpenedAt: o.OpenedAt,
		Answers: []AnswerJSON{}, Scores: []ScoreResult{}, Events: events,
	}
	if e.Events == nil {
		e.Events = []Event{}
	}
	switch {
	case r == nil:
		e.Type, e.ExpiredAt = EnvelopeExpired, o.ClosedAt
	case r.Type == ResponseDeclined:
		e.Type, e.SubmittedAt, e.Events = EnvelopeDeclined, &r.SubmittedAt, r.Events
		e.Reason = r.Reason
	default:
		e.Type, e.SubmittedAt, e.Events = EnvelopeResponse, &r.SubmittedAt, r.Events
		e.Answers, e.Scores = r.Answers, r.Scores
		e.QuestionnaireResponse = r.QuestionnaireResponse
		e.Language = r.Language
	}
	if e.Answers == nil {
		e.Answers = []AnswerJSON{}
	}
	if e.Scores == nil {
		e.Scores = []ScoreResult{}
	}
	if e.Events == nil {
		e.Events = []Event{}
	}
	return e
}
