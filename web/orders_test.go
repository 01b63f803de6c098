package web_test

import (
	"bufio"
	"context"
	"fmt"
	"html"
	"image"
	_ "image/png"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/store"
	"eprom/web"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

var codeForm = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$`)

func TestOrderCreate(t *testing.T) {
	t.Run("OK: code, URL, QR and slip paths", func(t *testing.T) {
		h := newHarness(t)
		m := h.create(`{"questionnaire": "audit", "patientRef": "p-123", "registrationRef": "r-9", "unit": "ARA"}`)
		code, _ := m["code"].(string)
		if !codeForm.MatchString(code) {
			t.Errorf("code %q is not two groups of five", code)
		}
		id := m["id"].(string)
		want := map[string]any{
			"status": "ordered", "url": publicURL + "/c/" + code, "language": "nb",
			"qr": "/api/v1/orders/" + id + "/qr.png", "qrSvg": "/api/v1/orders/" + id + "/qr.svg",
			"slip": "/api/v1/orders/" + id + "/slip", "patientRef": "p-123", "registrationRef": "r-9", "unit": "ARA",
			"expiresAt": "2026-12-09T10:00:00Z",
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s = %v, want %v", k, m[k], v)
			}
		}
		q := m["questionnaire"].(map[string]any)
		if q["id"] != "audit" || q["version"] != "1.1.0" || !strings.HasPrefix(q["digest"].(string), "sha256:") {
			t.Errorf("questionnaire = %v", q)
		}
	})

	t.Run("a version, a language and a ttl", func(t *testing.T) {
		h := newHarness(t)
		m := h.create(`{"questionnaire": "dudit", "version": "1.0.0", "patientRef": "p", "language": "nn", "ttl": "3d"}`)
		if m["language"] != "nn" || m["expiresAt"] != "2026-11-28T10:00:00Z" {
			t.Errorf("got %v", m)
		}
		m = h.create(`{"questionnaire": "dudit", "patientRef": "p", "ttl": "90m"}`)
		if m["expiresAt"] != "2026-11-25T11:30:00Z" {
			t.Errorf("ttl 90m: %v", m["expiresAt"])
		}
		m = h.create(`{"questionnaire": "dudit", "patientRef": "p", "expiresAt": "2027-01-01T12:00:00+01:00"}`)
		if m["expiresAt"] != "2027-01-01T11:00:00Z" {
			t.Errorf("expiresAt: %v", m["expiresAt"])
		}
	})

	bad := []struct {
		name, body string
		status     int
		code       string
	}{
		{"ErrInvalid on malformed JSON", `{"questionnaire": "audit", `, 400, questionnaire.EINVALID},
		{"ErrInvalid on an empty body", ``, 400, questionnaire.EINVALID},
		{"ErrInvalid on an array", `[]`, 400, questionnaire.EINVALID},
		{"ErrInvalid on an unknown field", `{"questionnaire": "audit", "patientRef": "p", "patient": "x"}`, 400, questionnaire.EINVALID},
		{"ErrInvalid on a number for patientRef", `{"questionnaire": "audit", "patientRef": 12}`, 400, questionnaire.EINVALID},
		{"ErrInvalid on a bad time", `{"questionnaire": "audit", "patientRef": "p", "expiresAt": "tomorrow"}`, 400, questionnaire.EINVALID},
		{"ErrInvalid on trailing data", `{"questionnaire": "audit", "patientRef": "p"} {}`, 400, questionnaire.EINVALID},
		{"ErrUnprocessable without questionnaire", `{"patientRef": "p"}`, 422, questionnaire.EUNPROCESSABLE},
		{"ErrUnprocessable on an unknown questionnaire", `{"questionnaire": "phq-9", "patientRef": "p"}`, 422, questionnaire.EUNPROCESSABLE},
		{"ErrUnprocessable on an unknown version", `{"questionnaire": "audit", "version": "9.9.9", "patientRef": "p"}`, 422, questionnaire.EUNPROCESSABLE},
		{"ErrUnprocessable on an unknown language", `{"questionnaire": "audit", "patientRef": "p", "language": "de"}`, 422, questionnaire.EUNPROCESSABLE},
		{"ErrUnprocessable without patientRef", `{"questionnaire": "audit"}`, 422, questionnaire.EUNPROCESSABLE},
		{"ErrUnprocessable on a patientRef too long", `{"questionnaire": "audit", "patientRef": "` + strings.Repeat("x", 129) + `"}`, 422, questionnaire.EUNPROCESSABLE},
		{"ErrUnprocessable on a control character", `{"questionnaire": "audit", "patientRef": "p\u0007"}`, 422, questionnaire.EUNPROCESSABLE},
		{"ErrUnprocessable on an expiry in the past", `{"questionnaire": "audit", "patientRef": "p", "expiresAt": "2026-11-25T09:59:59Z"}`, 422, questionnaire.EUNPROCESSABLE},
		{"ErrUnprocessable on an expiry beyond 90 days", `{"questionnaire": "audit", "patientRef": "p", "expiresAt": "2027-02-24T10:00:01Z"}`, 422, questionnaire.EUNPROCESSABLE},
		{"ErrUnprocessable on a ttl beyond 90 days", `{"questionnaire": "audit", "patientRef": "p", "ttl": "91d"}`, 422, questionnaire.EUNPROCESSABLE},
		{"ErrUnprocessable on a ttl that is no duration", `{"questionnaire": "audit", "patientRef": "p", "ttl": "a week"}`, 422, questionnaire.EUNPROCESSABLE},
		{"ErrUnprocessable on a negative ttl", `{"questionnaire": "audit", "patientRef": "p", "ttl": "-1h"}`, 422, questionnaire.EUNPROCESSABLE},
		{"ErrUnprocessable on both expiresAt and ttl", `{"questionnaire": "audit", "patientRef": "p", "ttl": "1d", "expiresAt": "2026-12-01T00:00:00Z"}`, 422, questionnaire.EUNPROCESSABLE},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			wantError(t, h.do("POST", "/api/v1/orders", tt.body), tt.status, tt.code)
			// Nothing half-written: the store is as empty as before.
			if n, _ := h.store.Expire(t.Context(), h.clock.Now().Add(100*24*time.Hour)); len(n) != 0 {
				t.Errorf("a rejected request left %d orders", len(n))
			}
		})
	}

	t.Run("ErrTooLarge on a body over 64 KiB, through a real connection", func(t *testing.T) {
		h := newHarness(t)
		// The headers announce 70,000 bytes; the server answers before
		// reading them (a client that kept writing could see its connection
		// reset instead of the answer, so none is written).
		conn, err := net.Dial("tcp", strings.TrimPrefix(h.listen(), "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /api/v1/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: 70000\r\n\r\n", token)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		wantError(t, resp, 413, questionnaire.ETOOLARGE)
	})

	t.Run("an expiry exactly 90 days out is allowed", func(t *testing.T) {
		h := newHarness(t)
		h.create(`{"questionnaire": "audit", "patientRef": "p", "expiresAt": "2027-02-23T10:00:00Z"}`)
	})
}

func TestOrderCreateIdempotency(t *testing.T) {
	h := newHarness(t)
	body := `{"questionnaire": "audit", "patientRef": "p-1"}`
	first := h.do("POST", "/api/v1/orders", body, "Idempotency-Key", "k-1")
	a := decode(t, first)
	if first.StatusCode != 201 {
		t.Fatalf("first: %d %v", first.StatusCode, a)
	}

	t.Run("the same key and body return the same order", func(t *testing.T) {
		// Same content, other key order and spacing: the same body.
		again := h.do("POST", "/api/v1/orders", `{ "patientRef":"p-1",  "questionnaire":"audit" }`, "Idempotency-Key", "k-1")
		b := decode(t, again)
		if again.StatusCode != 200 || b["id"] != a["id"] || b["code"] != a["code"] {
			t.Errorf("retry: %d %v, want 200 and order %v", again.StatusCode, b, a["id"])
		}
	})

	t.Run("ErrConflict: the same key with another body", func(t *testing.T) {
		wantError(t, h.do("POST", "/api/v1/orders", `{"questionnaire": "audit", "patientRef": "p-2"}`, "Idempotency-Key", "k-1"),
			409, questionnaire.ECONFLICT)
	})

	t.Run("another token's key is another key", func(t *testing.T) {
		resp := h.do("POST", "/api/v1/orders", body, "Idempotency-Key", "k-1", "Authorization", "Bearer other-token-0123456789")
		if m := decode(t, resp); resp.StatusCode != 201 || m["id"] == a["id"] {
			t.Errorf("%d %v", resp.StatusCode, m)
		}
	})

	t.Run("ErrInvalid on a key with control characters", func(t *testing.T) {
		wantError(t, h.do("POST", "/api/v1/orders", body, "Idempotency-Key", "k\x01"), 400, questionnaire.EINVALID)
	})
}

func TestAuthentication(t *testing.T) {
	h := newHarness(t)
	for _, auth := range []string{"", "Bearer", "Bearer wrong-token-0123456789", "Basic " + token, token, "Bearer " + token + "x"} {
		resp := h.do("GET", "/api/v1/questionnaires", "", "Authorization", auth)
		wantError(t, resp, 401, questionnaire.EUNAUTHORIZED)
		if resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%q: no WWW-Authenticate", auth)
		}
	}
	if resp := h.do("GET", "/api/v1/questionnaires", "", "Authorization", "bearer "+token); resp.StatusCode != 200 {
		t.Errorf("the scheme is case-insensitive: %d", resp.StatusCode)
	}
}

func TestOrderGetCancelReissue(t *testing.T) {
	h := newHarness(t)
	m := h.create(`{"questionnaire": "audit", "patientRef": "p"}`)
	id, code := m["id"].(string), m["code"].(string)

	t.Run("get shows status, timestamps and, while open, the code", func(t *testing.T) {
		resp := h.do("GET", "/api/v1/orders/"+id, "")
		got := decode(t, resp)
		if resp.StatusCode != 200 || got["status"] != "ordered" || got["code"] != code || got["createdAt"] != "2026-11-25T10:00:00Z" {
			t.Errorf("%d %v", resp.StatusCode, got)
		}
		if _, ok := got["answers"]; ok {
			t.Error("get shows answers")
		}
	})

	t.Run("ErrNotFound on an unknown or malformed id", func(t *testing.T) {
		for _, p := range []string{"/api/v1/orders/01234567-89ab-7def-8123-456789abcdef", "/api/v1/orders/nope",
			"/api/v1/orders/nope/qr.png", "/api/v1/orders/01234567-89ab-7def-8123-456789abcdef/slip"} {
			wantError(t, h.do("GET", p, ""), 404, questionnaire.ENOTFOUND)
		}
		wantError(t, h.do("POST", "/api/v1/orders/01234567-89ab-7def-8123-456789abcdef/cancel", ""), 404, questionnaire.ENOTFOUND)
		wantError(t, h.do("POST", "/api/v1/orders/01234567-89ab-7def-8123-456789abcdef/reissue", ""), 404, questionnaire.ENOTFOUND)
	})

	t.Run("reissue gives a new code; the old one is dead", func(t *testing.T) {
		resp := h.do("POST", "/api/v1/orders/"+id+"/reissue", "")
		got := decode(t, resp)
		newCode, _ := got["code"].(string)
		if resp.StatusCode != 200 || newCode == code || !codeForm.MatchString(newCode) || got["reissuedAt"] == nil {
			t.Fatalf("%d %v", resp.StatusCode, got)
		}
		old, _ := questionnaire.NormalizeCode(code)
		if _, current, err := h.store.LookupCode(t.Context(), old); err != nil || current {
			t.Errorf("old code: current=%v err=%v", current, err)
		}
		code = newCode
	})

	t.Run("cancel closes the order and hides the code", func(t *testing.T) {
		resp := h.do("POST", "/api/v1/orders/"+id+"/cancel", "")
		got := decode(t, resp)
		if resp.StatusCode != 200 || got["status"] != "cancelled" || got["code"] != nil || got["closedAt"] == nil {
			t.Fatalf("%d %v", resp.StatusCode, got)
		}
		if g := decode(t, h.do("GET", "/api/v1/orders/"+id, "")); g["code"] != nil || g["status"] != "cancelled" {
			t.Errorf("get after cancel: %v", g)
		}
	})

	t.Run("ErrConflict: cancel, reissue, QR and slip of a closed order", func(t *testing.T) {
		wantError(t, h.do("POST", "/api/v1/orders/"+id+"/cancel", ""), 409, questionnaire.ECONFLICT)
		wantError(t, h.do("POST", "/api/v1/orders/"+id+"/reissue", ""), 409, questionnaire.ECONFLICT)
		wantError(t, h.do("GET", "/api/v1/orders/"+id+"/qr.png", ""), 409, questionnaire.ECONFLICT)
		wantError(t, h.do("GET", "/api/v1/orders/"+id+"/slip", ""), 409, questionnaire.ECONFLICT)
	})
}

func TestExpiredOrders(t *testing.T) {
	h := newHarness(t)
	m := h.create(`{"questionnaire": "audit", "patientRef": "p", "ttl": "1h"}`)
	id := m["id"].(string)
	h.clock.Add(time.Hour)
	// Before the sweeper runs, the API already says expired.
	if got := decode(t, h.do("GET", "/api/v1/orders/"+id, "")); got["status"] != "expired" || got["code"] != nil {
		t.Errorf("get: %v", got)
	}
	wantError(t, h.do("POST", "/api/v1/orders/"+id+"/reissue", ""), 409, questionnaire.ECONFLICT)
	wantError(t, h.do("GET", "/api/v1/orders/"+id+"/qr.svg", ""), 409, questionnaire.ECONFLICT)
}

// decodeQR reads a QR code from a PNG with a real decoder.
func decodeQR(t *testing.T, r io.Reader) string {
	t.Helper()
	img, _, err := image.Decode(r)
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("no QR code found: %v", err)
	}
	return res.GetText()
}

func TestQRCode(t *testing.T) {
	h := newHarness(t)
	m := h.create(`{"questionnaire": "audit", "patientRef": "p"}`)
	id := m["id"].(string)

	t.Run("the PNG decodes to the patient URL", func(t *testing.T) {
		for _, size := range []string{"", "?size=128", "?size=1024"} {
			resp := h.do("GET", "/api/v1/orders/"+id+"/qr.png"+size, "")
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
				t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if got := decodeQR(t, resp.Body); got != m["url"] {
				t.Errorf("QR %s says %q, want %q", size, got, m["url"])
			}
		}
	})

	t.Run("ErrUnprocessable on a bad size", func(t *testing.T) {
		for _, size := range []string{"12", "5000", "big"} {
			wantError(t, h.do("GET", "/api/v1/orders/"+id+"/qr.png?size="+size, ""), 422, questionnaire.EUNPROCESSABLE)
		}
	})

	t.Run("the SVG is an SVG", func(t *testing.T) {
		resp := h.do("GET", "/api/v1/orders/"+id+"/qr.svg", "")
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" ||
			!strings.HasPrefix(string(b), "<svg ") || !strings.Contains(string(b), `<path fill="#000" d="M`) {
			t.Errorf("%d %s %.80s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	})
}

func TestSlip(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		lang  string
		want  []string
		title string
	}{
		{"nb", []string{`<html lang="nb">`, "Skriv inn koden din:", "Koden virker til 9. desember 2026 kl. 11:00.", "Gå til eprom.example.no",
			"Med mobilen", "Skann QR-koden med kameraet.", "Eller på PC, nettbrett eller mobil", "trykk «Send svarene»",
			"Det tar omtrent 3 minutter. Det er frivillig å svare.", `<p class="kicker">Spørreskjema</p>`}, "Spørsmål om alkohol"},
		{"nn", []string{`<html lang="nn">`, "Koden verkar til 9. desember 2026 kl. 11:00.", "Svar på spørsmåla", "«Send svara»",
			"Det tek omtrent 3 minutt."}, "Spørsmål om alkohol"},
		{"en", []string{`<html lang="en">`, "Enter your code:", "The code works until 9 December 2026 at 11:00.", "Go to eprom.example.no",
			"“Send my answers”", "It takes about 3 minutes."}, "Questions about alcohol"},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			m := h.create(fmt.Sprintf(`{"questionnaire": "audit", "patientRef": "p", "language": %q}`, tt.lang))
			resp := h.do("GET", m["slip"].(string), "")
			b, _ := io.ReadAll(resp.Body)
			page := string(b)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			for _, w := range append(tt.want, m["code"].(string), "<svg ", "<h1>"+tt.title+"</h1>", "page-a4.css") {
				if !strings.Contains(page, w) {
					t.Errorf("the slip lacks %q", w)
				}
			}
			if strings.Contains(page, "<script") || strings.Contains(page, "style=") || strings.Contains(page, "<style") {
				t.Error("the slip has inline script or style, which the CSP forbids")
			}
			if strings.Contains(page, `class="from"`) {
				t.Error("a client without a help contact has a sender line")
			}
		})
	}

	t.Run("it names the clinic that sends it", func(t *testing.T) {
		resp := h.do("POST", "/api/v1/orders", `{"questionnaire": "kvarus-maalepunkt", "patientRef": "p"}`, "Authorization", "Bearer "+kvarusToken)
		m := decode(t, resp)
		page := string(readAll(t, h.do("GET", m["slip"].(string), "", "Authorization", "Bearer "+kvarusToken)))
		if !strings.Contains(html.UnescapeString(page), "Fra Rusklinikken, telefon +47 22 11 22 33.") {
			t.Errorf("the slip does not name its sender:\n%s", page)
		}
	})

	t.Run("A5", func(t *testing.T) {
		m := h.create(`{"questionnaire": "audit", "patientRef": "p"}`)
		b, _ := io.ReadAll(h.do("GET", m["slip"].(string)+"?size=a5", "").Body)
		if !strings.Contains(string(b), "page-a5.css") {
			t.Error("no A5 page style")
		}
		wantError(t, h.do("GET", m["slip"].(string)+"?size=letter", ""), 422, questionnaire.EUNPROCESSABLE)
	})

	t.Run("its stylesheets are served", func(t *testing.T) {
		for _, p := range []string{"/static/slip.css", "/static/page-a4.css", "/static/page-a5.css"} {
			resp := h.do("GET", p, "")
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
				t.Errorf("%s: %d %s", p, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		}
		for _, p := range []string{"/static/../web.go", "/static/nope.css"} {
			if resp := h.do("GET", p, ""); resp.StatusCode != 404 {
				t.Errorf("%s: %d", p, resp.StatusCode)
			}
		}
	})
}

