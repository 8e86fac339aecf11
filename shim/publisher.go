package shim

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/proto"
	"github.com/gogo/protobuf/types"
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

const (
	forwardTimeout = 5 * time.Second
	maxRetryDelay  = 2 * time.Second
)

// Publisher forwards task events to the daemon's ttrpc address, in order.
// Publishing never blocks the caller: events wait in a queue, which is
// retried until the daemon takes them, so events that happen while the daemon
// is down reach it once it is back.
type Publisher struct {
	address   string
	namespace string

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []queuedEvent
	seq     uint64
	closed  bool
	client  *ttrpc.Client
	service eventsttrpc.EventsService
}

type queuedEvent struct {
	seq uint64
	env *eventsttrpc.Envelope
}

// NewPublisher starts a publisher; address may be empty (events are dropped:
// nobody asked for them).
func NewPublisher(address, namespace string) *Publisher {
	p := &Publisher{address: strings.TrimPrefix(address, "unix://"), namespace: namespace}
	p.cond = sync.NewCond(&p.mu)
	if p.address != "" {
		go p.run()
	}
	return p
}

// Publish queues an event. before, if set, runs with the event's sequence
// number before the event is queued (the exit path records the exit there),
// under the publisher's lock so sequence order is queue order.
func (p *Publisher) Publish(topic string, event proto.Message, before func(seq uint64) error) error {
	value, err := proto.Marshal(event)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", topic, err)
	}
	env := &eventsttrpc.Envelope{
		Timestamp: time.Now().UTC(),
		Namespace: p.namespace,
		Topic:     topic,
		Event:     &types.Any{TypeUrl: proto.MessageName(event), Value: value},
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	seq := p.seq
	if before != nil {
		if err := before(seq); err != nil {
			return err
		}
	}
	if p.address == "" || p.closed {
		return nil
	}
	p.queue = append(p.queue, queuedEvent{seq: seq, env: env})
	p.cond.Broadcast()
	return nil
}

// Flush waits until every queued event was delivered, or timeout.
func (p *Publisher) Flush(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		n := len(p.queue)
		p.mu.Unlock()
		if n == 0 {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// Close stops delivery; queued events are dropped.
func (p *Publisher) Close() {
	p.mu.Lock()
	p.closed = true
	p.queue = nil
	p.cond.Broadcast()
	if p.client != nil {
		p.client.Close()
	}
	p.mu.Unlock()
}

func (p *Publisher) run() {
	delay := 50 * time.Millisecond
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && !p.closed {
			p.cond.Wait()
		}
		if p.closed {
			p.mu.Unlock()
			return
		}
		ev := p.queue[0]
		p.mu.Unlock()

		if err := p.forward(ev); err != nil && !rejected(err) {
			p.reset()
			time.Sleep(delay)
			delay = min(delay*2, maxRetryDelay)
			continue
		}
		delay = 50 * time.Millisecond
		p.mu.Lock()
		if len(p.queue) > 0 && p.queue[0].seq == ev.seq {
			p.queue = p.queue[1:]
		}
		p.mu.Unlock()
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
	fmt.Fprintf(os.Stderr, "daemon rejected event: %v\n", err)
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
	_, err = svc.Forward(ctx, &eventsttrpc.ForwardRequest{Envelope: ev.env})
	return err
}

func (p *Publisher) connect() (eventsttrpc.EventsService, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.service != nil {
		return p.service, nil
	}
	conn, err := net.DialTimeout("unix", p.address, forwardTimeout)
	if err != nil {
		return nil, fmt.Errorf("dial events address: %w", err)
	}
	p.client = ttrpc.NewClient(conn)
	p.service = eventsttrpc.NewEventsClient(p.client)
	return p.service, nil
}

// reset drops the connection after a failure, so the next try redials (the
// daemon may have restarted on the same address).
func (p *Publisher) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil {
		p.client.Close()
	}
	p.client, p.service = nil, nil
}
