// Package store keeps orders, patients' sessions and drafts, failure
// counts, and the outbox. It declares what the web layer needs from a
// store (Orders, Patients, Limits), the general queue that everything the
// service sends goes through (Queue, knowing nothing of orders), the keys
// that seal what is kept at rest (Secrets), and Submissions, the small
// application service that closes an order, signs its envelope and puts it
// in the outbox. The adapters live in subpackages named after their
// technology: store/bolt (the embedded default, and every replica's
// outbox) and store/redis (orders and patients shared by replicas);
// store/signing signs, store/delivery pushes.
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

	// CloseOrder closes an order with the message that reports it, at
	// once: move closes it, msg builds the message from the order as
	// closed, and the order is stored with its SubmissionID, its draft,
	// sealed code and expiry deleted, and the message (if msg builds one)
	// put in the outbox, durably, before CloseOrder returns. When move says there is nothing
	// to do, it stores nothing and returns a nil order. Returns ENOTFOUND
	// if there is no such order, move's errors, and ECONFLICT when the
	// order changes too often to close.
	CloseOrder(ctx context.Context, id string, now time.Time, move CloseFunc, msg MessageFunc) (*questionnaire.Order, error)

	// ExpiringOrders returns the ids of up to limit open orders whose
	// expiry has passed at now, oldest expiry first.
	ExpiringOrders(ctx context.Context, now time.Time, limit int) ([]string, error)

	// MarkDelivered records that an order's envelope reached its
	// registry. Returns ENOTFOUND if the order is gone.
	MarkDelivered(ctx context.Context, id string, at time.Time) error

	// PurgeOrders deletes closed orders kept TombstoneTTL past their
	// expiry, with their codes and idempotency keys.
	PurgeOrders(ctx context.Context, now time.Time) (int, error)

	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error

	// Close releases the store.
	Close() error
}

// Idempotency identifies a create request that a client may retry: its
// Idempotency-Key, scoped to the client, and a hash of its canonical body
// (stores keep only an HMAC of the hash: the body holds a patientRef).
type Idempotency struct {
	Client string // the client's id
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
	// Pending: begun by a link that a link preview may have followed;
	// the order is opened by the session's first page view (OpenSession).
	Pending bool `json:"pending,omitempty"`
}

// Patients is what the patient pages need: sessions, drafts and the moves
// of an order that a patient makes.
type Patients interface {
	// StartSession records that a current code of an open order was used:
	// the order becomes opened (the first time), an "opened" event is
	// logged, and the session is stored. Returns ECONFLICT when the order
	// is closed or expired. A Pending session is only stored: the order
	// is checked but not opened.
	StartSession(ctx context.Context, s *Session, now time.Time) (*questionnaire.Order, error)

	// OpenSession opens the order of a Pending session, as StartSession
	// does for one that is not, and stores the session as no longer
	// pending. Returns ECONFLICT when the order is closed or expired.
	OpenSession(ctx context.Context, s *Session, now time.Time) (*questionnaire.Order, error)

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

	// PurgeSessions deletes sessions idle for IdleTimeout.
	PurgeSessions(ctx context.Context, now time.Time) (int, error)
}

// Message is one item in the outbox: a body for a destination, and its
// delivery state. The queue knows nothing of what the body says; Ref tells
// the sender what it was about (for an envelope, its order).
type Message struct {
	ID          string    `json:"id"`                    // a UUIDv7: the idempotency key at the receiver
	Kind        string    `json:"kind"`                  // what sort of message, e.g. KindEnvelope
	Destination string    `json:"destination"`           // whom it is for: a client id
	Ref         string    `json:"ref,omitempty"`         // what it is about, for the sender: an order id
	Label       string    `json:"label,omitempty"`       // a word for lists and logs, e.g. "response"
	KeyID       string    `json:"kid,omitempty"`         // the key that signed Body
	Body        []byte    `json:"-"`                     // the payload (a JWS); sealed at rest
	CreatedAt   time.Time `json:"createdAt"`             //
	Attempts    int       `json:"attempts"`              // deliveries tried and failed
	NextAt      time.Time `json:"nextAt"`                // not before this time
	LeaseHolder string    `json:"leaseHolder,omitempty"` // who holds the lease, while leased
	LeaseUntil  time.Time `json:"leaseUntil,omitzero"`   //
	LastError   string    `json:"lastError,omitempty"`   //
	DeadAt      time.Time `json:"deadAt,omitzero"`       // in the dead-letter list since
	PreparedAt  time.Time `json:"preparedAt,omitzero"`   // written, by the clock, while its sender's other store decides
	// After is a message that must leave the queue (delivered, or in the
	// dead-letter list) before this one is received: an order's status
	// before its return. A message this outbox does not hold (another
	// replica's) does not hold this one back.
	After string `json:"after,omitempty"`
	// RefusedSince is when the receiver began refusing the message (Retry):
	// zero while it has not, or failed otherwise since.
	RefusedSince time.Time `json:"refusedSince,omitzero"`
}

