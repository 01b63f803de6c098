package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"eprom/questionnaire"
	"eprom/store"

	bolt "go.etcd.io/bbolt"
)

// The queue's buckets.
var (
	bucketQueue      = []byte("queue")            // message id → record JSON (no body), while undelivered
	bucketBodies     = []byte("queue-bodies")     // message id → its sealed body, while queued, dead or prepared
	bucketDue        = []byte("queue-due")        // kind \x00 destination → bucket of due (8 bytes, Unix ns) + id → the id of the message it waits for (Message.After), or nothing
	bucketDead       = []byte("queue-dead")       // message id → record JSON
	bucketTombstones = []byte("queue-tombstones") // message id → store.Delivery JSON
	bucketPending    = []byte("queue-pending")    // message id → record JSON, prepared but not yet confirmed
	bucketUnsettled  = []byte("queue-unsettled")  // message id → nothing: delivered, not yet settled by its sender
	queueBuckets     = [][]byte{bucketQueue, bucketBodies, bucketDue, bucketDead, bucketTombstones, bucketPending, bucketUnsettled}
)

// record is a message as kept: its state as JSON, and its body sealed, in
// a bucket of its own (raw bytes, and lists never read it).
type record struct {
	store.Message
	Sealed []byte `json:"-"` // set when the body is to be written
}

// Queue is the outbox: a general durable queue of messages in the bbolt
// file (store.Queue, store.Pending). It knows nothing of orders; a sender
// that keeps its own state in the same file puts a message in the queue
// inside its own transaction (SendTx). Bodies are sealed at rest.
type Queue struct {
	db       *bolt.DB
	group    *group        // shared with the Store of the same file
	sealer   *store.Sealer // nil: bodies cannot be read or written (the queue CLI)
	enqueued chan struct{}
	inflight sync.Map // ids of messages prepared and not yet confirmed, discarded or released
}

var (
	_ store.Queue   = (*Queue)(nil)
	_ store.Pending = (*Queue)(nil)
)

func dueKey(at time.Time, id string) []byte { return timeKey(at, id) }

// route names the due bucket of a message's kind and destination.
func route(m *store.Message) []byte { return []byte(m.Kind + "\x00" + m.Destination) }

// due is when a message may next be received.
func due(m *store.Message) time.Time {
	if m.LeaseUntil.After(m.NextAt) {
		return m.LeaseUntil
	}
	return m.NextAt
}

// seal turns a message into its record, sealing the body.
func (q *Queue) seal(m *store.Message) (*record, error) {
	if q.sealer == nil {
		return nil, errors.New("no key to seal message bodies")
	}
	return &record{Message: *m, Sealed: q.sealer.Seal(m.ID, m.Body)}, nil
}

// open returns a record's message with its body.
func (q *Queue) open(tx *bolt.Tx, r *record) (*store.Message, error) {
	m := r.Message
	if q.sealer == nil {
		return nil, errors.New("no key to open message bodies")
	}
	sealed := tx.Bucket(bucketBodies).Get([]byte(m.ID))
	if sealed == nil {
		return nil, fmt.Errorf("message %s has no body", m.ID)
	}
	body, err := q.sealer.Open(m.ID, sealed)
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", m.ID, err)
	}
	m.Body = body
	return &m, nil
}

func getRecord(tx *bolt.Tx, bucket []byte, id string) (*record, error) {
	raw := tx.Bucket(bucket).Get([]byte(id))
	if raw == nil {
		return nil, questionnaire.Errorf(questionnaire.ENOTFOUND, "no message %q", id)
	}
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decode message %s: %w", id, err)
	}
	return &r, nil
}

// putRecord stores a record in a bucket, and its body when it has one.
func putRecord(tx *bolt.Tx, bucket []byte, r *record) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return putEncoded(tx, bucket, r, raw)
}

// putEncoded is putRecord with the record encoded beforehand.
func putEncoded(tx *bolt.Tx, bucket []byte, r *record, raw []byte) error {
	if r.Sealed != nil {
		if err := tx.Bucket(bucketBodies).Put([]byte(r.ID), r.Sealed); err != nil {
			return err
		}
	}
	return tx.Bucket(bucket).Put([]byte(r.ID), raw)
}

