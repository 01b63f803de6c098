package hemit_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/questionnaire/hemit"
)

func TestCheckNationalID(t *testing.T) {
	tests := []struct {
		name, id, kind, refused string // refused: HNummer, FHNummer, or a word of the reason
	}{
		{"a fødselsnummer (HEMIT's doc example)", "26073941651", hemit.Fodselsnummer, ""},
		{"a fødselsnummer", "01039494104", hemit.Fodselsnummer, ""},
		{"a D-nummer", "41018036736", hemit.DNummer, ""},
		{"HEMIT's verification test person (month + 60)", "26670271527", hemit.Fodselsnummer, ""},
		{"a synthetic test person (month + 80)", "26878798456", hemit.Fodselsnummer, ""},
		{"a wrong first check digit", "26073941661", "", "check digits"},
		{"a wrong second check digit", "26073941652", "", "check digits"},
		{"two digits swapped", "26079341651", "", "check digits"},
		{"an H-nummer (month + 40)", "01410112430", "", hemit.HNummer},
		{"an FH-nummer (first digit 8)", "81234567890", "", hemit.FHNummer},
		{"an FH-nummer (first digit 9)", "91234567890", "", hemit.FHNummer},
		{"ten digits", "2607394165", "", "11 digits"},
		{"twelve digits", "260739416510", "", "11 digits"},
		{"a space", "260739 1651", "", "11 digits"},
		{"letters", "2607394165a", "", "11 digits"},
		{"day 0, check digits right", "00010112338", "", "day of a month"},
		{"month 13, check digits right", "01130112486", "", "not a month"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.id
			kind, err := hemit.CheckNationalID("nationalId", id)
			if tt.kind != "" {
				if err != nil || kind != tt.kind {
					t.Fatalf("CheckNationalID(%s) = %q, %v; want %q", id, kind, err, tt.kind)
				}
				return
			}
			var ne *hemit.NationalIDError
			if !errors.As(err, &ne) {
				t.Fatalf("CheckNationalID(%s) = %q, %v; want a refusal", id, kind, err)
			}
			if strings.Contains(err.Error(), id) {
				t.Errorf("the message %q repeats the number", err)
			}
			if !strings.HasPrefix(err.Error(), "nationalId: ") {
				t.Errorf("the message %q does not name the field", err)
			}
			switch tt.refused {
			case hemit.HNummer, hemit.FHNummer:
				want := "nationalId: " + tt.refused + " is not supported as national ID. The national ID must be either Norsk fødselsnummer or D-nummer."
				if err.Error() != want {
					t.Errorf("got %q, want HEMIT's %q", err, want)
				}
			default:
				if !strings.Contains(err.Error(), tt.refused) {
					t.Errorf("got %q, want it to say %q", err, tt.refused)
				}
			}
		})
	}
}

