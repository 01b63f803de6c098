package redis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/store"
	"eprom/store/bolt"
	"eprom/store/redis"
	"eprom/store/signing"
	"eprom/store/storetest"
)

// URL is the Redis the tests use: $EPROM_TEST_REDIS, or 127.0.0.1:6379
// database 14. Each test has a key prefix of its own.
func URL() string {
	if u := os.Getenv("EPROM_TEST_REDIS"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/14"
}

// needRedis skips a test when no Redis answers, except under CI=true.
func needRedis(t testing.TB) {
	t.Helper()
	s, err := redis.Open(context.Background(), URL(), "probe:", nil, nil)
	if err == nil {
		err = s.Ping(context.Background())
		s.Close()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but no Redis at %s: %v", URL(), err)
		}
		t.Skipf("SKIPPED Redis tests: no Redis at %s (%v); they run under CI=true", URL(), err)
	}
}

// replica is the Redis store with a replica's bbolt outbox, as `eprom
// serve` wires them.
type replica struct {
	*storetest.Store
	rs  *redis.Store
	out *bolt.Store
}

var secret = bytes.Repeat([]byte{9}, 32)

func secrets() *store.Secrets {
	s, err := store.NewSecrets(secret)
	if err != nil {
		panic(err)
	}
	return s
}

// open opens a replica on a key prefix and outbox file.
func open(tb testing.TB, prefix, path string, keys *signing.Keyring) *replica {
	return openWith(tb, prefix, path, keys, nil)
}

// openWith opens a replica whose outbox is wrapped by wrap (nil: as it is).
func openWith(tb testing.TB, prefix, path string, keys *signing.Keyring, wrap func(*redis.Store, store.Pending) store.Pending) *replica {
	tb.Helper()
	sec := secrets()
	out, err := bolt.Open(path, sec)
	if err != nil {
		tb.Fatal(err)
	}
	var pending store.Pending = out.Queue()
	var rs *redis.Store
	if wrap != nil {
		pending = &lateWrap{wrap: wrap, inner: pending, rs: &rs}
	}
	rs, err = redis.Open(context.Background(), URL(), prefix, sec, pending)
	if err != nil {
		tb.Fatal(err)
	}
	c := &replica{rs: rs, out: out, Store: &storetest.Store{Orders: rs, Patients: rs, Queue: out.Queue(),
		Submissions: &store.Submissions{Orders: rs, Queue: out.Queue(), Signer: keys}}}
	tb.Cleanup(func() { c.close() })
	return c
}

// lateWrap lets a test's Pending see the Redis store it serves.
type lateWrap struct {
	wrap  func(*redis.Store, store.Pending) store.Pending
	inner store.Pending
	rs    **redis.Store
}

func (l *lateWrap) p() store.Pending { return l.wrap(*l.rs, l.inner) }
func (l *lateWrap) Prepare(ctx context.Context, m *store.Message) error {
	return l.p().Prepare(ctx, m)
}
func (l *lateWrap) Confirm(ctx context.Context, id string) error { return l.p().Confirm(ctx, id) }
func (l *lateWrap) Discard(ctx context.Context, id string) error { return l.p().Discard(ctx, id) }
func (l *lateWrap) Release(id string)                            { l.p().Release(id) }

func (c *replica) close() {
	c.rs.Close()
	c.out.Close()
}

// fresh is what a test on Redis needs: a folder, signing keys and a key
// prefix of its own, deleted when the test ends. It skips without Redis
// (needRedis).
func fresh(t *testing.T) (dir string, keys *signing.Keyring, prefix string) {
	t.Helper()
	needRedis(t)
	dir = t.TempDir()
	keys, err := signing.Load(filepath.Join(dir, "keys.pem"), true)
	if err != nil {
		t.Fatal(err)
	}
	prefix = fmt.Sprintf("test:%x:", rand.Uint64())
	cleanup(t, prefix)
	return dir, keys, prefix
}

// cleanup deletes a prefix's keys when the test ends.
func cleanup(tb testing.TB, prefix string) {
	tb.Cleanup(func() {
		s, err := redis.Open(context.Background(), URL(), prefix, secrets(), nil)
		if err != nil {
			return
		}
		defer s.Close()
		ctx := context.Background()
		iter := s.Client().Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			s.Client().Del(ctx, iter.Val())
		}
	})
}

