// Package hemit speaks HEMIT's ePROM API (DESIGN.md §11): it reads a form
// order as POST /api/v2/formorder takes it, checks the national id, turns
// the order's metadata into prefilled answers, and builds the callbacks
// that HEMIT sends to the ordering system (PUT {apiBaseUrl}/api/PromsFormOrder):
// the order status and the return of the answers. The facts, field by field,
// are in shared/reference/hemit-eprom-api.md; where that leaves a question
// open, this package takes the most tolerant answer, and the README says
// which.
package hemit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Oslo on machines without a zone database

	"eprom/questionnaire"
)

// Oslo is the time zone of HEMIT's local timestamps, and of a date-time
// sent without an offset.
var Oslo = mustZone("Europe/Oslo")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// DistributionRule says how HEMIT reaches the patient.
type DistributionRule int

// The rules, with HEMIT's numbers.
const (
	Basic DistributionRule = iota
	AllowUnsecure
	NoDistribution
	BasicOrPaper
	AllowUnsecureOrPaper
	PaperOnly
	HelsenorgeOnly
	DigitalMailboxOnly
	UnsecureOnly
)

var ruleNames = []string{"Basic", "AllowUnsecure", "NoDistribution", "BasicOrPaper", "AllowUnsecureOrPaper",
	"PaperOnly", "HelsenorgeOnly", "DigitalMailboxOnly", "UnsecureOnly"}

func (r DistributionRule) String() string {
	if r >= 0 && int(r) < len(ruleNames) {
		return ruleNames[r]
	}
	return strconv.Itoa(int(r))
}

// ParseDistributionRule reads a rule by its name (any case) or number.
func ParseDistributionRule(s string) (DistributionRule, bool) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return DistributionRule(n), n >= 0 && n < len(ruleNames)
	}
	for i, name := range ruleNames {
		if strings.EqualFold(name, s) {
			return DistributionRule(i), true
		}
	}
	return 0, false
}

func ruleList() string {
	parts := make([]string, len(ruleNames))
	for i, n := range ruleNames {
		parts[i] = fmt.Sprintf("%s (%d)", n, i)
	}
	return strings.Join(parts, ", ")
}

// NotificationChannel is how the patient was told of the order. This
// service hands out single-use codes: always None.
const ChannelNone = 0

// Request is a form order as POST /api/v2/formorder takes it, read
// tolerantly: field names in any case, JSON or form-urlencoded, booleans as
// JSON or as "true"/"false", the rule as a name or a number, metadata as a
// string of JSON (as documented) or as the object itself. Fields that are
// not HEMIT's are ignored, as HEMIT does.
type Request struct {
	FormID                      string
	NationalID                  string
	ExpiryDate                  *time.Time // nil: not given
	ReminderDate                *time.Time // taken and ignored, as by HEMIT
	Metadata                    map[string]json.RawMessage
	MetadataText                *string // as sent, echoed
	DontStoreCompletedFormInPha bool
	DistributionRule            DistributionRule
	MustBeSigned                bool
	SigningText                 *string
	PhysicalAddress             map[string]string
	TestMode                    bool
	OnBehalfOfNationalID        string
}

// fields is a request's fields by lower-case name: raw JSON, or a string
// from a form.
type fields map[string]field

type field struct {
	name string          // as sent
	raw  json.RawMessage // JSON; nil for a form value
	text string          // a form value
}

func bad(format string, args ...any) error {
	return questionnaire.Errorf(questionnaire.EINVALID, format, args...)
}

// ParseJSON reads a request body of JSON: one object, I-JSON (valid
// UTF-8, no key twice, in any case).
func ParseJSON(body []byte) (*Request, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, bad("The body is empty; send the form order as a JSON object.")
	}
	if _, err := questionnaire.Canonical(body); err != nil {
		return nil, bad("The body is not valid JSON: %s.", err.Error())
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, bad("The body must be a JSON object with the fields of the form order.")
	}
	fs := fields{}
	for k, v := range obj {
		if err := fs.add(k, field{name: k, raw: v}); err != nil {
			return nil, err
		}
	}
	return fs.request()
}

