package questionnaire_test

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"eprom/questionnaire"
)

// today is the day of answering in these tests.
var today = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// validForm answers every question of baseDefinition that is shown when
// "used" is "yes" and days ≥ 2.
func validForm() url.Values {
	return url.Values{
		"used": {"yes"}, "days": {"12"}, "how": {"inject", "smoke"},
		"kids": {"false"}, "units": {"2,5"}, "qol": {"7"},
		"start": {"2020-03-01"}, "note": {"Takk"},
		"csrf": {"ignored"}, "action": {"next"},
	}
}

func TestDecodeForm(t *testing.T) {
	d := mustParse(t, baseDefinition)

	t.Run("OK: every type decodes to its typed value", func(t *testing.T) {
		a, errs := d.DecodeForm(validForm(), nil)
		if len(errs) > 0 {
			t.Fatalf("errors: %v", errs)
		}
		want := questionnaire.Answers{
			"used":  {Type: questionnaire.Choice, String: "yes"},
			"days":  {Type: questionnaire.Integer, Number: 12},
			"how":   {Type: questionnaire.MultiChoice, Strings: []string{"smoke", "inject"}}, // definition order
			"kids":  {Type: questionnaire.Boolean, Bool: false},
			"units": {Type: questionnaire.Decimal, Number: 2.5},
			"qol":   {Type: questionnaire.Scale, Number: 7},
			"start": {Type: questionnaire.Date, String: "2020-03-01"},
			"note":  {Type: questionnaire.TextType, String: "Takk"},
		}
		if !reflect.DeepEqual(a, want) {
			t.Errorf("got  %#v\nwant %#v", a, want)
		}
	})

	t.Run("empty values are unanswered, not errors", func(t *testing.T) {
		a, errs := d.DecodeForm(url.Values{"used": {""}, "days": {"  "}, "how": {""}, "note": {"\r\n"}}, nil)
		if len(errs) > 0 || len(a) > 0 {
			t.Errorf("got answers %v, errors %v; want none", a, errs)
		}
	})

	t.Run("only the items in scope are read", func(t *testing.T) {
		page2 := d.Pages()[1].Questions()
		a, _ := d.DecodeForm(validForm(), page2)
		if _, ok := a["used"]; ok {
			t.Error("an answer to page 1 was read when decoding page 2")
		}
		if _, ok := a["qol"]; !ok {
			t.Error("an answer to page 2 was not read")
		}
	})

	t.Run("numbers as people type them", func(t *testing.T) {
		for in, want := range map[string]float64{"3,5": 3.5, "3.5": 3.5, " 1 000 ": 1000, "-0,25": -0.25, ",5": 0.5} {
			a, errs := d.DecodeForm(url.Values{"units": {in}}, nil)
			if len(errs) > 0 || a["units"].Number != want {
				t.Errorf("%q: got %v, %v; want %v", in, a["units"].Number, errs, want)
			}
		}
	})

	t.Run("a multichoice option ticked twice counts once", func(t *testing.T) {
		a, _ := d.DecodeForm(url.Values{"how": {"smoke", "smoke"}}, nil)
		if got := a["how"].Strings; !reflect.DeepEqual(got, []string{"smoke"}) {
			t.Errorf("got %v", got)
		}
	})

	t.Run("text keeps its inner white space and newlines", func(t *testing.T) {
		a, _ := d.DecodeForm(url.Values{"note": {"  Linje 1\r\n  Linje 2  "}}, nil)
		if got := a["note"].String; got != "Linje 1\n  Linje 2" {
			t.Errorf("got %q", got)
		}
	})

	errTests := []struct {
		name  string
		field string
		vals  []string
		code  string
	}{
		{"ErrAnswerInteger on a word", "days", []string{"tolv"}, questionnaire.AnswerInteger},
		{"ErrAnswerInteger on a fraction", "days", []string{"1.5"}, questionnaire.AnswerInteger},
		{"ErrAnswerInteger on an overflow", "days", []string{"99999999999999999999"}, questionnaire.AnswerInteger},
		{"ErrAnswerInteger on a scale value with letters", "qol", []string{"7a"}, questionnaire.AnswerInteger},
		{"ErrAnswerDecimal on an exponent", "units", []string{"1e3"}, questionnaire.AnswerDecimal},
		{"ErrAnswerDecimal on NaN", "units", []string{"NaN"}, questionnaire.AnswerDecimal},
		{"ErrAnswerDecimal on two separators", "units", []string{"1,5,2"}, questionnaire.AnswerDecimal},
		{"ErrAnswerDate on an impossible day", "start", []string{"2021-02-29"}, questionnaire.AnswerDate},
		{"ErrAnswerDate on another format", "start", []string{"01.03.2020"}, questionnaire.AnswerDate},
		{"ErrAnswerBoolean on yes", "kids", []string{"yes"}, questionnaire.AnswerBoolean},
		{"ErrAnswerSingle on two values for a choice", "used", []string{"yes", "no"}, questionnaire.AnswerSingle},
		{"ErrAnswerText on a control character", "note", []string{"a\x00b"}, questionnaire.AnswerText},
		{"ErrAnswerText on invalid UTF-8", "note", []string{"a\xffb"}, questionnaire.AnswerText},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			a, errs := d.DecodeForm(url.Values{tt.field: tt.vals}, nil)
			assertOneError(t, errs, tt.field, tt.code)
			if _, ok := a[tt.field]; ok {
				t.Errorf("a bad value was kept: %v", a[tt.field])
			}
		})
	}
}

