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
	// Report, when set, may report an order's close in another form than
	// the envelope (HEMIT's return callback); nil: the envelope for all.
	Report Reporter
}

// A Reporter says how the close of an order is reported, given the
// envelope that would report it: a payload of another kind (signed like
// the envelope), nothing at all (Skip: a test order), or, when it returns
// nil, the envelope itself.
type Reporter func(o *questionnaire.Order, env *questionnaire.Envelope) (*Report, error)

// Report is a Reporter's answer.
type Report struct {
	Kind    string // the message's kind, e.g. KindHemit
	Label   string // a word for lists and logs
	Payload []byte // signed as it is
	Skip    bool   // report nothing: the order closes with no message
}

// KindHemit is the kind of a callback to a client that speaks HEMIT's API
// (PUT {apiBaseUrl}/api/PromsFormOrder): the order's status, then its
// return. The body is a JWS whose payload is the callback's JSON.
const KindHemit = "hemit"

// Announcing is a store that puts a message in the outbox in the same
// transaction as a new order (bolt, whose outbox is in its file).
type Announcing interface {
	CreateOrderAnnounced(ctx context.Context, o *questionnaire.Order, idem *Idempotency, m *Message) (order *questionnaire.Order, code string, created bool, err error)
}

// Create stores a new order, as Orders.CreateOrder, and with it, when
// announce is set, the message that announces it (HEMIT's status
// callback): in the same transaction where the store holds the outbox,
// else prepared in the outbox first and confirmed once the order is
// stored (Pending; after a crash in between, Recover confirms it when the
// order exists). A retried request (created false) announces nothing.
func (s *Submissions) Create(ctx context.Context, o *questionnaire.Order, idem *Idempotency, announce *Message) (*questionnaire.Order, string, bool, error) {
	if announce == nil {
		return s.Orders.CreateOrder(ctx, o, idem)
	}
	o.AnnouncementID = announce.ID
	if a, ok := s.Orders.(Announcing); ok {
		return a.CreateOrderAnnounced(ctx, o, idem, announce)
	}
	p, ok := s.Queue.(Pending)
	if !ok {
		return nil, "", false, errors.New("the outbox cannot hold a message for another store's order")
	}
	if err := p.Prepare(ctx, announce); err != nil {
		return nil, "", false, err
	}
	got, code, created, err := s.Orders.CreateOrder(ctx, o, idem)
	switch {
	case questionnaire.ErrorCode(err) == questionnaire.ECONFLICT:
		// Refused (ECONFLICT…): no order, nothing to announce.
		if derr := p.Discard(ctx, announce.ID); derr != nil {
			p.Release(announce.ID)
		}
		return nil, "", false, err
	case err != nil:
		p.Release(announce.ID) // the order may exist: Recover asks the store
		return nil, "", false, err
	case !created:
		if derr := p.Discard(ctx, announce.ID); derr != nil {
			p.Release(announce.ID)
		}
		return got, code, false, nil
	}
	if err := p.Confirm(ctx, announce.ID); err != nil {
		p.Release(announce.ID)
		return nil, "", false, err
	}
	return got, code, true, nil
}

// Sign signs a payload into a message of a kind for a destination, about
// the order ref.
func (s *Submissions) Sign(kind, destination, ref, label string, payload []byte, now time.Time) (*Message, error) {
	if s.Signer == nil {
		return nil, fmt.Errorf("no signer: cannot sign the %s message of order %s", kind, ref)
	}
	jws, kid, err := s.Signer.Sign(payload)
	if err != nil {
		return nil, err
	}
	return &Message{ID: uuid.Must(uuid.NewV7()).String(), Kind: kind, Destination: destination, Ref: ref, Label: label,
		KeyID: kid, Body: []byte(jws), CreatedAt: now, NextAt: now}, nil
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
	return s.Orders.CloseOrder(ctx, r.OrderID, now, move, s.close(r, "", now))
}

// Cancel cancels an open order, as Orders.CancelOrder. An order whose
// close Report reports in another form (HEMIT's, whose registries learn of
// an order's end only from a callback) is closed with that report; for
// the others nothing is sent: their client cancelled them.
func (s *Submissions) Cancel(ctx context.Context, id string, now time.Time) (*questionnaire.Order, error) {
	if s.Report != nil {
		o, err := s.Orders.Order(ctx, id)
		if err != nil {
			return nil, err
		}
		probe := questionnaire.NewEnvelope("", o, nil, nil)
		probe.Type = questionnaire.EnvelopeCancelled
		if rep, err := s.Report(o, probe); err != nil {
			return nil, err
		} else if rep != nil {
			move := func(o *questionnaire.Order, _ *questionnaire.Draft) (bool, error) { return true, o.Cancel(now) }
			return s.Orders.CloseOrder(ctx, id, now, move, s.close(nil, questionnaire.EnvelopeCancelled, now))
		}
	}
	return s.Orders.CancelOrder(ctx, id, now)
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
		o, err := s.Orders.CloseOrder(ctx, id, now, move, s.close(nil, questionnaire.EnvelopeExpired, now))
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

// close builds and signs the message of an order closed by r (nil: by its
// expiry, or a cancel when typ says so, with the draft's events), for the
// order's client: its envelope, or what Report makes of it.
func (s *Submissions) close(r *questionnaire.Response, typ string, now time.Time) MessageFunc {
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
		if typ == questionnaire.EnvelopeCancelled {
			env.Type, env.ExpiredAt = typ, nil
		}
		if s.Report != nil {
			rep, err := s.Report(o, env)
			if err != nil {
				return nil, err
			}
			if rep != nil && rep.Skip {
				return nil, nil
			}
			if rep != nil {
				m, err := s.Sign(rep.Kind, o.Owner(), o.ID, rep.Label, rep.Payload, now)
				if m != nil {
					m.After = o.AnnouncementID // never before the order's status
				}
				return m, err
			}
		}
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

// settle does what follows one delivery: the order of the message it
// closed with (an envelope, a HEMIT return) is marked delivered; an order
// gone meanwhile needs nothing, and an announcement nothing either.
func (s *Submissions) settle(ctx context.Context, d Delivery) error {
	if d.Ref != "" && (d.Kind == KindEnvelope || d.Kind == KindHemit) {
		var err error
		closing := d.Kind == KindEnvelope // legacy envelopes predate SubmissionID
		if !closing {
			var o *questionnaire.Order
			if o, err = s.Orders.Order(ctx, d.Ref); err == nil {
				closing = o.SubmissionID == d.ID
			}
		}
		if closing {
			err = s.Orders.MarkDelivered(ctx, d.Ref, d.At)
		}
		if err != nil && questionnaire.ErrorCode(err) != questionnaire.ENOTFOUND {
			return fmt.Errorf("settle delivery of %s: %w", d.ID, err)
		}
	}
	return s.Queue.Settle(ctx, d.ID)
}

// ClosedWith reports whether a prepared message is the one its order
// closed with, or the one that announced it, for Pending's recovery: true
// confirms it, false discards it. An order that is gone did neither.
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
	return o.SubmissionID == m.ID || o.AnnouncementID == m.ID, nil
}
