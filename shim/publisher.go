package shim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seedrt/seed/shimapi/eventsttrpc"
)

// Metadata keys on every forwarded event. The namespace key is containerd's;
// the sequence key is ours, and a containerd daemon simply ignores it.
const (
	namespaceKey = "containerd-namespace-ttrpc"
	sequenceKey  = "seed-event-seq"
)

const forwardTimeout = 5 * time.Second

// Publisher forwards task events to the daemon's ttrpc address, in order,
// through an eventQueue: Publish never blocks the caller, and an event is
// retried until the daemon takes it or refuses it.
type Publisher struct {
	*eventQueue
	address   string
	namespace string

	mu      sync.Mutex // guards the connection
	closed  bool
	client  *ttrpc.Client
	service eventsttrpc.EventsService
}

// NewPublisher starts a publisher; address may be empty (events are dropped:
// nobody asked for them).
func NewPublisher(address, namespace string) *Publisher {
	p := &Publisher{address: strings.TrimPrefix(address, "unix://"), namespace: namespace}
	var deliver func(queuedEvent) error
	if p.address != "" {
		deliver = p.forward
	}
	// After a failure, the next try redials: the daemon may have restarted
	// on the same address.
	p.eventQueue = newEventQueue(deliver, rejected, func(queuedEvent, error, int) { p.reset() })
	return p
}

// Close stops delivery; queued events are dropped.
func (p *Publisher) Close() {
	p.eventQueue.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.client != nil {
		p.client.Close()
	}
}

// rejected tells an answer from the daemon (which retrying cannot change)
// from a failure to reach it.
func rejected(err error) bool {
	s, ok := status.FromError(err)
	if !ok {
		return false
	}
	switch s.Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Unknown:
		return false
	}
	return true
}

func (p *Publisher) forward(ev queuedEvent) error {
	svc, err := p.connect()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
	defer cancel()
	ctx = ttrpc.WithMetadata(ctx, ttrpc.MD{
		namespaceKey: []string{p.namespace},
		sequenceKey:  []string{strconv.FormatUint(ev.seq, 10)},
	})
	_, err = svc.Forward(ctx, &eventsttrpc.ForwardRequest{Envelope: &eventsttrpc.Envelope{
		Timestamp: ev.timestamp,
		Namespace: p.namespace,
		Topic:     ev.topic,
		Event:     ev.event,
	}})
	return err
}

func (p *Publisher) connect() (eventsttrpc.EventsService, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.service != nil {
		return p.service, nil
	}
	if p.closed {
		return nil, errors.New("publisher closed")
	}
	conn, err := net.DialTimeout("unix", p.address, forwardTimeout)
	if err != nil {
		return nil, fmt.Errorf("dial events address: %w", err)
	}
	p.client = ttrpc.NewClient(conn)
	p.service = eventsttrpc.NewEventsClient(p.client)
	return p.service, nil
}

// reset drops the connection, so that the next try redials.
func (p *Publisher) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil {
		p.client.Close()
	}
	p.client, p.service = nil, nil
}
