package hemit

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"eprom/questionnaire"
)

// CallbackPath is where both callbacks go, under the client's apiBaseUrl.
const CallbackPath = "/api/PromsFormOrder"

// FormOrderStatus values, as HEMIT writes them (enum names).
const (
	StatusCompleted = "Completed"
	StatusExpired   = "Expired"
	StatusOrdered   = "Ordered"
	StatusError     = "Error"
)

// ZeroID is the all-zero GUID of a form that was not signed or scanned.
const ZeroID = "00000000-0000-0000-0000-000000000000"

// Timestamp formats: HEMIT's local time has no offset and seven
// fractional digits; its UTC time ends in Z.
const (
	localLayout = "2006-01-02T15:04:05.0000000"
	utcLayout   = "2006-01-02T15:04:05.0000000Z"
)

// StatusCallback is the order-status callback (HEMIT's
// PromsFormOrderRequest with formOrderStatus Ordered or Error).
type StatusCallback struct {
	APIKey                   string `json:"apiKey"`
	FormOrderID              string `json:"formOrderId"`
	NotificationChannel      int    `json:"notificationChannel"`
	Timestamp                string `json:"timestamp"`
	TimestampUtc             string `json:"timestampUtc"`
	FormOrderStatus          string `json:"formOrderStatus"`
	FormOrderStatusErrorCode string `json:"formOrderStatusErrorCode"`
}

// Ordered is the status callback of an order placed at, reached by the
// patient through its single-use code (notificationChannel None).
func Ordered(apiKey, orderID string, at time.Time) ([]byte, error) {
	return json.Marshal(StatusCallback{
		APIKey: apiKey, FormOrderID: orderID, NotificationChannel: ChannelNone,
		Timestamp: at.In(Oslo).Format(localLayout), TimestampUtc: at.UTC().Format(utcLayout),
		FormOrderStatus: StatusOrdered, FormOrderStatusErrorCode: "None",
	})
}

// ReturnCallback is the callback that returns the form (HEMIT's
// PromsFormOrderRequest with formOrderStatus Completed or Expired).
type ReturnCallback struct {
	APIKey                 string        `json:"apiKey"`
	FormOrderID            string        `json:"formOrderId"`
	FormData               string        `json:"formData"` // a JSON object, serialised into a string
	FormOrderStatus        string        `json:"formOrderStatus"`
	SignedFormID           string        `json:"signedFormId"`
	Timestamp              string        `json:"timestamp"`
	ScannedPaperID         string        `json:"scannedPaperId"`
	FormDataWarnings       []Warning     `json:"formDataWarnings"`
	NotificationChannel    int           `json:"notificationChannel"`
	IsPatientInitiated     bool          `json:"isPatientInitiated"`
	PatientInitiatedValues *struct{}     `json:"patientInitiatedValues"`
	FormOrderEventLog      []EventLogRow `json:"formOrderEventLog"`
	// Not HEMIT's: why an order closed before its expiry with no answers,
	// and the metadata keys that prefilled nothing. Receivers that do not
	// know them ignore them, as .NET's and JavaScript's JSON readers do.
	Declined      bool   `json:"declined,omitempty"`
	Cancelled     bool   `json:"cancelled,omitempty"`
	DeclineReason string `json:"declineReason,omitempty"`
	Metadata      string `json:"metadata,omitempty"`
}

// Warning is one of formDataWarnings; this service sends none.
type Warning struct {
	FieldName string `json:"fieldName"`
	Warning   string `json:"warning"`
}

// EventLogRow is one of formOrderEventLog.
type EventLogRow struct {
	EventType    string `json:"eventType"`
	QuestionID   string `json:"questionId,omitempty"`
	TimestampUtc string `json:"timestampUtc"`
}

// eventUTC is the event log's timestamp: UTC, milliseconds, with Z (HEMIT's
// own example has a space and no Z; ISO 8601 with Z is what every JSON
// reader parses as UTC).
const eventUTC = "2006-01-02T15:04:05.000Z"

