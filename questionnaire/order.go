package questionnaire

import (
	"crypto/rand"
	"strings"
	"time"
)

// Status is where an order is in its life.
type Status string

// The order statuses: ordered → opened → in_progress → submitted →
// delivered, or declined, cancelled, expired.
const (
	StatusOrdered    Status = "ordered"
	StatusOpened     Status = "opened"
	StatusInProgress Status = "in_progress"
	StatusSubmitted  Status = "submitted"
	StatusDelivered  Status = "delivered"
	StatusDeclined   Status = "declined"
	StatusCancelled  Status = "cancelled"
	StatusExpired    Status = "expired"
)

// Open reports whether the patient can still answer: the order is ordered,
// opened or in progress. A closed order's code no longer works.
func (s Status) Open() bool {
	return s == StatusOrdered || s == StatusOpened || s == StatusInProgress
}

// Order limits.
const (
	DefaultOrderTTL = 14 * 24 * time.Hour // how long a code works unless the order says otherwise
	MaxOrderTTL     = 90 * 24 * time.Hour // the longest an order may stay open
	MinOrderTTL     = 5 * time.Minute     // the shortest expiry an order may ask for
	MaxRefLength    = 128                 // patientRef, registrationRef and unit, in characters
)

// QuestionnaireRef pins one version of a definition by its digest.
type QuestionnaireRef struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
}

// Order is one questionnaire ordered for one patient. It never holds the
// code in clear, nor the answers.
type Order struct {
	ID              string           `json:"id"`
	Status          Status           `json:"status"`
	Questionnaire   QuestionnaireRef `json:"questionnaire"`
	Language        string           `json:"language"`
	PatientRef      string           `json:"patientRef"`
	RegistrationRef string           `json:"registrationRef,omitempty"`
	Unit            string           `json:"unit,omitempty"`
	OrderedBy       string           `json:"orderedBy"` // the API token's name
	CodeGeneration  int              `json:"codeGeneration"`
	SubmissionID    string           `json:"submissionId,omitempty"` // the envelope sent when the order closed

	CreatedAt   time.Time  `json:"createdAt"`
	ExpiresAt   time.Time  `json:"expiresAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	OpenedAt    *time.Time `json:"openedAt,omitempty"`
	SubmittedAt *time.Time `json:"submittedAt,omitempty"`
	DeliveredAt *time.Time `json:"deliveredAt,omitempty"`
	ClosedAt    *time.Time `json:"closedAt,omitempty"` // declined, cancelled or expired
	ReissuedAt  *time.Time `json:"reissuedAt,omitempty"`
}

// Expired reports whether the order is past its expiry at now, whether or
// not the sweeper has marked it yet.
func (o *Order) Expired(now time.Time) bool {
	return o.Status == StatusExpired || (o.Status.Open() && !now.Before(o.ExpiresAt))
}

// Cancel moves an open order to cancelled. Returns ECONFLICT when the order
// is already closed.
func (o *Order) Cancel(now time.Time) error {
	if err := o.mustBeOpen(now, "cancelled"); err != nil {
		return err
	}
	o.close(StatusCancelled, now)
	return nil
}

// Reissue prepares an open order for a new code: the old code stops
// working. Returns ECONFLICT when the order is closed.
func (o *Order) Reissue(now time.Time) error {
	if err := o.mustBeOpen(now, "reissued"); err != nil {
		return err
	}
	o.CodeGeneration++
	o.ReissuedAt, o.UpdatedAt = &now, now
	return nil
}

// Expire moves an open order past its expiry to expired; it reports whether
// it did.
func (o *Order) Expire(now time.Time) bool {
	if !o.Status.Open() || now.Before(o.ExpiresAt) {
		return false
	}
	o.close(StatusExpired, now)
	return true
}

func (o *Order) close(s Status, now time.Time) {
	o.Status, o.ClosedAt, o.UpdatedAt = s, &now, now
}

func (o *Order) mustBeOpen(now time.Time, what string) error {
	if o.Expired(now) {
		return Errorf(ECONFLICT, "order %s has expired and cannot be %s", o.ID, what)
	}
	if !o.Status.Open() {
		return Errorf(ECONFLICT, "order %s is %s and cannot be %s", o.ID, o.Status, what)
	}
	return nil
}

// Codes are 10 symbols of Crockford's base32, 50 random bits, shown in two
// groups of five: 7KQM2-XPD9R.
const (
	CodeLength   = 10
	codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

// NewCode returns a new random code, normalized (no hyphen).
func NewCode() string {
	var b [CodeLength]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	for i := range b {
		b[i] = codeAlphabet[b[i]&31] // 256 is a multiple of 32: no bias
	}
	return string(b[:])
}

// NormalizeCode turns what a person typed into a code: case, spaces and
// hyphens are ignored, O reads as 0 and I and L as 1. ok is false when the
// result is not a well-formed code.
func NormalizeCode(s string) (code string, ok bool) {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == ' ' || r == '-' || r == '\t' || r == '\u00a0' || r == '\u2010' || r == '\u2011' || r == '\u2013':
			continue
		case r == 'O':
			r = '0'
		case r == 'I' || r == 'L':
			r = '1'
		}
		if r > 127 || strings.IndexByte(codeAlphabet, byte(r)) < 0 {
			return "", false
		}
		b.WriteRune(r)
		if b.Len() > CodeLength {
			return "", false
		}
	}
	if b.Len() != CodeLength {
		return "", false
	}
	return b.String(), true
}

// FormatCode shows a normalized code in its two groups: 7KQM2-XPD9R.
func FormatCode(code string) string {
	if len(code) != CodeLength {
		return code
	}
	return code[:5] + "-" + code[5:]
}