func TestContract(t *testing.T) {
	needRedis(t)
	dir := t.TempDir()
	keys, err := signing.Load(filepath.Join(dir, "keys.pem"), true)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, func(tb testing.TB) (*storetest.Store, func() *storetest.Store) {
		prefix := fmt.Sprintf("test:%x:", rand.Uint64())
		cleanup(tb, prefix)
		path := filepath.Join(tb.(interface{ TempDir() string }).TempDir(), "outbox.db")
		c := open(tb, prefix, path, keys)
		return c.Store, func() *storetest.Store {
			c.close()
			c = open(tb, prefix, path, keys)
			return c.Store
		}
	})
}

// A dump of Redis (every value under the prefix, as GET and DUMP give it)
// and the replica's outbox file reveal no answer and no patient reference.
func TestNothingReadableInRedisOrTheOutbox(t *testing.T) {
	dir, keys, prefix := fresh(t)
	path := filepath.Join(dir, "outbox.db")
	c := open(t, prefix, path, keys)
	ctx := context.Background()
	storetest.RunAtRest(t, c.Store, func() []byte {
		var all bytes.Buffer
		rdb := c.rs.Client()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			key := iter.Val()
			all.WriteString(key + "\n")
			if v, err := rdb.Get(ctx, key).Bytes(); err == nil {
				all.Write(v)
			}
			for _, m := range rdb.ZRange(ctx, key, 0, -1).Val() {
				all.WriteString(m)
			}
			if v, err := rdb.Dump(ctx, key).Result(); err == nil {
				all.WriteString(v)
			}
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(raw)
		return all.Bytes()
	})
}

// Records an eprom before sealing wrote (in clear, the token's name in
// orderedBy) are read, and sealed by their next write.
func TestRecordsInClearFromBeforeAreRead(t *testing.T) {
	dir, keys, prefix := fresh(t)
	c := open(t, prefix, filepath.Join(dir, "a.db"), keys)
	ctx := context.Background()
	id := "01900000-0000-7000-8000-0000000000c1"
	old := fmt.Sprintf(`{"id":%q,"status":"opened","questionnaire":{"id":"audit","version":"1.0.0","digest":"sha256:00"},"language":"nb",`+
		`"patientRef":"p-1","orderedBy":"registry","codeGeneration":0,"createdAt":"2026-11-25T10:00:00Z","expiresAt":"2099-01-01T00:00:00Z","updatedAt":"2026-11-25T10:00:00Z"}`, id)
	c.rs.Client().Set(ctx, prefix+"order:"+id, old, 0)
	c.rs.Client().Set(ctx, prefix+"draft:"+id, `{"answers":{"q1":["1"]},"page":0,"events":[{"type":"opened","at":"2026-11-25T10:00:00Z"}]}`, 0)
	o, err := c.Order(ctx, id)
	if err != nil || o.PatientRef != "p-1" || o.Client != "" || o.Status != questionnaire.StatusOpened {
		t.Fatalf("an order in clear: %+v %v", o, err)
	}
	if d, err := c.Draft(ctx, id); err != nil || d.Answers["q1"][0] != "1" {
		t.Fatalf("a draft in clear: %+v %v", d, err)
	}
	if _, _, err := c.UpdateDraft(ctx, id, time.Now(), func(d *questionnaire.Draft) error { d.Answers["q2"] = []string{"0"}; return nil }); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{prefix + "order:" + id, prefix + "draft:" + id} {
		if v, _ := c.rs.Client().Get(ctx, key).Bytes(); bytes.Contains(v, []byte(`"answers"`)) || bytes.Contains(v, []byte("p-1")) {
			t.Errorf("%s is still in clear after a write: %s", key, v)
		}
	}
}

func TestLimits(t *testing.T) {
	needRedis(t)
	storetest.RunLimits(t, func(tb testing.TB) store.Limits {
		prefix := fmt.Sprintf("test:%x:", rand.Uint64())
		cleanup(tb, prefix)
		s, err := redis.Open(context.Background(), URL(), prefix, secrets(), nil)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	})
}

