// Package bolt is the embedded store, in one bbolt file in the data
// folder: orders, the code index, sealed codes and idempotency keys;
// patients' sessions and drafts; and the outbox (Queue), a general queue
// that every replica keeps, also beside Redis. Orders, drafts and message
// bodies are sealed with keys derived from the server secret, so the file
// alone reveals no answer and no patient reference.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"eprom/questionnaire"
	"eprom/store"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// The buckets of orders.
var (
	bucketOrders      = []byte("orders")      // order id → sealed order JSON
	bucketCodes       = []byte("codes")       // HMAC of a code → codeEntry JSON
	bucketSealed      = []byte("sealed")      // order id → the sealed current code, while the order is open
	bucketIdempotency = []byte("idempotency") // HMAC of client and key → idemEntry JSON
	bucketExpiry      = []byte("expiry")      // expiry (8 bytes, big-endian Unix ns) + order id → nothing, while open
	bucketRetention   = []byte("retention")   // expiry + TombstoneTTL (8 bytes) + order id → nothing: when the order goes
	bucketOrderKeys   = []byte("order-keys")  // order id → orderKeys JSON: what else to delete with it
)

func allBuckets() [][]byte {
	return append([][]byte{bucketOrders, bucketCodes, bucketSealed, bucketIdempotency, bucketExpiry, bucketRetention,
		bucketOrderKeys, bucketSessions, bucketDrafts}, queueBuckets...)
}

// ErrInUse is returned by Open when another process holds the file.
var ErrInUse = errors.New("bolt: the file is in use by another process")

// codeEntry is what the code index holds for a code.
type codeEntry struct {
	OrderID    string `json:"order"`
	Generation int    `json:"gen"`
}

// idemEntry is what the idempotency index holds for a key.
type idemEntry struct {
	Hash    string    `json:"hash"` // an HMAC of the request's hash
	OrderID string    `json:"order"`
	At      time.Time `json:"at"`
}

// orderKeys are the keys of an order in other buckets.
type orderKeys struct {
	Codes []string `json:"codes"` // code index keys, hex
	Idem  string   `json:"idem,omitempty"`
}

// maxBatchDelay is the longest a write waits for others to share its
// commit (group.go): it waits only while requests that could join it are
// being handled, and never longer than this.
const maxBatchDelay = 5 * time.Millisecond

// maxBatchSize is the most writes one commit takes (bbolt's default).
const maxBatchSize = 1000

// Store is the bbolt implementation of store.Orders and store.Patients,
// with the outbox in the same file.
type Store struct {
	db      *bolt.DB
	group   *group // the writes that share commits
	secrets *store.Secrets
	queue   *Queue

	// Records kept decoded, by key (decoded.go).
	orders   decodedCache[*questionnaire.Order]
	drafts   decodedCache[*questionnaire.Draft]
	sessions decodedCache[store.Session]
}

var _ store.Orders = (*Store)(nil)

// Open opens or creates the bbolt file at path. It fails at once with
// ErrInUse when another process holds the file. Without secrets, only the
// queue's lists and counts work (the queue command on a stopped service).
// A file of an earlier eprom (format 1: records in clear, one outbox of
// envelopes) is migrated and compacted, once.
func Open(path string, secrets *store.Secrets) (*Store, error) {
	s, err := open(path, secrets)
	if err != nil {
		return nil, err
	}
	if _, err := s.migrate(); err != nil {
		s.Close()
		return nil, fmt.Errorf("bolt: migrate %s: %w", path, err)
	}
	if !s.needsCompaction() {
		return s, nil
	}
	// The migration's commit marked the file; a compaction cut short (a
	// crash, a full disk) is done again at the next open.
	err = compact(s.db, path)
	s.Close()
	if err != nil {
		return nil, fmt.Errorf("bolt: compact %s after its migration: %w", path, err)
	}
	if s, err = open(path, secrets); err != nil {
		return nil, err
	}
	if err := s.compacted(); err != nil {
		s.Close()
		return nil, fmt.Errorf("bolt: compact %s: %w", path, err)
	}
	return s, nil
}

