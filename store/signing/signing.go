// Package signing keeps the Ed25519 keys that sign submissions, signs
// envelopes as JWS compact serializations (RFC 7515, alg EdDSA, RFC 8037),
// publishes the public keys as a JWKS and verifies signatures against one.
//
// The keys file is PKCS#8 PEM, as `openssl genpkey -algorithm ed25519`
// writes it, one block a key. The first key that is not retired signs; every
// key is published. A line "# retired: <RFC 3339 time>" just before a block
// marks a key that signs no more; once its envelopes are delivered and a
// grace period has passed, it is no longer published.
package signing

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Grace is how long a retired key stays published after its last envelope
// was delivered.
const Grace = 7 * 24 * time.Hour

// reloadEvery is how often the keyring looks for a changed file.
const reloadEvery = 5 * time.Second

// Key is one signing key.
type Key struct {
	ID        string // RFC 7638 thumbprint, base64url
	Private   ed25519.PrivateKey
	RetiredAt time.Time // zero while the key may sign
	// Dropped: no longer in the file, which was replaced while running.
	// The key signs no more and is published only while envelopes it
	// signed wait (JWKS's inUse), with no grace period: whoever removed
	// it may have had a reason.
	Dropped bool
}

// DroppedError tells that a replaced keys file lacks keys that were in it;
// they stay published while their envelopes wait, until a restart.
type DroppedError struct {
	Path string
	IDs  []string
}

func (e *DroppedError) Error() string {
	return fmt.Sprintf("%s no longer holds the keys %s; they stay published while envelopes they signed wait, "+
		"but a restart refuses the file while it lacks them: put them back, marked retired", e.Path, strings.Join(e.IDs, ", "))
}

// Keyring holds the keys of a file, reloading it when it changes.
type Keyring struct {
	path string

	mu      sync.Mutex
	keys    []Key
	signer  jose.Signer
	signKID string
	modTime time.Time
	checked time.Time
	onError func(error) // told of a changed file that cannot be used
	lastErr string      // the last error told, so each is told once
}

// OnReloadError sets who is told when a changed keys file cannot be used
// (the keys read before keep signing); each error is told once.
func (k *Keyring) OnReloadError(fn func(error)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.onError = fn
}

// Load reads the keys file. With create set and no file there, it writes a
// new key into a new file of mode 0600.
func Load(path string, create bool) (*Keyring, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && create {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		key, err := newKeyPEM("")
		if err != nil {
			return nil, err
		}
		if err := writeFileAtomic(path, key, true); err != nil {
			return nil, err
		}
	}
	k := &Keyring{path: path}
	if err := k.reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// reload reads the file if it changed since the last read.
func (k *Keyring) reload() error {
	st, err := os.Stat(k.path)
	if err != nil {
		return err
	}
	if !k.modTime.IsZero() && st.ModTime().Equal(k.modTime) {
		return nil
	}
	raw, err := os.ReadFile(k.path)
	if err != nil {
		return err
	}
	keys, err := Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", k.path, err)
	}
	var active *Key
	for i := range keys {
		if keys[i].RetiredAt.IsZero() {
			active = &keys[i]
			break
		}
	}
	if active == nil {
		return fmt.Errorf("%s: every key is retired; one must sign", k.path)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: active.Private, KeyID: active.ID}},
		(&jose.SignerOptions{}).WithType("JOSE"))
	if err != nil {
		return err
	}
	// A key the new file lacks may have signed envelopes still waiting:
	// the registry must still be able to verify them.
	var dropped []string
	for _, old := range k.keys {
		if slices.ContainsFunc(keys, func(n Key) bool { return n.ID == old.ID }) {
			continue
		}
		if !old.Dropped {
			dropped = append(dropped, old.ID)
		}
		old.Dropped = true
		if old.RetiredAt.IsZero() {
			old.RetiredAt = st.ModTime()
		}
		keys = append(keys, old)
	}
	k.keys, k.signer, k.signKID, k.modTime = keys, signer, active.ID, st.ModTime()
	if len(dropped) > 0 {
		return &DroppedError{Path: k.path, IDs: dropped}
	}
	return nil
}

// maybeReload looks at the file at most every reloadEvery; a bad file
// keeps the keys in use and is reported.
func (k *Keyring) maybeReload(now time.Time) error {
	if now.Sub(k.checked) < reloadEvery {
		return nil
	}
	k.checked = now
	err := k.reload()
	switch {
	case err == nil:
		k.lastErr = ""
	case err.Error() != k.lastErr:
		k.lastErr = err.Error()
		if k.onError != nil {
			k.onError(err)
		}
	}
	return err
}

// Sign signs a payload with the signing key; it returns the JWS compact
// serialization and the key id.
func (k *Keyring) Sign(payload []byte) (string, string, error) {
	k.mu.Lock()
	err := k.maybeReload(time.Now())
	signer, kid := k.signer, k.signKID
	k.mu.Unlock()
	if err != nil && signer == nil {
		return "", "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", "", fmt.Errorf("signing: %w", err)
	}
	s, err := obj.CompactSerialize()
	return s, kid, err
}

