package fhir_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"eprom/questionnaire"
	"eprom/questionnaire/fhir"
	"eprom/schemas"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// shipped returns every shipped definition, parsed.
func shipped(t *testing.T) []*questionnaire.Definition {
	t.Helper()
	names, err := fs.Glob(schemas.Shipped(), "*-*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no shipped definitions: %v", err)
	}
	var defs []*questionnaire.Definition
	for _, n := range names {
		data, err := fs.ReadFile(schemas.Shipped(), n)
		if err != nil {
			t.Fatal(err)
		}
		d, err := questionnaire.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		defs = append(defs, d)
	}
	return defs
}

// prefilledForm has an initial answer of every type, a read-only question
// and text checks: what the shipped definitions do not use.
const prefilledForm = `{
  "id": "prefilled", "version": "1.0.0", "languages": ["nb", "en"], "title": {"nb": "Forhåndsutfylt", "en": "Prefilled"},
  "items": [
    {"linkId": "intro", "type": "display", "text": {"nb": "Les dette først. Ring 113 ved fare.", "en": "Read this first. Call 113 in danger."},
     "markup": {"nb": "<p>Les <strong>dette</strong> først.</p><ul><li>Ring <a href=\"tel:113\">113</a> ved fare.</li></ul>", "en": "<p>Read <em>this</em> first.</p>"}},
    {"linkId": "unit", "type": "text", "readOnly": true, "initial": "Avd. Rus", "text": {"nb": "Enhet", "en": "Unit"}},
    {"linkId": "drug", "type": "choice", "initial": "c", "other": true, "text": {"nb": "Hva?", "en": "What?"},
     "options": [{"value": "a", "text": {"nb": "Alkohol", "en": "Alcohol"}}, {"value": "c", "text": {"nb": "Cannabis", "en": "Cannabis"}}]},
    {"linkId": "how", "type": "multichoice", "initial": ["eat", "smoke"], "text": {"nb": "Hvordan?", "en": "How?"},
     "options": [{"value": "eat", "text": {"nb": "Spise", "en": "Eat"}}, {"value": "smoke", "text": {"nb": "Røyke", "en": "Smoke"}},
                 {"value": "none", "exclusive": true, "text": {"nb": "Ingen", "en": "None"}}]},
    {"linkId": "kids", "type": "boolean", "initial": false, "text": {"nb": "Barn?", "en": "Children?"}, "markup": {"nb": "Har du <b>barn</b>?"}},
    {"linkId": "days", "type": "integer", "initial": 3, "min": 0, "max": 30, "text": {"nb": "Dager?", "en": "Days?"}},
    {"linkId": "units", "type": "decimal", "initial": 2.5, "unit": {"nb": "enheter", "en": "units"}, "text": {"nb": "Enheter?", "en": "Units?"}},
    {"linkId": "since", "type": "date", "initial": "2026-01-01", "maxDate": "today", "text": {"nb": "Siden?", "en": "Since?"}},
    {"linkId": "qol", "type": "scale", "initial": 5, "min": 0, "max": 10, "text": {"nb": "Livskvalitet", "en": "Quality of life"}},
    {"linkId": "phone", "type": "text", "pattern": "[0-9]{8}", "patternHint": {"nb": "8 siffer", "en": "8 digits"}, "text": {"nb": "Telefon", "en": "Phone"}},
    {"linkId": "why", "type": "text", "minLength": 3, "maxLength": 200, "multiline": true, "initial": "Fordi", "text": {"nb": "Hvorfor?", "en": "Why?"}}
  ]}`

// exported returns the shipped definitions and prefilledForm.
func exported(t *testing.T) []*questionnaire.Definition {
	d, err := questionnaire.Parse([]byte(prefilledForm))
	if err != nil {
		t.Fatal(err)
	}
	return append(shipped(t), d)
}

