package web

import (
	"bytes"
	"html/template"
	"strings"
	"testing"
)

// FuzzEscapingAsTemplates checks the page writer's escaping against
// html/template's own, for any string: text, a quoted attribute, a whole
// link and a link's part after #.
func FuzzEscapingAsTemplates(f *testing.F) {
	for _, s := range []string{"", "/q?page=2&lang=nn", "#f-q1-0", "javascript:alert(1)", "JavaScript:x", "mailto:a@b",
		"/a b/æ?x='1'+(2)", "%41%zz%", "a\x00b\"<>&'+", "https://x/y?a=1&b=2#c", "/q?page=1#f-q.1_2~"} {
		f.Add(s)
	}
	tmpl := template.Must(template.New("").Parse(`{{define "text"}}{{.}}{{end}}` +
		`{{define "attr"}}<p title="{{.}}">{{end}}{{define "url"}}<a href="{{.}}">{{end}}{{define "part"}}<a href="#{{.}}">{{end}}`))
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range []struct {
			name, before, after string
			write               func(*bytes.Buffer, string)
		}{
			{"text", "", "", escape},
			{"attr", `<p title="`, `">`, escape},
			{"url", `<a href="`, `">`, writeURL},
			{"part", `<a href="#`, `">`, writeURLPart},
		} {
			var want strings.Builder
			if err := tmpl.ExecuteTemplate(&want, c.name, s); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			got.WriteString(c.before)
			c.write(&got, s)
			got.WriteString(c.after)
			if got.String() != want.String() {
				t.Errorf("%s of %q:\n got %q\nwant %q", c.name, s, got.String(), want.String())
			}
		}
	})
}
