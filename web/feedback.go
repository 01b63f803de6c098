package web

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"eprom/questionnaire"

	"github.com/gofiber/fiber/v2"
)

// The done page's feedback: when the definition lets the patient see some
// scores and the order carries the patient's earlier results of them,
// the done page shows each score's change with the value just sent. What
// it needs goes in a cookie sealed under the server secret (any replica
// opens it), for this browser session only and at most feedbackTTL: the
// service keeps nothing of it, and it is gone when the browser closes.
const (
	feedbackCookie = "eprom-feedback"
	feedbackTTL    = 10 * time.Minute
)

// feedback is what the done page needs to show a patient's change.
type feedback struct {
	Questionnaire string                         `json:"q"` // id@version
	Language      string                         `json:"lang"`
	At            time.Time                      `json:"at"` // when it was sent
	Expires       time.Time                      `json:"exp"`
	Scores        map[string]*float64            `json:"scores"` // the feedback scores just sent
	Previous      []questionnaire.PreviousResult `json:"previous"`
}

// setFeedback gives the browser the feedback of a response just sent, when
// there is any to show, and otherwise takes away any of an earlier one.
func (s *Server) setFeedback(c *fiber.Ctx, v *visit, r *questionnaire.Response) {
	shown := v.def.FeedbackScores()
	if s.cfg.Links == nil || len(shown) == 0 || len(v.order.Previous) == 0 || r.Type != questionnaire.ResponseAnswered {
		s.clearFeedback(c)
		return
	}
	fb := feedback{Questionnaire: v.def.ID + "@" + v.def.Version, Language: v.order.Language, At: r.SubmittedAt,
		Expires: r.SubmittedAt.Add(feedbackTTL), Scores: map[string]*float64{}, Previous: v.order.Previous}
	for _, sc := range shown {
		fb.Scores[sc.ID] = nil
		for _, res := range r.Scores {
			if res.ID == sc.ID {
				fb.Scores[sc.ID] = res.Value
			}
		}
	}
	plain, err := json.Marshal(fb)
	if err != nil {
		return
	}
	c.Cookie(&fiber.Cookie{Name: feedbackCookie, Value: base64.RawURLEncoding.EncodeToString(s.cfg.Links.SealBrowser(feedbackCookie, plain)),
		Path: "/done", HTTPOnly: true, Secure: s.secure, SameSite: fiber.CookieSameSiteLaxMode})
}

// clearFeedback takes away any feedback this browser holds. The cookie is
// sent only to /done, so it is never known here whether there is one: the
// next patient on a shared tablet must not see the last one's results.
func (s *Server) clearFeedback(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: feedbackCookie, Path: "/done", MaxAge: -1, Expires: time.Unix(0, 0), HTTPOnly: true,
		Secure: s.secure, SameSite: fiber.CookieSameSiteLaxMode})
}

// feedbackChanges opens the browser's feedback cookie and builds the
// change of each score it holds, in lang; nil when there is none, it is
// not ours, or it is past its time.
func (s *Server) feedbackChanges(c *fiber.Ctx, lang string) []changeView {
	raw := c.Cookies(feedbackCookie)
	if raw == "" || s.cfg.Links == nil {
		return nil
	}
	sealed, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return nil
	}
	plain, err := s.cfg.Links.OpenBrowser(feedbackCookie, sealed)
	if err != nil {
		return nil
	}
	var fb feedback
	if json.Unmarshal(plain, &fb) != nil || !s.now().Before(fb.Expires) {
		return nil
	}
	id, version, _ := strings.Cut(fb.Questionnaire, "@")
	def, err := s.cfg.Catalogue.Get(id, version)
	if err != nil {
		return nil
	}
	var out []changeView
	for _, sc := range def.FeedbackScores() {
		value, ok := fb.Scores[sc.ID]
		if !ok {
			continue
		}
		var results []scoreResult
		for _, p := range fb.Previous {
			if v, ok := p.Scores[sc.ID]; ok {
				at, _ := time.ParseInLocation(time.DateOnly, p.At, s.cfg.Location)
				results = append(results, scoreResult{At: at, Label: p.Label, Value: &v})
			}
		}
		if len(results) == 0 {
			continue // nothing to compare with
		}
		results = append(results, scoreResult{At: fb.At.In(s.cfg.Location), Label: s.T(lang, "feedback.now"), Value: value, Current: true})
		cv := s.changeOf(lang, fb.Language, def, sc, results, len(out)+1)
		cv.Feedback = s.T(lang, "feedback.absent")
		if value != nil {
			cv.Feedback = ""
			if b := sc.Band(*value); b != nil {
				cv.Feedback = b.Feedback.Get(lang, fb.Language)
			}
		}
		out = append(out, cv)
	}
	return out
}
