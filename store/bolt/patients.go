package bolt

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"eprom/questionnaire"
	"eprom/store"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketSessions = []byte("sessions") // SHA-256 of the session id → Session JSON
	bucketDrafts   = []byte("drafts")   // order id → sealed Draft JSON
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
	o, err := s.startSession(sess, now)
	return o, wrap("start session", err)
}

// OpenSession implements store.Patients.
func (s *Store) OpenSession(ctx context.Context, sess *store.Session, now time.Time) (*questionnaire.Order, error) {
	open := *sess
	open.Pending = false
	o, err := s.startSession(&open, now)
	if err == nil {
		sess.Pending = false
	}
	return o, wrap("open session", err)
}

// startSession stores a session of an open order and, unless the session
// is pending, opens the order.
func (s *Store) startSession(sess *store.Session, now time.Time) (*questionnaire.Order, error) {
	var o *questionnaire.Order
	err := s.group.do(func(tx *bolt.Tx) error {
		var err error
		if o, err = s.getOrder(tx, sess.OrderID); err != nil {
			return err
		}
		if o.Expired(now) || !o.Status.Open() {
			return questionnaire.Errorf(questionnaire.ECONFLICT, "order %s is closed", o.ID)
		}
		if !sess.Pending {
			o.Open(now)
			d, err := s.getDraft(tx, o.ID)
			if err != nil {
				return err
			}
			d.Start(o)
			d.AddEvent(questionnaire.Event{Type: questionnaire.EventOpened, At: now})
			if err := s.putDraft(tx, o.ID, d); err != nil {
				return err
			}
			if err := s.putOrder(tx, o); err != nil {
				return err
			}
		}
		return putJSON(tx, bucketSessions, sessionKey(sess.ID), sess)
	})
	return o, err
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
		key := string(sessionKey(id)) // the hash, as stored: no session id is kept in memory
		if kept, ok := s.sessions.get(key, raw); ok {
			sess = kept
			return nil
		}
		if err := json.Unmarshal(raw, &sess); err != nil {
			return err
		}
		s.sessions.put(key, raw, sess)
		return nil
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
		err := s.group.do(func(tx *bolt.Tx) error {
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
	return wrap("end session", s.group.do(func(tx *bolt.Tx) error {
		s.sessions.drop(string(sessionKey(id)))
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
				s.sessions.drop(string(k))
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
		d, err = s.getDraft(tx, orderID)
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
	err := s.group.do(func(tx *bolt.Tx) error {
		var err error
		if o, err = s.getOrder(tx, orderID); err != nil {
			return err
		}
		if o.Expired(now) || !o.Status.Open() {
			return questionnaire.Errorf(questionnaire.ECONFLICT, "order %s is closed", o.ID)
		}
		if d, err = s.getDraft(tx, orderID); err != nil {
			return err
		}
		if err := fn(d); err != nil {
			return err
		}
		if o.Status != questionnaire.StatusInProgress {
			o.Progress(now)
			if err := s.putOrder(tx, o); err != nil {
				return err
			}
		}
		d.UpdatedAt = now
		return s.putDraft(tx, orderID, d)
	})
	if err != nil {
		return nil, nil, wrap("update draft", err)
	}
	return o, d, nil
}

func (s *Store) getDraft(tx *bolt.Tx, orderID string) (*questionnaire.Draft, error) {
	return s.openDraft(orderID, tx.Bucket(bucketDrafts).Get([]byte(orderID)), true)
}

// openDraft opens a sealed draft, or finds it decoded; nil is an empty
// draft. keep keeps it decoded for the next read.
func (s *Store) openDraft(orderID string, sealed []byte, keep bool) (*questionnaire.Draft, error) {
	d := &questionnaire.Draft{Answers: map[string][]string{}}
	if sealed == nil {
		return d, nil
	}
	if d, ok := s.drafts.get(orderID, sealed); ok {
		return d, nil
	}
	raw, err := s.secrets.Drafts.Open(orderID, sealed)
	if err != nil {
		return nil, fmt.Errorf("draft of %s: %w", orderID, err)
	}
	if err := json.Unmarshal(raw, d); err != nil {
		return nil, fmt.Errorf("decode draft of %s: %w", orderID, err)
	}
	if d.Answers == nil {
		d.Answers = map[string][]string{}
	}
	if keep {
		s.drafts.put(orderID, sealed, d)
	}
	return d, nil
}

func (s *Store) putDraft(tx *bolt.Tx, orderID string, d *questionnaire.Draft) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	sealed := s.secrets.Drafts.Seal(orderID, raw)
	s.drafts.put(orderID, sealed, d) // the next read finds it decoded, once this commits
	return tx.Bucket(bucketDrafts).Put([]byte(orderID), sealed)
}

func putJSON(tx *bolt.Tx, bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put(key, raw)
}
