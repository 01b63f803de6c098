package web

import (
	"bytes"
	"html/template"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// The pages a patient walks through on every journey (a question page,
// the review, the thanks and the other messages) are written here by Go,
// layout and all, rather than by html/template, which spent most of their
// time calling functions and reading fields by reflection (issue 16). What
// is written is what the templates layout.html, page.html, review.html and
// message.html wrote, byte for byte (TestPagesAreAsBefore,
// TestReviewStatesAreAsBefore, TestMessagePagesAreAsBefore), with
// html/template's escaping: escape for text and quoted attributes, writeURL
// and writeURLPart for links. The other templates get the help notice and a
// score's change from the same writers (the functions help and change).

// chrome is a page's fixed words in one language that the layout and the
// pages written here show, looked up once.
type chrome struct {
	Demo, AppName, ChooseLang                    string
	Fresh, Elsewhere, SaveFailed, SessionLost    string // a question page's
	Next, Review, Save                           string
	ErrorsTitle, ErrorsTitleSend                 string
	ReviewTitle, ReviewIntro, ReviewFirstMissing string
	ReviewAnswer, ReviewChange, ReviewSendNote   string
	ReviewSubmit, PageBack, DeclineLink          string
	SavedCode, SavedCodeNote, NewCode, EnterCode string
	FeedbackTitle, FeedbackText                  string
	ChangeWhen, ChangeValue, ChangeBand          string
	Favicon, Stylesheet, Script                  string // the static files' versioned paths
}

// chromeOf returns the fixed words of lang, looked up the first time.
func (s *Server) chromeOf(lang string) *chrome {
	if w, ok := s.chrome.Load(lang); ok {
		return w.(*chrome)
	}
	t := func(id string) string { return s.T(lang, id) }
	w := &chrome{
		Demo: t("demo.banner"), AppName: t("app.name"), ChooseLang: t("lang.choose"),
		Fresh: t("page.fresh"), Elsewhere: t("page.elsewhere"), SaveFailed: t("page.save_failed"), SessionLost: t("page.session_lost"),
		Next: t("page.next"), Review: t("page.review"), Save: t("page.save"),
		ErrorsTitle: t("errors.title"), ErrorsTitleSend: t("errors.title_send"),
		ReviewTitle: t("review.title"), ReviewIntro: t("review.intro"), ReviewFirstMissing: t("review.first_missing"),
		ReviewAnswer: t("review.answer"), ReviewChange: t("review.change"), ReviewSendNote: t("review.send_note"),
		ReviewSubmit: t("review.submit"), PageBack: t("page.back"), DeclineLink: t("decline.link"),
		SavedCode: t("saved.code"), SavedCodeNote: t("saved.code_note"), NewCode: t("message.new_code"), EnterCode: t("message.enter_code"),
		FeedbackTitle: t("feedback.title"), FeedbackText: t("feedback.text"),
		ChangeWhen: t("change.when"), ChangeValue: t("change.value"), ChangeBand: t("change.band"),
		Favicon: s.asset("favicon.svg"), Stylesheet: s.asset("eprom.css"), Script: s.asset("eprom.js"),
	}
	s.chrome.Store(lang, w)
	return w
}

// asset is a static file's path with its content version, as the
// templates' asset function gives it.
func (s *Server) asset(name string) string {
	return "/static/" + name + "?v=" + s.assets[name]
}

// writeHTML answers with a page that write writes, timed as render times
// a template.
func (s *Server) writeHTML(c *fiber.Ctx, status int, name string, write func(b *bytes.Buffer)) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Status(status)
	start := time.Now() // a duration, on the monotonic clock: not the service's clock, which tests set
	b := pageBuffers.Get().(*bytes.Buffer)
	b.Reset()
	write(b)
	c.Response().SetBody(b.Bytes()) // copied into fasthttp's own buffer
	if b.Cap() <= 256<<10 {
		pageBuffers.Put(b)
	}
	s.metrics.pageRender.WithLabelValues(name).Observe(time.Since(start).Seconds())
	return nil
}

