package web_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/store"
)

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// TestCompressedBodiesAreRefused: a body with any Content-Encoding is 415,
// before anything decodes it: gzip(gzip(64 MiB)) is a few kilobytes on
// the wire and would be 64 MiB in memory.
func TestCompressedBodiesAreRefused(t *testing.T) {
	h := newHarness(t)
	bomb := gzipped(t, gzipped(t, bytes.Repeat([]byte(" "), 64<<20)))
	if len(bomb) > 64<<10 {
		t.Fatalf("the bomb is %d bytes, over the body limit", len(bomb))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp := h.do("POST", "/api/v1/orders", string(bomb), "Content-Encoding", "gzip, gzip")
	runtime.ReadMemStats(&after)
	m := decode(t, resp)
	if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(m["error"].(map[string]any)["message"].(string), "must not be compressed") {
		t.Errorf("the bomb: %d %v", resp.StatusCode, m)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("the 415 lacks the security headers")
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 50<<20 {
		t.Errorf("the refused bomb allocated %d MiB", grown>>20)
	}
	// Any encoding, on any body: the API and the patient pages alike.
	for _, ce := range []string{"gzip", "deflate", "br", "GZIP"} {
		if resp := h.do("POST", "/api/v1/orders", `{"questionnaire": "audit", "patientRef": "p"}`, "Content-Encoding", ce); resp.StatusCode != 415 {
			t.Errorf("Content-Encoding %s: %d", ce, resp.StatusCode)
		}
	}
	req := httptest.NewRequest("POST", "/", strings.NewReader(string(gzipped(t, []byte("code=AAAAA-AAAAA")))))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Content-Encoding", "gzip")
	if resp, err := h.srv.App().Test(req, -1); err != nil || resp.StatusCode != 415 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("a compressed code form: %v %v", resp, err)
	}
	// identity is no encoding.
	if resp := h.do("POST", "/api/v1/orders", `{"questionnaire": "audit", "patientRef": "p"}`, "Content-Encoding", "identity"); resp.StatusCode != 201 {
		t.Errorf("Content-Encoding identity: %d", resp.StatusCode)
	}
}

// TestOrderBodiesAreIJSON: invalid UTF-8, a lone surrogate and a repeated
// key are 400, with and without an Idempotency-Key, and nothing is stored.
func TestOrderBodiesAreIJSON(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct{ name, body, want string }{
		{"invalid UTF-8", "{\"questionnaire\": \"audit\", \"patientRef\": \"12345\xd8678901\"}", "not valid UTF-8"},
		{"a lone surrogate", `{"questionnaire": "audit", "patientRef": "\ud800x"}`, "lone surrogate"},
		{"a repeated key", `{"questionnaire": "audit", "patientRef": "a", "patientRef": "b"}`, `the key "patientRef" appears twice`},
		{"a repeated key in previous", `{"questionnaire": "kvarus-maalepunkt", "patientRef": "a", "previous": [{"at": "2026-01-01", "scores": {"mental": 1, "mental": 20}}]}`,
			`the key "mental" appears twice`},
	} {
		for _, idem := range []string{"", "key-" + strings.ReplaceAll(tt.name, " ", "-")} {
			resp := h.do("POST", "/api/v1/orders", tt.body, "Idempotency-Key", idem)
			m := decode(t, resp)
			msg, _ := m["error"].(map[string]any)["message"].(string)
			if resp.StatusCode != 400 || !strings.Contains(msg, tt.want) {
				t.Errorf("%s (Idempotency-Key %q): %d %v, want 400 saying %q", tt.name, idem, resp.StatusCode, m, tt.want)
			}
		}
	}
}

// TestPostFieldsComeFromTheBody: the CSRF token, the code and the
// confirmation are read from the urlencoded body, never from the query
// string, which a link can carry.
func TestPostFieldsComeFromTheBody(t *testing.T) {
	h := newHarness(t)
	id, code := h.order("audit", "nb")
	b := h.browser()
	form := b.get("/")
	token := hiddenCSRF.FindStringSubmatch(form.body)[1]
	// The code and the token in the query string: refused, nothing opened.
	if p := b.do("POST", "/?code="+url.QueryEscape(code)+"&csrf="+token, url.Values{}); p.status == http.StatusSeeOther {
		t.Errorf("a code in the query string was taken: %d %s", p.status, p.header.Get("Location"))
	}
	if o := decode(t, h.do("GET", "/api/v1/orders/"+id, "")); o["status"] != "ordered" {
		t.Errorf("the order is %v after a code in the query string", o["status"])
	}
	page1 := b.enter(code)
	wantPage(t, page1, 200, `data-page="page-1"`)
	csrf := hiddenCSRF.FindStringSubmatch(page1.body)[1]
	// A decline whose token rides in the query string: refused.
	if p := b.do("POST", "/q/decline?csrf="+csrf, url.Values{"confirm": {"yes"}}); p.status != http.StatusForbidden {
		t.Errorf("a decline with the token in the query string: %d", p.status)
	}
	if p := b.do("POST", "/q/decline?confirm=yes", url.Values{"csrf": {csrf}}); p.status != http.StatusSeeOther || p.header.Get("Location") != "/q/decline" {
		t.Errorf("a decline confirmed in the query string: %d %s", p.status, p.header.Get("Location"))
	}
	if o := decode(t, h.do("GET", "/api/v1/orders/"+id, "")); o["status"] == "declined" {
		t.Error("the order was declined through the query string")
	}
}

// rawRequest sends head (a request line and headers) over a connection of
// its own and returns the answer's status line and headers.
func rawRequest(t *testing.T, addr, head string) (string, http.Header) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(addr, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	return resp.Status, resp.Header
}

// TestClientFaultsAreNot500: long headers, cookies and paths are the
// client's fault: 431, or served as usual, with the security headers and
// a warning, never a 500 and an ERROR.
func TestClientFaultsAreNot500(t *testing.T) {
	h := newHarness(t)
	addr := h.listen()
	for _, tt := range []struct{ name, head, want string }{
		{"a 5 KB header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: " + strings.Repeat("a", 5<<10) + "\r\n\r\n", "200 OK"},
		{"a 9 KB cookie", "GET / HTTP/1.1\r\nHost: x\r\nCookie: junk=" + strings.Repeat("a", 9<<10) + "\r\n\r\n", "200 OK"},
		{"a 5,000-character code path", "GET /c/" + strings.Repeat("A", 5000) + " HTTP/1.1\r\nHost: x\r\n\r\n", "414 Request URI Too Long"},
		{"a code path of a wrong length", "GET /c/" + strings.Repeat("A", 300) + " HTTP/1.1\r\nHost: x\r\n\r\n", "422 Unprocessable Entity"},
		{"a 40 KB header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: " + strings.Repeat("a", 40<<10) + "\r\n\r\n", "431 Request Header Fields Too Large"},
	} {
		status, header := rawRequest(t, addr, tt.head)
		if status != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, status, tt.want)
		}
		if header.Get("X-Content-Type-Options") != "nosniff" || header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: the answer lacks the security headers: %v", tt.name, header)
		}
	}
	if strings.Contains(h.logs.String(), `"level":"ERROR"`) {
		t.Errorf("a client's fault was logged as an error:\n%s", h.logs.String())
	}
}

