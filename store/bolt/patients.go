package bolt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"time"

	"eprom/questionnaire"
	"eprom/store"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketSessions = []byte("sessions") // SHA-256 of the session id → Session JSON
	bucketDrafts   = []byte("drafts")   // order id → Draft JSON
	bucketLimits   = []byte("limits")   // key → failure times, Unix ns, 8 bytes each
)

var (
	_ store.Patients = (*Store)(nil)
)

// touchEvery is how stale a session's SeenAt may get before a request
// writes it again; it keeps page views from costing a write each.
const touchEvery = time.Minute

func sessionKey(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// StartSession implements store.Patients.
func (s *Store) StartSession(ctx context.Context, sess *store.Session, now time.Time) (*questionnaire.Order, error) {
	var o *questionnaire.Order
	err := s.db.Batch(func(tx *bolt.Tx) error {
		var err error
		if o, err = getOrder(tx, sess.OrderID); err != nil {
			return err
		}
		if o.Expired(now) || !o.Status.Open() {
			return questionnaire.Errorf(questionnaire.ECONFLICT, "order %s is closed", o.ID)
		}
		o.Open(now)
		d, err := getDraft(tx, o.ID)
		if err != nil {
			return err
		}
		d.AddEvent(questionnaire.Event{Type: questionnaire.EventOpened, At: now})
		if err := putJSON(tx, bucketDrafts, []byte(o.ID), d); err != nil {
			return err
		}
		if err := putOrder(tx, o); err != nil {
			return err
		}
		return putJSON(tx, bucketSessions, sessionKey(sess.ID), sess)
	})
	return o, wrap("start session", err)
}

// Session implements store.Patients.
func (s *Store) Session(ctx context.Context, id string, now time.Time) (*store.Session, error) {
	var sess store.Session
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketSessions).Get(sessionKey(id))
		if raw == nil {
			return nil
		}
		found = true
		return json.Unmarshal(raw, &sess)
	})
	if err != nil {
		return nil, wrap("session", err)
	}
	if !found || now.Sub(sess.SeenAt) >= store.IdleTimeout {
		return nil, questionnaire.Errorf(questionnaire.ENOTFOUND, "no session, or it has been idle too long")
	}
	sess.ID = id
	if now.Sub(sess.SeenAt) >= touchEvery {
		sess.SeenAt = now
		err := s.db.Batch(func(tx *bolt.Tx) error {
			return putJSON(tx, bucketSessions, sessionKey(id), &sess)
		})
		if err != nil {
			return nil, wrap("touch session", err)
		}
	}
	return &sess, nil
}

// EndSession implements store.Patients.
func (s *Store) EndSession(ctx context.Context, id string) error {
	return wrap("end session", s.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).Delete(sessionKey(id))
	}))
}

// PurgeSessions implements store.Patients.
func (s *Store) PurgeSessions(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSessions).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var sess store.Session
			if json.Unmarshal(v, &sess) != nil || now.Sub(sess.SeenAt) >= store.IdleTimeout {
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, wrap("purge sessions", err)
}

// Draft implements store.Patients.
func (s *Store) Draft(ctx context.Context, orderID string) (*questionnaire.Draft, error) {
	var d *questionnaire.Draft
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		d, err = getDraft(tx, orderID)
		return err
	})
	return d, wrap("draft", err)
}

// UpdateDraft implements store.Patients.
func (s *Store) UpdateDraft(ctx context.Context, orderID string, now time.Time, fn func(*questionnaire.Draft) error) (*questionnaire.Order, *questionnaire.Draft, error) {
	var (
		o *questionnaire.Order
		d *questionnaire.Draft
	)
	err := s.db.Batch(func(tx *bolt.Tx) error {
		var err error
		if o, err = getOrder(tx, orderID); err != nil {
			return err
		}
		if o.Expired(now) || !o.Status.Open() {
			return questionnaire.Errorf(questionnaire.ECONFLICT, "order %s is closed", o.ID)
		}
		if d, err = getDraft(tx, orderID); err != nil {
			return err
		}
		if err := fn(d); err != nil {
			return err
		}
		if o.Status != questionnaire.StatusInProgress {
			o.Progress(now)
			if err := putOrder(tx, o); err != nil {
				return err
			}
		}
		d.UpdatedAt = now
		return putJSON(tx, bucketDrafts, []byte(orderID), d)
	})
	if err != nil {
		return nil, nil, wrap("update draft", err)
	}
	return o, d, nil
}