// pageBuffers hold pages being written: a page is 4 to 16 KB, and a new
// buffer for each was an eighth of the server's allocation.
var pageBuffers = sync.Pool{New: func() any { b := new(bytes.Buffer); b.Grow(16 << 10); return b }}

// writeLayout writes the template "layout" of layout.html around content.
func writeLayout(b *bytes.Buffer, v *base, w *chrome, content func()) {
	b.WriteString("<!doctype html>\n<html lang=\"")
	escape(b, v.Lang)
	b.WriteString("\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n" +
		"<meta name=\"referrer\" content=\"no-referrer\">\n<meta name=\"robots\" content=\"noindex, nofollow\">\n<title>")
	escape(b, v.Title)
	b.WriteString("</title>\n<link rel=\"icon\" href=\"")
	writeURL(b, w.Favicon)
	b.WriteString("\" type=\"image/svg+xml\">\n<link rel=\"stylesheet\" href=\"")
	writeURL(b, w.Stylesheet)
	b.WriteString("\">\n</head>\n<body>\n<header class=\"top\">\n  ")
	if v.Demo {
		tag(b, `<p class="demo">`, w.Demo, `</p>`)
	}
	tag(b, "\n  <div class=\"bar\">\n    <span class=\"brand\">", w.AppName, "</span>\n    <nav class=\"langs\" aria-label=\"")
	escape(b, w.ChooseLang)
	b.WriteString(`">`)
	for _, l := range v.Langs {
		if l.Current {
			tag(b, `<span aria-current="true" lang="`, l.Code, `">`)
			escape(b, l.Label)
			b.WriteString(`</span>`)
		} else {
			b.WriteString(`<a href="`)
			writeURL(b, l.Href)
			tag(b, `" lang="`, l.Code, `" hreflang="`)
			escape(b, l.Code)
			tag(b, `">`, l.Label, `</a>`)
		}
		b.WriteString(" ")
	}
	tag(b, "</nav>\n  </div>\n</header>\n<main id=\"main\" data-page=\"", v.Page, "\">\n")
	content()
	b.WriteString("\n</main>\n")
	if v.Script {
		b.WriteString(`<script src="`)
		writeURL(b, w.Script)
		b.WriteString(`" defer></script>`)
	}
	b.WriteString("\n</body>\n</html>\n")
}

// writeErrorSummary writes the template "errorsummary".
func writeErrorSummary(b *bytes.Buffer, v *base, w *chrome) {
	if len(v.Errors) == 0 {
		return
	}
	b.WriteString("\n<div class=\"summary\" role=\"alert\" tabindex=\"-1\" id=\"errors\"")
	if v.Plain != "" {
		tag(b, ` data-title="`, v.Plain, `"`)
	}
	b.WriteString(">\n  <h2>")
	if v.Page == "review" {
		escape(b, w.ErrorsTitleSend)
	} else {
		escape(b, w.ErrorsTitle)
	}
	b.WriteString("</h2>\n  <ul>")
	for _, e := range v.Errors {
		b.WriteString(`<li><a href="`)
		if e.Href != "" {
			writeURL(b, e.Href)
		} else {
			b.WriteString("#")
			writeURLPart(b, e.Anchor)
		}
		b.WriteString(`">`)
		if e.Label != "" {
			tag(b, `<span class="summary-q">`, e.Label, `</span> `)
		}
		tag(b, `<span class="summary-m">`, e.Message, `</span></a></li>`)
	}
	b.WriteString("</ul>\n</div>")
}

// writeHelp writes the template "help": where to get help now.
func writeHelp(b *bytes.Buffer, h *helpView) {
	tag(b, "\n<aside class=\"help-now\" aria-labelledby=\"help-now-title\">\n  <h2 id=\"help-now-title\">", h.Title, "</h2>\n  ")
	for _, l := range h.Lines {
		b.WriteString("<p>")
		b.WriteString(string(l)) // HTML made by telLinks from escaped text
		b.WriteString("</p>")
	}
	b.WriteString("\n</aside>\n")
}