func open(path string, secrets *store.Secrets) (*Store, error) {
	var db *bolt.DB
	for try := 0; ; try++ {
		before, _ := os.Stat(path)
		var err error
		db, err = openChecked(path, &bolt.Options{Timeout: time.Second})
		if errors.Is(err, ErrDamaged) {
			return nil, fmt.Errorf("%w; nothing may run on it: restore it from a backup", err)
		} else if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s (is another eprom running on this data folder?)", ErrInUse, path)
		} else if err != nil {
			return nil, fmt.Errorf("bolt: open %s: %w", path, err)
		}
		// The lock is on the file opened, which a compaction by the
		// process that held the lock may have replaced at the path
		// meanwhile: then open the new one.
		after, err := os.Stat(path)
		if err == nil && before != nil && os.SameFile(before, after) || try == 3 {
			break
		}
		db.Close()
	}
	err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets() {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: create buckets: %w", err)
	}
	g := newGroup(db, maxBatchDelay, maxBatchSize)
	q := &Queue{db: db, group: g, enqueued: make(chan struct{}, 1)}
	if secrets != nil {
		q.sealer = secrets.Messages
	}
	return &Store{db: db, group: g, secrets: secrets, queue: q,
		orders:   decodedCache[*questionnaire.Order]{clone: (*questionnaire.Order).Clone},
		drafts:   decodedCache[*questionnaire.Draft]{clone: (*questionnaire.Draft).Clone},
		sessions: decodedCache[store.Session]{clone: func(s store.Session) store.Session { return s }},
	}, nil
}

// SetBusy tells the store how many requests the server is handling, so
// that a write waits for others to share its commit only while some could
// (group.go). Without it, a write waits only for the commit before it.
func (s *Store) SetBusy(busy func() int) { s.group.setBusy(busy) }

// Queue returns the outbox in the same file.
func (s *Store) Queue() *Queue { return s.queue }

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Ping reads from the file.
func (s *Store) Ping(ctx context.Context) error {
	return s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketOrders) == nil {
			return errors.New("bolt: the orders bucket is missing")
		}
		return nil
	})
}

// CreateOrder implements store.Orders.
func (s *Store) CreateOrder(ctx context.Context, o *questionnaire.Order, idem *store.Idempotency) (*questionnaire.Order, string, bool, error) {
	return s.createOrder(ctx, o, idem, nil)
}

// CreateOrderAnnounced implements store.Announcing: the order and the
// message that announces it are written in one transaction; a retried
// request writes neither.
func (s *Store) CreateOrderAnnounced(ctx context.Context, o *questionnaire.Order, idem *store.Idempotency, m *store.Message) (*questionnaire.Order, string, bool, error) {
	return s.createOrder(ctx, o, idem, m)
}