// Return builds the return callback of an order closed with env: its
// answers (Completed), or none (Expired, also for a declined or cancelled
// order, which HEMIT has no status for: the registry learns that no answer
// will come, at once and as it knows it).
func Return(apiKey string, def *questionnaire.Definition, o *questionnaire.Order, env *questionnaire.Envelope) ([]byte, error) {
	cb := ReturnCallback{
		APIKey: apiKey, FormOrderID: o.ID, SignedFormID: ZeroID, ScannedPaperID: ZeroID,
		FormDataWarnings: []Warning{}, NotificationChannel: ChannelNone,
		FormOrderEventLog: EventLog(def, env.Events),
	}
	if o.Hemit != nil {
		cb.Metadata = o.Hemit.Metadata
	}
	at := o.UpdatedAt
	switch env.Type {
	case questionnaire.EnvelopeResponse:
		cb.FormOrderStatus = StatusCompleted
		data, err := FormData(def, env.Answers)
		if err != nil {
			return nil, err
		}
		cb.FormData = data
		at = *env.SubmittedAt
	case questionnaire.EnvelopeDeclined:
		cb.FormOrderStatus, cb.FormData, cb.Declined, cb.DeclineReason = StatusExpired, "{}", true, env.Reason
		at = *env.SubmittedAt
	case questionnaire.EnvelopeCancelled:
		cb.FormOrderStatus, cb.FormData, cb.Cancelled = StatusExpired, "{}", true
	default:
		// When it expired, not when the sweep noticed.
		cb.FormOrderStatus, cb.FormData, at = StatusExpired, "{}", o.ExpiresAt
	}
	cb.Timestamp = at.In(Oslo).Format(time.RFC3339)
	return json.Marshal(cb)
}

// FormData writes the answers as HEMIT's formData: a JSON object keyed by
// linkId, in the definition's order, serialised into a string. A choice's
// value is a number when it is written as one ("2" → 2), else a string; a
// multichoice is an array of those; numbers are numbers, booleans
// booleans, dates "YYYY-MM-DD", texts strings. The patient's own answer
// beside a choice's options is a string under linkId + ":other".
// Unanswered questions are left out.
func FormData(def *questionnaire.Definition, answers []questionnaire.AnswerJSON) (string, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	w := objectWriter{buf: &buf}
	for _, a := range answers {
		it := def.Item(a.LinkID)
		if it == nil {
			continue
		}
		switch v := a.Value.(type) {
		case string:
			if it.Type == questionnaire.Choice {
				w.raw(a.LinkID, choiceJSON(v))
			} else {
				w.field(a.LinkID, v)
			}
		case []string:
			parts := make([][]byte, len(v))
			for i, s := range v {
				parts[i] = choiceJSON(s)
			}
			w.raw(a.LinkID, append(append([]byte("["), bytes.Join(parts, []byte(","))...), ']'))
		case nil:
			// a choice answered only with the patient's own answer
		default: // numbers, booleans
			w.field(a.LinkID, v)
		}
		if a.Other != "" {
			w.field(a.LinkID+questionnaire.OtherSuffix, a.Other)
		}
	}
	buf.WriteByte('}')
	return buf.String(), w.err
}

// choiceJSON is an option's value as formData holds it.
func choiceJSON(v string) json.RawMessage {
	if numberLiteral.MatchString(v) {
		return json.RawMessage(v)
	}
	raw, _ := json.Marshal(v)
	return raw
}

// EventLog turns the patient's events into HEMIT's event log: the code
// used (FormOpened), each question of a page the patient sent on
// (QuestionAccessed with its linkId), and the form sent (FormDelivered).
func EventLog(def *questionnaire.Definition, events []questionnaire.Event) []EventLogRow {
	rows := []EventLogRow{}
	pages := def.Pages()
	for _, e := range events {
		at := e.At.UTC().Format(eventUTC)
		switch e.Type {
		case questionnaire.EventOpened:
			rows = append(rows, EventLogRow{EventType: "FormOpened", TimestampUtc: at})
		case questionnaire.EventPage:
			if e.Page < 1 || e.Page > len(pages) {
				continue
			}
			for _, it := range pages[e.Page-1].Questions() {
				rows = append(rows, EventLogRow{EventType: "QuestionAccessed", QuestionID: it.LinkID, TimestampUtc: at})
			}
		case questionnaire.EventSubmitted:
			rows = append(rows, EventLogRow{EventType: "FormDelivered", TimestampUtc: at})
		}
	}
	return rows
}

// Success reads the receiver's answer to a callback: {"success": true}
// (the key in any case) is delivery; {"success": false}, anything else or
// nothing is to be tried again.
func Success(body []byte) bool {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return false
	}
	for k, v := range obj {
		if strings.EqualFold(k, "success") && string(bytes.TrimSpace(v)) == "true" {
			return true
		}
	}
	return false
}