func assertOneError(tb testing.TB, errs questionnaire.AnswerErrors, linkID, code string) {
	tb.Helper()
	if len(errs) != 1 {
		tb.Fatalf("got %d errors (%v), want one %s on %q", len(errs), errs, code, linkID)
	}
	if errs[0].LinkID != linkID || errs[0].Code != code {
		tb.Errorf("got %s on %q, want %s on %q", errs[0].Code, errs[0].LinkID, code, linkID)
	}
}

func TestValidate(t *testing.T) {
	d := mustParse(t, baseDefinition)
	decode := func(t *testing.T, f url.Values) questionnaire.Answers {
		t.Helper()
		a, errs := d.DecodeForm(f, nil)
		if len(errs) > 0 {
			t.Fatalf("decode: %v", errs)
		}
		return a
	}

	t.Run("OK", func(t *testing.T) {
		a := decode(t, validForm())
		kept, errs := d.Validate(a, nil, today)
		if len(errs) > 0 {
			t.Fatalf("errors: %v", errs)
		}
		if !reflect.DeepEqual(kept, a) {
			t.Errorf("kept %v, want all of %v", kept, a)
		}
	})

	tests := []struct {
		name   string
		edit   func(f url.Values)
		linkID string
		code   string
		params map[string]string
	}{
		{"ErrAnswerRequired on a required question left empty", func(f url.Values) { f.Del("qol") },
			"qol", questionnaire.AnswerRequired, nil},
		{"ErrAnswerRequired on a shown required follow-up", func(f url.Values) { f.Del("days"); f.Del("how") },
			"days", questionnaire.AnswerRequired, nil},
		{"ErrAnswerOption on a value that is not an option", func(f url.Values) { f.Set("used", "maybe"); f.Del("days"); f.Del("how") },
			"used", questionnaire.AnswerOption, nil},
		{"ErrAnswerOption on a ticked value that is not an option", func(f url.Values) { f["how"] = []string{"smoke", "sniff"} },
			"how", questionnaire.AnswerOption, nil},
		{"ErrAnswerExclusive on none ticked with another option", func(f url.Values) { f["how"] = []string{"smoke", "none"} },
			"how", questionnaire.AnswerExclusive, nil},
		{"ErrAnswerMin below the minimum", func(f url.Values) { f.Set("days", "0") },
			"days", questionnaire.AnswerMin, map[string]string{"min": "1"}},
		{"ErrAnswerMax above the maximum", func(f url.Values) { f.Set("days", "31") },
			"days", questionnaire.AnswerMax, map[string]string{"max": "30"}},
		{"ErrAnswerMax above a decimal maximum", func(f url.Values) { f.Set("units", "100,5") },
			"units", questionnaire.AnswerMax, map[string]string{"max": "100"}},
		{"ErrAnswerMax above the end of a scale", func(f url.Values) { f.Set("qol", "11") },
			"qol", questionnaire.AnswerMax, map[string]string{"max": "10"}},
		{"ErrAnswerDateMin before the earliest date", func(f url.Values) { f.Set("start", "1989-12-31") },
			"start", questionnaire.AnswerDateMin, map[string]string{"min": "1990-01-01"}},
		{"ErrAnswerDateMax after today", func(f url.Values) { f.Set("start", "2026-11-26") },
			"start", questionnaire.AnswerDateMax, map[string]string{"max": "2026-11-25"}},
		{"ErrAnswerMaxLength over the item's maxLength", func(f url.Values) { f.Set("note", strings.Repeat("æ", 21)) },
			"note", questionnaire.AnswerMaxLength, map[string]string{"max": "20"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := validForm()
			tt.edit(f)
			_, errs := d.Validate(decode(t, f), nil, today)
			assertOneError(t, errs, tt.linkID, tt.code)
			if tt.params != nil && !reflect.DeepEqual(errs[0].Params, tt.params) {
				t.Errorf("params = %v, want %v", errs[0].Params, tt.params)
			}
		})
	}

	t.Run("maxLength counts characters, not bytes", func(t *testing.T) {
		f := validForm()
		f.Set("note", strings.Repeat("æ", 20))
		if _, errs := d.Validate(decode(t, f), nil, today); len(errs) > 0 {
			t.Errorf("20 characters of 2 bytes each: %v", errs)
		}
	})

	t.Run("text without maxLength takes 2000 characters and no more", func(t *testing.T) {
		def := mustParse(t, `{"id": "t", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"},
			"items": [{"linkId": "t", "type": "text", "text": {"en": "T"}}]}`)
		a, _ := def.DecodeForm(url.Values{"t": {strings.Repeat("x", 2000)}}, nil)
		if _, errs := def.Validate(a, nil, today); len(errs) > 0 {
			t.Errorf("2000 characters: %v", errs)
		}
		a, _ = def.DecodeForm(url.Values{"t": {strings.Repeat("x", 2001)}}, nil)
		_, errs := def.Validate(a, nil, today)
		assertOneError(t, errs, "t", questionnaire.AnswerMaxLength)
	})

	t.Run("answers to hidden items are dropped, not rejected", func(t *testing.T) {
		f := validForm()
		f.Set("used", "no")      // hides days, and so how
		f.Set("days", "999")     // out of range, but hidden
		f["how"] = []string{"x"} // not an option, but hidden
		kept, errs := d.Validate(decode(t, f), nil, today)
		if len(errs) > 0 {
			t.Errorf("errors for hidden items: %v", errs)
		}
		for _, id := range []string{"days", "how"} {
			if _, ok := kept[id]; ok {
				t.Errorf("the answer to hidden %q was kept", id)
			}
		}
		if kept["used"].String != "no" {
			t.Error("the answer to a shown item was dropped")
		}
	})

	t.Run("required is checked only in scope", func(t *testing.T) {
		page1 := d.Pages()[0].Questions()
		f := url.Values{"used": {"yes"}, "days": {"1"}}
		if _, errs := d.Validate(decode(t, f), page1, today); len(errs) > 0 {
			t.Errorf("page 1 complete, yet: %v", errs)
		}
		_, errs := d.Validate(decode(t, f), nil, today)
		assertOneError(t, errs, "qol", questionnaire.AnswerRequired)
	})

	t.Run("errors come in document order", func(t *testing.T) {
		_, errs := d.Validate(questionnaire.Answers{}, nil, today)
		var got []string
		for _, e := range errs {
			got = append(got, e.LinkID)
		}
		if want := []string{"used", "qol"}; !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})

	t.Run("the answers given are not changed", func(t *testing.T) {
		a := decode(t, validForm())
		a["used"] = questionnaire.Value{Type: questionnaire.Choice, String: "no"}
		d.Validate(a, nil, today)
		if _, ok := a["days"]; !ok {
			t.Error("Validate deleted from its argument")
		}
	})
}

