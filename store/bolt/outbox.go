package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"eprom/questionnaire"
	"eprom/store"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketOutbox     = []byte("outbox")         // envelope id → Submission JSON, while undelivered
	bucketOutboxDue  = []byte("outbox-due")     // due (8 bytes, Unix ns) + id → nothing: the queue in time order
	bucketDead       = []byte("dead")           // envelope id → Submission JSON
	bucketTombstones = []byte("tombstones")     // envelope id → tombstone JSON
	bucketPending    = []byte("outbox-pending") // envelope id → Submission JSON, signed but not yet confirmed
)

var _ store.Outbox = (*Store)(nil)

// tombstone is what remains of a delivered envelope.
type tombstone struct {
	OrderID     string    `json:"order"`
	DeliveredAt time.Time `json:"deliveredAt"`
	Unreported  bool      `json:"unreported,omitempty"` // the order elsewhere is not yet marked delivered
}

// due is when an envelope may next be leased.
func due(s *store.Submission) time.Time {
	if s.LeaseUntil.After(s.NextAt) {
		return s.LeaseUntil
	}
	return s.NextAt
}

func dueKey(at time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(at.UnixNano()))
	return append(k, id...)
}

// enqueue signs the envelope of a closed order and puts it in the outbox,
// inside the caller's transaction.
func (s *Store) enqueue(tx *bolt.Tx, o *questionnaire.Order, r *questionnaire.Response, events []questionnaire.Event, now time.Time) error {
	sub, err := s.sign(o, r, events, now)
	if err != nil {
		return err
	}
	o.SubmissionID = sub.ID
	if err := putJSON(tx, bucketOutbox, []byte(sub.ID), sub); err != nil {
		return err
	}
	return tx.Bucket(bucketOutboxDue).Put(dueKey(now, sub.ID), nil)
}

// sign builds and signs the envelope of a closed order.
func (s *Store) sign(o *questionnaire.Order, r *questionnaire.Response, events []questionnaire.Event, now time.Time) (*store.Submission, error) {
	if s.signer == nil {
		return nil, fmt.Errorf("no signer: cannot sign the envelope of order %s", o.ID)
	}
	id := uuid.Must(uuid.NewV7()).String()
	env := questionnaire.NewEnvelope(id, o, r, events)
	payload, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	jws, kid, err := s.signer.Sign(payload)
	if err != nil {
		return nil, err
	}
	return &store.Submission{ID: id, OrderID: o.ID, Type: env.Type, KeyID: kid, JWS: jws, CreatedAt: now, NextAt: now}, nil
}

// Prepare implements store.Pending: the envelope of an order closing in
// another store (Redis) is signed and written to disk, not yet leasable.
// Its id must become the order's SubmissionID there before Confirm.
func (s *Store) Prepare(ctx context.Context, o *questionnaire.Order, r *questionnaire.Response, events []questionnaire.Event, now time.Time) (string, error) {
	sub, err := s.sign(o, r, events, now)
	if err != nil {
		return "", err
	}
	// Recover goes by when the envelope was written, not by the request's
	// clock, and never touches one this process is still closing.
	sub.PreparedAt = time.Now()
	s.inflight.Store(sub.ID, true)
	err = s.db.Batch(func(tx *bolt.Tx) error { return putJSON(tx, bucketPending, []byte(sub.ID), sub) })
	if err != nil {
		s.inflight.Delete(sub.ID)
	}
	return sub.ID, wrap("prepare", err)
}

// Confirm implements store.Pending: the order closed; the envelope joins
// the queue. Confirming twice is not an error; confirming an envelope that
// is nowhere is.
func (s *Store) Confirm(ctx context.Context, id string) error {
	defer s.inflight.Delete(id)
	err := s.db.Batch(func(tx *bolt.Tx) error {
		sub, err := getSubmission(tx, bucketPending, id)
		if questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND {
			for _, b := range [][]byte{bucketOutbox, bucketDead, bucketTombstones} {
				if tx.Bucket(b).Get([]byte(id)) != nil {
					return nil // confirmed already
				}
			}
			return fmt.Errorf("envelope %s is neither prepared nor queued", id)
		} else if err != nil {
			return err
		}
		if err := tx.Bucket(bucketPending).Delete([]byte(id)); err != nil {
			return err
		}
		if err := putJSON(tx, bucketOutbox, []byte(id), sub); err != nil {
			return err
		}
		return tx.Bucket(bucketOutboxDue).Put(dueKey(due(sub), id), nil)
	})
	if err == nil {
		s.signal()
	}
	return wrap("confirm", err)
}