// enqueueTx puts a record in the queue and its due index.
func enqueueTx(tx *bolt.Tx, r *record) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return enqueueEncodedTx(tx, r, raw)
}

// enqueueEncodedTx is enqueueTx with the record encoded beforehand, outside
// the writer's lock.
func enqueueEncodedTx(tx *bolt.Tx, r *record, raw []byte) error {
	if err := putEncoded(tx, bucketQueue, r, raw); err != nil {
		return err
	}
	b, err := tx.Bucket(bucketDue).CreateBucketIfNotExists(route(&r.Message))
	if err != nil {
		return err
	}
	var after []byte
	if r.After != "" {
		after = []byte(r.After)
	}
	return b.Put(dueKey(due(&r.Message), r.ID), after)
}

// moveTx updates a queued record, keeping the due index in step.
func moveTx(tx *bolt.Tx, r *record, oldDue time.Time) error {
	if b := tx.Bucket(bucketDue).Bucket(route(&r.Message)); b != nil {
		if err := b.Delete(dueKey(oldDue, r.ID)); err != nil {
			return err
		}
	}
	return enqueueTx(tx, r)
}

// removeTx deletes a record from the queue and its due index.
func removeTx(tx *bolt.Tx, r *record) error {
	if b := tx.Bucket(bucketDue).Bucket(route(&r.Message)); b != nil {
		if err := b.Delete(dueKey(due(&r.Message), r.ID)); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketQueue).Delete([]byte(r.ID))
}

// SendTx puts a message in the queue inside the caller's transaction; call
// Signal after it commits. Returns ECONFLICT when its id was sent before.
func (q *Queue) SendTx(tx *bolt.Tx, m *store.Message) error {
	r, err := q.seal(m)
	if err != nil {
		return err
	}
	return sendTx(tx, r)
}

// sendTx enqueues a new record, refusing an id the queue has seen.
func sendTx(tx *bolt.Tx, r *record) error {
	for _, b := range [][]byte{bucketQueue, bucketDead, bucketPending, bucketTombstones} {
		if tx.Bucket(b).Get([]byte(r.ID)) != nil {
			return questionnaire.Errorf(questionnaire.ECONFLICT, "message %s was sent before", r.ID)
		}
	}
	return enqueueTx(tx, r)
}

// Send implements store.Queue.
func (q *Queue) Send(ctx context.Context, m *store.Message) error {
	r, err := q.seal(m)
	if err != nil {
		return wrap("send", err)
	}
	if err := q.group.do(func(tx *bolt.Tx) error { return sendTx(tx, r) }); err != nil {
		return wrap("send", err)
	}
	q.Signal()
	return nil
}

// Receive implements store.Queue.
func (q *Queue) Receive(ctx context.Context, holder string, n int, ttl time.Duration, now time.Time, accept store.Accept) ([]*store.Message, error) {
	if n <= 0 {
		return nil, nil
	}
	var got []*store.Message
	err := q.group.do(func(tx *bolt.Tx) error {
		got = nil // Batch may run this again
		type candidate struct {
			at int64
			id string
		}
		var cands []candidate
		dueB := tx.Bucket(bucketDue)
		err := dueB.ForEachBucket(func(name []byte) error {
			kind, dest, _ := strings.Cut(string(name), "\x00")
			want := n
			if accept != nil {
				want = min(n, accept(kind, dest))
			}
			c := dueB.Bucket(name).Cursor()
			for k, after := c.First(); k != nil && want > 0; k, after = c.Next() {
				at := int64(binary.BigEndian.Uint64(k[:8]))
				if at > now.UnixNano() {
					break
				}
				if len(after) > 0 && (tx.Bucket(bucketQueue).Get(after) != nil || tx.Bucket(bucketPending).Get(after) != nil) {
					continue // it waits for the message before it
				}
				cands = append(cands, candidate{at, string(k[8:])})
				want--
			}
			return nil
		})
		if err != nil {
			return err
		}
		slices.SortFunc(cands, func(a, b candidate) int {
			if a.at != b.at {
				return int(a.at - b.at)
			}
			return strings.Compare(a.id, b.id)
		})
		for _, c := range cands[:min(n, len(cands))] {
			r, err := getRecord(tx, bucketQueue, c.id)
			if err != nil {
				return err
			}
			m, err := q.open(tx, r)
			if err != nil {
				// Never received, so never blocking the rest: it waits in
				// the dead-letter list for a person.
				if err := removeTx(tx, r); err != nil {
					return err
				}
				r.LastError, r.DeadAt = "cannot open: "+err.Error(), now
				r.LeaseHolder, r.LeaseUntil = "", time.Time{}
				if err := putRecord(tx, bucketDead, r); err != nil {
					return err
				}
				continue
			}
			old := due(&r.Message)
			r.LeaseHolder, r.LeaseUntil = holder, now.Add(ttl)
			if err := moveTx(tx, r, old); err != nil {
				return err
			}
			m.LeaseHolder, m.LeaseUntil = r.LeaseHolder, r.LeaseUntil
			got = append(got, m)
		}
		return nil
	})
	if err != nil {
		return nil, wrap("receive", err)
	}
	return got, nil
}

