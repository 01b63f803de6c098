package web

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"regexp"
	"strings"

	"eprom/questionnaire"

	"github.com/gofiber/fiber/v2"
)

// MinTokenLength is the shortest API token accepted.
const MinTokenLength = 16

var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Tokens are the API bearer tokens, each with a name for the audit log.
// They are kept as SHA-256 hashes and compared in constant time.
type Tokens struct {
	names  []string
	hashes [][32]byte
}

// ParseTokens reads name:token pairs, separated by commas or newlines; in
// a file, blank lines and lines starting with # are skipped. Names must be
// unique, and tokens at least MinTokenLength characters.
func ParseTokens(s string) (*Tokens, error) {
	t := &Tokens{}
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(s, ",", "\n")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, token, ok := strings.Cut(line, ":")
		name, token = strings.TrimSpace(name), strings.TrimSpace(token)
		switch {
		case !ok:
			return nil, fmt.Errorf("an API token must be written name:token")
		case !tokenName.MatchString(name):
			return nil, fmt.Errorf("API token name %q: use letters, digits, '.', '_' and '-'", name)
		case seen[name]:
			return nil, fmt.Errorf("API token name %q is used twice", name)
		case len(token) < MinTokenLength:
			return nil, fmt.Errorf("the API token of %q is shorter than %d characters", name, MinTokenLength)
		}
		seen[name] = true
		t.names = append(t.names, name)
		t.hashes = append(t.hashes, sha256.Sum256([]byte(token)))
	}
	if len(t.names) == 0 {
		return nil, fmt.Errorf("no API token given")
	}
	return t, nil
}

// Lookup returns the name of the token, or "" when no token matches. Every
// token is compared, in constant time, whatever matches.
func (t *Tokens) Lookup(token string) string {
	h := sha256.Sum256([]byte(token))
	found := -1
	for i := range t.hashes {
		if subtle.ConstantTimeCompare(h[:], t.hashes[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return ""
	}
	return t.names[found]
}

// callerKey is where authenticate leaves the token's name.
const callerKey = "caller"

// authenticate requires a valid "Authorization: Bearer <token>".
func (s *Server) authenticate(c *fiber.Ctx) error {
	scheme, token, _ := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	name := ""
	if strings.EqualFold(scheme, "Bearer") && token != "" {
		name = s.cfg.Tokens.Lookup(strings.TrimSpace(token))
	}
	if name == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="eprom"`)
		return questionnaire.Errorf(questionnaire.EUNAUTHORIZED, "A valid API token is required, sent as the header Authorization: Bearer followed by the token.")
	}
	c.Locals(callerKey, name)
	return c.Next()
}

// caller returns the name of the authenticated token.
func caller(c *fiber.Ctx) string {
	name, _ := c.Locals(callerKey).(string)
	return name
}
