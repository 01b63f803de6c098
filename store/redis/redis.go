// Package redis keeps orders, the code index, sealed codes, idempotency
// keys, sessions, drafts and failure counts in Redis, so that several
// replicas serve one patient, and shares pull leases between replicas.
// Every change of state is an optimistic transaction (WATCH/MULTI) or a
// Lua script. Orders and drafts are sealed, as in bolt, so a dump of Redis
// reveals no answer and no patient reference. Messages are not kept here:
// each replica's bbolt outbox takes them through store.Pending, prepared on
// disk before the order closes in Redis and confirmed after, so a crash
// between the two loses nothing and sends nothing twice.
package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"eprom/questionnaire"
	"eprom/store"

	goredis "github.com/redis/go-redis/v9"
)

// Retention is how long an order stays in Redis after its expiry, so the
// registry can still read its status.
const Retention = 30 * 24 * time.Hour

// Store is the Redis implementation of store.Orders, store.Patients and
// store.Limits.
type Store struct {
	rdb     *goredis.Client
	prefix  string
	secrets *store.Secrets
	codes   *store.Codebook
	pending store.Pending
}

var (
	_ store.Orders       = (*Store)(nil)
	_ store.Patients     = (*Store)(nil)
	_ store.Limits       = (*Store)(nil)
	_ store.SharedLeases = (*Store)(nil)
)

// Open connects to a redis://host:port/db URL. Keys are prefixed with
// prefix (default "eprom:"). The outbox takes the messages of closing
// orders.
func Open(ctx context.Context, url, prefix string, secrets *store.Secrets, outbox store.Pending) (*Store, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = 2*time.Second, 2*time.Second, 2*time.Second
	// One retry: when Redis is down, patients and the API get a 503 at once.
	opts.MaxRetries = 1
	opts.MaxRetryBackoff = 100 * time.Millisecond
	opts.DialerRetries = 1
	if prefix == "" {
		prefix = "eprom:"
	}
	s := &Store{rdb: goredis.NewClient(opts), prefix: prefix, secrets: secrets, pending: outbox}
	if secrets != nil {
		s.codes = secrets.Codes
	}
	return s, nil
}

// Client returns the Redis client, for tests.
func (s *Store) Client() *goredis.Client { return s.rdb }

// Close closes the connections.
func (s *Store) Close() error { return s.rdb.Close() }

// Ping implements store.Orders.
func (s *Store) Ping(ctx context.Context) error {
	return s.fail("ping", s.rdb.Ping(ctx).Err())
}

// The keys.
func (s *Store) orderKey(id string) string  { return s.prefix + "order:" + id }
func (s *Store) sealedKey(id string) string { return s.prefix + "sealed:" + id }
func (s *Store) draftKey(id string) string  { return s.prefix + "draft:" + id }
func (s *Store) expiryKey() string          { return s.prefix + "expiry" }
func (s *Store) limitKey(key string) string { return s.prefix + "limit:" + key }
func (s *Store) codeKey(code string) string {
	return s.prefix + "code:" + hex.EncodeToString(s.codes.Key(code))
}
func (s *Store) sessionKey(id string) string {
	h := sha256.Sum256([]byte(id))
	return s.prefix + "session:" + hex.EncodeToString(h[:])
}
func (s *Store) idemKey(i *store.Idempotency) string {
	return s.prefix + "idem:" + s.secrets.IdempotencyKey(i)
}

// fail translates Redis errors: a connection that fails is EUNAVAILABLE,
// which the web layer answers with 503; application errors pass.
func (s *Store) fail(op string, err error) error {
	var e *questionnaire.Error
	switch {
	case err == nil || errors.As(err, &e):
		return err
	case errors.Is(err, goredis.Nil):
		return questionnaire.Errorf(questionnaire.ENOTFOUND, "not found")
	case isNetwork(err):
		return &unavailable{op: op, err: err}
	}
	return fmt.Errorf("redis: %s: %w", op, err)
}

// unavailable is a Redis that does not answer.
type unavailable struct {
	op  string
	err error
}

func (u *unavailable) Error() string { return "redis: " + u.op + ": unavailable: " + u.err.Error() }
func (u *unavailable) Unwrap() []error {
	return []error{questionnaire.Errorf(questionnaire.EUNAVAILABLE, "The service is busy for a moment. Please try again shortly."), u.err}
}