// leased finds a queued message for destination whose lease holder holds.
func leased(tx *bolt.Tx, id, holder, destination string, now time.Time) (*record, error) {
	r, err := getRecord(tx, bucketQueue, id)
	if err != nil {
		return nil, err
	}
	if destination != "" && r.Destination != destination {
		return nil, questionnaire.Errorf(questionnaire.ENOTFOUND, "no message %q", id)
	}
	switch {
	case r.Leased(holder, now):
		return r, nil
	case r.LeaseHolder == holder:
		return nil, questionnaire.Errorf(questionnaire.ELEASE, "Your lease of submission %s ended at %s; lease it again.", id, r.LeaseUntil.UTC().Format(time.RFC3339))
	case r.LeaseHolder == "" || !r.LeaseUntil.After(now):
		return nil, questionnaire.Errorf(questionnaire.ELEASE, "Submission %s is not leased to you; lease it with GET /api/v1/submissions first.", id)
	}
	return nil, questionnaire.Errorf(questionnaire.ELEASE, "Submission %s is leased by another receiver (%s) now.", id, r.LeaseHolder)
}

// Extend implements store.Queue.
func (q *Queue) Extend(ctx context.Context, id, holder string, ttl time.Duration, now time.Time) error {
	return wrap("extend", q.group.do(func(tx *bolt.Tx) error {
		r, err := leased(tx, id, holder, "", now)
		if err != nil {
			return err
		}
		old := due(&r.Message)
		r.LeaseUntil = now.Add(ttl)
		return moveTx(tx, r, old)
	}))
}

// Delete implements store.Queue.
func (q *Queue) Delete(ctx context.Context, id, holder, destination string, now time.Time) (*store.Delivery, error) {
	var out *store.Delivery
	err := q.group.do(func(tx *bolt.Tx) error {
		out = nil
		if raw := tx.Bucket(bucketTombstones).Get([]byte(id)); raw != nil {
			var d store.Delivery
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			if destination != "" && d.Destination != destination {
				return questionnaire.Errorf(questionnaire.ENOTFOUND, "no message %q", id)
			}
			if d.Holder != holder && d.Holder != "" { // "": from before holders were recorded
				return questionnaire.Errorf(questionnaire.ELEASE, "Submission %s was delivered through another lease (%s).", id, d.Holder)
			}
			d.ID, out = id, &d
			return nil // delivered already
		}
		r, err := leased(tx, id, holder, destination, now)
		if err != nil {
			return err
		}
		if err := removeTx(tx, r); err != nil {
			return err
		}
		if err := tx.Bucket(bucketBodies).Delete([]byte(id)); err != nil {
			return err
		}
		d := store.Delivery{ID: id, Kind: r.Kind, Destination: r.Destination, Ref: r.Ref, Holder: holder, At: now, Unsettled: true}
		if err := tx.Bucket(bucketUnsettled).Put([]byte(id), nil); err != nil {
			return err
		}
		out = &d
		return putJSON(tx, bucketTombstones, []byte(id), d)
	})
	return out, wrap("delete", err)
}