func (s *Store) createOrder(ctx context.Context, o *questionnaire.Order, idem *store.Idempotency, m *store.Message) (*questionnaire.Order, string, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", false, err
	}
	var announce *record
	if m != nil {
		var err error
		if announce, err = s.queue.seal(m); err != nil {
			return nil, "", false, wrap("create order", err)
		}
	}
	var (
		out     *questionnaire.Order
		code    string
		created bool
	)
	var idemHash string
	if idem != nil {
		idemHash = s.secrets.IdempotencyHash(idem.Hash)
	}
	// Batch: concurrent writes share one fsync. The function may run
	// again; it sets every result afresh from the stored state.
	err := s.group.do(func(tx *bolt.Tx) error {
		out, code, created = nil, "", false
		if idem != nil {
			raw := tx.Bucket(bucketIdempotency).Get(s.idemKey(idem))
			if raw != nil {
				var e idemEntry
				if err := json.Unmarshal(raw, &e); err != nil {
					return err
				}
				if e.Hash != idemHash {
					return questionnaire.Errorf(questionnaire.ECONFLICT,
						"this Idempotency-Key was used for a different request; use a new key for a new order")
				}
				prev, err := s.getOrder(tx, e.OrderID)
				if err != nil {
					return err
				}
				out = prev
				if prev.Status.Open() {
					code, err = s.sealedCode(tx, prev.ID)
				}
				return err
			}
		}
		if tx.Bucket(bucketOrders).Get([]byte(o.ID)) != nil {
			return questionnaire.Errorf(questionnaire.ECONFLICT, "order %s exists already", o.ID)
		}
		keys := orderKeys{}
		var err error
		if code, err = s.issueCode(tx, o, &keys); err != nil {
			return err
		}
		if err := s.putOrder(tx, o); err != nil {
			return err
		}
		if err := tx.Bucket(bucketExpiry).Put(timeKey(o.ExpiresAt, o.ID), nil); err != nil {
			return err
		}
		if err := tx.Bucket(bucketRetention).Put(timeKey(o.ExpiresAt.Add(store.TombstoneTTL), o.ID), nil); err != nil {
			return err
		}
		if idem != nil {
			raw, _ := json.Marshal(idemEntry{Hash: idemHash, OrderID: o.ID, At: o.CreatedAt})
			if err := tx.Bucket(bucketIdempotency).Put(s.idemKey(idem), raw); err != nil {
				return err
			}
			keys.Idem = string(s.idemKey(idem))
		}
		if err := putJSON(tx, bucketOrderKeys, []byte(o.ID), keys); err != nil {
			return err
		}
		if announce != nil {
			if err := sendTx(tx, announce); err != nil {
				return err
			}
		}
		out, created = o, true
		return nil
	})
	if err != nil {
		return nil, "", false, wrap("create order", err)
	}
	if announce != nil && created {
		s.queue.Signal()
	}
	return out, code, created, nil
}

// issueCode draws a code no order has had, indexes it for the order's
// current generation and seals it; keys records the index key.
func (s *Store) issueCode(tx *bolt.Tx, o *questionnaire.Order, keys *orderKeys) (string, error) {
	codes := tx.Bucket(bucketCodes)
	for range 5 {
		code := questionnaire.NewCode()
		key := s.secrets.Codes.Key(code)
		if codes.Get(key) != nil {
			continue // 50 random bits: a repeat is rare, but it must not hand over another order
		}
		raw, _ := json.Marshal(codeEntry{OrderID: o.ID, Generation: o.CodeGeneration})
		if err := codes.Put(key, raw); err != nil {
			return "", err
		}
		if err := tx.Bucket(bucketSealed).Put([]byte(o.ID), s.secrets.Codes.Seal(o.ID, code)); err != nil {
			return "", err
		}
		keys.Codes = append(keys.Codes, hex.EncodeToString(key))
		return code, nil
	}
	return "", errors.New("no unused code found in 5 draws")
}

func (s *Store) sealedCode(tx *bolt.Tx, orderID string) (string, error) {
	sealed := tx.Bucket(bucketSealed).Get([]byte(orderID))
	if sealed == nil {
		return "", fmt.Errorf("no sealed code for open order %s", orderID)
	}
	return s.secrets.Codes.Open(orderID, sealed)
}

// Order implements store.Orders.
func (s *Store) Order(ctx context.Context, id string) (*questionnaire.Order, error) {
	var o *questionnaire.Order
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		o, err = s.getOrder(tx, id)
		return err
	})
	return o, wrap("get order", err)
}

// OrderCode implements store.Orders.
func (s *Store) OrderCode(ctx context.Context, id string, now time.Time) (string, error) {
	var code string
	err := s.db.View(func(tx *bolt.Tx) error {
		o, err := s.getOrder(tx, id)
		if err != nil {
			return err
		}
		if o.Expired(now) {
			return questionnaire.Errorf(questionnaire.ECONFLICT, "order %s has expired; its code no longer works", id)
		}
		if !o.Status.Open() {
			return questionnaire.Errorf(questionnaire.ECONFLICT, "order %s is %s; its code no longer works", id, o.Status)
		}
		code, err = s.sealedCode(tx, id)
		return err
	})
	return code, wrap("order code", err)
}

