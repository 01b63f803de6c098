package bolt

import (
	"eprom/questionnaire"
	"eprom/store"

	bolt "go.etcd.io/bbolt"
)

// MigrateOnlyForTest migrates a file and stops before its compaction, as a
// crash right after the migration's commit would.
func MigrateOnlyForTest(path string, secrets *store.Secrets) error {
	s, err := open(path, secrets)
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = s.migrate()
	return err
}

// SendInATransactionForTest sends a message with SendTx inside a
// transaction of the store's, as a sender keeping its state in the same
// file does, and returns what the transaction returned.
func SendInATransactionForTest(s *Store, m *store.Message, fail error) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := s.queue.SendTx(tx, m); err != nil {
			return err
		}
		return fail
	})
	if err == nil {
		s.queue.Signal()
	}
	return err
}

// PutOrderAndRollBackForTest writes o in a transaction that then fails, as
// a batch whose other call failed rolls back.
func PutOrderAndRollBackForTest(s *Store, o *questionnaire.Order, fail error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := s.putOrder(tx, o); err != nil {
			return err
		}
		return fail
	})
}

// DecodedForTest reports whether the store keeps the order, the draft and
// the session (by its id) decoded.
func DecodedForTest(s *Store, orderID, sessionID string) (order, draft, session bool) {
	_, order = s.orders.m[orderID]
	_, draft = s.drafts.m[orderID]
	_, session = s.sessions.m[string(sessionKey(sessionID))]
	return order, draft, session
}