// isNetwork reports whether err means Redis cannot serve now (down,
// unreachable, loading, read-only after a failover, out of memory, busy):
// the request may succeed later, so it is a 503, not a 500.
func isNetwork(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, goredis.ErrClosed) || errors.Is(err, goredis.ErrPoolTimeout) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"connection refused", "connection reset", "EOF", "broken pipe", "i/o timeout",
		"LOADING", "READONLY", "MASTERDOWN", "MISCONF", "OOM", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "EXECABORT", "NOREPLICAS"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// ttl is how long an order's keys live: until its expiry and Retention.
func ttl(o *questionnaire.Order, now time.Time) time.Duration {
	d := o.ExpiresAt.Add(Retention).Sub(now)
	if d < time.Minute {
		d = time.Minute
	}
	return d
}

// untilExpiry is how long a sealed code lives: until the order expires.
func untilExpiry(o *questionnaire.Order, now time.Time) time.Duration {
	if d := o.ExpiresAt.Sub(now); d > time.Second {
		return d
	}
	return time.Second
}

// transact runs fn as an optimistic transaction on the watched keys, again
// when another client changed them meanwhile.
func (s *Store) transact(ctx context.Context, op string, fn func(tx *goredis.Tx) error, keys ...string) error {
	for range 50 {
		err := s.rdb.Watch(ctx, fn, keys...)
		if errors.Is(err, goredis.TxFailedErr) {
			continue
		}
		return s.fail(op, err)
	}
	return questionnaire.Errorf(questionnaire.ECONFLICT, "too many concurrent changes; try again")
}

