package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"eprom/questionnaire"
	"eprom/store"

	goredis "github.com/redis/go-redis/v9"
)

// touchEvery is how stale a session's SeenAt may get before it is written.
const touchEvery = time.Minute

// StartSession implements store.Patients.
func (s *Store) StartSession(ctx context.Context, sess *store.Session, now time.Time) (*questionnaire.Order, error) {
	return s.startSession(ctx, "start session", sess, now)
}

// OpenSession implements store.Patients.
func (s *Store) OpenSession(ctx context.Context, sess *store.Session, now time.Time) (*questionnaire.Order, error) {
	open := *sess
	open.Pending = false
	o, err := s.startSession(ctx, "open session", &open, now)
	if err == nil {
		sess.Pending = false
	}
	return o, err
}

// startSession stores a session of an open order and, unless the session
// is pending, opens the order.
func (s *Store) startSession(ctx context.Context, op string, sess *store.Session, now time.Time) (*questionnaire.Order, error) {
	var o *questionnaire.Order
	err := s.transact(ctx, op, func(tx *goredis.Tx) error {
		var err error
		if o, err = s.getOrder(ctx, tx, sess.OrderID); err != nil {
			return err
		}
		if o.Expired(now) || !o.Status.Open() {
			return questionnaire.Errorf(questionnaire.ECONFLICT, "order %s is closed", o.ID)
		}
		if sess.Pending {
			_, err := tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
				return p.Set(ctx, s.sessionKey(sess.ID), mustJSON(sess), store.IdleTimeout).Err()
			})
			return err
		}
		o.Open(now)
		d, err := s.getDraft(ctx, tx, o.ID)
		if err != nil {
			return err
		}
		d.Start(o)
		d.AddEvent(questionnaire.Event{Type: questionnaire.EventOpened, At: now})
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, s.orderKey(o.ID), s.sealedOrder(o), ttl(o, now))
			p.Set(ctx, s.draftKey(o.ID), s.sealedDraft(o.ID, d), ttl(o, now))
			p.Set(ctx, s.sessionKey(sess.ID), mustJSON(sess), store.IdleTimeout)
			return nil
		})
		return err
	}, s.orderKey(sess.OrderID), s.draftKey(sess.OrderID))
	return o, err
}

// Session implements store.Patients. Redis forgets an idle session by its
// TTL; a touch renews it.
func (s *Store) Session(ctx context.Context, id string, now time.Time) (*store.Session, error) {
	sess, err := getJSON[store.Session](ctx, s.rdb, s.sessionKey(id))
	if errors.Is(err, goredis.Nil) {
		return nil, questionnaire.Errorf(questionnaire.ENOTFOUND, "no session, or it has been idle too long")
	} else if err != nil {
		return nil, s.fail("session", err)
	}
	if now.Sub(sess.SeenAt) >= store.IdleTimeout {
		return nil, questionnaire.Errorf(questionnaire.ENOTFOUND, "no session, or it has been idle too long")
	}
	sess.ID = id
	if now.Sub(sess.SeenAt) >= touchEvery {
		sess.SeenAt = now
		if err := s.rdb.Set(ctx, s.sessionKey(id), mustJSON(sess), store.IdleTimeout).Err(); err != nil {
			return nil, s.fail("touch session", err)
		}
	}
	return sess, nil
}

// EndSession implements store.Patients.
func (s *Store) EndSession(ctx context.Context, id string) error {
	return s.fail("end session", s.rdb.Del(ctx, s.sessionKey(id)).Err())
}

// PurgeSessions implements store.Patients; Redis expires sessions itself.
func (s *Store) PurgeSessions(ctx context.Context, now time.Time) (int, error) { return 0, nil }

// Draft implements store.Patients.
func (s *Store) Draft(ctx context.Context, orderID string) (*questionnaire.Draft, error) {
	d, err := s.getDraft(ctx, s.rdb, orderID)
	return d, s.fail("draft", err)
}

// UpdateDraft implements store.Patients.
func (s *Store) UpdateDraft(ctx context.Context, orderID string, now time.Time, fn func(*questionnaire.Draft) error) (*questionnaire.Order, *questionnaire.Draft, error) {
	var (
		o *questionnaire.Order
		d *questionnaire.Draft
	)
	err := s.transact(ctx, "update draft", func(tx *goredis.Tx) error {
		var err error
		if o, err = s.getOrder(ctx, tx, orderID); err != nil {
			return err
		}
		if o.Expired(now) || !o.Status.Open() {
			return questionnaire.Errorf(questionnaire.ECONFLICT, "order %s is closed", o.ID)
		}
		if d, err = s.getDraft(ctx, tx, orderID); err != nil {
			return err
		}
		if err := fn(d); err != nil {
			return err
		}
		d.UpdatedAt = now
		progress := o.Status != questionnaire.StatusInProgress
		if progress {
			o.Progress(now)
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, s.draftKey(orderID), s.sealedDraft(orderID, d), ttl(o, now))
			if progress {
				p.Set(ctx, s.orderKey(orderID), s.sealedOrder(o), ttl(o, now))
			}
			return nil
		})
		return err
	}, s.orderKey(orderID), s.draftKey(orderID))
	if err != nil {
		return nil, nil, err
	}
	return o, d, nil
}

// reserveScript reserves a failure: it forgets those older than the
// window, and adds one unless there are limit of them; it answers 1, or 0
// and the oldest failure's time.
var reserveScript = goredis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, oldest[2]}
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {1, ARGV[2]}
`)

// releaseScript removes one failure recorded at a time.
var releaseScript = goredis.NewScript(`
local m = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1], 'LIMIT', 0, 1)
if m[1] then redis.call('ZREM', KEYS[1], m[1]) end
return 1
`)

// Times in the failure sets are Unix microseconds: a double holds them
// exactly for the next few centuries.
func micros(t time.Time) int64 { return t.UnixMicro() }

// Reserve implements store.Limits.
func (s *Store) Reserve(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (bool, time.Time, error) {
	member := fmt.Sprintf("%d-%x", micros(now), rand.Uint64())
	res, err := reserveScript.Run(ctx, s.rdb, []string{s.limitKey(key)},
		micros(now.Add(-window)), micros(now), limit, member, window.Milliseconds()).Slice()
	if err != nil {
		return false, time.Time{}, s.fail("reserve", err)
	}
	if ok, _ := res[0].(int64); ok == 1 {
		return true, time.Time{}, nil
	}
	var oldest int64
	switch v := res[1].(type) {
	case string:
		fmt.Sscan(v, &oldest)
	case int64:
		oldest = v
	}
	return false, time.UnixMicro(oldest), nil
}

// Release implements store.Limits.
func (s *Store) Release(ctx context.Context, key string, at time.Time) error {
	return s.fail("release", releaseScript.Run(ctx, s.rdb, []string{s.limitKey(key)}, micros(at)).Err())
}

// PurgeLimits implements store.Limits; Redis expires failure sets itself.
func (s *Store) PurgeLimits(ctx context.Context, before time.Time) (int, error) { return 0, nil }