func TestTwoReplicasSubmitOneOrderOnce(t *testing.T) {
	dir, keys, prefix := fresh(t)
	a := open(t, prefix, filepath.Join(dir, "a.db"), keys)
	b := open(t, prefix, filepath.Join(dir, "b.db"), keys)
	ctx := context.Background()
	for range 20 {
		o := storetest.NewOrder(24 * time.Hour)
		if _, _, _, err := a.CreateOrder(ctx, o, nil); err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 8)
		for i := range 8 {
			replica := a
			if i%2 == 1 {
				replica = b
			}
			go func() {
				_, err := replica.Submit(ctx, &questionnaire.Response{OrderID: o.ID, Type: questionnaire.ResponseAnswered, SubmittedAt: o.CreatedAt}, o.CreatedAt)
				errs <- err
			}()
		}
		ok := 0
		for range 8 {
			err := <-errs
			if err == nil {
				ok++
			} else if questionnaire.ErrorCode(err) != questionnaire.ECONFLICT {
				t.Fatal(err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d submits succeeded", ok)
		}
	}
	sa, _ := a.Stats(ctx, time.Now())
	sb, _ := b.Stats(ctx, time.Now())
	if sa.Depth+sb.Depth != 20 {
		t.Fatalf("%d + %d envelopes for 20 orders", sa.Depth, sb.Depth)
	}
}

func TestRecoverSettlesPreparedEnvelopes(t *testing.T) {
	dir, keys, prefix := fresh(t)
	c := open(t, prefix, filepath.Join(dir, "a.db"), keys)
	ctx := context.Background()
	o := storetest.NewOrder(24 * time.Hour)
	c.CreateOrder(ctx, o, nil)
	// A crash after the envelope was prepared, before the order closed.
	lost := &store.Message{ID: "0190f0f0-0000-7000-8000-000000000001", Kind: store.KindEnvelope, Destination: "registry", Ref: o.ID, Body: []byte("x")}
	if err := c.out.Queue().Prepare(ctx, lost); err != nil {
		t.Fatal(err)
	}
	// And one where the order closed but the confirm was lost.
	o2 := storetest.NewOrder(24 * time.Hour)
	c.CreateOrder(ctx, o2, nil)
	closed, _ := c.Submit(ctx, &questionnaire.Response{OrderID: o2.ID, Type: questionnaire.ResponseAnswered}, o2.CreatedAt)
	kept := &store.Message{ID: "0190f0f0-0000-7000-8000-000000000002", Kind: store.KindEnvelope, Destination: "registry", Ref: o2.ID, Body: []byte("y")}
	c.out.Queue().Prepare(ctx, kept)
	closed.SubmissionID = kept.ID
	if err := c.rs.PutOrderForTest(ctx, closed); err != nil {
		t.Fatal(err)
	}

	// In flight in this process: left alone, it may be mid-transaction.
	if conf, disc, err := c.out.Queue().Recover(ctx, time.Now().Add(time.Hour), c.ClosedWith); err != nil || conf+disc != 0 {
		t.Fatalf("recovered envelopes in flight: %d %d %v", conf, disc, err)
	}
	// The crash: a new process on the same file.
	c.close()
	c = open(t, prefix, filepath.Join(dir, "a.db"), keys)
	if conf, disc, err := c.out.Queue().Recover(ctx, time.Now().Add(-time.Hour), c.ClosedWith); err != nil || conf+disc != 0 {
		t.Fatalf("recovered envelopes younger than the cut-off: %d %d %v", conf, disc, err)
	}
	conf, disc, err := c.out.Queue().Recover(ctx, time.Now().Add(time.Hour), c.ClosedWith)
	if err != nil || conf != 1 || disc != 1 {
		t.Fatalf("confirmed %d, discarded %d, %v", conf, disc, err)
	}
	if _, err := c.Message(ctx, kept.ID); err != nil {
		t.Error("the envelope whose order closed is not queued")
	}
	if _, err := c.Message(ctx, lost.ID); err == nil {
		t.Error("the envelope whose order did not close is queued")
	}
}

// failingPending makes Redis fail right after an envelope is prepared (the
// client is closed), or makes the confirm fail after the order closed.
type failingPending struct {
	store.Pending
	rs          *redis.Store
	failConfirm bool
}

func (f failingPending) Prepare(ctx context.Context, m *store.Message) error {
	if err := f.Pending.Prepare(ctx, m); err != nil {
		return err
	}
	if !f.failConfirm {
		f.rs.Close() // Redis goes away between Prepare and EXEC
	}
	return nil
}

func (f failingPending) Confirm(ctx context.Context, id string) error {
	if f.failConfirm {
		return errors.New("disk: input/output error")
	}
	return f.Pending.Confirm(ctx, id)
}

// An envelope whose close failed midway is never stuck: the in-flight mark
// is cleared, and Recover settles it by what Redis says, in this process.
func TestAStuckEnvelopeIsSettledByRecover(t *testing.T) {
	needRedis(t)
	dir := t.TempDir()
	keys, _ := signing.Load(filepath.Join(dir, "keys.pem"), true)
	for _, tc := range []struct {
		name        string
		failConfirm bool
		confirmed   int
		status      questionnaire.Status
	}{
		{"Redis fails after Prepare: the close did not apply, the envelope goes", false, 0, questionnaire.StatusOrdered},
		{"the confirm fails after the close applied: the envelope is queued", true, 1, questionnaire.StatusSubmitted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := fmt.Sprintf("test:%x:", rand.Uint64())
			cleanup(t, prefix)
			path := filepath.Join(t.TempDir(), "a.db")
			good := open(t, prefix, path+".orders", keys)
			o := storetest.NewOrder(24 * time.Hour)
			ctx := context.Background()
			if _, _, _, err := good.CreateOrder(ctx, o, nil); err != nil {
				t.Fatal(err)
			}
			bad := openWith(t, prefix, path, keys, func(rs *redis.Store, p store.Pending) store.Pending {
				return failingPending{Pending: p, rs: rs, failConfirm: tc.failConfirm}
			})
			_, err := bad.Submit(ctx, &questionnaire.Response{OrderID: o.ID, Type: questionnaire.ResponseAnswered, SubmittedAt: o.CreatedAt}, o.CreatedAt)
			if err == nil {
				t.Fatal("the submit succeeded through a failing store")
			}
			if n, _ := bad.out.Queue().Pending(); n != 1 {
				t.Fatalf("%d envelopes prepared, want 1", n)
			}
			// Recover asks Redis through a store that works, as the sweep
			// does once Redis is back.
			decide := (&store.Submissions{Orders: good.rs}).ClosedWith
			conf, disc, err := bad.out.Queue().Recover(ctx, time.Now().Add(time.Minute), decide)
			if err != nil || conf != tc.confirmed || conf+disc != 1 {
				t.Fatalf("confirmed %d, discarded %d, %v; want %d confirmed", conf, disc, err, tc.confirmed)
			}
			if st, _ := bad.out.Queue().Stats(ctx, time.Now()); st.Depth != tc.confirmed {
				t.Fatalf("queue depth %d, want %d", st.Depth, tc.confirmed)
			}
			if got, _ := good.Order(ctx, o.ID); got.Status != tc.status {
				t.Fatalf("order %s, want %s", got.Status, tc.status)
			}
		})
	}
}

func TestRedisDownIsUnavailable(t *testing.T) {
	s, err := redis.Open(context.Background(), "redis://127.0.0.1:1/0", "x:", secrets(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Ping(ctx); questionnaire.ErrorCode(err) != questionnaire.EUNAVAILABLE {
		t.Errorf("ping: %v (%s)", err, questionnaire.ErrorCode(err))
	}
	if _, err := s.Order(ctx, "x"); questionnaire.ErrorCode(err) != questionnaire.EUNAVAILABLE {
		t.Errorf("order: %v", err)
	}
	if _, _, err := s.LookupCode(ctx, "AAAAAAAAAA"); questionnaire.ErrorCode(err) != questionnaire.EUNAVAILABLE {
		t.Errorf("lookup: %v", err)
	}
	if _, _, err := s.Reserve(ctx, "k", 1, time.Minute, time.Now()); questionnaire.ErrorCode(err) != questionnaire.EUNAVAILABLE {
		t.Errorf("reserve: %v", err)
	}
}
