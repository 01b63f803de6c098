// Package bolt is the embedded store: orders, the code index, sealed codes
// and idempotency keys in one bbolt file in the data folder.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"eprom/questionnaire"
	"eprom/store"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// The buckets of the file.
var (
	bucketOrders      = []byte("orders")      // order id → order JSON
	bucketCodes       = []byte("codes")       // HMAC of a code → codeEntry JSON
	bucketSealed      = []byte("sealed")      // order id → the sealed current code, while the order is open
	bucketIdempotency = []byte("idempotency") // caller \x00 key → idemEntry JSON
	bucketExpiry      = []byte("expiry")      // expiry (8 bytes, big-endian Unix ns) + order id → nothing, while open
	allBuckets        = [][]byte{bucketOrders, bucketCodes, bucketSealed, bucketIdempotency, bucketExpiry,
		bucketSessions, bucketDrafts, bucketOutbox, bucketOutboxDue, bucketDead, bucketTombstones, bucketPending}
)

// codeEntry is what the code index holds for a code.
type codeEntry struct {
	OrderID    string `json:"order"`
	Generation int    `json:"gen"`
}

// idemEntry is what the idempotency index holds for a key.
type idemEntry struct {
	Hash    string    `json:"hash"`
	OrderID string    `json:"order"`
	At      time.Time `json:"at"`
}

// MaxBatchDelay is how long a write waits for others to share its fsync.
// bbolt's default of 10 ms adds 10 ms to every page a patient posts; 2 ms
// still gathers the writes that arrive together under load.
const MaxBatchDelay = 2 * time.Millisecond

// Store is the bbolt implementation of the store: orders, patients'
// sessions and drafts, limits, and the outbox.
type Store struct {
	db        *bolt.DB
	codes     *store.Codebook
	signer    store.Signer
	enqueued  chan struct{}
	delivered func(ctx context.Context, orderID string, at time.Time) error // set when orders live elsewhere
	inflight  sync.Map                                                      // ids of envelopes prepared and not yet confirmed or discarded
}

var _ store.Orders = (*Store)(nil)

// Open opens or creates the bbolt file at path. It fails at once, with a
// clear error, when another process holds the file. The signer signs the
// envelopes that closing an order puts in the outbox.
func Open(path string, codes *store.Codebook, signer store.Signer) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err == nil {
		db.MaxBatchDelay = MaxBatchDelay
	}
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: %s is in use by another process (is another eprom running on this data folder?)", path)
	} else if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
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
	return &Store{db: db, codes: codes, signer: signer, enqueued: make(chan struct{}, 1)}, nil
}

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
	if err := ctx.Err(); err != nil {
		return nil, "", false, err
	}
	var (
		out     *questionnaire.Order
		code    string
		created bool
	)
	// Batch: concurrent writes share one fsync. The function may run
	// again; it sets every result afresh from the stored state.
	err := s.db.Batch(func(tx *bolt.Tx) error {
		out, code, created = nil, "", false
		if idem != nil {
			raw := tx.Bucket(bucketIdempotency).Get(idemKey(idem))
			if raw != nil {
				var e idemEntry
				if err := json.Unmarshal(raw, &e); err != nil {
					return err
				}
				if e.Hash != idem.Hash {
					return questionnaire.Errorf(questionnaire.ECONFLICT,
						"this Idempotency-Key was used for a different request; use a new key for a new order")
				}
				prev, err := getOrder(tx, e.OrderID)
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
		var err error
		if code, err = s.issueCode(tx, o); err != nil {
			return err
		}
		if err := putOrder(tx, o); err != nil {
			return err
		}
		if err := tx.Bucket(bucketExpiry).Put(expiryKey(o), nil); err != nil {
			return err
		}
		if idem != nil {
			raw, _ := json.Marshal(idemEntry{Hash: idem.Hash, OrderID: o.ID, At: o.CreatedAt})
			if err := tx.Bucket(bucketIdempotency).Put(idemKey(idem), raw); err != nil {
				return err
			}
		}
		out, created = o, true
		return nil
	})
	if err != nil {
		return nil, "", false, wrap("create order", err)
	}
	return out, code, created, nil
}

// issueCode draws a code no order has had, indexes it for the order's
// current generation and seals it.
func (s *Store) issueCode(tx *bolt.Tx, o *questionnaire.Order) (string, error) {
	codes := tx.Bucket(bucketCodes)
	for range 5 {
		code := questionnaire.NewCode()
		key := s.codes.Key(code)
		if codes.Get(key) != nil {
			continue // 50 random bits: a repeat is rare, but it must not hand over another order
		}
		raw, _ := json.Marshal(codeEntry{OrderID: o.ID, Generation: o.CodeGeneration})
		if err := codes.Put(key, raw); err != nil {
			return "", err
		}
		if err := tx.Bucket(bucketSealed).Put([]byte(o.ID), s.codes.Seal(o.ID, code)); err != nil {
			return "", err
		}
		return code, nil
	}
	return "", errors.New("no unused code found in 5 draws")
}

func (s *Store) sealedCode(tx *bolt.Tx, orderID string) (string, error) {
	sealed := tx.Bucket(bucketSealed).Get([]byte(orderID))
	if sealed == nil {
		return "", fmt.Errorf("no sealed code for open order %s", orderID)
	}
	return s.codes.Open(orderID, sealed)
}

// Order implements store.Orders.
func (s *Store) Order(ctx context.Context, id string) (*questionnaire.Order, error) {
	var o *questionnaire.Order
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		o, err = getOrder(tx, id)
		return err
	})
	return o, wrap("get order", err)
}

