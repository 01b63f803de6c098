package web_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// answerMaalepunkt answers kvarus-maalepunkt from its first page to the
// review and sends it; it returns the page Send led to.
func (b *browser) answerMaalepunkt(code string, mental url.Values) page {
	b.h.t.Helper()
	p := b.follow(b.answer(b.enter(code), 1, "next", maalepunktPage1))
	p = b.follow(b.answer(p, 2, "next", url.Values{"alkohol": {"no"}, "cannabis": {"no"}, "beroligende": {"no"}, "opioider": {"no"},
		"stimulerende": {"no"}, "andre": {"no"}}))
	page3 := url.Values{"livskvalitet": {"5"}}
	for k, v := range mental {
		page3[k] = v
	}
	p = b.follow(b.answer(p, 3, "next", page3))
	review := b.follow(b.answer(p, 4, "review", url.Values{"hjelp-fornoyd": {"3"}, "hjelp-viktig": {"yes"}}))
	wantPage(b.h.t.(*testing.T), review, 200, "Se over svarene")
	return b.post("/q/submit", review, url.Values{})
}

// previous are two earlier results of kvarus-maalepunkt's mental score.
const previous = `"previous": [{"at": "2026-06-01", "label": "Målepunkt", "scores": {"mental": 10}},
	{"at": "2026-03-01", "label": "Oppstart", "scores": {"mental": 17}}]`

var fewProblems = url.Values{"angst": {"1"}, "nedfor": {"1"}, "sovn": {"1"}, "uro": {"1"}, "haplos": {"1"}, "bra": {"3"}}

func TestDoneShowsTheChange(t *testing.T) {
	onBothStores(t, func(t *testing.T, st []option) {
		h := newHarness(t, st...)
		m := h.create(`{"questionnaire": "kvarus-maalepunkt", "patientRef": "p", "language": "nb", ` + previous + `}`)
		b := h.browser()
		sent := b.answerMaalepunkt(m["code"].(string), fewProblems)
		if sent.status != 303 || !strings.HasPrefix(sent.header.Get("Location"), "/done") {
			t.Fatalf("send: %d %s", sent.status, sent.header.Get("Location"))
		}
		var value string
		for _, sc := range h.envelope(m["id"].(string)).Scores {
			if sc.ID == "mental" && sc.Value != nil {
				value = strings.Replace(strconv.FormatFloat(*sc.Value, 'f', -1, 64), ".", ",", 1)
			}
		}
		if value == "" {
			t.Fatal("the envelope has no mental score")
		}
		done := b.get(sent.header.Get("Location"))
		wantPage(t, done, 200, "Takk! Svarene er sendt", "Resultatene dine", "<h3>Psykiske plager</h3>",
			"Svarene dine tyder på lite psykiske plager den siste tiden.", // the band's words for the patient
			`<svg class="change-graph"`, `role="img"`, "3 resultater, fra 17 (1. mars 2026) til "+value+" (25. november 2026).",
			// the table, oldest first, the value just sent last
			"Oppstart<br>", "Målepunkt<br>", `<tr class="current"><th scope="row">Nå<br>`, "<td>Mye plager</td>", "<td>Lite plager</td>")
		if strings.Index(done.body, "Oppstart<br>") > strings.Index(done.body, "Målepunkt<br>") {
			t.Error("the table is not oldest first")
		}
		if strings.Contains(done.body, "Psykiske plager, gjennomsnitt") {
			t.Error("a score without feedback is shown to the patient")
		}
		// In English, at the patient's request.
		wantPage(t, b.get("/done?lang=en"), 200, "Your results", "Your answers suggest few mental health problems lately.", "Oppstart<br>", "Now<br>")

		// The cookie is sealed: no score, label or date in it.
		sealed := b.cookies["eprom-feedback"]
		raw, err := base64.RawURLEncoding.DecodeString(sealed)
		if sealed == "" || err != nil || json.Valid(raw) || bytes.Contains(raw, []byte("mental")) || bytes.Contains(raw, []byte("Oppstart")) {
			t.Errorf("feedback cookie %q is not sealed", sealed)
		}
		// Another browser, a tampered cookie, or ten minutes on: the thanks only.
		other := h.browser()
		tampered := bytes.Clone(raw)
		tampered[len(tampered)/2] ^= 0x01 // one bit of the sealed bytes ("AA" at the end was at times the same cookie)
		other.cookies["eprom-feedback"] = base64.RawURLEncoding.EncodeToString(tampered)
		for name, p := range map[string]page{"another browser": h.browser().get("/done"), "a tampered cookie": other.get("/done")} {
			wantPage(t, p, 200, "Takk! Svarene er sendt")
			if strings.Contains(p.body, "Resultatene dine") {
				t.Errorf("%s sees the feedback", name)
			}
		}
		h.clock.Add(10 * time.Minute)
		if p := b.get("/done"); strings.Contains(p.body, "Resultatene dine") {
			t.Error("the feedback outlives its ten minutes")
		}
	})
}

