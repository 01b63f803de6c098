package web_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"eprom/questionnaire"

	"github.com/valyala/fasthttp"
)

// sessionCookie is the session cookie's name behind https (the harness's
// public URL).
const sessionCookie = "__Host-eprom"

// browser is a patient's device: a cookie jar over app.Test.
type browser struct {
	h       *harness
	cookies map[string]string
	paths   map[string]string // a cookie's Path, when it has one: sent only there, as a browser does
	ip      string            // sent as X-Forwarded-For when set
}

func (h *harness) browser() *browser {
	return &browser{h: h, cookies: map[string]string{}, paths: map[string]string{}}
}

// page is a response read whole.
type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values) page {
	b.h.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return b.send(req)
}

// send sends a request with the browser's cookies (those of its path) and
// address, keeps the cookies the answer sets, and reads the answer.
func (b *browser) send(req *http.Request) page {
	b.h.t.Helper()
	for k, v := range b.cookies {
		if p := b.paths[k]; p != "" && p != "/" && req.URL.Path != p && !strings.HasPrefix(req.URL.Path, p+"/") {
			continue
		}
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	if b.ip != "" {
		req.Header.Set("X-Forwarded-For", b.ip)
	}
	resp, err := b.h.srv.App().Test(req, -1)
	if err != nil {
		b.h.t.Fatalf("%s %.200q: app.Test: %v", req.Method, req.RequestURI, err)
	}
	defer resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
			delete(b.paths, c.Name)
		} else {
			b.cookies[c.Name], b.paths[c.Name] = c.Value, c.Path
		}
	}
	raw, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

func (b *browser) get(path string) page { return b.do("GET", path, nil) }

var hiddenCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// post submits a form, with the CSRF token of the page given.
func (b *browser) post(path string, from page, form url.Values) page {
	b.h.t.Helper()
	m := hiddenCSRF.FindStringSubmatch(from.body)
	if m == nil {
		b.h.t.Fatalf("no CSRF token on the page:\n%.400s", from.body)
	}
	form.Set("csrf", m[1])
	return b.do("POST", path, form)
}

// enter types a code on the code form and follows the redirect.
func (b *browser) enter(code string) page {
	b.h.t.Helper()
	form := b.get("/")
	p := b.post("/", form, url.Values{"code": {code}})
	if p.status == http.StatusSeeOther {
		return b.get(p.header.Get("Location"))
	}
	return p
}

func wantPage(t *testing.T, p page, status int, texts ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d:\n%.1500s", p.status, status, p.body)
	}
	for _, s := range texts {
		if !strings.Contains(p.body, s) {
			t.Errorf("the page lacks %q:\n%.1500s", s, p.body)
		}
	}
}

// order creates an order and returns its id and code.
func (h *harness) order(questionnaireID, lang string) (id, code string) {
	h.t.Helper()
	m := h.create(fmt.Sprintf(`{"questionnaire": %q, "patientRef": "p", "language": %q}`, questionnaireID, lang))
	return m["id"].(string), m["code"].(string)
}

