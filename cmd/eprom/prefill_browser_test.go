package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// prefilledForm has answers filled in by the definition, one of them
// read-only, and text answers checked by pattern and length.
const prefilledForm = `{"id": "forhand", "version": "1.0.0", "languages": ["nb"], "title": {"nb": "Forhåndsutfylt"},
  "items": [{"linkId": "s1", "type": "group", "text": {"nb": "Om deg"}, "items": [
    {"linkId": "intro", "type": "display", "text": {"nb": "Noe er fylt ut for deg. Se over at det stemmer. Er det fare for liv, ring 113."},
     "markup": {"nb": "<p>Noe er <strong>fylt ut for deg</strong>. Se over at det stemmer.</p><ul><li>Er det fare for liv, ring <a href=\"tel:113\">113</a>.</li></ul>"}},
    {"linkId": "enhet", "type": "text", "readOnly": true, "initial": "Avdeling for rusbehandling, Sørlandet sykehus Kristiansand",
     "text": {"nb": "Behandlingssted"}},
    {"linkId": "rus", "type": "choice", "initial": "alkohol", "text": {"nb": "Hva bruker du mest?"},
     "options": [{"value": "alkohol", "text": {"nb": "Alkohol"}}, {"value": "cannabis", "text": {"nb": "Cannabis"}}]},
    {"linkId": "dager", "type": "integer", "initial": 3, "max": 30, "markup": {"nb": "Hvor mange <strong>dager</strong> de siste 30?"}, "text": {"nb": "Hvor mange dager de siste 30?"}},
    {"linkId": "telefon", "type": "text", "required": true, "pattern": "[0-9]{8}",
     "patternHint": {"nb": "8 siffer, uten mellomrom"}, "text": {"nb": "Telefonnummeret ditt"}},
    {"linkId": "hvorfor", "type": "text", "minLength": 10, "multiline": true, "text": {"nb": "Hva vil du oppnå?"}}]}]}`

// extraForms writes the forms of the browser tests that the shipped
// definitions do not cover into a folder for EPROM_SCHEMAS.
func extraForms(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"eget-svar-1.0.0.json": ownAnswerForm, "forhand-1.0.0.json": prefilledForm} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The patient finds the prefilled answers ticked and filled in, the
// read-only one as text, and is told in words what a field's pattern
// wants; the prefilled and the read-only answers are sent.
func TestBrowserPrefilledAndReadOnly(t *testing.T) {
	for _, js := range []bool{true, false} {
		name := map[bool]string{true: "prefill-js", false: "prefill-nojs"}[js]
		t.Run(name, func(t *testing.T) {
			chromium(t)
			forms := extraForms(t)
			base, _ := startService(t, t.TempDir(), func(c *Config) { c.Schemas = forms })
			status, order := api(t, "POST", base+"/api/v1/orders", `{"questionnaire": "forhand", "patientRef": "p-forhand", "language": "nb"}`)
			if status != 201 {
				t.Fatalf("order: %d %v", status, order)
			}
			dir := screenshots(t, name)
			ctx, cancel := phone(t, js)
			defer cancel()

			mustRun(t, ctx, "open", chromedp.Navigate(order["url"].(string)), on("page-1"), shot(dir, "01-prefilled"))
			if !checked(t, ctx, "rus", "alkohol") {
				t.Error("the initial option is not ticked")
			}
			var days string
			var fields int
			mustRun(t, ctx, "read", chromedp.Value("#f-dager", &days, chromedp.ByQuery),
				chromedp.Evaluate(`document.querySelectorAll('[name="enhet"]').length`, &fields))
			if days != "3" {
				t.Errorf("the initial number is %q, want 3", days)
			}
			var bold, link string
			mustRun(t, ctx, "markup", chromedp.Text(".markup strong", &bold, chromedp.ByQuery),
				chromedp.AttributeValue(".markup a", "href", &link, nil, chromedp.ByQuery))
			if bold != "fylt ut for deg" || link != "tel:113" {
				t.Errorf("the formatted text shows bold %q and a link to %q", bold, link)
			}
			if fields != 0 {
				t.Errorf("the read-only question has %d fields", fields)
			}
			got := text(ctx, t)
			for _, want := range []string{"Behandlingssted Avdeling for rusbehandling, Sørlandet sykehus Kristiansand",
				"Dette er fylt ut for deg og kan ikke endres her.", "Telefonnummeret ditt 8 siffer, uten mellomrom"} {
				if !strings.Contains(got, want) {
					t.Errorf("the page lacks %q: %s", want, got)
				}
			}

			mustRun(t, ctx, "wrong", chromedp.SendKeys("#f-telefon", "400 12 345", chromedp.ByQuery),
				chromedp.SendKeys("#f-hvorfor", "Bli frisk", chromedp.ByQuery), press("finish"),
				chromedp.WaitVisible("#errors", chromedp.ByQuery), shot(dir, "02-errors"))
			got = text(ctx, t)
			for _, want := range []string{"Svaret har ikke riktig form. Skriv det slik: 8 siffer, uten mellomrom.",
				"Teksten er for kort. Skriv minst 10 tegn."} {
				if !strings.Contains(got, want) {
					t.Errorf("the errors lack %q: %s", want, got)
				}
			}
			mustRun(t, ctx, "fix", chromedp.SetValue("#f-telefon", "40012345", chromedp.ByQuery),
				chromedp.SetValue("#f-hvorfor", "Bli frisk og få jobb igjen", chromedp.ByQuery),
				press("finish"), on("review"), shot(dir, "03-review"))
			got = text(ctx, t)
			for _, want := range []string{"Behandlingssted Avdeling for rusbehandling", "Alkohol", "40012345"} {
				if !strings.Contains(got, want) {
					t.Errorf("the review lacks %q: %s", want, got)
				}
			}
			mustRun(t, ctx, "send", click("form.submit button"), on("done"))
			env := pullEnvelope(t, base)
			sent := map[string]any{}
			for _, a := range env.Answers {
				sent[a.LinkID] = a.Value
			}
			if sent["enhet"] != "Avdeling for rusbehandling, Sørlandet sykehus Kristiansand" || sent["rus"] != "alkohol" || sent["telefon"] != "40012345" {
				t.Errorf("sent %v", sent)
			}
		})
	}
}
