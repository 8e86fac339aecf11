package shim

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/seedrt/seed/shimapi/events"
)

var errRefused = errors.New("refused")

// recorder is a deliver function that fails while down is set and refuses
// the topics in refuse.
type recorder struct {
	mu      sync.Mutex
	down    bool
	refuse  map[string]bool
	got     []uint64
	retries int
}

func (r *recorder) deliver(ev queuedEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.down:
		return errors.New("down")
	case r.refuse[ev.topic]:
		return errRefused
	}
	r.got = append(r.got, ev.seq)
	return nil
}

func (r *recorder) delivered() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.got...)
}

func newTestQueue(r *recorder) *eventQueue {
	return newEventQueue(r.deliver, func(err error) bool { return errors.Is(err, errRefused) },
		func(queuedEvent, error, int) { r.mu.Lock(); r.retries++; r.mu.Unlock() })
}

func TestEventQueueRetriesInOrderAndDropsRefused(t *testing.T) {
	r := &recorder{down: true, refuse: map[string]bool{topicStart: true}}
	q := newTestQueue(r)
	defer q.Close()
	for _, topic := range []string{topicCreate, topicStart, topicExit} {
		if err := q.Publish(topic, &events.TaskExit{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if q.Flush(200 * time.Millisecond) {
		t.Fatal("flushed while delivery fails")
	}
	r.mu.Lock()
	r.down = false
	retried := r.retries > 0
	r.mu.Unlock()
	if !retried {
		t.Fatal("retrying not called")
	}
	if !q.Flush(10 * time.Second) {
		t.Fatal("not delivered")
	}
	if got := r.delivered(); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Fatalf("delivered %v, want [1 3] (2 refused)", got)
	}
}

func TestEventQueueBeforeAndClose(t *testing.T) {
	r := &recorder{down: true}
	q := newTestQueue(r)
	beforeErr := errors.New("not recorded")
	if err := q.Publish(topicExit, &events.TaskExit{}, func(uint64) error { return beforeErr }); err != beforeErr {
		t.Fatalf("Publish = %v, want the before error", err)
	}
	var seq uint64
	q.Publish(topicExit, &events.TaskExit{}, func(s uint64) error { seq = s; return nil })
	if seq != 2 {
		t.Fatalf("before saw seq %d, want 2", seq)
	}
	q.Close()
	if !q.Flush(0) {
		t.Fatal("Close left events queued")
	}
	if err := q.Publish(topicExit, &events.TaskExit{}, nil); err != nil || !q.Flush(0) {
		t.Fatalf("Publish after Close: %v, or queued", err)
	}
}

func TestEventQueueWithoutDestination(t *testing.T) {
	q := newEventQueue(nil, nil, nil)
	var seq uint64
	if err := q.Publish(topicExit, &events.TaskExit{}, func(s uint64) error { seq = s; return nil }); err != nil || seq != 1 {
		t.Fatalf("Publish: %v, seq %d", err, seq)
	}
	if !q.Flush(0) {
		t.Fatal("events queued with nowhere to go")
	}
}