// ParseForm reads a request body of application/x-www-form-urlencoded.
// physicalAddress's fields are named physicalAddress.fullName or
// physicalAddress[fullName].
func ParseForm(body []byte) (*Request, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, bad("The body is not valid form data: %s.", err.Error())
	}
	fs := fields{}
	address := map[string]string{}
	for k, vs := range vals {
		if len(vs) > 1 {
			return nil, bad("%s is given %d times; give it once.", k, len(vs))
		}
		lk := strings.ToLower(k)
		if rest, ok := strings.CutPrefix(lk, "physicaladdress"); ok && rest != "" {
			sub := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(k[len("physicalAddress"):], "."), "["), "]")
			address[sub] = vs[0]
			continue
		}
		if err := fs.add(k, field{name: k, text: vs[0]}); err != nil {
			return nil, err
		}
	}
	if len(address) > 0 {
		raw, _ := json.Marshal(address)
		if err := fs.add("physicalAddress", field{name: "physicalAddress", raw: raw}); err != nil {
			return nil, err
		}
	}
	return fs.request()
}

func (fs fields) add(name string, f field) error {
	k := strings.ToLower(name)
	if prev, dup := fs[k]; dup {
		return bad("%s and %s are the same field; give it once.", prev.name, name)
	}
	fs[k] = f
	return nil
}

// null reports whether the field is absent, JSON null or an empty form value.
func (fs fields) null(key string) bool {
	f, ok := fs[key]
	return !ok || (f.raw == nil && f.text == "") || string(bytes.TrimSpace(f.raw)) == "null"
}

// str reads a string field; "" when absent or null.
func (fs fields) str(key, what string) (string, error) {
	if fs.null(key) {
		return "", nil
	}
	f := fs[key]
	if f.raw == nil {
		return f.text, nil
	}
	var s string
	if json.Unmarshal(f.raw, &s) != nil {
		return "", bad("%s must be a string: %s.", f.name, what)
	}
	return s, nil
}

// boolean reads a boolean field: JSON true or false, or the strings
// "true" and "false" (any case).
func (fs fields) boolean(key string) (bool, error) {
	if fs.null(key) {
		return false, nil
	}
	f := fs[key]
	text := f.text
	if f.raw != nil {
		var b bool
		if json.Unmarshal(f.raw, &b) == nil {
			return b, nil
		}
		if json.Unmarshal(f.raw, &text) != nil {
			return false, bad("%s must be true or false.", f.name)
		}
	}
	b, err := strconv.ParseBool(strings.TrimSpace(text))
	if err != nil {
		return false, bad("%s must be true or false, not %q.", f.name, text)
	}
	return b, nil
}

// when reads a date-time field: RFC 3339 (with Z or an offset, any number
// of fractional digits), a date-time without an offset (Oslo time), or a
// date alone (the end of that day in Oslo).
func (fs fields) when(key string) (*time.Time, error) {
	s, err := fs.str(key, "a date-time such as 2026-12-24T12:00:00Z")
	if err != nil || s == "" {
		return nil, err
	}
	t, ok := ParseTime(s)
	if !ok {
		return nil, bad("%s %q is not a date-time such as 2026-12-24T12:00:00Z or 2026-12-24T13:00:00+01:00.", fs[key].name, s)
	}
	return &t, nil
}

// ParseTime reads a date-time as HEMIT's clients send it (see fields.when).
func ParseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, Oslo); err == nil {
			return t, true
		}
	}
	if d, err := time.ParseInLocation(time.DateOnly, s, Oslo); err == nil {
		return d.AddDate(0, 0, 1).Add(-time.Second), true
	}
	return time.Time{}, false
}

