package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// MinSecretSize is the smallest server secret accepted, in bytes.
const MinSecretSize = 32

// Sealer encrypts records at rest with AES-256-GCM under a key of its own,
// derived from the server secret for one purpose. A record is bound to its
// key in the store (associated data), so it cannot be moved to another.
type Sealer struct{ aead cipher.AEAD }

// NewSealer derives the sealer of one purpose from the server secret.
func NewSealer(secret []byte, purpose string) (*Sealer, error) {
	if len(secret) < MinSecretSize {
		return nil, fmt.Errorf("the secret has %d bytes; it needs at least %d", len(secret), MinSecretSize)
	}
	key, err := hkdf.Key(sha256.New, secret, nil, purpose, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain for the record named by aad.
func (s *Sealer) Seal(aad string, plain []byte) []byte {
	n := s.aead.NonceSize()
	nonce := make([]byte, n, n+len(plain)+s.aead.Overhead())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plain, []byte(aad))
}

// Open decrypts a record sealed for aad.
func (s *Sealer) Open(aad string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed record too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("open sealed record: %w", err)
	}
	return plain, nil
}

// Secrets are the keys derived from the server secret, one per purpose
// (HKDF-SHA256, the purpose as info), so that no key serves two ends.
type Secrets struct {
	Codes    *Codebook // find codes (HMAC) and show them again (sealed)
	Orders   *Sealer   // order records: patientRef, registrationRef, unit
	Drafts   *Sealer   // answers so far
	Messages *Sealer   // outbox bodies: signed envelopes with answers and patientRef
	Browser  *Sealer   // what a patient's browser keeps for a moment: the done page's feedback
	idemKey  []byte    // HMAC of idempotency request hashes
	linkKey  []byte    // HMAC of signed links (a clinician's slip)
}

// NewSecrets derives every key from the server secret, which must have at
// least MinSecretSize bytes.
func NewSecrets(secret []byte) (*Secrets, error) {
	codes, err := NewCodebook(secret)
	if err != nil {
		return nil, err
	}
	s := &Secrets{Codes: codes}
	for _, k := range []struct {
		to      **Sealer
		purpose string
	}{{&s.Orders, "eprom order seal v1"}, {&s.Drafts, "eprom draft seal v1"}, {&s.Messages, "eprom outbox seal v1"}, {&s.Browser, "eprom browser seal v1"}} {
		if *k.to, err = NewSealer(secret, k.purpose); err != nil {
			return nil, err
		}
	}
	if s.idemKey, err = hkdf.Key(sha256.New, secret, nil, "eprom idempotency v1", 32); err != nil {
		return nil, err
	}
	if s.linkKey, err = hkdf.Key(sha256.New, secret, nil, "eprom signed link v1", 32); err != nil {
		return nil, err
	}
	return s, nil
}

// LinkMAC returns the HMAC-SHA256 of a signed link's data, under a key of
// its own: every replica that shares the secret signs and checks alike.
func (s *Secrets) LinkMAC(data []byte) []byte {
	m := hmac.New(sha256.New, s.linkKey)
	m.Write(data)
	return m.Sum(nil)
}

// SealBrowser seals what a browser is to keep and give back, under a key
// of its own.
func (s *Secrets) SealBrowser(aad string, plain []byte) []byte { return s.Browser.Seal(aad, plain) }

// OpenBrowser opens what SealBrowser sealed; an error for anything else.
func (s *Secrets) OpenBrowser(aad string, sealed []byte) ([]byte, error) {
	return s.Browser.Open(aad, sealed)
}

// IdempotencyHash returns what a store keeps of a request's hash: an HMAC,
// so that the stored value reveals nothing of the body.
func (s *Secrets) IdempotencyHash(hash string) string {
	m := hmac.New(sha256.New, s.idemKey)
	m.Write([]byte("hash\x00" + hash))
	return hex.EncodeToString(m.Sum(nil))
}

// IdempotencyKey returns what a store keeps of a client's Idempotency-Key:
// an HMAC, since registries may build keys from their own references.
func (s *Secrets) IdempotencyKey(i *Idempotency) string {
	m := hmac.New(sha256.New, s.idemKey)
	m.Write([]byte("key\x00" + i.Client + "\x00" + i.Key))
	return hex.EncodeToString(m.Sum(nil))
}

// Codebook turns codes into what the store may keep: an HMAC-SHA256 to find
// a code, and an AES-256-GCM sealed copy to show it again. Both keys are
// derived from the server secret, which lives outside the database.
type Codebook struct {
	macKey []byte
	seal   *Sealer
}

// NewCodebook derives the code book's keys from the server secret, which
// must have at least MinSecretSize bytes.
func NewCodebook(secret []byte) (*Codebook, error) {
	if len(secret) < MinSecretSize {
		return nil, fmt.Errorf("the secret has %d bytes; it needs at least %d", len(secret), MinSecretSize)
	}
	macKey, err := hkdf.Key(sha256.New, secret, nil, "eprom code lookup v1", 32)
	if err != nil {
		return nil, err
	}
	seal, err := NewSealer(secret, "eprom code seal v1")
	if err != nil {
		return nil, err
	}
	return &Codebook{macKey: macKey, seal: seal}, nil
}

// Key returns the lookup key of a normalized code.
func (b *Codebook) Key(code string) []byte {
	m := hmac.New(sha256.New, b.macKey)
	m.Write([]byte(code))
	return m.Sum(nil)
}

// Seal encrypts a code for one order; the order id is bound as associated
// data, so a sealed code cannot be moved to another order.
func (b *Codebook) Seal(orderID, code string) []byte {
	return b.seal.Seal(orderID, []byte(code))
}

// Open decrypts a code sealed for the order.
func (b *Codebook) Open(orderID string, sealed []byte) (string, error) {
	code, err := b.seal.Open(orderID, sealed)
	if err != nil {
		return "", fmt.Errorf("codebook: %w", err)
	}
	return string(code), nil
}

// LoadSecret reads the server secret from a file. With create set and no
// file there, it generates 32 random bytes into a new file of mode 0600.
func LoadSecret(path string, create bool) ([]byte, error) {
	secret, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		secret = make([]byte, MinSecretSize)
		rand.Read(secret)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		if _, err := f.Write(secret); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
		return secret, f.Close()
	}
	if err != nil {
		return nil, err
	}
	if len(secret) < MinSecretSize {
		return nil, fmt.Errorf("%s has %d bytes; a secret needs at least %d random bytes (head -c 32 /dev/urandom > %s)",
			path, len(secret), MinSecretSize, path)
	}
	return secret, nil
}
