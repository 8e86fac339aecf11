package events

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/coordinator/nsctx"
	"github.com/seedrt/seed/errdefs"
	shimevents "github.com/seedrt/seed/shimapi/events"
	"github.com/seedrt/seed/shimapi/typeurl"
)

func subscribe(t *testing.T, x *Exchange, ctx context.Context, filters ...string) (<-chan *Envelope, <-chan error) {
	t.Helper()
	ch, errs, err := x.Subscribe(ctx, filters...)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", filters, err)
	}
	return ch, errs
}

// publish publishes a TaskExit for container id; safe in any goroutine.
func publish(t *testing.T, x *Exchange, ns, topic, id string) {
	t.Helper()
	if err := x.Publish(nsctx.With(context.Background(), ns), topic, &shimevents.TaskExit{ContainerID: id}); err != nil {
		t.Errorf("Publish(%s, %s): %v", ns, topic, err)
	}
}

// recv returns the next envelope, failing after a timeout or on close.
func recv(t *testing.T, ch <-chan *Envelope) *Envelope {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("timeout waiting for an event")
	}
	return nil
}

// end waits for the subscription to end: ch drained and closed; it returns
// the reason from errs.
func end(t *testing.T, ch <-chan *Envelope, errs <-chan error) error {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return <-errs
			}
		case <-timeout:
			t.Fatal("timeout waiting for the subscription to end")
		}
	}
}

func containerID(t *testing.T, e *Envelope) string {
	t.Helper()
	var ev shimevents.TaskExit
	if err := typeurl.UnmarshalTo(e.Event, &ev); err != nil {
		t.Fatal(err)
	}
	return ev.ContainerID
}

func TestPublishEnvelope(t *testing.T) {
	x := NewExchange()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, _ := subscribe(t, x, ctx)

	before := time.Now()
	publish(t, x, "default", "/tasks/exit", "c1")
	e := recv(t, ch)
	if e.Namespace != "default" || e.Topic != "/tasks/exit" || e.Event.TypeUrl != "containerd.events.TaskExit" {
		t.Fatalf("envelope = %+v", e)
	}
	if e.Timestamp.Location() != time.UTC || e.Timestamp.Before(before.Add(-time.Second)) {
		t.Fatalf("timestamp = %v", e.Timestamp)
	}
	if containerID(t, e) != "c1" {
		t.Fatalf("event = %v", e.Event)
	}

	// An Any is published as is.
	a := &types.Any{TypeUrl: "x.Y", Value: []byte{1}}
	if err := x.Publish(nsctx.With(ctx, "default"), "/x", a); err != nil {
		t.Fatal(err)
	}
	if e := recv(t, ch); e.Event != a {
		t.Fatalf("event = %v, want %v", e.Event, a)
	}
}

func TestPublishErrors(t *testing.T) {
	x := NewExchange()
	ctx := nsctx.With(context.Background(), "default")
	check := func(err error) {
		t.Helper()
		if !errdefs.IsInvalidArgument(err) {
			t.Errorf("err = %v, want ErrInvalidArgument", err)
		}
	}
	ev := &shimevents.TaskExit{}
	check(x.Publish(context.Background(), "/tasks/exit", ev))
	check(x.Publish(nsctx.With(context.Background(), "bad/ns"), "/tasks/exit", ev))
	for _, topic := range []string{"", "/", "tasks/exit", "/tasks//exit", "/tasks/exit/", "/tasks/ex it"} {
		check(x.Publish(ctx, topic, ev))
	}
	check(x.Publish(ctx, "/tasks/exit", (*types.Any)(nil)))
	check(x.Publish(ctx, "/tasks/exit", nil))
}

func TestForward(t *testing.T) {
	x := NewExchange()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, _ := subscribe(t, x, ctx, `namespace==k8s.io`)

	good := exitEnvelope(t, "k8s.io", "/tasks/exit", "c1")
	if err := x.Forward(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	e := recv(t, ch)
	if e == good || *e != *good {
		t.Fatalf("got %+v, want a copy of %+v", e, good)
	}

	for _, mutate := range []func(e *Envelope){
		func(e *Envelope) { e.Namespace = "" },
		func(e *Envelope) { e.Namespace = "a/b" },
		func(e *Envelope) { e.Topic = "tasks" },
		func(e *Envelope) { e.Timestamp = time.Time{} },
		func(e *Envelope) { e.Event = nil },
	} {
		bad := *good
		mutate(&bad)
		if err := x.Forward(context.Background(), &bad); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Forward(%+v) = %v, want ErrInvalidArgument", bad, err)
		}
	}
	if err := x.Forward(context.Background(), nil); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Forward(nil) = %v", err)
	}
}

func TestSubscribeBadFilter(t *testing.T) {
	x := NewExchange()
	_, _, err := x.Subscribe(context.Background(), `topic==`)
	if !errdefs.IsInvalidArgument(err) {
		t.Fatalf("err = %v, want ErrInvalidArgument", err)
	}
	if len(x.subs) != 0 {
		t.Fatal("a failed Subscribe left a subscriber")
	}
}

