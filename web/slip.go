package web

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"html/template"
	"time"

	"eprom/questionnaire"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
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
	// From names who sends it (the client's help contact, the clinic) and
	// its phone; "" when the client has none.
	From, Phone string
	Minutes     int // about how long answering takes
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
	s.audit(c, "order.slip", o)
	return s.renderSlip(c, o, code, size)
}

// renderSlip answers with the slip of an open order and its code.
func (s *Server) renderSlip(c *fiber.Ctx, o *questionnaire.Order, code, size string) error {
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
		Date:  s.dateTime(lang, o.ExpiresAt),
		QR:    template.HTML(qr), // built here from a bitmap: no outside text
		Size:  size,

		Minutes: def.EstimatedMinutes(),
	}
	if cl := s.cfg.Clients().Get(o.Owner()); cl != nil && cl.Help != nil {
		data.From, data.Phone = cl.Help.Name.Get(lang, "nb", "en"), cl.Help.Phone
	}
	var buf bytes.Buffer
	if err := s.templates["slip.html"].Execute(&buf, data); err != nil {
		return err
	}
	c.Set("Cache-Control", "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Send(buf.Bytes())
}

// SlipLinkTTL is how long a signed link to a slip works (once).
const SlipLinkTTL = 15 * time.Minute

// slipLink returns a signed link to an open order's slip that a
// clinician's browser opens without the API's header: {public-url}/slip/
// followed by base64url of the order's id, the link's expiry and the
// order's code generation, and an HMAC of them under the server secret.
// It works once, for SlipLinkTTL, while the code it shows is current; ""
// when the server signs no links.
func (s *Server) slipLink(o *questionnaire.Order) string {
	if s.cfg.Links == nil {
		return ""
	}
	id, err := uuid.Parse(o.ID)
	if err != nil {
		return ""
	}
	data := make([]byte, 0, slipTokenSize)
	data = append(data, id[:]...)
	data = binary.BigEndian.AppendUint64(data, uint64(s.now().Add(SlipLinkTTL).Unix()))
	data = binary.BigEndian.AppendUint32(data, uint32(o.CodeGeneration))
	data = append(data, s.cfg.Links.LinkMAC(data)[:slipMACSize]...)
	return s.cfg.PublicURL + "/slip/" + base64.RawURLEncoding.EncodeToString(data)
}

const (
	slipMACSize   = 16
	slipTokenSize = 16 + 8 + 4 + slipMACSize
)

// handleSignedSlip serves GET /slip/:token?size=a4|a5: the slip of a
// signed link, once. A link that is tampered with, expired, used, for a
// closed order or an old code answers as one that does not exist (404).
func (s *Server) handleSignedSlip(c *fiber.Ctx) error {
	gone := questionnaire.Errorf(questionnaire.ENOTFOUND, "This link to a slip does not work (any more).")
	if s.cfg.Links == nil {
		return gone
	}
	size := c.Query("size", "a4")
	if size != "a4" && size != "a5" {
		size = "a4"
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Params("token"))
	if err != nil || len(raw) != slipTokenSize {
		return gone
	}
	data, mac := raw[:slipTokenSize-slipMACSize], raw[slipTokenSize-slipMACSize:]
	if !hmac.Equal(mac, s.cfg.Links.LinkMAC(data)[:slipMACSize]) {
		return gone
	}
	id, _ := uuid.FromBytes(data[:16])
	now := s.now()
	if now.Unix() >= int64(binary.BigEndian.Uint64(data[16:24])) {
		return gone
	}
	o, err := s.cfg.Orders.Order(c.UserContext(), id.String())
	if err != nil || o.CodeGeneration != int(binary.BigEndian.Uint32(data[24:28])) || !o.Status.Open() || o.Expired(now) {
		if err != nil && questionnaire.ErrorCode(err) != questionnaire.ENOTFOUND {
			return err
		}
		return gone
	}
	code, err := s.cfg.Orders.OrderCode(c.UserContext(), o.ID, now)
	if err != nil {
		if questionnaire.ErrorCode(err) == questionnaire.ECONFLICT {
			return gone
		}
		return err
	}
	// Once: the link's first use reserves it for its lifetime.
	ok, _, err := s.cfg.Limits.Reserve(c.UserContext(), "slip:"+hex.EncodeToString(mac), 1, SlipLinkTTL, now)
	if err != nil {
		return err
	}
	if !ok {
		return gone
	}
	s.cfg.Audit.Info("order.slip", "via", "signed link", "order", o.ID, "client", o.Owner())
	return s.renderSlip(c, o, code, size)
}
