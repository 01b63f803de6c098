package web_test

// Native fuzz targets for every handler that takes input (issue 15): the
// code form and the code's link, the page post, the order API's create and
// the pull API's ack. Each drives the real fiber app in-process through
// app.Test, on one harness per target (made before f.Fuzz, so an input
// costs a few requests, not a new store), and asserts for every input:
//
//   - no panic and never a 5xx: a client's input is never our error;
//   - the status is one the handler can answer, and where the input says
//     which, that one;
//   - nothing at "level":"ERROR" in the request or audit log, and none of
//     the codes, references, tokens or typed values planted in the input
//     (or made for it) in either log;
//   - what each endpoint promises besides (a JSON order with an id, a JSON
//     error body, a session and a draft that still render).
//
// Run one with go test ./web -run '^$' -fuzz '^FuzzAck$' -fuzztime 60s; the
// seeds alone run with the rest of the tests. The harness's clock stands
// still, so no order expires and no session times out while fuzzing; the
// code limits are emptied before each input, so that an input's answer
// does not depend on those before it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"eprom/questionnaire"
	"eprom/web"

	"github.com/google/uuid"
)

// fuzzLogNoise is what a log line holds that a fuzzed value could match by
// chance: the times and durations.
var fuzzLogNoise = regexp.MustCompile(`"(time|since)":"[^"]*"|"ms":[-+.0-9eE]+`)

// fuzzWord is a fuzzed value that needs no escaping in a JSON log line.
var fuzzWord = regexp.MustCompile(`^[0-9A-Za-z._-]{8,}$`)

// distinctive reports whether a fuzzed value is one the logs cannot hold
// by chance: at least 8 characters, a letter and a digit among them (the
// logs' words have no digits, their numbers no letters).
func distinctive(s string) bool {
	return fuzzWord.MatchString(s) && strings.ContainsAny(s, "0123456789") && strings.IndexFunc(s, unicode.IsLetter) >= 0
}

// fuzzFormValues are the values of an urlencoded body, read leniently
// (an escape that does not decode is kept as sent), for the leak check.
func fuzzFormValues(body string) []string {
	var out []string
	for kv := range strings.SplitSeq(body, "&") {
		_, v, _ := strings.Cut(kv, "=")
		if u, err := url.QueryUnescape(v); err == nil {
			v = u
		}
		out = append(out, v)
	}
	return out
}

// fuzzCodeSecrets are the forms of a typed value the logs must not hold
// when it is a code: normalized, and in its two groups.
func fuzzCodeSecrets(typed string) []string {
	if c, ok := questionnaire.NormalizeCode(typed); ok {
		return []string{c, questionnaire.FormatCode(c)}
	}
	return nil
}

// fuzzDrainLogs empties the harness's request and audit logs and returns
// what they held: the logs of one input, and no buffer that grows with
// every input of a long run.
func fuzzDrainLogs(h *harness) string {
	var out strings.Builder
	for _, s := range []*syncBuffer{h.logs, h.audit} {
		s.mu.Lock()
		out.Write(s.b.Bytes())
		s.b.Reset()
		s.mu.Unlock()
	}
	return out.String()
}

// fuzzCheckLogs asserts that the logs since the last check hold nothing at
// ERROR and none of the secrets of 8 characters or more.
func fuzzCheckLogs(t testing.TB, h *harness, secrets ...string) {
	t.Helper()
	logs := fuzzDrainLogs(h)
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Fatalf("an ERROR in the log for a client's input:\n%s", logs)
	}
	clean := fuzzLogNoise.ReplaceAllString(logs, "")
	for _, s := range secrets {
		if len(s) >= 8 && strings.Contains(clean, s) {
			t.Fatalf("the log holds %q:\n%s", s, logs)
		}
	}
}

// fuzzInput starts an input: the harness's helpers report to t (an F's
// methods may not be called inside the fuzz function), and the logs hold
// only what this input makes.
func fuzzInput(t *testing.T, h *harness) {
	h.t = t
	if logs := fuzzDrainLogs(h); strings.Contains(logs, `"level":"ERROR"`) {
		t.Fatalf("an ERROR in the log between inputs:\n%s", logs)
	}
}

// fuzzDo is browser.do for what a hostile client sends rather than what a
// form encodes: the target goes on the request line as given and the body
// as given, with the browser's cookies and address, and the cookies the
// answer sets are kept.
func fuzzDo(b *browser, method, target, contentType string, body []byte, header ...string) page {
	b.h.t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, "/", r)
	req.RequestURI = target // httputil.DumpRequest, in app.Test, writes it verbatim
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.send(req)
}

// fuzzHeader is a fuzzed header value as the server reads it: line breaks
// and other control characters cannot be sent, and the ends are trimmed.
func fuzzHeader(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return strings.Trim(s, " \t")
}

