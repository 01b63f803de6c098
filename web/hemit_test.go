package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/store"
	"eprom/store/delivery"
	"eprom/web"
)

// formOrder posts an order to HEMIT's API with the client's key as HEMIT
// sends it, unless header says otherwise.
func (h *harness) formOrder(body string, header ...string) *http.Response {
	h.t.Helper()
	return h.do("POST", "/api/v2/formorder", body, append([]string{"Authorization", "Basic " + hemitKey}, header...)...)
}

// okFormOrder posts an order that must succeed and returns the answer.
func (h *harness) okFormOrder(body string, header ...string) map[string]any {
	h.t.Helper()
	resp := h.formOrder(body, header...)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("formorder: %d %s", resp.StatusCode, readAll(h.t, resp))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		h.t.Errorf("Content-Type %q, want JSON", ct)
	}
	return decode(h.t, resp)
}

// hemitMessages returns the payloads of the HEMIT callbacks in the
// outbox, oldest first, and the messages.
func (h *harness) hemitMessages() ([]map[string]any, []*store.Message) {
	h.t.Helper()
	msgs, err := h.store.Queue.Messages(h.t.Context(), false, 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	var payloads []map[string]any
	var out []*store.Message
	for _, m := range msgs {
		if m.Kind != store.KindHemit {
			continue
		}
		full, err := h.store.Queue.Message(h.t.Context(), m.ID)
		if err != nil {
			h.t.Fatal(err)
		}
		parts := strings.Split(string(full.Body), ".")
		raw, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil || len(parts) != 3 {
			h.t.Fatalf("the body of %s is not a compact JWS: %v", m.ID, err)
		}
		var p map[string]any
		if err := json.Unmarshal(raw, &p); err != nil {
			h.t.Fatal(err)
		}
		payloads, out = append(payloads, p), append(out, full)
	}
	return payloads, out
}

const order = `{"formId": "` + auditForm + `", "nationalId": "26073941651", "expiryDate": "2026-12-02T10:00:00Z"`

func TestFormOrderKeys(t *testing.T) {
	h := newHarness(t)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tt := range []struct {
		name, header string
		status       int
	}{
		{"the raw key, as HEMIT's clients send it", "Basic " + hemitKey, 200},
		{"the scheme in lower case", "basic " + hemitKey, 200},
		{"base64 of the key", "Basic " + b64(hemitKey), 200},
		{"base64 of :key (the key as a password)", "Basic " + b64(":"+hemitKey), 200},
		{"base64 of key: (the key as a user name)", "Basic " + b64(hemitKey+":"), 200},
		{"base64 of the key without padding", "Basic " + strings.TrimRight(b64(hemitKey+"x"), "="), 401},
		{"no header", "", 401},
		{"a wrong key", "Basic hemit-key-0123456780", 401},
		{"the client's API token, not its HEMIT key", "Basic " + mrsToken, 401},
		{"the key as a bearer token", "Bearer " + hemitKey, 401},
		{"another client's token", "Basic " + token, 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.formOrder(order+`}`, "Authorization", tt.header)
			body := string(readAll(t, resp))
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status == 401 {
				if resp.Header.Get("WWW-Authenticate") != `Basic realm="eprom"` || !strings.Contains(body, "Authorization: Basic") {
					t.Errorf("a 401 must say how to authenticate: %q %s", resp.Header.Get("WWW-Authenticate"), body)
				}
			}
		})
	}
}

