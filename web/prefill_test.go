package web_test

import (
	"net/url"
	"strings"
	"testing"
	"testing/fstest"

	"eprom/schemas"
)

// prefilledForm has initial answers, a read-only question (filled in by
// the definition) and text answers checked by length and pattern.
const prefilledForm = `{"id": "forhand", "version": "1.0.0", "languages": ["nb", "en"], "title": {"nb": "Forhåndsutfylt", "en": "Prefilled"},
  "items": [{"linkId": "s1", "type": "group", "text": {"nb": "Om deg", "en": "About you"}, "items": [
    {"linkId": "intro", "type": "display", "text": {"nb": "Noe er fylt ut. Ring 113 ved fare.", "en": "Some is filled in."},
     "markup": {"nb": "<p>Noe er <strong>fylt ut</strong>.</p><ul><li>Ring <a href=\"tel:113\">113</a> ved fare.</li></ul>"}},
    {"linkId": "enhet", "type": "text", "readOnly": true, "initial": "Avd. Rus", "text": {"nb": "Behandlingssted", "en": "Place of treatment"}},
    {"linkId": "rus", "type": "choice", "initial": "alkohol", "text": {"nb": "Hva bruker du mest?", "en": "What do you use most?"},
     "options": [{"value": "alkohol", "text": {"nb": "Alkohol", "en": "Alcohol"}}, {"value": "cannabis", "text": {"nb": "Cannabis", "en": "Cannabis"}}]},
    {"linkId": "dager", "type": "integer", "initial": 3, "max": 30, "markup": {"nb": "Hvor mange <strong>dager</strong>?"}, "text": {"nb": "Hvor mange dager?", "en": "How many days?"}},
    {"linkId": "telefon", "type": "text", "required": true, "pattern": "[0-9]{8}",
     "patternHint": {"nb": "8 siffer, uten mellomrom", "en": "8 digits, no spaces"}, "text": {"nb": "Telefonnummer", "en": "Phone number"}},
    {"linkId": "hvorfor", "type": "text", "minLength": 10, "multiline": true, "text": {"nb": "Hvorfor?", "en": "Why?"}}]}]}`

// withDefinition gives the harness a catalogue of the shipped definitions
// and one more.
func withDefinition(file, data string) option {
	return func(h *harness) {
		cat, err := schemas.Load(schemas.Shipped(), fstest.MapFS{file: {Data: []byte(data)}})
		if err != nil {
			h.t.Fatal(err)
		}
		h.cfg.Catalogue = cat
	}
}

// A new order starts from the definition's initial answers, once; a
// read-only answer is shown as text and cannot be changed by a post; the
// text checks say what is wrong, in the patient's language.
func TestPrefillReadOnlyAndTextChecks(t *testing.T) {
	onBothStores(t, func(t *testing.T, store []option) {
		h := newHarness(t, append(store, withDefinition("forhand-1.0.0.json", prefilledForm))...)
		id, code := h.order("forhand", "nb")
		b := h.browser()
		p := b.enter(code)
		wantPage(t, p, 200, `name="rus" value="alkohol" checked`, `name="dager" type="text" value="3"`,
			`<p class="readonly-value">Avd. Rus</p>`, "Dette er fylt ut for deg og kan ikke endres her.",
			`<p class="hint" id="f-telefon-format">8 siffer, uten mellomrom</p>`, `aria-describedby="f-telefon-format"`,
			`<div class="display markup"><p>Noe er <strong>fylt ut</strong>.</p><ul><li>Ring <a href="tel:113">113</a> ved fare.</li></ul></div>`,
			`Hvor mange <strong>dager</strong>?`)
		if strings.Contains(p.body, `name="enhet"`) {
			t.Error("the read-only question has a field")
		}

		// A post that tries to change the read-only answer, and text that fails its checks.
		bad := b.answer(p, 1, "next", url.Values{"enhet": {"Et annet sted"}, "rus": {"cannabis"}, "dager": {"3"},
			"telefon": {"1234 5678"}, "hvorfor": {"Kort"}})
		wantPage(t, bad, 422, "Svaret har ikke riktig form. Skriv det slik: 8 siffer, uten mellomrom.",
			"Teksten er for kort. Skriv minst 10 tegn.", `<p class="readonly-value">Avd. Rus</p>`, `name="rus" value="cannabis" checked`)

		// Withdrawing a prefilled answer sticks, even when the code is used again.
		next := b.answer(bad, 1, "next", url.Values{"enhet": {"Et annet sted"}, "rus": {"cannabis"}, "telefon": {"12345678"}})
		if next.status != 303 {
			t.Fatalf("next: %d\n%.2000s", next.status, next.body)
		}
		again := h.browser()
		p = again.enter(code)
		if p.status == 200 && strings.Contains(p.body, `value="3"`) {
			t.Error("a withdrawn initial answer came back when the code was used again")
		}
		review := again.get("/q/review")
		wantPage(t, review, 200, "Avd. Rus", "Cannabis")
		if strings.Contains(review.body, `href="/q?page=1#f-enhet"`) {
			t.Error("the review offers to change the read-only answer")
		}
		if sent := again.post("/q/submit", review, url.Values{}); sent.status != 303 {
			t.Fatalf("send: %d\n%.2000s", sent.status, sent.body)
		}
		env := h.envelope(id)
		got := map[string]any{}
		for _, a := range env.Answers {
			got[a.LinkID] = a.Value
		}
		if got["enhet"] != "Avd. Rus" || got["rus"] != "cannabis" || got["telefon"] != "12345678" {
			t.Errorf("envelope answers %v", got)
		}
		if _, ok := got["dager"]; ok {
			t.Errorf("the withdrawn answer was sent: %v", got)
		}
	})
}

// An order of a definition without initial answers starts empty, and the
// English page says the text checks in English.
func TestTextChecksInEnglish(t *testing.T) {
	h := newHarness(t, withDefinition("forhand-1.0.0.json", prefilledForm))
	_, code := h.order("forhand", "en")
	b := h.browser()
	p := b.enter(code)
	bad := b.answer(p, 1, "next", url.Values{"telefon": {"x"}, "hvorfor": {"no"}})
	wantPage(t, bad, 422, "The answer is not in the right form. Please write it like this: 8 digits, no spaces.",
		"The text is too short. Please write at least 10 characters.", "How many days?")
	if strings.Contains(bad.body, "<strong>dager") || strings.Contains(bad.body, "fylt ut") {
		t.Error("the English page shows the Norwegian markup")
	}
}