// Export, then import: the same definition, to the digest, with an empty
// report, for every shipped definition and one that uses what they do not.
func TestExportRoundTrip(t *testing.T) {
	for _, d := range exported(t) {
		t.Run(d.ID+"@"+d.Version, func(t *testing.T) {
			out, err := fhir.Export(d)
			if err != nil {
				t.Fatal(err)
			}
			res, err := fhir.Import(out, false)
			if err != nil {
				t.Fatalf("import of the export: %v\n%s", err, out)
			}
			for _, f := range res.Report {
				t.Errorf("report: %s", f)
			}
			if got := res.Definition.Digest(); got != d.Digest() {
				orig, _ := json.MarshalIndent(d, "", " ")
				t.Errorf("digest %s, want %s\nimported:\n%s\noriginal:\n%s", got, d.Digest(), res.JSON, orig)
			}
		})
	}
}

// The export is a Questionnaire an SDC renderer reads: FHIR's own elements
// for what FHIR has, the core extensions for ordinal values, units and
// bounds, and a plain sum as a calculatedExpression.
func TestExportUsesFHIRElements(t *testing.T) {
	var audit *questionnaire.Definition
	for _, d := range shipped(t) {
		if d.ID == "audit" && (audit == nil || d.Version > audit.Version) {
			audit = d
		}
	}
	out, err := fhir.Export(audit)
	if err != nil {
		t.Fatal(err)
	}
	var q struct {
		ResourceType, URL, Version, Status, Language string
		Item                                         []struct {
			LinkID, Type string
			Item         []struct {
				LinkID, Type, Text string
				Required           bool
				AnswerOption       []struct {
					ValueCoding struct {
						Code, Display string
						Extension     []struct {
							URL          string
							ValueDecimal *float64
						}
					}
				}
				EnableWhen []map[string]any
			}
			Extension []struct {
				URL             string
				ValueExpression *struct{ Language, Expression string }
			}
		}
	}
	if err := json.Unmarshal(out, &q); err != nil {
		t.Fatal(err)
	}
	if q.ResourceType != "Questionnaire" || q.URL != "urn:eprom:questionnaire:audit" || q.Version != audit.Version || q.Status != "active" || q.Language != "nb" {
		t.Errorf("header: %+v", q)
	}
	q1 := q.Item[0].Item[0]
	for _, it := range q.Item {
		for _, c := range it.Item {
			if c.LinkID == "q1" {
				q1 = c
			}
		}
	}
	if q1.Type != "choice" || !q1.Required || len(q1.AnswerOption) == 0 {
		t.Fatalf("q1: %+v", q1)
	}
	o := q1.AnswerOption[len(q1.AnswerOption)-1].ValueCoding
	if len(o.Extension) != 1 || !strings.HasSuffix(o.Extension[0].URL, "/ordinalValue") || o.Extension[0].ValueDecimal == nil || *o.Extension[0].ValueDecimal != 4 {
		t.Errorf("q1's last option carries no ordinalValue 4: %+v", o)
	}
	sawCalc := false
	for _, it := range q.Item {
		for _, e := range it.Extension {
			if strings.HasSuffix(e.URL, "sdc-questionnaire-calculatedExpression") && e.ValueExpression != nil {
				sawCalc = e.ValueExpression.Language == "text/fhirpath" && strings.Contains(e.ValueExpression.Expression, "'q1'")
			}
		}
	}
	if !sawCalc {
		t.Errorf("no FHIRPath sum for the AUDIT total:\n%s", out)
	}
}