func TestFormOrderRefusals(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct{ name, body, message string }{
		{"an unknown form", `{"formId": "1bc5f9f0-2607-49eb-94f0-6af955bbd79b", "nationalId": "26073941651"}`,
			"No form with id='1bc5f9f0-2607-49eb-94f0-6af955bbd79b' exists"},
		{"a form id that is not a GUID", `{"formId": "audit", "nationalId": "26073941651"}`, "No form with id='audit' exists"},
		{"invalid metadata", order + `, "metadata": "{\"age\":}"}`, "JSON in metadata is not valid: "},
		{"an FH-nummer", `{"formId": "` + auditForm + `", "nationalId": "81234567890"}`,
			"nationalId: FH-nummer is not supported as national ID. The national ID must be either Norsk fødselsnummer or D-nummer."},
		{"an H-nummer", `{"formId": "` + auditForm + `", "nationalId": "01410112430"}`,
			"nationalId: H-nummer is not supported as national ID. The national ID must be either Norsk fødselsnummer or D-nummer."},
		{"a wrong check digit", `{"formId": "` + auditForm + `", "nationalId": "26073941652"}`,
			"nationalId: not a Norwegian fødselsnummer or D-nummer: the check digits do not match; is a digit mistyped?"},
		{"signing", order + `, "mustBeSigned": true}`,
			"The ordered form needs to be signed. This is not possible when using DistributionRule = 'NoDistribution'."},
		{"an expiry in the past", `{"formId": "` + auditForm + `", "nationalId": "26073941651", "expiryDate": "2026-11-01T00:00:00Z"}`,
			"expiryDate: The expiry 2026-11-01T00:00:00Z is in the past."},
		{"an expiry too far ahead", `{"formId": "` + auditForm + `", "nationalId": "26073941651", "expiryDate": "2027-11-01T00:00:00Z"}`,
			"expiryDate: The expiry 2027-11-01T00:00:00Z is more than 90 days from now."},
		{"an unknown rule", order + `, "distributionRule": "Carrier pigeon"}`, `distributionRule "Carrier pigeon" is not one of Basic (0), AllowUnsecure (1), NoDistribution (2)`},
		{"a prefill the form cannot take", order + `, "metadata": "{\"q1\": \"9\", \"q9\": 1}"}`,
			"metadata prefills answers the form cannot take: q1: not one of its options, 0, 1, 2, 3, 4 (metadata has \"9\"); q9: not one of its options, 0, 2, 4 (metadata has 1)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.formOrder(tt.body)
			body := string(readAll(t, resp))
			if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(body, tt.message) {
				t.Fatalf("got %d %q, want 400 %q", resp.StatusCode, body, tt.message)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q, want text/plain, as ASP.NET answers BadRequest(string)", ct)
			}
			if strings.Contains(body, "26073941651") || strings.Contains(h.logs.String(), "26073941651") || strings.Contains(h.audit.String(), "26073941651") {
				t.Error("the national id is in the answer or the logs")
			}
		})
	}
	t.Run("as a JSON string to a client that accepts JSON", func(t *testing.T) {
		resp := h.formOrder(`{"formId": "audit", "nationalId": "26073941651"}`, "Accept", "application/json")
		var msg string
		if err := json.Unmarshal(readAll(t, resp), &msg); err != nil || resp.StatusCode != 400 || msg != "No form with id='audit' exists" {
			t.Errorf("got %d %q (%v), want 400 and the message as a JSON string", resp.StatusCode, msg, err)
		}
	})
	if _, msgs := h.hemitMessages(); len(msgs) != 0 {
		t.Errorf("refused orders put %d callbacks in the outbox", len(msgs))
	}
}

// TestFormOrderBasePaths: a registry that changes only the host of its
// ePROM base URL keeps HEMIT's path, in any case.
func TestFormOrderBasePaths(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/webapi/api/v2/formorder", "/PromsWebApi/api/v2/formorder", "/api/v2/FormOrder"} {
		resp := h.do("POST", path, order+`}`, "Authorization", "Basic "+hemitKey)
		if body := readAll(t, resp); resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
		resp = h.do("POST", path, `{"formId": "audit", "nationalId": "26073941651"}`, "Authorization", "Basic "+hemitKey)
		if body := string(readAll(t, resp)); resp.StatusCode != 400 || body != "No form with id='audit' exists" {
			t.Errorf("%s: %d %q, want HEMIT's 400", path, resp.StatusCode, body)
		}
	}
}