func TestDecodeJSON(t *testing.T) {
	d := mustParse(t, baseDefinition)

	t.Run("OK, and round trip through the answer list", func(t *testing.T) {
		want, _ := d.DecodeForm(validForm(), nil)
		data, err := d.MarshalAnswers(want)
		if err != nil {
			t.Fatal(err)
		}
		got, errs := d.DecodeJSON(data)
		if len(errs) > 0 {
			t.Fatalf("errors: %v", errs)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip:\n got  %#v\n want %#v\n via %s", got, want, data)
		}
	})

	t.Run("the list is typed and in document order", func(t *testing.T) {
		a, _ := d.DecodeForm(validForm(), nil)
		data, _ := d.MarshalAnswers(a)
		want := `[{"linkId":"used","value":"yes"},{"linkId":"days","value":12},{"linkId":"how","value":["smoke","inject"]},` +
			`{"linkId":"kids","value":false},{"linkId":"units","value":2.5},{"linkId":"qol","value":7},` +
			`{"linkId":"start","value":"2020-03-01"},{"linkId":"note","value":"Takk"}]`
		if string(data) != want {
			t.Errorf("got  %s\nwant %s", data, want)
		}
	})

	t.Run("null and empty values are unanswered", func(t *testing.T) {
		a, errs := d.DecodeJSON([]byte(`[{"linkId":"used","value":null},{"linkId":"how","value":[]},{"linkId":"note","value":" "}]`))
		if len(errs) > 0 || len(a) > 0 {
			t.Errorf("got %v, %v; want nothing", a, errs)
		}
	})

	tests := []struct {
		name, body, linkID, code string
	}{
		{"ErrAnswerMalformed on broken JSON", `[{"linkId":`, "", questionnaire.AnswerMalformed},
		{"ErrAnswerMalformed on an object instead of a list", `{"used":"yes"}`, "", questionnaire.AnswerMalformed},
		{"ErrAnswerMalformed on an unknown field", `[{"linkId":"used","value":"yes","valueCoding":{}}]`, "", questionnaire.AnswerMalformed},
		{"ErrAnswerUnknown on a linkId not in the definition", `[{"linkId":"nope","value":"yes"}]`, "nope", questionnaire.AnswerUnknown},
		{"ErrAnswerUnknown on a group", `[{"linkId":"p1","value":"yes"}]`, "p1", questionnaire.AnswerUnknown},
		{"ErrAnswerDuplicate on a linkId given twice", `[{"linkId":"used","value":"yes"},{"linkId":"used","value":"no"}]`, "used", questionnaire.AnswerDuplicate},
		{"ErrAnswerType on a number for a choice", `[{"linkId":"used","value":1}]`, "used", questionnaire.AnswerType},
		{"ErrAnswerType on a string for an integer", `[{"linkId":"days","value":"12"}]`, "days", questionnaire.AnswerType},
		{"ErrAnswerType on a string for a multichoice", `[{"linkId":"how","value":"smoke"}]`, "how", questionnaire.AnswerType},
		{"ErrAnswerType on a string for a boolean", `[{"linkId":"kids","value":"true"}]`, "kids", questionnaire.AnswerType},
		{"ErrAnswerInteger on a fraction", `[{"linkId":"days","value":1.5}]`, "days", questionnaire.AnswerInteger},
		{"ErrAnswerDecimal on a huge number", `[{"linkId":"units","value":1e300}]`, "units", questionnaire.AnswerDecimal},
		{"ErrAnswerDate on a bad date", `[{"linkId":"start","value":"2020-13-01"}]`, "start", questionnaire.AnswerDate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := d.DecodeJSON([]byte(tt.body))
			assertOneError(t, errs, tt.linkID, tt.code)
		})
	}
}