// A calculatedExpression that is a plain sum of ordinal values becomes a
// score; any other is a report line, and the item is not asked.
// FHIR's initial answers, read-only questions, minLength and regex become
// the format's initial, readOnly, minLength and pattern; what does not fit
// is reported and left out.
func TestImportInitialReadOnlyAndTextChecks(t *testing.T) {
	q := `{"resourceType": "Questionnaire", "status": "active", "language": "nb", "title": "T", "item": [
	  {"linkId": "unit", "type": "string", "text": "Enhet", "readOnly": true, "required": true, "initial": [{"valueString": "Avd. Rus"}]},
	  {"linkId": "drug", "type": "choice", "text": "Hva?", "answerOption": [
	    {"valueCoding": {"system": "urn:x", "code": "A 1", "display": "Alkohol"}},
	    {"valueCoding": {"system": "urn:x", "code": "C", "display": "Cannabis"}, "initialSelected": true}]},
	  {"linkId": "how", "type": "choice", "repeats": true, "text": "Hvordan?",
	   "answerOption": [{"valueString": "spise"}, {"valueString": "røyke"}],
	   "initial": [{"valueString": "spise"}, {"valueString": "røyke"}]},
	  {"linkId": "when", "type": "dateTime", "text": "Når?", "initial": [{"valueDateTime": "2026-03-01T10:00:00+01:00"}]},
	  {"linkId": "qty", "type": "quantity", "text": "Mengde", "initial": [{"valueQuantity": {"value": 1.5, "unit": "l"}}]},
	  {"linkId": "days", "type": "integer", "text": "Dager", "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/maxValue", "valueInteger": 7}],
	   "initial": [{"valueInteger": 9}]},
	  {"linkId": "flag", "type": "boolean", "text": "Flagg", "readOnly": true},
	  {"linkId": "mail", "type": "string", "text": "E-post", "extension": [
	    {"url": "http://hl7.org/fhir/StructureDefinition/regex", "valueString": "[^@ ]+@[^@ ]+"},
	    {"url": "http://ehelse.no/fhir/StructureDefinition/validationtext", "valueString": "en e-postadresse"},
	    {"url": "http://hl7.org/fhir/StructureDefinition/minLength", "valueInteger": 5}]},
	  {"linkId": "look", "type": "string", "text": "Ord", "extension": [
	    {"url": "http://hl7.org/fhir/StructureDefinition/regex", "valueString": "(?=a)a"}]}
	]}`
	res, err := fhir.Import([]byte(q), false)
	if err != nil {
		t.Fatal(err)
	}
	d := res.Definition
	want := map[string][]string{"unit": {"Avd. Rus"}, "drug": {"C"}, "how": {"spise", "r-yke"}, "when": {"2026-03-01"}, "qty": {"1.5"}}
	if got := d.InitialForm(); !reflect.DeepEqual(got, want) {
		t.Errorf("initial answers %v, want %v", got, want)
	}
	if u := d.Item("unit"); !u.ReadOnly || u.Required {
		t.Errorf("unit: readOnly %v required %v, want read-only and not required", u.ReadOnly, u.Required)
	}
	if m := d.Item("mail"); m.Pattern != "[^@ ]+@[^@ ]+" || m.PatternHint["nb"] != "en e-postadresse" || m.MinLength == nil || *m.MinLength != 5 {
		t.Errorf("mail: pattern %q hint %v minLength %v", m.Pattern, m.PatternHint, m.MinLength)
	}
	if d.Item("look").Pattern != "" {
		t.Error("a pattern Go cannot read was kept")
	}
	report := ""
	for _, f := range res.Report {
		report += f.String() + "\n"
	}
	for _, want := range []string{
		"item[0].required: required",  // dropped from the read-only question, said so
		"item[5].initial[0]: initial", // 9 is over the maximum of 7
		"item[6].readOnly: readOnly",  // read-only without an answer
		"item[8].extension: regex: not a pattern Go's RE2 syntax reads",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "validationtext") || strings.Contains(report, "minLength") {
		t.Errorf("the report names what was mapped:\n%s", report)
	}
}

