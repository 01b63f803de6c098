package schemas_test

import (
	"net/url"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/schemas"
)

// maalepunktForm answers every page of kvarus-maalepunkt, follow-ups included.
var maalepunktForm = url.Values{
	"behandling-start": {"2025-06-01"}, "bolig": {"egen"}, "arbeid": {"jobb-deltid", "trygd"}, "barn": {"true"}, "barn-bor": {"false"},
	"alkohol": {"yes"}, "alkohol-dager": {"4"}, "alkohol-enheter": {"6,5"}, "cannabis": {"no"}, "beroligende": {"no"},
	"opioider": {"yes"}, "opioider-dager": {"20"}, "opioider-inntak": {"injisert", "roykt"}, "stimulerende": {"no"},
	"andre": {"no"}, "deling": {"no"}, "livskvalitet": {"6"}, "angst": {"2"}, "nedfor": {"3"}, "sovn": {"1"},
	"uro": {"2"}, "haplos": {"1"}, "bra": {"1"}, "hjelp-fornoyd": {"4"}, "hjelp-viktig": {"partly"}, "til-behandler": {"Takk for hjelpen."},
}

func maalepunkt(b *testing.B) *questionnaire.Definition {
	b.Helper()
	d, err := mustLoad(b).Get("kvarus-maalepunkt", "")
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkParse: strict decoding, semantic checks and the digest of the
// largest shipped definition.
func BenchmarkParse(b *testing.B) {
	data := shippedFiles(b)["kvarus-maalepunkt-1.0.0.json"]
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := questionnaire.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckWithJSONSchema: what loading costs per file at start-up.
func BenchmarkCheckWithJSONSchema(b *testing.B) {
	data := shippedFiles(b)["kvarus-maalepunkt-1.0.0.json"]
	for b.Loop() {
		if f := schemas.Check("f.json", data); f.Definition == nil {
			b.Fatal(f.Problems)
		}
	}
}

// BenchmarkDecodeAndValidate: one full submission's form decoded and validated.
func BenchmarkDecodeAndValidate(b *testing.B) {
	d := maalepunkt(b)
	now := time.Now()
	for b.Loop() {
		a, errs := d.DecodeForm(maalepunktForm, nil)
		if len(errs) > 0 {
			b.Fatal(errs)
		}
		if _, errs := d.Validate(a, nil, now); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkScores: every score of one submission.
func BenchmarkScores(b *testing.B) {
	d := maalepunkt(b)
	a, errs := d.DecodeForm(maalepunktForm, nil)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	for b.Loop() {
		d.ComputeScores(a)
	}
}