// Keys returns the keys, the signing key first.
func (k *Keyring) Keys() []Key {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.maybeReload(time.Now())
	return append([]Key(nil), k.keys...)
}

// JWKS returns the public keys to publish: every key not retired, and
// retired keys that inUse still needs or that retired within Grace; a
// dropped key only while inUse needs it.
func (k *Keyring) JWKS(inUse func(kid string) bool, now time.Time) jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, key := range k.Keys() {
		if key.Dropped && inUse != nil && !inUse(key.ID) {
			continue
		}
		if !key.RetiredAt.IsZero() && now.Sub(key.RetiredAt) > Grace && (inUse == nil || !inUse(key.ID)) {
			continue
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: key.Private.Public(), KeyID: key.ID, Algorithm: string(jose.EdDSA), Use: "sig"})
	}
	return set
}

// Parse reads PKCS#8 PEM Ed25519 keys, with their retired marks.
func Parse(raw []byte) ([]Key, error) {
	var keys []Key
	rest := raw
	for n := 1; ; n++ {
		i := bytes.Index(rest, []byte("-----BEGIN "))
		if i < 0 {
			break
		}
		retired, err := retiredMark(rest[:i])
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", n, err)
		}
		block, after := pem.Decode(rest[i:])
		if block == nil {
			return nil, fmt.Errorf("key %d: not a PEM block", n)
		}
		rest = after
		if block.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("key %d: a %q block; want PRIVATE KEY (PKCS#8, openssl genpkey -algorithm ed25519)", n, block.Type)
		}
		parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", n, err)
		}
		priv, ok := parsed.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("key %d: a %T; want an Ed25519 key", n, parsed)
		}
		kid, err := KeyID(priv.Public().(ed25519.PublicKey))
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if k.ID == kid {
				return nil, fmt.Errorf("key %d: the same key as an earlier one", n)
			}
		}
		keys = append(keys, Key{ID: kid, Private: priv, RetiredAt: retired})
	}
	if len(keys) == 0 {
		return nil, errors.New("no key in the file")
	}
	return keys, nil
}

// retiredMark finds "# retired: <time>" in the text before a block.
func retiredMark(text []byte) (time.Time, error) {
	var at time.Time
	for _, line := range strings.Split(string(text), "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "# retired:")
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
		if err != nil {
			return at, fmt.Errorf("bad retired mark %q", line)
		}
		at = t
	}
	return at, nil
}

// KeyID is the RFC 7638 thumbprint of a public key, base64url.
func KeyID(pub ed25519.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// newKeyPEM returns a new key as PKCS#8 PEM, after an optional comment.
func newKeyPEM(comment string) ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(comment)
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return b.Bytes(), nil
}

// Rotate puts a new signing key first in the file and marks the keys that
// signed until now retired at now. It returns the new key's id.
func Rotate(path string, now time.Time) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	keys, err := Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	fresh, err := newKeyPEM("")
	if err != nil {
		return "", err
	}
	out := bytes.NewBuffer(fresh)
	for _, k := range keys {
		retired := k.RetiredAt
		if retired.IsZero() {
			retired = now
		}
		fmt.Fprintf(out, "# retired: %s\n", retired.UTC().Format(time.RFC3339))
		der, err := x509.MarshalPKCS8PrivateKey(k.Private)
		if err != nil {
			return "", err
		}
		pem.Encode(out, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	newKeys, err := Parse(out.Bytes())
	if err != nil {
		return "", err
	}
	if err := writeFileAtomic(path, out.Bytes(), false); err != nil {
		return "", err
	}
	return newKeys[0].ID, nil
}

// writeFileAtomic writes a file through a temporary one and a rename, with
// mode 0600, synced; with excl it refuses to replace an existing file.
func writeFileAtomic(path string, data []byte, excl bool) error {
	if excl {
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("%s exists", path)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keys-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Verify checks a JWS compact serialization against a key set: alg EdDSA,
// a kid in the set, a good signature. It returns the payload and the kid.
func Verify(jws string, set *jose.JSONWebKeySet) ([]byte, string, error) {
	obj, err := jose.ParseSignedCompact(jws, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, "", fmt.Errorf("not a JWS signed with EdDSA: %w", err)
	}
	if len(obj.Signatures) != 1 {
		return nil, "", errors.New("want exactly one signature")
	}
	kid := obj.Signatures[0].Header.KeyID
	keys := set.Key(kid)
	if kid == "" || len(keys) == 0 {
		return nil, kid, fmt.Errorf("unknown key id %q", kid)
	}
	payload, err := obj.Verify(keys[0].Key)
	if err != nil {
		return nil, kid, fmt.Errorf("bad signature: %w", err)
	}
	return payload, kid, nil
}

// ParseJWKS decodes a JWKS document.
func ParseJWKS(raw []byte) (*jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	return &set, nil
}