func TestCodeEntry(t *testing.T) {
	h := newHarness(t)
	_, code := h.order("audit", "nb")

	t.Run("the code form", func(t *testing.T) {
		b := h.browser()
		p := b.get("/")
		wantPage(t, p, 200, `<html lang="nb">`, "Skriv inn koden din", `name="code"`, `data-page="code"`)
		if p.header.Get("Cache-Control") != "no-store" || !strings.Contains(p.header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("headers: %v", p.header)
		}
		wantPage(t, b.get("/?lang=en"), 200, `<html lang="en">`, "Enter your code")
		wantPage(t, b.get("/"), 200, `<html lang="en">`) // remembered
	})

	t.Run("a good code, typed loosely, opens a session and leaves the URL", func(t *testing.T) {
		b := h.browser()
		form := b.get("/")
		p := b.post("/", form, url.Values{"code": {strings.ToLower(strings.Replace(code, "-", " ", 1))}})
		if p.status != 303 || p.header.Get("Location") != "/q" || b.cookies[sessionCookie] == "" {
			t.Fatalf("%d %v %v", p.status, p.header, b.cookies)
		}
		wantPage(t, b.get("/q"), 200, "Side 1 av 2", `name="q1"`)
	})

	t.Run("the link in the QR code", func(t *testing.T) {
		b := h.browser()
		p := b.get("/c/" + code)
		if p.status != 303 || p.header.Get("Location") != "/q" {
			t.Fatalf("%d %v", p.status, p.header)
		}
	})

	t.Run("ErrForbidden without the form's token", func(t *testing.T) {
		b := h.browser()
		wantPage(t, b.do("POST", "/", url.Values{"code": {code}}), 403, "Siden har vært åpen for lenge")
	})

	t.Run("ErrUnprocessable on a code of the wrong form", func(t *testing.T) {
		b := h.browser()
		p := b.post("/", b.get("/"), url.Values{"code": {"12345"}})
		wantPage(t, p, 422, "Koden skal ha 10 tegn", `aria-invalid="true"`, `value="12345"`)
	})

	t.Run("ErrNotFound on a code nobody has", func(t *testing.T) {
		b := h.browser()
		p := b.post("/", b.get("/?lang=nn"), url.Values{"code": {"AAAAA-AAAAA"}})
		wantPage(t, p, 404, "Vi fann ikkje denne koden")
	})
}

func TestClosedCodes(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	tests := []struct {
		name  string
		close func(id string)
		text  string
	}{
		{"cancelled", func(id string) { h.store.CancelOrder(ctx, id, h.clock.Now()) }, "Skjemaet er trukket tilbake"},
		{"submitted", func(id string) {
			h.store.Submit(ctx, &questionnaire.Response{OrderID: id, Type: questionnaire.ResponseAnswered}, h.clock.Now())
		}, "Svarene er allerede sendt"},
		{"declined", func(id string) {
			h.store.Submit(ctx, &questionnaire.Response{OrderID: id, Type: questionnaire.ResponseDeclined}, h.clock.Now())
		}, "Du har valgt å ikke svare"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, code := h.order("audit", "nb")
			tt.close(id)
			wantPage(t, h.browser().get("/c/"+code), 410, tt.text)
		})
	}

	t.Run("reissued", func(t *testing.T) {
		id, code := h.order("audit", "en")
		h.do("POST", "/api/v1/orders/"+id+"/reissue", "")
		wantPage(t, h.browser().get("/c/"+code), 410, "This code has been replaced", `<html lang="en">`)
	})

	t.Run("expired, before and after the sweeper", func(t *testing.T) {
		m := h.create(`{"questionnaire": "audit", "patientRef": "p", "ttl": "1h"}`)
		h.clock.Add(time.Hour)
		wantPage(t, h.browser().get("/c/"+m["code"].(string)), 410, "Koden er utløpt")
		h.store.Expire(ctx, h.clock.Now())
		wantPage(t, h.browser().get("/c/"+m["code"].(string)), 410, "Koden er utløpt")
	})
}

// answer posts a page of answers with an action and returns the response.
func (b *browser) answer(from page, pageNumber int, action string, form url.Values) page {
	b.h.t.Helper()
	form.Set("page", fmt.Sprint(pageNumber))
	form.Set("action", action)
	return b.post("/q", from, form)
}

// follow gets the redirect target of a 303.
func (b *browser) follow(p page) page {
	b.h.t.Helper()
	if p.status != http.StatusSeeOther {
		b.h.t.Fatalf("status %d, want 303:\n%.1500s", p.status, p.body)
	}
	return b.get(p.header.Get("Location"))
}

var auditPage1 = url.Values{"q1": {"2"}, "q2": {"1"}, "q3": {"1"}, "q4": {"0"}, "q5": {"0"}}
var auditPage2 = url.Values{"q6": {"0"}, "q7": {"1"}, "q8": {"0"}, "q9": {"0"}, "q10": {"2"}}

