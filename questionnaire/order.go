package questionnaire

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Status is where an order is in its life.
type Status string

// The order statuses: ordered → opened → in_progress → submitted →
// delivered, or declined, cancelled, expired.
const (
	StatusOrdered    Status = "ordered"
	StatusOpened     Status = "opened"
	StatusInProgress Status = "in_progress"
	StatusSubmitted  Status = "submitted"
	StatusDelivered  Status = "delivered"
	StatusDeclined   Status = "declined"
	StatusCancelled  Status = "cancelled"
	StatusExpired    Status = "expired"
)

// Open reports whether the patient can still answer: the order is ordered,
// opened or in progress. A closed order's code no longer works.
func (s Status) Open() bool {
	return s == StatusOrdered || s == StatusOpened || s == StatusInProgress
}

// Order limits.
const (
	DefaultOrderTTL = 14 * 24 * time.Hour // how long a code works unless the order says otherwise
	MaxOrderTTL     = 90 * 24 * time.Hour // the longest an order may stay open
	MinOrderTTL     = 5 * time.Minute     // the shortest expiry an order may ask for
	MaxRefLength    = 128                 // patientRef, registrationRef and unit, in characters
)

// QuestionnaireRef pins one version of a definition by its digest.
type QuestionnaireRef struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
}