// Discard implements store.Pending: the order did not close (another
// replica won); the envelope goes.
func (s *Store) Discard(ctx context.Context, id string) error {
	defer s.inflight.Delete(id)
	return wrap("discard", s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPending).Delete([]byte(id))
	}))
}

// Recover settles envelopes left prepared before `before` (a crash, or a
// store that failed mid-answer): confirmed if the order closed with them,
// discarded if not. Younger ones may still be in a transaction.
func (s *Store) Recover(ctx context.Context, before time.Time, closedWith func(ctx context.Context, orderID, submissionID string) (bool, error)) (confirmed, discarded int, err error) {
	var subs []store.Submission
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPending).ForEach(func(k, v []byte) error {
			var sub store.Submission
			if err := json.Unmarshal(v, &sub); err != nil {
				return err
			}
			if _, busy := s.inflight.Load(sub.ID); sub.PreparedAt.Before(before) && !busy {
				subs = append(subs, sub)
			}
			return nil
		})
	})
	if err != nil {
		return 0, 0, wrap("recover", err)
	}
	for _, sub := range subs {
		ok, err := closedWith(ctx, sub.OrderID, sub.ID)
		if err != nil {
			return confirmed, discarded, err
		}
		if ok {
			err, confirmed = s.Confirm(ctx, sub.ID), confirmed+1
		} else {
			err, discarded = s.Discard(ctx, sub.ID), discarded+1
		}
		if err != nil {
			return confirmed, discarded, err
		}
	}
	return confirmed, discarded, nil
}

// SetDelivered makes Ack report deliveries to fn instead of marking the
// order in this file: for orders kept in another store. A report that
// fails is not Ack's error; ReportDeliveries tries it again later.
func (s *Store) SetDelivered(fn func(ctx context.Context, orderID string, at time.Time) error) {
	s.delivered = fn
}

// ReportDeliveries reports again the deliveries whose report failed (the
// other store was down at the time). It returns how many it reported.
func (s *Store) ReportDeliveries(ctx context.Context) (int, error) {
	if s.delivered == nil {
		return 0, nil
	}
	type pending struct {
		id string
		t  tombstone
	}
	var todo []pending
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTombstones).ForEach(func(k, v []byte) error {
			var t tombstone
			if json.Unmarshal(v, &t) == nil && t.Unreported {
				todo = append(todo, pending{string(k), t})
			}
			return nil
		})
	})
	if err != nil {
		return 0, wrap("report deliveries", err)
	}
	n := 0
	for _, p := range todo {
		if err := s.delivered(ctx, p.t.OrderID, p.t.DeliveredAt); err != nil {
			return n, err
		}
		if err := s.markReported(p.id); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// markReported notes that a delivery's report went through.
func (s *Store) markReported(id string) error {
	return wrap("mark reported", s.db.Batch(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketTombstones).Get([]byte(id))
		if raw == nil {
			return nil
		}
		var t tombstone
		if err := json.Unmarshal(raw, &t); err != nil {
			return err
		}
		t.Unreported = false
		return putJSON(tx, bucketTombstones, []byte(id), t)
	}))
}

// Enqueued implements store.Outbox.
func (s *Store) Enqueued() <-chan struct{} { return s.enqueued }

// signal wakes a waiting worker; it never blocks.
func (s *Store) signal() {
	select {
	case s.enqueued <- struct{}{}:
	default:
	}
}

func getSubmission(tx *bolt.Tx, bucket []byte, id string) (*store.Submission, error) {
	raw := tx.Bucket(bucket).Get([]byte(id))
	if raw == nil {
		return nil, questionnaire.Errorf(questionnaire.ENOTFOUND, "no submission %q", id)
	}
	var sub store.Submission
	if err := json.Unmarshal(raw, &sub); err != nil {
		return nil, fmt.Errorf("decode submission %s: %w", id, err)
	}
	return &sub, nil
}