func (fs fields) request() (*Request, error) {
	r := &Request{}
	var err error
	if r.FormID, err = fs.str("formid", "the GUID of the form"); err != nil {
		return nil, err
	}
	r.FormID = strings.TrimSpace(r.FormID)
	if r.FormID == "" {
		return nil, bad("formId is required: the id (a GUID) of the form to order.")
	}
	if r.NationalID, err = fs.str("nationalid", "the recipient's fødselsnummer or D-nummer, 11 digits"); err != nil {
		return nil, err
	}
	if r.NationalID = strings.TrimSpace(r.NationalID); r.NationalID == "" {
		return nil, bad("nationalId is required: the recipient's fødselsnummer or D-nummer, 11 digits.")
	}
	if _, err := CheckNationalID("nationalId", r.NationalID); err != nil {
		return nil, bad("%s", err.Error())
	}
	if r.OnBehalfOfNationalID, err = fs.str("onbehalfofnationalid", "a fødselsnummer or D-nummer, 11 digits"); err != nil {
		return nil, err
	}
	if r.OnBehalfOfNationalID = strings.TrimSpace(r.OnBehalfOfNationalID); r.OnBehalfOfNationalID != "" {
		if _, err := CheckNationalID("onBehalfOfNationalId", r.OnBehalfOfNationalID); err != nil {
			return nil, bad("%s", err.Error())
		}
	}
	if r.ExpiryDate, err = fs.when("expirydate"); err != nil {
		return nil, err
	}
	if r.ReminderDate, err = fs.when("reminderdate"); err != nil {
		return nil, err
	}
	if err := fs.metadata(r); err != nil {
		return nil, err
	}
	if r.DontStoreCompletedFormInPha, err = fs.boolean("dontstorecompletedforminpha"); err != nil {
		return nil, err
	}
	if r.MustBeSigned, err = fs.boolean("mustbesigned"); err != nil {
		return nil, err
	}
	if r.TestMode, err = fs.boolean("testmode"); err != nil {
		return nil, err
	}
	if !fs.null("distributionrule") {
		f := fs["distributionrule"]
		text := f.text
		if f.raw != nil {
			var n json.Number
			if json.Unmarshal(f.raw, &n) == nil {
				text = n.String()
			} else if json.Unmarshal(f.raw, &text) != nil {
				return nil, bad("distributionRule must be a name or a number: %s.", ruleList())
			}
		}
		rule, ok := ParseDistributionRule(text)
		if !ok {
			return nil, bad("distributionRule %q is not one of %s.", text, ruleList())
		}
		r.DistributionRule = rule
	}
	if !fs.null("signingtext") {
		s, err := fs.str("signingtext", "the text shown when signing")
		if err != nil {
			return nil, err
		}
		r.SigningText = &s
	}
	if !fs.null("physicaladdress") {
		f := fs["physicaladdress"]
		var obj map[string]json.RawMessage
		if f.raw == nil || json.Unmarshal(f.raw, &obj) != nil {
			return nil, bad(`physicalAddress must be an object such as {"fullName": "…", "addressLine1": "…", "postalCode": "0123", "postalPlace": "…"}, or null.`)
		}
		r.PhysicalAddress = map[string]string{}
		for k, v := range obj {
			var s string
			if string(v) != "null" && json.Unmarshal(v, &s) != nil {
				return nil, bad("physicalAddress.%s must be a string (a postal code too, so that a leading 0 stays).", k)
			}
			r.PhysicalAddress[k] = s
		}
	}
	switch {
	case r.MustBeSigned && r.OnBehalfOfNationalID != "":
		return nil, bad("The ordered form needs to be signed. This is not possible when the form is ordered on behalf of someone.")
	case r.MustBeSigned:
		// Patients here log in with a single-use code, never with the
		// level-4 eID that signing needs: whatever the rule asked for,
		// the order is NoDistribution's.
		return nil, bad("The ordered form needs to be signed. This is not possible when using DistributionRule = 'NoDistribution'.")
	}
	return r, nil
}

// metadata reads the metadata field: a string holding a JSON object (as
// HEMIT documents), or the object itself (as a client library may send
// it); null or "" for none.
func (fs fields) metadata(r *Request) error {
	if fs.null("metadata") {
		return nil
	}
	f := fs["metadata"]
	text := f.text
	if f.raw != nil {
		trimmed := bytes.TrimSpace(f.raw)
		switch {
		case len(trimmed) > 0 && trimmed[0] == '{':
			text = string(trimmed)
		case json.Unmarshal(trimmed, &text) != nil:
			return bad("JSON in metadata is not valid: metadata must be a string holding a JSON object, such as \"{\\\"age\\\":76}\".")
		}
	}
	r.MetadataText = &text
	if strings.TrimSpace(text) == "" {
		return nil
	}
	if _, err := questionnaire.Canonical([]byte(text)); err != nil {
		return bad("JSON in metadata is not valid: %s.", err.Error())
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &obj); err != nil || obj == nil {
		return bad(`JSON in metadata is not valid: it must be an object, such as {"age": 76}.`)
	}
	r.Metadata = obj
	return nil
}

