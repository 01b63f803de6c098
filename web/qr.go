package web

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	qrcode "github.com/skip2/go-qrcode"
)

// qrLevel is the QR error correction: medium survives a crease or a smudge
// on a printed slip and keeps the symbol small.
const qrLevel = qrcode.Medium

// handleOrderQRPNG serves GET /api/v1/orders/:id/qr.png?size=N: the QR code
// of the patient URL, N pixels wide (128–1024, default 320).
func (s *Server) handleOrderQRPNG(c *fiber.Ctx) error {
	size := 320
	if v := c.Query("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 128 || n > 1024 {
			return unprocessable("size must be a whole number of pixels from 128 to 1024.")
		}
		size = n
	}
	o, code, err := s.openOrderCode(c)
	if err != nil {
		return err
	}
	png, err := qrcode.Encode(s.patientURL(code), qrLevel, size)
	if err != nil {
		return fmt.Errorf("qr: %w", err)
	}
	s.audit(c, "order.qr", o)
	c.Set(fiber.HeaderContentType, "image/png")
	return c.Send(png)
}

// handleOrderQRSVG serves GET /api/v1/orders/:id/qr.svg: the same QR code
// as a scalable image, crisp in print.
func (s *Server) handleOrderQRSVG(c *fiber.Ctx) error {
	o, code, err := s.openOrderCode(c)
	if err != nil {
		return err
	}
	svg, err := qrSVG(s.patientURL(code), "")
	if err != nil {
		return err
	}
	s.audit(c, "order.qr", o)
	c.Set(fiber.HeaderContentType, "image/svg+xml")
	return c.SendString(svg)
}

// qrSVG draws the QR code of text as SVG, one path of dark modules with
// the quiet zone around it. label, when set, becomes the image's
// accessible name.
func qrSVG(text, label string) (string, error) {
	q, err := qrcode.New(text, qrLevel)
	if err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	bits := q.Bitmap() // includes the 4-module quiet zone
	n := len(bits)
	var d strings.Builder
	for y, row := range bits {
		for x := 0; x < n; {
			if !row[x] {
				x++
				continue
			}
			run := 1
			for x+run < n && row[x+run] {
				run++
			}
			fmt.Fprintf(&d, "M%d %dh%dv1h-%dz", x, y, run, run)
			x += run
		}
	}
	title, role := "", ""
	if label != "" {
		title = "<title>" + escapeXML(label) + "</title>"
		role = ` role="img"`
	}
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges"%s>%s`+
		`<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="%s"/></svg>`, n, n, role, title, n, n, d.String()), nil
}

func escapeXML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
