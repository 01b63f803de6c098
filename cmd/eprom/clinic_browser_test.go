package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// answerMaalepunkt answers kvarus-maalepunkt on a phone from the code's
// link to the done page; mental holds the six answers of the mental
// health questions.
func answerMaalepunkt(t *testing.T, ctx context.Context, url string, mental [6]string) {
	t.Helper()
	mustRun(t, ctx, "the patient answers",
		chromedp.Navigate(url), on("page-1"),
		chromedp.SetValue("#f-behandling-start", "2025-03-01", chromedp.ByQuery),
		pick("bolig", "egen"), pick("arbeid", "skole"), pick("barn", "false"), press("next"), on("page-2"),
		pick("alkohol", "no"), pick("cannabis", "no"), pick("beroligende", "no"), pick("opioider", "no"),
		pick("stimulerende", "no"), pick("andre", "no"), press("next"), on("page-3"),
		pick("livskvalitet", "6"), pick("angst", mental[0]), pick("nedfor", mental[1]), pick("sovn", mental[2]),
		pick("uro", mental[3]), pick("haplos", mental[4]), pick("bra", mental[5]), press("next"), on("page-4"),
		pick("hjelp-fornoyd", "4"), pick("hjelp-viktig", "partly"), press("finish"), on("review"),
		click("form.submit button"), on("done"))
}

// circles counts the points of the first graph of change on the page.
func circles(t *testing.T, ctx context.Context) int {
	t.Helper()
	var n int
	mustRun(t, ctx, "count the points", chromedp.Evaluate(`(document.querySelector('svg.change-graph') || {querySelectorAll: () => []}).querySelectorAll('circle').length`, &n))
	return n
}

