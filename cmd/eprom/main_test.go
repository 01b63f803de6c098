package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestSchemasCheck(t *testing.T) {
	t.Run("the shipped definitions: one line each, exit 0", func(t *testing.T) {
		code, out, _ := runCmd(t, "schemas", "check")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		for _, id := range []string{"audit", "dudit", "kvarus-erfaring", "kvarus-maalepunkt"} {
			if !strings.Contains(out, "ok    "+id+" ") {
				t.Errorf("no line for %s:\n%s", id, out)
			}
		}
		for _, field := range []string{"1.0.0", "languages=nb,nn,en", "items=", "pages=4", "scores=", "sha256:"} {
			if !strings.Contains(out, field) {
				t.Errorf("no %q in:\n%s", field, out)
			}
		}
	})

	t.Run("a folder of broken definitions: every problem with its path, exit 1", func(t *testing.T) {
		code, out, _ := runCmd(t, "schemas", "check", "../../schemas/testdata/broken")
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		for _, line := range []string{
			`enablewhen-missing.json: items[1].enableWhen[0].question: "q9" does not exist or comes later`,
			`duplicate-linkid.json: items[0].items[1].linkId: "q1" is already used at items[0].items[0]`,
			`missing-nn.json: items[0].text.nn: missing the "nn" text`,
			`unknown-field.json: items[0].requierd: unknown field`,
		} {
			if !strings.Contains(out, line) {
				t.Errorf("no line %q in:\n%s", line, out)
			}
		}
	})

	t.Run("a folder that does not exist", func(t *testing.T) {
		code, _, errOut := runCmd(t, "schemas", "check", t.TempDir()+"/nope")
		if code != 2 || !strings.Contains(errOut, "is not a folder") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})

	t.Run("a folder without definitions", func(t *testing.T) {
		code, _, errOut := runCmd(t, "schemas", "check", t.TempDir())
		if code != 1 || !strings.Contains(errOut, "no definition files") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
}

func TestUsage(t *testing.T) {
	if code, _, errOut := runCmd(t, "frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runCmd(t); code != 2 {
		t.Errorf("no command: exit %d", code)
	}
	if code, out, _ := runCmd(t, "version"); code != 0 || !strings.HasPrefix(out, "eprom ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

func TestSchemasCheckFolderAgainstTheShippedSet(t *testing.T) {
	dir := t.TempDir()
	shipped, err := os.ReadFile("../../schemas/audit-1.0.0.json")
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(shipped, []byte(`"Lav risiko`), []byte(`"Låg risiko`), 1)
	if err := os.WriteFile(filepath.Join(dir, "audit.json"), changed, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCmd(t, "schemas", "check", dir)
	if code != 1 || !strings.Contains(out, "audit.json: questionnaire audit version 1.0.0 is defined twice") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestSchemasImport(t *testing.T) {
	src := fhirMaterial(t, "eprom schemas import")
	out := t.TempDir()
	code, stdout, _ := runCmd(t, "schemas", "import", "-out", out, filepath.Join(src, "rkfhir-GAD-7.json"), filepath.Join(src, "refero-scoring-choice-radio-button.json"))
	if code != 0 || !strings.Contains(stdout, "ok    "+filepath.Join(src, "rkfhir-GAD-7.json")+": generalized-anxiety-disorder-7 1.0.0 items=8 pages=1 scores=0 report=0") {
		t.Fatalf("import: %d\n%s", code, stdout)
	}
	// What it wrote passes the format's check.
	if code, stdout, _ := runCmd(t, "schemas", "check", out); code != 0 || !strings.Contains(stdout, "2 definitions checked") {
		t.Errorf("check of the imported definitions: %d\n%s", code, stdout)
	}
	// A refused form, an unreadable one, and two forms of one id@version: exit 1, each named.
	photo := filepath.Join(t.TempDir(), "photo.json")
	if err := os.WriteFile(photo, []byte(`{"resourceType": "Questionnaire", "id": "photo", "item": [{"linkId": "1", "text": "A photo of the rash", "type": "attachment"}, {"linkId": "2", "text": "Itchy?", "type": "boolean"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runCmd(t, "schemas", "import", photo, filepath.Join(src, "rkfhir-SkipLogicExample.json"),
		filepath.Join(src, "refero-scoring-choice-radio-button.json"), filepath.Join(src, "refero-scoring-choice-check-box.json"))
	for _, want := range []string{"REFUSED " + photo, "REFUSE item[0].type: attachment",
		"FAIL  " + filepath.Join(src, "rkfhir-SkipLogicExample.json") + ": fhir: not JSON: line 82, column 7",
		"scoring@1.0.0 is also what", "3 of 4 files refused"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the import lacks %q:\n%s", want, stdout)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	// -lenient imports what can be imported.
	if code, _, _ := runCmd(t, "schemas", "import", "-lenient", photo); code != 0 {
		t.Errorf("lenient: exit %d", code)
	}
}

// eprom schemas export -fhir writes a shipped definition as an R4
// Questionnaire; eprom schemas import of that file writes the definition
// back, with the digest the shipped one has.
func TestSchemasExport(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "audit.fhir.json")
	if code, _, stderr := runCmd(t, "schemas", "export", "-fhir", "-out", file, "audit@1.1.0"); code != 0 {
		t.Fatalf("export: %d %s", code, stderr)
	}
	out := t.TempDir()
	if code, stdout, _ := runCmd(t, "schemas", "import", "-out", out, file); code != 0 || !strings.Contains(stdout, "audit 1.1.0 items=") || !strings.Contains(stdout, "report=0") {
		t.Fatalf("import of the export: %d\n%s", code, stdout)
	}
	_, shipped, _ := runCmd(t, "schemas", "check")
	_, back, _ := runCmd(t, "schemas", "check", out)
	digest := regexp.MustCompile(`ok +audit +1\.1\.0 .* (sha256:[0-9a-f]{64})`)
	want, got := digest.FindStringSubmatch(shipped), digest.FindStringSubmatch(back)
	if want == nil || got == nil || got[1] != want[1] {
		t.Errorf("digest after the round trip: %v, want %v\n%s", got, want, back)
	}
	// On stdout, the latest version; an unknown id is exit 1, no -fhir is usage.
	if code, stdout, _ := runCmd(t, "schemas", "export", "-fhir", "dudit"); code != 0 || !strings.Contains(stdout, `"resourceType": "Questionnaire"`) || !strings.Contains(stdout, `"version": "1.1.0"`) {
		t.Errorf("export to stdout: %d\n%.300s", code, stdout)
	}
	if code, _, stderr := runCmd(t, "schemas", "export", "-fhir", "nope"); code != 1 || !strings.Contains(stderr, `no questionnaire "nope"`) {
		t.Errorf("unknown id: %d %s", code, stderr)
	}
	if code, _, _ := runCmd(t, "schemas", "export", "audit"); code != 2 {
		t.Errorf("without -fhir: exit %d, want 2", code)
	}
}

// A FHIR Questionnaire in a folder of definitions (EPROM_SCHEMAS) is
// imported when the folder is checked or loaded; one that would be refused
// is a problem of the folder.
func TestSchemasFolderWithFHIR(t *testing.T) {
	src := fhirMaterial(t, "a folder with FHIR files")
	copyTo := func(dst, name string) {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	good := t.TempDir()
	copyTo(good, "rkfhir-DateTimeExample.json")
	code, stdout, _ := runCmd(t, "schemas", "check", good)
	if code != 0 || !strings.Contains(stdout, "ok    date-and-time-example") || !strings.Contains(stdout, "FHIR import: note item[1].type: dateTime") {
		t.Errorf("a folder with a FHIR file: %d\n%s", code, stdout)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "photo.json"), []byte(`{"resourceType": "Questionnaire", "id": "photo", "item": [{"linkId": "1", "text": "A photo of the rash", "type": "attachment"}, {"linkId": "2", "text": "Itchy?", "type": "boolean"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runCmd(t, "schemas", "check", bad)
	if code != 1 || !strings.Contains(stdout, "FHIR item[0].type") || !strings.Contains(stdout, "-lenient imports the rest") {
		t.Errorf("a folder with a FHIR file that is refused: %d\n%s", code, stdout)
	}
}
