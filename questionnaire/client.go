package questionnaire

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// MinTokenLength is the shortest API token accepted.
const MinTokenLength = 16

// MaxClientsFileSize is the largest clients file ParseClients reads.
const MaxClientsFileSize = 1 << 20

// Client is an ordering system: a registry system that orders forms (HEMIT
// calls it "Bestillersystem"). Every order and every envelope belongs to
// one client; no client sees another's.
type Client struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Tokens         []string `json:"tokens"`
	Questionnaires []string `json:"questionnaires"`    // ids or patterns such as "kvarus-*"; empty: all
	RegistryURL    string   `json:"registryUrl"`       // where envelopes are pushed; empty: pull only
	RegistryToken  string   `json:"registryToken"`     // sent as a bearer token with each push
	Pull           bool     `json:"pull"`              // may lease its envelopes over /api/v1/submissions
	Help           *Contact `json:"help,omitempty"`    // the clinic, named in the "help now" notice beside the national numbers
	Privacy        *Contact `json:"privacy,omitempty"` // who handles reservation and deletion requests (the clinic or the registry's contact)
	Hemit          *Hemit   `json:"hemit,omitempty"`   // orders through HEMIT's API (POST /api/v2/formorder) and its callbacks
}

// Hemit is how a client that speaks HEMIT's ePROM API (an MRS registry's
// "Bestillersystem") orders and is called back (DESIGN.md §11).
type Hemit struct {
	APIKey     string `json:"apiKey"`     // sent as "Authorization: Basic <apiKey>" with each order, and in each callback's body
	APIBaseURL string `json:"apiBaseUrl"` // callbacks go to PUT {apiBaseUrl}/api/PromsFormOrder
	// Forms maps the registry's form GUIDs to definitions: "audit" (the
	// latest version), "audit@1.0.0" (pinned), either with "#en" for the
	// language the patient starts in.
	Forms map[string]string `json:"forms"`
}

// HemitForm is what a form GUID names: a definition, its version ("" for
// the latest) and the language the patient starts in ("" for the default).
type HemitForm struct {
	Questionnaire, Version, Language string
}

// Form returns what the registry's form GUID names; ok is false when the
// client has no such form. GUIDs are compared without regard to case.
func (h *Hemit) Form(guid string) (f HemitForm, ok bool) {
	ref, ok := h.Forms[strings.ToLower(guid)]
	if !ok {
		return f, false
	}
	return parseHemitForm(ref), true
}

func parseHemitForm(ref string) HemitForm {
	var f HemitForm
	ref, f.Language, _ = strings.Cut(ref, "#")
	f.Questionnaire, f.Version, _ = strings.Cut(ref, "@")
	return f
}