// Retry implements store.Queue.
func (q *Queue) Retry(ctx context.Context, id, holder string, at time.Time, lastErr string, refused bool, now time.Time) error {
	return wrap("retry", q.db.Update(func(tx *bolt.Tx) error {
		r, err := heldBy(tx, id, holder)
		if err != nil {
			return err
		}
		old := due(&r.Message)
		switch {
		case !refused:
			r.RefusedSince = time.Time{}
		case r.RefusedSince.IsZero():
			r.RefusedSince = now
		}
		r.Attempts++
		r.NextAt, r.LastError = at, lastErr
		r.LeaseHolder, r.LeaseUntil = "", time.Time{}
		return moveTx(tx, r, old)
	}))
}

// heldBy finds a queued message last leased by holder, lapsed or not: a
// delivery that took long still records its outcome, unless another has
// taken the message since.
func heldBy(tx *bolt.Tx, id, holder string) (*record, error) {
	r, err := getRecord(tx, bucketQueue, id)
	if err != nil {
		return nil, err
	}
	if r.LeaseHolder != holder {
		return nil, questionnaire.Errorf(questionnaire.ELEASE, "message %s is not leased by %s", id, holder)
	}
	return r, nil
}

// Dead implements store.Queue.
func (q *Queue) Dead(ctx context.Context, id, holder, reason string, now time.Time) error {
	return wrap("dead", q.db.Update(func(tx *bolt.Tx) error {
		r, err := heldBy(tx, id, holder)
		if err != nil {
			return err
		}
		if err := removeTx(tx, r); err != nil {
			return err
		}
		r.Attempts++
		r.LastError, r.DeadAt = reason, now
		r.LeaseHolder, r.LeaseUntil = "", time.Time{}
		return putRecord(tx, bucketDead, r)
	}))
}

// Redrive implements store.Queue.
func (q *Queue) Redrive(ctx context.Context, id string, now time.Time) error {
	err := q.db.Update(func(tx *bolt.Tx) error {
		r, err := getRecord(tx, bucketDead, id)
		if questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND {
			return questionnaire.Errorf(questionnaire.ENOTFOUND, "no dead letter %q (eprom queue dead lists them)", id)
		} else if err != nil {
			return err
		}
		if err := tx.Bucket(bucketDead).Delete([]byte(id)); err != nil {
			return err
		}
		r.DeadAt, r.NextAt, r.Attempts, r.RefusedSince = time.Time{}, now, 0, time.Time{}
		return enqueueTx(tx, r)
	})
	if err == nil {
		q.Signal()
	}
	return wrap("redrive", err)
}