// writePage writes the template "content" of page.html: a question page.
func (s *Server) writePage(b *bytes.Buffer, pv *pageView, progress string) {
	w := s.chromeOf(pv.Lang)
	button := func(value, class, text string) {
		b.WriteString(`<button type="submit" name="action" value="`)
		b.WriteString(value)
		b.WriteString(`" class="`)
		b.WriteString(class)
		tag(b, `">`, text, `</button>`)
	}
	notice := func(text string) {
		tag(b, `<div class="notice" role="status"><p>`, text, `</p></div>`)
	}
	writeLayout(b, &pv.base, w, func() {
		b.WriteString("\n")
		if pv.FormTitle != pv.Heading {
			tag(b, `<p class="form-title">`, pv.FormTitle, `</p>`)
		}
		number, count := strconv.Itoa(pv.PageNumber), strconv.Itoa(pv.PageCount)
		b.WriteString("\n<div class=\"progress\">\n  <span>")
		escape(b, progress)
		b.WriteString("</span>\n  <progress max=\"" + count + "\" value=\"" + number + "\" aria-hidden=\"true\">" + number + "/" + count + "</progress>\n</div>\n")
		writeErrorSummary(b, &pv.base, w)
		b.WriteString("\n")
		if pv.Fresh {
			notice(w.Fresh)
		}
		b.WriteString("\n")
		if pv.Elsewhere {
			notice(w.Elsewhere)
		}
		tag(b, "\n<p class=\"save-error\" role=\"alert\" hidden>", w.SaveFailed, "</p>\n<p class=\"save-error session-lost\" role=\"alert\" hidden>")
		escape(b, w.SessionLost)
		tag(b, ` <a href="/">`, w.EnterCode, "</a></p>\n<form method=\"post\" action=\"/q\" class=\"questions\" novalidate")
		if pv.Autosave {
			b.WriteString(" data-autosave")
		}
		b.WriteString(">\n  <input type=\"hidden\" name=\"csrf\" value=\"")
		escape(b, pv.CSRF)
		b.WriteString("\">\n  <input type=\"hidden\" name=\"page\" value=\"" + number + "\">\n  ")
		if pv.Heading != "" {
			b.WriteString("<h1>")
			escape(b, pv.Heading)
		} else {
			b.WriteString(`<h1 class="visually-hidden">`)
			escape(b, pv.FormTitle)
		}
		b.WriteString("</h1>\n  ")
		if pv.Intro != "" {
			tag(b, `<p class="intro">`, pv.Intro, `</p>`)
		}
		b.WriteString("\n  ")
		iw := itemWriter{s.cfg.Locales}
		for _, iv := range pv.Items {
			iw.writeItem(b, iv, pv.Help)
		}
		b.WriteString("\n  <div class=\"actions\">\n    ")
		if pv.Last {
			button("finish", "primary", w.Review)
			b.WriteString("\n    ")
		} else {
			button("next", "primary", w.Next)
		}
		b.WriteString("\n    ")
		if pv.PageNumber > 1 {
			button("back", "secondary back", w.PageBack)
		}
		b.WriteString("\n  </div>\n  <div class=\"actions minor\">\n    ")
		button("save", "link", w.Save)
		b.WriteString("\n    ")
		if !pv.Last {
			button("review", "link", w.Review)
		}
		b.WriteString("\n    ")
		button("decline", "link", w.DeclineLink)
		b.WriteString("\n  </div>\n</form>\n")
		writeHelp(b, &pv.Help)
		b.WriteString("\n")
	})
}

