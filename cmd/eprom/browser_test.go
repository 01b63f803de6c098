package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// chromium finds Debian's Chromium. Outside CI a machine without it skips
// the browser tests, saying so; under CI=true they must run.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but no chromium on PATH: .ci/run must install it (apt-get install -y chromium)")
	}
	t.Skip("SKIPPED browser test: no chromium on PATH (apt-get install -y chromium); it runs under CI=true")
	return ""
}

// screenshots is where the browser tests leave a picture of each page.
func screenshots(t *testing.T, name string) string {
	dir := os.Getenv("EPROM_TEST_OUTPUT")
	if dir == "" {
		dir = filepath.Join("..", "..", "test-output")
	}
	dir = filepath.Join(dir, "browser", name)
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startService runs the real service (what `eprom serve` runs) on a
// loopback port and a temporary data folder.
func startService(t *testing.T, data string, opts ...func(*Config)) (base string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base = "http://" + ln.Addr().String()
	cfg := DefaultConfig()
	cfg.Data, cfg.PublicURL, cfg.APITokens, cfg.Addr = data, base, testToken, ln.Addr().String()
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := openService(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx, ln); close(done) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return base, stop
}

// launch starts Chromium with a profile of its own; the context ends after
// timeout.
func launch(t *testing.T, timeout time.Duration) (context.Context, func()) {
	t.Helper()
	// Not t.TempDir: Chromium may still write its profile while it exits.
	profile, err := os.MkdirTemp("", "eprom-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "nb-NO"), // date fields as a Norwegian phone shows them
		chromedp.UserDataDir(profile),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	if err := chromedp.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return ctx, func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		os.RemoveAll(profile)
	}
}

// phone starts Chromium with a 360×740 phone viewport.
func phone(t *testing.T, js bool) (context.Context, func()) {
	t.Helper()
	ctx, cancel := launch(t, 90*time.Second)
	err := chromedp.Run(ctx,
		chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2)),
		emulation.SetScriptExecutionDisabled(!js),
	)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return ctx, cancel
}

// shot saves a full-page screenshot.
func shot(dir, name string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var buf []byte
		if err := chromedp.FullScreenshot(&buf, 100).Do(ctx); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
	})
}