// move updates a queued submission, keeping the due index in step.
func moveInQueue(tx *bolt.Tx, sub *store.Submission, oldDue time.Time) error {
	if err := tx.Bucket(bucketOutboxDue).Delete(dueKey(oldDue, sub.ID)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketOutboxDue).Put(dueKey(due(sub), sub.ID), nil); err != nil {
		return err
	}
	return putJSON(tx, bucketOutbox, []byte(sub.ID), sub)
}

// removeFromQueue deletes a submission from the queue and its index.
func removeFromQueue(tx *bolt.Tx, sub *store.Submission) error {
	if err := tx.Bucket(bucketOutboxDue).Delete(dueKey(due(sub), sub.ID)); err != nil {
		return err
	}
	return tx.Bucket(bucketOutbox).Delete([]byte(sub.ID))
}

// Lease implements store.Outbox.
func (s *Store) Lease(ctx context.Context, holder string, n int, ttl time.Duration, now time.Time) ([]*store.Submission, error) {
	var out []*store.Submission
	err := s.db.Batch(func(tx *bolt.Tx) error {
		out = nil // Batch may run this again
		var ids []string
		c := tx.Bucket(bucketOutboxDue).Cursor()
		for k, _ := c.First(); k != nil && len(ids) < n; k, _ = c.Next() {
			if int64(binary.BigEndian.Uint64(k[:8])) > now.UnixNano() {
				break
			}
			ids = append(ids, string(k[8:]))
		}
		for _, id := range ids {
			sub, err := getSubmission(tx, bucketOutbox, id)
			if err != nil {
				return err
			}
			old := due(sub)
			sub.LeaseHolder, sub.LeaseUntil = holder, now.Add(ttl)
			if err := moveInQueue(tx, sub, old); err != nil {
				return err
			}
			out = append(out, sub)
		}
		return nil
	})
	if err != nil {
		return nil, wrap("lease", err)
	}
	return out, nil
}

// Ack implements store.Outbox.
func (s *Store) Ack(ctx context.Context, id string, now time.Time) error {
	deliveredOrder := ""
	err := s.db.Batch(func(tx *bolt.Tx) error {
		deliveredOrder = ""
		if tx.Bucket(bucketTombstones).Get([]byte(id)) != nil {
			return nil // delivered already
		}
		sub, err := getSubmission(tx, bucketOutbox, id)
		if err != nil {
			return err
		}
		if err := removeFromQueue(tx, sub); err != nil {
			return err
		}
		if err := putJSON(tx, bucketTombstones, []byte(id), tombstone{OrderID: sub.OrderID, DeliveredAt: now, Unreported: s.delivered != nil}); err != nil {
			return err
		}
		deliveredOrder = sub.OrderID
		if s.delivered != nil {
			return nil // the order lives elsewhere: reported after the commit
		}
		o, err := getOrder(tx, sub.OrderID)
		if err != nil {
			return err
		}
		o.Deliver(now)
		return putOrder(tx, o)
	})
	if err == nil && s.delivered != nil && deliveredOrder != "" {
		if s.delivered(ctx, deliveredOrder, now) == nil {
			s.markReported(id)
		}
	}
	return wrap("ack", err)
}