// CancelOrder implements store.Orders.
func (s *Store) CancelOrder(ctx context.Context, id string, now time.Time) (*questionnaire.Order, error) {
	var o *questionnaire.Order
	err := s.group.do(func(tx *bolt.Tx) error {
		var err error
		if o, err = s.getOrder(tx, id); err != nil {
			return err
		}
		key := expiryKey(o)
		if err := o.Cancel(now); err != nil {
			return err
		}
		// The answers so far go with the order: nothing is sent for a
		// cancelled order, and nothing is kept.
		if err := tx.Bucket(bucketDrafts).Delete([]byte(o.ID)); err != nil {
			return err
		}
		s.drafts.drop(o.ID)
		return s.closeOrder(tx, o, key)
	})
	return o, wrap("cancel order", err)
}

// ReissueCode implements store.Orders.
func (s *Store) ReissueCode(ctx context.Context, id string, now time.Time) (*questionnaire.Order, string, error) {
	var (
		o    *questionnaire.Order
		code string
	)
	err := s.group.do(func(tx *bolt.Tx) error {
		var err error
		if o, err = s.getOrder(tx, id); err != nil {
			return err
		}
		if err := o.Reissue(now); err != nil {
			return err
		}
		var keys orderKeys
		if raw := tx.Bucket(bucketOrderKeys).Get([]byte(id)); raw != nil {
			if err := json.Unmarshal(raw, &keys); err != nil {
				return err
			}
		}
		if code, err = s.issueCode(tx, o, &keys); err != nil {
			return err
		}
		if err := putJSON(tx, bucketOrderKeys, []byte(id), keys); err != nil {
			return err
		}
		return s.putOrder(tx, o)
	})
	if err != nil {
		return nil, "", wrap("reissue code", err)
	}
	return o, code, nil
}

// LookupCode implements store.Orders.
func (s *Store) LookupCode(ctx context.Context, code string) (*questionnaire.Order, bool, error) {
	var (
		o       *questionnaire.Order
		current bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketCodes).Get(s.secrets.Codes.Key(code))
		if raw == nil {
			return questionnaire.Errorf(questionnaire.ENOTFOUND, "no order has this code")
		}
		var e codeEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		var err error
		if o, err = s.getOrder(tx, e.OrderID); err != nil {
			return err
		}
		current = e.Generation == o.CodeGeneration
		return nil
	})
	if err != nil {
		return nil, false, wrap("lookup code", err)
	}
	return o, current, nil
}

// ExpiringOrders implements store.Orders.
func (s *Store) ExpiringOrders(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketExpiry).Cursor()
		for k, _ := c.First(); k != nil && len(ids) < limit; k, _ = c.Next() {
			if int64(binary.BigEndian.Uint64(k[:8])) > now.UnixNano() {
				break
			}
			ids = append(ids, string(k[8:]))
		}
		return nil
	})
	return ids, wrap("expiring orders", err)
}

// errStale says the order changed between reading it and writing.
var errStale = errors.New("the order changed meanwhile")

