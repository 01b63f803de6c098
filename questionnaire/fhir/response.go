package fhir

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"eprom/questionnaire"
)

// QuestionnaireResponse returns an answered response to the definition as
// an R4 QuestionnaireResponse (DESIGN.md §12), the envelope's
// questionnaireResponse: status completed, questionnaire the definition's
// canonical (url|version), authored the time it was sent, language the
// response's, and an item tree that mirrors the definition's: a group only
// where something in it is answered, no display items, each question with
// its text in the response's language and its answers typed:
//
//	choice       valueCoding: the option's system and code (FHIRCode), its text as display;
//	             or valueString, the patient's own answer (open-choice)
//	multichoice  one valueCoding a ticked option, in the definition's order,
//	             then valueString, the patient's own answer, if any
//	boolean      valueBoolean
//	integer      valueInteger
//	scale        valueInteger
//	decimal      valueDecimal, or valueQuantity (value and unit) when the item has a unit
//	date         valueDate
//	text         valueString
//
// Scores are not in it: they are the envelope's scores. Nor is the patient,
// whom the envelope names (patientRef). Returns an error, naming linkIds
// only, never an answer, when r is not an answered response or its answers
// do not fit the definition.
func QuestionnaireResponse(def *questionnaire.Definition, r *questionnaire.Response) (json.RawMessage, error) {
	switch {
	case r.Type != questionnaire.ResponseAnswered:
		return nil, fmt.Errorf("fhir: questionnaire response: a %s has none", r.Type)
	case r.SubmittedAt.IsZero():
		return nil, errors.New("fhir: questionnaire response: no time of submission")
	}
	raw, err := json.Marshal(r.Answers)
	if err != nil {
		return nil, fmt.Errorf("fhir: questionnaire response: %w", err)
	}
	a, errs := def.DecodeJSON(raw)
	if len(errs) > 0 {
		return nil, fmt.Errorf("fhir: questionnaire response: answers that do not fit %s@%s: %w", def.ID, def.Version, errs)
	}
	return QuestionnaireResponseOf(def, r, a)
}

// QuestionnaireResponseOf is QuestionnaireResponse for a caller that has
// the response's answers decoded already, as a, the answers r.Answers
// lists (def.List(a)): the patient pages, which would otherwise encode and
// decode them once more on every Send.
func QuestionnaireResponseOf(def *questionnaire.Definition, r *questionnaire.Response, a questionnaire.Answers) (json.RawMessage, error) {
	switch {
	case r.Type != questionnaire.ResponseAnswered:
		return nil, fmt.Errorf("fhir: questionnaire response: a %s has none", r.Type)
	case r.SubmittedAt.IsZero():
		return nil, errors.New("fhir: questionnaire response: no time of submission")
	}
	b := &qrBuilder{answers: a, lang: r.Language}
	items, err := b.items(def.Items)
	if err != nil {
		return nil, err
	}
	qr := qrResource{
		ResourceType:  "QuestionnaireResponse",
		Questionnaire: def.Canonical(),
		Status:        "completed",
		Authored:      r.SubmittedAt.Format(time.RFC3339Nano),
		Language:      r.Language,
		Item:          items,
	}
	out, err := json.Marshal(qr)
	if err != nil {
		return nil, fmt.Errorf("fhir: questionnaire response: %w", err)
	}
	return out, nil
}

// The parts of an R4 QuestionnaireResponse that are written.
type (
	qrResource struct {
		ResourceType  string    `json:"resourceType"`
		Questionnaire string    `json:"questionnaire"`
		Status        string    `json:"status"`
		Authored      string    `json:"authored"`
		Language      string    `json:"language,omitempty"`
		Item          []*qrItem `json:"item,omitempty"`
	}
	qrItem struct {
		LinkID string     `json:"linkId"`
		Text   string     `json:"text,omitempty"`
		Answer []qrAnswer `json:"answer,omitempty"`
		Item   []*qrItem  `json:"item,omitempty"`
	}
	qrAnswer struct {
		ValueBoolean  *bool       `json:"valueBoolean,omitempty"`
		ValueDecimal  json.Number `json:"valueDecimal,omitempty"`
		ValueInteger  json.Number `json:"valueInteger,omitempty"`
		ValueDate     string      `json:"valueDate,omitempty"`
		ValueString   string      `json:"valueString,omitempty"`
		ValueCoding   *qrCoding   `json:"valueCoding,omitempty"`
		ValueQuantity *qrQuantity `json:"valueQuantity,omitempty"`
	}
	qrCoding struct {
		System  string `json:"system,omitempty"`
		Code    string `json:"code"`
		Display string `json:"display,omitempty"`
	}
	qrQuantity struct {
		Value json.Number `json:"value"`
		Unit  string      `json:"unit,omitempty"`
	}
)

