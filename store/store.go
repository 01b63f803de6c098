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
	CodeGen   int       `json:"codeGen"` // the order's code generation: a reissue ends the session
	CSRF      string    `json:"csrf"`    // the token every form of the session carries
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

	// UpdateDraft changes an order's stored draft with fn, atomically, so
	// that two devices saving different pages at once both keep their
	// answers, and moves an opened order to in_progress. fn may run more
	// than once and must only change the draft it is given. Returns
	// ECONFLICT when the order is closed or expired, and fn's error.
	UpdateDraft(ctx context.Context, orderID string, now time.Time, fn func(*questionnaire.Draft) error) (*questionnaire.Order, *questionnaire.Draft, error)

	// Submit closes the order (submitted, or declined for a decline),
	// signs its envelope and puts it in the outbox, and deletes the draft,
	// all in one durable transaction: when Submit returns, the envelope is
	// on disk. Returns ECONFLICT when the order is closed already: a second
	// submit stores nothing.
	Submit(ctx context.Context, r *questionnaire.Response, now time.Time) (*questionnaire.Order, error)

	// PurgeSessions deletes sessions idle for IdleTimeout.
	PurgeSessions(ctx context.Context, now time.Time) (int, error)
}

// Signer signs envelope payloads.
type Signer interface {
	// Sign returns the JWS compact serialization of payload and the id of
	// the key that signed it.
	Sign(payload []byte) (jws, kid string, err error)
}

// Submission is an envelope in the outbox: the signed JWS and its delivery
// state. A delivered submission leaves the outbox; a tombstone remains.
type Submission struct {
	ID          string    `json:"id"`
	OrderID     string    `json:"orderId"`
	Type        string    `json:"type"`
	KeyID       string    `json:"kid"`
	JWS         string    `json:"jws,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	Attempts    int       `json:"attempts"`
	NextAt      time.Time `json:"nextAt"`                // not before this time
	LeaseHolder string    `json:"leaseHolder,omitempty"` // "push" or "pull" while leased
	LeaseUntil  time.Time `json:"leaseUntil,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
	DeadAt      time.Time `json:"deadAt,omitzero"`     // in the dead-letter list since
	PreparedAt  time.Time `json:"preparedAt,omitzero"` // written, by the clock, while awaiting its order's close elsewhere
}

// OutboxStats describe the outbox at a moment.
type OutboxStats struct {
	Depth     int           `json:"depth"`     // envelopes waiting or leased
	Leased    int           `json:"leased"`    // of them, leased now
	Dead      int           `json:"dead"`      // in the dead-letter list
	OldestAge time.Duration `json:"oldestAge"` // age of the oldest undelivered envelope
	Delivered int           `json:"tombstones"`
}

// Outbox is the durable queue of signed envelopes (store-and-forward).
// Push (the delivery worker) and pull (the submissions API) lease from it;
// a lease hides an envelope until it is acknowledged, returned or lapses.
type Outbox interface {
	// Lease takes up to n envelopes due at now, oldest first, for holder,
	// hiding them until now+ttl.
	Lease(ctx context.Context, holder string, n int, ttl time.Duration, now time.Time) ([]*Submission, error)

	// Ack records an envelope as delivered: it leaves the outbox with its
	// answers, a tombstone stays, and the order is marked delivered.
	// Acknowledging a delivered envelope again is not an error. Returns
	// ENOTFOUND when the id was never in the outbox (or its tombstone has
	// been purged).
	Ack(ctx context.Context, id string, now time.Time) error

	// ReleaseLeases returns every envelope leased by holder to the queue,
	// due now: the push worker's leases from before a restart, which no
	// delivery holds any more. It returns how many.
	ReleaseLeases(ctx context.Context, holder string, now time.Time) (int, error)

	// Retry returns a leased envelope to the queue, due at at, counting
	// an attempt and its error. Returns ENOTFOUND when it is not there.
	Retry(ctx context.Context, id string, at time.Time, lastErr string) error

	// Dead moves an envelope to the dead-letter list. Returns ENOTFOUND
	// when it is not in the outbox.
	Dead(ctx context.Context, id, reason string, now time.Time) error

	// Redrive moves a dead letter back to the queue, due now. Returns
	// ENOTFOUND when it is not in the dead-letter list.
	Redrive(ctx context.Context, id string, now time.Time) error

	// Submission returns an envelope by id from the queue or the
	// dead-letter list. Returns ENOTFOUND when it is in neither.
	Submission(ctx context.Context, id string) (*Submission, error)

	// Submissions lists up to limit envelopes of the queue, or of the
	// dead-letter list, oldest first, without their JWS.
	Submissions(ctx context.Context, dead bool, limit int) ([]*Submission, error)

	// Stats describes the outbox at now.
	Stats(ctx context.Context, now time.Time) (OutboxStats, error)

	// KeyInUse reports whether an undelivered envelope was signed by kid.
	KeyInUse(ctx context.Context, kid string) (bool, error)

	// PurgeTombstones deletes tombstones older than TombstoneTTL.
	PurgeTombstones(ctx context.Context, now time.Time) (int, error)

	// Enqueued is signalled after an envelope is put in the outbox.
	Enqueued() <-chan struct{}
}

// Pending is how an outbox takes the envelope of an order that closes in
// another store: signed and on disk before the order closes there, then
// confirmed (it joins the queue) or discarded (the close lost a race). A
// crash in between is settled by Recover.
type Pending interface {
	// Prepare signs the envelope and writes it to disk, not yet leasable,
	// and returns its id.
	Prepare(ctx context.Context, o *questionnaire.Order, r *questionnaire.Response, events []questionnaire.Event, now time.Time) (string, error)
	// Confirm puts a prepared envelope in the queue; twice is harmless.
	Confirm(ctx context.Context, id string) error
	// Discard drops a prepared envelope.
	Discard(ctx context.Context, id string) error
}

// TombstoneTTL is how long a delivered envelope's tombstone is kept.
const TombstoneTTL = 30 * 24 * time.Hour

// Limits count failures, such as wrong codes, to slow down guessing. An
// attempt reserves a failure before it is tried and gives it back when it
// succeeds, so a burst of concurrent guesses cannot slip past the limit.
type Limits interface {
	// Reserve records a failure of key at now, unless key has had limit
	// failures within the window ending at now; then ok is false and
	// oldest says when the first of them leaves the window.
	Reserve(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (ok bool, oldest time.Time, err error)

	// Release gives back the failure reserved at at: the attempt succeeded.
	Release(ctx context.Context, key string, at time.Time) error

	// PurgeLimits forgets keys whose last failure was before before.
	PurgeLimits(ctx context.Context, before time.Time) (int, error)
}
