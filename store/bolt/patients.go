package bolt

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
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
	_ store.Limits   = (*Store)(nil)
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
	err := s.db.Update(func(tx *bolt.Tx) error {
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
		err := s.db.Update(func(tx *bolt.Tx) error {
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
	return wrap("end session", s.db.Update(func(tx *bolt.Tx) error {
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
	err := s.db.Update(func(tx *bolt.Tx) error {
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

// Submit implements store.Patients. Concurrent submits are committed
// together (bbolt's Batch), so they share one fsync; never NoSync.
func (s *Store) Submit(ctx context.Context, r *questionnaire.Response, now time.Time) (*questionnaire.Order, error) {
	var o *questionnaire.Order
	// Batch may run the function more than once: it starts from the
	// stored state every time.
	err := s.db.Batch(func(tx *bolt.Tx) error {
		var err error
		if o, err = getOrder(tx, r.OrderID); err != nil {
			return err
		}
		expiry := expiryKey(o)
		if r.Type == questionnaire.ResponseDeclined {
			err = o.Decline(now)
		} else {
			err = o.Submit(now)
		}
		if err != nil {
			return err
		}
		if err := s.enqueue(tx, o, r, nil, now); err != nil {
			return err
		}
		if err := tx.Bucket(bucketDrafts).Delete([]byte(o.ID)); err != nil {
			return err
		}
		return closeOrder(tx, o, expiry)
	})
	if err != nil {
		return nil, wrap("submit", err)
	}
	s.signal()
	return o, nil
}

// Reserve implements store.Limits.
func (s *Store) Reserve(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (bool, time.Time, error) {
	ok := false
	var oldest time.Time
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLimits)
		times := recentFailures(b.Get([]byte(key)), now.Add(-window))
		if len(times) >= limit {
			oldest = time.Unix(0, times[0])
			return nil
		}
		ok = true
		return b.Put([]byte(key), encodeTimes(append(times, now.UnixNano())))
	})
	return ok, oldest, wrap("reserve", err)
}

// Release implements store.Limits.
func (s *Store) Release(ctx context.Context, key string, at time.Time) error {
	return wrap("release", s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLimits)
		times := recentFailures(b.Get([]byte(key)), time.Time{})
		for i := len(times) - 1; i >= 0; i-- {
			if times[i] == at.UnixNano() {
				times = append(times[:i], times[i+1:]...)
				break
			}
		}
		if len(times) == 0 {
			return b.Delete([]byte(key))
		}
		return b.Put([]byte(key), encodeTimes(times))
	}))
}

// PurgeLimits implements store.Limits.
func (s *Store) PurgeLimits(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLimits).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(recentFailures(v, before)) == 0 {
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, wrap("purge limits", err)
}

func encodeTimes(times []int64) []byte {
	raw := make([]byte, 8*len(times))
	for i, t := range times {
		binary.BigEndian.PutUint64(raw[8*i:], uint64(t))
	}
	return raw
}

// recentFailures decodes failure times and keeps those after since.
func recentFailures(raw []byte, since time.Time) []int64 {
	var out []int64
	for i := 0; i+8 <= len(raw); i += 8 {
		if t := int64(binary.BigEndian.Uint64(raw[i:])); t > since.UnixNano() {
			out = append(out, t)
		}
	}
	return out
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

func putJSON(tx *bolt.Tx, bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put(key, raw)
}