type qrBuilder struct {
	answers questionnaire.Answers
	lang    string
}

// items mirrors a list of the definition's items: the answered questions,
// and the groups with something answered in them.
func (b *qrBuilder) items(list []*questionnaire.Item) ([]*qrItem, error) {
	var out []*qrItem
	for _, it := range list {
		switch {
		case it.Type == questionnaire.Group:
			children, err := b.items(it.Items)
			if err != nil {
				return nil, err
			}
			if len(children) > 0 {
				out = append(out, &qrItem{LinkID: it.LinkID, Text: b.text(it.Text), Item: children})
			}
		case it.Type.Answerable():
			v, ok := b.answers[it.LinkID]
			if !ok || v.Empty() {
				continue
			}
			answers, err := b.answer(it, v)
			if err != nil {
				return nil, err
			}
			out = append(out, &qrItem{LinkID: it.LinkID, Text: b.text(it.Text), Answer: answers})
		}
	}
	return out, nil
}

// answer types one answer as FHIR's answer list.
func (b *qrBuilder) answer(it *questionnaire.Item, v questionnaire.Value) ([]qrAnswer, error) {
	switch it.Type {
	case questionnaire.Choice, questionnaire.MultiChoice:
		ticked := v.Strings
		if it.Type == questionnaire.Choice && v.String != "" {
			ticked = []string{v.String}
		}
		var out []qrAnswer
		for i := range it.Options {
			for _, s := range ticked {
				if s == it.Options[i].Value {
					out = append(out, qrAnswer{ValueCoding: b.coding(&it.Options[i])})
					break
				}
			}
		}
		if len(out) != len(ticked) {
			return nil, fmt.Errorf("fhir: questionnaire response: an answer to %s is not one of its options", it.LinkID)
		}
		if v.Other != "" {
			// The patient's own answer, as open-choice has it.
			out = append(out, qrAnswer{ValueString: v.Other})
		}
		return out, nil
	case questionnaire.Boolean:
		return []qrAnswer{{ValueBoolean: &v.Bool}}, nil
	case questionnaire.Integer, questionnaire.Scale:
		return []qrAnswer{{ValueInteger: qrNumber(v.Number)}}, nil
	case questionnaire.Decimal:
		if unit := b.text(it.Unit); unit != "" {
			return []qrAnswer{{ValueQuantity: &qrQuantity{Value: qrNumber(v.Number), Unit: unit}}}, nil
		}
		return []qrAnswer{{ValueDecimal: qrNumber(v.Number)}}, nil
	case questionnaire.Date:
		return []qrAnswer{{ValueDate: v.String}}, nil
	case questionnaire.TextType:
		return []qrAnswer{{ValueString: v.String}}, nil
	}
	return nil, fmt.Errorf("fhir: questionnaire response: %s: no FHIR answer for the type %s", it.LinkID, it.Type)
}

func (b *qrBuilder) coding(o *questionnaire.Option) *qrCoding {
	return &qrCoding{System: o.System, Code: o.FHIRCode(), Display: b.text(o.Text)}
}

// text is a text in the response's language as a FHIR string: trimmed,
// without control characters other than tab and line breaks, which the
// R4 string type does not allow; "" when there is none.
func (b *qrBuilder) text(t questionnaire.Text) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return ' '
		}
		return r
	}, t.Get(b.lang))
	return strings.TrimSpace(s)
}

// qrNumber writes a number as plain digits, never with an exponent.
func qrNumber(f float64) json.Number {
	return json.Number(strconv.FormatFloat(f, 'f', -1, 64))
}