func TestParseRequest(t *testing.T) {
	const base = `"formId": "1bc5f9f0-2607-49eb-94f0-6af955bbd79a", "nationalId": "26073941651"`
	tests := []struct {
		name, body string
		check      func(*hemit.Request) bool
		err        string // a part of the message; "" when the request is good
	}{
		{"the minimum", `{` + base + `}`, func(r *hemit.Request) bool {
			return r.DistributionRule == hemit.Basic && r.ExpiryDate == nil && r.Metadata == nil && !r.TestMode
		}, ""},
		{"the rule as a name", `{` + base + `, "distributionRule": "NoDistribution"}`,
			func(r *hemit.Request) bool { return r.DistributionRule == hemit.NoDistribution }, ""},
		{"the rule as a name in another case", `{` + base + `, "distributionRule": "nodistribution"}`,
			func(r *hemit.Request) bool { return r.DistributionRule == hemit.NoDistribution }, ""},
		{"the rule as a number", `{` + base + `, "distributionRule": 2}`,
			func(r *hemit.Request) bool { return r.DistributionRule == hemit.NoDistribution }, ""},
		{"the rule as a string of a number", `{` + base + `, "distributionRule": "8"}`,
			func(r *hemit.Request) bool { return r.DistributionRule == hemit.UnsecureOnly }, ""},
		{"an unknown rule", `{` + base + `, "distributionRule": "Pigeon"}`, nil, `distributionRule "Pigeon" is not one of Basic (0)`},
		{"a rule number out of range", `{` + base + `, "distributionRule": 9}`, nil, `distributionRule "9" is not one of`},
		{"field names in PascalCase", `{"FormId": "1bc5f9f0-2607-49eb-94f0-6af955bbd79a", "NationalId": "26073941651", "TestMode": true}`,
			func(r *hemit.Request) bool { return r.TestMode && r.NationalID == "26073941651" }, ""},
		{"one field twice in two cases", `{` + base + `, "testMode": true, "TestMode": false}`, nil, "are the same field"},
		{"a key twice", `{` + base + `, "testMode": true, "testMode": false}`, nil, "not valid JSON"},
		{"unknown fields are ignored, as by HEMIT", `{` + base + `, "apiKey": "old", "paperColorPrint": true}`,
			func(r *hemit.Request) bool { return true }, ""},
		{"metadata as a string of JSON", `{` + base + `, "metadata": "{\"age\":76}"}`,
			func(r *hemit.Request) bool {
				return string(r.Metadata["age"]) == "76" && *r.MetadataText == `{"age":76}`
			}, ""},
		{"metadata as an object", `{` + base + `, "metadata": {"age": 76}}`,
			func(r *hemit.Request) bool { return string(r.Metadata["age"]) == "76" }, ""},
		{"metadata null", `{` + base + `, "metadata": null}`, func(r *hemit.Request) bool { return r.Metadata == nil }, ""},
		{"metadata that is not JSON", `{` + base + `, "metadata": "{age: 76}"}`, nil, "JSON in metadata is not valid: "},
		{"metadata that is an array", `{` + base + `, "metadata": "[1, 2]"}`, nil, "JSON in metadata is not valid: it must be an object"},
		{"metadata with a key twice", `{` + base + `, "metadata": "{\"a\":1,\"a\":2}"}`, nil, "JSON in metadata is not valid: "},
		{"booleans as strings", `{` + base + `, "testMode": "True", "dontStoreCompletedFormInPha": "false"}`,
			func(r *hemit.Request) bool { return r.TestMode }, ""},
		{"a boolean that is not one", `{` + base + `, "testMode": "yes please"}`, nil, "testMode must be true or false"},
		{"an expiry in UTC", `{` + base + `, "expiryDate": "2026-12-24T11:00:00.000Z"}`,
			func(r *hemit.Request) bool { return r.ExpiryDate.Equal(time.Date(2026, 12, 24, 11, 0, 0, 0, time.UTC)) }, ""},
		{"an expiry with .NET's seven digits and an offset", `{` + base + `, "expiryDate": "2026-12-24T12:00:00.1234567+01:00"}`,
			func(r *hemit.Request) bool {
				return r.ExpiryDate.Truncate(time.Second).Equal(time.Date(2026, 12, 24, 11, 0, 0, 0, time.UTC))
			}, ""},
		{"an expiry without an offset is Oslo time", `{` + base + `, "expiryDate": "2026-07-01T12:00:00"}`,
			func(r *hemit.Request) bool { return r.ExpiryDate.Equal(time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC)) }, ""},
		{"an expiry as a date is the end of that day", `{` + base + `, "expiryDate": "2026-12-24"}`,
			func(r *hemit.Request) bool {
				return r.ExpiryDate.Equal(time.Date(2026, 12, 24, 22, 59, 59, 0, time.UTC))
			}, ""},
		{"an expiry that is not a time", `{` + base + `, "expiryDate": "next week"}`, nil, `expiryDate "next week" is not a date-time`},
		{"reminderDate null, as the JS example sends it", `{` + base + `, "reminderDate": null}`,
			func(r *hemit.Request) bool { return r.ReminderDate == nil }, ""},
		{"no formId", `{"nationalId": "26073941651"}`, nil, "formId is required"},
		{"no nationalId", `{"formId": "1bc5f9f0-2607-49eb-94f0-6af955bbd79a"}`, nil, "nationalId is required"},
		{"a nationalId as a number", `{"formId": "1bc5f9f0-2607-49eb-94f0-6af955bbd79a", "nationalId": 26073941651}`, nil, "nationalId must be a string"},
		{"an H-nummer", `{"formId": "x", "nationalId": "01410112430"}`, nil, "nationalId: H-nummer is not supported as national ID."},
		{"on behalf of someone", `{` + base + `, "onBehalfOfNationalId": "01039494104"}`,
			func(r *hemit.Request) bool { return r.OnBehalfOfNationalID == "01039494104" }, ""},
		{"on behalf of a mistyped number", `{` + base + `, "onBehalfOfNationalId": "01039494105"}`, nil, "onBehalfOfNationalId: not a Norwegian"},
		{"must be signed", `{` + base + `, "mustBeSigned": true, "distributionRule": "NoDistribution"}`, nil,
			"The ordered form needs to be signed. This is not possible when using DistributionRule = 'NoDistribution'."},
		{"must be signed on behalf of someone", `{` + base + `, "mustBeSigned": true, "onBehalfOfNationalId": "01039494104"}`, nil,
			"The ordered form needs to be signed. This is not possible when the form is ordered on behalf of someone."},
		{"a physical address", `{` + base + `, "physicalAddress": {"fullName": "Kari", "postalCode": "0150"}}`,
			func(r *hemit.Request) bool { return r.PhysicalAddress["postalCode"] == "0150" }, ""},
		{"a postal code as a number", `{` + base + `, "physicalAddress": {"postalCode": 150}}`, nil, "physicalAddress.postalCode must be a string"},
		{"not an object", `[1]`, nil, "must be a JSON object"},
		{"empty", ``, nil, "The body is empty"},
		{"invalid UTF-8", "{" + base + `, "signingText": "a` + "\xff" + `"}`, nil, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := hemit.ParseJSON([]byte(tt.body))
			if tt.err != "" {
				if err == nil || !strings.Contains(questionnaire.ErrorMessage(err), tt.err) || questionnaire.ErrorCode(err) != questionnaire.EINVALID {
					t.Fatalf("ParseJSON = %v, want EINVALID saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(r) {
				t.Errorf("ParseJSON = %+v", r)
			}
		})
	}
}

