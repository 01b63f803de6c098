package bolt_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eprom/questionnaire"
	"eprom/store"
	"eprom/store/bolt"
	"eprom/store/storetest"
)

// A data folder of the eprom before clients and sealing (testdata/v1, see
// its README) opens with everything in it: orders of the client "default",
// the envelope waiting in the general queue, the draft, the codes and the
// idempotency key; and afterwards nothing in the file is readable in clear.
func TestAFileOfFormat1IsMigrated(t *testing.T) {
	dir := t.TempDir()
	raw, err := os.ReadFile("testdata/v1/eprom.db")
	if err != nil {
		t.Fatal(err)
	}
	if !storetest.Reveals(raw, storetest.PatientMarker) {
		t.Fatal("the format 1 file does not hold the marker in clear; the test would prove nothing")
	}
	path := filepath.Join(dir, "eprom.db")
	os.WriteFile(path, raw, 0o600)
	secret, _ := os.ReadFile("testdata/v1/secret")
	secrets, err := store.NewSecrets(secret)
	if err != nil {
		t.Fatal(err)
	}
	var orders map[string]struct{ ID, Code, IdempotencyKey, Body string }
	b, _ := os.ReadFile("testdata/v1/orders.json")
	if err := json.Unmarshal(b, &orders); err != nil {
		t.Fatal(err)
	}
	if _, err := bolt.Open(path, nil); err == nil || !strings.Contains(err.Error(), "must be migrated") {
		t.Fatalf("without the secret: %v", err)
	}

	s, err := bolt.Open(path, secrets)
	if err != nil {
		t.Fatal(err)
	}
	// What the file holds at once: the records in clear are gone from its
	// free pages too.
	raw, _ = os.ReadFile(path)
	for _, marker := range []string{storetest.PatientMarker, orders["o1"].IdempotencyKey} {
		if storetest.Reveals(raw, marker) {
			t.Errorf("%s is readable in the file just after its migration", marker)
		}
	}
	ctx := context.Background()
	submitted, err := s.Order(ctx, orders["o1"].ID)
	if err != nil || submitted.Client != store.DefaultClient || submitted.Status != questionnaire.StatusSubmitted ||
		submitted.PatientRef != storetest.PatientMarker || submitted.SubmissionID == "" {
		t.Fatalf("o1: %+v %v", submitted, err)
	}
	declined, _ := s.Order(ctx, orders["o2"].ID)
	if declined.Status != questionnaire.StatusDeclined || declined.SubmissionID == "" {
		t.Fatalf("o2: %+v", declined)
	}
	q := s.Queue()
	for _, o := range []*questionnaire.Order{submitted, declined} {
		m, err := q.Message(ctx, o.SubmissionID)
		if err != nil || m.Destination != store.DefaultClient || m.Kind != store.KindEnvelope || m.Ref != o.ID {
			t.Fatalf("the envelope of %s: %+v %v", o.ID, m, err)
		}
		parts := strings.Split(string(m.Body), ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[len(parts)/2])
		var env questionnaire.Envelope
		if len(parts) != 3 || json.Unmarshal(payload, &env) != nil || env.OrderID != o.ID || env.ID != m.ID {
			t.Fatalf("the envelope's JWS: %q", m.Body)
		}
	}
	open, current, err := s.LookupCode(ctx, orders["o3"].Code)
	if err != nil || !current || open.ID != orders["o3"].ID || !open.Status.Open() {
		t.Fatalf("o3 by its code: %+v %v %v", open, current, err)
	}
	if d, err := s.Draft(ctx, open.ID); err != nil || len(d.Events) == 0 {
		t.Fatalf("o3's draft: %+v %v", d, err)
	}
	canon, _ := questionnaire.Canonical([]byte(orders["o1"].Body))
	again, _, created, err := s.CreateOrder(ctx, storetest.NewOrder(time.Hour),
		&store.Idempotency{Client: store.DefaultClient, Key: orders["o1"].IdempotencyKey, Hash: questionnaire.Digest(canon)})
	if err != nil || created || again.ID != orders["o1"].ID {
		t.Fatalf("the idempotency key after the migration: %v created=%v %v", again, created, err)
	}
	got, err := q.Receive(ctx, "pull:"+store.DefaultClient, 10, time.Minute, time.Now(), nil)
	if err != nil || len(got) != 2 {
		t.Fatalf("the migrated envelopes are not received: %v %v", got, err)
	}
	s.Close()

	raw, _ = os.ReadFile(path)
	for _, marker := range []string{storetest.PatientMarker, orders["o1"].IdempotencyKey} {
		if storetest.Reveals(raw, marker) {
			t.Errorf("%s is readable in the file after its migration", marker)
		}
	}
	// Once is enough: the file opens again as it is.
	s2, err := bolt.Open(path, secrets)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if st, _ := s2.Queue().Stats(ctx, time.Now()); st.Depth != 2 || st.ByDestination[store.DefaultClient] != 2 {
		t.Fatalf("after a second open: %+v", st)
	}
}

// A migration cut short before its compaction (a crash, a full disk) is
// compacted at the next open.
func TestACompactionCutShortIsDoneAtTheNextOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eprom.db")
	raw, _ := os.ReadFile("testdata/v1/eprom.db")
	os.WriteFile(path, raw, 0o640)
	secret, _ := os.ReadFile("testdata/v1/secret")
	secrets, _ := store.NewSecrets(secret)
	if err := bolt.MigrateOnlyForTest(path, secrets); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(path); !storetest.Reveals(raw, storetest.PatientMarker) {
		t.Fatal("the file was compacted already; the test would prove nothing")
	}
	s, err := bolt.Open(path, secrets)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if raw, _ := os.ReadFile(path); storetest.Reveals(raw, storetest.PatientMarker) {
		t.Error("the marker is readable: the compaction was not done")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("the compacted file has mode %v, want the original 0640", st.Mode().Perm())
	}
	if _, err := s.Order(context.Background(), "01a234a3-d258-7b69-9cb8-295afb5a56e8"); err != nil {
		t.Fatal(err)
	}
}