func TestImportCalculatedExpression(t *testing.T) {
	form := func(expr string) []byte {
		return []byte(`{"resourceType": "Questionnaire", "id": "calc", "language": "en", "status": "active", "item": [
		 {"linkId": "a", "type": "choice", "text": "A", "answerOption": [
		   {"valueCoding": {"code": "x", "display": "X", "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue", "valueDecimal": 1}]}},
		   {"valueCoding": {"code": "y", "display": "Y", "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue", "valueDecimal": 3}]}}]},
		 {"linkId": "b", "type": "choice", "text": "B", "answerOption": [
		   {"valueCoding": {"code": "x", "display": "X", "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue", "valueDecimal": 2}]}}]},
		 {"linkId": "sum", "type": "decimal", "text": "Sum", "readOnly": true, "extension": [
		   {"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression",
		    "valueExpression": {"language": "text/fhirpath", "expression": ` + jsonString(expr) + `}}]}]}`)
	}
	for _, expr := range []string{
		"%resource.repeat(item).where(linkId in ('a' | 'b')).answer.value.ordinal().sum()",
		"%resource.item.where(linkId='a').answer.value.ordinal() + %resource.item.where(linkId = 'b').answer.value.weight()",
	} {
		res, err := fhir.Import(form(expr), false)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		d := res.Definition
		if len(d.Scores) != 1 || strings.Join(d.Scores[0].Items, ",") != "a,b" || d.Item("sum") != nil {
			t.Errorf("%s: scores %+v, item sum %v", expr, d.Scores, d.Item("sum"))
			continue
		}
		a := questionnaire.Answers{"a": {Type: questionnaire.Choice, String: "y"}, "b": {Type: questionnaire.Choice, String: "x"}}
		if got := d.ComputeScores(a); len(got) != 1 || got[0].Value == nil || *got[0].Value != 5 {
			t.Errorf("%s: score of y + x = %+v, want 3 + 2 = 5", expr, got)
		}
	}
	res, err := fhir.Import(form("iif(%resource.item.where(linkId='a').answer.exists(), 1, 0)"), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Definition.Scores) != 0 || res.Definition.Item("sum") != nil || len(res.Report) != 1 || !strings.Contains(res.Report[0].Why, "unsupported") {
		t.Errorf("an expression that is not a sum: scores %+v, report %v", res.Definition.Scores, res.Report)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Every shipped definition exports as a Questionnaire the R4 JSON Schema
// accepts.
func TestExportValidatesAgainstR4Schema(t *testing.T) {
	qrTestdata(t, "the export against the R4 JSON Schema")
	schemas, err := r4Schemas()
	sch := schemas["Questionnaire"]
	if err != nil {
		t.Fatalf("the R4 JSON Schema: %v", err)
	}
	for _, d := range exported(t) {
		out, err := fhir.Export(d)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s@%s: not a valid R4 Questionnaire: %v", d.ID, d.Version, err)
		}
	}
}

// rendering-xhtml and rendering-markdown become markup, written anew with
// the page's elements; a script, an attribute or a javascript: link never
// gets through, and what is left out is reported.
func TestImportMarkup(t *testing.T) {
	q := `{"resourceType": "Questionnaire", "status": "active", "language": "nb", "title": "T", "item": [
	  {"linkId": "intro", "type": "display", "text": "Les dette",
	   "_text": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/rendering-xhtml",
	     "valueString": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p style=\"color:red\">Les <strong>dette</strong></p><script>alert(1)</script><a href=\"javascript:alert(2)\">her</a></div>"}]}},
	  {"linkId": "md", "type": "display", "text": "Punkt",
	   "_text": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/rendering-markdown",
	     "valueString": "# Viktig\n\n- **ett** punkt\n- [helsenorge](https://helsenorge.no)\n\n<img src=x onerror=alert(3)>"}]}},
	  {"linkId": "q", "type": "boolean", "text": "Har du barn?",
	   "_text": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/rendering-xhtml",
	     "valueString": "<p>Har du <b>barn</b>?</p><p>Under 18 år.</p>"}]}}
	]}`
	res, err := fhir.Import([]byte(q), false)
	if err != nil {
		t.Fatal(err)
	}
	d := res.Definition
	for id, want := range map[string]string{
		"intro": `<p>Les <strong>dette</strong></p><a>her</a>`,
		"md":    "Viktig\n<ul>\n<li><strong>ett</strong> punkt</li>\n<li><a href=\"https://helsenorge.no\">helsenorge</a></li>\n</ul>",
		"q":     `Har du <b>barn</b>?<br/>Under 18 år.`,
	} {
		if got := d.Item(id).MarkupHTML("nb"); got != want {
			t.Errorf("%s: markup %q, want %q", id, got, want)
		}
	}
	report := ""
	for _, f := range res.Report {
		report += f.String() + "\n"
	}
	for _, want := range []string{"attribute style on p", "element script and its content", "a link that is not https, mailto or tel",
		"element h1", "HTML written in the Markdown"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
}