// writeReview writes the template "content" of review.html: every shown
// question with its answer.
func (s *Server) writeReview(b *bytes.Buffer, rv *reviewView) {
	w := s.chromeOf(rv.Lang)
	writeLayout(b, &rv.base, w, func() {
		tag(b, "\n<p class=\"form-title\">", rv.FormTitle, "</p>\n<h1>")
		escape(b, w.ReviewTitle)
		tag(b, "</h1>\n<p class=\"lead\">", w.ReviewIntro, "</p>\n")
		writeErrorSummary(b, &rv.base, w)
		b.WriteString("\n")
		if rv.Missing != "" && len(rv.Errors) == 0 {
			tag(b, `<div class="notice missing-note" role="status"><p>`, rv.Missing, ` <a href="`)
			writeURL(b, rv.FirstHref)
			tag(b, `">`, w.ReviewFirstMissing, `</a></p></div>`)
		}
		b.WriteString("\n")
		for _, p := range rv.Pages {
			tag(b, "\n<section class=\"review-page\">\n  <h2>", p.Heading, "</h2>\n  <dl>\n  ")
			for _, a := range p.Answers {
				b.WriteString(`<div class="review-row`)
				if a.State != "" {
					b.WriteString(" ")
					escape(b, a.State)
				}
				tag(b, `" id="`, a.Anchor, "\">\n      <dt>")
				escape(b, a.Question)
				b.WriteString("</dt>\n      <dd class=\"answer")
				if a.Multiline {
					b.WriteString(" multiline")
				}
				tag(b, `">`, a.Answer, "</dd>\n      ")
				if a.Href != "" {
					b.WriteString(`<dd class="change"><a href="`)
					writeURL(b, a.Href)
					b.WriteString(`">`)
					if a.State == "missing" {
						escape(b, w.ReviewAnswer)
					} else {
						escape(b, w.ReviewChange)
					}
					tag(b, `<span class="visually-hidden">: `, a.Question, `</span></a></dd>`)
				}
				b.WriteString("\n    </div>\n  ")
			}
			b.WriteString("</dl>\n</section>\n")
		}
		tag(b, "\n<form method=\"post\" action=\"/q/submit\" class=\"submit\">\n  <input type=\"hidden\" name=\"csrf\" value=\"", rv.CSRF, "\">\n  <p>")
		escape(b, w.ReviewSendNote)
		tag(b, "</p>\n  <button type=\"submit\" class=\"primary\">", w.ReviewSubmit, "</button>\n</form>\n<ul class=\"links\">\n  <li><a href=\"")
		writeURL(b, rv.BackHref)
		tag(b, `">`, w.PageBack, "</a></li>\n  <li><a href=\"/q/decline\">")
		escape(b, w.DeclineLink)
		b.WriteString("</a></li>\n</ul>\n")
	})
}

// writeURL writes a link as html/template writes a whole URL attribute
// value: a scheme other than http, https or mailto is refused (#ZgotmplZ),
// what a URL may not hold is percent-encoded, and the result escaped.
func writeURL(b *bytes.Buffer, s string) {
	if scheme, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(scheme, "/") &&
		!strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") && !strings.EqualFold(scheme, "mailto") {
		b.WriteString("#ZgotmplZ")
		return
	}
	writeURLBytes(b, s, true)
}

// writeURLPart writes a part of a URL after its # as html/template does:
// every byte but the unreserved ones percent-encoded.
func writeURLPart(b *bytes.Buffer, s string) { writeURLBytes(b, s, false) }

