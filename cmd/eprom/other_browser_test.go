package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// ownAnswerForm has a choice and a multichoice that take the patient's own
// answer (FHIR's open-choice).
const ownAnswerForm = `{"id": "eget-svar", "version": "1.0.0", "languages": ["nb"], "title": {"nb": "Eget svar"},
  "items": [
    {"linkId": "rus", "type": "choice", "required": true, "other": true, "text": {"nb": "Hvilket rusmiddel bruker du mest?"},
     "options": [{"value": "alkohol", "text": {"nb": "Alkohol"}}, {"value": "cannabis", "text": {"nb": "Cannabis"}}]},
    {"linkId": "hvordan", "type": "multichoice", "other": true, "text": {"nb": "Hvordan bruker du det?"},
     "options": [{"value": "royk", "text": {"nb": "Røyk"}}, {"value": "drikke", "text": {"nb": "Drikke"}}]}]}`

func ownAnswerService(t *testing.T) (base string) {
	t.Helper()
	chromium(t)
	forms := t.TempDir()
	if err := os.WriteFile(filepath.Join(forms, "eget-svar-1.0.0.json"), []byte(ownAnswerForm), 0o644); err != nil {
		t.Fatal(err)
	}
	base, _ = startService(t, t.TempDir(), func(c *Config) { c.Schemas = forms })
	return base
}

func orderOwnAnswer(t *testing.T, base string) map[string]any {
	t.Helper()
	status, order := api(t, "POST", base+"/api/v1/orders", `{"questionnaire": "eget-svar", "patientRef": "p-eget", "language": "nb"}`)
	if status != 201 {
		t.Fatalf("order: %d %v", status, order)
	}
	return order
}

// With the script: writing one's own answer takes back the option ticked;
// the review shows the own answers as written, and they are sent.
func TestBrowserOwnAnswerWithJavaScript(t *testing.T) {
	base := ownAnswerService(t)
	order := orderOwnAnswer(t, base)
	dir := screenshots(t, "own-answer-js")
	ctx, cancel := phone(t, true)
	defer cancel()

	mustRun(t, ctx, "open", chromedp.Navigate(order["url"].(string)), on("page-1"), pick("rus", "alkohol"),
		chromedp.SendKeys("#f-rus-other", "ketamin", chromedp.ByQuery))
	if checked(t, ctx, "rus", "alkohol") {
		t.Error("the option stays ticked after the patient wrote an own answer")
	}
	if got := text(ctx, t); !strings.Contains(got, "Eller skriv et eget svar:") || !strings.Contains(got, "Noe annet? Skriv det her:") {
		t.Errorf("the own-answer fields are not labelled: %s", got)
	}
	mustRun(t, ctx, "multichoice", pick("hvordan", "royk"), chromedp.SendKeys("#f-hvordan-other", "snus", chromedp.ByQuery),
		shot(dir, "01-page"))
	if !checked(t, ctx, "hvordan", "royk") {
		t.Error("an own answer to a multichoice took back its ticks")
	}
	mustRun(t, ctx, "review", press("finish"), on("review"), shot(dir, "02-review"))
	got := text(ctx, t)
	for _, want := range []string{"Hvilket rusmiddel bruker du mest? ketamin", "Røyk; snus"} {
		if !strings.Contains(got, want) {
			t.Errorf("the review lacks %q: %s", want, got)
		}
	}
	mustRun(t, ctx, "send", click("form.submit button"), on("done"))
	if _, o := api(t, "GET", base+"/api/v1/orders/"+order["id"].(string), ""); o["status"] != "submitted" && o["status"] != "delivered" {
		t.Errorf("order after send: %v", o)
	}
}

// Without the script: an option and an own answer to one choice is asked
// about, with both kept on the page; taking the own answer away sends the
// option.
func TestBrowserOwnAnswerWithoutJavaScript(t *testing.T) {
	base := ownAnswerService(t)
	order := orderOwnAnswer(t, base)
	dir := screenshots(t, "own-answer-nojs")
	ctx, cancel := phone(t, false)
	defer cancel()

	mustRun(t, ctx, "both", chromedp.Navigate(order["url"].(string)), on("page-1"), pick("rus", "alkohol"),
		chromedp.SendKeys("#f-rus-other", "ketamin", chromedp.ByQuery), press("finish"), chromedp.WaitVisible("#errors", chromedp.ByQuery), shot(dir, "01-both"))
	if got := text(ctx, t); !strings.Contains(got, "Velg ett av svarene, eller skriv et eget svar – ikke begge.") {
		t.Errorf("no error for an option and an own answer: %s", got)
	}
	var own string
	mustRun(t, ctx, "read", chromedp.Value("#f-rus-other", &own, chromedp.ByQuery))
	if own != "ketamin" || !checked(t, ctx, "rus", "alkohol") {
		t.Errorf("what the patient gave is not kept: own %q, option ticked %v", own, checked(t, ctx, "rus", "alkohol"))
	}
	mustRun(t, ctx, "fix", chromedp.SendKeys("#f-rus-other", kb.End+strings.Repeat(kb.Backspace, len("ketamin")), chromedp.ByQuery), press("finish"), on("review"), shot(dir, "02-review"))
	if got := text(ctx, t); !strings.Contains(got, "Hvilket rusmiddel bruker du mest? Alkohol") {
		t.Errorf("the review lacks the option: %s", got)
	}
}
