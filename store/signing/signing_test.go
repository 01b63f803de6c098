package signing_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eprom/store/signing"

	"github.com/go-jose/go-jose/v4"
)

func mustLoad(t *testing.T, path string, create bool) *signing.Keyring {
	t.Helper()
	k, err := signing.Load(path, create)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jwks(k *signing.Keyring) *jose.JSONWebKeySet {
	set := k.JWKS(nil, time.Now())
	return &set
}

func TestGeneratedOnFirstStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "signing-keys.pem")
	k := mustLoad(t, path, true)
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", st.Mode(), err)
	}
	again := mustLoad(t, path, true)
	if k.Keys()[0].ID != again.Keys()[0].ID {
		t.Error("a second start made a new key")
	}
	if _, err := signing.Load(filepath.Join(t.TempDir(), "missing.pem"), false); err == nil {
		t.Error("a missing keys file that must be given was accepted")
	}
}

func TestOpenSSLKeys(t *testing.T) {
	k := mustLoad(t, "testdata/openssl-ed25519.pem", false)
	jws, kid, err := k.Sign([]byte(`{"id":"x"}`))
	if err != nil || kid != k.Keys()[0].ID {
		t.Fatal(err)
	}
	payload, gotKid, err := signing.Verify(jws, jwks(k))
	if err != nil || string(payload) != `{"id":"x"}` || gotKid != kid {
		t.Fatalf("%s %s %v", payload, gotKid, err)
	}
}

func TestSignAndVerify(t *testing.T) {
	k := mustLoad(t, filepath.Join(t.TempDir(), "k.pem"), true)
	jws, kid, err := k.Sign([]byte(`{"answers":[{"linkId":"q1","value":"2"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(jws, ".")
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]any
	json.Unmarshal(header, &h)
	if h["alg"] != "EdDSA" || h["kid"] != kid || len(parts) != 3 {
		t.Fatalf("header %s", header)
	}

	t.Run("ErrTampered: one byte of the payload flipped", func(t *testing.T) {
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		payload[10] ^= 0x01
		forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
		if _, _, err := signing.Verify(forged, jwks(k)); err == nil {
			t.Fatal("a tampered payload verified")
		}
	})

	t.Run("ErrUnknownKey: a key not in the set", func(t *testing.T) {
		other := mustLoad(t, filepath.Join(t.TempDir(), "o.pem"), true)
		if _, _, err := signing.Verify(jws, jwks(other)); err == nil || !strings.Contains(err.Error(), "unknown key") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("ErrAlgorithm: alg none is refused", func(t *testing.T) {
		none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"` + kid + `"}`))
		if _, _, err := signing.Verify(none+"."+parts[1]+".", jwks(k)); err == nil {
			t.Fatal("alg none verified")
		}
	})
}

func TestRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.pem")
	k := mustLoad(t, path, true)
	oldKid := k.Keys()[0].ID
	oldJWS, _, _ := k.Sign([]byte(`{"old":true}`))
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

	newKid, err := signing.Rotate(path, t0)
	if err != nil || newKid == oldKid {
		t.Fatalf("Rotate: %s %v", newKid, err)
	}
	fresh := mustLoad(t, path, false)
	keys := fresh.Keys()
	if len(keys) != 2 || keys[0].ID != newKid || !keys[0].RetiredAt.IsZero() || !keys[1].RetiredAt.Equal(t0) {
		t.Fatalf("keys after rotate: %+v", keys)
	}
	if _, kid, _ := fresh.Sign([]byte(`{}`)); kid != newKid {
		t.Errorf("signed by %s, want the new key", kid)
	}

	t.Run("old envelopes still verify while the old key is published", func(t *testing.T) {
		set := fresh.JWKS(nil, t0.Add(time.Hour))
		if len(set.Keys) != 2 {
			t.Fatalf("%d keys published", len(set.Keys))
		}
		if _, _, err := signing.Verify(oldJWS, &set); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("after the grace period, only while its envelopes are undelivered", func(t *testing.T) {
		later := t0.Add(signing.Grace + time.Second)
		if set := fresh.JWKS(func(string) bool { return false }, later); len(set.Keys) != 1 || set.Keys[0].KeyID != newKid {
			t.Fatalf("published %v", set.Keys)
		}
		if set := fresh.JWKS(func(kid string) bool { return kid == oldKid }, later); len(set.Keys) != 2 {
			t.Fatalf("a key still in use was dropped")
		}
	})

	t.Run("a second rotation keeps the first retirement time", func(t *testing.T) {
		if _, err := signing.Rotate(path, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		keys := mustLoad(t, path, false).Keys()
		if len(keys) != 3 || !keys[2].RetiredAt.Equal(t0) || !keys[1].RetiredAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("%+v", keys)
		}
	})
}

func TestParseRefusesWhatIsNotAnEd25519Key(t *testing.T) {
	for name, raw := range map[string]string{
		"empty":   "",
		"garbage": "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n",
		"a cert":  "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n",
	} {
		if _, err := signing.Parse([]byte(raw)); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	k, _ := signing.Load(filepath.Join(b.TempDir(), "k.pem"), true)
	payload := []byte(strings.Repeat(`{"linkId":"q1","value":"2"},`, 40))
	for b.Loop() {
		if _, _, err := k.Sign(payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	k, _ := signing.Load(filepath.Join(b.TempDir(), "k.pem"), true)
	jws, _, _ := k.Sign([]byte(strings.Repeat(`{"linkId":"q1","value":"2"},`, 40)))
	set := jwks(k)
	for b.Loop() {
		if _, _, err := signing.Verify(jws, set); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReplacedFileKeepsKeysInUse: a keys file overwritten while running
// without the key that signed waiting envelopes does not unpublish it
// while they wait; the operator is told once.
func TestReplacedFileKeepsKeysInUse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k.pem")
	k := mustLoad(t, path, true)
	var told []error
	k.OnReloadError(func(err error) { told = append(told, err) })
	oldKid := k.Keys()[0].ID
	oldJWS, _, _ := k.Sign([]byte(`{"waiting":true}`))

	other := filepath.Join(dir, "other.pem")
	newKid := mustLoad(t, other, true).Keys()[0].ID
	raw, _ := os.ReadFile(other)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Second)
	os.Chtimes(path, later, later)
	k.ReloadNow()

	if len(told) != 1 || !strings.Contains(told[0].Error(), oldKid) {
		t.Fatalf("told %v, want once about %s", told, oldKid)
	}
	if _, kid, _ := k.Sign([]byte(`{}`)); kid != newKid {
		t.Errorf("signed by %s, want the new file's key", kid)
	}
	keys := k.Keys()
	if len(keys) != 2 || keys[1].ID != oldKid || !keys[1].Dropped || keys[1].RetiredAt.IsZero() {
		for _, key := range keys {
			t.Logf("key %s dropped %v retired %v", key.ID, key.Dropped, key.RetiredAt)
		}
		t.Fatalf("%d keys after the file was replaced, want the new one and the old one dropped", len(keys))
	}
	inUse := func(kid string) bool { return kid == oldKid }
	set := k.JWKS(inUse, time.Now())
	if len(set.Keys) != 2 {
		t.Fatalf("published %d keys while the old key's envelopes wait, want 2", len(set.Keys))
	}
	if _, _, err := signing.Verify(oldJWS, &set); err != nil {
		t.Fatalf("a waiting envelope no longer verifies: %v", err)
	}
	if set := k.JWKS(func(string) bool { return false }, time.Now()); len(set.Keys) != 1 || set.Keys[0].KeyID != newKid {
		t.Fatalf("published %v once nothing waits, want only the new key", set.Keys)
	}
	k.ReloadNow()
	if len(told) != 1 {
		t.Errorf("told again: %v", told)
	}
}