// ReleaseLeases implements store.Outbox.
func (s *Store) ReleaseLeases(ctx context.Context, holder string, now time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		var held []*store.Submission
		err := tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
			var sub store.Submission
			if err := json.Unmarshal(v, &sub); err != nil {
				return err
			}
			if sub.LeaseHolder == holder && sub.LeaseUntil.After(now) {
				held = append(held, &sub)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, sub := range held {
			old := due(sub)
			sub.LeaseHolder, sub.LeaseUntil = "", time.Time{}
			if sub.NextAt.After(now) {
				sub.NextAt = now
			}
			if err := moveInQueue(tx, sub, old); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, wrap("release leases", err)
}

// Retry implements store.Outbox.
func (s *Store) Retry(ctx context.Context, id string, at time.Time, lastErr string) error {
	return wrap("retry", s.db.Update(func(tx *bolt.Tx) error {
		sub, err := getSubmission(tx, bucketOutbox, id)
		if err != nil {
			return err
		}
		old := due(sub)
		sub.Attempts++
		sub.NextAt, sub.LastError = at, lastErr
		sub.LeaseHolder, sub.LeaseUntil = "", time.Time{}
		return moveInQueue(tx, sub, old)
	}))
}

// Dead implements store.Outbox.
func (s *Store) Dead(ctx context.Context, id, reason string, now time.Time) error {
	return wrap("dead", s.db.Update(func(tx *bolt.Tx) error {
		sub, err := getSubmission(tx, bucketOutbox, id)
		if err != nil {
			return err
		}
		if err := removeFromQueue(tx, sub); err != nil {
			return err
		}
		sub.Attempts++
		sub.LastError, sub.DeadAt = reason, now
		sub.LeaseHolder, sub.LeaseUntil = "", time.Time{}
		return putJSON(tx, bucketDead, []byte(id), sub)
	}))
}

// Redrive implements store.Outbox.
func (s *Store) Redrive(ctx context.Context, id string, now time.Time) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		sub, err := getSubmission(tx, bucketDead, id)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketDead).Delete([]byte(id)); err != nil {
			return err
		}
		sub.DeadAt, sub.NextAt, sub.Attempts = time.Time{}, now, 0
		if err := putJSON(tx, bucketOutbox, []byte(id), sub); err != nil {
			return err
		}
		return tx.Bucket(bucketOutboxDue).Put(dueKey(due(sub), id), nil)
	})
	if err == nil {
		s.signal()
	}
	return wrap("redrive", err)
}

// Submission implements store.Outbox.
func (s *Store) Submission(ctx context.Context, id string) (*store.Submission, error) {
	var sub *store.Submission
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if sub, err = getSubmission(tx, bucketOutbox, id); questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND {
			sub, err = getSubmission(tx, bucketDead, id)
		}
		return err
	})
	return sub, wrap("submission", err)
}

// Submissions implements store.Outbox.
func (s *Store) Submissions(ctx context.Context, dead bool, limit int) ([]*store.Submission, error) {
	bucket := bucketOutbox
	if dead {
		bucket = bucketDead
	}
	var out []*store.Submission
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			var sub store.Submission
			if err := json.Unmarshal(v, &sub); err != nil {
				return err
			}
			sub.JWS = ""
			out = append(out, &sub)
		}
		return nil
	})
	return out, wrap("submissions", err)
}

// Stats implements store.Outbox.
func (s *Store) Stats(ctx context.Context, now time.Time) (store.OutboxStats, error) {
	var st store.OutboxStats
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		st.Depth = b.Stats().KeyN
		st.Dead = tx.Bucket(bucketDead).Stats().KeyN
		st.Delivered = tx.Bucket(bucketTombstones).Stats().KeyN
		// UUIDv7 ids sort by time: the first is the oldest.
		first := true
		return b.ForEach(func(k, v []byte) error {
			var sub store.Submission
			if err := json.Unmarshal(v, &sub); err != nil {
				return err
			}
			if first {
				st.OldestAge, first = now.Sub(sub.CreatedAt), false
			}
			if sub.LeaseUntil.After(now) {
				st.Leased++
			}
			return nil
		})
	})
	return st, wrap("stats", err)
}

// KeyInUse implements store.Outbox.
func (s *Store) KeyInUse(ctx context.Context, kid string) (bool, error) {
	inUse := false
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, bucket := range [][]byte{bucketOutbox, bucketDead} {
			err := tx.Bucket(bucket).ForEach(func(k, v []byte) error {
				if bytes.Contains(v, []byte(`"kid":"`+kid+`"`)) {
					inUse = true
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return inUse, wrap("key in use", err)
}

// PurgeTombstones implements store.Outbox.
func (s *Store) PurgeTombstones(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketTombstones).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var t tombstone
			if json.Unmarshal(v, &t) != nil || now.Sub(t.DeliveredAt) > store.TombstoneTTL {
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
