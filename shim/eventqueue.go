package shim

import (
	"fmt"
	"sync"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/gogo/protobuf/types"
)

const (
	minRetryDelay = 50 * time.Millisecond
	maxRetryDelay = 2 * time.Second
)

// eventQueue is the delivery queue behind both publishers (Publisher and
// ExecPublisher): events are numbered and queued by Publish, which never
// blocks on delivery, and delivered one at a time in order by a goroutine
// that retries each (50 ms doubling to 2 s) until it is delivered or
// refused for good, so events that happen while the daemon is down reach
// it once it is back.
type eventQueue struct {
	// deliver makes one attempt at delivering ev; nil means delivered. A
	// nil deliver drops every event (nobody asked for them).
	deliver func(ev queuedEvent) error
	// permanent tells a refusal that retrying cannot change (the event is
	// logged and dropped) from a failure to reach the daemon (retried).
	permanent func(err error) bool
	// retrying, if set, runs after each failed attempt that will be
	// retried; attempt counts from 0 for each event.
	retrying func(ev queuedEvent, err error, attempt int)

	mu     sync.Mutex
	cond   *sync.Cond
	queue  []queuedEvent
	seq    uint64
	closed bool
}

// queuedEvent is one event waiting for delivery.
type queuedEvent struct {
	seq       uint64
	topic     string
	timestamp time.Time  // when it was published (UTC)
	event     *types.Any // with its bare type URL, e.g. "containerd.events.TaskExit"
}

// newEventQueue starts a queue delivering through deliver (see the fields
// of eventQueue); retrying may be nil.
func newEventQueue(deliver func(queuedEvent) error, permanent func(error) bool,
	retrying func(ev queuedEvent, err error, attempt int)) *eventQueue {
	q := &eventQueue{deliver: deliver, permanent: permanent, retrying: retrying}
	q.cond = sync.NewCond(&q.mu)
	if deliver != nil {
		go q.run()
	}
	return q
}

// Publish queues an event. before, if set, runs with the event's sequence
// number before the event is queued (the exit path records the exit there),
// under the queue's lock so sequence order is queue order.
func (q *eventQueue) Publish(topic string, event proto.Message, before func(seq uint64) error) error {
	value, err := proto.Marshal(event)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", topic, err)
	}
	ev := queuedEvent{
		topic:     topic,
		timestamp: time.Now().UTC(),
		event:     &types.Any{TypeUrl: proto.MessageName(event), Value: value},
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	ev.seq = q.seq
	if before != nil {
		if err := before(ev.seq); err != nil {
			return err
		}
	}
	if q.deliver == nil || q.closed {
		return nil
	}
	q.queue = append(q.queue, ev)
	q.cond.Broadcast()
	return nil
}

// Flush waits until every queued event was delivered, or timeout.
func (q *eventQueue) Flush(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		q.mu.Lock()
		n := len(q.queue)
		q.mu.Unlock()
		if n == 0 {
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Close stops delivery; queued events are dropped.
func (q *eventQueue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.queue = nil
	q.cond.Broadcast()
}

func (q *eventQueue) run() {
	delay, attempt := minRetryDelay, 0
	for {
		ev, ok := q.next()
		if !ok {
			return
		}
		if err := q.deliver(ev); err != nil {
			if !q.permanent(err) {
				if q.retrying != nil {
					q.retrying(ev, err, attempt)
				}
				attempt++
				time.Sleep(delay)
				delay = min(delay*2, maxRetryDelay)
				continue
			}
			logf("daemon rejected %s event %d: %v", ev.topic, ev.seq, err)
		}
		delay, attempt = minRetryDelay, 0
		q.remove(ev.seq)
	}
}

// next waits for the event at the head of the queue; false once closed.
func (q *eventQueue) next() (queuedEvent, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.queue) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return queuedEvent{}, false
	}
	return q.queue[0], true
}

// remove takes the delivered event seq off the head of the queue (unless
// Close emptied it meanwhile).
func (q *eventQueue) remove(seq uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.queue) > 0 && q.queue[0].seq == seq {
		q.queue = q.queue[1:]
	}
}