// fuzzSegment is a path segment as it is sent: as given when it needs no
// escaping (so escapes that do not decode reach the handler), else
// escaped; typed is what the handler reads from it.
func fuzzSegment(s string) (seg, typed string) {
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune(`/?#\`, r) }) {
		return url.PathEscape(s), s
	}
	typed, err := url.PathUnescape(s)
	if err != nil {
		typed = ""
	}
	return s, typed
}

// fuzzAllowed fails unless the status is one of those the endpoint answers.
func fuzzAllowed(t *testing.T, what string, p page, allowed ...int) {
	t.Helper()
	if p.status >= 500 {
		t.Fatalf("%s: %d for a client's input:\n%.2000s", what, p.status, p.body)
	}
	if !slices.Contains(allowed, p.status) {
		t.Fatalf("%s: %d, want one of %v:\n%.2000s", what, p.status, allowed, p.body)
	}
}

// codeOutcome is how the code form answers a typed code: 422 when it is
// not of a code's form, 303 to the questionnaire when it is the order's,
// 404 when no order has it.
func codeOutcome(typed, code string) int {
	switch c, ok := questionnaire.NormalizeCode(typed); {
	case !ok:
		return http.StatusUnprocessableEntity
	case c == code:
		return http.StatusSeeOther
	default:
		return http.StatusNotFound
	}
}

// fuzzCodeRef is the patient reference of the code form's order.
const fuzzCodeRef = "fuzz-code-ref-4711"

// FuzzCodeForm posts a typed code and arbitrary urlencoded fields to the
// code form, with the form's CSRF token, from an arbitrary
// X-Forwarded-For behind a trusted proxy, and opens an arbitrary /c/
// link. In a typed code or a link, {code} is the open order's code as
// printed, {raw} as normalized and {lower} as typed loosely (each worker
// has an order, and a code, of its own). The answer is the one the typed
// code calls for: 303 to /q for the order's code however typed, 404 for a
// code nobody has, 422 for anything else.
func FuzzCodeForm(f *testing.F) {
	h := newHarness(f, trusted, withSleeper(&sleeper{})) // the global budget never waits for real time
	m := h.create(`{"questionnaire": "audit", "patientRef": "` + fuzzCodeRef + `", "language": "nb"}`)
	code := m["code"].(string)
	norm, _ := questionnaire.NormalizeCode(code)
	expand := strings.NewReplacer("{code}", code, "{raw}", norm, "{lower}", strings.ToLower(strings.Replace(code, "-", " ", 1))).Replace
	form := h.browser()
	p := form.get("/")
	token := hiddenCSRF.FindStringSubmatch(p.body)
	csrfCookie := form.cookies["__Host-eprom-csrf"]
	if p.status != 200 || token == nil || token[1] != csrfCookie {
		f.Fatalf("the code form: %d, token %v, cookie %q", p.status, token, csrfCookie)
	}
	csrf := token[1]
	fuzzCheckLogs(f, h, code, norm, fuzzCodeRef)

	// From TestCodeEntry, TestClosedCodes, TestPostFieldsComeFromTheBody
	// and TestClientFaultsAreNot500, and the hostile ones.
	f.Add("{code}", "", "{code}", "")
	f.Add("{lower}", "", "{raw}", "203.0.113.7")
	f.Add("{raw}", "lang=en", "{lower}", "198.51.100.1, 10.0.0.1")
	f.Add("12345", "", "12345", "")
	f.Add("AAAAA-AAAAA", "", "AAAAA-AAAAA", "[2001:db8::1]:443")
	f.Add("ZZ00000001", "code={code}", "ZZ00000001", "2001:db8::1")
	f.Add("", "code={code}&csrf=forged", "", "not an address")
	f.Add("{code}", "code=AAAAA-AAAAA&code=BBBBB-BBBBB", "%zz", "1.2.3.4:5678, [::1]")
	f.Add("7kqm2 xpd9r", "%ff%fe=%ED%A0%80", "7KQM2%2DXPD9R", "")
	f.Add("\xd8\x00", "\x00=\x00", "\xed\xa0\x80", "\xff")
	f.Add("ооооо-ооооо", "a=1&a=2&a=3", "..", "::ffff:1.2.3.4")
	f.Add(" {code} ", "=&&=&%", ".", "1.1.1.1,2.2.2.2,3.3.3.3")
	f.Add("{code}\u00a0", strings.Repeat("x=y&", 500), strings.Repeat("A", 300), "")
	f.Add(strings.Repeat("A", 5000), "", strings.Repeat("A", 2100), "")
	f.Add("O0I1L-OILOI", "", "{code}?lang=en", "")

	f.Fuzz(func(t *testing.T, typed, rest, link, xff string) {
		fuzzInput(t, h)
		if _, err := h.cfg.Limits.PurgeLimits(context.Background(), h.clock.Now().Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		typed, rest, link, ip := expand(typed), expand(rest), expand(link), fuzzHeader(xff)
		secrets := append([]string{code, norm, fuzzCodeRef, csrf}, fuzzCodeSecrets(typed)...)

		// The code form: the token first, so that the code is what is looked at.
		body := "csrf=" + csrf + "&code=" + url.QueryEscape(typed)
		if rest != "" {
			body += "&" + rest
		}
		for _, v := range fuzzFormValues(rest) {
			secrets = append(secrets, fuzzCodeSecrets(v)...)
		}
		// (A body over the limit is 413, which app.Test cannot show:
		// TestOrderCreate sends one on a connection.)
		if len(body) <= web.MaxBodySize {
			b := h.from(ip)
			b.cookies["__Host-eprom-csrf"] = csrfCookie
			p := fuzzDo(b, "POST", "/", "application/x-www-form-urlencoded", []byte(body))
			want := codeOutcome(typed, norm)
			fuzzAllowed(t, "POST /", p, want)
			if want == http.StatusSeeOther {
				if p.header.Get("Location") != "/q" || b.cookies[sessionCookie] == "" {
					t.Fatalf("POST / with the order's code: %s, cookies %v", p.header.Get("Location"), b.cookies)
				}
				secrets = append(secrets, b.cookies[sessionCookie])
			} else if !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
				t.Errorf("POST /: %d with Content-Type %q, want a page", p.status, p.header.Get("Content-Type"))
			}
		}

		// The code's link, from a browser with no cookies.
		seg, linkTyped := fuzzSegment(link)
		secrets = append(secrets, fuzzCodeSecrets(linkTyped)...)
		target := "/c/" + seg
		if len(target) > 8<<10 {
			fuzzCheckLogs(t, h, secrets...)
			return // far past the longest path served: TestClientFaultsAreNot500 sends those on a connection
		}
		b := h.from(ip)
		p := fuzzDo(b, "GET", target, "", nil)
		want, location := codeOutcome(linkTyped, norm), "/q"
		switch {
		case len(target) > 2048:
			want = http.StatusRequestURITooLong
		case seg == "":
			want, location = http.StatusSeeOther, "/" // /c/ is /c, which goes to the form
		}
		what := fmt.Sprintf("GET %.300s", target)
		fuzzAllowed(t, what, p, want)
		if want == http.StatusSeeOther && p.header.Get("Location") != location {
			t.Fatalf("%s: 303 to %q, want %q", what, p.header.Get("Location"), location)
		}
		if location == "/q" && want == http.StatusSeeOther {
			secrets = append(secrets, b.cookies[sessionCookie])
		}
		fuzzCheckLogs(t, h, secrets...)
	})
}

// fuzzSlot is one patient answering one order, for FuzzPagePost.
type fuzzSlot struct {
	id, code, ref string
	def           *questionnaire.Definition
	b             *browser
	csrf          string
	start         *questionnaire.Draft // the draft as the session found it
}

// enter opens a session on the slot's order, as a patient who types the code.
func (s *fuzzSlot) enter(t testing.TB, h *harness) {
	t.Helper()
	s.b = h.browser()
	p := s.b.enter(s.code)
	for i := 0; i < 3 && p.status == http.StatusSeeOther; i++ {
		p = s.b.get(p.header.Get("Location"))
	}
	m := hiddenCSRF.FindStringSubmatch(p.body)
	if p.status != 200 || m == nil {
		t.Fatalf("entering the code of %s: %d\n%.1500s", s.def.ID, p.status, p.body)
	}
	s.csrf = m[1]
}

// fuzzPageSeed is a page's answers that a patient could give: the first
// option, a number within bounds, a date, a few words.
func fuzzPageSeed(p questionnaire.Page) url.Values {
	v := url.Values{}
	for _, it := range p.Questions() {
		if it.ReadOnly {
			continue
		}
		switch it.Type {
		case questionnaire.Choice, questionnaire.MultiChoice:
			if len(it.Options) > 0 {
				v.Set(it.LinkID, it.Options[0].Value)
			}
			if it.Other {
				v.Set(it.OtherField(), "eget svar")
			}
		case questionnaire.Boolean:
			v.Set(it.LinkID, "true")
		case questionnaire.Scale, questionnaire.Integer, questionnaire.Decimal:
			n := 1.0
			if it.Min != nil {
				n = *it.Min
			}
			v.Set(it.LinkID, strconv.FormatFloat(n, 'f', -1, 64))
		case questionnaire.Date:
			v.Set(it.LinkID, "2025-01-01")
		case questionnaire.TextType:
			v.Set(it.LinkID, "12345678 noen ord")
		}
	}
	return v
}

// fuzzFollow gets a page of the session, following the redirects between
// the questionnaire's pages, and fails unless it renders.
func fuzzFollow(t *testing.T, b *browser, path string) page {
	t.Helper()
	p := b.get(path)
	for i := 0; i < 4 && p.status == http.StatusSeeOther; i++ {
		loc := p.header.Get("Location")
		if !strings.HasPrefix(loc, "/q") {
			t.Fatalf("GET %s: 303 to %q, out of the questionnaire", path, loc)
		}
		p = b.get(loc)
	}
	if p.status != 200 {
		t.Fatalf("after the post, GET %s: %d, want the page:\n%.2000s", path, p.status, p.body)
	}
	return p
}

// FuzzPagePost posts a page of arbitrary answers to /q: which picks the
// patient (one each of the shipped questionnaires and of prefill_test.go's
// read-only one), page and action go in the fields of those names and
// fields is the rest of the urlencoded body, after the session's CSRF
// token. Every input starts from the draft as the session found it. The
// answer is the one the page number and action call for: 400 for a page
// the form has not, 204 for autosave, the saved page for save (and the
// session has ended), a redirect within the questionnaire for back, review
// and decline, and for next (and anything else) a redirect or the page
// with its errors. Afterwards the session (or, after save, the code again)
// still shows the page posted (or, for a page the form has not, where the
// patient resumes) and the review: the draft is never spoilt.
func FuzzPagePost(f *testing.F) {
	h := newHarness(f, withDefinition("forhand-1.0.0.json", prefilledForm))
	ctx := context.Background()
	var slots []*fuzzSlot
	for i, q := range []string{"audit", "dudit", "kvarus-maalepunkt", "kvarus-erfaring", "forhand"} {
		s := &fuzzSlot{ref: fmt.Sprintf("fuzz-page-ref-%d-4711", i)}
		m := h.create(fmt.Sprintf(`{"questionnaire": %q, "patientRef": %q, "language": "nb"}`, q, s.ref))
		s.id, s.code = m["id"].(string), m["code"].(string)
		def, err := h.srv.Catalogue().Get(q, m["questionnaire"].(map[string]any)["version"].(string))
		if err != nil {
			f.Fatal(err)
		}
		s.def = def
		s.enter(f, h)
		if s.start, err = h.store.Draft(ctx, s.id); err != nil {
			f.Fatal(err)
		}
		slots = append(slots, s)
		// A page of answers for every page of every form.
		for n, p := range def.Pages() {
			f.Add(uint8(i), strconv.Itoa(n+1), "next", fuzzPageSeed(p).Encode())
		}
	}
	fuzzCheckLogs(f, h)

	// From TestQuestionnairePages, TestSkipLogicOnTheServer,
	// TestNoJSFollowUpIsIntroduced, TestSaveAndLeave, TestSessionPages and
	// TestPrefillReadOnlyAndTextChecks, and the hostile ones.
	const audit, kvarus, forhand = 0, 2, 4
	f.Add(uint8(audit), "1", "next", auditPage1.Encode())
	f.Add(uint8(audit), "2", "review", auditPage2.Encode())
	f.Add(uint8(audit), "2", "back", "q6=1")
	f.Add(uint8(audit), "1", "autosave", "q1=3&q2=1&q3=1&q4=0&q5=0&at=1764064800000")
	f.Add(uint8(audit), "1", "next", "q1=2")
	f.Add(uint8(audit), "1", "next", "q1=7&q2=1&q3=1&q4=0&q5=0")
	f.Add(uint8(audit), "1", "save", "q1=1")
	f.Add(uint8(audit), "2", "finish", auditPage2.Encode())
	f.Add(uint8(audit), "1", "decline", "")
	f.Add(uint8(kvarus), "1", "next", "behandling-start=2025-01-01&bolig=egen&arbeid=skole&barn=false&barn-bor=true")
	f.Add(uint8(kvarus), "2", "next", "alkohol=no&alkohol-dager=40&alkohol-enheter=tjue&cannabis=no&beroligende=no&opioider=no&stimulerende=no&andre=no")
	f.Add(uint8(kvarus), "2", "next", "alkohol=yes&cannabis=no&beroligende=no&opioider=no&stimulerende=no&andre=no")
	f.Add(uint8(kvarus), "2", "next", "js=1&alkohol=no&cannabis=yes&beroligende=no&opioider=no&stimulerende=no&andre=no")
	f.Add(uint8(kvarus), "3", "next", "livskvalitet=5&angst=1&nedfor=1&sovn=1&uro=1&haplos=1&bra=3")
	f.Add(uint8(kvarus), "4", "review", "hjelp-fornoyd=3&hjelp-viktig=yes")
	f.Add(uint8(forhand), "1", "next", "enhet=Et+annet+sted&rus=cannabis&dager=3&telefon=1234+5678&hvorfor=Kort")
	f.Add(uint8(forhand), "1", "next", "enhet=Et+annet+sted&rus=cannabis&telefon=12345678")
	f.Add(uint8(forhand), "1", "save", "hvorfor="+strings.Repeat("x", 5000))
	f.Add(uint8(kvarus), "1", "next", "behandling-start=9999-99-99&bolig=egen&bolig=annet&barn=maybe")
	f.Add(uint8(kvarus), "2", "next", "alkohol=yes&alkohol-dager=1e999999&alkohol-enheter=-0")
	f.Add(uint8(kvarus), "2", "autosave", "alkohol=yes&alkohol-dager=99999999999999999999999&at=9223372036854775807")
	f.Add(uint8(audit), "1", "autosave", "q1=%ff%fe&q2=%ED%A0%80&at=-1")
	f.Add(uint8(audit), "1", "next", "q1=1&q1=2&q1=3&at=1&at=2")
	f.Add(uint8(audit), "1", "next", "q1=\x00&%00=%00&=&&")
	f.Add(uint8(1), "0", "next", "")
	f.Add(uint8(1), "99", "back", "")
	f.Add(uint8(1), "x", "", "")
	f.Add(uint8(1), "-1", "decline", "")
	f.Add(uint8(1), " 1", "review", "")
	f.Add(uint8(1), "+1", "finish", "page=2&action=save&csrf=forged")
	f.Add(uint8(3), "1", "NEXT", "")
	f.Add(uint8(3), "1", "submit", "")
	f.Add(uint8(audit), "1", "autosave", "q1="+strings.Repeat("A", 65000))

	f.Fuzz(func(t *testing.T, which uint8, pageNo, action, fields string) {
		fuzzInput(t, h)
		s := slots[int(which)%len(slots)]
		if _, _, err := h.store.UpdateDraft(ctx, s.id, h.clock.Now(), func(d *questionnaire.Draft) error {
			d.Answers = map[string][]string{}
			for k, v := range s.start.Answers {
				d.Answers[k] = slices.Clone(v)
			}
			d.Typed, d.Stamps, d.Page, d.Device = nil, nil, s.start.Page, s.start.Device
			d.Events = slices.Clone(s.start.Events)
			return nil
		}); err != nil {
			t.Fatalf("resetting the draft: %v", err)
		}
		secrets := []string{s.code, strings.ReplaceAll(s.code, "-", ""), s.ref, s.csrf, s.b.cookies[sessionCookie]}
		for _, v := range append(fuzzFormValues(fields), pageNo, action) {
			if distinctive(v) {
				secrets = append(secrets, v)
			}
		}

		body := "csrf=" + s.csrf + "&page=" + url.QueryEscape(pageNo) + "&action=" + url.QueryEscape(action)
		if fields != "" {
			body += "&" + fields
		}
		if len(body) > web.MaxBodySize {
			return // app.Test cannot show the 413: TestOrderCreate sends one on a connection
		}
		session := s.b.cookies[sessionCookie]
		p := fuzzDo(s.b, "POST", "/q", "application/x-www-form-urlencoded", []byte(body))

		n, err := strconv.Atoi(pageNo)
		valid := err == nil && n >= 1 && n <= len(s.def.Pages())
		act := action
		if !slices.Contains([]string{"next", "back", "review", "finish", "save", "autosave", "decline"}, act) {
			act = "next" // as handlePagePost reads it
		}
		what := fmt.Sprintf("POST /q (%s, page %q, action %q)", s.def.ID, pageNo, action)
		switch {
		case !valid:
			fuzzAllowed(t, what, p, http.StatusBadRequest)
		case act == "autosave":
			fuzzAllowed(t, what, p, http.StatusNoContent)
		case act == "save":
			fuzzAllowed(t, what, p, http.StatusOK)
		case act == "next" || act == "finish":
			fuzzAllowed(t, what, p, http.StatusSeeOther, http.StatusUnprocessableEntity)
		default:
			fuzzAllowed(t, what, p, http.StatusSeeOther)
		}
		if loc := p.header.Get("Location"); p.status == http.StatusSeeOther && !strings.HasPrefix(loc, "/q") {
			t.Fatalf("%s: 303 to %q, out of the questionnaire", what, loc)
		}

		if p.status == http.StatusOK { // saved: the session has ended, and the code goes on
			if s.b.cookies[sessionCookie] != "" {
				t.Fatalf("%s: saved, and the session cookie is still there", what)
			}
			old := h.browser()
			old.cookies[sessionCookie] = session
			if q := old.get("/q"); q.status != http.StatusUnauthorized {
				t.Fatalf("%s: saved, and the session still answers %d", what, q.status)
			}
			s.enter(t, h)
			secrets = append(secrets, s.csrf, s.b.cookies[sessionCookie])
		}
		if valid {
			fuzzFollow(t, s.b, "/q?page="+strconv.Itoa(n)) // the page posted, with what was kept of it
		} else {
			fuzzFollow(t, s.b, "/q") // where the patient resumes
		}
		fuzzFollow(t, s.b, "/q/review")
		fuzzCheckLogs(t, h, secrets...)
	})
}

// orderRefs are the references of an order request that the logs must
// not hold.
type orderRefs struct {
	Questionnaire   string `json:"questionnaire"`
	PatientRef      string `json:"patientRef"`
	RegistrationRef string `json:"registrationRef"`
	Unit            string `json:"unit"`
}

// FuzzOrderCreate posts arbitrary bytes to POST /api/v1/orders, with an
// arbitrary Idempotency-Key or none, as one of three clients (who: the
// registry, another puller, and KvaRus, who may order only kvarus-*).
// An order (201, or 200 for a replay) is JSON with an id, the code and
// the references as sent, and sent again with its key it is the same
// order; everything else is one of the API's errors, as JSON.
func FuzzOrderCreate(f *testing.F) {
	h := newHarness(f)
	tokens := []string{token, otherToken, kvarusToken}

	// From TestOrderCreate, TestOrderCreateIdempotency, the feedback tests
	// and TestOrderBodiesAreIJSON, and the hostile ones.
	for _, body := range []string{
		`{"questionnaire": "audit", "patientRef": "p-123", "registrationRef": "r-9", "unit": "ARA"}`,
		`{"questionnaire": "dudit", "version": "1.0.0", "patientRef": "p", "language": "nn", "ttl": "3d"}`,
		`{"questionnaire": "dudit", "patientRef": "p", "ttl": "90m"}`,
		`{"questionnaire": "dudit", "patientRef": "p", "expiresAt": "2027-01-01T12:00:00+01:00"}`,
		`{"questionnaire": "audit", "patientRef": "p", "expiresAt": "2027-02-23T10:00:00Z"}`,
		`{"questionnaire": "kvarus-maalepunkt", "patientRef": "secret-patient-4711", "language": "nb", ` + previous + `}`,
		`{"questionnaire": "kvarus-maalepunkt", "patientRef": "p", "previous": [{"at": "2026-01-01", "scores": {"mental": 99}}]}`,
		`{"questionnaire": "audit", "patientRef": "p", "previous": [{"at": "2026-01-01", "scores": {"total": 3}}]}`,
		`{"questionnaire": "audit", `, ``, `[]`, `null`, `"audit"`,
		`{"questionnaire": "audit", "patientRef": "p", "patient": "x"}`,
		`{"questionnaire": "audit", "patientRef": 12}`,
		`{"questionnaire": "audit", "patientRef": "p", "expiresAt": "tomorrow"}`,
		`{"questionnaire": "audit", "patientRef": "p"} {}`,
		`{"patientRef": "p"}`,
		`{"questionnaire": "phq-9", "patientRef": "p"}`,
		`{"questionnaire": "audit", "version": "9.9.9", "patientRef": "p"}`,
		`{"questionnaire": "audit", "patientRef": "p", "language": "de"}`,
		`{"questionnaire": "audit"}`,
		`{"questionnaire": "audit", "patientRef": "` + strings.Repeat("x", 129) + `"}`,
		`{"questionnaire": "audit", "patientRef": "p\u0007"}`,
		`{"questionnaire": "audit", "patientRef": "p", "expiresAt": "2026-11-25T09:59:59Z"}`,
		`{"questionnaire": "audit", "patientRef": "p", "ttl": "91d"}`,
		`{"questionnaire": "audit", "patientRef": "p", "ttl": "a week"}`,
		`{"questionnaire": "audit", "patientRef": "p", "ttl": "-1h"}`,
		`{"questionnaire": "audit", "patientRef": "p", "ttl": "1d", "expiresAt": "2026-12-01T00:00:00Z"}`,
		"{\"questionnaire\": \"audit\", \"patientRef\": \"12345\xd8678901\"}",
		`{"questionnaire": "audit", "patientRef": "\ud800x"}`,
		`{"questionnaire": "audit", "patientRef": "\udc00\ud800"}`,
		`{"questionnaire": "audit", "patientRef": "a", "patientRef": "b"}`,
		`{"questionnaire": "kvarus-maalepunkt", "patientRef": "a", "previous": [{"at": "2026-01-01", "scores": {"mental": 1, "mental": 20}}]}`,
		`{"questionnaire": "kvarus-maalepunkt", "patientRef": "a", "previous": [{"at": "2026-01-01", "scores": {"mental": 1e999999}}]}`,
		`{"questionnaire": "kvarus-maalepunkt", "patientRef": "a", "previous": [{"at": "2026-01-01", "scores": {"mental": -0.0000000000000000000001}}]}`,
		`{"questionnaire": "kvarus-maalepunkt", "patientRef": "a", "previous": [{"at": "2026-13-45", "scores": {"mental": null}}]}`,
		`{"questionnaire": "audit", "patientRef": "a", "ttl": "9223372036854775807h"}`,
		`{"questionnaire": "audit", "patientRef": "a", "expiresAt": "9999-12-31T23:59:59.999999999+14:00"}`,
		`{"questionnaire": "audit", "patientRef": "a", "previous": ` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`,
		`{"questionnaire": "audit", "patientRef": "a", "previous": [` + strings.Repeat(`{"at": "2026-01-01", "scores": {}},`, 100) + `{}]}`,
		"\xef\xbb\xbf{\"questionnaire\": \"audit\", \"patientRef\": \"bom\"}",
		`{"questionnaire": "audit", "patientRef": "` + strings.Repeat("é", 64) + `"}`,
	} {
		f.Add([]byte(body), "", uint8(0))
	}
	f.Add([]byte(`{"questionnaire": "audit", "patientRef": "p-1"}`), "k-1", uint8(0))
	f.Add([]byte(`{ "patientRef":"p-1",  "questionnaire":"audit" }`), "k-1", uint8(0))
	f.Add([]byte(`{"questionnaire": "audit", "patientRef": "p-2"}`), "k-1", uint8(1))
	f.Add([]byte(`{"questionnaire": "audit", "patientRef": "p-1"}`), "k\x01", uint8(0))
	f.Add([]byte(`{"questionnaire": "audit", "patientRef": "p-1"}`), strings.Repeat("k", 256), uint8(0))
	f.Add([]byte(`{"questionnaire": "audit", "patientRef": "a", "patientRef": "b"}`), "key-a-repeated-key", uint8(0))
	f.Add([]byte(`{"questionnaire": "kvarus-maalepunkt", "patientRef": "kvarus-4711"}`), "kv-1", uint8(2))
	f.Add([]byte(`{"questionnaire": "audit", "patientRef": "kvarus-4711"}`), "", uint8(2))
	f.Add(append(bytes.Repeat([]byte(" "), 65000), `{"questionnaire": "audit", "patientRef": "spaced-4711"}`...), "k-big", uint8(0))

	errorCode := map[int]string{
		http.StatusBadRequest: questionnaire.EINVALID, http.StatusForbidden: questionnaire.EFORBIDDEN,
		http.StatusConflict: questionnaire.ECONFLICT, http.StatusRequestEntityTooLarge: questionnaire.ETOOLARGE,
		http.StatusUnprocessableEntity: questionnaire.EUNPROCESSABLE,
	}
	f.Fuzz(func(t *testing.T, body []byte, idem string, who uint8) {
		fuzzInput(t, h)
		if len(body) > web.MaxBodySize {
			return // app.Test cannot show the 413: TestOrderCreate sends one on a connection
		}
		idem = fuzzHeader(idem)
		auth := "Bearer " + tokens[int(who)%len(tokens)]
		send := func() (*http.Response, []byte) {
			resp := h.do("POST", "/api/v1/orders", string(body), "Idempotency-Key", idem, "Authorization", auth)
			return resp, readAll(t, resp)
		}
		var refs orderRefs
		json.Unmarshal(body, &refs) // as far as it goes
		var secrets []string
		for _, s := range []string{refs.PatientRef, refs.RegistrationRef, refs.Unit} {
			if distinctive(s) {
				secrets = append(secrets, s)
			}
		}

		resp, raw := send()
		p := page{status: resp.StatusCode, header: resp.Header, body: string(raw)}
		fuzzAllowed(t, "POST /api/v1/orders", p, http.StatusCreated, http.StatusOK, http.StatusBadRequest, http.StatusForbidden,
			http.StatusConflict, http.StatusUnprocessableEntity)
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%d with Content-Type %q, want JSON", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if resp.StatusCode >= 400 {
			resp.Body = io.NopCloser(bytes.NewReader(raw))
			wantError(t, resp, resp.StatusCode, errorCode[resp.StatusCode])
			fuzzCheckLogs(t, h, secrets...)
			return
		}

		// An order.
		var o map[string]any
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatalf("%d, and the body is not JSON: %v\n%s", resp.StatusCode, err, raw)
		}
		id, _ := o["id"].(string)
		code, _ := o["code"].(string)
		if _, err := uuid.Parse(id); err != nil || resp.Header.Get("Location") != "/api/v1/orders/"+id {
			t.Fatalf("%d: id %q, Location %q: %s", resp.StatusCode, id, resp.Header.Get("Location"), raw)
		}
		if !codeForm.MatchString(code) || o["status"] != string(questionnaire.StatusOrdered) {
			t.Fatalf("%d: an order with code %q, status %v: %s", resp.StatusCode, code, o["status"], raw)
		}
		if len(idem) > 255 || strings.ContainsFunc(idem, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
			t.Fatalf("%d: an order made with the Idempotency-Key %q", resp.StatusCode, idem)
		}
		q, _ := o["questionnaire"].(map[string]any)
		if q["id"] != refs.Questionnaire || o["patientRef"] != refs.PatientRef || o["registrationRef"] != nonEmpty(refs.RegistrationRef) ||
			o["unit"] != nonEmpty(refs.Unit) {
			t.Fatalf("the order is not what was asked for: %+v\n%s", refs, raw)
		}
		secrets = append(secrets, code, strings.ReplaceAll(code, "-", ""))
		if idem != "" && resp.StatusCode == http.StatusCreated {
			again, raw := send()
			var a map[string]any
			if err := json.Unmarshal(raw, &a); err != nil || again.StatusCode != http.StatusOK || a["id"] != id || a["code"] != code {
				t.Fatalf("the same request with the same key: %d %s, want 200 and order %s", again.StatusCode, raw, id)
			}
		}
		fuzzCheckLogs(t, h, secrets...)
	})
}

