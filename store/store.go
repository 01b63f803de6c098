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

// IdleTimeout is how long a patient's session lives without a request. The
// draft outlives it.
const IdleTimeout = 30 * time.Minute

// Session is a patient's visit, begun by a good code. Its id is the cookie
// value; stores keep only its SHA-256.
type Session struct {
	ID        string    `json:"-"`
	OrderID   string    `json:"order"`
	CSRF      string    `json:"csrf"` // the token every form of the session carries
	CreatedAt time.Time `json:"createdAt"`
	SeenAt    time.Time `json:"seenAt"`
}

// Patients is what the patient pages need: sessions, drafts and the moves
// of an order that a patient makes.
type Patients interface {
	// StartSession records that a current code of an open order was used:
	// the order becomes opened (the first time), an "opened" event is
	// logged, and the session is stored. Returns ECONFLICT when the order
	// is closed or expired.
	StartSession(ctx context.Context, s *Session, now time.Time) (*questionnaire.Order, error)

	// Session returns the session with the given id, as of now, and notes
	// that it was seen. Returns ENOTFOUND when there is none or it has been
	// idle for IdleTimeout.
	Session(ctx context.Context, id string, now time.Time) (*Session, error)

	// EndSession deletes a session; it is not an error if there is none.
	EndSession(ctx context.Context, id string) error

	// Draft returns an order's draft; an empty one when there is none.
	Draft(ctx context.Context, orderID string) (*questionnaire.Draft, error)

	// SaveDraft stores an order's draft and moves an opened order to
	// in_progress. Returns ECONFLICT when the order is closed or expired.
	SaveDraft(ctx context.Context, orderID string, d *questionnaire.Draft, now time.Time) (*questionnaire.Order, error)

	// Submit stores the response and closes the order (submitted, or
	// declined for a decline) in one transaction, and deletes the draft.
	// Returns ECONFLICT when the order is closed already: a second submit
	// stores nothing.
	Submit(ctx context.Context, r *questionnaire.Response, now time.Time) (*questionnaire.Order, error)

	// Response returns the stored response of an order. Returns ENOTFOUND
	// when there is none.
	Response(ctx context.Context, orderID string) (*questionnaire.Response, error)

	// PurgeSessions deletes sessions idle for IdleTimeout.
	PurgeSessions(ctx context.Context, now time.Time) (int, error)
}

// Limits counts failures, such as wrong codes, to slow down guessing.
type Limits interface {
	// Failures returns how many failures key has had in the window ending
	// at now, and when the oldest of them leaves the window.
	Failures(ctx context.Context, key string, window time.Duration, now time.Time) (n int, oldest time.Time, err error)

	// AddFailure records a failure of key at now; failures older than
	// window are forgotten.
	AddFailure(ctx context.Context, key string, window time.Duration, now time.Time) error
}
