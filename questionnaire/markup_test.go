package questionnaire_test

import (
	"regexp"
	"strings"
	"testing"

	"eprom/questionnaire"
)

func TestSanitizeMarkup(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		inline   bool
		want     string
		dropped  string // what the result names as left out, joined by "; "
	}{
		{"allowed elements stay", `<p>Les <strong>nøye</strong> og <em>rolig</em>.</p><ul><li>én</li><li>to</li></ul>`, false,
			`<p>Les <strong>nøye</strong> og <em>rolig</em>.</p><ul><li>én</li><li>to</li></ul>`, ""},
		{"the FHIR div wrapper goes, its text stays", `<div xmlns="http://www.w3.org/1999/xhtml"><p>Hei</p></div>`, false, `<p>Hei</p>`, ""},
		{"HTML entities are read, text is escaped", `<p>A&nbsp;&amp;&lt;B&gt; "sitat"</p>`, false, "<p>A\u00a0&amp;&lt;B&gt; &#34;sitat&#34;</p>", ""},
		{"script goes with its content", `<p>Hei</p><script>alert(1)</script>`, false, `<p>Hei</p>`, "element script and its content"},
		{"attributes go", `<p style="color:red" onclick="x()">Hei</p>`, false, `<p>Hei</p>`, "attribute style on p; attribute onclick on p"},
		{"a javascript link loses its href", `<a href="javascript:alert(1)">Klikk</a>`, false, `<a>Klikk</a>`, "a link that is not https, mailto or tel"},
		{"an https, tel or mailto link stays", `<a href="https://helsenorge.no/?a=1&amp;b=2">H</a> <a href="tel:116117">T</a>`, false,
			`<a href="https://helsenorge.no/?a=1&amp;b=2">H</a> <a href="tel:116117">T</a>`, ""},
		{"an unknown element is unwrapped", `<p>Se <img src="x.png"/><u>her</u></p>`, false, `<p>Se her</p>`, "element img; element u"},
		{"in a question, paragraphs become line breaks", `<p>Første</p><p>Andre <b>fet</b></p>`, true, `Første<br/>Andre <b>fet</b>`, ""},
		{"in a question, lists become lines", `<ul><li>a</li><li>b</li></ul>`, true, `a<br/>b`, ""},
		{"CDATA is text", `<p><![CDATA[<script>x</script>]]></p>`, false, `<p>&lt;script&gt;x&lt;/script&gt;</p>`, ""},
		{"a closing tag cannot end the wrapper", `</x><script>alert(1)</script><x>`, false, "", "error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := questionnaire.SanitizeMarkup(tt.in, tt.inline)
			if tt.dropped == "error" {
				if err == nil && (strings.Contains(res.HTML, "<script") || strings.Contains(res.HTML, "alert")) {
					t.Errorf("got %q, want an error or nothing of the script", res.HTML)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.HTML != tt.want {
				t.Errorf("HTML %q, want %q", res.HTML, tt.want)
			}
			if got := strings.Join(res.Dropped, "; "); got != tt.dropped {
				t.Errorf("dropped %q, want %q", got, tt.dropped)
			}
		})
	}
	for _, bad := range []string{`<p>open`, `<p>a</b>`, `<p a=1>x</p>`, `&bogus;`} {
		if _, err := questionnaire.SanitizeMarkup(bad, false); err == nil {
			t.Errorf("%q: no error for a fragment that is not well-formed", bad)
		}
	}
}

var (
	anyTag     = regexp.MustCompile(`<[^>]*>?`)
	allowedTag = regexp.MustCompile(`^(<(p|ul|ol|li|strong|em|b|i|a)>|<a href="(https|mailto|tel):[^"<>]*">|<br/>|</(p|ul|ol|li|strong|em|b|i|a)>)$`)
)

// Whatever goes in, what comes out is markup of the allow-list that reads
// back as itself.
func FuzzSanitizeMarkup(f *testing.F) {
	for _, s := range []string{`<p>Hei <strong>du</strong></p>`, `<a href="https://x.no" onclick="y">z</a>`, `<script>x</script>`,
		`<div><ul><li>a<br/>b</li></ul></div>`, `&nbsp;&lt;`, `<p><![CDATA[</p>]]></p>`, `<p>a&#13;b</p>`, "a&#13;&#10;b"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, inline bool) {
		res, err := questionnaire.SanitizeMarkup(s, inline)
		if err != nil {
			return
		}
		again, err := questionnaire.SanitizeMarkup(res.HTML, inline)
		if err != nil || len(again.Dropped) > 0 || again.HTML != res.HTML {
			t.Fatalf("%q sanitized to %q, which reads back as %q, dropped %v, %v", s, res.HTML, again.HTML, again.Dropped, err)
		}
		for _, tag := range anyTag.FindAllString(res.HTML, -1) {
			if !allowedTag.MatchString(tag) {
				t.Fatalf("%q sanitized to %q, which holds the tag %s", s, res.HTML, tag)
			}
		}
	})
}