func TestQuestionnairePages(t *testing.T) {
	h := newHarness(t)
	id, code := h.order("audit", "nb")
	b := h.browser()
	p1 := b.enter(code)
	wantPage(t, p1, 200, "Side 1 av 2", `data-page="page-1"`, "<fieldset", "<legend>", `type="radio" id="f-q1-0" name="q1" value="0"`)

	t.Run("ErrUnprocessable: next without required answers shows errors by the item and in a summary", func(t *testing.T) {
		b.answer(p1, 1, "autosave", url.Values{"q1": {"2"}}) // AUDIT's skip logic shows q2 once q1 is answered
		p := b.answer(p1, 1, "next", url.Values{"q1": {"2"}})
		wantPage(t, p, 422, `id="errors"`, `href="#f-q2-0"`, "Svar på dette spørsmålet.", `class="item item-choice has-error"`)
		if !strings.Contains(p.body, `value="2" checked`) {
			t.Error("the answer given is not kept on the page")
		}
	})

	t.Run("ErrUnprocessable on a value not offered", func(t *testing.T) {
		form := url.Values{}
		for k, v := range auditPage1 {
			form[k] = v
		}
		form.Set("q1", "7")
		wantPage(t, b.answer(p1, 1, "next", form), 422, "Velg et av svarene.")
	})

	t.Run("next goes on, back comes back with the answers", func(t *testing.T) {
		p2 := b.follow(b.answer(p1, 1, "next", auditPage1))
		wantPage(t, p2, 200, "Side 2 av 2", `data-page="page-2"`, `value="finish"`, `href="/q?page=2&amp;lang=en"`)
		back := b.follow(b.answer(p2, 2, "back", url.Values{"q6": {"1"}}))
		wantPage(t, back, 200, "Side 1 av 2", `name="q1" value="2" checked`)
		o := decode(t, h.do("GET", "/api/v1/orders/"+id, ""))
		if o["status"] != "in_progress" || o["openedAt"] == nil {
			t.Errorf("order %v", o)
		}
	})

	t.Run("autosave saves without moving", func(t *testing.T) {
		p := b.answer(p1, 1, "autosave", url.Values{"q1": {"3"}, "q2": {"1"}, "q3": {"1"}, "q4": {"0"}, "q5": {"0"}})
		if p.status != 204 {
			t.Fatalf("autosave: %d", p.status)
		}
		d, _ := h.store.Draft(t.Context(), id)
		if d.Answers["q1"][0] != "3" || d.Answers["q6"][0] != "1" {
			t.Errorf("draft %v", d.Answers)
		}
	})

	t.Run("ErrForbidden on a post with another session's token", func(t *testing.T) {
		p := b.do("POST", "/q", url.Values{"csrf": {"forged"}, "page": {"1"}, "action": {"next"}})
		wantPage(t, p, 403, "Siden har vært åpen for lenge")
	})

	t.Run("review lists every answer with a change link, then submit", func(t *testing.T) {
		p2 := b.get("/q?page=2")
		review := b.follow(b.answer(p2, 2, "review", auditPage2))
		wantPage(t, review, 200, "Se over svarene", "2–3 ganger i uka", `href="/q?page=1#f-q1-0"`, `action="/q/submit"`)
		done := b.follow(b.post("/q/submit", review, url.Values{}))
		wantPage(t, done, 200, "Takk! Svarene er sendt", "Du kan lukke denne siden nå.")
		r := h.envelope(id)
		if r.Type != "response" || len(r.Answers) != 10 || len(r.Scores) != 1 || *r.Scores[0].Value != 8 || r.Scores[0].Band != "hazardous" {
			t.Fatalf("envelope %+v", r)
		}
		// The answers as FHIR too: q1's value is its option's code.
		var qr struct {
			ResourceType, Questionnaire, Language string
			Item                                  []struct {
				LinkID string
				Item   []struct {
					LinkID string
					Answer []struct{ ValueCoding struct{ Code string } }
				}
			}
		}
		if err := json.Unmarshal(r.QuestionnaireResponse, &qr); err != nil || qr.ResourceType != "QuestionnaireResponse" ||
			!strings.HasPrefix(qr.Questionnaire, "urn:eprom:questionnaire:audit|") || qr.Language != "nb" ||
			len(qr.Item) != 2 || len(qr.Item[0].Item) != 5 || qr.Item[0].Item[0].LinkID != "q1" || qr.Item[0].Item[0].Answer[0].ValueCoding.Code != fmt.Sprint(r.Answers[0].Value) {
			t.Errorf("questionnaireResponse %s: %v", r.QuestionnaireResponse, err)
		}
		var types []string
		for _, e := range r.Events {
			types = append(types, e.Type)
		}
		if types[0] != "opened" || types[len(types)-1] != "submitted" {
			t.Errorf("events %v", types)
		}
		// The session is gone: back and reload show no answers.
		for _, path := range []string{"/q", "/q/review", "/q?page=1"} {
			p := b.get(path)
			if p.status != 401 || strings.Contains(p.body, "checked") || strings.Contains(p.body, "ganger i måneden") {
				t.Errorf("%s after submit: %d", path, p.status)
			}
		}
	})
}