func TestValueForm(t *testing.T) {
	d := mustParse(t, baseDefinition)
	a, _ := d.DecodeForm(validForm(), nil)
	for id, v := range a {
		back, errs := d.DecodeForm(url.Values{id: v.Form()}, []*questionnaire.Item{d.Item(id)})
		if len(errs) > 0 || !back[id].Equal(v) {
			t.Errorf("%s: %v → %v → %v (%v)", id, v, v.Form(), back[id], errs)
		}
	}
	if b, _ := json.Marshal(a["units"].JSON()); string(b) != "2.5" {
		t.Errorf("decimal JSON = %s", b)
	}
}

func TestDecodeJSONIsStrictAboutKeys(t *testing.T) {
	d := mustParse(t, baseDefinition)
	for _, body := range []string{
		`[{"LINKID":"used","VALUE":"yes"}]`,
		`[{"linkId":"used","vAlue":"yes"}]`,
		`[{"linkId":"used","linkId":"kids","value":"yes"}]`,
		`[{"value":"yes"}]`,
		`[{"linkId":1,"value":"yes"}]`,
		`["used"]`,
	} {
		_, errs := d.DecodeJSON([]byte(body))
		if len(errs) != 1 || errs[0].Code != questionnaire.AnswerMalformed {
			t.Errorf("%s: %v, want %s", body, errs, questionnaire.AnswerMalformed)
		}
	}
}