// waitForResults reloads the patient page until it shows n results: the
// envelope reaches the demo's registry within a second or two.
func waitForResults(t *testing.T, ctx context.Context, url string, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		var got int
		mustRun(t, ctx, "the patient page", chromedp.Navigate(url), on("clinic-patient"),
			chromedp.Evaluate(`document.querySelectorAll('.clinic-result').length`, &got))
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the patient page shows %d results after 30 s, want %d:\n%s", got, n, text(ctx, t))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestBrowserClinic: a clinician in `eprom demo` orders kvarus-maalepunkt
// for a made-up patient from the training patient page, prints the slip
// (one page, its QR code opens the code's URL), the patient answers on a
// phone at 360 px, and the patient page shows the result, readable, with a
// graph of one point; a second measuring point adds a second point, and
// this time the patient's done page shows the change too. axe-core checks
// the clinic's pages and the done page with feedback, at 360 px.
func TestBrowserClinic(t *testing.T) {
	chromium(t)
	src := axeSource(t)
	dir := screenshots(t, "clinic")
	addr, _ := startDemo(t)
	base := "http://" + addr
	patientPage := base + "/demo/clinic/demo-1001"

	clinician, cancel := launch(t, 4*time.Minute)
	defer cancel()
	w := &walk{t: t, ctx: clinician, base: base, axe: src, width: 360, dir: dir}
	mustRun(t, clinician, "viewport", chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
	patient, cancelPhone := phone(t, true)
	defer cancelPhone()
	pw := &walk{t: t, ctx: patient, base: base, axe: src, width: 360, dir: dir}

	order := func(step string) (code, url string) {
		t.Helper()
		mustRun(t, clinician, step, chromedp.Navigate(patientPage+"?lang=nb"), on("clinic-patient"),
			click(`.clinic-order button[type=submit]`), on("clinic-code"))
		mustRun(t, clinician, step+": the code", chromedp.Text("#code", &code, chromedp.ByQuery),
			chromedp.AttributeValue("#patient-url", "href", &url, nil, chromedp.ByQuery))
		if !regexp.MustCompile(`^[0-9A-Z]{5}-[0-9A-Z]{5}$`).MatchString(code) || !strings.HasSuffix(url, "/c/"+code) {
			t.Fatalf("%s: code %q, url %q", step, code, url)
		}
		return code, url
	}

	mustRun(t, clinician, "the patient list", chromedp.Navigate(base+"/demo/clinic?lang=nb"), on("clinic"))
	w.check("clinic-list")
	mustRun(t, clinician, "a patient", click(`a[href="/demo/clinic/demo-1001"]`), on("clinic-patient"))
	w.check("clinic-patient-empty")
	_, url := order("order the baseline")
	w.check("clinic-code")
	if got := text(clinician, t); !strings.Contains(got, "Kari Nordmann · Oppstart · Bestilt, ikke åpnet") {
		t.Errorf("the code page: %s", got)
	}

	// The slip, printed from the link on the page (no API header).
	var slip string
	mustRun(t, clinician, "the slip link", chromedp.AttributeValue("#slip", "href", &slip, nil, chromedp.ByQuery))
	var pdf, printed []byte
	mustRun(t, clinician, "print the slip",
		chromedp.Navigate(slip), chromedp.WaitVisible(".code", chromedp.ByQuery),
		chromedp.ActionFunc(func(ctx context.Context) error {
			var err error
			pdf, _, err = page.PrintToPDF().WithPreferCSSPageSize(true).WithPrintBackground(true).Do(ctx)
			return err
		}),
		emulation.SetEmulatedMedia().WithMedia("print"), chromedp.EmulateViewport(794, 1123),
		chromedp.FullScreenshot(&printed, 100),
		emulation.SetEmulatedMedia().WithMedia(""), chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
	os.WriteFile(filepath.Join(dir, "slip.pdf"), pdf, 0o644)
	os.WriteFile(filepath.Join(dir, "slip-print.png"), printed, 0o644)
	if n := pdfPages(pdf); n != 1 {
		t.Errorf("the slip prints on %d pages, want 1", n)
	}
	if img, _, err := image.Decode(bytes.NewReader(printed)); err != nil {
		t.Fatal(err)
	} else if got, err := readQR(img); err != nil || got != url {
		t.Errorf("the printed QR code reads %q (%v), want %s", got, err, url)
	}

	// The patient answers on a phone; first time, nothing to compare with.
	answerMaalepunkt(t, patient, url, [6]string{"3", "3", "3", "2", "3", "1"})
	if got := text(patient, t); !strings.Contains(got, "Takk! Svarene er sendt") || strings.Contains(got, "Resultatene dine") {
		t.Errorf("the first done page: %s", got)
	}

	// The clinic shows the result: texts, labels, scores with bands, a graph of one point.
	waitForResults(t, clinician, patientPage, 1)
	w.check("clinic-patient-one-result")
	got := text(clinician, t)
	for _, want := range []string{"Mottatt i registeret", "Endring over tid", "Psykiske plager", "17 – Mye plager",
		"Jeg har kjent meg redd eller nervøs. Mye", "Spørsmål og svar", "Hva ønsker du mer hjelp med? Ikke besvart"} {
		if !strings.Contains(got, want) {
			t.Errorf("the patient page lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "absent") || strings.Contains(got, "hjelp-fornoyd") {
		t.Errorf("the patient page shows raw data:\n%s", got)
	}
	if n := circles(t, clinician); n != 1 {
		t.Errorf("the graph has %d points after one result, want 1", n)
	}

	// The printable view: one A4 page.
	mustRun(t, clinician, "the printable view", click(`.clinic-result a[href*="/results/"]`), on("clinic-result"))
	w.check("clinic-result-view")
	mustRun(t, clinician, "print the view", chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		pdf, _, err = page.PrintToPDF().WithPreferCSSPageSize(true).Do(ctx)
		return err
	}))
	os.WriteFile(filepath.Join(dir, "result-view.pdf"), pdf, 0o644)
	if n := pdfPages(pdf); n != 1 {
		t.Errorf("the printable view prints on %d pages, want 1", n)
	}

	// A second measuring point: the order carries the first result, so
	// the patient sees the change; the clinic's graph gets a second point.
	_, url = order("order the second measuring point")
	answerMaalepunkt(t, patient, url, [6]string{"1", "1", "0", "1", "1", "3"})
	pw.check("done-with-feedback")
	got = text(patient, t)
	for _, want := range []string{"Resultatene dine", "Psykiske plager", "Oppstart", "Nå", "lite psykiske plager"} {
		if !strings.Contains(got, want) {
			t.Errorf("the done page lacks %q:\n%s", want, got)
		}
	}
	if n := circles(t, patient); n != 2 {
		t.Errorf("the done page's graph has %d points, want 2", n)
	}
	// At 320 px too (a reload keeps the feedback for the browser session).
	narrow := &walk{t: t, ctx: patient, base: base, axe: src, width: 320, dir: dir}
	mustRun(t, patient, "320 px", chromedp.EmulateViewport(320, 640, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2)),
		chromedp.Reload(), on("done"))
	narrow.check("done-with-feedback-320")
	if n := circles(t, patient); n != 2 {
		t.Errorf("the done page's graph at 320 px has %d points after a reload, want 2", n)
	}
	waitForResults(t, clinician, patientPage, 2)
	w.check("clinic-patient-two-results")
	if n := circles(t, clinician); n != 2 {
		t.Errorf("the graph has %d points after two results, want 2", n)
	}
	narrowClinic := &walk{t: t, ctx: clinician, base: base, axe: src, width: 320, dir: dir}
	mustRun(t, clinician, "320 px", chromedp.EmulateViewport(320, 640, chromedp.EmulateMobile, chromedp.EmulateScale(2)), chromedp.Reload(), on("clinic-patient"))
	narrowClinic.check("clinic-patient-two-results-320")
	if got := text(clinician, t); !strings.Contains(got, "Målepunkt i behandling") || !strings.Contains(got, "2 resultater, fra 17") {
		t.Errorf("the patient page after the second result:\n%s", got)
	}
	// English, and a wide screen for the README.
	mustRun(t, clinician, "English", chromedp.EmulateViewport(1100, 900), chromedp.Navigate(patientPage+"?lang=en"), on("clinic-patient"),
		shot(dir, "clinic-patient-en-wide"))
	if got := text(clinician, t); !strings.Contains(got, "Change over time") || !strings.Contains(got, "Mental health problems") {
		t.Errorf("the patient page in English:\n%s", got)
	}
	var findings []string
	for _, walk := range []*walk{w, pw, narrow, narrowClinic} {
		findings = append(findings, walk.findings...)
	}
	if len(findings) > 0 {
		t.Errorf("axe-core and the width check found:\n%s", strings.Join(findings, "\n"))
	}
	fmt.Fprintln(os.Stderr, "clinic screenshots in", dir)
}