// TestHeadDoesNotOpenTheOrder: a HEAD of the code's link (link previews,
// checkers) answers 200 and opens nothing: no session, the order stays
// ordered.
func TestHeadDoesNotOpenTheOrder(t *testing.T) {
	h := newHarness(t)
	id, code := h.order("audit", "nb")
	resp, err := h.srv.App().Test(httptest.NewRequest("HEAD", "/c/"+code, nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || len(resp.Cookies()) > 0 {
		t.Errorf("HEAD: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	if o := decode(t, h.do("GET", "/api/v1/orders/"+id, "")); o["status"] != "ordered" {
		t.Errorf("the order is %v after a HEAD of its link", o["status"])
	}
}

// TestLinkPreviewDoesNotOpenTheOrder: a preview that fetches the code's
// link with GET (and follows its redirect without cookies, or prefetches
// the page) opens nothing; the first page the patient sees opens it.
func TestLinkPreviewDoesNotOpenTheOrder(t *testing.T) {
	onBothStores(t, func(t *testing.T, opts []option) {
		h := newHarness(t, opts...)
		id, code := h.order("audit", "nb")
		status := func() string { return decode(t, h.do("GET", "/api/v1/orders/"+id, ""))["status"].(string) }

		// The preview: GET of the link, then of where it points, without
		// the cookie it was given.
		preview := h.browser()
		first := preview.get("/c/" + code)
		if first.status != 303 || first.header.Get("Location") != "/q" {
			t.Fatalf("GET of the link: %d → %q", first.status, first.header.Get("Location"))
		}
		wantPage(t, h.browser().get("/q"), 401)
		if got := status(); got != "ordered" {
			t.Fatalf("the order is %s after a preview's GET of its link, want ordered", got)
		}

		// A browser's prefetch of the page, and a HEAD of it, with the cookie.
		for _, r := range []struct{ method, header, value string }{
			{"GET", "Sec-Purpose", "prefetch;prerender"},
			{"GET", "Purpose", "prefetch"},
			{"GET", "X-Purpose", "preview"},
			{"HEAD", "", ""},
		} {
			req := httptest.NewRequest(r.method, "/q", nil)
			req.AddCookie(&http.Cookie{Name: "__Host-eprom", Value: preview.cookies["__Host-eprom"]})
			if r.header != "" {
				req.Header.Set(r.header, r.value)
			}
			resp, err := h.srv.App().Test(req, -1)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s /q with %s: %v %v", r.method, r.header, resp.StatusCode, err)
			}
			if got := status(); got != "ordered" {
				t.Fatalf("the order is %s after %s /q with %s: %s, want ordered", got, r.method, r.header, r.value)
			}
		}

		// The patient's first page view opens it, once.
		wantPage(t, preview.get("/q"), 200)
		o := decode(t, h.do("GET", "/api/v1/orders/"+id, ""))
		if o["status"] != "opened" || o["openedAt"] == nil {
			t.Fatalf("after the first page view: %v, want opened", o)
		}
		preview.get("/q")
		d, err := h.store.Draft(t.Context(), id)
		if err != nil || len(d.Events) != 1 || d.Events[0].Type != questionnaire.EventOpened {
			t.Errorf("events %+v (%v) after two page views, want one opened", d.Events, err)
		}
	})
}

// TestSlowAndIdleConnections: a connection that sends nothing, or half a
// request, for longer than the read timeout gets 408 or is closed, with
// the security headers on any answer and a WARN at most, never 500 or an
// ERROR line.
func TestSlowAndIdleConnections(t *testing.T) {
	h := newHarness(t, func(h *harness) { h.cfg.ReadTimeout = 300 * time.Millisecond })
	addr := strings.TrimPrefix(h.listen(), "http://")
	for _, tt := range []struct{ name, send string }{
		{"idle", ""},
		{"half the headers", "GET / HTTP/1.1\r\nHost: eprom.example.no\r\nAccept: text/"},
		{"half the body", "POST / HTTP/1.1\r\nHost: eprom.example.no\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ncode=7KQM2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.Write([]byte(tt.send))
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatal("the connection was neither answered nor closed after the read timeout")
				}
				return // closed without an answer: fine
			}
			resp.Body.Close()
			t.Logf("answered %d", resp.StatusCode)
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Errorf("status %d, want 408 (or the connection closed)", resp.StatusCode)
			}
			if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Content-Type-Options") == "" {
				t.Errorf("the 408 lacks the security headers: %v", resp.Header)
			}
		})
	}
	if logs := h.logs.String(); strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("a slow client was logged as an error:\n%s", logs)
	}
}

