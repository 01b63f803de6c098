package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"eprom/questionnaire"
	redisstore "eprom/store/redis"

	"github.com/google/uuid"
)

// answer is what a call answered: its status and body, with the id it was
// about replaced by ID, so that answers about two ids compare.
type answer struct {
	status int
	body   string
}

func (h *harness) answer(method, path, id, auth string) answer {
	h.t.Helper()
	body := ""
	if method == "POST" && strings.HasSuffix(path, "/orders") {
		body = `{"questionnaire": "audit", "patientRef": "p"}`
	}
	resp := h.do(method, strings.ReplaceAll(path, "ID", id), body, "Authorization", "Bearer "+auth)
	return answer{resp.StatusCode, strings.ReplaceAll(string(readAll(h.t, resp)), id, "ID")}
}

// Every /api/v1 call on another client's order or envelope answers exactly
// as for one that does not exist, on both stores.
func TestClientsAreIsolated(t *testing.T) {
	onBothStores(t, func(t *testing.T, store []option) {
		h := newHarness(t, store...)
		ctx := t.Context()
		orderID, _ := h.order("audit", "nb")
		unknown := uuid.Must(uuid.NewV7()).String()

		t.Run("another client's order is an unknown order", func(t *testing.T) {
			for _, route := range []string{"GET /api/v1/orders/ID", "POST /api/v1/orders/ID/cancel", "POST /api/v1/orders/ID/reissue",
				"GET /api/v1/orders/ID/qr.png", "GET /api/v1/orders/ID/qr.svg", "GET /api/v1/orders/ID/slip"} {
				method, path, _ := strings.Cut(route, " ")
				theirs := h.answer(method, path, orderID, otherToken)
				none := h.answer(method, path, unknown, otherToken)
				if theirs.status != http.StatusNotFound || theirs != none {
					t.Errorf("%s: on another's order %d %s; on an unknown one %d %s", route, theirs.status, theirs.body, none.status, none.body)
				}
			}
			if o, _ := h.store.Order(ctx, orderID); !o.Status.Open() || o.ReissuedAt != nil {
				t.Fatalf("another client changed the order: %+v", o)
			}
			if mine := h.answer("GET", "/api/v1/orders/ID", orderID, token); mine.status != 200 || !strings.Contains(mine.body, `"code"`) {
				t.Fatalf("the owner: %d %s", mine.status, mine.body)
			}
		})

		t.Run("idempotency keys are per client", func(t *testing.T) {
			body := `{"questionnaire": "audit", "patientRef": "p"}`
			a := decode(t, h.do("POST", "/api/v1/orders", body, "Idempotency-Key", "same"))
			b := decode(t, h.do("POST", "/api/v1/orders", body, "Idempotency-Key", "same", "Authorization", "Bearer "+otherToken))
			if a["id"] == nil || a["id"] == b["id"] {
				t.Fatalf("one order for two clients: %v %v", a, b)
			}
		})

		t.Run("a questionnaire the client may not order is 403", func(t *testing.T) {
			resp := h.do("POST", "/api/v1/orders", `{"questionnaire": "audit", "patientRef": "p"}`, "Authorization", "Bearer "+kvarusToken)
			e := wantError(t, resp, http.StatusForbidden, questionnaire.EFORBIDDEN)
			if !strings.Contains(e["message"].(string), "kvarus-*") {
				t.Errorf("the message does not say what it may order: %v", e)
			}
			if resp := h.do("POST", "/api/v1/orders", `{"questionnaire": "kvarus-erfaring", "patientRef": "p"}`, "Authorization", "Bearer "+kvarusToken); resp.StatusCode != 201 {
				t.Errorf("an allowed questionnaire: %d", resp.StatusCode)
			}
			wantError(t, h.do("GET", "/api/v1/submissions", "", "Authorization", "Bearer "+kvarusToken), http.StatusForbidden, questionnaire.EFORBIDDEN)
		})

		submitted := h.submittedOrder()
		o, _ := h.store.Order(ctx, submitted)
		envelope := o.SubmissionID

		t.Run("the order does not show its envelope's id before delivery", func(t *testing.T) {
			if got := h.answer("GET", "/api/v1/orders/ID", submitted, token); strings.Contains(got.body, envelope) || strings.Contains(got.body, "submissionId") {
				t.Fatalf("%s", got.body)
			}
		})

		t.Run("acks without the lease are refused", func(t *testing.T) {
			const ack = "/api/v1/submissions/ID/ack"
			if got := h.answer("POST", ack, envelope, token); got.status != http.StatusConflict || !strings.Contains(got.body, questionnaire.ELEASE) {
				t.Errorf("an ack before any lease: %d %s", got.status, got.body)
			}
			if m := decode(t, h.do("GET", "/api/v1/submissions", "", "Authorization", "Bearer "+otherToken)); len(m["submissions"].([]any)) != 0 {
				t.Fatalf("another client leased the envelope: %v", m)
			}
			theirs, none := h.answer("POST", ack, envelope, otherToken), h.answer("POST", ack, unknown, otherToken)
			if theirs.status != http.StatusNotFound || theirs != none {
				t.Errorf("another client's ack: %d %s; of an unknown id %d %s", theirs.status, theirs.body, none.status, none.body)
			}
			if got := h.answer("POST", ack, unknown, token); got.status != http.StatusNotFound {
				t.Errorf("an unknown id: %d %s", got.status, got.body)
			}
			// Held by the push worker.
			if got, _ := h.store.Receive(ctx, "push", 10, time.Minute, h.clock.Now(), nil); len(got) != 1 {
				t.Fatalf("push received %d", len(got))
			}
			if got := h.answer("POST", ack, envelope, token); got.status != http.StatusConflict || !strings.Contains(got.body, "push") {
				t.Errorf("an ack of an envelope push holds: %d %s", got.status, got.body)
			}
			if m, err := h.store.Message(ctx, envelope); err != nil || m.LeaseHolder != "push" {
				t.Fatalf("the refused acks changed the envelope: %+v %v", m, err)
			}
		})

		t.Run("the holder's ack delivers, and the audit log names the envelopes", func(t *testing.T) {
			h.clock.Add(2 * time.Minute) // push's lease lapses
			m := decode(t, h.do("GET", "/api/v1/submissions?lease=60", ""))
			if subs := m["submissions"].([]any); len(subs) != 1 || subs[0].(map[string]any)["id"] != envelope {
				t.Fatalf("the owner's pull: %v", m)
			}
			h.clock.Add(61 * time.Second)
			if got := h.answer("POST", "/api/v1/submissions/ID/ack", envelope, token); got.status != http.StatusConflict || !strings.Contains(got.body, "ended") {
				t.Errorf("an ack after the lease lapsed: %d %s", got.status, got.body)
			}
			decode(t, h.do("GET", "/api/v1/submissions?lease=60", ""))
			for range 2 { // twice is fine
				if got := h.answer("POST", "/api/v1/submissions/ID/ack", envelope, token); got.status != 200 {
					t.Fatalf("the holder's ack: %d %s", got.status, got.body)
				}
			}
			if got := h.answer("GET", "/api/v1/orders/ID", submitted, token); !strings.Contains(got.body, `"status":"delivered"`) || !strings.Contains(got.body, envelope) {
				t.Errorf("after delivery: %s", got.body)
			}
			if log := h.audit.String(); !strings.Contains(log, `"msg":"submissions.lease","client":"registry","token":2`) || !strings.Contains(log, envelope) {
				t.Errorf("the audit log does not name the client and the envelopes leased:\n%s", log)
			}
		})

		if len(store) > 0 { // on Redis
			t.Run("acks of unknown and foreign ids leave nothing in Redis", func(t *testing.T) {
				rdb := h.cfg.SharedLeases.(*redisstore.Store).Client()
				keys, err := rdb.Keys(ctx, h.redis+"ack:*").Result()
				if err != nil || len(keys) != 0 {
					t.Fatalf("ack keys %v, %v", keys, err)
				}
			})
		}
	})
}
