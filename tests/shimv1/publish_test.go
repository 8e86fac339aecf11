package shimv1_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	ptypes "github.com/gogo/protobuf/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	api "github.com/seedrt/seed/api/services/events/v1"
	"github.com/seedrt/seed/oci"
	"github.com/seedrt/seed/shimapi/events"
	"github.com/seedrt/seed/tests/testutil"
)

// eventsServer is a daemon's gRPC Events service that records what is
// forwarded to it; it rejects the topic /rejected.
type eventsServer struct {
	api.UnimplementedEventsServer
	mu   sync.Mutex
	envs []*api.Envelope
}

func (s *eventsServer) Forward(_ context.Context, r *api.ForwardRequest) (*ptypes.Empty, error) {
	if r.Envelope.Topic == "/rejected" {
		return nil, status.Error(codes.InvalidArgument, "topic /rejected is not accepted")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.envs = append(s.envs, r.Envelope)
	return &ptypes.Empty{}, nil
}

func (s *eventsServer) received() []*api.Envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*api.Envelope(nil), s.envs...)
}

func serveEvents(t *testing.T, path string) *eventsServer {
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	es := &eventsServer{}
	api.RegisterEventsServer(srv, es)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return es
}

// publish runs our daemon's `publish` subcommand with event on stdin.
func publish(t *testing.T, bin, address, topic string, stdin []byte) (int, string) {
	cmd := exec.Command(filepath.Join(bin, "containerd"), "--address", address, "publish", "--topic", topic, "--namespace", "ns1")
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run containerd publish: %v", err)
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

func TestPublishSubcommand(t *testing.T) {
	bin := testutil.BuildBinaries(t)
	dir := testutil.ShortTempDir(t)
	address := filepath.Join(dir, "d.sock")
	value, _ := proto.Marshal(&events.TaskExit{ContainerID: "c1", ID: "c1", Pid: 42, ExitStatus: 3})
	event, _ := proto.Marshal(&ptypes.Any{TypeUrl: "containerd.events.TaskExit", Value: value})

	// No daemon: status 1 (the shim retries), saying so.
	if code, out := publish(t, bin, address, "/tasks/exit", event); code != 1 || !strings.Contains(out, "unreachable") {
		t.Fatalf("publish without a daemon: exit %d, output %q; want 1 and a message saying it is unreachable", code, out)
	}

	es := serveEvents(t, address)
	before := time.Now()
	if code, out := publish(t, bin, "unix://"+address, "/tasks/exit", event); code != 0 {
		t.Fatalf("publish: exit %d: %s", code, out)
	}
	envs := es.received()
	if len(envs) != 1 {
		t.Fatalf("daemon received %d envelopes, want 1", len(envs))
	}
	env := envs[0]
	if env.Namespace != "ns1" || env.Topic != "/tasks/exit" || env.Timestamp.Before(before.Add(-time.Second)) || env.Timestamp.After(time.Now()) {
		t.Fatalf("envelope %+v", env)
	}
	if env.Event.TypeUrl != "containerd.events.TaskExit" || !bytes.Equal(env.Event.Value, value) {
		t.Fatalf("event %v, want the Any from stdin", env.Event)
	}

	// What retrying cannot fix: status 2.
	if code, out := publish(t, bin, address, "/rejected", event); code != 2 || !strings.Contains(out, "rejected") {
		t.Fatalf("publish of a rejected event: exit %d, output %q; want 2", code, out)
	}
	if code, _ := publish(t, bin, address, "/tasks/exit", []byte("\xff\xff not protobuf")); code != 2 {
		t.Fatalf("publish of garbage: exit %d, want 2", code)
	}
	if code, _ := publish(t, bin, address, "", event); code != 2 {
		t.Fatalf("publish without a topic: exit %d, want 2", code)
	}
	if n := len(es.received()); n != 1 {
		t.Fatalf("daemon received %d envelopes, want still 1", n)
	}
}

// A v1 shim told -containerd-binary OUR_DAEMON publishes its exits through
// our daemon's `publish` to the daemon's gRPC Events service. This shim
// serves on -socket rather than an inherited fd 3.
func TestShimPublishesThroughDaemonBinary(t *testing.T) {
	h := newHarness(t)
	h.binary = filepath.Join(h.bins, "containerd")
	es := serveEvents(t, h.address)
	st := h.startShim(shimOpts{socketFlag: true}, oci.WithArgs("/bin/sh", "-c", "exit 3"))
	created := st.create(newIO(t, false))
	st.start(st.id)
	if code := st.wait(st.id); code != 3 {
		t.Fatalf("exit %d, want 3", code)
	}
	st.delete()
	envs := es.received()
	if len(envs) != 1 || envs[0].Topic != "/tasks/exit" || envs[0].Namespace != namespace {
		t.Fatalf("daemon received %v, want one /tasks/exit in %s", envs, namespace)
	}
	var e events.TaskExit
	if err := proto.Unmarshal(envs[0].Event.Value, &e); err != nil || envs[0].Event.TypeUrl != "containerd.events.TaskExit" {
		t.Fatalf("event %v: %v", envs[0].Event, err)
	}
	if e.ContainerID != st.id || e.ID != st.id || e.Pid != created.Pid || e.ExitStatus != 3 {
		t.Fatalf("exit event %+v", e)
	}
}