var (
	guidPattern      = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	hemitFormPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*(@[0-9A-Za-z.+-]+)?(#[a-z]{2,3})?$`)
)

// loopback reports whether host is this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsGUID reports whether s is a GUID such as 1bc5f9f0-2607-49eb-94f0-6af955bbd79a.
func IsGUID(s string) bool { return guidPattern.MatchString(s) }

// check reports what is wrong with a client's hemit block at path.
func (h *Hemit) check(ps *problems, path string) {
	switch t := h.APIKey; {
	case len(t) < MinTokenLength:
		ps.add(join(path, "apiKey"), ProblemPattern, "an API key needs at least %d characters", MinTokenLength)
	case strings.ContainsAny(t, " \t\r\n"):
		ps.add(join(path, "apiKey"), ProblemPattern, "an API key cannot hold white space")
	}
	u, err := url.Parse(h.APIBaseURL)
	switch {
	case h.APIBaseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
		ps.add(join(path, "apiBaseUrl"), ProblemPattern, "%q is not an https URL without a query, such as https://registry.example/PromsServices", h.APIBaseURL)
	case u.Scheme == "http" && !loopback(u.Hostname()):
		// Callbacks carry answers and the registry's key.
		ps.add(join(path, "apiBaseUrl"), ProblemPattern, "%q: callbacks carry answers and the API key, so they go over https (http only to this machine: localhost, 127.0.0.1, ::1)", h.APIBaseURL)
	}
	if len(h.Forms) == 0 {
		ps.add(join(path, "forms"), ProblemRequired, "map at least one of the registry's form GUIDs to a questionnaire, such as {\"1bc5f9f0-2607-49eb-94f0-6af955bbd79a\": \"audit\"}")
	}
	lower := map[string]string{}
	for _, guid := range sortedKeys(h.Forms) {
		at := join(join(path, "forms"), guid)
		if !IsGUID(guid) {
			ps.add(at, ProblemPattern, "%q is not a form GUID such as 1bc5f9f0-2607-49eb-94f0-6af955bbd79a", guid)
		} else if prev, dup := lower[strings.ToLower(guid)]; dup {
			ps.add(at, ProblemDuplicate, "the same GUID as %q: GUIDs are compared without regard to case", prev)
		}
		lower[strings.ToLower(guid)] = guid
		if !hemitFormPattern.MatchString(h.Forms[guid]) {
			ps.add(at, ProblemPattern, "%q does not name a questionnaire: give an id such as \"audit\", optionally with @version and #language (\"audit@1.0.0#en\")", h.Forms[guid])
		}
	}
	forms := make(map[string]string, len(h.Forms))
	for guid, ref := range h.Forms {
		forms[strings.ToLower(guid)] = ref
	}
	h.Forms = forms
}

// Contact is how a patient reaches a person: a name, a phone number and opening hours.
type Contact struct {
	Name  Text   `json:"name,omitempty"`  // e.g. {"nb": "Poliklinikken for rusbehandling"}
	Phone string `json:"phone,omitempty"` // e.g. "+47 22 00 00 00"; digits, spaces, +, - only
	Hours Text   `json:"hours,omitempty"` // e.g. {"nb": "hverdager 8–15"}
	Email string `json:"email,omitempty"`
	URL   string `json:"url,omitempty"` // https only
}

// MaxContactText bounds a contact's phone, email and URL, and each of its
// texts, in bytes: a contact is a line on a page, not a letter.
const MaxContactText = 200

var phonePattern = regexp.MustCompile(`^\+?[0-9][0-9 -]*$`)

// check reports what is wrong with the contact at path: it needs a phone,
// an email or a URL; the phone holds digits, spaces and hyphens, with an
// optional leading +, and at least three digits; the URL is https; the
// texts are keyed by language codes and not empty.
func (c *Contact) check(ps *problems, path string) {
	if c.Phone == "" && c.Email == "" && c.URL == "" {
		ps.add(path, ProblemRequired, "a contact needs a phone, an email or a url: how else would a patient reach it?")
	}
	for _, f := range []struct{ name, v string }{{"phone", c.Phone}, {"email", c.Email}, {"url", c.URL}} {
		if len(f.v) > MaxContactText {
			ps.add(join(path, f.name), ProblemPattern, "longer than %d characters", MaxContactText)
		}
	}
	if p := c.Phone; p != "" {
		digits := 0
		for _, r := range p {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		switch {
		case !phonePattern.MatchString(p):
			ps.add(join(path, "phone"), ProblemPattern, "%q: a phone number holds digits, spaces and hyphens, with an optional leading +", p)
		case digits < 3:
			ps.add(join(path, "phone"), ProblemPattern, "%q: a phone number has at least 3 digits", p)
		}
	}
	if e := c.Email; e != "" {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e || a.Name != "" {
			ps.add(join(path, "email"), ProblemPattern, "%q is not an email address such as post@example.no", e)
		}
	}
	if u := c.URL; u != "" {
		if pu, err := url.Parse(u); err != nil || pu.Scheme != "https" || pu.Host == "" || pu.User != nil {
			ps.add(join(path, "url"), ProblemPattern, "%q is not an https URL", u)
		}
	}
	contactText(ps, join(path, "name"), c.Name)
	contactText(ps, join(path, "hours"), c.Hours)
}

// contactText checks a contact's text: language codes as keys, no empty
// or overlong text.
func contactText(ps *problems, path string, t Text) {
	for _, l := range sortedKeys(t) {
		switch s := t[l]; {
		case !languagePattern.MatchString(l):
			ps.add(join(path, l), ProblemLanguage, "%q is not a language code such as nb", l)
		case strings.TrimSpace(s) == "":
			ps.add(join(path, l), ProblemRequired, "empty text")
		case len(s) > MaxContactText:
			ps.add(join(path, l), ProblemPattern, "longer than %d characters", MaxContactText)
		}
	}
}

// MayOrder reports whether the client may order the questionnaire id.
func (c *Client) MayOrder(id string) bool {
	if len(c.Questionnaires) == 0 {
		return true
	}
	for _, p := range c.Questionnaires {
		if ok, _ := path.Match(p, id); ok {
			return true
		}
	}
	return false
}

// MayPull reports whether the client may lease envelopes: it asked to, or
// it has no registry to push to (pull only).
func (c *Client) MayPull() bool { return c.Pull || c.RegistryURL == "" }

// Clients is the set of ordering systems, looked up by token.
type Clients struct {
	list   []*Client
	hashes [][32]byte // SHA-256 of each token
	owner  []int      // index in list of each token's client
	pos    []int      // 1-based position of each token in its client's list
	hemit  [][32]byte // SHA-256 of each client's HEMIT API key (zero when it has none)
}

// clientsFile is the shape of the clients file.
type clientsFile struct {
	Clients []*Client `json:"clients"`
}

var clientID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ParseClients reads a clients file (DESIGN.md §9) strictly: unknown
// fields and values of the wrong type are errors with their JSON path, and
// so are missing ids, short or repeated tokens and bad URLs.
func ParseClients(data []byte) (*Clients, error) {
	if len(data) > MaxClientsFileSize {
		return nil, fmt.Errorf("the file is %d bytes, more than the %d allowed", len(data), MaxClientsFileSize)
	}
	var f clientsFile
	if err := DecodeStrict(data, &f); err != nil {
		return nil, err
	}
	var ps problems
	if len(f.Clients) == 0 {
		ps.add("clients", ProblemRequired, "no client: list at least one ordering system")
	}
	seenID, seenToken := map[string]string{}, map[string]string{}
	for i, c := range f.Clients {
		at := fmt.Sprintf("clients[%d]", i)
		if c == nil {
			ps.add(at, ProblemType, "want an object, got null")
			continue
		}
		switch {
		case c.ID == "":
			ps.add(at+".id", ProblemRequired, "every client needs an id")
		case !clientID.MatchString(c.ID):
			ps.add(at+".id", ProblemPattern, "%q: use lower-case letters, digits, '_' and '-', at most 64", c.ID)
		case seenID[c.ID] != "":
			ps.add(at+".id", ProblemDuplicate, "%q is also the id of %s", c.ID, seenID[c.ID])
		default:
			seenID[c.ID] = at
		}
		if len(c.Tokens) == 0 {
			ps.add(at+".tokens", ProblemRequired, "a client needs at least one API token")
		}
		for j, t := range c.Tokens {
			tat := fmt.Sprintf("%s.tokens[%d]", at, j)
			switch {
			case len(t) < MinTokenLength:
				ps.add(tat, ProblemPattern, "a token needs at least %d characters", MinTokenLength)
			case strings.TrimSpace(t) != t || strings.ContainsAny(t, " \t\r\n"):
				ps.add(tat, ProblemPattern, "a token cannot hold white space")
			case seenToken[t] != "":
				ps.add(tat, ProblemDuplicate, "the same token as %s; every token names one client", seenToken[t])
			default:
				seenToken[t] = tat
			}
		}
		for j, p := range c.Questionnaires {
			if _, err := path.Match(p, ""); err != nil || p == "" {
				ps.add(fmt.Sprintf("%s.questionnaires[%d]", at, j), ProblemPattern, "%q is not a questionnaire id or a pattern such as kvarus-*", p)
			}
		}
		if c.RegistryURL != "" {
			if u, err := url.Parse(c.RegistryURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				ps.add(at+".registryUrl", ProblemPattern, "%q is not an http(s) URL", c.RegistryURL)
			}
		} else if c.RegistryToken != "" {
			ps.add(at+".registryToken", ProblemPattern, "a registry token without a registryUrl is never sent")
		}
		if c.Help != nil {
			c.Help.check(&ps, at+".help")
		}
		if c.Privacy != nil {
			c.Privacy.check(&ps, at+".privacy")
		}
		if c.Hemit != nil {
			c.Hemit.check(&ps, at+".hemit")
			if k := c.Hemit.APIKey; k != "" && seenToken[k] != "" {
				ps.add(at+".hemit.apiKey", ProblemDuplicate, "the same key as %s; every key names one client", seenToken[k])
			} else if k != "" {
				seenToken[k] = at + ".hemit.apiKey"
			}
		}
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return NewClients(f.Clients), nil
}

// NewClients indexes clients that are known to be valid (ParseClients
// checks them).
func NewClients(list []*Client) *Clients {
	cs := &Clients{list: list, hemit: make([][32]byte, len(list))}
	for i, c := range list {
		if c.Hemit != nil {
			cs.hemit[i] = sha256.Sum256([]byte(c.Hemit.APIKey))
		}
		for j, t := range c.Tokens {
			cs.hashes = append(cs.hashes, sha256.Sum256([]byte(t)))
			cs.owner, cs.pos = append(cs.owner, i), append(cs.pos, j+1)
		}
	}
	return cs
}

// Lookup returns the client a token belongs to and the token's 1-based
// position in the client's list (for the audit log, never the token), or
// nil. Every token is compared, in constant time, whatever matches.
func (cs *Clients) Lookup(token string) (*Client, int) {
	h := sha256.Sum256([]byte(token))
	found := -1
	for i := range cs.hashes {
		if subtle.ConstantTimeCompare(h[:], cs.hashes[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return nil, 0
	}
	return cs.list[cs.owner[found]], cs.pos[found]
}

// LookupHemit returns the client whose HEMIT API key is one of keys (the
// ways a client may send it), or nil. Every key is compared with every
// client's, in constant time, whatever matches.
func (cs *Clients) LookupHemit(keys ...string) *Client {
	found := -1
	for _, k := range keys {
		if k == "" {
			continue
		}
		h := sha256.Sum256([]byte(k))
		for i := range cs.hemit {
			if cs.list[i].Hemit != nil && subtle.ConstantTimeCompare(h[:], cs.hemit[i][:]) == 1 {
				found = i
			}
		}
	}
	if found < 0 {
		return nil
	}
	return cs.list[found]
}

// CheckForms reports the HEMIT forms that name no definition of the
// catalogue, or one the client may not order, with a line for each.
func (cs *Clients) CheckForms(cat *Catalogue, languages []string) error {
	var ps problems
	for i, c := range cs.list {
		if c.Hemit == nil {
			continue
		}
		for _, guid := range sortedKeys(c.Hemit.Forms) {
			at := fmt.Sprintf("clients[%d].hemit.forms.%s", i, guid)
			f := parseHemitForm(c.Hemit.Forms[guid])
			def, err := cat.Get(f.Questionnaire, f.Version)
			switch {
			case err != nil:
				ps.add(at, ProblemReference, "%s", ErrorMessage(err))
			case !c.MayOrder(f.Questionnaire):
				ps.add(at, ProblemReference, "client %s may not order %q (see its questionnaires)", c.ID, f.Questionnaire)
			case f.Language != "" && (!slices.Contains(def.Languages, f.Language) || !slices.Contains(languages, f.Language)):
				ps.add(at, ProblemLanguage, "%s %s is not offered in %q", def.ID, def.Version, f.Language)
			}
		}
	}
	return ps.err()
}

// Get returns the client with the given id, or nil.
func (cs *Clients) Get(id string) *Client {
	for _, c := range cs.list {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// List returns the clients in file order.
func (cs *Clients) List() []*Client { return slices.Clone(cs.list) }

// DecodeStrict decodes one JSON document into v, which must be a pointer
// to a struct of strings, booleans, numbers, slices, maps and structs. The
// document must be I-JSON (valid UTF-8, no repeated key); unknown fields
// and values of the wrong type are reported together, each with its path,
// as a *DefinitionError.
func DecodeStrict(data []byte, v any) error {
	tree, err := decodeTree(data)
	if err != nil {
		if te, ok := err.(*treeError); ok {
			return &DefinitionError{Problems: []Problem{{Path: te.path, Code: te.code, Message: te.msg}}}
		}
		return &DefinitionError{Problems: []Problem{{Code: ProblemSyntax, Message: err.Error()}}}
	}
	var ps problems
	walkStrict(&ps, "", tree, reflect.TypeOf(v).Elem())
	if err := ps.err(); err != nil {
		return err
	}
	canon, err := canonicalJSON(tree)
	if err != nil {
		return &DefinitionError{Problems: []Problem{{Code: ProblemSyntax, Message: err.Error()}}}
	}
	// Decoding what was vetted, not the file.
	if err := json.Unmarshal(canon, v); err != nil {
		return &DefinitionError{Problems: []Problem{{Code: ProblemSyntax, Message: "internal: " + err.Error()}}}
	}
	return nil
}
