package questionnaire

import (
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"net/url"
	"slices"
	"strings"
)

// Markup is formatted text (Item.Markup): a fragment of XHTML with only
// the elements of a small allow-list and no attributes but a link's href.
// A page never shows markup as it was written: Sanitize reads it and
// writes it anew, escaping every text.

// The elements markup may hold. A question's text (in a label or legend)
// takes only the inline ones.
var (
	inlineElements = []string{"strong", "em", "b", "i", "br", "a"}
	blockElements  = []string{"p", "ul", "ol", "li"}
	// droppedWithContent are elements whose content is no text to show.
	droppedWithContent = []string{"script", "style", "iframe", "object", "embed", "template", "noscript", "svg", "math", "head", "title"}
	// linkSchemes are the schemes a link may have.
	linkSchemes = []string{"https", "mailto", "tel"}
)

// maxDropped bounds the names of what was left out that a result lists.
const maxDropped = 20

// MarkupResult is what Sanitize made of a fragment.
type MarkupResult struct {
	HTML    string   // the fragment written anew: safe to show as HTML
	Dropped []string // what was left out, in words ("element img", "attribute style on p"), each once
}

// SanitizeMarkup reads an XHTML fragment (entities of HTML allowed) and
// writes it anew with only the allowed elements: an element that is not
// allowed is left out but its text kept (script, style and the like go
// with their content), attributes other than a link's href are left out,
// and a link to anything but https, mailto or tel loses its href. inline
// allows only the inline elements (a question's text); a block element
// there becomes its text, with a line break between paragraphs and items.
// It returns an error only for a fragment that is not well-formed.
func SanitizeMarkup(s string, inline bool) (MarkupResult, error) {
	dec := xml.NewDecoder(strings.NewReader("<x>" + s + "</x>"))
	dec.Strict = true
	dec.Entity = xml.HTMLEntity
	var (
		out     strings.Builder
		res     MarkupResult
		open    []string // the elements written, innermost last ("" for one left out)
		skip    int      // depth inside an element dropped with its content
		pending bool     // a line break owed before more text (inline: after a block)
	)
	seen := map[string]bool{}
	drop := func(what string) {
		if !seen[what] && len(res.Dropped) < maxDropped {
			seen[what] = true
			res.Dropped = append(res.Dropped, what)
		}
	}
	allowed := func(name string) bool {
		return slices.Contains(inlineElements, name) || (!inline && slices.Contains(blockElements, name))
	}
	if _, err := dec.Token(); err != nil { // the wrapper's <x>
		return MarkupResult{}, fmt.Errorf("not well-formed XHTML: %v", err)
	}
	open = append(open, "x")
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return MarkupResult{}, fmt.Errorf("not well-formed XHTML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := strings.ToLower(t.Name.Local)
			if skip > 0 || slices.Contains(droppedWithContent, name) {
				if skip == 0 {
					drop("element " + name + " and its content")
				}
				skip++
				continue
			}
			if !allowed(name) {
				if name != "div" && name != "span" && !(inline && slices.Contains(blockElements, name)) {
					drop("element " + name)
				}
				if inline && (name == "p" || name == "li") && out.Len() > 0 {
					pending = true
				}
				open = append(open, "")
				continue
			}
			if pending {
				out.WriteString("<br/>")
				pending = false
			}
			if name == "br" {
				out.WriteString("<br/>") // XHTML, which reads back as markup
				open = append(open, name)
				continue
			}
			out.WriteString("<" + name)
			for _, a := range t.Attr {
				switch {
				case name == "a" && a.Name.Local == "href" && a.Name.Space == "":
					if link, ok := safeLink(a.Value); ok {
						out.WriteString(` href="` + html.EscapeString(link) + `"`)
					} else {
						drop("a link that is not https, mailto or tel")
					}
				case a.Name.Space == "xmlns" || a.Name.Local == "xmlns":
				default:
					drop("attribute " + a.Name.Local + " on " + name)
				}
			}
			out.WriteString(">")
			open = append(open, name)
		case xml.EndElement:
			if skip > 0 {
				skip--
				continue
			}
			name := open[len(open)-1]
			open = open[:len(open)-1]
			if name != "" && name != "x" && name != "br" {
				out.WriteString("</" + name + ">")
			}
		case xml.CharData:
			if skip > 0 {
				continue
			}
			// XML reads a line break as \n; written as \r it would not read back as itself.
			text := strings.ReplaceAll(strings.ReplaceAll(string(t), "\r\n", "\n"), "\r", "\n")
			if pending && strings.TrimSpace(text) != "" {
				out.WriteString("<br/>")
				pending = false
			}
			out.WriteString(html.EscapeString(text))
		case xml.Comment:
		case xml.ProcInst, xml.Directive:
			drop("a processing instruction or directive")
		}
	}
	res.HTML = strings.TrimSpace(out.String())
	return res, nil
}

// safeLink reports whether a link goes somewhere a patient page may send
// a patient: an absolute https, mailto or tel URL. It returns the link
// trimmed, with its scheme in lower case.
func safeLink(href string) (string, bool) {
	href = strings.TrimSpace(href)
	u, err := url.Parse(href)
	if err != nil || !slices.Contains(linkSchemes, strings.ToLower(u.Scheme)) || strings.ContainsAny(href, "\x00\r\n\t") {
		return "", false
	}
	// The link as written, its scheme in the canonical lower case (HTTPS:
	// and https: are the same link; a check that reads it again sees one).
	return strings.ToLower(u.Scheme) + href[len(u.Scheme):], true
}

// MarkupHTML returns the item's formatted text in the first of langs that
// it has (Markup), as safe HTML; "" when it has none, and the page shows
// Text.
func (it *Item) MarkupHTML(langs ...string) string {
	for _, l := range langs {
		if h, ok := it.markup[l]; ok {
			return h
		}
	}
	return ""
}