func TestQuestionnaireList(t *testing.T) {
	h := newHarness(t)
	resp := h.do("GET", "/api/v1/questionnaires", "")
	m := decode(t, resp)
	list, _ := m["questionnaires"].([]any)
	if resp.StatusCode != 200 || len(list) != 10 { // four questionnaires, versions 1.0.0 and 1.1.0, and the kvarus forms 1.2.0
		t.Fatalf("%d %v", resp.StatusCode, m)
	}
	first := list[0].(map[string]any)
	if first["id"] != "audit" || first["version"] != "1.1.0" || first["latest"] != true ||
		first["title"].(map[string]any)["en"] == nil || len(first["languages"].([]any)) != 3 {
		t.Errorf("%v", first)
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"/healthz", "/api/v1/questionnaires", "/nope"} {
		resp := h.do("GET", p, "")
		for k, want := range map[string]string{
			"X-Content-Type-Options":    "nosniff",
			"Referrer-Policy":           "no-referrer",
			"Strict-Transport-Security": "max-age=31536000; includeSubDomains",
			"Cache-Control":             "no-store",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", p, k, got, want)
			}
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") ||
			strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", p, csp)
		}
	}
	wantError(t, h.do("GET", "/api/v1/nope", ""), 404, questionnaire.ENOTFOUND)
}