func TestSubmitTwice(t *testing.T) {
	h := newHarness(t)
	id, code := h.order("audit", "nb")
	b := h.browser()
	p := b.enter(code)
	p = b.follow(b.answer(p, 1, "next", auditPage1))
	review := b.follow(b.answer(p, 2, "review", auditPage2))

	// A double click, two tabs, a replayed POST: ten submits at once.
	var wg sync.WaitGroup
	statuses := make([]int, 10)
	for i := range statuses {
		wg.Go(func() {
			c := &browser{h: h, cookies: map[string]string{sessionCookie: b.cookies[sessionCookie]}, paths: map[string]string{}}
			statuses[i] = c.post("/q/submit", review, url.Values{}).status
		})
	}
	wg.Wait()
	for _, s := range statuses {
		if s != 303 {
			t.Errorf("a submit answered %d, want 303 to the thanks", s)
		}
	}
	// A click that comes after the first Send has finished: thanks too,
	// not "the session has ended".
	late := &browser{h: h, cookies: map[string]string{sessionCookie: b.cookies[sessionCookie]}, paths: map[string]string{}}
	if p := late.post("/q/submit", review, url.Values{}); p.status != 303 || !strings.HasPrefix(p.header.Get("Location"), "/done") {
		t.Errorf("a late second Send: %d %s", p.status, p.header.Get("Location"))
	}
	h.envelope(id)
	if st, _ := h.store.Stats(t.Context(), h.clock.Now()); st.Depth != 1 {
		t.Fatalf("%d envelopes in the outbox, want 1", st.Depth)
	}
	// The order was submitted once: a second Submit conflicts.
	_, err := h.store.Submit(t.Context(), &questionnaire.Response{OrderID: id, Type: questionnaire.ResponseAnswered}, h.clock.Now())
	if questionnaire.ErrorCode(err) != questionnaire.ECONFLICT {
		t.Errorf("the order is still open: %v", err)
	}
}

func TestSkipLogicOnTheServer(t *testing.T) {
	h := newHarness(t)
	id, code := h.order("kvarus-maalepunkt", "nb")
	b := h.browser()
	p := b.enter(code)
	p = b.follow(b.answer(p, 1, "next", url.Values{"behandling-start": {"2025-01-01"}, "bolig": {"egen"}, "arbeid": {"skole"}, "barn": {"false"},
		"barn-bor": {"true"}})) // barn-bor is hidden by barn=false, posted all the same
	rus := url.Values{"alkohol": {"no"}, "alkohol-dager": {"40"}, "alkohol-enheter": {"tjue"}, // hidden: not even checked
		"cannabis": {"no"}, "beroligende": {"no"}, "opioider": {"no"}, "stimulerende": {"no"}, "andre": {"no"}}
	wantPage(t, p, 200, "Side 2 av 4")
	if strings.Contains(p.body, `data-link="barn-bor"`) {
		t.Error("page 2 shows a page-1 follow-up")
	}
	if !strings.Contains(p.body, `data-link="alkohol-dager"`) || !strings.Contains(p.body, `data-when=`) {
		t.Error("a same-page follow-up is not on the page for the script")
	}
	p = b.follow(b.answer(p, 2, "next", rus))
	wantPage(t, p, 200, "Side 3 av 4")
	p = b.follow(b.answer(p, 3, "next", url.Values{"livskvalitet": {"5"}, "angst": {"1"}, "nedfor": {"1"}, "sovn": {"1"}, "uro": {"1"}, "haplos": {"1"}, "bra": {"3"}}))
	review := b.follow(b.answer(p, 4, "review", url.Values{"hjelp-fornoyd": {"3"}, "hjelp-viktig": {"yes"}}))
	wantPage(t, review, 200, "Se over svarene")
	if strings.Contains(review.body, "alkohol-dager") || strings.Contains(review.body, "hvor mange av de siste 30 dagene drakk") {
		t.Error("the review shows a hidden question")
	}
	b.post("/q/submit", review, url.Values{})
	r := h.envelope(id)
	for _, a := range r.Answers {
		if a.LinkID == "barn-bor" || a.LinkID == "alkohol-dager" || a.LinkID == "alkohol-enheter" {
			t.Errorf("the hidden %s was kept: %v", a.LinkID, a.Value)
		}
	}
	if len(r.Answers) == 0 {
		t.Fatal("no answers kept")
	}
}