// Delivery is what remains of a delivered message: its tombstone.
type Delivery struct {
	ID          string    `json:"-"`
	Kind        string    `json:"kind"`
	Destination string    `json:"destination"`
	Ref         string    `json:"ref,omitempty"`
	Holder      string    `json:"holder"` // who delivered it
	At          time.Time `json:"deliveredAt"`
	Unsettled   bool      `json:"unsettled,omitempty"` // the sender has not yet done what follows
}

// KindEnvelope is the kind of a signed submission for a client's registry.
const KindEnvelope = "envelope"

// Leased reports whether holder holds the message's lease at now.
func (m *Message) Leased(holder string, now time.Time) bool {
	return m.LeaseHolder == holder && m.LeaseUntil.After(now)
}

// OutboxStats describe the outbox at a moment.
type OutboxStats struct {
	Depth         int            `json:"depth"`         // messages waiting or leased
	Leased        int            `json:"leased"`        // of them, leased now
	Dead          int            `json:"dead"`          // in the dead-letter list
	OldestAge     time.Duration  `json:"oldestAge"`     // age of the oldest undelivered message
	Delivered     int            `json:"tombstones"`    // tombstones kept
	ByDestination map[string]int `json:"byDestination"` // Depth by destination
}

// Accept says how many due messages of a kind and destination a receiver
// takes now; 0 skips them.
type Accept func(kind, destination string) int

// Queue is the durable outbox (store-and-forward), in the shape of
// maragudk/goqite: Send, Receive with a lease, Extend, Delete; failed
// messages are retried or put in a dead-letter list, and re-driven from
// there. A lease hides a message until it is deleted, returned or lapses.
type Queue interface {
	// Send puts a message in the queue, due at its NextAt. Returns
	// ECONFLICT when a message with its id was sent before.
	Send(ctx context.Context, m *Message) error

	// Receive leases up to n messages due at now for holder, until
	// now+ttl, oldest first within each kind and destination that accept
	// takes (nil: all, up to n), passing over those whose After is still
	// queued or prepared. A message whose body cannot be opened
	// (sealed under another secret, or damaged) goes to the dead-letter
	// list instead, with the reason.
	Receive(ctx context.Context, holder string, n int, ttl time.Duration, now time.Time, accept Accept) ([]*Message, error)

	// Extend lengthens holder's lease to now+ttl. Returns ENOTFOUND when
	// the message is not in the queue, and ELEASE when holder does not
	// hold its lease.
	Extend(ctx context.Context, id, holder string, ttl time.Duration, now time.Time) error

	// Delete records a message as delivered: it leaves the queue with its
	// body and a tombstone stays for TombstoneTTL; it returns the
	// tombstone. Only the holder of the current lease may delete, and only
	// a message for destination ("" for any). Deleting again by the same
	// holder is not an error. Returns ENOTFOUND when there is no such
	// message for destination, and ELEASE when holder does not hold its
	// lease (never leased, lapsed, or another's).
	Delete(ctx context.Context, id, holder, destination string, now time.Time) (*Delivery, error)

	// Retry returns a message leased by holder to the queue, due at at,
	// counting an attempt and its error. refused says the receiver
	// answered and would not take it: RefusedSince keeps the first of such
	// attempts in a row (now, for the first), and any other failure clears
	// it. Returns ENOTFOUND or ELEASE as Delete.
	Retry(ctx context.Context, id, holder string, at time.Time, lastErr string, refused bool, now time.Time) error

	// Dead moves a message leased by holder to the dead-letter list.
	// Returns ENOTFOUND or ELEASE as Delete.
	Dead(ctx context.Context, id, holder, reason string, now time.Time) error

	// Redrive moves a dead letter back to the queue, due now. Returns
	// ENOTFOUND when it is not in the dead-letter list.
	Redrive(ctx context.Context, id string, now time.Time) error

	// ReleaseLeases returns every message leased by holder to the queue,
	// due now: the leases of a worker from before a restart. It returns
	// how many.
	ReleaseLeases(ctx context.Context, holder string, now time.Time) (int, error)

	// Message returns a message from the queue or the dead-letter list,
	// with its body. Returns ENOTFOUND when it is in neither.
	Message(ctx context.Context, id string) (*Message, error)

	// Messages lists up to limit messages of the queue, or of the
	// dead-letter list, oldest first, without their bodies.
	Messages(ctx context.Context, dead bool, limit int) ([]*Message, error)

	// Unsettled returns up to limit deliveries that the sender has not
	// yet settled (Settle).
	Unsettled(ctx context.Context, limit int) ([]Delivery, error)

	// Settle notes that the sender has done what follows a delivery.
	Settle(ctx context.Context, id string) error

	// Stats describes the outbox at now.
	Stats(ctx context.Context, now time.Time) (OutboxStats, error)

	// KeyInUse reports whether an undelivered message was signed by kid.
	KeyInUse(ctx context.Context, kid string) (bool, error)

	// PurgeTombstones deletes tombstones older than TombstoneTTL.
	PurgeTombstones(ctx context.Context, now time.Time) (int, error)

	// Enqueued is signalled after a message is put in the queue.
	Enqueued() <-chan struct{}
}

