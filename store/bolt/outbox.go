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
	bucketOutbox     = []byte("outbox")     // envelope id → Submission JSON, while undelivered
	bucketOutboxDue  = []byte("outbox-due") // due (8 bytes, Unix ns) + id → nothing: the queue in time order
	bucketDead       = []byte("dead")       // envelope id → Submission JSON
	bucketTombstones = []byte("tombstones") // envelope id → tombstone JSON
)

var _ store.Outbox = (*Store)(nil)

// tombstone is what remains of a delivered envelope.
type tombstone struct {
	OrderID     string    `json:"order"`
	DeliveredAt time.Time `json:"deliveredAt"`
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
	if s.signer == nil {
		return fmt.Errorf("no signer: cannot enqueue the envelope of order %s", o.ID)
	}
	id := uuid.Must(uuid.NewV7()).String()
	env := questionnaire.NewEnvelope(id, o, r, events)
	payload, err := json.Marshal(env)
	if err != nil {
		return err
	}
	jws, kid, err := s.signer.Sign(payload)
	if err != nil {
		return err
	}
	sub := &store.Submission{ID: id, OrderID: o.ID, Type: env.Type, KeyID: kid, JWS: jws, CreatedAt: now, NextAt: now}
	o.SubmissionID = id
	if err := putJSON(tx, bucketOutbox, []byte(id), sub); err != nil {
		return err
	}
	return tx.Bucket(bucketOutboxDue).Put(dueKey(now, id), nil)
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
	err := s.db.Update(func(tx *bolt.Tx) error {
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
	return wrap("ack", s.db.Update(func(tx *bolt.Tx) error {
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
		if err := putJSON(tx, bucketTombstones, []byte(id), tombstone{OrderID: sub.OrderID, DeliveredAt: now}); err != nil {
			return err
		}
		o, err := getOrder(tx, sub.OrderID)
		if err != nil {
			return err
		}
		o.DeliveredAt, o.UpdatedAt = &now, now
		if o.Status == questionnaire.StatusSubmitted {
			o.Status = questionnaire.StatusDelivered
		}
		return putOrder(tx, o)
	}))
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
