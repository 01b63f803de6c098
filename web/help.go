package web

import (
	"bytes"
	"html/template"
	"regexp"
	"strings"
	"sync"

	"eprom/questionnaire"

	"github.com/gofiber/fiber/v2"
)

// helpView is the "help now" notice of every questionnaire page and of the
// done page: the answers are not read at once, and where to get help now.
// The national numbers come from the locales (the deployment default, for
// Norway 113 and legevakt 116 117); the clinic's own number and opening
// hours come from the ordering client's configuration.
type helpView struct {
	Lang  string
	Title string
	Lines []template.HTML
	Short template.HTML // beside a sensitive question
}

// help builds the notice in lang for a patient of the client (the ordering
// system; Order.Owner).
// The notice is worked out once for each language and client, for as long
// as the clients' configuration is the same (a SIGHUP that reloads it
// starts anew): finding the telephone numbers in it took a tenth of a
// page's time. What it returns is shared: it must not be changed.
func (s *Server) help(lang, client string) helpView {
	clients := s.cfg.Clients()
	c := s.helpCache.Load()
	if c == nil || c.clients != clients {
		c = &helpCache{clients: clients}
		s.helpCache.Store(c)
	}
	key := lang + "\x00" + client
	if h, ok := c.views.Load(key); ok {
		return h.(helpView)
	}
	h := s.newHelp(lang, client)
	if clients.Get(client) != nil || client == "" || client == questionnaire.DefaultClient {
		c.views.Store(key, h) // not for a client since removed: bounded by the configuration
	}
	return h
}

// helpCache holds the help notices of one configuration of the clients.
type helpCache struct {
	clients *questionnaire.Clients
	views   sync.Map // language NUL client → helpView
}

// newHelp builds the help notice.
func (s *Server) newHelp(lang, client string) helpView {
	h := helpView{Lang: lang, Title: s.T(lang, "help.title")}
	h.Lines = []template.HTML{
		telLinks(s.T(lang, "help.not_read")),
		telLinks(s.T(lang, "help.urgent")),
	}
	if c := s.contact(client, false); c != nil && c.Phone != "" {
		h.Lines = append(h.Lines, telLinks(s.contactLine(lang, "help.clinic", c)))
	} else {
		h.Lines = append(h.Lines, telLinks(s.T(lang, "help.clinician")))
	}
	h.Short = telLinks(s.T(lang, "help.short"))
	return h
}

// contact is the client's contact: its help line, or for privacy (the
// right to reservation) its privacy contact, else its help line.
func (s *Server) contact(client string, privacy bool) *questionnaire.Contact {
	cl := s.cfg.Clients().Get(client)
	if cl == nil {
		return nil
	}
	if privacy && cl.Privacy != nil {
		return cl.Privacy
	}
	return cl.Help
}

// contactLine says how to reach a contact, in lang: name, phone, hours,
// e-mail and web address, whichever it has.
func (s *Server) contactLine(lang, key string, c *questionnaire.Contact) string {
	var how []string
	if c.Phone != "" {
		how = append(how, s.T(lang, "contact.phone", map[string]any{"Phone": c.Phone}))
	}
	if h := c.Hours.Get(lang); h != "" {
		how = append(how, "("+h+")")
	}
	if c.Email != "" {
		how = append(how, s.T(lang, "contact.email", map[string]any{"Email": c.Email}))
	}
	if c.URL != "" {
		how = append(how, c.URL)
	}
	name := c.Name.Get(lang)
	if name == "" {
		name = s.T(lang, "contact.clinic")
	}
	return s.T(lang, key, map[string]any{"Name": name, "How": strings.Join(how, " ")})
}

// phoneNumber finds telephone numbers in a text: 113, 116 117, +47 22 00 00 00.
var phoneNumber = regexp.MustCompile(`\+?\d[\d ]{1,14}\d`)

// standsAlone reports whether text[i:j] is a word of its own: at the start
// or after a space or "(", and at the end or before a space or ".,;:)".
// So 0800–1530, post123@klinikk.no and /avd/4711 are not numbers to call.
func standsAlone(text string, i, j int) bool {
	before := i == 0 || strings.ContainsRune(" (", rune(text[i-1]))
	after := j == len(text) || strings.ContainsRune(" .,;:)", rune(text[j]))
	return before && after
}

// telLinks escapes a text and makes its telephone numbers links that a
// phone can call.
func telLinks(text string) template.HTML {
	var b strings.Builder
	last := 0
	for _, m := range phoneNumber.FindAllStringIndex(text, -1) {
		num := text[m[0]:m[1]]
		digits := strings.ReplaceAll(num, " ", "")
		if len(strings.TrimPrefix(digits, "+")) < 3 || !standsAlone(text, m[0], m[1]) {
			continue
		}
		b.WriteString(template.HTMLEscapeString(text[last:m[0]]))
		b.WriteString(`<a href="tel:` + template.HTMLEscapeString(digits) + `" class="tel">` + template.HTMLEscapeString(num) + `</a>`)
		last = m[1]
	}
	b.WriteString(template.HTMLEscapeString(text[last:]))
	return template.HTML(b.String())
}

// savedPage ends the session after "save and continue later" and says
// until when the code works, with the code itself, so a patient who lost
// the slip can write it down, and a way to go on at once.
func (s *Server) savedPage(c *fiber.Ctx, v *visit) error {
	s.endVisit(c, v)
	lang := v.lang
	code, err := s.cfg.Orders.OrderCode(c.UserContext(), v.order.ID, s.now())
	if err != nil {
		s.cfg.Logger.Warn("saved page: the order's code", "err", err.Error())
		code = ""
	}
	mv := messageView{base: s.newBase(lang, s.T(lang, "saved.title"), "/")}
	mv.Page, mv.Heading = "saved", mv.Title
	mv.Paragraphs = []string{s.T(lang, "saved.text", map[string]any{
		"Date": s.dateTime(lang, v.order.ExpiresAt)})}
	if code != "" {
		// Continue now posts the code, as the code form does: a link with
		// the code would keep it in the browser's history.
		mv.Code = questionnaire.FormatCode(code)
		mv.ContinueText = s.T(lang, "saved.continue")
		token := randomToken()
		s.setCookie(c, s.csrfCookie(), token, 0)
		mv.CSRF = token
	}
	return s.writeHTML(c, fiber.StatusOK, "message.html", func(b *bytes.Buffer) { s.writeMessage(b, &mv) })
}