// Echo is the request as the answer to it repeats it ("all the input
// parameters"), with the expiry the order got.
func (r *Request) Echo(expires time.Time) json.RawMessage {
	echo := struct {
		FormID                      string            `json:"formId"`
		NationalID                  string            `json:"nationalId"`
		ExpiryDate                  string            `json:"expiryDate"`
		ReminderDate                *string           `json:"reminderDate"`
		Metadata                    *string           `json:"metadata"`
		DontStoreCompletedFormInPha bool              `json:"dontStoreCompletedFormInPha"`
		DistributionRule            DistributionRule  `json:"distributionRule"`
		MustBeSigned                bool              `json:"mustBeSigned"`
		SigningText                 *string           `json:"signingText"`
		PhysicalAddress             map[string]string `json:"physicalAddress"`
		TestMode                    bool              `json:"testMode"`
		OnBehalfOfNationalID        *string           `json:"onBehalfOfNationalId"`
	}{
		FormID: r.FormID, NationalID: r.NationalID, ExpiryDate: expires.UTC().Format(time.RFC3339),
		Metadata: r.MetadataText, DontStoreCompletedFormInPha: r.DontStoreCompletedFormInPha,
		DistributionRule: r.DistributionRule, MustBeSigned: r.MustBeSigned, SigningText: r.SigningText,
		PhysicalAddress: r.PhysicalAddress, TestMode: r.TestMode,
	}
	if r.ReminderDate != nil {
		s := r.ReminderDate.UTC().Format(time.RFC3339)
		echo.ReminderDate = &s
	}
	if r.OnBehalfOfNationalID != "" {
		echo.OnBehalfOfNationalID = &r.OnBehalfOfNationalID
	}
	raw, _ := json.Marshal(echo)
	return raw
}

// Response is the answer to a form order: the request's fields echoed,
// and what the order is.
func Response(echo json.RawMessage, id, code, loginURL string) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(echo, &fields); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString("{")
	w := objectWriter{buf: &buf}
	w.field("id", id)
	w.field("singleUseCode", code)
	w.field("loginUrl", loginURL)
	w.field("notificationChannel", ChannelNone)
	for _, k := range echoOrder {
		if v, ok := fields[k]; ok {
			w.raw(k, v)
		}
	}
	buf.WriteString("}")
	return buf.Bytes(), w.err
}

var echoOrder = []string{"formId", "nationalId", "expiryDate", "reminderDate", "metadata", "dontStoreCompletedFormInPha",
	"distributionRule", "mustBeSigned", "signingText", "physicalAddress", "testMode", "onBehalfOfNationalId"}

// objectWriter writes the fields of a JSON object in the order given.
type objectWriter struct {
	buf *bytes.Buffer
	n   int
	err error
}

func (w *objectWriter) field(k string, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		w.err = err
		return
	}
	w.raw(k, raw)
}

func (w *objectWriter) raw(k string, v json.RawMessage) {
	if w.n > 0 {
		w.buf.WriteByte(',')
	}
	w.n++
	key, _ := json.Marshal(k)
	w.buf.Write(key)
	w.buf.WriteByte(':')
	w.buf.Write(v)
}

