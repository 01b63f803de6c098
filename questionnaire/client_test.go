package questionnaire_test

import (
	"errors"
	"strings"
	"testing"

	"eprom/questionnaire"
)

// clientsWith returns a clients file of one valid client with the given
// extra fields (JSON members, without braces).
func clientsWith(extra string) []byte {
	if extra != "" {
		extra = ", " + extra
	}
	return []byte(`{"clients": [{"id": "kvarus", "name": "KvaRus", "tokens": ["kvarus-token-0123456789"]` + extra + `}]}`)
}

// clientProblems parses a clients file and returns its problems.
func clientProblems(tb testing.TB, data []byte) []questionnaire.Problem {
	tb.Helper()
	_, err := questionnaire.ParseClients(data)
	if err == nil {
		return nil
	}
	var de *questionnaire.DefinitionError
	if !errors.As(err, &de) {
		tb.Fatalf("ParseClients returned %T, want *DefinitionError: %v", err, err)
	}
	return de.Problems
}

func TestClientContacts(t *testing.T) {
	t.Run("help and privacy contacts", func(t *testing.T) {
		cs, err := questionnaire.ParseClients(clientsWith(`
			"help": {"name": {"nb": "Poliklinikken for rusbehandling", "en": "The outpatient clinic for substance use"},
			         "phone": "+47 22 00 00 00", "hours": {"nb": "hverdager 8–15"}},
			"privacy": {"name": {"nb": "KvaRus"}, "email": "kvarus@example.no", "url": "https://example.no/kvarus/reservasjon"}`))
		if err != nil {
			t.Fatal(err)
		}
		c := cs.Get("kvarus")
		if c.Help == nil || c.Help.Phone != "+47 22 00 00 00" || c.Help.Name.Get("nb") != "Poliklinikken for rusbehandling" ||
			c.Help.Hours.Get("en") != "hverdager 8–15" {
			t.Errorf("help = %+v", c.Help)
		}
		if c.Privacy == nil || c.Privacy.Email != "kvarus@example.no" || c.Privacy.URL != "https://example.no/kvarus/reservasjon" || c.Privacy.Phone != "" {
			t.Errorf("privacy = %+v", c.Privacy)
		}
	})

	t.Run("both are optional", func(t *testing.T) {
		cs, err := questionnaire.ParseClients(clientsWith(""))
		if err != nil {
			t.Fatal(err)
		}
		if c := cs.Get("kvarus"); c.Help != nil || c.Privacy != nil {
			t.Errorf("contacts %+v %+v, want none", c.Help, c.Privacy)
		}
	})

	for _, ok := range []string{"113", "22 00 00 00", "+47 22-00-00-00", "0047 915 00 000"} {
		t.Run("phone "+ok, func(t *testing.T) {
			if ps := clientProblems(t, clientsWith(`"help": {"phone": "`+ok+`"}`)); ps != nil {
				t.Errorf("refused: %v", ps)
			}
		})
	}

	tests := []struct {
		name  string
		extra string
		path  string
		code  string
	}{
		{"a contact with no way to reach it", `"help": {"name": {"nb": "Poliklinikken"}, "hours": {"nb": "hverdager 8–15"}}`,
			"clients[0].help", questionnaire.ProblemRequired},
		{"an empty privacy contact", `"privacy": {}`, "clients[0].privacy", questionnaire.ProblemRequired},
		{"a phone with letters", `"help": {"phone": "22 00 00 00 (sentralbord)"}`, "clients[0].help.phone", questionnaire.ProblemPattern},
		{"a phone with dots", `"help": {"phone": "22.00.00.00"}`, "clients[0].help.phone", questionnaire.ProblemPattern},
		{"a phone with + inside", `"help": {"phone": "22+00"}`, "clients[0].help.phone", questionnaire.ProblemPattern},
		{"a phone of spaces", `"help": {"phone": "+ - "}`, "clients[0].help.phone", questionnaire.ProblemPattern},
		{"a phone too short", `"help": {"phone": "12"}`, "clients[0].help.phone", questionnaire.ProblemPattern},
		{"an http URL", `"privacy": {"url": "http://example.no/personvern"}`, "clients[0].privacy.url", questionnaire.ProblemPattern},
		{"a URL without a host", `"privacy": {"url": "https:///personvern"}`, "clients[0].privacy.url", questionnaire.ProblemPattern},
		{"a javascript URL", `"help": {"url": "javascript:alert(1)"}`, "clients[0].help.url", questionnaire.ProblemPattern},
		{"an email with a name", `"privacy": {"email": "KvaRus <kvarus@example.no>"}`, "clients[0].privacy.email", questionnaire.ProblemPattern},
		{"an email without @", `"privacy": {"email": "kvarus.example.no"}`, "clients[0].privacy.email", questionnaire.ProblemPattern},
		{"a name that is a plain string, not a text", `"help": {"name": "Poliklinikken", "phone": "113"}`,
			"clients[0].help.name", questionnaire.ProblemType},
		{"a name in no language", `"help": {"name": {"NB": "Poliklinikken"}, "phone": "113"}`,
			"clients[0].help.name.NB", questionnaire.ProblemLanguage},
		{"empty hours", `"help": {"hours": {"nb": " "}, "phone": "113"}`, "clients[0].help.hours.nb", questionnaire.ProblemRequired},
		{"an unknown field in a contact", `"help": {"phone": "113", "fax": "22 00 00 01"}`, "clients[0].help.fax", questionnaire.ProblemUnknownField},
		{"a contact that is null", `"help": null`, "clients[0].help", questionnaire.ProblemType},
		{"a phone too long", `"help": {"phone": "` + strings.Repeat("1", questionnaire.MaxContactText+1) + `"}`,
			"clients[0].help.phone", questionnaire.ProblemPattern},
		{"hemit, which another issue adds", `"hemit": {"apiKey": "k"}`, "clients[0].hemit", questionnaire.ProblemUnknownField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := clientProblems(t, clientsWith(tt.extra))
			if len(ps) != 1 || ps[0].Path != tt.path || ps[0].Code != tt.code {
				t.Fatalf("got %v, want one %s problem at %s", ps, tt.code, tt.path)
			}
			if ps[0].Message == "" {
				t.Error("the problem has no message")
			}
		})
	}

	t.Run("every contact problem at once, each with its path", func(t *testing.T) {
		ps := clientProblems(t, []byte(`{"clients": [
			{"id": "a", "tokens": ["a-token-0123456789ab"], "help": {"phone": "ring oss"}},
			{"id": "b", "tokens": ["b-token-0123456789ab"], "privacy": {"url": "ftp://example.no"}, "help": {}}]}`))
		got := map[string]bool{}
		for _, p := range ps {
			got[p.Path] = true
		}
		for _, want := range []string{"clients[0].help.phone", "clients[1].privacy.url", "clients[1].help"} {
			if !got[want] {
				t.Errorf("no problem at %s in %v", want, ps)
			}
		}
	})
}