// ReleaseLeases implements store.Queue.
func (q *Queue) ReleaseLeases(ctx context.Context, holder string, now time.Time) (int, error) {
	n := 0
	err := q.db.Update(func(tx *bolt.Tx) error {
		n = 0
		var held []*record
		err := tx.Bucket(bucketQueue).ForEach(func(k, v []byte) error {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if r.Leased(holder, now) {
				held = append(held, &r)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range held {
			old := due(&r.Message)
			r.LeaseHolder, r.LeaseUntil = "", time.Time{}
			if r.NextAt.After(now) {
				r.NextAt = now
			}
			if err := moveTx(tx, r, old); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, wrap("release leases", err)
}

// Shift moves the times that measure a wait — each queued message's lease
// and the time of its next attempt — by d, for a wall clock that stepped
// by d and was noticed at now: after a step back of an hour (d = -1h), a
// lease of 30 seconds still ends 30 seconds after it was taken, not an hour
// and a half later, and a retry due in 10 seconds is tried in 10 seconds.
// Only times set before the step move (Stepped tells them apart); when a
// message was made and what was delivered are facts, and are not moved.
func (q *Queue) Shift(ctx context.Context, d time.Duration, now time.Time) (int, error) {
	type move struct {
		r   *record
		old time.Time // its due time before the move
	}
	n := 0
	err := q.db.Update(func(tx *bolt.Tx) error {
		var moves []move
		err := tx.Bucket(bucketQueue).ForEach(func(k, v []byte) error {
			r := &record{}
			if err := json.Unmarshal(v, r); err != nil {
				return err
			}
			lease, next := store.Stepped(r.LeaseUntil, d, now), store.Stepped(r.NextAt, d, now)
			if !lease && !next {
				return nil
			}
			m := move{r, due(&r.Message)}
			if lease {
				r.LeaseUntil = r.LeaseUntil.Add(d)
			}
			if next {
				r.NextAt = r.NextAt.Add(d)
			}
			moves = append(moves, m)
			return nil
		})
		if err != nil {
			return err
		}
		for _, m := range moves {
			if err := moveTx(tx, m.r, m.old); err != nil {
				return err
			}
		}
		n = len(moves)
		return nil
	})
	return n, wrap("shift", err)
}

// Message implements store.Queue.
func (q *Queue) Message(ctx context.Context, id string) (*store.Message, error) {
	var m *store.Message
	err := q.db.View(func(tx *bolt.Tx) error {
		r, err := getRecord(tx, bucketQueue, id)
		if questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND {
			r, err = getRecord(tx, bucketDead, id)
		}
		if err != nil {
			return err
		}
		m, err = q.open(tx, r)
		return err
	})
	return m, wrap("message", err)
}

// Messages implements store.Queue.
func (q *Queue) Messages(ctx context.Context, dead bool, limit int) ([]*store.Message, error) {
	bucket := bucketQueue
	if dead {
		bucket = bucketDead
	}
	var out []*store.Message
	err := q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			m := r.Message
			out = append(out, &m)
		}
		return nil
	})
	return out, wrap("messages", err)
}

// Unsettled implements store.Queue.
func (q *Queue) Unsettled(ctx context.Context, limit int) ([]store.Delivery, error) {
	var out []store.Delivery
	err := q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketUnsettled).Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			var d store.Delivery
			if raw := tx.Bucket(bucketTombstones).Get(k); raw != nil && json.Unmarshal(raw, &d) == nil {
				d.ID = string(k)
				out = append(out, d)
			}
		}
		return nil
	})
	return out, wrap("unsettled", err)
}

// Settle implements store.Queue.
func (q *Queue) Settle(ctx context.Context, id string) error {
	return wrap("settle", q.group.do(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketUnsettled).Delete([]byte(id)); err != nil {
			return err
		}
		raw := tx.Bucket(bucketTombstones).Get([]byte(id))
		if raw == nil {
			return nil
		}
		var d store.Delivery
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		d.Unsettled = false
		return putJSON(tx, bucketTombstones, []byte(id), d)
	}))
}

// Stats implements store.Queue.
func (q *Queue) Stats(ctx context.Context, now time.Time) (store.OutboxStats, error) {
	st := store.OutboxStats{ByDestination: map[string]int{}}
	err := q.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketQueue)
		st.Dead = tx.Bucket(bucketDead).Stats().KeyN
		st.Delivered = tx.Bucket(bucketTombstones).Stats().KeyN
		return b.ForEach(func(k, v []byte) error {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			st.Depth++
			st.ByDestination[r.Destination]++
			if age := now.Sub(r.CreatedAt); age > st.OldestAge {
				st.OldestAge = age
			}
			if r.LeaseUntil.After(now) {
				st.Leased++
			}
			return nil
		})
	})
	return st, wrap("stats", err)
}

// KeyInUse implements store.Queue.
func (q *Queue) KeyInUse(ctx context.Context, kid string) (bool, error) {
	used, err := q.KeysInUse(ctx)
	return used[kid] > 0, err
}