// Pending is how the outbox takes a message whose sender commits in
// another store (Redis): written to disk first, not yet receivable, then
// confirmed (it joins the queue) or discarded (the sender's commit lost a
// race). Whatever is neither, a crash or a store that failed mid-answer,
// is settled by Recover from what the other store says.
type Pending interface {
	// Prepare writes the message to disk, not yet receivable.
	Prepare(ctx context.Context, m *Message) error
	// Confirm puts a prepared message in the queue; twice is harmless.
	Confirm(ctx context.Context, id string) error
	// Discard drops a prepared message.
	Discard(ctx context.Context, id string) error
	// Release hands a prepared message whose fate is unknown to Recover.
	Release(id string)
}

// CloseFunc moves an open order to a closed status, given its draft. It
// returns false when there is nothing to do (the order is not due), and
// ECONFLICT when the order cannot move.
type CloseFunc func(o *questionnaire.Order, d *questionnaire.Draft) (bool, error)

// MessageFunc builds the message that reports an order's close, from the
// order as closed and its last draft; nil when nothing reports it (a test
// order): the order closes all the same.
type MessageFunc func(o *questionnaire.Order, d *questionnaire.Draft) (*Message, error)

// TombstoneTTL is how long a delivered message's tombstone is kept, and
// how long a closed order is kept after its expiry.
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

// SharedLeases let replicas behind one balancer take each other's
// acknowledgements (pull with Redis): the replica that leases a message
// records the lease; a replica that gets the ack for a message it does not
// hold checks the lease and records the ack; the holder applies it.
type SharedLeases interface {
	// ShareLeases records the leases of messages just received at now.
	ShareLeases(ctx context.Context, msgs []*Message, now time.Time) error

	// RecordAck records holder's ack, at now, of a message another
	// replica holds; an ack recorded before for the same holder is fine.
	// Returns ENOTFOUND when no lease of the message for destination is
	// recorded (nothing is written then), and ELEASE when the lease is
	// another holder's or has lapsed.
	RecordAck(ctx context.Context, id, holder, destination string, now time.Time) error

	// Acks returns the recorded acks of the given ids, by id.
	Acks(ctx context.Context, ids []string) (map[string]Ack, error)

	// ForgetAck deletes an ack the holder refused; applied ones lapse.
	ForgetAck(ctx context.Context, id string) error
}

// Ack is an acknowledgement taken by another replica.
type Ack struct {
	Holder      string    `json:"holder"`
	Destination string    `json:"destination"`
	At          time.Time `json:"at"`
}
