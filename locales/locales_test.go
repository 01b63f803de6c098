package locales_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"eprom/locales"
)

func TestEveryLanguageHasEveryMessage(t *testing.T) {
	c, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range locales.Languages {
		raw, err := fs.ReadFile(locales.Files(), lang+".json")
		if err != nil {
			t.Fatal(err)
		}
		var msgs map[string]string
		if err := json.Unmarshal(raw, &msgs); err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		for id, text := range msgs {
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s: %s is empty", lang, id)
			}
		}
		if len(c.IDs(lang)) != len(msgs) || len(msgs) == 0 {
			t.Errorf("%s: %d messages loaded of %d", lang, len(c.IDs(lang)), len(msgs))
		}
	}
}

// TestNoUnusedMessages looks for every message id in the Go code and
// templates of the project; month names are used by DateTime.
func TestNoUnusedMessages(t *testing.T) {
	c, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	var code strings.Builder
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if ext := filepath.Ext(path); (ext == ".go" && !strings.HasSuffix(path, "_test.go")) || ext == ".html" {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			code.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	month := regexp.MustCompile(`^month\.\d+$`)
	for _, id := range c.IDs(locales.Default) {
		if month.MatchString(id) {
			continue
		}
		// Pages of a heading and a text are named by their common prefix.
		prefix := strings.TrimSuffix(strings.TrimSuffix(id, ".title"), ".text")
		if !strings.Contains(code.String(), `"`+id+`"`) && !strings.Contains(code.String(), `"`+prefix+`"`) {
			t.Errorf("message %q is not used anywhere", id)
		}
	}
}

func TestDateTime(t *testing.T) {
	c, _ := locales.New()
	at := time.Date(2026, 12, 9, 10, 5, 0, 0, time.UTC)
	for lang, want := range map[string]string{
		"nb": "9. desember 2026 kl. 10:05",
		"nn": "9. desember 2026 kl. 10:05",
		"en": "9 December 2026 at 10:05",
	} {
		if got := c.DateTime(lang, at); got != want {
			t.Errorf("%s: %q, want %q", lang, got, want)
		}
	}
	if got := c.T("de", "slip.title"); got != "Spørreskjema" {
		t.Errorf("an unknown language falls back to nb: %q", got)
	}
}