func TestFormOrder(t *testing.T) {
	onBothStores(t, func(t *testing.T, opts []option) {
		h := newHarness(t, opts...)
		m := h.okFormOrder(`{"formId": "` + strings.ToUpper(auditForm) + `", "nationalId": "26073941651", "expiryDate": "2026-12-02T10:00:00Z",
			"reminderDate": null, "metadata": "{\"q1\": 2, \"age\": 76}", "distributionRule": "Basic", "signingText": null,
			"physicalAddress": {"fullName": "Kari", "postalCode": "0150"}, "onBehalfOfNationalId": "01039494104"}`)
		id, code := m["id"].(string), m["singleUseCode"].(string)
		if len(id) != 36 || len(code) != 11 || m["loginUrl"] != publicURL+"/" || m["notificationChannel"] != 0.0 {
			t.Fatalf("answer %v", m)
		}
		echo := map[string]any{"formId": strings.ToUpper(auditForm), "nationalId": "26073941651", "expiryDate": "2026-12-02T10:00:00Z",
			"reminderDate": nil, "metadata": `{"q1": 2, "age": 76}`, "dontStoreCompletedFormInPha": false,
			"distributionRule": 0.0, "mustBeSigned": false, "signingText": nil, "testMode": false, "onBehalfOfNationalId": "01039494104"}
		for k, v := range echo {
			if m[k] != v {
				t.Errorf("%s = %#v, want %#v echoed", k, m[k], v)
			}
		}
		if a, _ := m["physicalAddress"].(map[string]any); a["postalCode"] != "0150" {
			t.Errorf("physicalAddress = %v, want it echoed", m["physicalAddress"])
		}

		// The status callback is in the outbox, with the order.
		payloads, msgs := h.hemitMessages()
		if len(payloads) != 1 || payloads[0]["formOrderStatus"] != "Ordered" || payloads[0]["formOrderId"] != id ||
			payloads[0]["apiKey"] != hemitKey || payloads[0]["notificationChannel"] != 0.0 || payloads[0]["formOrderStatusErrorCode"] != "None" ||
			msgs[0].Destination != "mrs" || msgs[0].Ref != id {
			t.Fatalf("status callbacks %v", payloads)
		}
		if ts, _ := payloads[0]["timestampUtc"].(string); !strings.HasSuffix(ts, "Z") {
			t.Errorf("timestampUtc %q", ts)
		}

		// The order through /api/v1, for the same client only.
		resp := h.do("GET", "/api/v1/orders/"+id, "", "Authorization", "Bearer "+mrsToken)
		got := decode(t, resp)
		if resp.StatusCode != 200 || got["patientRef"] != "26073941651" || got["formId"] != strings.ToUpper(auditForm) ||
			got["code"] != code || got["status"] != "ordered" {
			t.Errorf("GET /api/v1/orders: %d %v", resp.StatusCode, got)
		}
		wantError(t, h.do("GET", "/api/v1/orders/"+id, ""), 404, "not_found")

		// The patient types the code at loginUrl; the metadata prefilled q1.
		b := h.browser()
		p := b.post("/", b.get("/"), url.Values{"code": {strings.ToLower(code)}})
		p = b.follow(p)
		wantPage(t, p, 200, `value="2" checked`)
		p = b.answer(p, 1, "next", url.Values{"q1": {"0"}})
		p = b.follow(p)
		p = b.answer(p, 2, "review", url.Values{"q9": {"2"}, "q10": {"0"}})
		p = b.follow(p)
		p = b.post("/q/submit", p, url.Values{})
		if p.status != http.StatusSeeOther {
			t.Fatalf("submit: %d %.800s", p.status, p.body)
		}

		payloads, _ = h.hemitMessages()
		if len(payloads) != 2 {
			t.Fatalf("after submit %d callbacks, want Ordered and Completed", len(payloads))
		}
		r := payloads[1]
		if r["formOrderStatus"] != "Completed" || r["formOrderId"] != id || r["formData"] != `{"q1":0,"q9":2,"q10":0}` ||
			r["signedFormId"] != "00000000-0000-0000-0000-000000000000" || r["metadata"] != `{"age":76}` || r["isPatientInitiated"] != false {
			t.Errorf("return callback %v", r)
		}
		var events []string
		for _, e := range r["formOrderEventLog"].([]any) {
			events = append(events, e.(map[string]any)["eventType"].(string))
		}
		if strings.Join(events, " ") != "FormOpened QuestionAccessed QuestionAccessed QuestionAccessed QuestionAccessed QuestionAccessed "+
			"QuestionAccessed QuestionAccessed QuestionAccessed QuestionAccessed QuestionAccessed FormDelivered" {
			t.Errorf("event log %v", events)
		}
		if strings.Contains(h.logs.String(), "26073941651") || strings.Contains(h.audit.String(), "26073941651") {
			t.Error("the national id is in the logs")
		}
	})
}