func getJSON[T any](ctx context.Context, c goredis.Cmdable, key string) (*T, error) {
	raw, err := c.Get(ctx, key).Bytes()
	if err != nil {
		return nil, err
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return &v, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// getSealed reads and opens a sealed JSON record. A record in clear, as an
// eprom before sealing wrote it, is read as it is; its next write seals it.
func getSealed[T any](ctx context.Context, c goredis.Cmdable, seal *store.Sealer, key, aad string) (*T, error) {
	raw, err := c.Get(ctx, key).Bytes()
	if err != nil {
		return nil, err
	}
	plain, err := seal.Open(aad, raw)
	if err != nil && json.Valid(raw) {
		plain, err = raw, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	var v T
	if err := json.Unmarshal(plain, &v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return &v, nil
}

func (s *Store) getOrder(ctx context.Context, c goredis.Cmdable, id string) (*questionnaire.Order, error) {
	o, err := getSealed[questionnaire.Order](ctx, c, s.secrets.Orders, s.orderKey(id), id)
	if errors.Is(err, goredis.Nil) {
		return nil, questionnaire.Errorf(questionnaire.ENOTFOUND, "no order %q", id)
	}
	return o, err
}

// sealedOrder is what the order's key holds.
func (s *Store) sealedOrder(o *questionnaire.Order) []byte {
	return s.secrets.Orders.Seal(o.ID, mustJSON(o))
}

func (s *Store) getDraft(ctx context.Context, c goredis.Cmdable, orderID string) (*questionnaire.Draft, error) {
	d, err := getSealed[questionnaire.Draft](ctx, c, s.secrets.Drafts, s.draftKey(orderID), orderID)
	if errors.Is(err, goredis.Nil) {
		return &questionnaire.Draft{Answers: map[string][]string{}}, nil
	}
	if err == nil && d.Answers == nil {
		d.Answers = map[string][]string{}
	}
	return d, err
}

// sealedDraft is what the draft's key holds.
func (s *Store) sealedDraft(orderID string, d *questionnaire.Draft) []byte {
	return s.secrets.Drafts.Seal(orderID, mustJSON(d))
}

// codeEntry is what the code index holds for a code.
type codeEntry struct {
	OrderID    string `json:"order"`
	Generation int    `json:"gen"`
}

// idemEntry is what an idempotency key holds.
type idemEntry struct {
	Hash    string `json:"hash"`
	OrderID string `json:"order"`
}

// CreateOrder implements store.Orders.
func (s *Store) CreateOrder(ctx context.Context, o *questionnaire.Order, idem *store.Idempotency) (*questionnaire.Order, string, bool, error) {
	var (
		out      = o
		code     string
		created  bool
		idemHash string
	)
	if idem != nil {
		idemHash = s.secrets.IdempotencyHash(idem.Hash)
	}
	for range 5 {
		code = questionnaire.NewCode()
		keys := []string{s.codeKey(code), s.orderKey(o.ID)}
		if idem != nil {
			keys = append(keys, s.idemKey(idem))
		}
		retry := false
		err := s.transact(ctx, "create order", func(tx *goredis.Tx) error {
			if idem != nil {
				e, err := getJSON[idemEntry](ctx, tx, s.idemKey(idem))
				if err == nil {
					if e.Hash != idemHash {
						return questionnaire.Errorf(questionnaire.ECONFLICT,
							"this Idempotency-Key was used for a different request; use a new key for a new order")
					}
					prev, err := s.getOrder(ctx, tx, e.OrderID)
					if err != nil {
						return err
					}
					out, created, code = prev, false, ""
					if prev.Status.Open() {
						sealed, err := tx.Get(ctx, s.sealedKey(prev.ID)).Bytes()
						if err != nil && !errors.Is(err, goredis.Nil) {
							return err
						}
						if sealed != nil {
							code, err = s.codes.Open(prev.ID, sealed)
						}
						return err
					}
					return nil
				} else if !errors.Is(err, goredis.Nil) {
					return err
				}
			}
			if n, err := tx.Exists(ctx, s.codeKey(code), s.orderKey(o.ID)).Result(); err != nil {
				return err
			} else if n > 0 {
				retry = true // a code drawn twice, or an id: draw again
				return nil
			}
			now := o.CreatedAt
			life := ttl(o, now)
			_, err := tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
				p.Set(ctx, s.orderKey(o.ID), s.sealedOrder(o), life)
				p.Set(ctx, s.codeKey(code), mustJSON(codeEntry{OrderID: o.ID, Generation: o.CodeGeneration}), life)
				p.Set(ctx, s.sealedKey(o.ID), s.codes.Seal(o.ID, code), untilExpiry(o, now))
				p.ZAdd(ctx, s.expiryKey(), goredis.Z{Score: float64(o.ExpiresAt.UnixNano()), Member: o.ID})
				if idem != nil {
					p.Set(ctx, s.idemKey(idem), mustJSON(idemEntry{Hash: idemHash, OrderID: o.ID}), life)
				}
				return nil
			})
			out, created = o, true
			return err
		}, keys...)
		if err != nil {
			return nil, "", false, err
		}
		if !retry {
			return out, code, created, nil
		}
	}
	return nil, "", false, errors.New("redis: no unused code found in 5 draws")
}

// Order implements store.Orders.
func (s *Store) Order(ctx context.Context, id string) (*questionnaire.Order, error) {
	o, err := s.getOrder(ctx, s.rdb, id)
	return o, s.fail("get order", err)
}

// OrderCode implements store.Orders.
func (s *Store) OrderCode(ctx context.Context, id string, now time.Time) (string, error) {
	o, err := s.Order(ctx, id)
	if err != nil {
		return "", err
	}
	if o.Expired(now) {
		return "", questionnaire.Errorf(questionnaire.ECONFLICT, "order %s has expired; its code no longer works", id)
	}
	if !o.Status.Open() {
		return "", questionnaire.Errorf(questionnaire.ECONFLICT, "order %s is %s; its code no longer works", id, o.Status)
	}
	sealed, err := s.rdb.Get(ctx, s.sealedKey(id)).Bytes()
	if err != nil {
		return "", s.fail("order code", err)
	}
	return s.codes.Open(id, sealed)
}

// closeKeys queues what closing an order does: the order stored, the
// sealed code, its place in the expiry set and its draft gone.
func (s *Store) closeKeys(ctx context.Context, p goredis.Pipeliner, o *questionnaire.Order, now time.Time) {
	p.Set(ctx, s.orderKey(o.ID), s.sealedOrder(o), ttl(o, now))
	p.Del(ctx, s.sealedKey(o.ID), s.draftKey(o.ID))
	p.ZRem(ctx, s.expiryKey(), o.ID)
}

// CancelOrder implements store.Orders.
func (s *Store) CancelOrder(ctx context.Context, id string, now time.Time) (*questionnaire.Order, error) {
	var o *questionnaire.Order
	err := s.transact(ctx, "cancel order", func(tx *goredis.Tx) error {
		var err error
		if o, err = s.getOrder(ctx, tx, id); err != nil {
			return err
		}
		if err := o.Cancel(now); err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			s.closeKeys(ctx, p, o, now)
			return nil
		})
		return err
	}, s.orderKey(id))
	return o, err
}