func TestValidateDropsWhatIsNoAnswer(t *testing.T) {
	d := mustParse(t, baseDefinition)
	a := questionnaire.Answers{
		"intro": {Type: questionnaire.TextType, String: "not a question"}, // a display item
		"p1":    {Type: questionnaire.Choice, String: "x"},                // a group
		"how":   {Type: questionnaire.MultiChoice},                        // nothing ticked
		"note":  {Type: questionnaire.TextType},                           // empty text
		"used":  {Type: questionnaire.Choice},                             // empty choice
		"qol":   {Type: questionnaire.Scale, Number: 5},
	}
	kept, errs := d.Validate(a, nil, today)
	if len(kept) != 1 || kept["qol"].Number != 5 {
		t.Errorf("kept %v, want only qol", kept)
	}
	assertOneError(t, errs, "used", questionnaire.AnswerRequired)
	if out, _ := d.MarshalAnswers(kept); strings.Contains(string(out), "intro") {
		t.Errorf("a display item's answer would be sent: %s", out)
	}
}

// A choice that takes the patient's own answer (FHIR's open-choice): the
// own answer is its own form field, one answer for a choice, beside ticked
// options for a multichoice; it has no score.
func TestOtherAnswer(t *testing.T) {
	d := mustParse(t, `{"id": "other", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "items": [
		{"linkId": "drug", "type": "choice", "other": true, "text": {"en": "Which?"}, "required": true,
		 "options": [{"value": "a", "score": 1, "text": {"en": "Alcohol"}}, {"value": "c", "score": 2, "text": {"en": "Cannabis"}}]},
		{"linkId": "how", "type": "multichoice", "other": true, "text": {"en": "How?"},
		 "options": [{"value": "smoke", "score": 1, "text": {"en": "Smoke"}}, {"value": "none", "score": 0, "exclusive": true, "text": {"en": "None"}}]},
		{"linkId": "plain", "type": "choice", "text": {"en": "Plain"}, "options": [{"value": "x", "text": {"en": "X"}}]}],
		"scores": [{"id": "s", "method": "sum", "items": ["drug", "how"], "minAnswered": 1}]}`)
	today := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	decode := func(form url.Values) (questionnaire.Answers, questionnaire.AnswerErrors) {
		a, errs := d.DecodeForm(form, nil)
		if len(errs) > 0 {
			return a, errs
		}
		return d.Validate(a, nil, today)
	}

	a, errs := decode(url.Values{"drug:other": {"  ketamin \r\n "}, "how": {"smoke"}, "how:other": {"snus"}})
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if v := a["drug"]; v.String != "" || v.Other != "ketamin" || v.Empty() {
		t.Errorf("drug = %#v, want only the own answer, trimmed", v)
	}
	if v := a["how"]; len(v.Strings) != 1 || v.Other != "snus" {
		t.Errorf("how = %#v", v)
	}
	// The own answer is no option: the choice has no score; a ticked option beside it does.
	if s := d.ComputeScores(a); s[0].Value == nil || *s[0].Value != 1 || s[0].Answered != 1 {
		t.Errorf("score = %+v, want 1 from how alone", s[0])
	}
	// Through the form fields and the JSON answer format and back.
	for id, v := range a {
		back, _ := d.DecodeForm(v.FormFields(id), nil)
		if !back[id].Equal(v) {
			t.Errorf("%s through the form: %#v, want %#v", id, back[id], v)
		}
	}
	js, _ := d.MarshalAnswers(a)
	if want := `[{"linkId":"drug","value":null,"other":"ketamin"},{"linkId":"how","value":["smoke"],"other":"snus"}]`; string(js) != want {
		t.Errorf("JSON = %s, want %s", js, want)
	}
	back, jerrs := d.DecodeJSON(js)
	if len(jerrs) > 0 || !back["drug"].Equal(a["drug"]) || !back["how"].Equal(a["how"]) {
		t.Errorf("JSON back: %#v %v", back, jerrs)
	}

	for _, tt := range []struct {
		name string
		form url.Values
		code string
	}{
		{"an option and an own answer to a choice", url.Values{"drug": {"a"}, "drug:other": {"ketamin"}}, questionnaire.AnswerOtherBoth},
		{"none of these with an own answer", url.Values{"drug": {"a"}, "how": {"none"}, "how:other": {"snus"}}, "how:" + questionnaire.AnswerExclusive},
		{"an own answer that is too long", url.Values{"drug:other": {strings.Repeat("å", questionnaire.OtherMaxLength+1)}}, questionnaire.AnswerMaxLength},
		{"an own answer with a control character", url.Values{"drug:other": {"a\x00b"}}, questionnaire.AnswerText},
		{"only blanks is no answer", url.Values{"drug:other": {"   "}}, questionnaire.AnswerRequired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := decode(tt.form)
			id, code, ok := strings.Cut(tt.code, ":")
			if !ok {
				id, code = "drug", tt.code
			}
			assertOneError(t, errs, id, code)
		})
	}
	// On an item that takes no own answer, the field is ignored in a form
	// and refused in JSON.
	if a, _ := d.DecodeForm(url.Values{"drug": {"a"}, "plain:other": {"y"}}, nil); a["plain"].Other != "" {
		t.Errorf("plain:other was kept: %#v", a["plain"])
	}
	if _, errs := d.DecodeJSON([]byte(`[{"linkId": "plain", "value": "x", "other": "y"}]`)); len(errs) != 1 || errs[0].Code != questionnaire.AnswerType {
		t.Errorf("JSON other on plain: %v", errs)
	}
}

