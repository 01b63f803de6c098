package web

import (
	"bytes"
	"strconv"

	"eprom/locales"
	"eprom/questionnaire"
)

// The questions of a page are written here rather than by a template:
// html/template spent most of a page's time walking the item template
// for every question and option and calling its functions by reflection
// (issue 16). What is written is what the template "item" in page.html
// wrote, byte for byte (TestPagesAreAsBefore), with the same escaping;
// pagehtml.go writes the rest of the page around it.

// escape writes s as html/template escapes text and quoted attribute
// values: NUL, quotes, &, +, < and >.
func escape(b *bytes.Buffer, s string) {
	written := 0
	for i := 0; i < len(s); i++ {
		var repl string
		switch s[i] {
		case 0:
			repl = "\uFFFD"
		case '"':
			repl = "&#34;"
		case '&':
			repl = "&amp;"
		case '\'':
			repl = "&#39;"
		case '+':
			repl = "&#43;"
		case '<':
			repl = "&lt;"
		case '>':
			repl = "&gt;"
		default:
			continue
		}
		b.WriteString(s[written:i])
		b.WriteString(repl)
		written = i + 1
	}
	b.WriteString(s[written:])
}

// tag writes text escaped between open and end: an element, or an
// attribute's value with what comes before and after it.
func tag(b *bytes.Buffer, open, text, end string) {
	b.WriteString(open)
	escape(b, text)
	b.WriteString(end)
}

// itemWriter writes items in the words of a locale catalogue.
type itemWriter struct{ loc *locales.Catalog }

// T is the catalogue's translation.
func (s itemWriter) T(lang, id string) string { return s.loc.T(lang, id) }

