package questionnaire_test

import (
	"testing"

	"eprom/questionnaire"
)

func TestDigest(t *testing.T) {
	a := `{"id":"d","version":"1.0.0","languages":["en"],"title":{"en":"T"},"items":[{"linkId":"q","type":"integer","max":100,"text":{"en":"Q"}}]}`
	b := "{\n  \"title\": {\"en\": \"T\"},\n  \"items\": [ {\"text\": {\"en\": \"Q\"}, \"max\": 1e2, \"type\": \"integer\", \"linkId\": \"q\"} ],\n" +
		"  \"languages\": [ \"en\" ], \"version\": \"1.0.0\",\t\"id\": \"d\"\n}\n"
	c := `{"id":"d","version":"1.0.0","languages":["en"],"title":{"en":"T."},"items":[{"linkId":"q","type":"integer","max":100,"text":{"en":"Q"}}]}`

	da, db, dc := mustParse(t, a).Digest(), mustParse(t, b).Digest(), mustParse(t, c).Digest()
	if da != db {
		t.Errorf("key order, white space and number form changed the digest: %s vs %s", da, db)
	}
	if da == dc {
		t.Error("a changed title did not change the digest")
	}
}

// TestCanonical checks the RFC 8785 serialization against cases from the RFC
// and its reference implementations.
func TestCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"b": 1, "a": [true, false, null]}`, `{"a":[true,false,null],"b":1}`},
		{`{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001, -0, 1e21, 1e20]}`,
			`{"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27,0,1e+21,100000000000000000000]}`},
		{`{"string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"}`, `{"string":"€$\u000f\nA'B\"\\\\\"/"}`},
		{`{"\u20ac": 1, "\r": 2, "1": 3, "\u00f6": 4, "\ud83d\ude00": 5, "\ufb33": 6}`,
			"{\"\\r\":2,\"1\":3,\"\u00f6\":4,\"\u20ac\":1,\"\U0001F600\":5,\"\ufb33\":6}"},
		{`"<&>"`, `"<&>"`},
	}
	for _, tt := range tests {
		got, err := questionnaire.Canonical([]byte(tt.in))
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%s:\n got  %s\n want %s", tt.in, got, tt.want)
		}
	}
}