func TestDoneWithoutPreviousIsAsBefore(t *testing.T) {
	h := newHarness(t)
	m := h.create(`{"questionnaire": "kvarus-maalepunkt", "patientRef": "p", "language": "nb", ` + previous + `}`)
	b := h.browser()
	b.follow(b.answerMaalepunkt(m["code"].(string), fewProblems))
	if b.cookies["eprom-feedback"] == "" {
		t.Fatal("no feedback after the first form")
	}
	// The next form of the same browser session has no previous results:
	// its done page shows nothing of the first one's.
	_, code := h.order("kvarus-maalepunkt", "nb")
	sent := b.answerMaalepunkt(code, fewProblems)
	if _, ok := b.cookies["eprom-feedback"]; ok {
		t.Error("the first form's feedback is kept after the second was sent")
	}
	done := b.get(sent.header.Get("Location"))
	wantPage(t, done, 200, "Takk! Svarene er sendt")
	if strings.Contains(done.body, "Resultatene dine") || strings.Contains(done.body, "<svg") {
		t.Error("a done page without previous results shows feedback")
	}
}

// TestNextPatientSeesNothingOfTheLast: on a shared tablet, the next
// patient's form (with no previous results, or only declined, or only
// entered) shows nothing of the one before.
func TestNextPatientSeesNothingOfTheLast(t *testing.T) {
	h := newHarness(t)
	for name, next := range map[string]func(b *browser){
		"sends a form without previous": func(b *browser) {
			_, code := h.order("kvarus-maalepunkt", "nb")
			b.answerMaalepunkt(code, fewProblems)
		},
		"only enters a code": func(b *browser) {
			_, code := h.order("audit", "nb")
			b.enter(code)
		},
	} {
		t.Run(name, func(t *testing.T) {
			m := h.create(`{"questionnaire": "kvarus-maalepunkt", "patientRef": "a", "language": "nb", ` + previous + `}`)
			b := h.browser()
			if done := b.follow(b.answerMaalepunkt(m["code"].(string), fewProblems)); !strings.Contains(done.body, "Resultatene dine") {
				t.Fatal("no feedback for the first patient")
			}
			next(b)
			if done := b.get("/done"); strings.Contains(done.body, "Resultatene dine") || strings.Contains(done.body, "Oppstart") {
				t.Error("the next patient sees the first one's results")
			}
		})
	}
}

func TestDoneSaysWhenTheScoreCouldNotBeWorkedOut(t *testing.T) {
	h := newHarness(t)
	m := h.create(`{"questionnaire": "kvarus-maalepunkt", "patientRef": "p", "language": "nb", ` + previous + `}`)
	b := h.browser()
	done := b.follow(b.answerMaalepunkt(m["code"].(string), url.Values{"angst": {"1"}})) // one of the six: too few
	wantPage(t, done, 200, "Resultatene dine", "Du svarte på for få av spørsmålene til at dette kunne regnes ut denne gangen.",
		"<td>For få svar til å regne ut</td>", "2 resultater, fra 17 (1. mars 2026) til 10 (1. juni 2026).")
}

func TestOrderRefusesBadPrevious(t *testing.T) {
	h := newHarness(t)
	resp := h.do("POST", "/api/v1/orders", `{"questionnaire": "kvarus-maalepunkt", "patientRef": "p", "previous": [{"at": "2026-01-01", "scores": {"mental": 99}}]}`)
	m := decode(t, resp)
	if resp.StatusCode != 422 || !strings.Contains(fmt.Sprint(m["error"]), "previous[0].scores.mental is 99, outside the score's range 0 to 24") {
		t.Errorf("%d %v", resp.StatusCode, m)
	}
	resp = h.do("POST", "/api/v1/orders", `{"questionnaire": "audit", "patientRef": "p", "previous": [{"at": "2026-01-01", "scores": {"total": 3}}]}`)
	if m := decode(t, resp); resp.StatusCode != 422 || !strings.Contains(fmt.Sprint(m["error"]), "shows the patient no scores") {
		t.Errorf("%d %v", resp.StatusCode, m)
	}
}
