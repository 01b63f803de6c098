package web_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/store/signing"
)

// submittedOrder answers and submits an audit order through the pages.
func (h *harness) submittedOrder() string {
	h.t.Helper()
	id, code := h.order("audit", "nb")
	b := h.browser()
	p := b.enter(code)
	p = b.follow(b.answer(p, 1, "next", auditPage1))
	review := b.follow(b.answer(p, 2, "review", auditPage2))
	if p := b.post("/q/submit", review, url.Values{}); p.status != 303 {
		h.t.Fatalf("submit: %d", p.status)
	}
	return id
}

func TestPullAPI(t *testing.T) {
	h := newHarness(t)
	orderID := h.submittedOrder()

	resp := h.do("GET", "/api/v1/submissions?limit=5&lease=60", "")
	m := decode(t, resp)
	subs, _ := m["submissions"].([]any)
	if resp.StatusCode != 200 || len(subs) != 1 {
		t.Fatalf("%d %v", resp.StatusCode, m)
	}
	sub := subs[0].(map[string]any)
	if sub["orderId"] != orderID || sub["type"] != "response" || sub["leaseUntil"] != "2026-11-25T10:01:00Z" {
		t.Errorf("%v", sub)
	}

	t.Run("the JWS verifies against the published JWKS", func(t *testing.T) {
		jwks := h.do("GET", "/.well-known/jwks.json", "", "Authorization", "")
		if jwks.StatusCode != 200 || jwks.Header.Get("Cache-Control") != "public, max-age=60" {
			t.Fatalf("%d %v", jwks.StatusCode, jwks.Header)
		}
		raw := readAll(t, jwks)
		set, err := signing.ParseJWKS(raw)
		if err != nil || len(set.Keys) != 1 || set.Keys[0].Algorithm != "EdDSA" {
			t.Fatalf("%s %v", raw, err)
		}
		payload, kid, err := signing.Verify(sub["jws"].(string), set)
		if err != nil || kid != sub["kid"] {
			t.Fatal(err)
		}
		if len(payload) == 0 {
			t.Fatal("empty payload")
		}
	})

	t.Run("a leased envelope is not leased again until the lease lapses", func(t *testing.T) {
		if m := decode(t, h.do("GET", "/api/v1/submissions", "")); len(m["submissions"].([]any)) != 0 {
			t.Fatalf("leased twice: %v", m)
		}
		h.clock.Add(61 * time.Second)
		if m := decode(t, h.do("GET", "/api/v1/submissions?lease=60", "")); len(m["submissions"].([]any)) != 1 {
			t.Fatalf("the lapsed lease did not come back: %v", m)
		}
	})

	t.Run("ack delivers; the order says so; a second ack is fine", func(t *testing.T) {
		id := sub["id"].(string)
		for range 2 {
			resp := h.do("POST", "/api/v1/submissions/"+id+"/ack", "")
			if m := decode(t, resp); resp.StatusCode != 200 || m["status"] != "delivered" {
				t.Fatalf("%d %v", resp.StatusCode, m)
			}
		}
		o := decode(t, h.do("GET", "/api/v1/orders/"+orderID, ""))
		if o["status"] != "delivered" || o["deliveredAt"] == nil || o["submissionId"] != id {
			t.Errorf("%v", o)
		}
		if st, _ := h.store.Stats(t.Context(), h.clock.Now()); st.Depth != 0 {
			t.Errorf("the answers are still here: %+v", st)
		}
	})

	t.Run("ErrNotFound on an unknown id; ErrUnprocessable on bad limits; ErrUnauthorized", func(t *testing.T) {
		wantError(t, h.do("POST", "/api/v1/submissions/01234567-89ab-7def-8123-456789abcdef/ack", ""), 404, questionnaire.ENOTFOUND)
		wantError(t, h.do("POST", "/api/v1/submissions/nope/ack", ""), 404, questionnaire.ENOTFOUND)
		wantError(t, h.do("GET", "/api/v1/submissions?limit=0", ""), 422, questionnaire.EUNPROCESSABLE)
		wantError(t, h.do("GET", "/api/v1/submissions?lease=5", ""), 422, questionnaire.EUNPROCESSABLE)
		wantError(t, h.do("GET", "/api/v1/submissions", "", "Authorization", ""), 401, questionnaire.EUNAUTHORIZED)
	})
}

func TestDeclinedAndExpiredSendEnvelopes(t *testing.T) {
	h := newHarness(t)
	id, code := h.order("audit", "nb")
	b := h.browser()
	b.enter(code)
	confirm := b.get("/q/decline")
	b.post("/q/decline", confirm, url.Values{"confirm": {"yes"}})
	if env := h.envelope(id); env.Type != questionnaire.EnvelopeDeclined {
		t.Errorf("declined: %+v", env)
	}
	m := h.create(`{"questionnaire": "audit", "patientRef": "p", "ttl": "1h"}`)
	h.clock.Add(time.Hour)
	h.store.Expire(t.Context(), h.clock.Now())
	if env := h.envelope(m["id"].(string)); env.Type != questionnaire.EnvelopeExpired {
		t.Errorf("expired: %+v", env)
	}
}

func TestMetrics(t *testing.T) {
	h := newHarness(t)
	h.submittedOrder()
	h.create(`{"questionnaire": "audit", "patientRef": "secret-ref-4711"}`)
	h.browser().get("/c/AAAAA-AAAAA")
	resp := h.do("GET", "/metrics", "", "Authorization", "")
	body := string(readAll(t, resp))
	if resp.StatusCode != 200 {
		t.Fatalf("%d", resp.StatusCode)
	}
	for _, want := range []string{
		`eprom_order_events_total{status="ordered"} 2`,
		`eprom_order_events_total{status="opened"} 1`,
		`eprom_order_events_total{status="submitted"} 1`,
		`eprom_submissions_total{type="response"} 1`,
		`eprom_code_failures_total 1`,
		`eprom_outbox_depth 1`,
		`eprom_outbox_depth_by_destination{destination="registry"} 1`,
		`eprom_outbox_dead_letters 0`,
		`eprom_outbox_oldest_age_seconds`,
		`eprom_page_render_seconds_bucket{page="page.html"`,
		`eprom_http_request_duration_seconds_bucket{code="3xx",method="POST",route="/q/submit"`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, secret := range []string{token, "secret-ref-4711", "AAAAA"} {
		if strings.Contains(body, secret) {
			t.Errorf("/metrics shows %q", secret)
		}
	}
}