// text returns the text of the page's main element, read through the DOM
// (not through page script, which is off in the no-JS test).
func text(ctx context.Context, t *testing.T) string {
	t.Helper()
	var s string
	if err := chromedp.Run(ctx, chromedp.OuterHTML("main", &s, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	s = regexp.MustCompile(`<[^>]*>`).ReplaceAllString(s, " ")
	return strings.Join(strings.Fields(html.UnescapeString(s)), " ")
}

// on waits until the page of the given kind (main's data-page) is there.
func on(page string) chromedp.Action {
	return chromedp.WaitVisible(fmt.Sprintf(`main[data-page=%q]`, page), chromedp.ByQuery)
}

// visible reports whether the item with the linkId is shown.
func visible(ctx context.Context, t *testing.T, linkID string) bool {
	t.Helper()
	var hidden bool
	js := fmt.Sprintf(`document.querySelector('[data-link=%q]').closest('[hidden]') !== null`, linkID)
	if err := chromedp.Run(ctx, chromedp.Evaluate(js, &hidden)); err != nil {
		t.Fatal(err)
	}
	return !hidden
}

func click(sel string) chromedp.Action { return chromedp.Click(sel, chromedp.ByQuery) }

func pick(name, value string) chromedp.Action {
	return click(fmt.Sprintf(`input[name=%q][value=%q]`, name, value))
}

func typeIn(linkID, s string) chromedp.Action {
	return chromedp.SendKeys("#f-"+linkID, s, chromedp.ByQuery)
}

// press presses one of a page's buttons; wait with on for what follows.
func press(action string) chromedp.Action {
	return click(fmt.Sprintf(`button[name=action][value=%q]`, action))
}

// pdfPages counts the pages of a PDF that Chromium printed.
func pdfPages(pdf []byte) int { return len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(pdf, -1)) }

func mustRun(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
}

func TestBrowserKvarusMaalepunktWithJavaScript(t *testing.T) {
	chromium(t)
	base, _ := startService(t, t.TempDir())
	status, order := api(t, "POST", base+"/api/v1/orders", `{"questionnaire": "kvarus-maalepunkt", "patientRef": "p-1", "language": "nb"}`)
	if status != 201 {
		t.Fatalf("order: %d %v", status, order)
	}
	code := order["code"].(string)
	dir := screenshots(t, "kvarus-maalepunkt-js")
	ctx, cancel := phone(t, true)
	defer cancel()

	// The code as a person might type it from a slip: small letters, a space.
	typed := strings.ToLower(code[:5]) + " " + code[6:]
	mustRun(t, ctx, "code entry",
		chromedp.Navigate(base+"/"),
		on("code"),
		shot(dir, "00-code"),
		chromedp.SendKeys("#code", typed, chromedp.ByQuery),
		click("button[type=submit]"),
		on("page-1"),
	)
	if got := text(ctx, t); !strings.Contains(got, "Side 1 av 4") {
		t.Fatalf("page 1: %s", got)
	}
	if visible(ctx, t, "barn-bor") {
		t.Error("the follow-up to barn shows before barn is answered")
	}
	mustRun(t, ctx, "page 1",
		chromedp.SetValue("#f-behandling-start", "2025-03-01", chromedp.ByQuery),
		pick("bolig", "egen"),
		pick("arbeid", "jobb-deltid"),
		pick("arbeid", "trygd"),
		pick("barn", "true"),
	)
	if !visible(ctx, t, "barn-bor") {
		t.Error("the follow-up to barn does not show at once after answering yes")
	}
	mustRun(t, ctx, "page 1 follow-up", pick("barn-bor", "false"), shot(dir, "01-om-deg"), press("next"), on("page-2"))

	if visible(ctx, t, "alkohol-dager") {
		t.Error("alkohol-dager shows before alkohol is answered")
	}
	mustRun(t, ctx, "page 2",
		pick("alkohol", "yes"), typeIn("alkohol-dager", "4"), typeIn("alkohol-enheter", "6,5"),
		pick("cannabis", "no"), pick("beroligende", "no"),
		pick("opioider", "yes"), typeIn("opioider-dager", "20"), pick("opioider-inntak", "injisert"),
		pick("stimulerende", "no"), pick("andre", "no"),
	)
	if !visible(ctx, t, "deling") {
		t.Error("deling does not show when injecting is ticked")
	}
	if visible(ctx, t, "cannabis-dager") {
		t.Error("cannabis-dager shows after no")
	}
	mustRun(t, ctx, "page 2 follow-up", pick("deling", "no"), shot(dir, "02-rus"), press("next"), on("page-3"))

	// Next without answering: the errors are shown, with a summary.
	mustRun(t, ctx, "page 3 errors", press("next"), chromedp.WaitVisible("#errors", chromedp.ByQuery), on("page-3"), shot(dir, "03-helse-errors"))
	if got := text(ctx, t); !strings.Contains(got, "Svar på dette spørsmålet.") {
		t.Errorf("no required error on page 3: %s", got)
	}
	mustRun(t, ctx, "page 3",
		pick("livskvalitet", "6"), pick("angst", "2"), pick("nedfor", "3"), pick("sovn", "1"), pick("uro", "2"),
		pick("haplos", "1"), pick("bra", "1"), shot(dir, "03-helse"), press("next"), on("page-4"))

	mustRun(t, ctx, "page 4",
		pick("hjelp-fornoyd", "4"), pick("hjelp-viktig", "partly"), pick("hjelp-behov", "ingenting"),
		typeIn("til-behandler", "Takk for hjelpen."), shot(dir, "04-hjelp"), press("finish"), on("review"), shot(dir, "05-review"))
	review := text(ctx, t)
	for _, want := range []string{"Se over svarene", "1. mars 2025", "6,5", "Takk for hjelpen.", "Endre"} {
		if !strings.Contains(review, want) {
			t.Errorf("the review lacks %q", want)
		}
	}
	mustRun(t, ctx, "submit", click("form.submit button"), on("done"), shot(dir, "06-done"))
	if got := text(ctx, t); !strings.Contains(got, "Takk! Svarene er sendt") || !strings.Contains(got, "lukke denne siden") {
		t.Errorf("done page: %s", got)
	}
	// Back shows nothing of the answers: the session is gone.
	mustRun(t, ctx, "back", chromedp.NavigateBack(), chromedp.WaitReady("body", chromedp.ByQuery), shot(dir, "07-back"))
	if got := text(ctx, t); strings.Contains(got, "Takk for hjelpen.") || strings.Contains(got, "6,5") {
		t.Errorf("Back shows answers after submit: %s", got)
	}
	if status, o := api(t, "GET", base+"/api/v1/orders/"+order["id"].(string), ""); o["status"] != "submitted" {
		t.Errorf("order after submit: %d %v", status, o)
	}
}

func TestBrowserAuditWithoutJavaScript(t *testing.T) {
	chromium(t)
	base, _ := startService(t, t.TempDir())
	status, order := api(t, "POST", base+"/api/v1/orders", `{"questionnaire": "audit", "patientRef": "p-2", "language": "en"}`)
	if status != 201 {
		t.Fatalf("order: %d %v", status, order)
	}
	dir := screenshots(t, "audit-nojs")
	ctx, cancel := phone(t, false)
	defer cancel()

	mustRun(t, ctx, "QR link", chromedp.Navigate(order["url"].(string)), on("page-1"))
	if got := text(ctx, t); !strings.Contains(got, "Page 1 of 2") {
		t.Fatalf("page 1: %s", got)
	}
	answers := []string{"2", "1", "1", "0", "0", "0", "1", "0", "0", "2"} // 7: low risk
	// AUDIT's skip logic: without the script, Next on page 1 brings up the
	// questions the answers call for, first q2–q3, then q4–q5.
	for _, qs := range [][]int{{1}, {2, 3}, {4, 5}} {
		for _, q := range qs {
			mustRun(t, ctx, "page 1", pick(fmt.Sprintf("q%d", q), answers[q-1]))
		}
		if qs[0] < 4 {
			mustRun(t, ctx, "page 1 next", press("next"))
		}
	}
	mustRun(t, ctx, "page 1 next", shot(dir, "01-page1"), press("next"), on("page-2"))
	for i := 5; i < 10; i++ {
		mustRun(t, ctx, "page 2", pick(fmt.Sprintf("q%d", i+1), answers[i]))
	}
	mustRun(t, ctx, "review", shot(dir, "02-page2"), press("finish"), on("review"), shot(dir, "03-review"))
	if got := text(ctx, t); !strings.Contains(got, "Check your answers") || !strings.Contains(got, "2-4 times a month") {
		t.Errorf("review: %s", got)
	}
	mustRun(t, ctx, "submit", click("form.submit button"), on("done"), shot(dir, "04-done"))
	if got := text(ctx, t); !strings.Contains(got, "Thank you! Your answers have been sent") {
		t.Errorf("done: %s", got)
	}
	if _, o := api(t, "GET", base+"/api/v1/orders/"+order["id"].(string), ""); o["status"] != "submitted" {
		t.Errorf("order after submit: %v", o)
	}
}

func TestBrowserKvarusErfaringInEnglish(t *testing.T) {
	chromium(t)
	base, _ := startService(t, t.TempDir())
	status, order := api(t, "POST", base+"/api/v1/orders", `{"questionnaire": "kvarus-erfaring", "patientRef": "p-3", "language": "nb"}`)
	if status != 201 {
		t.Fatalf("order: %d %v", status, order)
	}
	dir := screenshots(t, "kvarus-erfaring-en")
	ctx, cancel := phone(t, true)
	defer cancel()

	// The order is in Norwegian; the patient switches to English.
	mustRun(t, ctx, "QR link", chromedp.Navigate(order["url"].(string)), on("page-1"))
	mustRun(t, ctx, "switch language", click(`a[hreflang="en"]`), chromedp.WaitVisible(`html[lang="en"] main[data-page="page-1"]`, chromedp.ByQuery))
	if got := text(ctx, t); !strings.Contains(got, "Page 1 of 2") || !strings.Contains(got, "Has the treatment helped you?") {
		t.Fatalf("page 1 in English: %s", got)
	}
	mustRun(t, ctx, "page 1",
		pick("nytte", "4"), pick("lyttet", "5"), pick("medvirkning", "3"), pick("fornoyd", "4"), pick("informasjon", "vet-ikke"),
		shot(dir, "01-experience"), press("next"), on("page-2"))
	mustRun(t, ctx, "page 2", typeIn("bra", "Kind people."), shot(dir, "02-comments"), press("finish"), on("review"), shot(dir, "03-review"))
	if got := text(ctx, t); !strings.Contains(got, "Kind people.") || !strings.Contains(got, "Check your answers") {
		t.Errorf("review: %s", got)
	}
	mustRun(t, ctx, "submit", click("form.submit button"), on("done"), shot(dir, "04-done"))
	if got := text(ctx, t); !strings.Contains(got, "Thank you! Your answers have been sent") {
		t.Errorf("done: %s", got)
	}
	if _, o := api(t, "GET", base+"/api/v1/orders/"+order["id"].(string), ""); o["status"] != "submitted" {
		t.Errorf("order after submit: %v", o)
	}
}
