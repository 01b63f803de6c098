package redis

import (
	"context"

	"eprom/questionnaire"
)

// PutOrderForTest stores an order as given, for tests that need a state no
// transition makes.
func (s *Store) PutOrderForTest(ctx context.Context, o *questionnaire.Order) error {
	return s.rdb.Set(ctx, s.orderKey(o.ID), s.sealedOrder(o), 0).Err()
}