// KeysInUse counts the undelivered messages (waiting, pending or dead)
// that each key signed.
func (q *Queue) KeysInUse(ctx context.Context) (map[string]int, error) {
	kids := map[string]int{}
	needle := []byte(`"kid":"`)
	err := q.db.View(func(tx *bolt.Tx) error {
		for _, bucket := range [][]byte{bucketQueue, bucketDead, bucketPending} {
			err := tx.Bucket(bucket).ForEach(func(k, v []byte) error {
				if _, rest, ok := bytes.Cut(v, needle); ok {
					if kid, _, ok := bytes.Cut(rest, []byte(`"`)); ok {
						kids[string(kid)]++
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return kids, wrap("keys in use", err)
}

// PurgeTombstones implements store.Queue.
func (q *Queue) PurgeTombstones(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := q.db.Update(func(tx *bolt.Tx) error {
		n = 0
		c := tx.Bucket(bucketTombstones).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var d store.Delivery
			if json.Unmarshal(v, &d) != nil || now.Sub(d.At) > store.TombstoneTTL {
				if err := tx.Bucket(bucketUnsettled).Delete(k); err != nil {
					return err
				}
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, wrap("purge tombstones", err)
}

// Enqueued implements store.Queue.
func (q *Queue) Enqueued() <-chan struct{} { return q.enqueued }

// Signal wakes a waiting receiver; it never blocks.
func (q *Queue) Signal() {
	select {
	case q.enqueued <- struct{}{}:
	default:
	}
}

// Prepare implements store.Pending.
func (q *Queue) Prepare(ctx context.Context, m *store.Message) error {
	// Recover goes by when the message was written, not by the request's
	// clock, and never touches one this process is still deciding.
	m.PreparedAt = time.Now()
	r, err := q.seal(m)
	if err != nil {
		return wrap("prepare", err)
	}
	q.inflight.Store(m.ID, true)
	err = q.group.do(func(tx *bolt.Tx) error { return putRecord(tx, bucketPending, r) })
	if err != nil {
		q.inflight.Delete(m.ID)
	}
	return wrap("prepare", err)
}

// Confirm implements store.Pending. Confirming twice is not an error;
// confirming a message that is nowhere is.
func (q *Queue) Confirm(ctx context.Context, id string) error {
	defer q.inflight.Delete(id)
	err := q.group.do(func(tx *bolt.Tx) error {
		r, err := getRecord(tx, bucketPending, id)
		if questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND {
			for _, b := range [][]byte{bucketQueue, bucketDead, bucketTombstones} {
				if tx.Bucket(b).Get([]byte(id)) != nil {
					return nil // confirmed already
				}
			}
			return fmt.Errorf("message %s is neither prepared nor queued", id)
		} else if err != nil {
			return err
		}
		if err := tx.Bucket(bucketPending).Delete([]byte(id)); err != nil {
			return err
		}
		return enqueueTx(tx, r)
	})
	if err == nil {
		q.Signal()
	}
	return wrap("confirm", err)
}

// Discard implements store.Pending.
func (q *Queue) Discard(ctx context.Context, id string) error {
	defer q.inflight.Delete(id)
	return wrap("discard", q.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketPending).Get([]byte(id)) == nil {
			return nil // confirmed meanwhile, or discarded already: its body stays with it
		}
		if err := tx.Bucket(bucketBodies).Delete([]byte(id)); err != nil {
			return err
		}
		return tx.Bucket(bucketPending).Delete([]byte(id))
	}))
}

// Release implements store.Pending.
func (q *Queue) Release(id string) { q.inflight.Delete(id) }

// Recover settles messages prepared before `before` and not being decided
// by this process (a crash, or a store that failed mid-answer): confirmed
// when decide says the sender committed with them, discarded when not.
// Younger ones may still be in a transaction.
func (q *Queue) Recover(ctx context.Context, before time.Time, decide func(context.Context, *store.Message) (bool, error)) (confirmed, discarded int, err error) {
	var todo []store.Message
	err = q.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPending).ForEach(func(k, v []byte) error {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if _, busy := q.inflight.Load(r.ID); r.PreparedAt.Before(before) && !busy {
				todo = append(todo, r.Message)
			}
			return nil
		})
	})
	if err != nil {
		return 0, 0, wrap("recover", err)
	}
	var errs []error
	for i := range todo {
		m := &todo[i]
		ok, err := decide(ctx, m)
		if err == nil && ok {
			if err = q.Confirm(ctx, m.ID); err == nil {
				confirmed++
			}
		} else if err == nil {
			if err = q.Discard(ctx, m.ID); err == nil {
				discarded++
			}
		}
		if err != nil {
			// One that cannot be settled now does not hold up the others.
			errs = append(errs, fmt.Errorf("message %s: %w", m.ID, err))
		}
	}
	return confirmed, discarded, errors.Join(errs...)
}

// Pending returns how many messages are prepared and not yet settled.
func (q *Queue) Pending() (int, error) {
	n := 0
	err := q.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketPending).Stats().KeyN
		return nil
	})
	return n, err
}