func TestNoJSFollowUpIsIntroduced(t *testing.T) {
	h := newHarness(t)
	_, code := h.order("kvarus-maalepunkt", "nb")
	b := h.browser()
	p := b.enter(code)
	p = b.follow(b.answer(p, 1, "next", url.Values{"behandling-start": {"2025-01-01"}, "bolig": {"egen"}, "arbeid": {"skole"}, "barn": {"false"}}))
	// Without the script the follow-up was hidden; answering yes and
	// pressing Next shows it with a note, not a scolding.
	p = b.answer(p, 2, "next", url.Values{"alkohol": {"yes"}, "cannabis": {"no"}, "beroligende": {"no"}, "opioider": {"no"}, "stimulerende": {"no"}, "andre": {"no"}})
	wantPage(t, p, 422, "Svarene dine har gitt nye spørsmål", `class="item item-integer is-new"`, "Nytt spørsmål")
	if strings.Contains(p.body, `id="errors"`) || strings.Contains(p.body, "has-error") {
		t.Errorf("a follow-up never seen is shown as an error:\n%s", p.body)
	}
	// The second Next without an answer: now it was seen, and is missing.
	again := b.answer(p, 2, "next", url.Values{"alkohol": {"yes"}, "cannabis": {"no"}, "beroligende": {"no"}, "opioider": {"no"}, "stimulerende": {"no"}, "andre": {"no"}})
	wantPage(t, again, 422, `id="errors"`, `href="#f-alkohol-dager"`)
	// With the script the follow-up showed at once: an error at the first Next.
	withJS := b.answer(p, 2, "next", url.Values{"js": {"1"}, "alkohol": {"no"}, "cannabis": {"yes"}, "beroligende": {"no"}, "opioider": {"no"}, "stimulerende": {"no"}, "andre": {"no"}})
	wantPage(t, withJS, 422, `id="errors"`, `href="#f-cannabis-dager"`)
	if strings.Contains(withJS.body, "is-new") {
		t.Error("a follow-up the script showed is introduced as new")
	}
	if strings.Contains(p.body, `data-link="alkohol-dager" hidden`) {
		t.Error("the follow-up is still hidden")
	}
}

func TestDraftSurvivesRestartAndMovesDevice(t *testing.T) {
	h := newHarness(t)
	id, code := h.order("audit", "nb")
	phone := h.browser()
	p := phone.enter(code)
	p = phone.follow(phone.answer(p, 1, "next", auditPage1))
	phone.answer(p, 2, "autosave", url.Values{"q6": {"4"}})

	h.restart()
	h.clock.Add(31 * time.Minute) // and the phone's session has timed out
	wantPage(t, phone.get("/q"), 401, "Økten er avsluttet", `href="/"`)

	tablet := h.browser()
	p = tablet.enter(code)
	wantPage(t, p, 200, "Side 2 av 2", `name="q6" value="4" checked`)
	if !strings.Contains(tablet.get("/q?page=1").body, `name="q1" value="2" checked`) {
		t.Error("page 1's answers are lost")
	}
	if d, _ := h.store.Draft(t.Context(), id); d.Answers["q6"][0] != "4" {
		t.Errorf("draft %v", d.Answers)
	}
}

