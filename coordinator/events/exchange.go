package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/coordinator/filters"
	"github.com/seedrt/seed/coordinator/nsctx"
	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/shimapi/typeurl"
)

// SubscriberBuffer is how many events a subscriber may fall behind before
// it is dropped.
const SubscriberBuffer = 1024

// ErrSlowSubscriber ends a subscription whose buffer overflowed. It wraps
// errdefs.ErrUnavailable.
var ErrSlowSubscriber = fmt.Errorf("subscriber too slow: events dropped: %w", errdefs.ErrUnavailable)

// Exchange delivers published and forwarded events to every matching
// subscriber. Publishing never blocks on subscribers. It is safe for
// concurrent use; the zero value is not, use NewExchange.
type Exchange struct {
	mu   sync.Mutex
	subs map[*subscription]struct{}

	// While the backlog is open (a daemon starting up), events are also
	// kept for subscribers that connect later: after a restart, clients
	// re-subscribe, and the exits that happened while the daemon was down
	// (replayed by the shims as they are found again) must reach them.
	backlogOpen bool
	backlog     []*Envelope
}

type subscription struct {
	filter *filters.Filter
	ch     chan *Envelope
	errs   chan error
	stop   func() bool // stops the context.AfterFunc ending the subscription
}

var _ Publisher = (*Exchange)(nil)

// NewExchange returns an exchange without subscribers.
func NewExchange() *Exchange {
	return &Exchange{subs: make(map[*subscription]struct{})}
}

// Publish sends event on topic in the namespace of ctx, stamped with the
// current time (UTC). The event is packed with its bare type URL; a
// *types.Any is sent as is.
func (x *Exchange) Publish(ctx context.Context, topic string, event proto.Message) error {
	ns, err := nsctx.Namespace(ctx)
	if err != nil {
		return fmt.Errorf("publish event: %w", err)
	}
	if err := validateTopic(topic); err != nil {
		return fmt.Errorf("publish event: %w", err)
	}
	a, err := pack(event)
	if err != nil {
		return fmt.Errorf("publish event on %q: %w", topic, err)
	}
	x.broadcast(&Envelope{Timestamp: time.Now().UTC(), Namespace: ns, Topic: topic, Event: a})
	return nil
}

func pack(event proto.Message) (*types.Any, error) {
	a, isAny := event.(*types.Any)
	switch {
	case event == nil || isAny && a == nil:
		return nil, fmt.Errorf("event is required: %w", errdefs.ErrInvalidArgument)
	case isAny:
		return a, nil
	}
	a, err := typeurl.MarshalAny(event)
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", proto.MessageName(event), err)
	}
	return a, nil
}

// Forward sends an envelope built elsewhere (by a shim, or a gRPC client),
// after env.Validate. Subscribers get a copy of *env.
func (x *Exchange) Forward(ctx context.Context, env *Envelope) error {
	if err := env.Validate(); err != nil {
		return fmt.Errorf("forward event: %w", err)
	}
	e := *env
	x.broadcast(&e)
	return nil
}

// Subscribe returns the events published from now on that match any of
// filterStrings (all events without any; see filter.go for the fields).
// A bad filter gives an error wrapping errdefs.ErrInvalidArgument.
//
// The subscription ends when ctx is done or when the subscriber falls more
// than SubscriberBuffer events behind. Then errs receives the reason, if
// any (ErrSlowSubscriber, or ctx.Err() unless it is context.Canceled), and
// is closed, and ch is closed after the events already buffered. Events
// arrive in publish order, the same order for every subscriber.
func (x *Exchange) Subscribe(ctx context.Context, filterStrings ...string) (ch <-chan *Envelope, errs <-chan error, err error) {
	f, err := filters.Parse(filterStrings...)
	if err != nil {
		return nil, nil, fmt.Errorf("subscribe: %w", err)
	}
	s := &subscription{
		filter: f,
		ch:     make(chan *Envelope, SubscriberBuffer),
		errs:   make(chan error, 1),
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, e := range x.backlog {
		if f.Match(e.field) {
			s.ch <- e // the backlog is never longer than the buffer
		}
	}
	x.subs[s] = struct{}{}
	s.stop = context.AfterFunc(ctx, func() {
		err := ctx.Err()
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		x.mu.Lock()
		defer x.mu.Unlock()
		x.end(s, err)
	})
	return s.ch, s.errs, nil
}

// broadcast hands e to every matching subscriber without blocking,
// dropping those whose buffer is full.
func (x *Exchange) broadcast(e *Envelope) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.backlogOpen && len(x.backlog) < SubscriberBuffer {
		x.backlog = append(x.backlog, e)
	}
	for s := range x.subs {
		if !s.filter.Match(e.field) {
			continue
		}
		select {
		case s.ch <- e:
		default:
			s.stop()
			x.end(s, ErrSlowSubscriber)
		}
	}
}

// end removes s, once, reporting err. x.mu must be held.
func (x *Exchange) end(s *subscription, err error) {
	if _, ok := x.subs[s]; !ok {
		return
	}
	delete(x.subs, s)
	if err != nil {
		s.errs <- err
	}
	close(s.errs)
	close(s.ch)
}

// OpenBacklog starts keeping events for subscribers yet to come; see
// Exchange. At most SubscriberBuffer events are kept.
func (x *Exchange) OpenBacklog() {
	x.mu.Lock()
	x.backlogOpen = true
	x.mu.Unlock()
}

// CloseBacklog stops keeping events and drops those kept.
func (x *Exchange) CloseBacklog() {
	x.mu.Lock()
	x.backlogOpen = false
	x.backlog = nil
	x.mu.Unlock()
}
