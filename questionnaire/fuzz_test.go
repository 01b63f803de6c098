package questionnaire_test

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"eprom/questionnaire"
)

// seedDefinitions adds the test definitions and the shipped ones to the corpus.
func seedDefinitions(f *testing.F) {
	for _, s := range []string{baseDefinition, chain, scored, `{}`, `[]`, `{"items": [{"items": [{}]}]}`} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("../schemas/*.json")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
}

// FuzzParse: Parse never panics, and what it accepts has a digest that
// survives canonicalization and a second parse.
func FuzzParse(f *testing.F) {
	seedDefinitions(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := questionnaire.Parse(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without text")
			}
			return
		}
		canon, err := questionnaire.Canonical(data)
		if err != nil {
			t.Fatalf("accepted, but no canonical form: %v", err)
		}
		d2, err := questionnaire.Parse(canon)
		if err != nil {
			t.Fatalf("the canonical form does not parse: %v", err)
		}
		if d.Digest() != d2.Digest() {
			t.Fatalf("digest %s, of the canonical form %s", d.Digest(), d2.Digest())
		}
		// Every accepted definition can be answered, validated and scored.
		_, errs := d.Validate(questionnaire.Answers{}, nil, today)
		for _, e := range errs {
			if e.Code != questionnaire.AnswerRequired {
				t.Fatalf("empty answers: %v", e)
			}
		}
		d.ComputeScores(nil)
	})
}

var answerCodes = map[string]bool{
	questionnaire.AnswerRequired: true, questionnaire.AnswerOption: true, questionnaire.AnswerExclusive: true,
	questionnaire.AnswerSingle: true, questionnaire.AnswerBoolean: true, questionnaire.AnswerInteger: true,
	questionnaire.AnswerDecimal: true, questionnaire.AnswerDate: true, questionnaire.AnswerMin: true,
	questionnaire.AnswerMax: true, questionnaire.AnswerDateMin: true, questionnaire.AnswerDateMax: true,
	questionnaire.AnswerMaxLength: true, questionnaire.AnswerText: true, questionnaire.AnswerType: true,
	questionnaire.AnswerUnknown: true, questionnaire.AnswerDuplicate: true, questionnaire.AnswerMalformed: true,
	questionnaire.AnswerOtherBoth: true,
}

// checkAnswers asserts what holds for any decoded answers: known error
// codes on real items, values that round-trip through the form, and
// validation that only keeps shown answers.
func checkAnswers(t *testing.T, d *questionnaire.Definition, a questionnaire.Answers, errs questionnaire.AnswerErrors) {
	for _, e := range errs {
		if !answerCodes[e.Code] {
			t.Fatalf("unknown error code %q", e.Code)
		}
		if e.Code != questionnaire.AnswerMalformed && e.Code != questionnaire.AnswerUnknown && d.Item(e.LinkID) == nil {
			t.Fatalf("error on an item that does not exist: %v", e)
		}
	}
	for id, v := range a {
		it := d.Item(id)
		if it == nil || it.Type != v.Type {
			t.Fatalf("answer %q of type %s for item %v", id, v.Type, it)
		}
		back, berrs := d.DecodeForm(v.FormFields(id), []*questionnaire.Item{it})
		if len(berrs) > 0 || !back[id].Equal(v) {
			t.Fatalf("%s: %#v does not round-trip through the form: %#v %v", id, v, back[id], berrs)
		}
	}
	kept, verrs := d.Validate(a, nil, today)
	enabled := d.Enabled(kept)
	for id := range kept {
		if !enabled[id] {
			t.Fatalf("Validate kept the answer to hidden %q", id)
		}
	}
	for _, e := range verrs {
		if !answerCodes[e.Code] {
			t.Fatalf("unknown error code %q", e.Code)
		}
	}
	d.ComputeScores(kept)
}

// FuzzDecodeForm: any urlencoded body decodes without panicking into
// answers that are consistent with the definition.
func FuzzDecodeForm(f *testing.F) {
	d := mustParse(f, baseDefinition)
	f.Add(validForm().Encode())
	f.Add("used=yes&days=3&how=smoke&how=inject&how=none&kids=true&units=1%2C5&qol=10&start=2026-11-25&note=hei")
	f.Add("used=no&days=-1&units=1e9&qol=x&start=2026-02-30&note=%00%ff")
	f.Add("days=%EF%BC%91%EF%BC%92&units=+.5&qol=007")
	f.Add("used=yes&days=3&how:other=p%C3%A5+fest&how=none&how:other=%00")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		a, errs := d.DecodeForm(form, nil)
		checkAnswers(t, d, a, errs)
	})
}

// FuzzDecodeJSON: any JSON body decodes without panicking into answers that
// are consistent with the definition.
func FuzzDecodeJSON(f *testing.F) {
	d := mustParse(f, baseDefinition)
	a, _ := d.DecodeForm(validForm(), nil)
	good, _ := d.MarshalAnswers(a)
	f.Add(good)
	f.Add([]byte(`[{"linkId":"days","value":1e400},{"linkId":"units","value":-0},{"linkId":"how","value":[null]}]`))
	f.Add([]byte(`[{"linkId":"note","value":"\u0000"},{"linkId":"kids","value":null},{"linkId":"x"}]`))
	f.Add([]byte(strings.Repeat("[", 100)))
	f.Add([]byte(`[{"linkId":"how","value":null,"other":"selv"},{"linkId":"used","value":"yes","other":"x"},{"linkId":"kids","other":"1"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, errs := d.DecodeJSON(body)
		checkAnswers(t, d, a, errs)
	})
}