// inFlightAtLookup records, from inside the request, how many requests
// the server says it is handling when a code is looked up.
type inFlightAtLookup struct {
	store.Orders
	srv  **web.Server
	seen []int
}

func (l *inFlightAtLookup) LookupCode(ctx context.Context, code string) (*questionnaire.Order, bool, error) {
	l.seen = append(l.seen, (*l.srv).InFlight())
	return l.Orders.LookupCode(ctx, code)
}

// The bolt store's writes wait for others only while requests are being
// handled (bolt.SetBusy): a count that missed a request would commit
// too early, one that kept an ended request would make every write wait.
func TestInFlightCountsRequestsBeingHandled(t *testing.T) {
	h := newHarness(t)
	l := &inFlightAtLookup{Orders: h.cfg.Orders, srv: &h.srv}
	h.cfg.Orders = l
	srv, err := web.New(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	code := h.create(`{"questionnaire": "audit", "patientRef": "p-1"}`)["code"].(string)
	for _, p := range []string{"/c/" + code, "/c/AAAAA-AAAAA"} {
		h.do("GET", p, "", "Authorization", "")
	}
	h.do("GET", "/nope", "")
	h.do("POST", "/api/v1/orders", "{", "Authorization", "Bearer wrong-token-0123456789")
	h.do("POST", "/api/v1/orders", "{")
	if len(l.seen) != 2 || l.seen[0] != 1 || l.seen[1] != 1 {
		t.Errorf("requests in flight at two code lookups: %v, want [1 1]", l.seen)
	}
	if n := h.srv.InFlight(); n != 0 {
		t.Errorf("%d requests in flight after every request ended (errors among them)", n)
	}
}

func TestHealth(t *testing.T) {
	h := newHarness(t)
	if resp := h.do("GET", "/healthz", "", "Authorization", ""); resp.StatusCode != 200 {
		t.Errorf("healthz: %d", resp.StatusCode)
	}
	resp := h.do("GET", "/readyz", "", "Authorization", "")
	if m := decode(t, resp); resp.StatusCode != 200 || m["status"] != "ready" {
		t.Errorf("readyz: %d %v", resp.StatusCode, m)
	}
	h.store.Close()
	resp = h.do("GET", "/readyz", "", "Authorization", "")
	if m := decode(t, resp); resp.StatusCode != 503 || m["status"] != "not ready" {
		t.Errorf("readyz with the store closed: %d %v", resp.StatusCode, m)
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	h := newHarness(t)
	m := h.create(`{"questionnaire": "audit", "patientRef": "secret-patient-4711"}`)
	id := m["id"].(string)
	h.do("GET", "/api/v1/orders/"+id+"/slip", "")
	h.do("GET", "/api/v1/orders/"+id+"/qr.png", "")
	h.do("POST", "/api/v1/orders/"+id+"/reissue", "")
	h.do("GET", "/api/v1/orders/"+id, "", "Authorization", "Bearer not-a-token-but-close")
	code := m["code"].(string)
	for name, log := range map[string]string{"request log": h.logs.String(), "audit log": h.audit.String()} {
		for _, secret := range []string{code, strings.ReplaceAll(code, "-", ""), "secret-patient-4711", token, "not-a-token-but-close"} {
			if strings.Contains(log, secret) {
				t.Errorf("the %s holds %q", name, secret)
			}
		}
	}
	for _, action := range []string{"order.create", "order.slip", "order.qr", "order.reissue"} {
		if !strings.Contains(h.audit.String(), `"msg":"`+action+`"`) {
			t.Errorf("the audit log has no %s", action)
		}
	}
	if !strings.Contains(h.audit.String(), `"client":"registry","token":2`) || !strings.Contains(h.audit.String(), id) {
		t.Errorf("the audit log does not say who did it to which order:\n%s", h.audit.String())
	}
}
