package web_test

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"eprom/questionnaire"
)

// TestPagesAreAsBefore renders every page of every shipped form (and the
// prefilled test form: read-only answers, own answers, text checks) in
// each language, fresh, with the errors of an empty Next, and with an
// answer to every question, and the review of those answers, and compares each byte with its golden copy
// in testdata/pages/ (go test ./web -run PagesAreAsBefore -update writes
// them). Rendering may be made faster; what a patient gets may not change
// unnoticed.
func TestPagesAreAsBefore(t *testing.T) {
	h := newHarness(t, withDefinition("forhand-1.0.0.json", prefilledForm))
	csrf := regexp.MustCompile(`name="csrf" value="[^"]+"`)
	for _, id := range []string{"audit", "dudit", "kvarus-maalepunkt", "kvarus-erfaring", "forhand"} {
		def, err := h.cfg.Catalogue.Get(id, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, lang := range def.Languages {
			t.Run(id+"-"+lang, func(t *testing.T) {
				_, code := h.order(id, lang)
				b := h.browser()
				b.enter(code)
				var all bytes.Buffer
				for n, pg := range def.Pages() {
					path := fmt.Sprintf("/q?page=%d", n+1)
					fresh := b.get(path)
					errs := b.answer(fresh, n+1, "next", url.Values{})
					b.answer(fresh, n+1, "autosave", answerAll(pg.Questions()))
					answered := b.get(path)
					for _, s := range []struct {
						name string
						p    page
					}{{"fresh", fresh}, {"errors", errs}, {"answered", answered}} {
						fmt.Fprintf(&all, "=== page %d %s: %d\n", n+1, s.name, s.p.status)
						all.WriteString(csrf.ReplaceAllString(s.p.body, `name="csrf" value="CSRF"`))
						all.WriteString("\n")
					}
				}
				review := b.get("/q/review")
				fmt.Fprintf(&all, "=== review: %d\n", review.status)
				all.WriteString(csrf.ReplaceAllString(review.body, `name="csrf" value="CSRF"`))
				golden(t, filepath.Join("testdata", "pages", id+"-"+lang+".html.gz"), all.Bytes())
			})
		}
	}
}

// answerAll answers every question: the first option (two for a multiple
// choice, and an own answer where there is one), numbers, a date, and text
// that needs escaping.
func answerAll(questions []*questionnaire.Item) url.Values {
	form := url.Values{}
	for _, it := range questions {
		switch it.Type {
		case questionnaire.Choice, questionnaire.Scale:
			if len(it.Options) > 0 {
				form.Set(it.LinkID, it.Options[0].Value)
			} else {
				form.Set(it.LinkID, "3") // a scale of numbers
			}
		case questionnaire.MultiChoice:
			for _, o := range it.Options[:min(2, len(it.Options))] {
				form.Add(it.LinkID, o.Value)
			}
		case questionnaire.Boolean:
			form.Set(it.LinkID, "true")
		case questionnaire.Integer:
			form.Set(it.LinkID, "3")
		case questionnaire.Decimal:
			form.Set(it.LinkID, "2,5")
		case questionnaire.Date:
			form.Set(it.LinkID, "2026-11-02")
		case questionnaire.TextType:
			form.Set(it.LinkID, `Svar med <b>"tegn"</b> & 'mer' +1`)
		}
		if it.Other {
			form.Set(it.OtherField(), "Noe annet <i>&</i>")
		}
	}
	return form
}

// golden compares got with the gzipped golden file, or writes it with
// -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	// -update is the flag graph_test.go defines, in the same test binary.
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		w.Write(got)
		w.Close()
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, z.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run go test ./web -run PagesAreAsBefore -update)", err)
	}
	defer f.Close()
	r, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := io.ReadAll(r)
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := range max(len(gl), len(wl)) {
		var g, w []byte
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if !bytes.Equal(g, w) {
			t.Fatalf("%s differs at line %d:\n got: %.300s\nwant: %.300s", path, i+1, g, w)
		}
	}
}