// OrderCode implements store.Orders.
func (s *Store) OrderCode(ctx context.Context, id string, now time.Time) (string, error) {
	var code string
	err := s.db.View(func(tx *bolt.Tx) error {
		o, err := getOrder(tx, id)
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
	err := s.db.Batch(func(tx *bolt.Tx) error {
		var err error
		if o, err = getOrder(tx, id); err != nil {
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
		return closeOrder(tx, o, key)
	})
	return o, wrap("cancel order", err)
}

// ReissueCode implements store.Orders.
func (s *Store) ReissueCode(ctx context.Context, id string, now time.Time) (*questionnaire.Order, string, error) {
	var (
		o    *questionnaire.Order
		code string
	)
	err := s.db.Batch(func(tx *bolt.Tx) error {
		var err error
		if o, err = getOrder(tx, id); err != nil {
			return err
		}
		if err := o.Reissue(now); err != nil {
			return err
		}
		if code, err = s.issueCode(tx, o); err != nil {
			return err
		}
		return putOrder(tx, o)
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
		raw := tx.Bucket(bucketCodes).Get(s.codes.Key(code))
		if raw == nil {
			return questionnaire.Errorf(questionnaire.ENOTFOUND, "no order has this code")
		}
		var e codeEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		var err error
		if o, err = getOrder(tx, e.OrderID); err != nil {
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

// ExpireOrders implements store.Orders. It handles at most 1000 orders a
// call, oldest expiry first, so one call never holds the writer for long.
func (s *Store) ExpireOrders(ctx context.Context, now time.Time) ([]*questionnaire.Order, error) {
	var expired []*questionnaire.Order
	err := s.db.Update(func(tx *bolt.Tx) error {
		var ids []string
		var keys [][]byte
		c := tx.Bucket(bucketExpiry).Cursor()
		for k, _ := c.First(); k != nil && len(ids) < 1000; k, _ = c.Next() {
			if int64(binary.BigEndian.Uint64(k[:8])) > now.UnixNano() {
				break
			}
			ids = append(ids, string(k[8:]))
			keys = append(keys, bytes.Clone(k))
		}
		for i, id := range ids {
			o, err := getOrder(tx, id)
			if err != nil {
				return err
			}
			if !o.Expire(now) {
				// Not open any more: the index entry is stale.
				if err := tx.Bucket(bucketExpiry).Delete(keys[i]); err != nil {
					return err
				}
				continue
			}
			d, err := getDraft(tx, o.ID)
			if err != nil {
				return err
			}
			if err := s.enqueue(tx, o, nil, d.Events, now); err != nil {
				return err
			}
			if err := tx.Bucket(bucketDrafts).Delete([]byte(o.ID)); err != nil {
				return err
			}
			if err := closeOrder(tx, o, keys[i]); err != nil {
				return err
			}
			expired = append(expired, o)
		}
		return nil
	})
	if err != nil {
		return nil, wrap("expire orders", err)
	}
	if len(expired) > 0 {
		s.signal()
	}
	return expired, nil
}

// closeOrder stores a closed order and forgets its sealed code and its
// place in the expiry index.
func closeOrder(tx *bolt.Tx, o *questionnaire.Order, expiry []byte) error {
	if err := tx.Bucket(bucketSealed).Delete([]byte(o.ID)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketExpiry).Delete(expiry); err != nil {
		return err
	}
	return putOrder(tx, o)
}

func getOrder(tx *bolt.Tx, id string) (*questionnaire.Order, error) {
	raw := tx.Bucket(bucketOrders).Get([]byte(id))
	if raw == nil {
		return nil, questionnaire.Errorf(questionnaire.ENOTFOUND, "no order %q", id)
	}
	var o questionnaire.Order
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("decode order %s: %w", id, err)
	}
	return &o, nil
}

func putOrder(tx *bolt.Tx, o *questionnaire.Order) error {
	raw, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketOrders).Put([]byte(o.ID), raw)
}

func expiryKey(o *questionnaire.Order) []byte {
	k := make([]byte, 8, 8+len(o.ID))
	binary.BigEndian.PutUint64(k, uint64(o.ExpiresAt.UnixNano()))
	return append(k, o.ID...)
}

func idemKey(i *store.Idempotency) []byte {
	return []byte(i.Caller + "\x00" + i.Key)
}

// wrap prefixes internal errors; application errors pass unchanged.
func wrap(op string, err error) error {
	var e *questionnaire.Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	return fmt.Errorf("bolt: %s: %w", op, err)
}
