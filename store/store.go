// Package store keeps orders and their codes. It declares what the web layer
// needs from a store, the code book that keeps codes out of the database in
// clear, and the server secret; the adapters live in subpackages named after
// their technology (store/bolt, and later store/redis).
package store

import (
	"context"
	"time"

	"eprom/questionnaire"
)

// Orders is what the service needs to keep orders and their codes. Every
// implementation keeps codes only as an HMAC (to find them) and sealed with
// AES-GCM (to show them again while the order is open), never in clear.
type Orders interface {
	// CreateOrder stores a new order and issues its code. With an
	// idempotency key that the same caller used before, it stores nothing:
	// when the request hash matches it returns the order created then, its
	// code ("" once the order is closed) and created=false; otherwise
	// ECONFLICT.
	CreateOrder(ctx context.Context, o *questionnaire.Order, idem *Idempotency) (order *questionnaire.Order, code string, created bool, err error)

	// Order returns the order with the given id. Returns ENOTFOUND if there
	// is none.
	Order(ctx context.Context, id string) (*questionnaire.Order, error)

	// OrderCode returns the current code of an open order. Returns ENOTFOUND
	// if there is no such order, and ECONFLICT if it is closed.
	OrderCode(ctx context.Context, id string, now time.Time) (string, error)

	// CancelOrder cancels an open order; its code stops working. Returns
	// ENOTFOUND if there is no such order, and ECONFLICT if it is closed.
	CancelOrder(ctx context.Context, id string, now time.Time) (*questionnaire.Order, error)

	// ReissueCode gives an open order a new code and returns it; the old
	// one stops working. Returns ENOTFOUND if there is no such order, and
	// ECONFLICT if it is closed.
	ReissueCode(ctx context.Context, id string, now time.Time) (*questionnaire.Order, string, error)

	// LookupCode finds the order a normalized code was issued for. current
	// is false when the code was replaced by a reissue. Returns ENOTFOUND
	// when no order has this code.
	LookupCode(ctx context.Context, code string) (o *questionnaire.Order, current bool, err error)

	// ExpireOrders marks open orders whose expiry has passed as expired and
	// returns them.
	ExpireOrders(ctx context.Context, now time.Time) ([]*questionnaire.Order, error)

	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error

	// Close releases the store.
	Close() error
}

// Idempotency identifies a create request that a caller may retry: its
// Idempotency-Key, scoped to the caller, and a hash of its canonical body.
type Idempotency struct {
	Caller string // the API token's name
	Key    string // the Idempotency-Key header
	Hash   string // "sha256:..." of the canonical request body
}
