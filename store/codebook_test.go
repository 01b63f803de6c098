package store_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"eprom/store"
)

func TestCodebook(t *testing.T) {
	book, err := store.NewCodebook(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := store.NewCodebook(bytes.Repeat([]byte{2}, 32))

	t.Run("the lookup key is stable and depends on the secret", func(t *testing.T) {
		if !bytes.Equal(book.Key("7KQM2XPD9R"), book.Key("7KQM2XPD9R")) {
			t.Error("two keys for one code")
		}
		if bytes.Equal(book.Key("7KQM2XPD9R"), book.Key("7KQM2XPD9S")) {
			t.Error("one key for two codes")
		}
		if bytes.Equal(book.Key("7KQM2XPD9R"), other.Key("7KQM2XPD9R")) {
			t.Error("the key does not depend on the secret")
		}
	})

	t.Run("a sealed code opens for its order only", func(t *testing.T) {
		sealed := book.Seal("order-1", "7KQM2XPD9R")
		if bytes.Contains(sealed, []byte("7KQM2XPD9R")) {
			t.Fatal("the sealed code holds the code in clear")
		}
		if code, err := book.Open("order-1", sealed); err != nil || code != "7KQM2XPD9R" {
			t.Fatalf("Open = %q, %v", code, err)
		}
		if _, err := book.Open("order-2", sealed); err == nil {
			t.Error("opened for another order")
		}
		if _, err := other.Open("order-1", sealed); err == nil {
			t.Error("opened with another secret")
		}
		if _, err := book.Open("order-1", sealed[:5]); err == nil {
			t.Error("opened a truncated seal")
		}
		if bytes.Equal(sealed, book.Seal("order-1", "7KQM2XPD9R")) {
			t.Error("two seals of one code are equal: the nonce is not random")
		}
	})

	t.Run("a short secret is refused", func(t *testing.T) {
		if _, err := store.NewCodebook(make([]byte, 31)); err == nil {
			t.Error("accepted 31 bytes")
		}
	})
}

func TestLoadSecret(t *testing.T) {
	dir := t.TempDir()

	t.Run("generated on first start with mode 0600, then read back", func(t *testing.T) {
		path := filepath.Join(dir, "sub", "secret")
		a, err := store.LoadSecret(path, true)
		if err != nil || len(a) != 32 {
			t.Fatalf("%d bytes, %v", len(a), err)
		}
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v, %v", st.Mode(), err)
		}
		b, err := store.LoadSecret(path, true)
		if err != nil || !bytes.Equal(a, b) {
			t.Fatal("a second start generated another secret")
		}
	})

	t.Run("not generated when it must be given", func(t *testing.T) {
		if _, err := store.LoadSecret(filepath.Join(dir, "missing"), false); err == nil {
			t.Error("no error for a missing secret file")
		}
	})

	t.Run("a short secret file is refused with advice", func(t *testing.T) {
		path := filepath.Join(dir, "short")
		os.WriteFile(path, []byte("hunter2"), 0o600)
		_, err := store.LoadSecret(path, true)
		if err == nil || !strings.Contains(err.Error(), "at least 32") {
			t.Errorf("got %v", err)
		}
	})
}
