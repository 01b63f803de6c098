package web_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"eprom/questionnaire"
)

// kvarusOrder orders kvarus-maalepunkt as the kvarus client, which has a
// help line and a privacy contact.
func (h *harness) kvarusOrder(lang string) (id, code string) {
	h.t.Helper()
	m := decode(h.t, h.do("POST", "/api/v1/orders", `{"questionnaire": "kvarus-maalepunkt", "patientRef": "p", "language": "`+lang+`"}`,
		"Authorization", "Bearer "+kvarusToken))
	return m["id"].(string), m["code"].(string)
}

var maalepunktPage1 = url.Values{"behandling-start": {"2025-01-01"}, "bolig": {"egen"}, "arbeid": {"skole"}, "barn": {"false"}}

func TestBackKeepsWhatWasTyped(t *testing.T) {
	for _, days := range []string{"45", "tre"} {
		t.Run(days, func(t *testing.T) {
			h := newHarness(t)
			_, code := h.order("kvarus-maalepunkt", "nb")
			b := h.browser()
			p := b.follow(b.answer(b.enter(code), 1, "next", maalepunktPage1))
			back := b.answer(p, 2, "back", url.Values{"alkohol": {"yes"}, "cannabis": {"yes"}, "alkohol-dager": {days}})
			if back.status != 303 || back.header.Get("Location") != "/q?page=1" {
				t.Fatalf("Back with %q: %d %s, want 303 to page 1", days, back.status, back.header.Get("Location"))
			}
			p1 := b.get("/q?page=1")
			wantPage(t, p1, 200, `data-page="page-1"`)
			if strings.Contains(p1.body, `id="errors"`) {
				t.Error("page 1 shows errors of page 2")
			}
			// Next on page 1 is not held up by page 2's wrong number.
			next := b.answer(p1, 1, "next", maalepunktPage1)
			if next.status != 303 || next.header.Get("Location") != "/q?page=2" {
				t.Fatalf("Next on page 1: %d %s", next.status, next.header.Get("Location"))
			}
			p2 := b.follow(next)
			wantPage(t, p2, 200, `name="alkohol" value="yes" checked`, `name="cannabis" value="yes" checked`, `value="`+days+`"`,
				`href="#f-alkohol-dager"`, `aria-invalid="true"`)
			// The review says it must be corrected; Send refuses it, specifically.
			review := b.get("/q/review")
			wantPage(t, review, 200, "Må rettes: «"+days+"»")
			sent := b.post("/q/submit", review, url.Values{})
			wantPage(t, sent, 422, `href="/q?page=2#f-alkohol-dager"`)
			summary := sent.body[strings.Index(sent.body, `id="errors"`):]
			summary = summary[:strings.Index(summary, "</div>")]
			if n := strings.Count(summary, "På hvor mange av de siste 30 dagene drakk du alkohol?"); n != 1 {
				t.Errorf("the question is in the summary %d times", n)
			}
		})
	}
}

func TestOneErrorPerQuestionInPageOrder(t *testing.T) {
	h := newHarness(t)
	_, code := h.order("kvarus-maalepunkt", "nb")
	b := h.browser()
	p := b.follow(b.answer(b.enter(code), 1, "next", maalepunktPage1))
	// The script showed the follow-ups; one is answered "tre", another left empty.
	p = b.answer(p, 2, "next", url.Values{"js": {"1"}, "alkohol": {"yes"}, "alkohol-dager": {"tre"}, "cannabis": {"yes"}})
	wantPage(t, p, 422, "Skriv et helt tall, for eksempel 12.")
	if strings.Contains(p.body, "Nytt spørsmål") || strings.Contains(p.body, "Svar på dette spørsmålet. Skriv") {
		t.Error("a follow-up the script showed gets a second, contradicting message")
	}
	summary := p.body[strings.Index(p.body, `id="errors"`):]
	summary = summary[:strings.Index(summary, "</div>")]
	links := regexp.MustCompile(`href="#f-([a-z-]+?)(-0)?"`).FindAllStringSubmatch(summary, -1)
	var got []string
	for _, l := range links {
		got = append(got, l[1])
	}
	want := "alkohol-dager cannabis-dager beroligende opioider stimulerende andre"
	if strings.Join(got, " ") != want {
		t.Errorf("summary in the order %v, want %s", got, want)
	}
	if strings.Contains(summary, "?:") {
		t.Error("the summary puts a colon after a question mark")
	}
}

