package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"eprom/locales"
	"eprom/questionnaire"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// DemoClinic is the demo's training patient page at /demo/clinic: made-up
// patients, their measuring points, ordering with a code, a QR code and a
// slip, and the results as a clinician reads them, with graphs of change.
// It is a registry's patient page in miniature and does what a registry
// does: it orders through the public API with a token and reads what the
// demo's verifying receiver took in, so its code is a reference for
// registry developers (web/clinic.go).
type DemoClinic struct {
	API   string // the service's own address for its API, e.g. http://127.0.0.1:8080
	Token string // the demo client's API token
}

// clinicPatient is a made-up patient of the training page.
type clinicPatient struct {
	Ref  string // the patientRef the orders carry
	Name string
	Born int
}

// clinicPatients are the training page's patients; nobody real.
var clinicPatients = []clinicPatient{
	{Ref: "demo-1001", Name: "Kari Nordmann", Born: 1984},
	{Ref: "demo-1002", Name: "Ola Hansen", Born: 1971},
	{Ref: "demo-1003", Name: "Aisha Berg", Born: 1999},
}

// clinicPoints are the measuring points of a course of treatment, in order.
var clinicPoints = []string{"baseline", "point", "discharge", "followup"}

// clinicOrder is an order the training page placed.
type clinicOrder struct {
	ID, Point, Questionnaire, Language string
	At                                 time.Time
}

// clinic is the training page's state: which order is which patient's
// measuring point. It lives as long as the demo.
type clinic struct {
	cfg    DemoClinic
	client *http.Client
	mu     sync.Mutex
	orders map[string][]clinicOrder // by patientRef, oldest first
}

func newClinic(cfg DemoClinic) *clinic {
	return &clinic{cfg: cfg, client: &http.Client{Timeout: 10 * time.Second}, orders: map[string][]clinicOrder{}}
}

// api calls the service's API as a registry would; out, when not nil,
// receives the JSON answer. An error answer is returned as its message.
func (k *clinic) api(ctx context.Context, method, path string, in, out any, header ...string) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, k.cfg.API+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+k.cfg.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] != "" {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e apiError
		if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
			return errors.New(e.Error.Message)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out == nil {
		return nil
	}
	if s, ok := out.(*string); ok {
		*s = string(raw)
		return nil
	}
	return json.Unmarshal(raw, out)
}

// clinicAPIOrder is what the training page reads of an order.
type clinicAPIOrder struct {
	ID            string                         `json:"id"`
	Status        questionnaire.Status           `json:"status"`
	Code          string                         `json:"code"`
	URL           string                         `json:"url"`
	Questionnaire questionnaire.QuestionnaireRef `json:"questionnaire"`
	Language      string                         `json:"language"`
	PatientRef    string                         `json:"patientRef"`
	ExpiresAt     time.Time                      `json:"expiresAt"`
	SlipURL       string                         `json:"slipUrl"`
	QRSVG         string                         `json:"qrSvg"`
}

func (s *Server) registerClinicRoutes(app *fiber.App) {
	app.Get("/demo/clinic", s.handleClinicList)
	app.Get("/demo/clinic/:patient", s.handleClinicPatient)
	app.Post("/demo/clinic/:patient/orders", s.handleClinicOrder)
	app.Get("/demo/clinic/:patient/orders/:id", s.handleClinicCode)
	app.Get("/demo/clinic/:patient/results/:id", s.handleClinicResult)
}

type clinicListView struct {
	base
	Patients []clinicPatientRow
}

type clinicPatientRow struct {
	Href, Name, Ref string
	Born            int
	Orders, Results int
}

// handleClinicList serves GET /demo/clinic: the made-up patients.
func (s *Server) handleClinicList(c *fiber.Ctx) error {
	lang := s.language(c, "")
	v := clinicListView{base: s.newBase(lang, s.T(lang, "clinic.title"), "/demo/clinic")}
	v.Page = "clinic"
	arrived := s.cfg.DemoRegistry.Arrived()
	for _, p := range clinicPatients {
		row := clinicPatientRow{Href: "/demo/clinic/" + p.Ref, Name: p.Name, Ref: p.Ref, Born: p.Born}
		s.clinic.mu.Lock()
		row.Orders = len(s.clinic.orders[p.Ref])
		s.clinic.mu.Unlock()
		for _, a := range arrived {
			if a.Envelope.PatientRef == p.Ref && a.Envelope.Type == questionnaire.EnvelopeResponse {
				row.Results++
			}
		}
		v.Patients = append(v.Patients, row)
	}
	return s.render(c, fiber.StatusOK, "clinic.html", v)
}