// ReissueCode implements store.Orders.
func (s *Store) ReissueCode(ctx context.Context, id string, now time.Time) (*questionnaire.Order, string, error) {
	for range 5 {
		code := questionnaire.NewCode()
		var o *questionnaire.Order
		retry := false
		err := s.transact(ctx, "reissue code", func(tx *goredis.Tx) error {
			var err error
			if o, err = s.getOrder(ctx, tx, id); err != nil {
				return err
			}
			if err := o.Reissue(now); err != nil {
				return err
			}
			if n, err := tx.Exists(ctx, s.codeKey(code)).Result(); err != nil {
				return err
			} else if n > 0 {
				retry = true
				return nil
			}
			_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
				p.Set(ctx, s.orderKey(o.ID), s.sealedOrder(o), ttl(o, now))
				p.Set(ctx, s.codeKey(code), mustJSON(codeEntry{OrderID: o.ID, Generation: o.CodeGeneration}), ttl(o, now))
				p.Set(ctx, s.sealedKey(o.ID), s.codes.Seal(o.ID, code), untilExpiry(o, now))
				return nil
			})
			return err
		}, s.orderKey(id), s.codeKey(code))
		if err != nil {
			return nil, "", err
		}
		if !retry {
			return o, code, nil
		}
	}
	return nil, "", errors.New("redis: no unused code found in 5 draws")
}

// LookupCode implements store.Orders.
func (s *Store) LookupCode(ctx context.Context, code string) (*questionnaire.Order, bool, error) {
	e, err := getJSON[codeEntry](ctx, s.rdb, s.codeKey(code))
	if errors.Is(err, goredis.Nil) {
		return nil, false, questionnaire.Errorf(questionnaire.ENOTFOUND, "no order has this code")
	} else if err != nil {
		return nil, false, s.fail("lookup code", err)
	}
	o, err := s.Order(ctx, e.OrderID)
	if err != nil {
		return nil, false, err
	}
	return o, e.Generation == o.CodeGeneration, nil
}

// ExpiringOrders implements store.Orders.
func (s *Store) ExpiringOrders(ctx context.Context, now time.Time, limit int) ([]string, error) {
	ids, err := s.rdb.ZRangeByScore(ctx, s.expiryKey(), &goredis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.UnixNano(), 10), Count: int64(limit),
	}).Result()
	return ids, s.fail("expiring orders", err)
}

// CloseOrder implements store.Orders, in one optimistic transaction with
// its message: move changes the order (false: nothing to do), the message
// is built and prepared on this replica's disk, the order is stored with
// its SubmissionID, and the message is confirmed. If the transaction
// loses, the message is discarded and the whole is tried again on the new
// state. If Redis fails mid-answer, the close may or may not have applied:
// the message is released to Recover, which settles it by what Redis says.
// Every replica may expire the same order: one closes it, and only that
// one's message is confirmed.
func (s *Store) CloseOrder(ctx context.Context, id string, now time.Time, move store.CloseFunc, build store.MessageFunc) (*questionnaire.Order, error) {
	if s.pending == nil {
		return nil, errors.New("redis: no outbox for messages")
	}
	for range 50 {
		var (
			o        *questionnaire.Order
			prepared string
			done     bool
		)
		err := s.rdb.Watch(ctx, func(tx *goredis.Tx) error {
			var err error
			if o, err = s.getOrder(ctx, tx, id); err != nil {
				return err
			}
			d, err := s.getDraft(ctx, tx, id)
			if err != nil {
				return err
			}
			changed, err := move(o, d)
			if err != nil {
				return err
			}
			if !changed {
				_, err := tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
					if !o.Status.Open() {
						p.ZRem(ctx, s.expiryKey(), o.ID) // a stale entry
					}
					return nil
				})
				o, done = nil, true
				return err
			}
			m, err := build(o, d)
			if err != nil {
				return err
			}
			if m != nil { // nil: nothing reports the close (a test order)
				if err := s.pending.Prepare(ctx, m); err != nil {
					return err
				}
				prepared, o.SubmissionID = m.ID, m.ID
			}
			_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
				s.closeKeys(ctx, p, o, now)
				return nil
			})
			return err
		}, s.orderKey(id), s.draftKey(id))
		switch {
		case errors.Is(err, goredis.TxFailedErr):
			// Another client changed the order first: ours did not apply.
			if prepared != "" {
				if err := s.pending.Discard(ctx, prepared); err != nil {
					s.pending.Release(prepared)
				}
			}
			continue
		case err != nil:
			if prepared != "" {
				// The close may have applied: Recover asks Redis later.
				s.pending.Release(prepared)
			}
			if questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND {
				// An order that expired from Redis: its expiry entry goes
				// too (if that fails, the next sweep tries again).
				if zerr := s.rdb.ZRem(ctx, s.expiryKey(), id).Err(); zerr != nil {
					return nil, s.fail("close order", zerr)
				}
			}
			return nil, s.fail("close order", err)
		case done:
			return nil, nil
		}
		if prepared == "" {
			return o, nil
		}
		if err := s.pending.Confirm(ctx, prepared); err != nil {
			s.pending.Release(prepared)
			return nil, err
		}
		return o, nil
	}
	return nil, questionnaire.Errorf(questionnaire.ECONFLICT, "too many concurrent changes; try again")
}