func TestExclusiveErrorNamesTheOption(t *testing.T) {
	h := newHarness(t)
	_, code := h.order("kvarus-maalepunkt", "nn")
	b := h.browser()
	b.enter(code)
	var none string
	opts := kvarusDef(t).Item("hjelp-behov").Options
	for _, o := range opts {
		if o.Exclusive {
			none = o.Text.Get("nn")
		}
	}
	last := b.get("/q?page=4")
	form := url.Values{"hjelp-fornoyd": {"4"}, "hjelp-viktig": {"partly"}, "hjelp-behov": {opts[0].Value, noneValue(opts)}}
	got := b.answer(last, 4, "finish", form)
	wantPage(t, got, 422, "«"+none+"» kan ikkje veljast saman med andre svar.")
}

func noneValue(opts []questionnaire.Option) string {
	for _, o := range opts {
		if o.Exclusive {
			return o.Value
		}
	}
	return ""
}

func kvarusDef(t *testing.T) *questionnaire.Definition {
	t.Helper()
	h := newHarness(t)
	d, err := h.cfg.Catalogue.Get("kvarus-maalepunkt", "")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestReviewSaysWhatIsMissing(t *testing.T) {
	h := newHarness(t)
	_, code := h.order("kvarus-maalepunkt", "nb")
	b := h.browser()
	b.enter(code)
	review := b.get("/q/review")
	wantPage(t, review, 200, `class="review-row missing"`, "Mangler svar", `class="review-row skipped"`, "Ikke besvart (valgfritt)",
		"spørsmål mangler svar. Du må svare på dem før du kan sende.", ">Svar<span")
	if strings.Contains(review.body, "Tilbake</a> ·") {
		t.Error("a dangling separator")
	}
	if regexp.MustCompile(`<dd class="answer[^"]*">\s`).MatchString(review.body) {
		t.Error("an answer starts with the template's white space")
	}
}

func TestHelpNowOnEveryQuestionPageAndDone(t *testing.T) {
	h := newHarness(t)
	_, code := h.kvarusOrder("nb")
	b := h.browser()
	p := b.enter(code)
	wantPage(t, p, 200, `class="help-now"`, "Ingen leser svarene dine med en gang.", `href="tel:116117"`, `href="tel:113"`,
		"Rusklinikken", `href="tel:+4722112233"`, "hverdager 8–15")
	p3 := b.get("/q?page=3")
	if !strings.Contains(p3.body, `class="help-short"`) {
		t.Error("no notice beside the sensitive questions of page 3")
	}
	// Another client, without a help line: the national numbers and the clinician.
	_, code2 := h.order("audit", "nb")
	other := h.browser().enter(code2)
	wantPage(t, other, 200, `href="tel:116117"`, "Du kan også snakke med behandleren din.")
	if strings.Contains(other.body, "Rusklinikken") {
		t.Error("one client's help line on another client's page")
	}
}

// TestHelpNowFollowsAReload: the notice is kept for each client, but a
// configuration read anew (SIGHUP) with another help line shows the new one
// on the next page.
func TestHelpNowFollowsAReload(t *testing.T) {
	current := clients
	h := newHarness(t, func(h *harness) { h.cfg.Clients = func() *questionnaire.Clients { return current } })
	_, code := h.kvarusOrder("nb")
	b := h.browser()
	wantPage(t, b.enter(code), 200, `href="tel:+4722112233"`)
	var list []*questionnaire.Client
	for _, c := range clients.List() {
		if c.ID == "kvarus" {
			changed := *c
			changed.Help = &questionnaire.Contact{Name: questionnaire.Text{"nb": "Poliklinikken"}, Phone: "+47 33 44 55 66"}
			c = &changed
		}
		list = append(list, c)
	}
	current = questionnaire.NewClients(list)
	p := b.get("/q?page=2")
	wantPage(t, p, 200, "Poliklinikken", `href="tel:+4733445566"`)
	if strings.Contains(p.body, "Rusklinikken") {
		t.Error("the help line of the configuration before the reload")
	}
}

func TestDeclineWithReservation(t *testing.T) {
	h := newHarness(t)
	id, code := h.kvarusOrder("nb")
	b := h.browser()
	p := b.enter(code)
	// Decline is on every question page, and keeps the page's answers.
	d := b.answer(p, 1, "decline", url.Values{"bolig": {"egen"}})
	if d.status != 303 || d.header.Get("Location") != "/q/decline?page=1" {
		t.Fatalf("decline from page 1: %d %s", d.status, d.header.Get("Location"))
	}
	form := b.follow(d)
	wantPage(t, form, 200, "Vil du la være å svare?", `href="/q?page=1"`, "KvaRus-sekretariatet", "kvarus@example.no", "Ikke nå")
	done := b.follow(b.post("/q/decline", form, url.Values{"confirm": {"yes"}, "reason": {"reservation"}}))
	wantPage(t, done, 200, "rett til å reservere deg", "KvaRus-sekretariatet", `class="help-now"`)
	if e := h.envelope(id); e.Type != questionnaire.EnvelopeDeclined || e.Reason != questionnaire.DeclineReservation {
		t.Errorf("envelope %s with reason %q, want declined with reservation", e.Type, e.Reason)
	}
}

func TestDeclineReasonNotOfferedIsNoReason(t *testing.T) {
	h := newHarness(t)
	id, code := h.order("audit", "nb")
	b := h.browser()
	b.enter(code)
	form := b.get("/q/decline")
	b.post("/q/decline", form, url.Values{"confirm": {"yes"}, "reason": {"<script>"}})
	if e := h.envelope(id); e.Reason != "" {
		t.Errorf("reason %q kept", e.Reason)
	}
}

func TestSavedPageGivesTheCodeAndAWayOn(t *testing.T) {
	h := newHarness(t)
	_, code := h.order("audit", "nb")
	b := h.browser()
	p := b.enter(code)
	saved := b.answer(p, 1, "save", url.Values{"q1": {"2"}})
	wantPage(t, saved, 200, `data-page="saved"`, questionnaire.FormatCode(code), `<form method="post" action="/">`, "Fortsett nå")
	if strings.Contains(saved.body, "/c/") {
		t.Error("the saved page links to the code's address, which the browser's history would keep")
	}
	again := b.post("/", saved, url.Values{"code": {regexp.MustCompile(`name="code" value="([^"]+)"`).FindStringSubmatch(saved.body)[1]}})
	if again.status != 303 {
		t.Fatalf("continue now: %d", again.status)
	}
	wantResumedHere(t, b.follow(again))
}

// wantResumedHere checks a page of a patient who saved q1 = 2 and came
// back: the answer is there, and this device is not taken for a second one.
func wantResumedHere(t *testing.T, back page) {
	t.Helper()
	wantPage(t, back, 200, `name="q1" value="2" checked`)
	if strings.Contains(back.body, "annen enhet") {
		t.Error("coming back after saving is taken for a second device")
	}
}

func TestSecondDeviceIsNoticed(t *testing.T) {
	h := newHarness(t)
	_, code := h.order("audit", "nb")
	a, b := h.browser(), h.browser()
	pa := a.enter(code)
	pb := b.enter(code)
	b.answer(pb, 1, "autosave", url.Values{"q1": {"1"}})
	pa = a.get("/q?page=1")
	wantPage(t, pa, 200, "Skjemaet er også åpent på en annen enhet.")
	if p := b.get("/q?page=1"); strings.Contains(p.body, "annen enhet") {
		t.Error("the device that saved last is told about itself")
	}
	// B sends; A is told it was sent, not thanked for sending.
	pb = b.get("/q/review")
	b.answer(pb, 1, "next", auditPage1)
	b.answer(pb, 2, "next", auditPage2)
	b.follow(b.post("/q/submit", b.get("/q/review"), url.Values{}))
	got := a.answer(pa, 1, "next", url.Values{"q1": {"2"}})
	wantPage(t, got, 410, "Svarene er allerede sendt", `<a href="/">Har du fått en ny kode?`)
}

func TestAnotherDevicesSendIsNotThanked(t *testing.T) {
	h := newHarness(t)
	_, code := h.order("audit", "nb")
	a, b := h.browser(), h.browser()
	a.enter(code)
	reviewA := a.get("/q/review")
	pb := b.enter(code)
	b.answer(pb, 1, "next", auditPage1)
	b.answer(pb, 2, "next", auditPage2)
	if p := b.post("/q/submit", b.get("/q/review"), url.Values{}); p.status != 303 {
		t.Fatalf("B's Send: %d", p.status)
	}
	wantPage(t, a.post("/q/submit", reviewA, url.Values{}), 410, "Svarene er allerede sendt")
}

func TestPageTitlesSayWhere(t *testing.T) {
	h := newHarness(t)
	_, code := h.order("audit", "nb")
	b := h.browser()
	p := b.enter(code)
	wantPage(t, p, 200, "<title>Side 1 av 2 – ", `<meta name="robots" content="noindex, nofollow">`, `rel="icon"`)
	e := b.answer(p, 1, "next", url.Values{})
	wantPage(t, e, 422, "<title>Feil: Side 1 av 2 – ")
}

func TestTypedIsBoundedAndValidText(t *testing.T) {
	h := newHarness(t)
	_, code := h.order("kvarus-maalepunkt", "nb")
	b := h.browser()
	p := b.follow(b.answer(b.enter(code), 1, "next", maalepunktPage1))
	huge := strings.Repeat("9", 60000)
	b.answer(p, 2, "back", url.Values{"alkohol": {"yes"}, "alkohol-dager": {huge}, "andre": {"yes"}, "andre-dager": {"x\xffy"}})
	p2 := b.get("/q?page=2")
	if strings.Contains(p2.body, huge[:10000]) {
		t.Error("a 60,000-character number is kept whole")
	}
	wantPage(t, p2, 200, `value="x`+"\uFFFD"+`y"`)
}

func TestReviewSaysAScaleOutOfWhat(t *testing.T) {
	h := newHarness(t)
	_, code := h.order("kvarus-maalepunkt", "nb")
	b := h.browser()
	p := b.enter(code)
	b.answer(p, 3, "review", url.Values{"livskvalitet": {"6"}})
	wantPage(t, b.get("/q/review"), 200, "6 av 10")
}

func TestDeclineLaterIsASave(t *testing.T) {
	h := newHarness(t)
	_, code := h.order("audit", "nb")
	b := h.browser()
	p := b.enter(code)
	b.answer(p, 1, "decline", url.Values{"q1": {"2"}})
	form := b.get("/q/decline?page=1")
	saved := b.post("/q/decline", form, url.Values{"confirm": {"later"}})
	wantPage(t, saved, 200, `data-page="saved"`)
	wantResumedHere(t, b.enter(code))
}

func TestExclusiveConflictKeepsTheTicks(t *testing.T) {
	h := newHarness(t)
	_, code := h.order("kvarus-maalepunkt", "nb")
	b := h.browser()
	p := b.enter(code)
	opts := kvarusDef(t).Item("hjelp-behov").Options
	none := noneValue(opts)
	b.answer(p, 4, "back", url.Values{"hjelp-behov": {opts[0].Value, none}})
	p4 := b.get("/q?page=4")
	wantPage(t, p4, 200, `name="hjelp-behov" value="`+opts[0].Value+`" checked`, `name="hjelp-behov" value="`+none+`" checked`, "kan ikke velges sammen")
}

func TestOptionalFollowUpIsIntroducedWithoutTheScript(t *testing.T) {
	h := newHarness(t)
	_, code := h.order("kvarus-maalepunkt", "nb")
	b := h.browser()
	p := b.follow(b.answer(b.enter(code), 1, "next", maalepunktPage1))
	// andre = yes brings up the optional andre-hvilke (and the required days).
	got := b.answer(p, 2, "next", url.Values{"alkohol": {"no"}, "cannabis": {"no"}, "beroligende": {"no"}, "opioider": {"no"}, "stimulerende": {"no"}, "andre": {"yes"}, "andre-dager": {"3"}})
	wantPage(t, got, 422, `class="item item-text is-new"`)
	// Seen once, it may be left empty.
	again := b.answer(got, 2, "next", url.Values{"alkohol": {"no"}, "cannabis": {"no"}, "beroligende": {"no"}, "opioider": {"no"}, "stimulerende": {"no"}, "andre": {"yes"}, "andre-dager": {"3"}})
	if again.status != 303 {
		t.Errorf("the optional follow-up, seen and left empty, holds up Next: %d", again.status)
	}
}

func TestALateAutosaveDoesNotUndoNext(t *testing.T) {
	h := newHarness(t)
	_, code := h.order("audit", "nb")
	b := h.browser()
	p := b.enter(code)
	b.answer(p, 1, "next", url.Values{"js": {"1"}, "at": {"2000"}, "q1": {"2"}, "q2": {"1"}, "q3": {"1"}, "q4": {"0"}, "q5": {"0"}})
	// The autosave made before Next arrives after it.
	if r := b.answer(p, 1, "autosave", url.Values{"js": {"1"}, "at": {"1000"}, "q1": {"1"}}); r.status != 204 {
		t.Fatalf("autosave: %d", r.status)
	}
	wantPage(t, b.get("/q?page=1"), 200, `name="q1" value="2" checked`, `name="q5" value="0" checked`)
	// A later autosave does apply.
	b.answer(p, 1, "autosave", url.Values{"js": {"1"}, "at": {"3000"}, "q1": {"3"}})
	wantPage(t, b.get("/q?page=1"), 200, `name="q1" value="3" checked`)
}