func TestParseForm(t *testing.T) {
	r, err := hemit.ParseForm([]byte("formId=1bc5f9f0-2607-49eb-94f0-6af955bbd79a&nationalId=26073941651&distributionRule=2" +
		"&testMode=true&metadata=%7B%22age%22%3A76%7D&physicalAddress.fullName=Kari+Nordmann&physicalAddress%5BpostalCode%5D=0150"))
	if err != nil {
		t.Fatal(err)
	}
	if r.DistributionRule != hemit.NoDistribution || !r.TestMode || string(r.Metadata["age"]) != "76" ||
		r.PhysicalAddress["fullName"] != "Kari Nordmann" || r.PhysicalAddress["postalCode"] != "0150" {
		t.Errorf("ParseForm = %+v", r)
	}
	if _, err := hemit.ParseForm([]byte("formId=a&formId=b&nationalId=26073941651")); err == nil || !strings.Contains(err.Error(), "formId is given 2 times") {
		t.Errorf("a field twice: %v", err)
	}
}

func TestEchoAndResponse(t *testing.T) {
	r, err := hemit.ParseJSON([]byte(`{"formId": "1bc5f9f0-2607-49eb-94f0-6af955bbd79a", "nationalId": "26073941651",
		"metadata": "{\"age\":76}", "distributionRule": "NoDistribution", "signingText": null}`))
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Date(2026, 12, 24, 11, 0, 0, 0, time.UTC)
	out, err := hemit.Response(r.Echo(expires), "0193a000-0000-7000-8000-000000000001", "7KQM2-XPD9R", "https://eprom.example/")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	want := map[string]any{
		"id": "0193a000-0000-7000-8000-000000000001", "singleUseCode": "7KQM2-XPD9R", "loginUrl": "https://eprom.example/",
		"notificationChannel": 0.0, "formId": "1bc5f9f0-2607-49eb-94f0-6af955bbd79a", "nationalId": "26073941651",
		"expiryDate": "2026-12-24T11:00:00Z", "reminderDate": nil, "metadata": `{"age":76}`, "dontStoreCompletedFormInPha": false,
		"distributionRule": 2.0, "mustBeSigned": false, "signingText": nil, "physicalAddress": nil, "testMode": false,
		"onBehalfOfNationalId": nil,
	}
	if len(got) != len(want) {
		t.Errorf("got %d fields, want %d: %s", len(got), len(want), out)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %#v (present %v), want %#v", k, g, ok, v)
		}
	}
}