// CloseOrder implements store.Orders. The message is built (signed)
// outside the transaction, from the order and draft as read, so that the
// writer's lock is held only for the writes; the transaction checks that
// neither changed meanwhile, or starts again. Concurrent closes are
// committed together (bbolt's Batch), so they share one fsync; never
// NoSync. The message joins the outbox in the same transaction.
func (s *Store) CloseOrder(ctx context.Context, id string, now time.Time, move store.CloseFunc, build store.MessageFunc) (*questionnaire.Order, error) {
	key := []byte(id)
	for range 10 {
		var rawOrder, rawDraft []byte
		err := s.db.View(func(tx *bolt.Tx) error {
			rawOrder = bytes.Clone(tx.Bucket(bucketOrders).Get(key))
			rawDraft = bytes.Clone(tx.Bucket(bucketDrafts).Get(key))
			return nil
		})
		if err != nil {
			return nil, wrap("close order", err)
		}
		if rawOrder == nil {
			return nil, questionnaire.Errorf(questionnaire.ENOTFOUND, "no order %q", id)
		}
		o, err := s.openOrder(id, rawOrder, false) // closed now: read no more by patients
		if err != nil {
			return nil, wrap("close order", err)
		}
		d, err := s.openDraft(id, rawDraft, false) // deleted now
		if err != nil {
			return nil, wrap("close order", err)
		}
		expiry := expiryKey(o)
		changed, err := move(o, d)
		if err != nil {
			return nil, err
		}
		if !changed {
			if !o.Status.Open() { // a stale expiry entry
				err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketExpiry).Delete(expiry) })
				return nil, wrap("close order", err)
			}
			return nil, nil
		}
		m, err := build(o, d)
		if err != nil {
			return nil, wrap("close order", err)
		}
		// Everything is sealed and encoded before the transaction, which
		// only checks that the order is as read and writes.
		var (
			rec     *record
			recJSON []byte
		)
		if m != nil {
			o.SubmissionID = m.ID
			if rec, err = s.queue.seal(m); err != nil {
				return nil, wrap("close order", err)
			}
			if recJSON, err = json.Marshal(rec); err != nil {
				return nil, wrap("close order", err)
			}
		}
		sealedOrder, err := s.sealOrder(o)
		if err != nil {
			return nil, wrap("close order", err)
		}
		// Batch may run the function more than once: it checks the stored
		// state every time.
		err = s.group.do(func(tx *bolt.Tx) error {
			if !bytes.Equal(tx.Bucket(bucketOrders).Get(key), rawOrder) || !bytes.Equal(tx.Bucket(bucketDrafts).Get(key), rawDraft) {
				return errStale
			}
			if rec != nil {
				if err := enqueueEncodedTx(tx, rec, recJSON); err != nil {
					return err
				}
			}
			if err := tx.Bucket(bucketOrders).Put(key, sealedOrder); err != nil {
				return err
			}
			for _, op := range [][2][]byte{{bucketDrafts, key}, {bucketSealed, key}, {bucketExpiry, expiry}} {
				if err := tx.Bucket(op[0]).Delete(op[1]); err != nil {
					return err
				}
			}
			return nil
		})
		if errors.Is(err, errStale) {
			continue
		}
		if err != nil {
			return nil, wrap("close order", err)
		}
		s.orders.drop(id) // what patients read of it: closed now
		s.drafts.drop(id) // deleted
		s.queue.Signal()
		return o, nil
	}
	return nil, questionnaire.Errorf(questionnaire.ECONFLICT, "order %s changes too often to close; try again", id)
}

// MarkDelivered implements store.Orders.
func (s *Store) MarkDelivered(ctx context.Context, id string, at time.Time) error {
	return wrap("mark delivered", s.group.do(func(tx *bolt.Tx) error {
		o, err := s.getOrder(tx, id)
		if err != nil {
			return err
		}
		o.Deliver(at)
		return s.putOrder(tx, o)
	}))
}

