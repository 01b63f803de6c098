// Package locales holds the messages of the user interface, one go-i18n
// file per language, and looks them up. nb is the default language.
package locales

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"time"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

//go:embed *.json
var files embed.FS

// Languages are the languages of the user interface, the default first.
var Languages = []string{"nb", "nn", "en"}

// Default is the language used when no other is chosen.
const Default = "nb"

// Supported reports whether lang is a user interface language.
func Supported(lang string) bool { return slices.Contains(Languages, lang) }

// Catalog translates message ids. It is read-only after New.
type Catalog struct {
	localizers map[string]*i18n.Localizer
	ids        map[string][]string // the message ids of each language
	// plain holds every message of each language as T gives it without
	// template data, worked out once: go-i18n parses and runs a message's
	// template on every call, and most calls have no data (issue 16).
	plain map[string]map[string]string
}

// New loads every language. It fails when a file does not parse or when the
// languages do not have the same message ids.
func New() (*Catalog, error) {
	bundle := i18n.NewBundle(language.MustParse(Default))
	bundle.RegisterUnmarshalFunc("json", json.Unmarshal)
	c := &Catalog{localizers: map[string]*i18n.Localizer{}, ids: map[string][]string{}, plain: map[string]map[string]string{}}
	for _, lang := range Languages {
		name := lang + ".json"
		mf, err := bundle.LoadMessageFileFS(files, name)
		if err != nil {
			return nil, fmt.Errorf("locales: %s: %w", name, err)
		}
		for _, m := range mf.Messages {
			c.ids[lang] = append(c.ids[lang], m.ID)
		}
		sort.Strings(c.ids[lang])
		// Fall back to nb, never to a blank.
		c.localizers[lang] = i18n.NewLocalizer(bundle, lang, Default)
	}
	for _, lang := range Languages[1:] {
		if !slices.Equal(c.ids[lang], c.ids[Default]) {
			return nil, fmt.Errorf("locales: %s.json and %s.json do not have the same messages", lang, Default)
		}
	}
	for _, lang := range Languages {
		c.plain[lang] = map[string]string{}
		for _, id := range c.ids[lang] {
			c.plain[lang][id] = c.localize(lang, id, nil)
		}
	}
	return c, nil
}

// IDs returns the message ids of a language, sorted.
func (c *Catalog) IDs(lang string) []string { return c.ids[lang] }

// Files returns the message files, for tests.
func Files() fs.FS { return files }

// T translates a message id into lang, with optional template data. An
// unknown id is a programming error that the locale tests catch; at run
// time it shows the id rather than fail the page.
func (c *Catalog) T(lang, id string, data ...any) string {
	if len(data) == 0 {
		m, ok := c.plain[lang]
		if !ok {
			m = c.plain[Default]
		}
		if s, ok := m[id]; ok {
			return s
		}
		return c.localize(lang, id, nil)
	}
	return c.localize(lang, id, data[0])
}

// localize asks go-i18n for a message in lang, with its template data.
func (c *Catalog) localize(lang, id string, data any) string {
	l, ok := c.localizers[lang]
	if !ok {
		l = c.localizers[Default]
	}
	s, err := l.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data})
	if err != nil {
		return id
	}
	return s
}

// DateTime formats a time in lang, as "9. desember 2026 kl. 10:00".
func (c *Catalog) DateTime(lang string, t time.Time) string {
	return c.T(lang, "date.at", map[string]any{
		"Day":   t.Day(),
		"Month": c.T(lang, fmt.Sprintf("month.%d", int(t.Month()))),
		"Year":  t.Year(),
		"Time":  t.Format("15:04"),
	})
}
