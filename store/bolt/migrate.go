package bolt

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"eprom/store"

	bolt "go.etcd.io/bbolt"
)

// The file's format: 2 is sealed records, clients and the general queue.
// A file without a format key is from before (format 1): Open migrates it.
var (
	bucketMeta = []byte("meta")
	keyFormat  = []byte("format")
	format     = []byte("2")
	// keyCompact is set by the migration and deleted once the file is
	// compacted: a compaction cut short is done at the next open.
	keyCompact = []byte("compact")
)

// The buckets of format 1, dropped by the migration.
var (
	v1Outbox     = []byte("outbox")
	v1OutboxDue  = []byte("outbox-due")
	v1Dead       = []byte("dead")
	v1Tombstones = []byte("tombstones")
	v1Pending    = []byte("outbox-pending")
	v1Limits     = []byte("limits")
)

// v1Submission is an envelope in the outbox of format 1.
type v1Submission struct {
	ID          string    `json:"id"`
	OrderID     string    `json:"orderId"`
	Type        string    `json:"type"`
	KeyID       string    `json:"kid"`
	JWS         string    `json:"jws"`
	CreatedAt   time.Time `json:"createdAt"`
	Attempts    int       `json:"attempts"`
	NextAt      time.Time `json:"nextAt"`
	LeaseHolder string    `json:"leaseHolder"`
	LeaseUntil  time.Time `json:"leaseUntil"`
	LastError   string    `json:"lastError"`
	DeadAt      time.Time `json:"deadAt"`
	PreparedAt  time.Time `json:"preparedAt"`
}

// message is the same envelope as a message of the general queue, for the
// one client of format 1.
func (v *v1Submission) message() store.Message {
	holder := v.LeaseHolder
	if holder == "pull" {
		holder = "pull:" + store.DefaultClient
	}
	return store.Message{ID: v.ID, Kind: store.KindEnvelope, Destination: store.DefaultClient, Ref: v.OrderID, Label: v.Type,
		KeyID: v.KeyID, Body: []byte(v.JWS), CreatedAt: v.CreatedAt, Attempts: v.Attempts, NextAt: v.NextAt, LeaseHolder: holder,
		LeaseUntil: v.LeaseUntil, LastError: v.LastError, DeadAt: v.DeadAt, PreparedAt: v.PreparedAt}
}

// needsCompaction reports whether a migration left the file to compact.
func (s *Store) needsCompaction() bool {
	pending := false
	s.db.View(func(tx *bolt.Tx) error {
		pending = tx.Bucket(bucketMeta) != nil && tx.Bucket(bucketMeta).Get(keyCompact) != nil
		return nil
	})
	return pending
}

// compacted notes that the file was compacted.
func (s *Store) compacted() error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyCompact) })
}

// migrate brings a file of format 1 to format 2, in one transaction:
// orders and drafts are sealed and belong to the client "default"; the
// outbox moves to the general queue with its bodies sealed; idempotency
// entries are keyed and hashed by HMAC; codes, idempotency keys and
// retention are indexed by order. It reports whether anything was there
// to migrate; then Open compacts the file, so that the records in clear
// do not stay in its free pages.
func (s *Store) migrate() (bool, error) {
	migrated := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if v := meta.Get(keyFormat); v != nil {
			if !bytes.Equal(v, format) {
				return fmt.Errorf("the file is of format %s; this eprom reads format %s", v, format)
			}
			return nil
		}
		if n := tx.Bucket(bucketOrders).Stats().KeyN; n > 0 || tx.Bucket(v1Outbox) != nil {
			migrated = true
			if s.secrets == nil {
				return errors.New("the file is from an earlier eprom and must be migrated; start eprom serve on it once")
			}
			if err := s.migrateOrders(tx); err != nil {
				return fmt.Errorf("orders: %w", err)
			}
			if err := s.migrateOutbox(tx); err != nil {
				return fmt.Errorf("outbox: %w", err)
			}
			if err := meta.Put(keyCompact, []byte("pending")); err != nil {
				return err
			}
		}
		return meta.Put(keyFormat, format)
	})
	return migrated, err
}

// entry is a key and value copied out of a bucket, to change it after.
type entry struct{ key, value []byte }

// inClear returns the records of a bucket that are JSON in clear.
func inClear(b *bolt.Bucket) ([]entry, error) {
	var out []entry
	err := b.ForEach(func(k, v []byte) error {
		if json.Valid(v) {
			out = append(out, entry{bytes.Clone(k), bytes.Clone(v)})
		}
		return nil
	})
	return out, err
}