// TestOrderTypeErrorsNameJSONTypes: a value of the wrong JSON type is
// named as a JSON type and a field, never as a Go type.
func TestOrderTypeErrorsNameJSONTypes(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct{ body, want string }{
		{`[]`, "The body must be a JSON object."},
		{`"audit"`, "The body must be a JSON object."},
		{`{"questionnaire": 7, "patientRef": "p"}`, "questionnaire must be a JSON string."},
		{`{"questionnaire": "kvarus-maalepunkt", "patientRef": "p", "previous": [7]}`, "previous must be a JSON object."},
		{`{"questionnaire": "kvarus-maalepunkt", "patientRef": "p", "previous": {}}`, "previous must be a JSON array."},
		{`{"questionnaire": "kvarus-maalepunkt", "patientRef": "p", "previous": [{"at": "2026-01-01", "scores": {"mental": "high"}}]}`, "previous.scores must be a JSON number."},
	} {
		e := wantError(t, h.do("POST", "/api/v1/orders", tt.body), 400, "invalid")
		if msg := e["message"].(string); msg != tt.want {
			t.Errorf("%s: %q, want %q", tt.body, msg, tt.want)
		}
	}
}

// TestPrerenderedPageThenPost: the patient's first request on a pending
// session is a POST (the page they see was prerendered): the order is
// opened then, and the draft keeps the order's prefill.
func TestPrerenderedPageThenPost(t *testing.T) {
	h := newHarness(t, withDefinition("forhand-1.0.0.json", prefilledForm))
	id, code := h.order("forhand", "nb")
	b := h.browser()
	b.get("/c/" + code)
	req := httptest.NewRequest("GET", "/q", nil)
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	req.Header.Set("Sec-Purpose", "prefetch;prerender")
	resp, err := h.srv.App().Test(req, -1)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("prerender: %v %v", resp, err)
	}
	raw, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(raw), "Avd. Rus") {
		t.Error("the prerendered page lacks the prefill")
	}
	page := page{status: 200, body: string(raw)}
	b.answer(page, 1, "autosave", url.Values{})
	o := decode(t, h.do("GET", "/api/v1/orders/"+id, ""))
	if o["openedAt"] == nil {
		t.Errorf("a POST as the first request left the order unopened: %v", o["status"])
	}
	d, _ := h.store.Draft(t.Context(), id)
	if got := d.Answers["enhet"]; len(got) != 1 || got[0] != "Avd. Rus" {
		t.Errorf("the draft's prefill after a first POST: %v", d.Answers)
	}
	if len(d.Events) == 0 || d.Events[0].Type != questionnaire.EventOpened {
		t.Errorf("events %+v, want opened first", d.Events)
	}
}