// clinicPatientView is a patient's page.
type clinicPatientView struct {
	base
	Patient        clinicPatient
	Href           string
	Points         []clinicPointRow
	PointChoices   []clinicChoice
	Attempt        string // the order form's Idempotency-Key: a double click orders once
	Questionnaires []clinicChoice
	Languages      []clinicChoice
	Error          string
	Results        []clinicResult
	Changes        []clinicChanges
}

type clinicChoice struct {
	Value, Label string
	Selected     bool
}

type clinicPointRow struct {
	Point, Questionnaire, OrderedAt, Status, StatusClass, CodeHref, ResultHref string
}

// clinicResult is one arrived response as a clinician reads it.
type clinicResult struct {
	ID, Title, Point, SubmittedAt, Href string
	Scores                              []clinicScore
	Answers                             []clinicAnswer
}

type clinicScore struct{ Title, Value, Band, Note string }

type clinicAnswer struct {
	Question, Answer string
	Unanswered       bool
}

// clinicChanges are the graphs of one questionnaire's scores.
type clinicChanges struct {
	Title   string
	Changes []changeView
}

// arrival is an arrived response of a patient, with its measuring point.
type arrival struct {
	e     *questionnaire.Envelope
	def   *questionnaire.Definition
	point string // "" when the training page did not order it
}

// patientArrivals returns the responses that reached the registry for a
// patient, oldest first.
func (s *Server) patientArrivals(ref string) []arrival {
	s.clinic.mu.Lock()
	pointOf := map[string]string{}
	for _, o := range s.clinic.orders[ref] {
		pointOf[o.ID] = o.Point
	}
	s.clinic.mu.Unlock()
	var out []arrival
	for _, a := range s.cfg.DemoRegistry.Arrived() {
		e := a.Envelope
		if e.PatientRef != ref || e.Type != questionnaire.EnvelopeResponse || e.SubmittedAt == nil {
			continue
		}
		def, err := s.cfg.Catalogue.Get(e.Questionnaire.ID, e.Questionnaire.Version)
		if err != nil {
			continue
		}
		out = append(out, arrival{e: e, def: def, point: pointOf[e.OrderID]})
	}
	slices.SortStableFunc(out, func(a, b arrival) int { return a.e.SubmittedAt.Compare(*b.e.SubmittedAt) })
	return out
}

func findPatient(ref string) (clinicPatient, bool) {
	for _, p := range clinicPatients {
		if p.Ref == ref {
			return p, true
		}
	}
	return clinicPatient{}, false
}

// handleClinicPatient serves GET /demo/clinic/:patient: measuring points
// and their status, a form to order, the results and their change.
func (s *Server) handleClinicPatient(c *fiber.Ctx) error {
	return s.renderClinicPatient(c, fiber.StatusOK, "")
}