// form is a small definition with every kind of answer HEMIT's formData
// holds.
const form = `{"id": "kvarus-test", "version": "1.0.0", "languages": ["nb"], "title": {"nb": "Test"},
  "items": [
    {"linkId": "p1", "type": "group", "text": {"nb": "Side 1"}, "items": [
      {"linkId": "hoyde", "type": "integer", "min": 50, "max": 250, "text": {"nb": "Høyde"}},
      {"linkId": "vekt", "type": "decimal", "text": {"nb": "Vekt"}},
      {"linkId": "hjelp", "type": "choice", "text": {"nb": "Hjelp"},
       "options": [{"value": "1", "score": 1, "text": {"nb": "Lite"}}, {"value": "2", "score": 2, "text": {"nb": "Mye"}}]},
      {"linkId": "rus", "type": "multichoice", "text": {"nb": "Rusmidler"},
       "options": [{"value": "alkohol", "text": {"nb": "Alkohol"}}, {"value": "3", "text": {"nb": "Annet"}}]}]},
    {"linkId": "p2", "type": "group", "text": {"nb": "Side 2"}, "items": [
      {"linkId": "info", "type": "display", "text": {"nb": "Takk"}},
      {"linkId": "jobb", "type": "boolean", "text": {"nb": "Jobb"}},
      {"linkId": "start", "type": "date", "text": {"nb": "Start"}},
      {"linkId": "annet", "type": "text", "text": {"nb": "Annet"}}]}]}`

func parse(t *testing.T) *questionnaire.Definition {
	t.Helper()
	def, err := questionnaire.Parse([]byte(form))
	if err != nil {
		t.Fatal(err)
	}
	return def
}

