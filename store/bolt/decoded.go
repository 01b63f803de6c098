package bolt

import (
	"bytes"
	"sync"
)

// decodedCacheSize is how many decoded records of a kind the store keeps:
// a patient's every request reads the session, the order and the draft,
// and opening and decoding them was the larger part of reading them
// (issue 16). 1,024 of each kind are a few MB; the patients on a page at
// one moment are far fewer.
const decodedCacheSize = 1024

// decodedCache keeps records decoded, each with the bytes it was decoded
// from: an entry counts only while the stored bytes are those
// (bytes.Equal), so a write that changes a record, here or by a rolled-back
// transaction, can never be read from it stale. Records go in and out as
// copies (clone): a caller may change what it gets.
type decodedCache[T any] struct {
	clone func(T) T
	mu    sync.Mutex
	m     map[string]decoded[T]
}

type decoded[T any] struct {
	stored []byte
	value  T
}

// get returns a copy of the record decoded from stored, if it is kept.
func (c *decodedCache[T]) get(key string, stored []byte) (T, bool) {
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if !ok || !bytes.Equal(e.stored, stored) {
		var zero T
		return zero, false
	}
	return c.clone(e.value), true
}

// put keeps a copy of v as decoded from stored, making room when full.
func (c *decodedCache[T]) put(key string, stored []byte, v T) {
	e := decoded[T]{stored: bytes.Clone(stored), value: c.clone(v)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]decoded[T], decodedCacheSize)
	}
	if _, ok := c.m[key]; !ok && len(c.m) >= decodedCacheSize {
		for k := range c.m { // any one: Go's map order is random enough
			delete(c.m, k)
			break
		}
	}
	c.m[key] = e
}

// drop forgets the record of key: it is deleted, and nothing of it should
// stay in memory (a draft's answers, say) until the cache makes room.
func (c *decodedCache[T]) drop(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}