var (
	numberLiteral = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?$`)
	// collectionKey names a sub-form's prefill in a collection form.
	collectionKey = regexp.MustCompile(`^_[0-9a-fA-F]{8}_[0-9a-fA-F]{4}_[0-9a-fA-F]{4}_[0-9a-fA-F]{4}_[0-9a-fA-F]{12}$`)
)

// Prefill turns the order's metadata into prefilled answers: keys that
// are linkIds of the definition's questions (or, as in HEMIT's collection
// forms, the keys of an object under "_" + a form GUID with "_" for "-")
// prefill those answers, as form values by field name (Draft.Answers);
// the other keys are returned as they are (a collection form's object
// with what in it prefilled nothing). A key at the top wins over the same
// key in a sub-form's object; of two sub-forms, the GUID that sorts last. Values are read as HEMIT's
// clients write them: a choice's value as a string or a number, a boolean
// as true/false, a number or a string of digits, a date as YYYY-MM-DD or a
// timestamp (its date in Oslo). A value the question cannot take is an
// error that names the key, with the value given as its parameter "given".
func Prefill(def *questionnaire.Definition, meta map[string]json.RawMessage, today time.Time) (form map[string][]string, rest map[string]json.RawMessage, errs questionnaire.AnswerErrors, err error) {
	values := map[string]json.RawMessage{}
	rest = map[string]json.RawMessage{}
	question := func(k string) bool { it := def.Item(k); return it != nil && it.Type.Answerable() }
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		v := meta[k]
		var sub map[string]json.RawMessage
		if collectionKey.MatchString(k) && json.Unmarshal(v, &sub) == nil && sub != nil {
			left := map[string]json.RawMessage{}
			for sk, sv := range sub {
				if question(sk) {
					values[sk] = sv
				} else {
					left[sk] = sv
				}
			}
			if len(left) > 0 {
				raw, err := json.Marshal(left)
				if err != nil {
					return nil, nil, nil, err
				}
				rest[k] = raw
			}
			continue
		}
		if !question(k) {
			rest[k] = v
		}
	}
	for k, v := range meta { // the top level wins over a collection form's objects
		if question(k) {
			values[k] = v
		}
	}
	var list []map[string]any
	var items []*questionnaire.Item
	for _, k := range slices.Sorted(maps.Keys(values)) {
		it := def.Item(k)
		v, ok := answerValue(it, values[k])
		if !ok {
			errs = append(errs, questionnaire.AnswerError{LinkID: k, Code: questionnaire.AnswerType})
			continue
		}
		if v == nil {
			continue // null: no prefill
		}
		list = append(list, map[string]any{"linkId": k, "value": v})
		items = append(items, it)
	}
	// Each error carries, as the parameter "given", the value the metadata
	// gave (shortened), for a message to the registry.
	refuse := func(errs questionnaire.AnswerErrors) (map[string][]string, map[string]json.RawMessage, questionnaire.AnswerErrors, error) {
		for i := range errs {
			given := string(values[errs[i].LinkID])
			if len(given) > 40 {
				given = given[:40] + "…"
			}
			errs[i].Params = maps.Clone(errs[i].Params)
			if errs[i].Params == nil {
				errs[i].Params = map[string]string{}
			}
			errs[i].Params["given"] = given
		}
		return nil, rest, errs, nil
	}
	if len(errs) > 0 {
		return refuse(errs)
	}
	raw, err := json.Marshal(list)
	if err != nil {
		return nil, nil, nil, err
	}
	if list == nil {
		raw = []byte("[]")
	}
	answers, errs := def.DecodeJSON(raw)
	if len(errs) > 0 {
		return refuse(errs)
	}
	_, verrs := def.Validate(answers, items, today)
	for _, e := range verrs {
		if e.Code != questionnaire.AnswerRequired && slices.ContainsFunc(items, func(it *questionnaire.Item) bool { return it.LinkID == e.LinkID }) {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return refuse(errs)
	}
	form = map[string][]string{}
	for id, v := range answers {
		for k, vals := range v.FormFields(id) {
			form[k] = vals
		}
	}
	return form, rest, nil, nil
}

// answerValue converts a metadata value into the JSON answer format of the
// item; nil for null; ok false when the item cannot take it.
func answerValue(it *questionnaire.Item, raw json.RawMessage) (any, bool) {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return nil, true
	}
	var (
		s     string
		n     json.Number
		b     bool
		isStr = json.Unmarshal(raw, &s) == nil
		isNum = !isStr && json.Unmarshal(raw, &n) == nil
		isB   = json.Unmarshal(raw, &b) == nil
	)
	scalar := func() (string, bool) {
		switch {
		case isStr:
			return strings.TrimSpace(s), true
		case isNum:
			return n.String(), true
		}
		return "", false
	}
	switch it.Type {
	case questionnaire.MultiChoice:
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			list = []json.RawMessage{raw}
		}
		out := []string{}
		for _, el := range list {
			var es string
			var en json.Number
			switch {
			case json.Unmarshal(el, &es) == nil:
				out = append(out, es)
			case json.Unmarshal(el, &en) == nil:
				out = append(out, en.String())
			default:
				return nil, false
			}
		}
		return out, true
	case questionnaire.Boolean:
		switch {
		case isB:
			return b, true
		case isStr:
			v, err := strconv.ParseBool(strings.TrimSpace(s))
			return v, err == nil
		case isNum && (n.String() == "0" || n.String() == "1"):
			return n.String() == "1", true
		}
		return nil, false
	case questionnaire.Integer, questionnaire.Decimal, questionnaire.Scale:
		switch {
		case isNum:
			return n, true
		case isStr && numberLiteral.MatchString(strings.TrimSpace(strings.ReplaceAll(s, ",", "."))):
			return json.Number(strings.TrimSpace(strings.ReplaceAll(s, ",", "."))), true
		}
		return nil, false
	case questionnaire.Date:
		if !isStr {
			return nil, false
		}
		s = strings.TrimSpace(s)
		if len(s) > 10 {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t.In(Oslo).Format(time.DateOnly), true
			}
			if t, ok := ParseTime(s); ok {
				return t.In(Oslo).Format(time.DateOnly), true
			}
		}
		return s, true
	default: // choice, text
		return scalar()
	}
}
