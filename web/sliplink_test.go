package web_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// get fetches a path as a clinician's browser would: no API header.
func (h *harness) getAsBrowser(path string) (int, string) {
	h.t.Helper()
	resp, err := h.srv.App().Test(httptest.NewRequest("GET", path, nil), -1)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, string(readAll(h.t, resp))
}

// slipPath is the path of an order's signed slip link.
func slipPath(t *testing.T, m map[string]any) string {
	t.Helper()
	link, _ := m["slipUrl"].(string)
	if !strings.HasPrefix(link, publicURL+"/slip/") {
		t.Fatalf("slipUrl %q", link)
	}
	return strings.TrimPrefix(link, publicURL)
}

func TestSignedSlipLink(t *testing.T) {
	onBothStores(t, func(t *testing.T, opts []option) {
		h := newHarness(t, opts...)
		a := h.create(`{"questionnaire": "audit", "patientRef": "p"}`)
		path := slipPath(t, a)

		status, body := h.getAsBrowser(path + "?size=a5")
		if status != 200 || !strings.Contains(body, a["code"].(string)) || !strings.Contains(body, "<svg") {
			t.Fatalf("the signed link: %d %.300s", status, body)
		}
		if status, _ := h.getAsBrowser(path); status != http.StatusNotFound {
			t.Errorf("the link a second time: %d, want 404: it works once", status)
		}

		// Tampered, or another order's signature.
		b := h.create(`{"questionnaire": "audit", "patientRef": "q"}`)
		pa, pb := slipPath(t, h.decodeGet(a["id"].(string))), slipPath(t, b)
		ra, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(pa, "/slip/"))
		rb, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(pb, "/slip/"))
		swapped := append(append([]byte{}, rb[:28]...), ra[28:]...) // b's order, a's signature
		flipped := append([]byte{}, ra...)
		flipped[20] ^= 1 // a later expiry
		for name, p := range map[string]string{
			"another order's signature": "/slip/" + base64.RawURLEncoding.EncodeToString(swapped),
			"a changed expiry":          "/slip/" + base64.RawURLEncoding.EncodeToString(flipped),
			"not base64":                "/slip/" + strings.Repeat("*", 59),
			"too short":                 "/slip/" + base64.RawURLEncoding.EncodeToString(ra[:30]),
		} {
			if status, body := h.getAsBrowser(p); status != http.StatusNotFound || strings.Contains(body, b["code"].(string)) {
				t.Errorf("%s: %d", name, status)
			}
		}
		if status, _ := h.getAsBrowser(pb); status != 200 {
			t.Errorf("b's own link after the forgeries: %d, want 200", status)
		}

		// Expired: a link from now, 16 minutes on.
		c := h.create(`{"questionnaire": "audit", "patientRef": "r"}`)
		pc := slipPath(t, c)
		h.clock.Add(16 * time.Minute)
		if status, _ := h.getAsBrowser(pc); status != http.StatusNotFound {
			t.Errorf("a link 16 minutes old: %d, want 404", status)
		}

		// A reissue kills the link of the old code; a cancel every link.
		d := h.create(`{"questionnaire": "audit", "patientRef": "s"}`)
		pd := slipPath(t, d)
		re := decode(t, h.do("POST", "/api/v1/orders/"+d["id"].(string)+"/reissue", ""))
		if status, _ := h.getAsBrowser(pd); status != http.StatusNotFound {
			t.Errorf("the link of a reissued code: %d, want 404", status)
		}
		pd2 := slipPath(t, re)
		h.do("POST", "/api/v1/orders/"+d["id"].(string)+"/cancel", "")
		if status, _ := h.getAsBrowser(pd2); status != http.StatusNotFound {
			t.Errorf("the link of a cancelled order: %d, want 404", status)
		}
		for _, p := range []string{pa, pb, pc, pd} {
			if strings.Contains(h.logs.String(), p) || strings.Contains(h.audit.String(), p) {
				t.Errorf("a signed link is in the logs:\n%s", h.logs.String())
			}
		}
	})
}

// decodeGet reads an order through the API (a fresh slipUrl).
func (h *harness) decodeGet(id string) map[string]any {
	h.t.Helper()
	return decode(h.t, h.do("GET", "/api/v1/orders/"+id, ""))
}
