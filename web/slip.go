package web

import (
	"bytes"
	"html/template"

	"eprom/questionnaire"

	"github.com/gofiber/fiber/v2"
)

// slipData is what slip.html shows.
type slipData struct {
	Lang  string
	Title string
	Site  string // the host patients type in
	URL   string
	Code  string
	Date  string // the expiry, for the slip.expires message
	QR    template.HTML
	Size  string // a4 or a5
}

// handleOrderSlip serves GET /api/v1/orders/:id/slip?size=a4|a5: a
// printable slip in the order's language with the code, the URL, the QR
// code, three steps and the expiry.
func (s *Server) handleOrderSlip(c *fiber.Ctx) error {
	size := c.Query("size", "a4")
	if size != "a4" && size != "a5" {
		return unprocessable("size must be a4 or a5.")
	}
	o, code, err := s.openOrderCode(c)
	if err != nil {
		return err
	}
	def, err := s.cfg.Catalogue.Get(o.Questionnaire.ID, o.Questionnaire.Version)
	if err != nil {
		return err
	}
	lang := o.Language
	url := s.patientURL(code)
	qr, err := qrSVG(url, s.cfg.Locales.T(lang, "slip.qr_alt"))
	if err != nil {
		return err
	}
	data := slipData{
		Lang:  lang,
		Title: def.ShownTitle().Get(lang), // the patient-facing title
		Site:  s.public.Host + s.public.Path,
		URL:   url,
		Code:  questionnaire.FormatCode(code),
		Date:  s.cfg.Locales.DateTime(lang, o.ExpiresAt.In(s.cfg.Location)),
		QR:    template.HTML(qr), // built here from a bitmap: no outside text
		Size:  size,
	}
	var buf bytes.Buffer
	if err := s.templates["slip.html"].Execute(&buf, data); err != nil {
		return err
	}
	s.audit(c, "order.slip", o)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Send(buf.Bytes())
}