func (s *Server) renderClinicPatient(c *fiber.Ctx, status int, problem string) error {
	p, ok := findPatient(c.Params("patient"))
	if !ok {
		return fiber.ErrNotFound
	}
	lang := s.language(c, "")
	href := "/demo/clinic/" + p.Ref
	v := clinicPatientView{base: s.newBase(lang, p.Name+" – "+s.T(lang, "clinic.title"), href), Patient: p, Href: href, Error: problem}
	v.Page = "clinic-patient"

	// The measuring points ordered, each with its status as the API says now.
	s.clinic.mu.Lock()
	orders := slices.Clone(s.clinic.orders[p.Ref])
	s.clinic.mu.Unlock()
	arrivals := s.patientArrivals(p.Ref)
	resultOf := map[string]string{}
	for _, a := range arrivals {
		resultOf[a.e.OrderID] = href + "/results/" + a.e.ID
	}
	for _, o := range orders {
		row := clinicPointRow{Point: s.pointLabel(lang, o.Point), OrderedAt: s.dateTime(lang, o.At)}
		if def, err := s.cfg.Catalogue.Get(o.Questionnaire, ""); err == nil {
			row.Questionnaire = def.Title.Get(lang)
		}
		var ao clinicAPIOrder
		if err := s.clinic.api(c.UserContext(), "GET", "/api/v1/orders/"+o.ID, nil, &ao); err != nil {
			row.Status = err.Error()
		} else {
			row.Status, row.StatusClass = s.T(lang, clinicStatusText[ao.Status]), string(ao.Status)
			if ao.Status.Open() {
				row.CodeHref = href + "/orders/" + o.ID
			}
		}
		row.ResultHref = resultOf[o.ID]
		v.Points = append(v.Points, row)
	}

	// The order form: the point after the last one ordered is chosen.
	next := clinicPoints[0]
	if len(orders) > 0 {
		next = clinicPoints[min(slices.Index(clinicPoints, orders[len(orders)-1].Point)+1, len(clinicPoints)-1)]
	}
	v.Attempt = uuid.NewString()
	for _, pt := range clinicPoints {
		v.PointChoices = append(v.PointChoices, clinicChoice{Value: pt, Label: s.pointLabel(lang, pt), Selected: pt == next})
	}
	for _, d := range s.cfg.Catalogue.List() {
		if latest, _ := s.cfg.Catalogue.Get(d.ID, ""); latest == d {
			v.Questionnaires = append(v.Questionnaires, clinicChoice{Value: d.ID, Label: d.Title.Get(lang), Selected: d.ID == "kvarus-maalepunkt"})
		}
	}
	for _, l := range locales.Languages {
		v.Languages = append(v.Languages, clinicChoice{Value: l, Label: langLabels[l], Selected: l == lang})
	}

	// The results, newest first, and the change of each score.
	byForm := map[string][]arrival{}
	var forms []string
	for i := len(arrivals) - 1; i >= 0; i-- {
		a := arrivals[i]
		v.Results = append(v.Results, s.clinicResultOf(lang, href, a))
	}
	for _, a := range arrivals {
		if _, seen := byForm[a.e.Questionnaire.ID]; !seen {
			forms = append(forms, a.e.Questionnaire.ID)
		}
		byForm[a.e.Questionnaire.ID] = append(byForm[a.e.Questionnaire.ID], a)
	}
	n := 0
	for _, id := range forms {
		list := byForm[id]
		latest := list[len(list)-1].def
		cc := clinicChanges{Title: latest.Title.Get(lang)}
		for _, sc := range latest.Scores {
			var results []scoreResult
			for _, a := range list {
				for _, r := range a.e.Scores {
					if r.ID == sc.ID {
						results = append(results, scoreResult{At: a.e.SubmittedAt.In(s.cfg.Location), Label: s.pointLabel(lang, a.point), Value: r.Value})
					}
				}
			}
			if len(results) == 0 {
				continue
			}
			results[len(results)-1].Current = true
			n++
			cc.Changes = append(cc.Changes, s.changeOf(lang, lang, latest, sc, results, n))
		}
		if len(cc.Changes) > 0 {
			v.Changes = append(v.Changes, cc)
		}
	}
	return s.render(c, status, "clinic-patient.html", v)
}

func (s *Server) pointLabel(lang, point string) string { return s.T(lang, clinicPointText[point]) }

// clinicPointText and clinicStatusText name the measuring points and the
// order statuses.
var (
	clinicPointText = map[string]string{"baseline": "clinic.point.baseline", "point": "clinic.point.point",
		"discharge": "clinic.point.discharge", "followup": "clinic.point.followup", "": "clinic.point.other"}
	clinicStatusText = map[questionnaire.Status]string{
		questionnaire.StatusOrdered: "clinic.status.ordered", questionnaire.StatusOpened: "clinic.status.opened",
		questionnaire.StatusInProgress: "clinic.status.in_progress", questionnaire.StatusSubmitted: "clinic.status.submitted",
		questionnaire.StatusDelivered: "clinic.status.delivered", questionnaire.StatusDeclined: "clinic.status.declined",
		questionnaire.StatusCancelled: "clinic.status.cancelled", questionnaire.StatusExpired: "clinic.status.expired"}
)

