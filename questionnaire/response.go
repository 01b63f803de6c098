package questionnaire

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"
)

// Event types in an order's log, sent with the response.
const (
	EventOpened    = "opened"    // the code was used to start or resume
	EventPage      = "page"      // a page was posted
	EventSaved     = "saved"     // the patient chose to save and leave
	EventSubmitted = "submitted" // the patient sent the answers
	EventDeclined  = "declined"  // the patient declined to answer
)

// MaxEvents bounds an order's event log; later events are dropped.
const MaxEvents = 500

// Event is one entry in an order's log.
type Event struct {
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	Page int       `json:"page,omitempty"` // 1-based, for EventPage
}

// Draft is a patient's answers so far: form values by linkId (as
// Value.Form gives them), the page last seen and the event log.
type Draft struct {
	Answers map[string][]string `json:"answers"`
	// Typed holds what the patient typed for a question that could not be
	// kept as an answer (not a number, out of range…), as typed, so that
	// leaving the page loses nothing; it is never sent.
	Typed  map[string][]string `json:"typed,omitempty"`
	Page   int                 `json:"page"`             // 0-based index of the page last shown
	Device string              `json:"device,omitempty"` // a short hash of the session that saved last, to notice a second device
	// Stamps holds, by page number, the script's stamp of the page's last
	// post, so that an autosave that arrives after a later post is ignored.
	Stamps    map[int]int64 `json:"stamps,omitempty"`
	Events    []Event       `json:"events"`
	UpdatedAt time.Time     `json:"updatedAt"`
}

// Clone returns a deep copy of the draft: nothing of it (maps, slices) is
// shared with d.
func (d *Draft) Clone() *Draft {
	c := *d
	c.Answers, c.Typed = cloneValues(d.Answers), cloneValues(d.Typed)
	c.Stamps = maps.Clone(d.Stamps)
	c.Events = slices.Clone(d.Events)
	return &c
}

// cloneValues copies form values, each list too.
func cloneValues(v map[string][]string) map[string][]string {
	if v == nil {
		return nil
	}
	c := make(map[string][]string, len(v))
	for k, l := range v {
		c[k] = slices.Clone(l)
	}
	return c
}

// Start fills a new draft (never opened: no events) from the order's
// Prefill; a draft opened before is left alone, so an answer the patient
// withdrew never comes back.
func (d *Draft) Start(o *Order) {
	if len(d.Events) > 0 || len(d.Answers) > 0 {
		return
	}
	if d.Answers == nil {
		d.Answers = map[string][]string{}
	}
	for k, v := range o.Prefill {
		d.Answers[k] = slices.Clone(v)
	}
}

// AddEvent appends an event, up to MaxEvents.
func (d *Draft) AddEvent(e Event) {
	if len(d.Events) < MaxEvents {
		d.Events = append(d.Events, e)
	}
}

// Response is a validated, scored submission, or a decline: what goes to
// the registry for one order.
type Response struct {
	OrderID     string        `json:"orderId"`
	Type        string        `json:"type"`             // "response" or "declined"
	Reason      string        `json:"reason,omitempty"` // a decline's reason, one of the Decline constants; "" for none given
	Language    string        `json:"language"`
	Answers     []AnswerJSON  `json:"answers"`
	Scores      []ScoreResult `json:"scores"`
	Events      []Event       `json:"events"`
	SubmittedAt time.Time     `json:"submittedAt"`
	Device      string        `json:"-"` // which session sent it (kept on the order as ClosedBy, never sent)
	// QuestionnaireResponse is an answered response as an R4
	// QuestionnaireResponse, for the envelope; package questionnaire/fhir
	// builds it (fhir.QuestionnaireResponse), since this package knows no
	// FHIR. A decline has none.
	QuestionnaireResponse json.RawMessage `json:"questionnaireResponse,omitempty"`
}

// Response types.
const (
	ResponseAnswered = "response"
	ResponseDeclined = "declined"
)

// The reasons a patient may give for declining. Giving one is optional:
// "" is a decline without a reason.
const (
	DeclineNotNow      = "not-now"       // not now: the patient may answer another time
	DeclineThisForm    = "not-this-form" // not this questionnaire
	DeclineReservation = "reservation"   // the patient does not want their information in the registry (the right to reservation)
)

// DeclineReasons lists the reasons a patient may give, in the order a page
// offers them.
var DeclineReasons = []string{DeclineNotNow, DeclineThisForm, DeclineReservation}

// ValidDeclineReason reports whether s is a reason a decline may carry:
// one of DeclineReasons, or "" for none given.
func ValidDeclineReason(s string) bool {
	return s == "" || slices.Contains(DeclineReasons, s)
}

// CheckReason returns EUNPROCESSABLE when the response's reason is not one
// it may carry: only a decline has one, and only one of DeclineReasons.
func (r *Response) CheckReason() error {
	switch {
	case r.Reason == "":
		return nil
	case r.Type != ResponseDeclined:
		return Errorf(EUNPROCESSABLE, "only a decline carries a reason; a %s has %q", r.Type, r.Reason)
	case !ValidDeclineReason(r.Reason):
		return Errorf(EUNPROCESSABLE, "%q is not a reason to decline; want one of %s", r.Reason, strings.Join(DeclineReasons, ", "))
	}
	return nil
}

// Open marks the order opened when it is used for the first time.
func (o *Order) Open(now time.Time) {
	if o.Status == StatusOrdered {
		o.Status, o.OpenedAt = StatusOpened, &now
	}
	o.UpdatedAt = now
}

// Progress marks an opened order in progress.
func (o *Order) Progress(now time.Time) {
	if o.Status == StatusOpened || o.Status == StatusOrdered {
		if o.OpenedAt == nil {
			o.OpenedAt = &now
		}
		o.Status = StatusInProgress
	}
	o.UpdatedAt = now
}

// Submit moves an open order to submitted. Returns ECONFLICT when it is
// closed, so a second submit of one order cannot succeed.
func (o *Order) Submit(now time.Time) error {
	if err := o.mustBeOpen(now, "submitted"); err != nil {
		return err
	}
	o.Status, o.SubmittedAt, o.UpdatedAt = StatusSubmitted, &now, now
	return nil
}

// Deliver records that the order's envelope reached the registry.
func (o *Order) Deliver(now time.Time) {
	o.DeliveredAt, o.UpdatedAt = &now, now
	if o.Status == StatusSubmitted {
		o.Status = StatusDelivered
	}
}

// Decline moves an open order to declined. Returns ECONFLICT when closed.
func (o *Order) Decline(now time.Time) error {
	if err := o.mustBeOpen(now, "declined"); err != nil {
		return err
	}
	o.close(StatusDeclined, now)
	return nil
}