// nonEmpty is what a JSON object with omitempty holds for s: nothing, or s.
func nonEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// fuzzAckSafe are the characters a path segment may carry unescaped.
const fuzzAckSafe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@"

// FuzzAck posts arbitrary ids and bodies to POST
// /api/v1/submissions/{id}/ack, as the registry, whose envelopes these
// are, or as another client (other). In an id, {leased} is an envelope
// the registry holds the lease of, {delivered} one it has acknowledged
// and {unleased} one nobody has leased. Only the registry's ack of the
// first two is 200 ({"id", "status": "delivered"}); everything else is
// 404, 409 or 413, as a JSON error.
func FuzzAck(f *testing.F) {
	h := newHarness(f)
	ctx := context.Background()
	first, second := h.submittedOrder(), h.submittedOrder()
	m := decode(f, h.do("GET", "/api/v1/submissions?limit=10&lease=3600", ""))
	subs, _ := m["submissions"].([]any)
	if len(subs) != 2 {
		f.Fatalf("leased %v, want the two envelopes", m)
	}
	ids := map[string]string{}
	for _, s := range subs {
		s := s.(map[string]any)
		ids[s["orderId"].(string)] = s["id"].(string)
	}
	leased, delivered := ids[first], ids[second]
	if resp := h.do("POST", "/api/v1/submissions/"+delivered+"/ack", ""); resp.StatusCode != 200 {
		f.Fatalf("ack: %d", resp.StatusCode)
	}
	o, err := h.store.Order(ctx, h.submittedOrder())
	if err != nil || o.SubmissionID == "" {
		f.Fatalf("the third order: %+v %v", o, err)
	}
	unleased := o.SubmissionID
	expand := strings.NewReplacer("{leased}", leased, "{delivered}", delivered, "{unleased}", unleased,
		"{LEASED}", strings.ToUpper(leased)).Replace
	fuzzCheckLogs(f, h)

	// From TestPullAPI, and the hostile ones.
	for _, id := range []string{"{leased}", "{delivered}", "{unleased}", "01234567-89ab-7def-8123-456789abcdef", "nope", "",
		"{LEASED}", "{leased}x", "urn:uuid:{leased}", "{{leased}}", "%7B{leased}%7D", "..", ".", "../../orders", "{leased}/ack",
		"{leased}?x=1", "{leased}#x", " {leased}", "{leased}%00", "\xed\xa0\x80", strings.Repeat("0", 3000)} {
		f.Add(id, []byte(nil), false)
	}
	f.Add("{leased}", []byte(nil), true)
	f.Add("{delivered}", []byte(`{}`), true)
	f.Add("{unleased}", []byte(`{"id": "{leased}"}`), false)
	f.Add("{leased}", []byte("\xff\xfe{\"a\": \"\\ud800\"}"), false)
	f.Add("{leased}", bytes.Repeat([]byte("["), 65000), false)

	errorCodes := map[int][]string{
		http.StatusBadRequest: {questionnaire.EINVALID}, http.StatusNotFound: {questionnaire.ENOTFOUND},
		http.StatusConflict: {questionnaire.ELEASE, questionnaire.ECONFLICT}, http.StatusRequestURITooLong: {questionnaire.EINVALID},
	}
	f.Fuzz(func(t *testing.T, id string, body []byte, other bool) {
		fuzzInput(t, h)
		if len(body) > web.MaxBodySize {
			return // app.Test cannot show the 413: TestOrderCreate sends one on a connection
		}
		id = expand(id)
		seg := id
		if strings.ContainsFunc(id, func(r rune) bool { return !strings.ContainsRune(fuzzAckSafe, r) }) {
			seg = url.PathEscape(id)
		}
		auth := "Bearer " + token
		if other {
			auth = "Bearer " + otherToken
		}
		path := "/api/v1/submissions/" + seg + "/ack"
		resp := h.do("POST", path, string(body), "Authorization", auth)
		raw := readAll(t, resp)
		p := page{status: resp.StatusCode, header: resp.Header, body: string(raw)}
		what := fmt.Sprintf("POST %.300s", path)
		if len(path) > 2048 {
			fuzzAllowed(t, what, p, http.StatusRequestURITooLong) // refuseEncodedBodies
		}
		fuzzAllowed(t, what, p, http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestURITooLong)
		if p.status == http.StatusOK {
			if other || (seg != leased && seg != delivered) {
				t.Fatalf("%s (other client %v): 200 %s; only the registry's envelopes %s and %s can be acknowledged", what, other, raw, leased, delivered)
			}
			var a map[string]any
			if err := json.Unmarshal(raw, &a); err != nil || a["id"] != seg || a["status"] != "delivered" {
				t.Fatalf("%s: 200 %s, want the id and delivered", what, raw)
			}
		} else {
			var e apiErrorBody
			if err := json.Unmarshal(raw, &e); err != nil || !slices.Contains(errorCodes[p.status], e.Error.Code) || e.Error.Message == "" {
				t.Fatalf("%s: %d %s, want a JSON error of %v", what, p.status, raw, errorCodes[p.status])
			}
		}
		fuzzCheckLogs(t, h)
	})
}

// apiErrorBody is the API's JSON error.
type apiErrorBody struct {
	Error struct{ Code, Message string }
}
