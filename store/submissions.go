package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"eprom/questionnaire"

	"github.com/google/uuid"
)

// Signer signs message payloads.
type Signer interface {
	// Sign returns the JWS compact serialization of payload and the id of
	// the key that signed it.
	Sign(payload []byte) (jws, kid string, err error)
}

// Submissions is the application service between the patient pages, the
// orders and the outbox: it closes an order (submitted, declined or
// expired), signs its envelope (DESIGN.md §7) and puts it in the outbox
// for the order's client, in one durable step; and when the envelope is
// delivered, it marks the order delivered. The queue knows nothing of
// orders, and the orders store nothing of signing.
type Submissions struct {
	Orders Orders
	Queue  Queue
	Signer Signer
}

// Submit closes the order with a response, or a decline, and enqueues its
// envelope; when Submit returns, the envelope is on disk. Returns
// ECONFLICT when the order is closed already: a second submit stores
// nothing; EUNPROCESSABLE, storing nothing, when the response carries a
// reason it may not (Response.CheckReason).
func (s *Submissions) Submit(ctx context.Context, r *questionnaire.Response, now time.Time) (*questionnaire.Order, error) {
	if err := r.CheckReason(); err != nil {
		return nil, err
	}
	move := func(o *questionnaire.Order, _ *questionnaire.Draft) (bool, error) {
		o.ClosedBy = r.Device
		if r.Type == questionnaire.ResponseDeclined {
			return true, o.Decline(now)
		}
		return true, o.Submit(now)
	}
	return s.Orders.CloseOrder(ctx, r.OrderID, now, move, s.envelope(r, now))
}

// Expire closes the orders past their expiry, up to 1000 a call, each with
// an "expired" envelope, and returns them. An order that cannot be closed
// now (unreadable, or its store failing) does not hold up the others: the
// errors are returned together, after the rest are done.
func (s *Submissions) Expire(ctx context.Context, now time.Time) ([]*questionnaire.Order, error) {
	ids, err := s.Orders.ExpiringOrders(ctx, now, 1000)
	if err != nil {
		return nil, err
	}
	move := func(o *questionnaire.Order, _ *questionnaire.Draft) (bool, error) { return o.Expire(now), nil }
	var (
		expired []*questionnaire.Order
		errs    []error
	)
	for _, id := range ids {
		o, err := s.Orders.CloseOrder(ctx, id, now, move, s.envelope(nil, now))
		switch {
		case questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND:
			// gone meanwhile
		case questionnaire.ErrorCode(err) == questionnaire.EUNAVAILABLE:
			return expired, err // the store is down: the next sweep tries again
		case err != nil:
			errs = append(errs, fmt.Errorf("expire order %s: %w", id, err))
		case o != nil:
			expired = append(expired, o)
		}
	}
	return expired, errors.Join(errs...)
}

// envelope builds and signs the envelope of an order closed by r (nil: by
// its expiry, with the draft's events), for the order's client.
func (s *Submissions) envelope(r *questionnaire.Response, now time.Time) MessageFunc {
	return func(o *questionnaire.Order, d *questionnaire.Draft) (*Message, error) {
		if s.Signer == nil {
			return nil, fmt.Errorf("no signer: cannot sign the envelope of order %s", o.ID)
		}
		var events []questionnaire.Event
		if d != nil {
			events = d.Events
		}
		id := uuid.Must(uuid.NewV7()).String()
		env := questionnaire.NewEnvelope(id, o, r, events)
		payload, err := json.Marshal(env)
		if err != nil {
			return nil, err
		}
		jws, kid, err := s.Signer.Sign(payload)
		if err != nil {
			return nil, err
		}
		return &Message{ID: id, Kind: KindEnvelope, Destination: o.Owner(), Ref: o.ID, Label: env.Type, KeyID: kid,
			Body: []byte(jws), CreatedAt: now, NextAt: now}, nil
	}
}

// DefaultClient is questionnaire.DefaultClient, for the stores.
const DefaultClient = questionnaire.DefaultClient

// Delivered deletes a delivered message from the queue (holder must hold
// its lease; destination "" for any) and settles it: an envelope's order
// is marked delivered. A failure to settle is not Delivered's error: the
// message is delivered, and SettleDeliveries tries again. Returns the
// queue's errors (ENOTFOUND, ELEASE).
func (s *Submissions) Delivered(ctx context.Context, id, holder, destination string, now time.Time) error {
	d, err := s.Queue.Delete(ctx, id, holder, destination, now)
	if err != nil {
		return err
	}
	if d.Unsettled {
		s.settle(ctx, *d) // on failure, the sweep's SettleDeliveries
	}
	return nil
}

// SettleDeliveries marks delivered the orders of delivered envelopes not
// yet settled (their store was down at the time, or the process stopped
// in between). It returns how many it settled; one that cannot be settled
// does not hold up the others.
func (s *Submissions) SettleDeliveries(ctx context.Context) (int, error) {
	done, err := s.Queue.Unsettled(ctx, 1000)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, d := range done {
		if err := s.settle(ctx, d); err != nil {
			if questionnaire.ErrorCode(err) == questionnaire.EUNAVAILABLE {
				return n, err
			}
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// settle does what follows one delivery: an envelope's order is marked
// delivered (an order gone meanwhile needs nothing).
func (s *Submissions) settle(ctx context.Context, d Delivery) error {
	if d.Kind == KindEnvelope && d.Ref != "" {
		err := s.Orders.MarkDelivered(ctx, d.Ref, d.At)
		if err != nil && questionnaire.ErrorCode(err) != questionnaire.ENOTFOUND {
			return fmt.Errorf("settle delivery of %s: %w", d.ID, err)
		}
	}
	return s.Queue.Settle(ctx, d.ID)
}

// ClosedWith reports whether a prepared message is the one its order
// closed with, for Pending's recovery: true confirms it, false discards
// it. An order that is gone did not close with it.
func (s *Submissions) ClosedWith(ctx context.Context, m *Message) (bool, error) {
	if m.Ref == "" {
		return false, errors.New("a prepared message without a ref")
	}
	o, err := s.Orders.Order(ctx, m.Ref)
	if questionnaire.ErrorCode(err) == questionnaire.ENOTFOUND {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return o.SubmissionID == m.ID, nil
}
