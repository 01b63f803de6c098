package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	_ "image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestBrowserSlipPrints: a clinician's browser opens the order's signed
// slip link with no API header; printed on A4 and on A5 the slip is one
// page; it names the clinic and its phone, says how long it takes, and its
// QR code, read off the page, opens the patient's URL. It leaves the
// slip's pictures (screen at 360 px, print at A4 and A5) and PDFs.
func TestBrowserSlipPrints(t *testing.T) {
	dir := screenshots(t, "slip")
	data := t.TempDir()
	clients := filepath.Join(data, "clients.json")
	os.WriteFile(clients, []byte(`{"clients": [{"id": "kvarus", "name": "KvaRus", "tokens": ["`+testToken+`"],
		"help": {"name": {"nb": "Poliklinikken for rusbehandling"}, "phone": "+47 22 00 00 00"}}]}`), 0o600)
	base, _ := startService(t, filepath.Join(data, "service"), func(c *Config) { c.APITokens, c.ClientsFile = "", clients })

	for _, size := range []string{"a4", "a5"} {
		t.Run(size, func(t *testing.T) {
			req, _ := http.NewRequest("POST", base+"/api/v1/orders", strings.NewReader(`{"questionnaire": "kvarus-maalepunkt", "patientRef": "p"}`))
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var order struct{ URL, SlipURL, Code string }
			json.NewDecoder(resp.Body).Decode(&order)
			resp.Body.Close()
			if order.SlipURL == "" {
				t.Fatalf("no slipUrl: %d", resp.StatusCode)
			}
			ctx, cancel := launch(t, 60e9)
			defer cancel()
			var pdf, shotScreen, shotPrint []byte
			var body string
			width, height := int64(794), int64(1123) // A4 at 96 dpi
			if size == "a5" {
				width, height = 559, 794
			}
			mustRun(t, ctx, "open and print the slip",
				chromedp.EmulateViewport(360, 740),
				chromedp.Navigate(order.SlipURL+"?size="+size),
				chromedp.WaitVisible(".code", chromedp.ByQuery),
				chromedp.Text("main", &body, chromedp.ByQuery),
				chromedp.FullScreenshot(&shotScreen, 100),
				chromedp.ActionFunc(func(ctx context.Context) error {
					var err error
					pdf, _, err = page.PrintToPDF().WithPreferCSSPageSize(true).WithPrintBackground(true).Do(ctx)
					return err
				}),
				emulation.SetEmulatedMedia().WithMedia("print"),
				chromedp.EmulateViewport(width, height),
				chromedp.FullScreenshot(&shotPrint, 100),
			)
			os.WriteFile(filepath.Join(dir, size+".pdf"), pdf, 0o644)
			os.WriteFile(filepath.Join(dir, size+"-screen-360.png"), shotScreen, 0o644)
			os.WriteFile(filepath.Join(dir, size+"-print.png"), shotPrint, 0o644)
			if n := pdfPages(pdf); n != 1 {
				t.Errorf("the %s slip prints on %d pages, want 1", size, n)
			}
			for _, want := range []string{"Poliklinikken for rusbehandling, telefon +47 22 00 00 00", "Det tar omtrent", "Det er frivillig å svare",
				"Med mobilen", "Gå til " + strings.TrimPrefix(base, "http://"), order.Code} {
				if !strings.Contains(body, want) {
					t.Errorf("the slip lacks %q:\n%s", want, body)
				}
			}
			img, _, err := image.Decode(bytes.NewReader(shotPrint))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := readQR(img); err != nil || got != order.URL {
				t.Errorf("the printed QR code reads %q (%v), want %s", got, err, order.URL)
			}
			// The link worked once: the clinician's second try is 404.
			if resp, err := http.Get(order.SlipURL); err != nil || resp.StatusCode != 404 {
				t.Errorf("the signed link again: %v %v", resp, err)
			} else {
				resp.Body.Close()
			}
		})
	}
}