// TestPendingSessionIsInTheCookie: a code's link stores nothing (the
// pending session is sealed in the cookie); the first page view stores the
// session and gives the browser its id; the pending cookie sent again
// (a second tab that had it) finds that session rather than open the
// order twice; a pending cookie that is changed, or older than a
// session's idle time, is no session.
func TestPendingSessionIsInTheCookie(t *testing.T) {
	onBothStores(t, func(t *testing.T, opts []option) {
		h := newHarness(t, opts...)
		id, code := h.order("audit", "nb")
		b := h.browser()
		b.get("/c/" + code)
		pending := b.cookies["__Host-eprom"]
		if !strings.HasPrefix(pending, "p.") {
			t.Fatalf("the link's cookie %.20q… does not hold a pending session", pending)
		}
		if _, err := h.store.Session(t.Context(), pending, h.clock.Now()); questionnaire.ErrorCode(err) != questionnaire.ENOTFOUND {
			t.Fatalf("the pending session is stored (%v)", err)
		}

		wantPage(t, b.get("/q"), 200)
		stored := b.cookies["__Host-eprom"]
		if stored == pending || strings.HasPrefix(stored, "p.") {
			t.Fatalf("after the first page view the cookie is %.20q…, want a stored session's id", stored)
		}
		sess, err := h.store.Session(t.Context(), stored, h.clock.Now())
		if err != nil || sess.Pending || sess.OrderID != id {
			t.Fatalf("the stored session: %+v, %v", sess, err)
		}

		again := h.browser()
		again.cookies["__Host-eprom"], again.paths["__Host-eprom"] = pending, "/"
		p := again.get("/q")
		wantPage(t, p, 200)
		if again.cookies["__Host-eprom"] != stored {
			t.Errorf("the pending cookie sent again names %.20q…, want the stored session", again.cookies["__Host-eprom"])
		}
		if m := hiddenCSRF.FindStringSubmatch(p.body); m == nil || m[1] != sess.CSRF {
			t.Error("the pending cookie sent again has another CSRF token than the stored session")
		}
		if d, err := h.store.Draft(t.Context(), id); err != nil || len(d.Events) != 1 {
			t.Errorf("events %+v (%v), want one opened", d.Events, err)
		}

		// Sent again after the session it began ended (save and continue
		// later, on a shared tablet): no session, nothing opened again.
		wantPage(t, b.answer(p, 1, "save", url.Values{}), 200)
		replay := h.browser()
		replay.cookies["__Host-eprom"], replay.paths["__Host-eprom"] = pending, "/"
		wantPage(t, replay.get("/q"), 401)
		if d, err := h.store.Draft(t.Context(), id); err != nil || d.Events[len(d.Events)-1].Type == questionnaire.EventOpened {
			t.Errorf("events %+v (%v) after the pending cookie came back, want no new opened", d.Events, err)
		}
		// The link of an order opened already begins a stored session: its
		// cookie is the session's id, and the page is there.
		second := h.browser()
		second.get("/c/" + code)
		if c := second.cookies["__Host-eprom"]; c == "" || strings.HasPrefix(c, "p.") {
			t.Errorf("the link of an opened order gives the cookie %.20q…, want a stored session's id", c)
		}
		wantPage(t, second.get("/q"), 200)

		// Changed: one bit of the sealed bytes.
		raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(pending, "p."))
		raw[len(raw)/2] ^= 1
		forged := h.browser()
		forged.cookies["__Host-eprom"], forged.paths["__Host-eprom"] = "p."+base64.RawURLEncoding.EncodeToString(raw), "/"
		wantPage(t, forged.get("/q"), 401)

		// Old: a new link's pending cookie, unused for the idle time.
		_, code2 := h.order("audit", "nb")
		late := h.browser()
		late.get("/c/" + code2)
		h.clock.Add(store.IdleTimeout)
		wantPage(t, late.get("/q"), 401)
	})
}