// MarkDelivered implements store.Orders.
func (s *Store) MarkDelivered(ctx context.Context, orderID string, at time.Time) error {
	return s.transact(ctx, "mark delivered", func(tx *goredis.Tx) error {
		o, err := s.getOrder(ctx, tx, orderID)
		if err != nil {
			return err
		}
		o.Deliver(at)
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, s.orderKey(o.ID), s.sealedOrder(o), goredis.KeepTTL)
			return nil
		})
		return err
	}, s.orderKey(orderID))
}

// PurgeOrders implements store.Orders: Redis forgets an order, its code
// and its idempotency key by their TTL, TombstoneTTL after its expiry.
func (s *Store) PurgeOrders(ctx context.Context, now time.Time) (int, error) { return 0, nil }

// leaseRecord is a shared pull lease.
type leaseRecord struct {
	Holder      string    `json:"holder"`
	Destination string    `json:"destination"`
	Until       time.Time `json:"until"`
}

func (s *Store) leaseKey(id string) string { return s.prefix + "lease:" + id }
func (s *Store) ackKey(id string) string   { return s.prefix + "ack:" + id }

// ackTTL is how long an ack taken for another replica waits to be applied.
const ackTTL = 7 * 24 * time.Hour

// ShareLeases implements store.SharedLeases.
func (s *Store) ShareLeases(ctx context.Context, msgs []*store.Message, now time.Time) error {
	if len(msgs) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, m := range msgs {
			life := m.LeaseUntil.Sub(now)
			if life < time.Second {
				life = time.Second
			}
			p.Set(ctx, s.leaseKey(m.ID), mustJSON(leaseRecord{Holder: m.LeaseHolder, Destination: m.Destination, Until: m.LeaseUntil}), life)
		}
		return nil
	})
	return s.fail("share leases", err)
}

// RecordAck implements store.SharedLeases. An ack recorded before for the
// same holder is recorded again, whatever the lease: acknowledging twice
// is fine.
func (s *Store) RecordAck(ctx context.Context, id, holder, destination string, now time.Time) error {
	if a, err := getJSON[store.Ack](ctx, s.rdb, s.ackKey(id)); err == nil && a.Holder == holder && a.Destination == destination {
		return nil
	} else if err != nil && !errors.Is(err, goredis.Nil) {
		return s.fail("record ack", err)
	}
	l, err := getJSON[leaseRecord](ctx, s.rdb, s.leaseKey(id))
	if errors.Is(err, goredis.Nil) {
		return questionnaire.Errorf(questionnaire.ENOTFOUND, "No submission %q.", id)
	} else if err != nil {
		return s.fail("record ack", err)
	}
	if l.Destination != destination {
		return questionnaire.Errorf(questionnaire.ENOTFOUND, "No submission %q.", id)
	}
	if l.Holder != holder || !l.Until.After(now) {
		return questionnaire.Errorf(questionnaire.ELEASE, "Submission %s is not leased to you now; lease it again.", id)
	}
	ack := store.Ack{Holder: holder, Destination: destination, At: now}
	return s.fail("record ack", s.rdb.Set(ctx, s.ackKey(id), mustJSON(ack), ackTTL).Err())
}

// Acks implements store.SharedLeases.
func (s *Store) Acks(ctx context.Context, ids []string) (map[string]store.Ack, error) {
	out := map[string]store.Ack{}
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.ackKey(id)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, s.fail("acks", err)
	}
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		var a store.Ack
		if json.Unmarshal([]byte(str), &a) == nil {
			out[ids[i]] = a
		}
	}
	return out, nil
}

// ForgetAck implements store.SharedLeases.
func (s *Store) ForgetAck(ctx context.Context, id string) error {
	return s.fail("forget ack", s.rdb.Del(ctx, s.ackKey(id)).Err())
}
