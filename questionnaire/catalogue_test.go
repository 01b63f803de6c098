package questionnaire_test

import (
	"fmt"
	"strings"
	"testing"

	"eprom/questionnaire"
)

func versioned(tb testing.TB, version, title string) *questionnaire.Definition {
	tb.Helper()
	return mustParse(tb, fmt.Sprintf(`{"id": "form", "version": %q, "languages": ["en"], "title": {"en": %q},
		"items": [{"linkId": "q", "type": "boolean", "text": {"en": "Q"}}]}`, version, title))
}

func TestCatalogue(t *testing.T) {
	c := questionnaire.NewCatalogue()
	for _, v := range []string{"1.2.0", "1.10.0", "1.9.3", "2.0.0-rc.1", "1.10.0-beta"} {
		if err := c.Add(versioned(t, v, "T")); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("latest is the highest release by semantic version", func(t *testing.T) {
		d, err := c.Get("form", "")
		if err != nil || d.Version != "1.10.0" {
			t.Errorf("got %v, %v; want 1.10.0", d, err)
		}
	})

	t.Run("a version is found exactly", func(t *testing.T) {
		d, err := c.Get("form", "2.0.0-rc.1")
		if err != nil || d.Version != "2.0.0-rc.1" {
			t.Errorf("got %v, %v", d, err)
		}
	})

	t.Run("List orders newest first", func(t *testing.T) {
		var got []string
		for _, d := range c.List() {
			got = append(got, d.Version)
		}
		if want := "2.0.0-rc.1 1.10.0 1.10.0-beta 1.9.3 1.2.0"; strings.Join(got, " ") != want {
			t.Errorf("got %v, want %s", got, want)
		}
		if c.Len() != 5 {
			t.Errorf("Len = %d", c.Len())
		}
	})

	t.Run("ErrNotFound for an unknown id or version", func(t *testing.T) {
		if _, err := c.Get("nope", ""); questionnaire.ErrorCode(err) != questionnaire.ENOTFOUND {
			t.Errorf("unknown id: %v", err)
		}
		if _, err := c.Get("form", "3.0.0"); questionnaire.ErrorCode(err) != questionnaire.ENOTFOUND {
			t.Errorf("unknown version: %v", err)
		}
	})

	t.Run("adding the same file twice is harmless", func(t *testing.T) {
		if err := c.Add(versioned(t, "1.2.0", "T")); err != nil {
			t.Error(err)
		}
	})

	t.Run("ErrConflict when one version has two contents", func(t *testing.T) {
		err := c.Add(versioned(t, "1.2.0", "Changed"))
		if questionnaire.ErrorCode(err) != questionnaire.ECONFLICT {
			t.Errorf("got %v, want a conflict", err)
		}
	})

	t.Run("only pre-releases: the newest of them", func(t *testing.T) {
		c := questionnaire.NewCatalogue()
		c.Add(versioned(t, "1.0.0-alpha", "T"))
		c.Add(versioned(t, "1.0.0-alpha.2", "T"))
		c.Add(versioned(t, "1.0.0-alpha.beta", "T"))
		if d, _ := c.Get("form", ""); d.Version != "1.0.0-alpha.beta" {
			t.Errorf("got %s", d.Version)
		}
	})
}

func TestSemverOrder(t *testing.T) {
	// Each is older than the next (semver.org §11).
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.99999999999999999999", "1.0.0-alpha.1a",
		"1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0", "2.0.0"}
	c := questionnaire.NewCatalogue()
	for i := len(order) - 1; i >= 0; i-- {
		if err := c.Add(versioned(t, order[i], "T")); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, d := range c.List() {
		got = append([]string{d.Version}, got...)
	}
	if strings.Join(got, " ") != strings.Join(order, " ") {
		t.Errorf("got  %v\nwant %v", got, order)
	}
}