// clinicResultOf is an arrived response as a clinician reads it: the
// scores with their bands, and every question shown with its answer.
func (s *Server) clinicResultOf(lang, href string, a arrival) clinicResult {
	e, def := a.e, a.def
	r := clinicResult{ID: e.ID, Title: def.Title.Get(lang, e.Language), Point: s.pointLabel(lang, a.point),
		SubmittedAt: s.dateTime(lang, *e.SubmittedAt), Href: href + "/results/" + e.ID}
	for _, res := range e.Scores {
		sc := def.Score(res.ID)
		if sc == nil {
			continue
		}
		cs := clinicScore{Title: sc.Title.Get(lang, e.Language)}
		if cs.Title == "" {
			cs.Title = sc.ID
		}
		if res.Value == nil {
			cs.Value = s.T(lang, "change.absent")
			need := len(sc.Items)
			if sc.MinAnswered != nil {
				need = *sc.MinAnswered
			}
			cs.Note = s.T(lang, "clinic.score_needs", map[string]any{"Answered": res.Answered + res.Skipped, "Need": need, "Items": len(sc.Items)})
		} else {
			cs.Value = number(lang, *res.Value)
			if b := sc.Band(*res.Value); b != nil {
				cs.Band = b.Label.Get(lang, e.Language)
			}
		}
		r.Scores = append(r.Scores, cs)
	}
	raw, _ := json.Marshal(e.Answers)
	answers, _ := def.DecodeJSON(raw)
	enabled := def.Enabled(answers)
	for _, p := range def.Pages() {
		for _, it := range p.Questions() {
			if !enabled[it.LinkID] {
				continue
			}
			ca := clinicAnswer{Question: strings.TrimSpace(it.Prefix + " " + it.Text.Get(lang, e.Language))}
			if val, ok := answers[it.LinkID]; ok {
				ca.Answer = s.answerText(lang, e.Language, it, val)
			} else {
				ca.Answer, ca.Unanswered = s.T(lang, "clinic.unanswered"), true
			}
			r.Answers = append(r.Answers, ca)
		}
	}
	return r
}

// handleClinicOrder serves POST /demo/clinic/:patient/orders: it orders
// the questionnaire for the measuring point through the API, with the
// patient's earlier results of the scores the form shows the patient.
func (s *Server) handleClinicOrder(c *fiber.Ctx) error {
	p, ok := findPatient(c.Params("patient"))
	if !ok {
		return fiber.ErrNotFound
	}
	// A form of this page only: a browser says where a POST comes from.
	if site := c.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return questionnaire.Errorf(questionnaire.EFORBIDDEN, "An order comes from the training page's own form.")
	}
	lang := s.language(c, "")
	point, form, orderLang := postValue(c, "point"), postValue(c, "questionnaire"), postValue(c, "language")
	if !slices.Contains(clinicPoints, point) || !locales.Supported(orderLang) {
		return s.renderClinicPatient(c, fiber.StatusUnprocessableEntity, s.T(lang, "clinic.order_choose"))
	}
	def, err := s.cfg.Catalogue.Get(form, "")
	if err != nil {
		return s.renderClinicPatient(c, fiber.StatusUnprocessableEntity, s.T(lang, "clinic.order_choose"))
	}
	req := map[string]any{"questionnaire": def.ID, "patientRef": p.Ref, "language": orderLang, "unit": "Demo-klinikken"}
	if prev := s.previousFor(p.Ref, def, orderLang); len(prev) > 0 {
		req["previous"] = prev
	}
	// The form's own key: a second click on the button, or a reload of
	// its answer, gets the same order back, not a second one.
	key := postValue(c, "attempt")
	var ao clinicAPIOrder
	if err := s.clinic.api(c.UserContext(), "POST", "/api/v1/orders", req, &ao, "Idempotency-Key", key); err != nil {
		return s.renderClinicPatient(c, fiber.StatusBadGateway, s.T(lang, "clinic.order_failed", map[string]any{"Error": err.Error()}))
	}
	s.clinic.mu.Lock()
	if !slices.ContainsFunc(s.clinic.orders[p.Ref], func(o clinicOrder) bool { return o.ID == ao.ID }) { // a replay of the same click
		s.clinic.orders[p.Ref] = append(s.clinic.orders[p.Ref], clinicOrder{ID: ao.ID, Point: point, Questionnaire: def.ID, Language: orderLang, At: s.now()})
	}
	s.clinic.mu.Unlock()
	return c.Redirect("/demo/clinic/"+p.Ref+"/orders/"+ao.ID, fiber.StatusSeeOther)
}

