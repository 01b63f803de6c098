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

// hemitWith is a valid hemit block with one field replaced or added.
func hemitWith(field string) string {
	fields := map[string]string{
		"apiKey":     `"apiKey": "hemit-key-0123456789"`,
		"apiBaseUrl": `"apiBaseUrl": "https://registry.example/PromsServices"`,
		"forms":      `"forms": {"1bc5f9f0-2607-49eb-94f0-6af955bbd79a": "audit"}`,
	}
	name, _, _ := strings.Cut(strings.Trim(field, `"`), `"`)
	fields[name] = field
	parts := []string{}
	for _, k := range []string{"apiKey", "apiBaseUrl", "forms"} {
		parts = append(parts, fields[k])
	}
	if _, known := map[string]bool{"apiKey": true, "apiBaseUrl": true, "forms": true}[name]; !known {
		parts = append(parts, field)
	}
	return `"hemit": {` + strings.Join(parts, ", ") + `}`
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
		{"a hemit block that is null", `"hemit": null`, "clients[0].hemit", questionnaire.ProblemType},
		{"a short HEMIT key", hemitWith(`"apiKey": "short"`), "clients[0].hemit.apiKey", questionnaire.ProblemPattern},
		{"a HEMIT key with a space", hemitWith(`"apiKey": "hemit key 0123456789"`), "clients[0].hemit.apiKey", questionnaire.ProblemPattern},
		{"a HEMIT key that is also a token", hemitWith(`"apiKey": "kvarus-token-0123456789"`), "clients[0].hemit.apiKey", questionnaire.ProblemDuplicate},
		{"no apiBaseUrl", hemitWith(`"apiBaseUrl": ""`), "clients[0].hemit.apiBaseUrl", questionnaire.ProblemPattern},
		{"an apiBaseUrl that is not http", hemitWith(`"apiBaseUrl": "ftp://registry.example/"`), "clients[0].hemit.apiBaseUrl", questionnaire.ProblemPattern},
		{"an apiBaseUrl over http", hemitWith(`"apiBaseUrl": "http://registry.example/PromsServices"`), "clients[0].hemit.apiBaseUrl", questionnaire.ProblemPattern},
		{"an apiBaseUrl with a query", hemitWith(`"apiBaseUrl": "https://registry.example/?a=1"`), "clients[0].hemit.apiBaseUrl", questionnaire.ProblemPattern},
		{"no forms", hemitWith(`"forms": {}`), "clients[0].hemit.forms", questionnaire.ProblemRequired},
		{"a form key that is not a GUID", hemitWith(`"forms": {"rand-12": "audit"}`), "clients[0].hemit.forms.rand-12", questionnaire.ProblemPattern},
		{"a form that names nothing", hemitWith(`"forms": {"1bc5f9f0-2607-49eb-94f0-6af955bbd79a": "Audit 1"}`),
			"clients[0].hemit.forms.1bc5f9f0-2607-49eb-94f0-6af955bbd79a", questionnaire.ProblemPattern},
		{"one GUID twice in two cases", hemitWith(`"forms": {"1bc5f9f0-2607-49eb-94f0-6af955bbd79a": "audit", "1BC5F9F0-2607-49EB-94F0-6AF955BBD79A": "dudit"}`),
			"clients[0].hemit.forms.1bc5f9f0-2607-49eb-94f0-6af955bbd79a", questionnaire.ProblemDuplicate},
		{"an unknown field in hemit", hemitWith(`"callbackUrl": "https://registry.example/"`), "clients[0].hemit.callbackUrl", questionnaire.ProblemUnknownField},
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

func TestClientHemit(t *testing.T) {
	cs, err := questionnaire.ParseClients([]byte(`{"clients": [
		{"id": "kvarus", "tokens": ["kvarus-token-0123456789"], "hemit": {"apiKey": "hemit-key-0123456789",
		 "apiBaseUrl": "https://registry.example/PromsServices",
		 "forms": {"1BC5F9F0-2607-49EB-94F0-6AF955BBD79A": "audit", "0f68e0df-0000-4000-8000-000000000001": "kvarus-maalepunkt@1.0.0#en"}}},
		{"id": "other", "tokens": ["other-token-0123456789"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c := cs.LookupHemit("hemit-key-0123456789"); c == nil || c.ID != "kvarus" {
		t.Fatalf("LookupHemit(the key) = %v, want kvarus", c)
	}
	if c := cs.LookupHemit("", "wrong", "hemit-key-0123456789"); c == nil || c.ID != "kvarus" {
		t.Errorf("LookupHemit with the key among others = %v, want kvarus", c)
	}
	for _, k := range []string{"", "hemit-key-012345678", "kvarus-token-0123456789", "other-token-0123456789"} {
		if c := cs.LookupHemit(k); c != nil {
			t.Errorf("LookupHemit(%q) = %s, want none", k, c.ID)
		}
	}
	h := cs.Get("kvarus").Hemit
	if f, ok := h.Form("1bc5f9f0-2607-49eb-94f0-6af955bbd79a"); !ok || f != (questionnaire.HemitForm{Questionnaire: "audit"}) {
		t.Errorf("Form(lower case) = %+v, %v; want audit, the latest", f, ok)
	}
	want := questionnaire.HemitForm{Questionnaire: "kvarus-maalepunkt", Version: "1.0.0", Language: "en"}
	if f, ok := h.Form("0F68E0DF-0000-4000-8000-000000000001"); !ok || f != want {
		t.Errorf("Form(upper case) = %+v, %v; want %+v", f, ok, want)
	}
	if _, ok := h.Form("1bc5f9f0-2607-49eb-94f0-6af955bbd79b"); ok {
		t.Error("Form of a GUID the client does not have is found")
	}
}

func TestClientHemitForms(t *testing.T) {
	cat := questionnaire.NewCatalogue()
	def, err := questionnaire.Parse([]byte(`{"id": "audit", "version": "1.0.0", "languages": ["nb"], "title": {"nb": "AUDIT"},
		"items": [{"linkId": "q1", "type": "boolean", "text": {"nb": "Ja?"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.Add(def); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, forms, questionnaires, problem string }{
		{"latest", `"1bc5f9f0-2607-49eb-94f0-6af955bbd79a": "audit"`, "", ""},
		{"pinned", `"1bc5f9f0-2607-49eb-94f0-6af955bbd79a": "audit@1.0.0#nb"`, "", ""},
		{"unknown questionnaire", `"1bc5f9f0-2607-49eb-94f0-6af955bbd79a": "dudit"`, "", questionnaire.ProblemReference},
		{"unknown version", `"1bc5f9f0-2607-49eb-94f0-6af955bbd79a": "audit@2.0.0"`, "", questionnaire.ProblemReference},
		{"a language the form lacks", `"1bc5f9f0-2607-49eb-94f0-6af955bbd79a": "audit#en"`, "", questionnaire.ProblemLanguage},
		{"not the client's to order", `"1bc5f9f0-2607-49eb-94f0-6af955bbd79a": "audit"`, `, "questionnaires": ["kvarus-*"]`, questionnaire.ProblemReference},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := questionnaire.ParseClients([]byte(`{"clients": [{"id": "kvarus", "tokens": ["kvarus-token-0123456789"]` + tt.questionnaires +
				`, "hemit": {"apiKey": "hemit-key-0123456789", "apiBaseUrl": "https://registry.example/", "forms": {` + tt.forms + `}}}]}`))
			if err != nil {
				t.Fatal(err)
			}
			err = cs.CheckForms(cat, []string{"nb", "nn", "en"})
			var de *questionnaire.DefinitionError
			switch {
			case tt.problem == "" && err != nil:
				t.Fatalf("CheckForms: %v", err)
			case tt.problem == "":
			case !errors.As(err, &de) || len(de.Problems) != 1 || de.Problems[0].Code != tt.problem ||
				de.Problems[0].Path != "clients[0].hemit.forms.1bc5f9f0-2607-49eb-94f0-6af955bbd79a":
				t.Fatalf("CheckForms = %v, want one %s problem at the form", err, tt.problem)
			}
		})
	}
}
