package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"eprom/questionnaire/fhir"
)

// fhirMaterial is the folder of FHIR questionnaires in the test material
// (../shared/testdata, or $EPROM_TESTDATA). Outside CI a checkout without it
// skips the test, saying what was skipped; under CI=true it must be there.
func fhirMaterial(t *testing.T, what string) string {
	t.Helper()
	dir := os.Getenv("EPROM_TESTDATA")
	if dir == "" {
		dir = "../../../shared/testdata"
	}
	dir = filepath.Join(dir, "fhir", "questionnaires")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but no FHIR test material at %s", dir)
		}
		t.Skipf("SKIPPED %s: no test material at %s (set EPROM_TESTDATA); it runs under CI=true", what, dir)
	}
	return dir
}

// A FHIR Questionnaire in EPROM_SCHEMAS is imported at load (its report in
// the log), can be ordered, and a patient answers and sends it over HTTP.
func TestServeRunsAnImportedFHIRForm(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(fhirMaterial(t, "serving an imported FHIR form"), "rkfhir-GAD-7.json"))
	if err != nil {
		t.Fatal(err)
	}
	forms := t.TempDir()
	if err := os.WriteFile(filepath.Join(forms, "gad-7.fhir.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := fhir.Import(data, false)
	if err != nil {
		t.Fatal(err)
	}
	def := res.Definition

	addr := freeAddr(t)
	_, logs := startServe(t, addr, "-data", t.TempDir(), "-api-tokens", testToken, "-schemas", forms)
	if !strings.Contains(logs.String(), "FHIR import") || !strings.Contains(logs.String(), "gad-7.fhir.json") {
		t.Errorf("the import report is not in the log:\n%s", logs.String())
	}
	base := "http://" + addr
	status, order := api(t, "POST", base+"/api/v1/orders", `{"questionnaire": "`+def.ID+`", "patientRef": "p-fhir"}`)
	if status != 201 {
		t.Fatalf("order: %d %v", status, order)
	}

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + "/c/" + order["code"].(string))
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("code: %v %v", resp, err)
	}
	resp, err = client.Get(base + "/q")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if resp.StatusCode != 200 || csrf == nil {
		t.Fatalf("page 1: %d\n%s", resp.StatusCode, page)
	}
	// Every page: each question's last option (GAD-7: "Nearly every day").
	for i, p := range def.Pages() {
		form := url.Values{"csrf": {string(csrf[1])}, "page": {strconv.Itoa(i + 1)}, "action": {"next"}}
		for _, q := range p.Questions() {
			form.Set(q.LinkID, q.Options[len(q.Options)-1].Value)
		}
		resp, err := client.PostForm(base+"/q", form)
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("page %d: %v %d\n%s", i+1, err, resp.StatusCode, body)
		}
		resp.Body.Close()
	}
	resp, err = client.PostForm(base+"/q/submit", url.Values{"csrf": {string(csrf[1])}})
	if err != nil || resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/done") {
		t.Fatalf("submit: %v %v", resp, err)
	}
	if _, o := api(t, "GET", base+"/api/v1/orders/"+order["id"].(string), ""); o["status"] != "submitted" && o["status"] != "delivered" {
		t.Errorf("order after the patient sent it: %v", o)
	}
}