// TestReviewStatesAreAsBefore adds what TestPagesAreAsBefore does not
// reach, in the demo (its banner on every page): the review with nothing
// answered (how many are missing, and a link to the first), the review of
// a Send with required answers missing (the error summary with links to
// other pages), and a page's errors after it.
func TestReviewStatesAreAsBefore(t *testing.T) {
	h := newHarness(t, func(h *harness) { h.cfg.Demo = true })
	csrf := regexp.MustCompile(`name="csrf" value="[^"]+"`)
	for _, id := range []string{"audit", "kvarus-maalepunkt"} {
		for _, lang := range []string{"nb", "en"} {
			t.Run(id+"-"+lang, func(t *testing.T) {
				_, code := h.order(id, lang)
				b := h.browser()
				first := b.enter(code)
				var all bytes.Buffer
				review := b.get("/q/review")
				sent := b.post("/q/submit", review, url.Values{})
				errs := b.answer(first, 1, "next", url.Values{})
				for _, s := range []struct {
					name string
					p    page
				}{{"review", review}, {"send", sent}, {"errors", errs}} {
					fmt.Fprintf(&all, "=== %s: %d\n", s.name, s.p.status)
					all.WriteString(csrf.ReplaceAllString(s.p.body, `name="csrf" value="CSRF"`))
					all.WriteString("\n")
				}
				golden(t, filepath.Join("testdata", "pages", "states-"+id+"-"+lang+".html.gz"), all.Bytes())
			})
		}
	}
}

// TestMessagePagesAreAsBefore: the pages of message.html, byte for byte:
// thanks (in English, and with the change of a score since earlier
// results), a decline with reservation, the saved page with its code, a
// closed code, no session, and a form whose token does not fit.
func TestMessagePagesAreAsBefore(t *testing.T) {
	h := newHarness(t)
	var all bytes.Buffer
	add := func(name string, p page) {
		fmt.Fprintf(&all, "=== %s: %d\n", name, p.status)
		body := regexp.MustCompile(`name="csrf" value="[^"]+"`).ReplaceAllString(p.body, `name="csrf" value="CSRF"`)
		all.WriteString(regexp.MustCompile(`[0-9A-Z]{5}-[0-9A-Z]{5}`).ReplaceAllString(body, "CODE")) // the saved page's code
		all.WriteString("\n")
	}
	send := func(id, lang string) (page, string) {
		_, code := h.order(id, lang)
		b := h.browser()
		first := b.enter(code)
		def, _ := h.cfg.Catalogue.Get(id, "")
		for n, pg := range def.Pages() {
			b.answer(first, n+1, "autosave", answerAll(pg.Questions()))
		}
		review := b.get("/q/review")
		return b.follow(b.post("/q/submit", review, url.Values{})), code
	}
	done, code := send("audit", "en")
	add("done-en", done)
	add("closed-submitted", h.browser().enter(code))

	m := h.create(`{"questionnaire": "kvarus-maalepunkt", "patientRef": "p", "language": "nb", ` + previous + `}`)
	fb := h.browser()
	add("done-feedback", fb.follow(fb.answerMaalepunkt(m["code"].(string), fewProblems)))

	_, code = h.kvarusOrder("nb")
	b := h.browser()
	first := b.enter(code)
	form := b.follow(b.answer(first, 1, "decline", url.Values{}))
	add("declined-reservation", b.follow(b.post("/q/decline", form, url.Values{"confirm": {"yes"}, "reason": {"reservation"}})))

	_, code = h.order("audit", "nb")
	b = h.browser()
	first = b.enter(code)
	add("saved", b.answer(first, 1, "save", url.Values{"q1": {"1"}}))

	add("session-none", h.browser().get("/q?lang=en"))
	_, code = h.order("audit", "nb")
	b = h.browser()
	b.enter(code)
	add("csrf", b.do("POST", "/q", url.Values{"csrf": {"wrong"}, "page": {"1"}, "action": {"next"}}))
	golden(t, filepath.Join("testdata", "pages", "messages.html.gz"), all.Bytes())
}
