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
		b.WriteString(`="`)
		escape(b, value)
		b.WriteString(`"`)
	}
	b.WriteString("\n<div class=\"item item-")
	escape(b, string(iv.Type))
	if len(iv.Errors) > 0 {
		b.WriteString(" has-error")
	}
	if iv.New {
		b.WriteString(" is-new")
	}
	b.WriteString(`" id="`)
	escape(b, iv.Anchor)
	b.WriteString(`"`)
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
			b.WriteString(`<span class="prefix">`)
			escape(b, iv.Prefix)
			b.WriteString(`</span> `)
		}
		if iv.Markup != "" {
			b.WriteString(string(iv.Markup))
		} else {
			escape(b, iv.Text)
		}
	}
	question := func() { // and whether it is new or optional
		if iv.New {
			b.WriteString(`<span class="new-label">`)
			escape(b, s.T(help.Lang, "page.new_question"))
			b.WriteString(`</span> `)
		}
		words()
		if !iv.Required {
			b.WriteString(` <span class="optional">`)
			escape(b, iv.OptionalLabel)
			b.WriteString(`</span>`)
		}
	}
	hint := func(suffix, text string) {
		if text != "" {
			b.WriteString(`<p class="hint" id="`)
			escape(b, iv.ID)
			b.WriteString(suffix)
			b.WriteString(`">`)
			escape(b, text)
			b.WriteString(`</p>`)
		}
	}
	errs := func() {
		if len(iv.Errors) == 0 {
			return
		}
		b.WriteString(`<p class="error" id="`)
		escape(b, iv.ID)
		b.WriteString(`-error">`)
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
			b.WriteString(`<p class="display">`)
			escape(b, iv.Text)
			b.WriteString(`</p>`)
		}
		b.WriteString("\n")
	case iv.Type == questionnaire.Group:
		b.WriteString("\n  <section class=\"subgroup\">\n    ")
		if iv.Text != "" {
			b.WriteString("<h2>")
			escape(b, iv.Text)
			b.WriteString("</h2>")
		}
		b.WriteString("\n    ")
		for _, child := range iv.Children {
			s.writeItem(b, child, help)
		}
		b.WriteString("\n  </section>\n")
	case iv.ReadOnly:
		b.WriteString("\n  <p class=\"question\" id=\"")
		escape(b, iv.ID)
		b.WriteString(`">`)
		words()
		b.WriteString("</p>\n  ")
		if iv.Help != "" {
			b.WriteString(`<p class="hint">`)
			escape(b, iv.Help)
			b.WriteString(`</p>`)
		}
		b.WriteString("\n  <p class=\"readonly-value\">")
		escape(b, iv.Shown)
		b.WriteString("</p>\n  <p class=\"hint readonly-note\">")
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
			b.WriteString(`<div class="scale-ends" aria-hidden="true"><span>`)
			escape(b, iv.MinLabel)
			b.WriteString(`</span><span>`)
			escape(b, iv.MaxLabel)
			b.WriteString(`</span></div>`)
		}
		b.WriteString("\n    <div class=\"options")
		if scale {
			b.WriteString(" scale")
		}
		b.WriteString("\">\n    ")
		for _, o := range iv.Options {
			b.WriteString("\n      <label class=\"option\" for=\"")
			escape(b, o.ID)
			b.WriteString(`"><input type="`)
			escape(b, iv.InputType)
			b.WriteString(`" id="`)
			escape(b, o.ID)
			b.WriteString(`" name="`)
			escape(b, iv.LinkID)
			b.WriteString(`" value="`)
			escape(b, o.Value)
			b.WriteString(`"`)
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
				b.WriteString(`<span class="end-label">`)
				escape(b, o.Hint)
				b.WriteString(`</span>`)
			}
			b.WriteString("</span></label>\n    ")
		}
		b.WriteString("\n    ")
		if iv.Clear != "" {
			b.WriteString(`<label class="option clear" for="`)
			escape(b, iv.ID)
			b.WriteString(`-none"><input type="radio" id="`)
			escape(b, iv.ID)
			b.WriteString(`-none" name="`)
			escape(b, iv.LinkID)
			b.WriteString(`" value=""> <span>`)
			escape(b, iv.Clear)
			b.WriteString(`</span></label>`)
		}
		b.WriteString("\n    </div>\n    ")
		if o := iv.Other; o != nil {
			b.WriteString(`<label class="other-label" for="`)
			escape(b, o.ID)
			b.WriteString(`">`)
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
				b.WriteString(` aria-describedby="`)
				escape(b, iv.ID)
				b.WriteString(`-error"`)
			}
			b.WriteString(">")
		}
		b.WriteString("\n  </fieldset>\n")
	default:
		b.WriteString("\n  <label class=\"question\" for=\"")
		escape(b, iv.ID)
		b.WriteString(`">`)
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
			b.WriteString(">")
			escape(b, iv.Value)
			b.WriteString("</textarea>\n  ")
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
				b.WriteString(`<span class="unit">`)
				escape(b, iv.Unit)
				b.WriteString(`</span>`)
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