func (s *Store) migrateOrders(tx *bolt.Tx) error {
	keys := map[string]*orderKeys{}
	keysOf := func(id string) *orderKeys {
		if keys[id] == nil {
			keys[id] = &orderKeys{}
		}
		return keys[id]
	}
	err := tx.Bucket(bucketCodes).ForEach(func(k, v []byte) error {
		var e codeEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return err
		}
		keysOf(e.OrderID).Codes = append(keysOf(e.OrderID).Codes, hex.EncodeToString(k))
		return nil
	})
	if err != nil {
		return err
	}
	// Idempotency entries: keyed by caller and key in clear, with the plain
	// hash of the body; the caller was a token's name, now it is the client.
	idem := tx.Bucket(bucketIdempotency)
	var old []entry
	err = idem.ForEach(func(k, v []byte) error {
		if bytes.IndexByte(k, 0) >= 0 {
			old = append(old, entry{bytes.Clone(k), bytes.Clone(v)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, e := range old {
		var ie idemEntry
		if err := json.Unmarshal(e.value, &ie); err != nil {
			return err
		}
		_, key, _ := strings.Cut(string(e.key), "\x00")
		newKey := []byte(s.secrets.IdempotencyKey(&store.Idempotency{Client: store.DefaultClient, Key: key}))
		if err := idem.Delete(e.key); err != nil {
			return err
		}
		if idem.Get(newKey) != nil {
			continue // two token names used one key: the first in key order keeps it
		}
		ie.Hash = s.secrets.IdempotencyHash(ie.Hash)
		if err := putJSON(tx, bucketIdempotency, newKey, ie); err != nil {
			return err
		}
		keysOf(ie.OrderID).Idem = string(newKey)
	}
	// Orders and drafts in clear: sealed, with the client "default".
	orders := tx.Bucket(bucketOrders)
	plain, err := inClear(orders)
	if err != nil {
		return err
	}
	for _, e := range plain {
		var fields map[string]any
		if err := json.Unmarshal(e.value, &fields); err != nil {
			return err
		}
		delete(fields, "orderedBy") // a token's name in format 1
		if fields["client"] == nil || fields["client"] == "" {
			fields["client"] = store.DefaultClient
		}
		raw, _ := json.Marshal(fields)
		var o struct {
			ExpiresAt time.Time `json:"expiresAt"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			return err
		}
		id := string(e.key)
		if err := orders.Put(e.key, s.secrets.Orders.Seal(id, raw)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketRetention).Put(timeKey(o.ExpiresAt.Add(store.TombstoneTTL), id), nil); err != nil {
			return err
		}
		if err := putJSON(tx, bucketOrderKeys, e.key, keysOf(id)); err != nil {
			return err
		}
	}
	drafts := tx.Bucket(bucketDrafts)
	if plain, err = inClear(drafts); err != nil {
		return err
	}
	for _, e := range plain {
		if err := drafts.Put(e.key, s.secrets.Drafts.Seal(string(e.key), e.value)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) migrateOutbox(tx *bolt.Tx) error {
	for _, b := range []struct {
		name []byte
		put  func(*record) error
	}{
		{v1Outbox, func(r *record) error { return enqueueTx(tx, r) }},
		{v1Dead, func(r *record) error { return putRecord(tx, bucketDead, r) }},
		{v1Pending, func(r *record) error { return putRecord(tx, bucketPending, r) }},
	} {
		bucket := tx.Bucket(b.name)
		if bucket == nil {
			continue
		}
		err := bucket.ForEach(func(k, v []byte) error {
			var sub v1Submission
			if err := json.Unmarshal(v, &sub); err != nil {
				return err
			}
			m := sub.message()
			r, err := s.queue.seal(&m)
			if err != nil {
				return err
			}
			return b.put(r)
		})
		if err != nil {
			return err
		}
	}
	if bucket := tx.Bucket(v1Tombstones); bucket != nil {
		err := bucket.ForEach(func(k, v []byte) error {
			var t struct {
				OrderID     string    `json:"order"`
				DeliveredAt time.Time `json:"deliveredAt"`
				Unreported  bool      `json:"unreported"`
			}
			if err := json.Unmarshal(v, &t); err != nil {
				return err
			}
			// Format 1 did not record who acknowledged: no holder, and any
			// holder of the client may acknowledge it again.
			d := store.Delivery{Kind: store.KindEnvelope, Destination: store.DefaultClient, Ref: t.OrderID,
				At: t.DeliveredAt, Unsettled: t.Unreported}
			if d.Unsettled {
				if err := tx.Bucket(bucketUnsettled).Put(k, nil); err != nil {
					return err
				}
			}
			return putJSON(tx, bucketTombstones, k, d)
		})
		if err != nil {
			return err
		}
	}
	for _, name := range [][]byte{v1Outbox, v1OutboxDue, v1Dead, v1Tombstones, v1Pending, v1Limits} {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
	}
	return nil
}

// compact rewrites the file without its free pages, where the records of
// format 1 stay in clear after the migration: from the open database, still
// locked, into a new file beside it of the same mode, synced, then renamed
// over it. A process waiting for the lock meanwhile finds, once it has it,
// that the path is another file, and opens again (open).
func compact(db *bolt.DB, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".compact"
	os.Remove(tmp) // one a crash left
	dst, err := bolt.Open(tmp, st.Mode().Perm(), &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	err = bolt.Compact(dst, db, 64<<20)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, st.Mode().Perm())
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}