func TestPrefill(t *testing.T) {
	def := parse(t)
	today := time.Date(2026, 12, 2, 12, 0, 0, 0, hemit.Oslo)
	meta := func(s string) map[string]json.RawMessage {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	form, rest, errs, err := hemit.Prefill(def, meta(`{
		"hoyde": "180", "vekt": 70.5, "hjelp": 2, "rus": ["alkohol", 3], "jobb": true,
		"start": "2023-08-08T22:00:00.000Z", "annet": "Hei", "age": 76, "info": "x", "visValgfelt": 1}`), today)
	if err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	want := map[string]string{"hoyde": "180", "vekt": "70.5", "hjelp": "2", "rus": "alkohol,3", "jobb": "true", "start": "2023-08-09", "annet": "Hei"}
	if len(form) != len(want) {
		t.Errorf("prefill %v, want %v", form, want)
	}
	for k, v := range want {
		if got := strings.Join(form[k], ","); got != v {
			t.Errorf("prefill %s = %q, want %q", k, got, v)
		}
	}
	if len(rest) != 3 || string(rest["age"]) != "76" || rest["info"] == nil || rest["visValgfelt"] == nil {
		t.Errorf("rest = %v, want age, info (a display, not a question) and visValgfelt", rest)
	}

	// A collection form: each sub-form's prefill under its own GUID.
	nested, rest, errs, _ := hemit.Prefill(def, meta(`{"_1bc5f9f0_2607_49eb_94f0_6af955bbd79a": {"hjelp": "1", "Rand12Q01": "2"},
		"_0f68e0df_0000_4000_8000_000000000001": {"jobb": true, "hoyde": 150}, "_not_a_form": {"annet": "x"}, "hoyde": 170}`), today)
	if len(errs) > 0 || strings.Join(nested["hjelp"], "") != "1" || strings.Join(nested["jobb"], "") != "true" || nested["annet"] != nil ||
		strings.Join(nested["hoyde"], "") != "170" {
		t.Errorf("a collection form's nested prefill = %v, %v", nested, errs)
	}
	if len(rest) != 2 || string(rest["_1bc5f9f0_2607_49eb_94f0_6af955bbd79a"]) != `{"Rand12Q01":"2"}` || rest["_not_a_form"] == nil {
		t.Errorf("kept %v, want the sub-form's key that prefilled nothing, and the key that names no form", rest)
	}

	for _, tt := range []struct{ meta, linkID, code string }{
		{`{"hoyde": 300}`, "hoyde", questionnaire.AnswerMax},
		{`{"hoyde": "tall"}`, "hoyde", questionnaire.AnswerType},
		{`{"hjelp": 3}`, "hjelp", questionnaire.AnswerOption},
		{`{"jobb": "kanskje"}`, "jobb", questionnaire.AnswerType},
		{`{"start": 20230809}`, "start", questionnaire.AnswerType},
		{`{"rus": [true]}`, "rus", questionnaire.AnswerType},
	} {
		_, _, errs, err := hemit.Prefill(def, meta(tt.meta), today)
		if err != nil || len(errs) != 1 || errs[0].LinkID != tt.linkID || errs[0].Code != tt.code {
			t.Errorf("Prefill(%s) = %v, %v; want %s at %s", tt.meta, errs, err, tt.code, tt.linkID)
		}
	}
}

func TestReturnAndFormData(t *testing.T) {
	def := parse(t)
	answers := []questionnaire.AnswerJSON{
		{LinkID: "hoyde", Value: json.Number("180")}, {LinkID: "vekt", Value: json.Number("70.5")},
		{LinkID: "hjelp", Value: "2"}, {LinkID: "rus", Value: []string{"alkohol", "3"}},
		{LinkID: "jobb", Value: false}, {LinkID: "start", Value: "2026-11-30"}, {LinkID: "annet", Value: "12"},
	}
	data, err := hemit.FormData(def, answers)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"hoyde":180,"vekt":70.5,"hjelp":2,"rus":["alkohol",3],"jobb":false,"start":"2026-11-30","annet":"12"}`
	if data != want {
		t.Errorf("formData\n got %s\nwant %s", data, want)
	}

	opened := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	sent := opened.Add(5 * time.Minute)
	o := &questionnaire.Order{ID: "0193a000-0000-7000-8000-000000000001", UpdatedAt: sent,
		Hemit: &questionnaire.HemitOrder{Metadata: `{"age":76}`}}
	env := &questionnaire.Envelope{Type: questionnaire.EnvelopeResponse, SubmittedAt: &sent, Answers: answers, Events: []questionnaire.Event{
		{Type: questionnaire.EventOpened, At: opened}, {Type: questionnaire.EventPage, Page: 1, At: opened.Add(time.Minute)},
		{Type: questionnaire.EventPage, Page: 9, At: opened.Add(time.Minute)}, {Type: questionnaire.EventSaved, At: opened.Add(time.Minute)},
		{Type: questionnaire.EventSubmitted, At: sent}}}
	raw, err := hemit.Return("hemit-key-0123456789", def, o, env)
	if err != nil {
		t.Fatal(err)
	}
	var cb hemit.ReturnCallback
	if err := json.Unmarshal(raw, &cb); err != nil {
		t.Fatal(err)
	}
	if cb.FormOrderStatus != "Completed" || cb.FormData != want || cb.APIKey != "hemit-key-0123456789" || cb.FormOrderID != o.ID ||
		cb.SignedFormID != hemit.ZeroID || cb.ScannedPaperID != hemit.ZeroID || cb.IsPatientInitiated || cb.Timestamp != "2026-12-02T10:05:00+01:00" ||
		cb.Metadata != `{"age":76}` || cb.Declined {
		t.Errorf("return callback %s", raw)
	}
	if !strings.Contains(string(raw), `"formDataWarnings":[]`) || !strings.Contains(string(raw), `"patientInitiatedValues":null`) {
		t.Errorf("formDataWarnings must be an empty list and patientInitiatedValues null: %s", raw)
	}
	var log []string
	for _, e := range cb.FormOrderEventLog {
		log = append(log, e.EventType+":"+e.QuestionID+"@"+e.TimestampUtc)
	}
	wantLog := "FormOpened:@2026-12-02T09:00:00.000Z QuestionAccessed:hoyde@2026-12-02T09:01:00.000Z QuestionAccessed:vekt@2026-12-02T09:01:00.000Z " +
		"QuestionAccessed:hjelp@2026-12-02T09:01:00.000Z QuestionAccessed:rus@2026-12-02T09:01:00.000Z FormDelivered:@2026-12-02T09:05:00.000Z"
	if got := strings.Join(log, " "); got != wantLog {
		t.Errorf("event log\n got %s\nwant %s", got, wantLog)
	}

	declined := &questionnaire.Envelope{Type: questionnaire.EnvelopeDeclined, SubmittedAt: &sent, Reason: "not-now"}
	raw, _ = hemit.Return("k", def, o, declined)
	cb = hemit.ReturnCallback{}
	json.Unmarshal(raw, &cb)
	if cb.FormOrderStatus != "Expired" || cb.FormData != "{}" || !cb.Declined || cb.DeclineReason != "not-now" {
		t.Errorf("a declined order's return: %s", raw)
	}
	expired := &questionnaire.Envelope{Type: questionnaire.EnvelopeExpired, ExpiredAt: &sent}
	raw, _ = hemit.Return("k", def, o, expired)
	cb = hemit.ReturnCallback{}
	json.Unmarshal(raw, &cb)
	if cb.FormOrderStatus != "Expired" || cb.FormData != "{}" || cb.Declined || len(cb.FormOrderEventLog) != 0 {
		t.Errorf("an expired order's return: %s", raw)
	}
}

func TestOrdered(t *testing.T) {
	at := time.Date(2023, 3, 29, 8, 20, 10, 180433200, time.UTC)
	raw, err := hemit.Ordered("key-0123456789abcdef", "184738d0-3c39-e611-9c2a-34e6d72e03c7", at)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"apiKey":"key-0123456789abcdef","formOrderId":"184738d0-3c39-e611-9c2a-34e6d72e03c7","notificationChannel":0,` +
		`"timestamp":"2023-03-29T10:20:10.1804332","timestampUtc":"2023-03-29T08:20:10.1804332Z","formOrderStatus":"Ordered","formOrderStatusErrorCode":"None"}`
	if string(raw) != want {
		t.Errorf("status callback\n got %s\nwant %s (HEMIT's example, formats and all)", raw, want)
	}
}

func TestSuccess(t *testing.T) {
	for body, want := range map[string]bool{
		`{"success": true}`: true, `{"Success":true}`: true, `{"success": true, "message": "ok"}`: true,
		`{"success": false}`: false, `{"success": "true"}`: false, `{}`: false, ``: false, `true`: false, `<html>`: false,
	} {
		if got := hemit.Success([]byte(body)); got != want {
			t.Errorf("Success(%q) = %v, want %v", body, got, want)
		}
	}
}