func TestSaveAndLeave(t *testing.T) {
	h := newHarness(t)
	_, code := h.order("audit", "nb")
	b := h.browser()
	p := b.enter(code)
	p = b.answer(p, 1, "save", url.Values{"q1": {"1"}})
	wantPage(t, p, 200, "Svarene er lagret", "9. desember 2026")
	if _, ok := b.cookies[sessionCookie]; ok {
		t.Error("the session cookie is still there")
	}
	wantPage(t, b.get("/q"), 401)
	wantPage(t, h.browser().enter(code), 200, `name="q1" value="1" checked`)
}

func TestDecline(t *testing.T) {
	h := newHarness(t)
	id, code := h.order("kvarus-erfaring", "en")
	b := h.browser()
	p := b.enter(code)
	confirm := b.get("/q/decline")
	wantPage(t, confirm, 200, "Would you rather not answer?", `name="confirm" value="yes"`, `href="/q/review"`,
		`name="reason" value="not-now"`, `name="reason" value="reservation"`, "right to opt out", "116 117")
	if p := b.post("/q/decline", confirm, url.Values{}); p.status != 303 || p.header.Get("Location") != "/q/decline" {
		t.Errorf("decline without confirm: %d %s", p.status, p.header.Get("Location"))
	}
	done := b.follow(b.post("/q/decline", confirm, url.Values{"confirm": {"yes"}}))
	wantPage(t, done, 200, "Thank you for letting us know", `<html lang="en">`)
	o := decode(t, h.do("GET", "/api/v1/orders/"+id, ""))
	if o["status"] != "declined" {
		t.Errorf("order %v", o)
	}
	if r := h.envelope(id); r.Type != questionnaire.EnvelopeDeclined || len(r.Answers) != 0 || r.QuestionnaireResponse != nil {
		t.Errorf("envelope %+v", r)
	}
	_ = p
}

func TestLanguages(t *testing.T) {
	h := newHarness(t)
	_, code := h.order("audit", "nn")
	b := h.browser()
	wantPage(t, b.enter(code), 200, `<html lang="nn">`, "Side 1 av 2")
	p := b.get("/q?lang=en")
	wantPage(t, p, 200, `<html lang="en">`, "Page 1 of 2", "How often do you have a drink containing alcohol?")
	wantPage(t, b.get("/q"), 200, `<html lang="en">`)
	wantPage(t, b.get("/q?lang=nb"), 200, `<html lang="nb">`, "Side 1 av 2")
}

func TestSessionPages(t *testing.T) {
	h := newHarness(t)
	wantPage(t, h.browser().get("/q"), 401, "Skriv inn koden først")
	b := h.browser()
	b.cookies[sessionCookie] = "forged"
	wantPage(t, b.get("/q/review"), 401, "Økten er avsluttet")
	wantPage(t, h.browser().get("/done"), 200, "Takk! Svarene er sendt")

	_, code := h.order("audit", "nb")
	b = h.browser()
	b.enter(code)
	for _, path := range []string{"/q?page=0", "/q?page=99", "/q?page=x"} {
		if p := b.get(path); p.status != 303 {
			t.Errorf("%s: %d", path, p.status)
		}
	}
	wantPage(t, b.do("POST", "/q", url.Values{"page": {"1"}}), 403) // no token at all
}

// TestPageWeight checks DESIGN.md §10: every page of every shipped
// questionnaire, HTML and CSS, is at most 14 KB compressed.
func TestPageWeight(t *testing.T) {
	h := newHarness(t)
	css := h.browser().get("/static/eprom.css")
	cssGz := gzipSize(css.body)
	for _, q := range []string{"kvarus-maalepunkt", "kvarus-erfaring", "audit", "dudit"} {
		_, code := h.order(q, "nb")
		b := h.browser()
		b.enter(code)
		def, _ := h.srv.Catalogue().Get(q, "")
		for i := range def.Pages() {
			p := b.get(fmt.Sprintf("/q?page=%d", i+1))
			total := gzipSize(p.body) + cssGz
			if total > 14*1024 {
				t.Errorf("%s page %d: %d bytes compressed (HTML %d raw), over 14 KB", q, i+1, total, len(p.body))
			}
		}
	}
}

