package questionnaire_test

import (
	"encoding/json"
	"testing"
	"time"

	"eprom/questionnaire"
)

func TestDeclineReasons(t *testing.T) {
	for _, s := range []string{"", questionnaire.DeclineNotNow, questionnaire.DeclineThisForm, questionnaire.DeclineReservation} {
		if !questionnaire.ValidDeclineReason(s) {
			t.Errorf("ValidDeclineReason(%q) = false", s)
		}
	}
	for _, s := range []string{"no", "Reservation", "not now", " reservation", "reservation "} {
		if questionnaire.ValidDeclineReason(s) {
			t.Errorf("ValidDeclineReason(%q) = true", s)
		}
	}
	if questionnaire.DeclineNotNow != "not-now" || questionnaire.DeclineThisForm != "not-this-form" || questionnaire.DeclineReservation != "reservation" {
		t.Error("the reasons' wire values changed; registries read them")
	}

	tests := []struct {
		typ, reason string
		ok          bool
	}{
		{questionnaire.ResponseDeclined, "", true},
		{questionnaire.ResponseDeclined, questionnaire.DeclineReservation, true},
		{questionnaire.ResponseDeclined, "tired", false},
		{questionnaire.ResponseAnswered, "", true},
		{questionnaire.ResponseAnswered, questionnaire.DeclineNotNow, false},
	}
	for _, tt := range tests {
		r := &questionnaire.Response{Type: tt.typ, Reason: tt.reason}
		err := r.CheckReason()
		if (err == nil) != tt.ok || (err != nil && questionnaire.ErrorCode(err) != questionnaire.EUNPROCESSABLE) {
			t.Errorf("%s with reason %q: %v", tt.typ, tt.reason, err)
		}
	}
}

// payload builds an envelope and decodes its JSON as a registry would.
func payload(t *testing.T, o *questionnaire.Order, r *questionnaire.Response) map[string]any {
	t.Helper()
	b, err := json.Marshal(questionnaire.NewEnvelope("019ac1e2-0000-7000-8000-000000000001", o, r, nil))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEnvelopeReason(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	o := &questionnaire.Order{ID: "o-1", PatientRef: "p", Language: "nb", CreatedAt: at,
		Questionnaire: questionnaire.QuestionnaireRef{ID: "audit", Version: "1.1.0", Digest: "sha256:00"}}

	t.Run("a decline carries its reason", func(t *testing.T) {
		for _, reason := range questionnaire.DeclineReasons {
			m := payload(t, o, &questionnaire.Response{OrderID: o.ID, Type: questionnaire.ResponseDeclined, Reason: reason, SubmittedAt: at})
			if m["type"] != "declined" || m["reason"] != reason {
				t.Errorf("type %v reason %v, want declined %q", m["type"], m["reason"], reason)
			}
			if a, _ := m["answers"].([]any); len(a) != 0 {
				t.Errorf("a decline with answers: %v", m["answers"])
			}
		}
	})

	t.Run("a decline without a reason has no reason field", func(t *testing.T) {
		m := payload(t, o, &questionnaire.Response{OrderID: o.ID, Type: questionnaire.ResponseDeclined, SubmittedAt: at})
		if _, ok := m["reason"]; ok || m["type"] != "declined" {
			t.Errorf("payload %v", m)
		}
	})

	t.Run("a response and an expiry have none", func(t *testing.T) {
		m := payload(t, o, &questionnaire.Response{OrderID: o.ID, Type: questionnaire.ResponseAnswered, Reason: questionnaire.DeclineNotNow, SubmittedAt: at})
		if _, ok := m["reason"]; ok || m["type"] != "response" {
			t.Errorf("response payload %v", m)
		}
		closed := *o
		closed.ClosedAt = &at
		m = payload(t, &closed, nil)
		if _, ok := m["reason"]; ok || m["type"] != "expired" {
			t.Errorf("expired payload %v", m)
		}
	})
}

func TestEnvelopeQuestionnaireResponse(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	o := &questionnaire.Order{ID: "o-1", PatientRef: "p", Language: "nb", CreatedAt: at, ClosedAt: &at,
		Questionnaire: questionnaire.QuestionnaireRef{ID: "audit", Version: "1.1.0", Digest: "sha256:00"}}
	qr := json.RawMessage(`{"resourceType": "QuestionnaireResponse", "status": "completed"}`)

	t.Run("a response carries it as it was made", func(t *testing.T) {
		m := payload(t, o, &questionnaire.Response{OrderID: o.ID, Type: questionnaire.ResponseAnswered, SubmittedAt: at, QuestionnaireResponse: qr})
		got, ok := m["questionnaireResponse"].(map[string]any)
		if !ok || got["resourceType"] != "QuestionnaireResponse" || got["status"] != "completed" || len(got) != 2 {
			t.Errorf("questionnaireResponse %v", m["questionnaireResponse"])
		}
	})

	t.Run("a decline and an expiry have none", func(t *testing.T) {
		for _, r := range []*questionnaire.Response{
			{OrderID: o.ID, Type: questionnaire.ResponseDeclined, SubmittedAt: at, QuestionnaireResponse: qr},
			nil,
		} {
			if m := payload(t, o, r); m["questionnaireResponse"] != nil {
				t.Errorf("a %v envelope with a questionnaireResponse", m["type"])
			}
		}
	})
}
