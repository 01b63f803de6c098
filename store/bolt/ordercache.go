package bolt

import (
	"bytes"
	"sync"

	"eprom/questionnaire"
)

// orderCacheSize is how many decoded orders the store keeps: a patient's
// every request reads the order, and opening and decoding it was the
// larger part of reading it (issue 16). 2,048 orders are about 4 MB.
const orderCacheSize = 2048

// orderCache keeps orders decoded, each with the sealed bytes it was
// opened from: an entry counts only while the stored bytes are those
// (bytes.Equal), so a write that changes an order, here or by a rolled-back
// transaction, can never be read from it stale. Orders go in and out as
// copies (Order.Clone): a caller may change what it gets.
type orderCache struct {
	mu sync.Mutex
	m  map[string]cachedOrder
}

type cachedOrder struct {
	sealed []byte
	order  *questionnaire.Order
}

// get returns a copy of the order opened from sealed, or nil.
func (c *orderCache) get(id string, sealed []byte) *questionnaire.Order {
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if !ok || !bytes.Equal(e.sealed, sealed) {
		return nil
	}
	return e.order.Clone()
}

// put keeps a copy of o as opened from sealed, making room when full.
func (c *orderCache) put(id string, sealed []byte, o *questionnaire.Order) {
	e := cachedOrder{sealed: bytes.Clone(sealed), order: o.Clone()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cachedOrder, orderCacheSize)
	}
	if _, ok := c.m[id]; !ok && len(c.m) >= orderCacheSize {
		for k := range c.m { // any one: Go's map order is random enough
			delete(c.m, k)
			break
		}
	}
	c.m[id] = e
}