func gzipSize(s string) int {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	w.Write([]byte(s))
	w.Close()
	return buf.Len()
}

func TestOpeningTheLinkAgainKeepsTheSession(t *testing.T) {
	h := newHarness(t)
	_, code := h.order("audit", "nb")
	b := h.browser()
	first := b.enter(code)
	cookie := b.cookies[sessionCookie]
	b.get("/c/" + code) // the QR link again, in another tab
	if b.cookies[sessionCookie] != cookie {
		t.Fatal("a new session replaced the first tab's")
	}
	if p := b.answer(first, 1, "next", auditPage1); p.status != 303 {
		t.Errorf("the first tab's post: %d", p.status)
	}
}

func TestReissueEndsSessions(t *testing.T) {
	h := newHarness(t)
	id, code := h.order("audit", "nb")
	b := h.browser()
	b.enter(code)
	h.do("POST", "/api/v1/orders/"+id+"/reissue", "")
	wantPage(t, b.get("/q"), 410, "Koden er byttet ut")
}

func TestOrderClosedWhileAnswering(t *testing.T) {
	h := newHarness(t)
	id, code := h.order("audit", "nb")
	b := h.browser()
	p := b.enter(code)
	p = b.follow(b.answer(p, 1, "next", auditPage1))
	review := b.follow(b.answer(p, 2, "review", auditPage2))
	h.do("POST", "/api/v1/orders/"+id+"/cancel", "")
	// The middleware sees it closed now; a cancel between its check and the
	// submit ends the same way, through closedPage.
	wantPage(t, b.post("/q/submit", review, url.Values{}), 410, "Skjemaet er trukket tilbake")
}

func TestPagesForPeopleAreHTML(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	wantPage(t, b.get("/nope"), 404, "Siden finnes ikke", `<html lang="nb">`)
	wantPage(t, b.get("/nope?lang=en"), 404, "There is no such page")
	if p := b.get("/c"); p.status != 303 || p.header.Get("Location") != "/" {
		t.Errorf("/c: %d %s", p.status, p.header.Get("Location"))
	}
	_, code := h.order("audit", "nb")
	if p := b.get("/C/" + code); p.status != 303 {
		t.Errorf("/C/ in capitals: %d", p.status)
	}
	wantPage(t, b.do("POST", "/done", url.Values{}), 405, "There is no such page") // the language chosen above
}

// BenchmarkRenderPage serves the heaviest page, kvarus-maalepunkt page 2,
// to a patient with a session: session, order, draft, enableWhen, HTML.
// BenchmarkRenderPage is the server's work for one question page (page 2
// of kvarus-maalepunkt, GET /q?page=2 with the session's cookie): every
// middleware, the session, order and draft read from bbolt, and the page
// written, called as fasthttp calls the app, without a connection, gzip or a
// client to read the answer (DESIGN.md §10: one page render ≤ 90 µs and 300
// allocations).
func BenchmarkRenderPage(b *testing.B) {
	h := newHarness(b)
	_, code := h.order("kvarus-maalepunkt", "nb")
	p := h.browser()
	p.enter(code)
	handler := h.srv.App().Handler()
	var req fasthttp.Request
	req.SetRequestURI("/q?page=2")
	for k, v := range p.cookies {
		req.Header.SetCookie(k, v)
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
	for b.Loop() {
		ctx.Response.Reset()
		handler(&ctx)
		if ctx.Response.StatusCode() != 200 || !bytes.Contains(ctx.Response.Body(), []byte(`data-page="page-2"`)) {
			b.Fatalf("%d %.300s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
}

// BenchmarkPageRoundTrip is the same page through fiber's app.Test, as a
// browser of the tests gets it: a connection in memory, the answer parsed
// by net/http (what BenchmarkRenderPage measured before 2026-12-07).
func BenchmarkPageRoundTrip(b *testing.B) {
	h := newHarness(b)
	_, code := h.order("kvarus-maalepunkt", "nb")
	p := h.browser()
	p.enter(code)
	for b.Loop() {
		if pg := p.get("/q?page=2"); pg.status != 200 {
			b.Fatal(pg.status)
		}
	}
}