// previousFor is what a registry sends as previous: the patient's latest
// results (at most questionnaire.MaxPrevious) of the scores def shows the
// patient, each labelled with its measuring point in the order's language.
func (s *Server) previousFor(ref string, def *questionnaire.Definition, lang string) []questionnaire.PreviousResult {
	shown := def.FeedbackScores()
	if len(shown) == 0 {
		return nil
	}
	var out []questionnaire.PreviousResult
	for _, a := range s.patientArrivals(ref) {
		if a.e.Questionnaire.ID != def.ID {
			continue
		}
		pr := questionnaire.PreviousResult{At: a.e.SubmittedAt.In(s.cfg.Location).Format(time.DateOnly), Scores: map[string]float64{}}
		if a.point != "" { // a result ordered elsewhere goes by its date alone
			pr.Label = s.pointLabel(lang, a.point)
		}
		for _, sc := range shown {
			for _, r := range a.e.Scores {
				if r.ID == sc.ID && r.Value != nil {
					pr.Scores[sc.ID] = *r.Value
				}
			}
		}
		if len(pr.Scores) > 0 {
			out = append(out, pr)
		}
	}
	return out[max(0, len(out)-questionnaire.MaxPrevious):]
}

type clinicCodeView struct {
	base
	Patient                                      clinicPatient
	Back, Title, Point, Code, URL, Expires, Slip string
	Status                                       string
	QR                                           template.HTML
}

// handleClinicCode serves GET /demo/clinic/:patient/orders/:id: the code
// to hand over, its QR code, and the slip to print (a fresh signed link
// each time: the API's slipUrl works once).
func (s *Server) handleClinicCode(c *fiber.Ctx) error {
	p, ok := findPatient(c.Params("patient"))
	if !ok {
		return fiber.ErrNotFound
	}
	id := c.Params("id")
	o, ok := s.clinicOrderOf(p.Ref, id)
	if !ok {
		return fiber.ErrNotFound
	}
	lang := s.language(c, "")
	var ao clinicAPIOrder
	if err := s.clinic.api(c.UserContext(), "GET", "/api/v1/orders/"+id, nil, &ao); err != nil {
		return err
	}
	v := clinicCodeView{base: s.newBase(lang, s.T(lang, "clinic.code_title")+" – "+p.Name, c.Path()), Patient: p,
		Back: "/demo/clinic/" + p.Ref, Point: s.pointLabel(lang, o.Point), Code: ao.Code, URL: ao.URL, Slip: ao.SlipURL, Status: s.T(lang, clinicStatusText[ao.Status])}
	v.Page = "clinic-code"
	if def, err := s.cfg.Catalogue.Get(ao.Questionnaire.ID, ao.Questionnaire.Version); err == nil {
		v.Title = def.Title.Get(lang, ao.Language)
	}
	if ao.Code != "" {
		v.Expires = s.dateTime(lang, ao.ExpiresAt)
		var svg string
		if err := s.clinic.api(c.UserContext(), "GET", ao.QRSVG, nil, &svg); err == nil && strings.HasPrefix(svg, "<svg ") {
			// This service's own QR code (qr.go), named for a screen reader.
			v.QR = template.HTML(`<svg role="img" aria-label="` + template.HTMLEscapeString(s.T(lang, "clinic.qr_label", map[string]any{"URL": ao.URL})) +
				`" ` + svg[len("<svg "):])
		}
	}
	return s.render(c, fiber.StatusOK, "clinic-code.html", v)
}

// clinicOrderOf returns the patient's order the training page placed.
func (s *Server) clinicOrderOf(ref, id string) (clinicOrder, bool) {
	s.clinic.mu.Lock()
	defer s.clinic.mu.Unlock()
	i := slices.IndexFunc(s.clinic.orders[ref], func(o clinicOrder) bool { return o.ID == id })
	if i < 0 {
		return clinicOrder{}, false
	}
	return s.clinic.orders[ref][i], true
}

type clinicResultView struct {
	base
	Patient clinicPatient
	Back    string
	Result  clinicResult
	Ordered string
}

// handleClinicResult serves GET /demo/clinic/:patient/results/:id: one
// result as a page to print or copy into the patient's record (the
// registry's «visning»): questions, answers and scores on one A4 page.
func (s *Server) handleClinicResult(c *fiber.Ctx) error {
	p, ok := findPatient(c.Params("patient"))
	if !ok {
		return fiber.ErrNotFound
	}
	lang := s.language(c, "")
	href := "/demo/clinic/" + p.Ref
	for _, a := range s.patientArrivals(p.Ref) {
		if a.e.ID == c.Params("id") {
			r := s.clinicResultOf(lang, href, a)
			v := clinicResultView{base: s.newBase(lang, r.Title+" – "+p.Name, c.Path()), Patient: p, Back: href, Result: r,
				Ordered: s.dateTime(lang, a.e.OrderedAt)}
			v.Page = "clinic-result"
			return s.render(c, fiber.StatusOK, "clinic-result.html", v)
		}
	}
	return fiber.ErrNotFound
}