// writeURLBytes is html/template's processURLOnto followed by its
// attribute escaping (of & alone, since the rest is encoded).
func writeURLBytes(b *bytes.Buffer, s string, norm bool) {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
			continue
		case norm && strings.IndexByte("!#$&*+,/:;=?@[]", c) >= 0:
			if c == '&' {
				b.WriteString("&amp;")
			} else if c == '+' {
				b.WriteString("&#43;")
			} else {
				b.WriteByte(c)
			}
			continue
		case norm && c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// writeMessage writes the template "content" of a message page (thanks,
// saved, closed, refused): a heading, a few paragraphs and what to do next.
func (s *Server) writeMessage(b *bytes.Buffer, v *messageView) {
	w := s.chromeOf(v.Lang)
	link := func(class, href, text string) {
		b.WriteString(`<p><a class="`)
		b.WriteString(class)
		b.WriteString(`" href="`)
		writeURL(b, href)
		tag(b, `">`, text, `</a></p>`)
	}
	writeLayout(b, &v.base, w, func() {
		tag(b, "\n<h1>", v.Heading, "</h1>\n")
		for _, p := range v.Paragraphs {
			tag(b, `<p class="lead">`, p, `</p>`)
		}
		b.WriteString("\n")
		if v.Code != "" {
			tag(b, `<p class="saved-code">`, w.SavedCode, ` <strong class="code">`)
			escape(b, v.Code)
			tag(b, `</strong><br>`, w.SavedCodeNote, "</p>\n<form method=\"post\" action=\"/\"><input type=\"hidden\" name=\"csrf\" value=\"")
			escape(b, v.CSRF)
			tag(b, `"><input type="hidden" name="code" value="`, v.Code, `"><button type="submit" class="primary">`)
			escape(b, v.ContinueText)
			b.WriteString(`</button></form>`)
		}
		b.WriteString("\n")
		if v.Contact != "" {
			tag(b, "<p>", v.Contact, "</p>")
		}
		b.WriteString("\n")
		if len(v.Changes) > 0 {
			tag(b, "<section class=\"feedback\" aria-labelledby=\"feedback-title\">\n<h2 id=\"feedback-title\">", w.FeedbackTitle, "</h2>\n<p>")
			escape(b, w.FeedbackText)
			b.WriteString("</p>\n")
			for i := range v.Changes {
				ch := &v.Changes[i]
				tag(b, "<div class=\"score-change\">\n<h3>", ch.Title, "</h3>\n")
				if ch.Feedback != "" {
					tag(b, `<p class="feedback-words">`, ch.Feedback, `</p>`)
				}
				b.WriteString("\n")
				s.writeChange(b, ch)
				b.WriteString("\n</div>")
			}
			b.WriteString("\n</section>")
		}
		b.WriteString("\n")
		if v.ContinueHref != "" {
			link("button primary", v.ContinueHref, v.ContinueText)
		}
		b.WriteString("\n")
		if v.ShowCodeLink {
			switch {
			case v.CodeLinkMinor:
				tag(b, `<p><a href="/">`, w.NewCode, `</a></p>`)
			case v.ContinueHref != "":
				link("button secondary", "/", w.EnterCode)
			default:
				link("button primary", "/", w.EnterCode)
			}
		}
		b.WriteString("\n")
		if v.Help != nil {
			writeHelp(b, v.Help)
		}
		b.WriteString("\n")
	})
}

// writeChange writes a score's change since earlier results: the graph,
// and the same figures as a table.
func (s *Server) writeChange(b *bytes.Buffer, ch *changeView) {
	w := s.chromeOf(ch.Lang)
	b.WriteString("\n<figure class=\"change\">")
	b.WriteString(string(ch.Graph.SVG())) // written by graph.go from escaped text
	tag(b, "</figure>\n<table class=\"change-table\">\n  <caption class=\"visually-hidden\">", ch.Title, "</caption>\n  <thead><tr><th scope=\"col\">")
	escape(b, w.ChangeWhen)
	tag(b, `</th><th scope="col">`, w.ChangeValue, `</th><th scope="col">`)
	escape(b, w.ChangeBand)
	b.WriteString("</th></tr></thead>\n  <tbody>")
	for _, r := range ch.Rows {
		b.WriteString("<tr")
		if r.Current {
			b.WriteString(` class="current"`)
		}
		b.WriteString(`><th scope="row">`)
		if r.Label != "" {
			escape(b, r.Label)
			b.WriteString("<br>")
		}
		tag(b, `<span class="date">`, r.Date, "</span></th><td>")
		escape(b, r.Value)
		tag(b, "</td><td>", r.Band, "</td></tr>")
	}
	b.WriteString("</tbody>\n</table>\n")
}

// htmlOf is what write writes, for a template.
func htmlOf(write func(b *bytes.Buffer)) template.HTML {
	var b bytes.Buffer
	write(&b)
	return template.HTML(b.String())
}