// TestFormOrderDelivered: the order becomes delivered when its return,
// not its status, reaches the registry.
func TestFormOrderDelivered(t *testing.T) {
	h := newHarness(t)
	m := h.okFormOrder(order + `, "distributionRule": 2}`)
	id := m["id"].(string)
	_, msgs := h.hemitMessages()
	ctx := t.Context()
	deliver := func(m *store.Message) {
		t.Helper()
		if _, err := h.store.Queue.Receive(ctx, "push", 10, time.Minute, h.clock.Now(), nil); err != nil {
			t.Fatal(err)
		}
		if err := h.store.Submissions.Delivered(ctx, m.ID, "push", "", h.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	deliver(msgs[0])
	if o, _ := h.store.Order(ctx, id); o.Status != "ordered" || o.DeliveredAt != nil {
		t.Fatalf("after the status callback the order is %s, delivered %v", o.Status, o.DeliveredAt)
	}
	resp := h.do("POST", "/api/v1/orders/"+id+"/cancel", "", "Authorization", "Bearer "+mrsToken)
	if resp.StatusCode != 200 {
		t.Fatalf("cancel through /api/v1: %d %s", resp.StatusCode, readAll(t, resp))
	}
	if o, _ := h.store.Order(ctx, id); o.Status != "cancelled" {
		t.Errorf("the order is %s, want cancelled", o.Status)
	}
	// The registry hears of the cancel as Expired: HEMIT has no cancel.
	payloads, _ := h.hemitMessages()
	if last := payloads[len(payloads)-1]; len(payloads) != 1 || last["formOrderStatus"] != "Expired" || last["cancelled"] != true || last["formData"] != "{}" {
		t.Errorf("after a cancel through /api/v1 the outbox holds %v, want the Ordered delivered and an Expired", payloads)
	}

	// A declined order: the registry hears Expired at once.
	m = h.okFormOrder(order + `}`)
	b := h.browser()
	p := b.follow(b.post("/", b.get("/"), url.Values{"code": {m["singleUseCode"].(string)}}))
	p = b.get("/q/decline")
	p = b.post("/q/decline", p, url.Values{"confirm": {"yes"}})
	payloads, msgs = h.hemitMessages()
	last := payloads[len(payloads)-1]
	if last["formOrderStatus"] != "Expired" || last["declined"] != true || last["formData"] != "{}" || last["formOrderId"] != m["id"] {
		t.Fatalf("a declined order's return: %v", last)
	}
	deliver(msgs[len(msgs)-2]) // its Ordered
	deliver(msgs[len(msgs)-1])
	if o, _ := h.store.Order(ctx, m["id"].(string)); o.Status != "declined" || o.DeliveredAt == nil {
		t.Errorf("after its return the order is %s, delivered %v", o.Status, o.DeliveredAt)
	}
}

func TestFormOrderTestMode(t *testing.T) {
	onBothStores(t, func(t *testing.T, opts []option) {
		h := newHarness(t, opts...)
		m := h.okFormOrder(order + `, "testMode": true}`)
		if m["testMode"] != true || m["singleUseCode"] == "" {
			t.Fatalf("answer %v", m)
		}
		b := h.browser()
		p := b.follow(b.post("/", b.get("/"), url.Values{"code": {m["singleUseCode"].(string)}}))
		p = b.follow(b.answer(p, 1, "next", url.Values{"q1": {"0"}}))
		p = b.follow(b.answer(p, 2, "review", url.Values{"q9": {"0"}, "q10": {"0"}}))
		p = b.post("/q/submit", p, url.Values{})
		if p.status != http.StatusSeeOther {
			t.Fatalf("submit: %d %.800s", p.status, p.body)
		}
		if payloads, _ := h.hemitMessages(); len(payloads) != 0 {
			t.Errorf("a test order sent %v", payloads)
		}
		if o, _ := h.store.Order(t.Context(), m["id"].(string)); o.Status != "submitted" {
			t.Errorf("the test order is %s, want submitted", o.Status)
		}
	})
}

func TestFormOrderAsForm(t *testing.T) {
	h := newHarness(t)
	form := url.Values{"formId": {auditForm}, "nationalId": {"26073941651"}, "distributionRule": {"NoDistribution"},
		"metadata": {`{"q9": "4"}`}, "expiryDate": {"2026-12-02T11:00:00+01:00"}}
	m := h.okFormOrder(form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	if m["distributionRule"] != 2.0 || m["expiryDate"] != "2026-12-02T10:00:00Z" {
		t.Errorf("answer %v", m)
	}
	o, err := h.store.Order(t.Context(), m["id"].(string))
	if err != nil || strings.Join(o.Prefill["q9"], "") != "4" || o.Language != "nb" || o.Questionnaire.ID != "audit" {
		t.Errorf("order %+v %v", o, err)
	}
	// A pinned version and a language, from the forms map.
	m = h.okFormOrder(`{"formId": "` + maalepunktForm + `", "nationalId": "41018036736"}`)
	if o, _ := h.store.Order(t.Context(), m["id"].(string)); o.Questionnaire.Version != "1.0.0" || o.Language != "en" ||
		!o.ExpiresAt.Equal(h.clock.Now().Add(14*24*time.Hour)) {
		t.Errorf("order %+v, want kvarus-maalepunkt 1.0.0 in English, expiring in 14 days", o)
	}
}

func TestFormOrderIdempotency(t *testing.T) {
	h := newHarness(t)
	first := h.okFormOrder(order+`}`, "Idempotency-Key", "mrs-1")
	again := h.okFormOrder(order+`}`, "Idempotency-Key", "mrs-1")
	if first["id"] != again["id"] || first["singleUseCode"] != again["singleUseCode"] {
		t.Errorf("a retried request made a new order: %v %v", first, again)
	}
	if payloads, _ := h.hemitMessages(); len(payloads) != 1 {
		t.Errorf("%d status callbacks, want 1", len(payloads))
	}
	resp := h.formOrder(`{"formId": "`+auditForm+`", "nationalId": "01039494104"}`, "Idempotency-Key", "mrs-1")
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("the same key for another order: %d, want 409", resp.StatusCode)
	}
	other := h.okFormOrder(order + `}`)
	if other["id"] == first["id"] {
		t.Error("without a key, the same body is a new order (as HEMIT does)")
	}
}

// TestFormOrderExpires: an order past its expiry is returned Expired, and
// the push worker takes both callbacks, in order, to the registry's
// PUT {apiBaseUrl}/api/PromsFormOrder through the route `eprom serve` uses.
func TestFormOrderExpires(t *testing.T) {
	onBothStores(t, func(t *testing.T, opts []option) {
		var (
			mu  sync.Mutex
			got []map[string]any
		)
		registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var body map[string]any
			if r.Method != "PUT" || r.URL.Path != "/PromsServices/api/PromsFormOrder" || json.NewDecoder(r.Body).Decode(&body) != nil {
				http.Error(w, "no", 404)
				return
			}
			mu.Lock()
			got = append(got, body)
			mu.Unlock()
			w.Write([]byte(`{"success": true}`))
		}))
		defer registry.Close()
		h := newHarness(t, opts...)
		m := h.okFormOrder(`{"formId": "` + auditForm + `", "nationalId": "26073941651", "expiryDate": "2026-11-25T10:06:00Z"}`)
		h.clock.Add(7 * time.Minute)
		expired, err := h.store.Submissions.Expire(t.Context(), h.clock.Now())
		if err != nil || len(expired) != 1 {
			t.Fatalf("Expire: %v %v", expired, err)
		}
		client := &questionnaire.Hemit{APIKey: hemitKey, APIBaseURL: registry.URL + "/PromsServices/"}
		w, err := delivery.New(delivery.Config{Queue: h.store.Queue, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Routes: func(kind, dest string) (delivery.Route, bool) {
				return web.HemitRoute(client), kind == store.KindHemit && dest == "mrs"
			},
			Done: func(ctx context.Context, m *store.Message, now time.Time) error {
				return h.store.Submissions.Delivered(ctx, m.ID, delivery.Holder, "", now)
			}, Poll: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { w.Run(ctx); close(done) }()
		defer func() { stop(); <-done }()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n >= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the registry got %v", got)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if got[0]["formOrderStatus"] != "Ordered" || got[1]["formOrderStatus"] != "Expired" || got[1]["formOrderId"] != m["id"] ||
			got[1]["formData"] != "{}" || got[1]["timestamp"] != "2026-11-25T11:06:00+01:00" {
			t.Errorf("callbacks %v", got)
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if o, _ := h.store.Order(t.Context(), m["id"].(string)); o.Status == "expired" && o.DeliveredAt != nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("the order is %s, delivered %v", o.Status, o.DeliveredAt)
			}
		}
	})
}