// PurgeOrders implements store.Orders: an order goes TombstoneTTL after
// its expiry, with its codes, idempotency key and anything left of it. The
// tombstone of its envelope, which holds no patient reference, stays its
// own 30 days.
func (s *Store) PurgeOrders(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = 0
		c := tx.Bucket(bucketRetention).Cursor()
		for k, _ := c.First(); k != nil && n < 1000; k, _ = c.Next() {
			if int64(binary.BigEndian.Uint64(k[:8])) > now.UnixNano() {
				break
			}
			id := k[8:]
			if raw := tx.Bucket(bucketOrders).Get(id); raw != nil {
				o, err := s.openOrder(string(id), raw, false)
				if err != nil {
					return err
				}
				if o.Status.Open() && !o.Expired(now) {
					continue // cannot be: kept until it expires and is swept
				}
			}
			var keys orderKeys
			if raw := tx.Bucket(bucketOrderKeys).Get(id); raw != nil {
				if err := json.Unmarshal(raw, &keys); err != nil {
					return err
				}
			}
			for _, hexKey := range keys.Codes {
				if code, err := hex.DecodeString(hexKey); err == nil {
					if err := tx.Bucket(bucketCodes).Delete(code); err != nil {
						return err
					}
				}
			}
			if keys.Idem != "" {
				if err := tx.Bucket(bucketIdempotency).Delete([]byte(keys.Idem)); err != nil {
					return err
				}
			}
			for _, b := range [][]byte{bucketOrders, bucketOrderKeys, bucketDrafts, bucketSealed} {
				if err := tx.Bucket(b).Delete(id); err != nil {
					return err
				}
			}
			s.orders.drop(string(id))
			s.drafts.drop(string(id))
			if err := c.Delete(); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, wrap("purge orders", err)
}

// closeOrder stores a closed order and forgets its sealed code and its
// place in the expiry index.
func (s *Store) closeOrder(tx *bolt.Tx, o *questionnaire.Order, expiry []byte) error {
	if err := tx.Bucket(bucketSealed).Delete([]byte(o.ID)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketExpiry).Delete(expiry); err != nil {
		return err
	}
	return s.putOrder(tx, o)
}

func (s *Store) getOrder(tx *bolt.Tx, id string) (*questionnaire.Order, error) {
	raw := tx.Bucket(bucketOrders).Get([]byte(id))
	if raw == nil {
		return nil, questionnaire.Errorf(questionnaire.ENOTFOUND, "no order %q", id)
	}
	return s.openOrder(id, raw, true)
}

// openOrder opens and decodes a sealed order, or finds it decoded; keep
// keeps it decoded for the next read.
func (s *Store) openOrder(id string, sealed []byte, keep bool) (*questionnaire.Order, error) {
	if o, ok := s.orders.get(id, sealed); ok {
		return o, nil
	}
	raw, err := s.secrets.Orders.Open(id, sealed)
	if err != nil {
		return nil, fmt.Errorf("order %s: %w", id, err)
	}
	var o questionnaire.Order
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("decode order %s: %w", id, err)
	}
	if keep {
		s.orders.put(id, sealed, &o)
	}
	return &o, nil
}

func (s *Store) sealOrder(o *questionnaire.Order) ([]byte, error) {
	raw, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	return s.secrets.Orders.Seal(o.ID, raw), nil
}

func (s *Store) putOrder(tx *bolt.Tx, o *questionnaire.Order) error {
	sealed, err := s.sealOrder(o)
	if err != nil {
		return err
	}
	s.orders.put(o.ID, sealed, o) // the next read finds it decoded, once this commits
	return tx.Bucket(bucketOrders).Put([]byte(o.ID), sealed)
}

// timeKey is an index key: a time (8 bytes, big-endian Unix ns), then an id.
func timeKey(at time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(at.UnixNano()))
	return append(k, id...)
}

func expiryKey(o *questionnaire.Order) []byte { return timeKey(o.ExpiresAt, o.ID) }

func (s *Store) idemKey(i *store.Idempotency) []byte {
	return []byte(s.secrets.IdempotencyKey(i))
}

// wrap prefixes internal errors; application errors pass unchanged.
func wrap(op string, err error) error {
	var e *questionnaire.Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		// The transaction was rolled back: nothing changed, and the same
		// request succeeds once there is room again.
		return fmt.Errorf("bolt: %s: %w: %w", op, errDiskFull, err)
	}
	return fmt.Errorf("bolt: %s: %w", op, err)
}

// errDiskFull is what a write to a full disk answers: unavailable, with
// nothing lost.
var errDiskFull = questionnaire.Errorf(questionnaire.EUNAVAILABLE, "The service cannot store anything just now; nothing was changed. Try again in a minute.")
