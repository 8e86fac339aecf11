package events

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/proto"
	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	api "github.com/seedrt/seed/api/services/events/v1"
	"github.com/seedrt/seed/coordinator/events"
	"github.com/seedrt/seed/coordinator/nsctx"
	shimevents "github.com/seedrt/seed/shimapi/events"
	"github.com/seedrt/seed/shimapi/eventsttrpc"
	"github.com/seedrt/seed/shimapi/typeurl"
)

type forwarded struct {
	ns, topic string
	seq       uint64
}

type harness struct {
	x      *events.Exchange
	client api.EventsClient
	shim   eventsttrpc.EventsService

	mu   sync.Mutex
	seen []forwarded // what onForward saw
}

// onForward records each call and suppresses repeated sequence numbers.
func (h *harness) onForward(ctx context.Context, env *events.Envelope, seq uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range h.seen {
		if seq != 0 && f.seq == seq {
			return false
		}
	}
	h.seen = append(h.seen, forwarded{env.Namespace, env.Topic, seq})
	return true
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir, err := os.MkdirTemp("", "seed-ev") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	h := &harness{x: events.NewExchange()}

	gs := grpc.NewServer()
	Register(gs, h.x)
	gl, err := net.Listen("unix", filepath.Join(dir, "grpc.sock"))
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(gl)
	t.Cleanup(gs.Stop)

	conn, err := grpc.Dial("unix://"+filepath.Join(dir, "grpc.sock"),
		grpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h.client = api.NewEventsClient(conn)

	ts, err := ttrpc.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	RegisterTTRPC(ts, h.x, h.onForward)
	tl, err := net.Listen("unix", filepath.Join(dir, "ttrpc.sock"))
	if err != nil {
		t.Fatal(err)
	}
	go ts.Serve(context.Background(), tl)
	t.Cleanup(func() { ts.Close() })

	tc, err := net.Dial("unix", filepath.Join(dir, "ttrpc.sock"))
	if err != nil {
		t.Fatal(err)
	}
	tclient := ttrpc.NewClient(tc)
	t.Cleanup(func() { tclient.Close() })
	h.shim = eventsttrpc.NewEventsClient(tclient)
	return h
}

// subscribe opens a stream and waits until the subscription is in place.
func (h *harness) subscribe(t *testing.T, ctx context.Context, filters ...string) api.Events_SubscribeClient {
	t.Helper()
	stream, err := h.client.Subscribe(ctx, &api.SubscribeRequest{Filters: filters})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Header(); err != nil {
		t.Fatal(err)
	}
	return stream
}

func mustAny(t *testing.T, m proto.Message) *types.Any {
	t.Helper()
	a, err := typeurl.MarshalAny(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// shimForward forwards like a shim: namespace (and seq) metadata.
func (h *harness) shimForward(ctx context.Context, ns, seq, topic string, ev *types.Any) error {
	md := ttrpc.MD{nsctx.TTRPCHeader: {ns}}
	if seq != "" {
		md[SeqHeader] = []string{seq}
	}
	_, err := h.shim.Forward(ttrpc.WithMetadata(ctx, md), &eventsttrpc.ForwardRequest{
		Envelope: &eventsttrpc.Envelope{Timestamp: time.Now().UTC(), Namespace: ns, Topic: topic, Event: ev},
	})
	return err
}

func TestPublishForwardSubscribe(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream := h.subscribe(t, ctx, `topic~="^/tasks/"`)
	gns := nsctx.Outgoing(ctx, "gns")

	// Through gRPC Publish, in the namespace of the header.
	if _, err := h.client.Publish(gns, &api.PublishRequest{
		Topic: "/tasks/start", Event: mustAny(t, &shimevents.TaskStart{ContainerID: "c1", Pid: 1}),
	}); err != nil {
		t.Fatal(err)
	}
	// Filtered out.
	if _, err := h.client.Publish(gns, &api.PublishRequest{
		Topic: "/containers/create", Event: mustAny(t, &shimevents.ContainerCreate{ID: "c1"}),
	}); err != nil {
		t.Fatal(err)
	}
	// Through ttrpc Forward, as our shim does; then its duplicate, suppressed.
	exit := mustAny(t, &shimevents.TaskExit{ContainerID: "c1", ExitStatus: 3})
	for i := 0; i < 2; i++ {
		if err := h.shimForward(ctx, "tns", "7", "/tasks/exit", exit); err != nil {
			t.Fatal(err)
		}
	}
	// As containerd's shims do, without sequence numbers.
	if err := h.shimForward(ctx, "tns", "", "/tasks/delete", mustAny(t, &shimevents.TaskDelete{ContainerID: "c1"})); err != nil {
		t.Fatal(err)
	}
	// Through gRPC Forward.
	if _, err := h.client.Forward(ctx, &api.ForwardRequest{Envelope: &api.Envelope{
		Timestamp: time.Now(), Namespace: "fns", Topic: "/tasks/oom", Event: mustAny(t, &shimevents.TaskOOM{ContainerID: "c1"}),
	}}); err != nil {
		t.Fatal(err)
	}

	for _, want := range []struct{ ns, topic, typ string }{
		{"gns", "/tasks/start", "containerd.events.TaskStart"},
		{"tns", "/tasks/exit", "containerd.events.TaskExit"},
		{"tns", "/tasks/delete", "containerd.events.TaskDelete"},
		{"fns", "/tasks/oom", "containerd.events.TaskOOM"},
	} {
		e, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if e.Namespace != want.ns || e.Topic != want.topic || e.Event.TypeUrl != want.typ || e.Timestamp.IsZero() {
			t.Fatalf("got %s %s %s at %v, want %+v", e.Namespace, e.Topic, e.Event.TypeUrl, e.Timestamp, want)
		}
	}

	h.mu.Lock()
	seen := h.seen
	h.mu.Unlock()
	if len(seen) != 2 || seen[0] != (forwarded{"tns", "/tasks/exit", 7}) || seen[1] != (forwarded{"tns", "/tasks/delete", 0}) {
		t.Fatalf("onForward saw %+v", seen)
	}
}

func TestNamespaceFilter(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream := h.subscribe(t, ctx, `namespace==b`)
	for _, ns := range []string{"a", "b"} {
		if _, err := h.client.Publish(nsctx.Outgoing(ctx, ns), &api.PublishRequest{
			Topic: "/test", Event: mustAny(t, &shimevents.TaskStart{ContainerID: ns}),
		}); err != nil {
			t.Fatal(err)
		}
	}
	e, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if e.Namespace != "b" {
		t.Fatalf("got namespace %q", e.Namespace)
	}
}

func TestErrors(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ev := mustAny(t, &shimevents.TaskStart{ContainerID: "c1"})
	invalid := func(what string, err error) {
		t.Helper()
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: err = %v, want InvalidArgument", what, err)
		}
	}

	_, err := h.client.Publish(ctx, &api.PublishRequest{Topic: "/test", Event: ev})
	invalid("publish without namespace", err)
	_, err = h.client.Publish(nsctx.Outgoing(ctx, "a"), &api.PublishRequest{Topic: "test", Event: ev})
	invalid("publish bad topic", err)
	_, err = h.client.Publish(nsctx.Outgoing(ctx, "a"), &api.PublishRequest{Topic: "/test"})
	invalid("publish without event", err)
	_, err = h.client.Forward(ctx, &api.ForwardRequest{})
	invalid("forward without envelope", err)
	_, err = h.client.Forward(ctx, &api.ForwardRequest{Envelope: &api.Envelope{Timestamp: time.Now(), Topic: "/test", Event: ev}})
	invalid("forward without namespace", err)

	stream, err := h.client.Subscribe(ctx, &api.SubscribeRequest{Filters: []string{`topic==`}})
	if err == nil {
		_, err = stream.Recv()
	}
	invalid("subscribe bad filter", err)

	invalid("ttrpc forward bad seq", h.shimForward(ctx, "a", "x", "/test", ev))
	invalid("ttrpc forward bad topic", h.shimForward(ctx, "a", "1", "test", ev))
	invalid("ttrpc forward bad namespace", h.shimForward(ctx, "-a", "1", "/test", ev))
	_, err = h.shim.Forward(ctx, &eventsttrpc.ForwardRequest{})
	invalid("ttrpc forward without envelope", err)
	if len(h.seen) != 0 {
		t.Errorf("onForward called for invalid events: %+v", h.seen)
	}
}

func TestSlowClientDropped(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stream := h.subscribe(t, ctx)

	// Without reading, the client soon holds up the server's sends (flow
	// control); past the exchange's buffer the subscription is dropped.
	big := &types.Any{TypeUrl: "test.Big", Value: make([]byte, 16<<10)}
	pctx := nsctx.With(ctx, "a")
	for i := 0; i < 4*events.SubscriberBuffer; i++ {
		if err := h.x.Publish(pctx, "/test", big); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	for err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "subscriber too slow") {
		t.Fatalf("err = %v, want Unavailable: subscriber too slow", err)
	}
}