// Order is one questionnaire ordered for one patient. It never holds the
// code in clear, nor the answers.
type Order struct {
	ID              string           `json:"id"`
	Status          Status           `json:"status"`
	Questionnaire   QuestionnaireRef `json:"questionnaire"`
	Language        string           `json:"language"`
	PatientRef      string           `json:"patientRef"`
	RegistrationRef string           `json:"registrationRef,omitempty"`
	Unit            string           `json:"unit,omitempty"`
	Client          string           `json:"client"`                   // the ordering system's id: only its tokens see the order
	OrderedBy       int              `json:"orderedByToken,omitempty"` // the position of the client's token that ordered it
	CodeGeneration  int              `json:"codeGeneration"`
	SubmissionID    string           `json:"submissionId,omitempty"` // the envelope sent when the order closed
	// ClosedBy is a one-way name of the patient's session that sent or
	// declined the order (Response.Device), so that a second Send from it is
	// thanked and another device is told it was sent elsewhere.
	ClosedBy string `json:"closedBy,omitempty"`
	// Prefill is what the order's draft starts from when the patient first
	// opens it, as form values by field name (Draft.Answers): the
	// definition's initial answers. Sealed with the order.
	Prefill map[string][]string `json:"prefill,omitempty"`
	// Previous holds the patient's earlier results of the definition's
	// feedback scores, oldest first, for the done page to show change.
	// Sealed with the order.
	Previous []PreviousResult `json:"previous,omitempty"`
	// AnnouncementID is the message that told the client the order was
	// placed (HEMIT's "Ordered" callback), put in the outbox with the
	// order.
	AnnouncementID string `json:"announcementId,omitempty"`
	// Hemit is what an order placed through HEMIT's API keeps of its
	// request; nil for orders of the native API.
	Hemit *HemitOrder `json:"hemit,omitempty"`

	CreatedAt   time.Time  `json:"createdAt"`
	ExpiresAt   time.Time  `json:"expiresAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	OpenedAt    *time.Time `json:"openedAt,omitempty"`
	SubmittedAt *time.Time `json:"submittedAt,omitempty"`
	DeliveredAt *time.Time `json:"deliveredAt,omitempty"`
	ClosedAt    *time.Time `json:"closedAt,omitempty"` // declined, cancelled or expired
	ReissuedAt  *time.Time `json:"reissuedAt,omitempty"`
}

// HemitOrder is what an order placed through HEMIT's API (POST
// /api/v2/formorder) keeps of its request, sealed with the order: to
// answer a retried request as the first, and to call the client back.
type HemitOrder struct {
	FormID   string `json:"formId"`             // the registry's form GUID
	TestMode bool   `json:"testMode,omitempty"` // nothing is returned to the registry
	// Metadata holds the keys of the request's metadata that prefilled no
	// answer, as a JSON object, returned with the answers; "" when none.
	Metadata string `json:"metadata,omitempty"`
	// Echo is the request's fields as the order's answer echoes them.
	Echo json.RawMessage `json:"echo,omitempty"`
}

// Clone returns a deep copy of the order: nothing of it (maps, slices,
// pointers) is shared with o.
func (o *Order) Clone() *Order {
	c := *o
	c.Prefill = cloneValues(o.Prefill)
	if o.Previous != nil {
		c.Previous = make([]PreviousResult, len(o.Previous))
		for i, p := range o.Previous {
			p.Scores = maps.Clone(p.Scores)
			c.Previous[i] = p
		}
	}
	if o.Hemit != nil {
		h := *o.Hemit
		h.Echo = slices.Clone(h.Echo)
		c.Hemit = &h
	}
	for _, t := range []**time.Time{&c.OpenedAt, &c.SubmittedAt, &c.DeliveredAt, &c.ClosedAt, &c.ReissuedAt} {
		if *t != nil {
			v := **t
			*t = &v
		}
	}
	return &c
}

// DefaultClient is the client of orders from before clients existed, and
// the one client that EPROM_API_TOKENS configures.
const DefaultClient = "default"

// Owner is the id of the client the order belongs to.
func (o *Order) Owner() string {
	if o.Client == "" {
		return DefaultClient
	}
	return o.Client
}

// Expired reports whether the order is past its expiry at now, whether or
// not the sweeper has marked it yet.
func (o *Order) Expired(now time.Time) bool {
	return o.Status == StatusExpired || (o.Status.Open() && !now.Before(o.ExpiresAt))
}

// Cancel moves an open order to cancelled. Returns ECONFLICT when the order
// is already closed.
func (o *Order) Cancel(now time.Time) error {
	if err := o.mustBeOpen(now, "cancelled"); err != nil {
		return err
	}
	o.close(StatusCancelled, now)
	return nil
}

// Reissue prepares an open order for a new code: the old code stops
// working. Returns ECONFLICT when the order is closed.
func (o *Order) Reissue(now time.Time) error {
	if err := o.mustBeOpen(now, "reissued"); err != nil {
		return err
	}
	o.CodeGeneration++
	o.ReissuedAt, o.UpdatedAt = &now, now
	return nil
}

// Expire moves an open order past its expiry to expired; it reports whether
// it did.
func (o *Order) Expire(now time.Time) bool {
	if !o.Status.Open() || now.Before(o.ExpiresAt) {
		return false
	}
	o.close(StatusExpired, now)
	return true
}

func (o *Order) close(s Status, now time.Time) {
	o.Status, o.ClosedAt, o.UpdatedAt = s, &now, now
}

func (o *Order) mustBeOpen(now time.Time, what string) error {
	if o.Expired(now) {
		return Errorf(ECONFLICT, "order %s has expired and cannot be %s", o.ID, what)
	}
	if !o.Status.Open() {
		return Errorf(ECONFLICT, "order %s is %s and cannot be %s", o.ID, o.Status, what)
	}
	return nil
}

// Codes are 10 symbols of Crockford's base32, 50 random bits, shown in two
// groups of five: 7KQM2-XPD9R.
const (
	CodeLength   = 10
	codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

// NewCode returns a new random code, normalized (no hyphen).
func NewCode() string {
	var b [CodeLength]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	for i := range b {
		b[i] = codeAlphabet[b[i]&31] // 256 is a multiple of 32: no bias
	}
	return string(b[:])
}

// NormalizeCode turns what a person typed into a code: case, spaces and
// hyphens are ignored, O reads as 0 and I and L as 1. ok is false when the
// result is not a well-formed code.
func NormalizeCode(s string) (code string, ok bool) {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == ' ' || r == '-' || r == '\t' || r == '\u00a0' || r == '\u2010' || r == '\u2011' || r == '\u2013':
			continue
		case r == 'O':
			r = '0'
		case r == 'I' || r == 'L':
			r = '1'
		}
		if r > 127 || strings.IndexByte(codeAlphabet, byte(r)) < 0 {
			return "", false
		}
		b.WriteRune(r)
		if b.Len() > CodeLength {
			return "", false
		}
	}
	if b.Len() != CodeLength {
		return "", false
	}
	return b.String(), true
}

// FormatCode shows a normalized code in its two groups: 7KQM2-XPD9R.
func FormatCode(code string) string {
	if len(code) != CodeLength {
		return code
	}
	return code[:5] + "-" + code[5:]
}

// OrderRequest is what an ordering system asks for (POST /api/v1/orders).
type OrderRequest struct {
	Questionnaire   string     `json:"questionnaire"`
	Version         string     `json:"version"`
	PatientRef      string     `json:"patientRef"`
	RegistrationRef string     `json:"registrationRef"`
	Unit            string     `json:"unit"`
	Language        string     `json:"language"`
	ExpiresAt       *time.Time `json:"expiresAt"`
	TTL             string     `json:"ttl"`
	// Previous are the patient's earlier results, for the feedback the
	// definition declares; at most MaxPrevious.
	Previous []PreviousRequest `json:"previous"`
}

// PreviousRequest is a PreviousResult as an order request gives it: a
// score may be null (the registry's absent score), which is refused.
type PreviousRequest struct {
	At     string              `json:"at"`
	Label  string              `json:"label,omitempty"`
	Scores map[string]*float64 `json:"scores"`
}

// PreviousResult is one of a patient's earlier results, as the ordering
// system knows it: when (a date), what it was (a measuring point, in the
// order's language) and the values of some of the definition's feedback
// scores.
type PreviousResult struct {
	At     string             `json:"at"`
	Label  string             `json:"label,omitempty"`
	Scores map[string]float64 `json:"scores"`
}

// Limits of an order's previous results.
const (
	MaxPrevious      = 10 // results; the done page shows them and today's
	MaxPreviousLabel = 40 // characters of a label, to fit under a graph
)

// Orderer is who orders: a client and the position of its token.
type Orderer struct {
	Client *Client
	Token  int
}

// NewOrder checks an order request against the catalogue and the order's
// rules and returns the new order, with a UUIDv7 id from newID. languages
// are those the patient pages speak, the first the default. Returns
// EUNPROCESSABLE with a message for the caller on any problem, and
// EFORBIDDEN when the client may not order the questionnaire.
func NewOrder(req *OrderRequest, cat *Catalogue, by Orderer, languages []string, id string, now time.Time) (*Order, error) {
	if req.Questionnaire == "" {
		return nil, unprocessable("questionnaire is required: the id of a questionnaire from GET /api/v1/questionnaires.")
	}
	if !by.Client.MayOrder(req.Questionnaire) {
		return nil, Errorf(EFORBIDDEN, "This client (%s) may not order %q; it may order %s.", by.Client.ID, req.Questionnaire,
			strings.Join(by.Client.Questionnaires, ", "))
	}
	def, err := cat.Get(req.Questionnaire, req.Version)
	if err != nil {
		return nil, unprocessable("%s.", ErrorMessage(err))
	}
	if err := checkRef("patientRef", req.PatientRef, true); err != nil {
		return nil, err
	}
	if err := checkRef("registrationRef", req.RegistrationRef, false); err != nil {
		return nil, err
	}
	if err := checkRef("unit", req.Unit, false); err != nil {
		return nil, err
	}
	var offered []string // languages of the definition the pages speak
	for _, l := range def.Languages {
		if slices.Contains(languages, l) {
			offered = append(offered, l)
		}
	}
	lang := req.Language
	if lang == "" {
		lang = def.Languages[0]
		if len(languages) > 0 && slices.Contains(def.Languages, languages[0]) {
			lang = languages[0]
		}
	}
	if !slices.Contains(offered, lang) {
		return nil, unprocessable("language %q is not available for %s %s; it has %s.", lang, def.ID, def.Version,
			strings.Join(offered, ", "))
	}
	expires, err := orderExpiry(req, now)
	if err != nil {
		return nil, err
	}
	previous, err := checkPrevious(def, req.Previous, now)
	if err != nil {
		return nil, err
	}
	return &Order{
		ID:              id,
		Status:          StatusOrdered,
		Questionnaire:   QuestionnaireRef{ID: def.ID, Version: def.Version, Digest: def.Digest()},
		Language:        lang,
		PatientRef:      req.PatientRef,
		RegistrationRef: req.RegistrationRef,
		Unit:            req.Unit,
		Client:          by.Client.ID,
		OrderedBy:       by.Token,
		Prefill:         def.InitialForm(),
		Previous:        previous,
		CreatedAt:       now,
		UpdatedAt:       now,
		ExpiresAt:       expires,
	}, nil
}

var ttlDays = regexp.MustCompile(`^([0-9]+)d$`)

// orderExpiry works out an order's expiry from expiresAt or ttl (a Go
// duration such as "72h", or days such as "14d"); by default
// DefaultOrderTTL.
func orderExpiry(req *OrderRequest, now time.Time) (time.Time, error) {
	var at time.Time
	switch {
	case req.ExpiresAt != nil && req.TTL != "":
		return at, unprocessable("Give expiresAt or ttl, not both.")
	case req.ExpiresAt != nil:
		at = *req.ExpiresAt
	case req.TTL != "":
		var d time.Duration
		if m := ttlDays.FindStringSubmatch(req.TTL); m != nil {
			days, err := strconv.Atoi(m[1])
			if err != nil || days > 1000 {
				return at, unprocessable("ttl %q is too long.", req.TTL)
			}
			d = time.Duration(days) * 24 * time.Hour
		} else {
			var err error
			if d, err = time.ParseDuration(req.TTL); err != nil {
				return at, unprocessable("ttl %q is not a duration such as \"72h\" or \"14d\".", req.TTL)
			}
		}
		at = now.Add(d)
	default:
		at = now.Add(DefaultOrderTTL)
	}
	switch {
	case !at.After(now):
		return at, unprocessable("The expiry %s is in the past.", at.UTC().Format(time.RFC3339))
	case at.Before(now.Add(MinOrderTTL)):
		return at, unprocessable("The expiry must be at least %s from now.", MinOrderTTL)
	case at.After(now.Add(MaxOrderTTL)):
		return at, unprocessable("The expiry %s is more than 90 days from now.", at.UTC().Format(time.RFC3339))
	}
	return at.UTC().Truncate(time.Second), nil
}

// checkRef checks a reference field: required if so, at most MaxRefLength
// characters, printable, no white space around it.
func checkRef(field, v string, required bool) error {
	switch {
	case v == "" && required:
		return unprocessable("%s is required.", field)
	case utf8.RuneCountInString(v) > MaxRefLength:
		return unprocessable("%s is longer than %d characters.", field, MaxRefLength)
	case strings.TrimSpace(v) != v:
		return unprocessable("%s has leading or trailing white space.", field)
	}
	for _, r := range v {
		if !unicode.IsPrint(r) {
			return unprocessable("%s has a character that cannot be printed.", field)
		}
	}
	return nil
}

// checkPrevious checks an order's previous results against the
// definition's feedback scores and returns them oldest first, each date as
// YYYY-MM-DD (a timestamp keeps the date of its own offset).
func checkPrevious(def *Definition, list []PreviousRequest, now time.Time) ([]PreviousResult, error) {
	if len(list) == 0 {
		return nil, nil
	}
	var ids []string
	for _, s := range def.FeedbackScores() {
		ids = append(ids, s.ID)
	}
	if len(ids) == 0 {
		return nil, unprocessable("previous: %s %s shows the patient no scores, so it takes no previous results.", def.ID, def.Version)
	}
	if len(list) > MaxPrevious {
		return nil, unprocessable("previous has %d results; at most %d can be shown.", len(list), MaxPrevious)
	}
	out := make([]PreviousResult, 0, len(list))
	for i, p := range list {
		path := fmt.Sprintf("previous[%d]", i)
		at, err := time.Parse(time.DateOnly, p.At)
		if err != nil {
			if t, err2 := time.Parse(time.RFC3339, p.At); err2 == nil {
				at, err = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
			}
		}
		switch {
		case p.At == "":
			return nil, unprocessable("%s.at is required: the date of the result, such as \"2026-03-01\".", path)
		case err != nil:
			return nil, unprocessable("%s.at %q is not a date such as \"2026-03-01\".", path, p.At)
		case at.Year() < 1900 || at.After(now.AddDate(0, 0, 1)):
			return nil, unprocessable("%s.at %s is not a date a result can have (1900 to today).", path, at.Format(time.DateOnly))
		}
		if err := checkRef(path+".label", p.Label, false); err != nil {
			return nil, err
		}
		if n := utf8.RuneCountInString(p.Label); n > MaxPreviousLabel {
			return nil, unprocessable("%s.label has %d characters; at most %d fit under a graph.", path, n, MaxPreviousLabel)
		}
		if len(p.Scores) == 0 {
			return nil, unprocessable("%s.scores is required: at least one of %s.", path, strings.Join(ids, ", "))
		}
		scores := make(map[string]float64, len(p.Scores))
		for _, id := range slices.Sorted(maps.Keys(p.Scores)) {
			s, given := def.Score(id), p.Scores[id]
			if s == nil || !s.Feedback {
				return nil, unprocessable("%s.scores: %q is not a score %s shows the patient; it shows %s.", path, id, def.ID, strings.Join(ids, ", "))
			}
			if given == nil {
				return nil, unprocessable("%s.scores.%s is null; leave out a score that could not be worked out.", path, id)
			}
			// Rounded as the service rounds its own: two decimals.
			v := round2(*given)
			if lo, hi, ok := def.Range(s); ok && (v < lo || v > hi) {
				return nil, unprocessable("%s.scores.%s is %s, outside the score's range %s to %s.", path, id,
					formatNumber(v), formatNumber(lo), formatNumber(hi))
			}
			scores[id] = v
		}
		out = append(out, PreviousResult{At: at.Format(time.DateOnly), Label: p.Label, Scores: scores})
	}
	slices.SortStableFunc(out, func(a, b PreviousResult) int { return strings.Compare(a.At, b.At) })
	return out, nil
}

func unprocessable(format string, args ...any) error {
	return Errorf(EUNPROCESSABLE, format, args...)
}