func TestInitialAndTextChecks(t *testing.T) {
	d := mustParse(t, `{"id": "init", "version": "1.0.0", "languages": ["en"], "title": {"en": "T"}, "items": [
		{"linkId": "drug", "type": "choice", "initial": "c", "text": {"en": "Which?"},
		 "options": [{"value": "a", "text": {"en": "Alcohol"}}, {"value": "c", "text": {"en": "Cannabis"}}]},
		{"linkId": "how", "type": "multichoice", "initial": ["smoke", "eat"], "text": {"en": "How?"},
		 "options": [{"value": "eat", "text": {"en": "Eat"}}, {"value": "smoke", "text": {"en": "Smoke"}}]},
		{"linkId": "unit", "type": "text", "readOnly": true, "initial": "Avd. Rus", "text": {"en": "Unit"}},
		{"linkId": "kids", "type": "boolean", "initial": false, "text": {"en": "Children?"}},
		{"linkId": "days", "type": "integer", "initial": 3, "max": 30, "text": {"en": "Days?"}},
		{"linkId": "since", "type": "date", "initial": "2026-01-01", "maxDate": "today", "text": {"en": "Since?"}},
		{"linkId": "phone", "type": "text", "pattern": "[0-9]{8}", "patternHint": {"en": "8 digits"}, "text": {"en": "Phone"}},
		{"linkId": "why", "type": "text", "minLength": 3, "text": {"en": "Why?"}},
		{"linkId": "plain", "type": "text", "text": {"en": "Plain"}}]}`)

	want := map[string][]string{"drug": {"c"}, "how": {"eat", "smoke"}, "unit": {"Avd. Rus"}, "kids": {"false"}, "days": {"3"}, "since": {"2026-01-01"}}
	if got := d.InitialForm(); !reflect.DeepEqual(got, want) {
		t.Errorf("InitialForm = %v, want %v", got, want)
	}
	if _, ok := d.Item("plain").InitialValue(); ok {
		t.Error("an item without initial has an initial value")
	}
	if !d.Item("unit").ReadOnly {
		t.Error("readOnly was not read")
	}
	today := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	// The initial answers are answers like any other.
	a, errs := d.DecodeForm(d.InitialForm(), nil)
	if _, verrs := d.Validate(a, nil, today); len(errs)+len(verrs) > 0 {
		t.Fatalf("the initial answers do not validate: %v %v", errs, verrs)
	}
	for _, tt := range []struct {
		id, value, code string
	}{
		{"phone", "1234567", questionnaire.AnswerPattern},
		{"phone", "123456789", questionnaire.AnswerPattern}, // anchored: a match inside is not enough
		{"phone", "1234 5678", questionnaire.AnswerPattern},
		{"phone", "12345678", ""},
		{"why", "no", questionnaire.AnswerMinLength},
		{"why", "nåå", ""}, // characters, not bytes
		{"why", "  no  ", questionnaire.AnswerMinLength},
	} {
		a, errs := d.DecodeForm(url.Values{tt.id: {tt.value}}, nil)
		_, verrs := d.Validate(a, nil, today)
		errs = append(errs, verrs...)
		if tt.code == "" {
			if len(errs) > 0 {
				t.Errorf("%s = %q: %v, want no error", tt.id, tt.value, errs)
			}
			continue
		}
		assertOneError(t, errs, tt.id, tt.code)
		if tt.code == questionnaire.AnswerMinLength && errs[0].Params["min"] != "3" {
			t.Errorf("minLength error params = %v", errs[0].Params)
		}
	}
}