// errStale says the order changed between reading it and writing.
var errStale = errors.New("the order changed meanwhile")

// Submit implements store.Patients. The envelope is signed outside the
// transaction, from the order as read, so that the writer's lock is held
// only for the writes; the transaction checks the order did not change
// meanwhile, or starts again. Concurrent submits are committed together
// (bbolt's Batch), so they share one fsync; never NoSync.
func (s *Store) Submit(ctx context.Context, r *questionnaire.Response, now time.Time) (*questionnaire.Order, error) {
	close := func(o *questionnaire.Order) error {
		if r.Type == questionnaire.ResponseDeclined {
			return o.Decline(now)
		}
		return o.Submit(now)
	}
	id := []byte(r.OrderID)
	for range 10 {
		var raw []byte
		err := s.db.View(func(tx *bolt.Tx) error {
			if v := tx.Bucket(bucketOrders).Get(id); v != nil {
				raw = bytes.Clone(v)
			}
			return nil
		})
		if err != nil {
			return nil, wrap("submit", err)
		}
		if raw == nil {
			return nil, questionnaire.Errorf(questionnaire.ENOTFOUND, "no order %q", r.OrderID)
		}
		var closed questionnaire.Order
		if err := json.Unmarshal(raw, &closed); err != nil {
			return nil, wrap("submit", err)
		}
		expiry := expiryKey(&closed)
		if err := close(&closed); err != nil {
			return nil, err
		}
		sub, err := s.sign(&closed, r, nil, now)
		if err != nil {
			return nil, wrap("submit", err)
		}
		closed.SubmissionID = sub.ID
		// Everything is encoded before the transaction, which only checks
		// the order is as read and writes.
		orderJSON, subJSON := mustJSON(&closed), mustJSON(sub)
		// Batch may run the function more than once: it checks the stored
		// state every time.
		err = s.db.Batch(func(tx *bolt.Tx) error {
			if !bytes.Equal(tx.Bucket(bucketOrders).Get(id), raw) {
				return errStale
			}
			for _, op := range []struct {
				bucket, key, value []byte
			}{
				{bucketOutbox, []byte(sub.ID), subJSON},
				{bucketOutboxDue, dueKey(now, sub.ID), nil},
				{bucketOrders, id, orderJSON},
			} {
				if err := tx.Bucket(op.bucket).Put(op.key, op.value); err != nil {
					return err
				}
			}
			for _, op := range [][2][]byte{{bucketDrafts, id}, {bucketSealed, id}, {bucketExpiry, expiry}} {
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
			return nil, wrap("submit", err)
		}
		s.signal()
		return &closed, nil
	}
	return nil, questionnaire.Errorf(questionnaire.ECONFLICT, "order %s changes too often to submit; try again", r.OrderID)
}

func getDraft(tx *bolt.Tx, orderID string) (*questionnaire.Draft, error) {
	d := &questionnaire.Draft{Answers: map[string][]string{}}
	raw := tx.Bucket(bucketDrafts).Get([]byte(orderID))
	if raw == nil {
		return d, nil
	}
	if err := json.Unmarshal(raw, d); err != nil {
		return nil, err
	}
	if d.Answers == nil {
		d.Answers = map[string][]string{}
	}
	return d, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only types of ours, which always encode
	}
	return b
}

func putJSON(tx *bolt.Tx, bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put(key, raw)
}
