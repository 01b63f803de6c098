package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// MinSecretSize is the smallest server secret accepted, in bytes.
const MinSecretSize = 32

// Codebook turns codes into what the store may keep: an HMAC-SHA256 to find
// a code, and an AES-256-GCM sealed copy to show it again. Both keys are
// derived from the server secret, which lives outside the database.
type Codebook struct {
	macKey []byte
	aead   cipher.AEAD
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
	encKey, err := hkdf.Key(sha256.New, secret, nil, "eprom code seal v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Codebook{macKey: macKey, aead: aead}, nil
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
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(code)+b.aead.Overhead())
	rand.Read(nonce)
	return b.aead.Seal(nonce, nonce, []byte(code), []byte(orderID))
}

// Open decrypts a code sealed for the order.
func (b *Codebook) Open(orderID string, sealed []byte) (string, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("codebook: sealed code too short")
	}
	code, err := b.aead.Open(nil, sealed[:n], sealed[n:], []byte(orderID))
	if err != nil {
		return "", fmt.Errorf("codebook: open: %w", err)
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