func (s itemWriter) writeItem(b *bytes.Buffer, iv *itemView, help helpView) {
	if iv == nil {
		return
	}
	attr := func(name, value string) {
		b.WriteString(" ")
		b.WriteString(name)
		tag(b, `="`, value, `"`)
	}
	b.WriteString("\n<div class=\"item item-")
	escape(b, string(iv.Type))
	if len(iv.Errors) > 0 {
		b.WriteString(" has-error")
	}
	if iv.New {
		b.WriteString(" is-new")
	}
	tag(b, `" id="`, iv.Anchor, `"`)
	if iv.When != "" {
		attr("data-when", iv.When)
	}
	if iv.Hidden {
		b.WriteString(" hidden")
	}
	attr("data-link", iv.LinkID)
	b.WriteString(">\n")
	words := func() { // the question's prefix and text
		if iv.Prefix != "" {
			tag(b, `<span class="prefix">`, iv.Prefix, `</span> `)
		}
		if iv.Markup != "" {
			b.WriteString(string(iv.Markup))
		} else {
			escape(b, iv.Text)
		}
	}
	question := func() { // and whether it is new or optional
		if iv.New {
			tag(b, `<span class="new-label">`, s.T(help.Lang, "page.new_question"), `</span> `)
		}
		words()
		if !iv.Required {
			tag(b, ` <span class="optional">`, iv.OptionalLabel, `</span>`)
		}
	}
	hint := func(suffix, text string) {
		if text != "" {
			b.WriteString(`<p class="hint" id="`)
			escape(b, iv.ID)
			b.WriteString(suffix)
			tag(b, `">`, text, `</p>`)
		}
	}
	errs := func() {
		if len(iv.Errors) == 0 {
			return
		}
		tag(b, `<p class="error" id="`, iv.ID, `-error">`)
		for i, e := range iv.Errors {
			if i > 0 {
				b.WriteString(" ")
			}
			escape(b, e)
		}
		b.WriteString(`</p>`)
	}
	switch {
	case iv.Type == questionnaire.Display:
		b.WriteString("\n  ")
		if iv.Markup != "" {
			b.WriteString(`<div class="display markup">`)
			b.WriteString(string(iv.Markup))
			b.WriteString(`</div>`)
		} else {
			tag(b, `<p class="display">`, iv.Text, `</p>`)
		}
		b.WriteString("\n")
	case iv.Type == questionnaire.Group:
		b.WriteString("\n  <section class=\"subgroup\">\n    ")
		if iv.Text != "" {
			tag(b, "<h2>", iv.Text, "</h2>")
		}
		b.WriteString("\n    ")
		for _, child := range iv.Children {
			s.writeItem(b, child, help)
		}
		b.WriteString("\n  </section>\n")
	case iv.ReadOnly:
		tag(b, "\n  <p class=\"question\" id=\"", iv.ID, `">`)
		words()
		b.WriteString("</p>\n  ")
		if iv.Help != "" {
			tag(b, `<p class="hint">`, iv.Help, `</p>`)
		}
		tag(b, "\n  <p class=\"readonly-value\">", iv.Shown, "</p>\n  <p class=\"hint readonly-note\">")
		escape(b, s.T(help.Lang, "item.readonly"))
		b.WriteString("</p>\n")
	case iv.Fieldset:
		b.WriteString("\n  <fieldset")
		if iv.DescribedBy != "" {
			attr("aria-describedby", iv.DescribedBy)
		}
		b.WriteString(">\n    <legend>")
		question()
		b.WriteString("</legend>\n    ")
		hint("-help", iv.Help)
		b.WriteString("\n    ")
		errs()
		b.WriteString("\n    ")
		scale := iv.Type == questionnaire.Scale
		if scale {
			tag(b, `<div class="scale-ends" aria-hidden="true"><span>`, iv.MinLabel, `</span><span>`)
			escape(b, iv.MaxLabel)
			b.WriteString(`</span></div>`)
		}
		b.WriteString("\n    <div class=\"options")
		if scale {
			b.WriteString(" scale")
		}
		b.WriteString("\">\n    ")
		for _, o := range iv.Options {
			tag(b, "\n      <label class=\"option\" for=\"", o.ID, `"><input type="`)
			escape(b, iv.InputType)
			tag(b, `" id="`, o.ID, `" name="`)
			escape(b, iv.LinkID)
			tag(b, `" value="`, o.Value, `"`)
			if o.Checked {
				b.WriteString(" checked")
			}
			if o.Exclusive {
				b.WriteString(" data-exclusive")
			}
			if len(iv.Errors) > 0 {
				b.WriteString(` aria-invalid="true"`)
			}
			b.WriteString(">\n        <span>")
			escape(b, o.Text)
			if o.Hint != "" {
				tag(b, `<span class="end-label">`, o.Hint, `</span>`)
			}
			b.WriteString("</span></label>\n    ")
		}
		b.WriteString("\n    ")
		if iv.Clear != "" {
			tag(b, `<label class="option clear" for="`, iv.ID, `-none"><input type="radio" id="`)
			escape(b, iv.ID)
			tag(b, `-none" name="`, iv.LinkID, `" value=""> <span>`)
			escape(b, iv.Clear)
			b.WriteString(`</span></label>`)
		}
		b.WriteString("\n    </div>\n    ")
		if o := iv.Other; o != nil {
			tag(b, `<label class="other-label" for="`, o.ID, `">`)
			escape(b, o.Label)
			b.WriteString("</label>\n    <input class=\"other\"")
			attr("id", o.ID)
			attr("name", o.Name)
			b.WriteString(` type="text"`)
			attr("value", o.Value)
			attr("maxlength", strconv.Itoa(o.MaxLength))
			b.WriteString(` autocomplete="off"`)
			if len(iv.Errors) > 0 {
				b.WriteString(` aria-invalid="true"`)
				tag(b, ` aria-describedby="`, iv.ID, `-error"`)
			}
			b.WriteString(">")
		}
		b.WriteString("\n  </fieldset>\n")
	default:
		tag(b, "\n  <label class=\"question\" for=\"", iv.ID, `">`)
		question()
		b.WriteString("</label>\n  ")
		hint("-help", iv.Help)
		b.WriteString("\n  ")
		hint("-format", iv.Format)
		b.WriteString("\n  ")
		errs()
		b.WriteString("\n  ")
		if iv.Multiline {
			b.WriteString("\n  <textarea")
			attr("id", iv.ID)
			attr("name", iv.LinkID)
			b.WriteString(` rows="5"`)
			attr("maxlength", strconv.Itoa(iv.MaxLength))
			if len(iv.Errors) > 0 {
				b.WriteString(` aria-invalid="true"`)
			}
			if iv.DescribedBy != "" {
				attr("aria-describedby", iv.DescribedBy)
			}
			tag(b, ">", iv.Value, "</textarea>\n  ")
		} else {
			b.WriteString("\n  <div class=\"input-row\">\n    <input")
			attr("id", iv.ID)
			attr("name", iv.LinkID)
			attr("type", iv.InputType)
			attr("value", iv.Value)
			if iv.InputMode != "" {
				attr("inputmode", iv.InputMode)
			}
			if iv.MaxLength != 0 {
				attr("maxlength", strconv.Itoa(iv.MaxLength))
			}
			if iv.MinAttr != "" {
				attr("min", iv.MinAttr)
			}
			if iv.MaxAttr != "" {
				attr("max", iv.MaxAttr)
			}
			b.WriteString(` autocomplete="off" class="`)
			if iv.Type == questionnaire.Integer || iv.Type == questionnaire.Decimal {
				b.WriteString("short")
			}
			b.WriteString(`"`)
			if len(iv.Errors) > 0 {
				b.WriteString(` aria-invalid="true"`)
			}
			if iv.DescribedBy != "" {
				attr("aria-describedby", iv.DescribedBy)
			}
			b.WriteString(">\n    ")
			if iv.Unit != "" {
				tag(b, `<span class="unit">`, iv.Unit, `</span>`)
			}
			b.WriteString("\n  </div>\n  ")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	if iv.Sensitive {
		b.WriteString(`<p class="help-short">`)
		b.WriteString(string(help.Short))
		b.WriteString(`</p>`)
	}
	b.WriteString("\n</div>\n")
}