func TestFiltersAndNamespaces(t *testing.T) {
	x := NewExchange()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	all, _ := subscribe(t, x, ctx)
	exits, _ := subscribe(t, x, ctx, `topic=="/tasks/exit"`)
	k8s, _ := subscribe(t, x, ctx, `namespace=="k8s.io"`)
	either, _ := subscribe(t, x, ctx, `namespace==k8s.io,topic~="^/tasks/"`, `topic=="/containers/create"`)

	publish(t, x, "default", "/tasks/exit", "1")
	publish(t, x, "k8s.io", "/tasks/start", "2")
	publish(t, x, "default", "/containers/create", "3")
	publish(t, x, "k8s.io", "/tasks/exit", "4")
	cancel()

	for _, tc := range []struct {
		name string
		ch   <-chan *Envelope
		want string
	}{
		{"all", all, "1234"},
		{"exits", exits, "14"},
		{"k8s", k8s, "24"},
		{"either", either, "234"},
	} {
		got := ""
		for e := range tc.ch {
			got += containerID(t, e)
		}
		if got != tc.want {
			t.Errorf("%s got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestOrderWithConcurrentPublishers(t *testing.T) {
	const publishers, each = 8, 100 // well within SubscriberBuffer
	x := NewExchange()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, _ := subscribe(t, x, ctx)
	b, _ := subscribe(t, x, ctx)

	var wg sync.WaitGroup
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				publish(t, x, "default", "/test", fmt.Sprintf("%d-%d", p, i))
			}
		}()
	}
	wg.Wait()

	var seqA, seqB []string
	for i := 0; i < publishers*each; i++ {
		seqA = append(seqA, containerID(t, recv(t, a)))
		seqB = append(seqB, containerID(t, recv(t, b)))
	}
	// Every subscriber sees the same order, and each publisher's events in
	// the order it published them.
	next := make(map[int]int)
	for i := range seqA {
		if seqA[i] != seqB[i] {
			t.Fatalf("event %d: %s vs %s", i, seqA[i], seqB[i])
		}
		var p, n int
		fmt.Sscanf(seqA[i], "%d-%d", &p, &n)
		if n != next[p] {
			t.Fatalf("publisher %d: got event %d, want %d", p, n, next[p])
		}
		next[p]++
	}
}

func TestSlowSubscriberDropped(t *testing.T) {
	x := NewExchange()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow, slowErrs := subscribe(t, x, ctx)
	fast, fastErrs := subscribe(t, x, ctx)

	// Fill both buffers, let the fast one catch up, then overflow the slow
	// one: the publisher must not block.
	const extra = 100
	publishAll := func(from, to int) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := from; i < to; i++ {
				publish(t, x, "default", "/test", fmt.Sprint(i))
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("publisher blocked")
		}
	}
	publishAll(0, SubscriberBuffer)
	for i := 0; i < SubscriberBuffer; i++ {
		recv(t, fast)
	}
	publishAll(SubscriberBuffer, SubscriberBuffer+extra)
	for i := SubscriberBuffer; i < SubscriberBuffer+extra; i++ {
		if id := containerID(t, recv(t, fast)); id != fmt.Sprint(i) {
			t.Fatalf("fast subscriber: event %s, want %d", id, i)
		}
	}

	// The slow one gets what fit in its buffer, then the error.
	n := 0
	for e := range slow {
		if id := containerID(t, e); id != fmt.Sprint(n) {
			t.Fatalf("slow subscriber: event %s, want %d", id, n)
		}
		n++
	}
	if n != SubscriberBuffer {
		t.Fatalf("slow subscriber got %d events, want %d", n, SubscriberBuffer)
	}
	err := <-slowErrs
	if !errors.Is(err, ErrSlowSubscriber) || !errdefs.IsUnavailable(err) {
		t.Fatalf("slow subscriber error = %v", err)
	}

	cancel()
	if err := end(t, fast, fastErrs); err != nil {
		t.Fatalf("fast subscriber error = %v", err)
	}
}

func TestContextEndsSubscription(t *testing.T) {
	x := NewExchange()

	ctx, cancel := context.WithCancel(context.Background())
	ch, errs := subscribe(t, x, ctx)
	cancel()
	if err := end(t, ch, errs); err != nil {
		t.Fatalf("canceled: err = %v, want nil", err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	ch, errs = subscribe(t, x, ctx)
	if err := end(t, ch, errs); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: err = %v", err)
	}

	// Already done before subscribing.
	ch, errs = subscribe(t, x, ctx)
	if err := end(t, ch, errs); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("already done: err = %v", err)
	}

	// Publishing after the end is fine.
	publish(t, x, "default", "/test", "x")
	x.mu.Lock()
	n := len(x.subs)
	x.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d subscribers left", n)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()

	x := NewExchange()
	var cancels []context.CancelFunc
	for i := 0; i < 50; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		cancels = append(cancels, cancel)
		subscribe(t, x, ctx, `topic~="^/a"`)
		subscribe(t, x, ctx)
	}
	for i := 0; i < SubscriberBuffer+1; i++ { // drops the unfiltered ones
		publish(t, x, "default", "/b", "x")
	}
	for _, cancel := range cancels {
		cancel()
	}

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d before, %d after", before, runtime.NumGoroutine())
		}
		time.Sleep(10 * time.Millisecond)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.subs) != 0 {
		t.Fatalf("%d subscribers left", len(x.subs))
	}
}
