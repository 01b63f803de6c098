package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The browser tests of the patient pages' behaviours (issue 11): each would
// fail without the behaviour, in a real Chromium with the real service.

// eval runs JavaScript in the page and returns its result.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	var v T
	if err := chromedp.Run(ctx, chromedp.Evaluate(js, &v)); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds or the step times out.
func waitFor(t *testing.T, ctx context.Context, what, js string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !eval[bool](t, ctx, js) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s (%s); the page: %s %s", within, what, js, eval[string](t, ctx, `location.href + " " + document.readyState`), text(ctx, t))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checked reports whether the option of a question is ticked.
func checked(t *testing.T, ctx context.Context, name, value string) bool {
	t.Helper()
	return eval[bool](t, ctx, fmt.Sprintf(`!!document.querySelector('input[name=%q][value=%q]:checked')`, name, value))
}

// fieldValue is the value of a question's text field.
func fieldValue(t *testing.T, ctx context.Context, linkID string) string {
	t.Helper()
	return eval[string](t, ctx, fmt.Sprintf(`document.getElementById(%q).value`, "f-"+linkID))
}

// focused is the id of the element that has the focus.
func focused(t *testing.T, ctx context.Context) string {
	t.Helper()
	return eval[string](t, ctx, `document.activeElement ? document.activeElement.id : ""`)
}

// patientTest is one browser test's service, order, screenshot folder and
// phone (script on).
type patientTest struct {
	base  string
	stop  func()
	order map[string]any
	dir   string
	ctx   context.Context
}

func newPatientTest(t *testing.T, questionnaireID, lang, name string) *patientTest {
	t.Helper()
	chromium(t)
	p := &patientTest{dir: screenshots(t, name)}
	p.base, p.stop = startService(t, t.TempDir())
	status, order := api(t, "POST", p.base+"/api/v1/orders",
		fmt.Sprintf(`{"questionnaire": %q, "patientRef": "p-%s", "language": %q}`, questionnaireID, name, lang))
	if status != 201 {
		t.Fatalf("order: %d %v", status, order)
	}
	p.order = order
	var cancel func()
	p.ctx, cancel = phone(t, true)
	t.Cleanup(cancel)
	return p
}

// toPage2 answers page 1 of kvarus-maalepunkt (no children) and goes on.
func toPage2(p *patientTest) chromedp.Action {
	return chromedp.Tasks{chromedp.Navigate(p.order["url"].(string)), on("page-1"),
		chromedp.SetValue("#f-behandling-start", "2025-03-01", chromedp.ByQuery),
		pick("bolig", "egen"), pick("arbeid", "skole"), pick("barn", "false"), press("next"), on("page-2")}
}

func TestBrowserAutosave(t *testing.T) {
	p := newPatientTest(t, "audit", "nb", "autosave")
	ctx, order, dir, stop := p.ctx, p.order, p.dir, p.stop

	mustRun(t, ctx, "open", chromedp.Navigate(order["url"].(string)), on("page-1"), pick("q1", "2"))
	// The script's post reaches the page's own address and is answered 204:
	// it went to "/[object RadioNodeList]" when it read form.action.
	waitFor(t, ctx, "the autosave", `performance.getEntriesByType("resource").some(e => e.initiatorType === "fetch" && new URL(e.name).pathname === "/q" && e.responseStatus === 204)`, 10*time.Second)
	if eval[bool](t, ctx, `performance.getEntriesByType("resource").some(e => e.name.includes("RadioNodeList"))`) {
		t.Error("a request went to the RadioNodeList address")
	}

	// The same code on another phone: the answer is there without any button pressed.
	other, cancelOther := phone(t, true)
	defer cancelOther()
	mustRun(t, other, "second phone", chromedp.Navigate(order["url"].(string)), on("page-1"), shot(dir, "01-second-phone"))
	if !checked(t, other, "q1", "2") {
		t.Error("the autosaved answer is not there on the second phone")
	}
	if got := text(other, t); !strings.Contains(got, "Skjemaet er også åpent på en annen enhet.") {
		t.Errorf("the second phone is not told the form is open elsewhere: %s", got)
	}
	cancelOther()

	// The session ends (the cookie is gone): the next change says so, with
	// the way back, instead of promising to save later.
	mustRun(t, ctx, "session ends", network.DeleteCookies("eprom").WithURL(p.base), pick("q3", "1"))
	waitFor(t, ctx, "the session-lost notice", `!document.querySelector(".session-lost").hidden`, 10*time.Second)
	if eval[bool](t, ctx, `!document.querySelector(".save-error:not(.session-lost)").hidden`) {
		t.Error("with the session gone the page still says it will save later")
	}
	mustRun(t, ctx, "session lost", shot(dir, "02-session-lost"))
	mustRun(t, ctx, "a session again", chromedp.Navigate(order["url"].(string)), on("page-1"))

	// The server goes away: the next change says it was not saved.
	if eval[bool](t, ctx, `!document.querySelector(".save-error").hidden`) {
		t.Fatal("the not-saved warning shows before anything failed")
	}
	stop()
	mustRun(t, ctx, "offline change", pick("q2", "1"))
	waitFor(t, ctx, "the not-saved warning", `!document.querySelector(".save-error").hidden`, 10*time.Second)
	mustRun(t, ctx, "warning", shot(dir, "03-not-saved"))
}

func TestBrowserBackKeepsWhatWasTyped(t *testing.T) {
	p := newPatientTest(t, "kvarus-maalepunkt", "nb", "back")
	ctx, dir := p.ctx, p.dir
	mustRun(t, ctx, "page 1", toPage2(p))

	for i, days := range []string{"45", "tre"} {
		mustRun(t, ctx, "page 2 "+days,
			pick("alkohol", "yes"), pick("cannabis", "yes"),
			chromedp.Evaluate(`document.getElementById("f-alkohol-dager").value = ""`, nil), typeIn("alkohol-dager", days),
			press("back"), on("page-1"), shot(dir, fmt.Sprintf("%02d-back-%s", 2*i+1, days)))
		if got := text(ctx, t); strings.Contains(got, "Noe må rettes") {
			t.Errorf("Back with %q shows errors on page 1: %s", days, got)
		}
		mustRun(t, ctx, "next again", press("next"), on("page-2"), shot(dir, fmt.Sprintf("%02d-next-%s", 2*i+2, days)))
		if !checked(t, ctx, "alkohol", "yes") || !checked(t, ctx, "cannabis", "yes") {
			t.Errorf("with %q: the answers Ja, Ja are gone after Back and Next", days)
		}
		if got := fieldValue(t, ctx, "alkohol-dager"); got != days {
			t.Errorf("days: %q after Back and Next, want %q as typed", got, days)
		}
		if !eval[bool](t, ctx, `document.getElementById("f-alkohol-dager").getAttribute("aria-invalid") === "true"`) {
			t.Errorf("with %q: the wrong number is not marked on return", days)
		}
	}
}

func TestBrowserErrorSummaryInPageOrder(t *testing.T) {
	p := newPatientTest(t, "kvarus-maalepunkt", "nb", "errors")
	ctx, dir := p.ctx, p.dir
	mustRun(t, ctx, "page 1", toPage2(p))
	// The script shows the follow-up at once; it is answered "tre"; the rest is left.
	mustRun(t, ctx, "page 2", pick("alkohol", "yes"), typeIn("alkohol-dager", "tre"), press("next"),
		chromedp.WaitVisible("#errors", chromedp.ByQuery), shot(dir, "01-page-2-errors"))
	links := eval[[]string](t, ctx, `[...document.querySelectorAll("#errors a")].map(a => a.getAttribute("href").slice(1))`)
	order2 := eval[[]string](t, ctx, `[...document.querySelectorAll("#errors a")].map(a => document.getElementById(a.getAttribute("href").slice(1))).map(el => [...document.querySelectorAll("input, textarea")].indexOf(el)).map(String)`)
	seen := map[string]bool{}
	last := -1
	for i, l := range links {
		if seen[l] {
			t.Errorf("%s is in the summary twice", l)
		}
		seen[l] = true
		var n int
		fmt.Sscan(order2[i], &n)
		if n < 0 {
			t.Errorf("summary link %s goes to no field", l)
		}
		if n < last {
			t.Errorf("the summary is not in page order: %v", links)
		}
		last = n
	}
	summary := eval[string](t, ctx, `document.getElementById("errors").innerText`)
	if strings.Contains(summary, "Nytt spørsmål") || strings.Contains(summary, "?:") {
		t.Errorf("summary: %s", summary)
	}
	if !strings.Contains(summary, "Skriv et helt tall") {
		t.Errorf("the summary lacks the number's own message: %s", summary)
	}
	// Answering a question in error takes its red marks and its line in the
	// summary away; the others stay.
	before := len(links)
	mustRun(t, ctx, "answer one", pick("cannabis", "no"), shot(dir, "02-one-answered"))
	if eval[bool](t, ctx, `document.querySelector('[data-link="cannabis"]').classList.contains("has-error")`) {
		t.Error("the answered question is still marked as an error")
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#errors li").length`); n != before-1 {
		t.Errorf("the summary has %d lines after one was answered, want %d", n, before-1)
	}
	if eval[bool](t, ctx, `document.querySelector('[data-link="beroligende"]').classList.contains("has-error")`) == false {
		t.Error("a question still unanswered lost its error")
	}
	if !strings.HasPrefix(eval[string](t, ctx, `document.title`), "Feil:") {
		t.Error("the title lost its error prefix while errors remain")
	}
	// All put right: the summary goes, and so does the title's prefix.
	mustRun(t, ctx, "answer the rest", chromedp.Evaluate(`document.getElementById("f-alkohol-dager").value = ""`, nil),
		typeIn("alkohol-dager", "4"), pick("beroligende", "no"), pick("opioider", "no"), pick("stimulerende", "no"), pick("andre", "no"))
	if !eval[bool](t, ctx, `document.getElementById("errors").hidden`) {
		t.Errorf("the summary stays with nothing in it: %s", eval[string](t, ctx, `document.getElementById("errors").innerText`))
	}
	if got := eval[string](t, ctx, `document.title`); strings.HasPrefix(got, "Feil:") {
		t.Errorf("the title still says Feil: %s", got)
	}
}

// tabTo presses Tab until the element matching sel has the focus.
func tabTo(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	for range 60 {
		if eval[bool](t, ctx, fmt.Sprintf(`document.activeElement && document.activeElement.matches(%q)`, sel)) {
			return
		}
		mustRun(t, ctx, "tab", chromedp.KeyEvent(kb.Tab))
	}
	t.Fatalf("Tab never reached %s (focus on %s)", sel, eval[string](t, ctx, `document.activeElement.outerHTML.slice(0, 120)`))
}

// arrive waits until the page of the given kind is there: a poll of the
// document, which holds across the navigation a key press starts.
func arrive(t *testing.T, ctx context.Context, page string, then ...chromedp.Action) {
	t.Helper()
	waitFor(t, ctx, "page "+page, fmt.Sprintf(`document.readyState === "complete" && !!document.querySelector('main[data-page=%q]')`, page), 15*time.Second)
	mustRun(t, ctx, "on "+page, then...)
}

// key presses a key, and runs what follows.
func key(t *testing.T, ctx context.Context, k string, then ...chromedp.Action) {
	t.Helper()
	mustRun(t, ctx, "key "+k, append([]chromedp.Action{chromedp.KeyEvent(k)}, then...)...)
}

func TestBrowserKeyboardOnly(t *testing.T) {
	p := newPatientTest(t, "audit", "en", "keyboard")
	ctx, order, dir, base := p.ctx, p.order, p.dir, p.base

	mustRun(t, ctx, "code form", chromedp.Navigate(base+"/?lang=en"), on("code"))
	tabTo(t, ctx, "#code")
	key(t, ctx, order["code"].(string))
	key(t, ctx, kb.Enter)
	arrive(t, ctx, "page-1")

	// Straight to the review, and Send with nothing answered: the focus is
	// on the summary of what is missing.
	tabTo(t, ctx, `button[value="review"]`)
	key(t, ctx, " ")
	arrive(t, ctx, "review")
	tabTo(t, ctx, "form.submit button")
	key(t, ctx, " ", chromedp.WaitVisible("#errors", chromedp.ByQuery), on("review"), shot(dir, "01-send-refused"))
	if got := focused(t, ctx); got != "errors" {
		t.Fatalf("after a refused Send the focus is on %q, want the summary", got)
	}
	// Its first link goes to the question's page, with the cursor in the field.
	key(t, ctx, kb.Tab)
	key(t, ctx, kb.Enter)
	arrive(t, ctx, "page-1")
	waitFor(t, ctx, "the focus in q1", `document.activeElement && document.activeElement.id === "f-q1-0"`, 5*time.Second)
	key(t, ctx, " ") // Never: AUDIT skips to questions 9 and 10
	if !checked(t, ctx, "q1", "0") {
		t.Fatal("Space did not tick Never")
	}
	tabTo(t, ctx, `button[value="next"]`)
	key(t, ctx, " ")
	arrive(t, ctx, "page-2", shot(dir, "02-page-2"))

	// Next with nothing: the summary has the focus; its link puts the cursor in the field.
	tabTo(t, ctx, `button[value="finish"]`)
	key(t, ctx, " ", chromedp.WaitVisible("#errors", chromedp.ByQuery))
	if got := focused(t, ctx); got != "errors" {
		t.Fatalf("after Next with errors the focus is on %q, want the summary", got)
	}
	key(t, ctx, kb.Tab)
	if got := eval[string](t, ctx, `document.activeElement.getAttribute("href")`); got != "#f-q9-0" {
		t.Fatalf("Tab from the summary went to %q, want its link to q9", got)
	}
	key(t, ctx, kb.Enter)
	waitFor(t, ctx, "the focus in q9", `document.activeElement && document.activeElement.id === "f-q9-0"`, 5*time.Second)
	key(t, ctx, " ")
	if !checked(t, ctx, "q9", "0") {
		t.Fatalf("Space did not tick q9's first option (focus on %q)", focused(t, ctx))
	}
	tabTo(t, ctx, "#f-q10-0")
	key(t, ctx, " ")
	if !checked(t, ctx, "q10", "0") || !checked(t, ctx, "q9", "0") {
		t.Fatalf("q9 and q10 are not both ticked: %v %v, focus %s", checked(t, ctx, "q9", "0"), checked(t, ctx, "q10", "0"), eval[string](t, ctx, `document.activeElement.outerHTML`))
	}
	tabTo(t, ctx, `button[value="finish"]`)
	key(t, ctx, " ")
	arrive(t, ctx, "review", shot(dir, "03-review"))
	tabTo(t, ctx, "form.submit button")
	key(t, ctx, " ")
	arrive(t, ctx, "done", shot(dir, "04-done"))
	if _, o := api(t, "GET", base+"/api/v1/orders/"+order["id"].(string), ""); o["status"] != "submitted" {
		t.Errorf("order after a keyboard-only journey: %v", o)
	}
}

func TestBrowserHelpNowAndButtonOrder(t *testing.T) {
	p := newPatientTest(t, "kvarus-maalepunkt", "nb", "help-now")
	ctx, dir := p.ctx, p.dir
	mustRun(t, ctx, "page 1", toPage2(p))
	// The notice is on the page, in view at its end, with numbers a phone can call.
	mustRun(t, ctx, "help", chromedp.ScrollIntoView(".help-now", chromedp.ByQuery), shot(dir, "01-page-2"))
	if !eval[bool](t, ctx, `(() => { const h = document.querySelector(".help-now"); return !!h && h.offsetHeight > 0 && !!h.querySelector('a[href="tel:116117"]') && !!h.querySelector('a[href="tel:113"]'); })()`) {
		t.Error("no visible help-now notice with call links on page 2")
	}
	// Beside the sensitive question (sharing needles), once injecting shows it.
	mustRun(t, ctx, "injecting", pick("opioider", "yes"), pick("opioider-inntak", "injisert"))
	if !eval[bool](t, ctx, `(() => { const n = document.querySelector('[data-link="deling"] .help-short'); return !!n && n.offsetHeight > 0; })()`) {
		t.Error("no help note beside the question about sharing equipment")
	}
	// On a wide screen Back is left of Next; in the page Next comes first,
	// so Enter in a field means Next.
	mustRun(t, ctx, "desktop", chromedp.EmulateViewport(1024, 768), shot(dir, "02-desktop"))
	if !eval[bool](t, ctx, `document.querySelector('button[value="back"]').getBoundingClientRect().left < document.querySelector('button[value="next"]').getBoundingClientRect().left`) {
		t.Error("on a wide screen Back is not left of Next")
	}
	if !eval[bool](t, ctx, `document.querySelector('form.questions button[type=submit]').value === "next"`) {
		t.Error("the form's first button is not Next")
	}
}
