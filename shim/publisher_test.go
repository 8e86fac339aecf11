package shim

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seedrt/seed/shimapi/events"
	"github.com/seedrt/seed/shimapi/eventsttrpc"
)

// ttrpcDaemon records the events forwarded to it, with their sequence
// metadata; it rejects the topic /tasks/start.
type ttrpcDaemon struct {
	mu   sync.Mutex
	envs []*eventsttrpc.Envelope
	seqs []string
}

func (d *ttrpcDaemon) Forward(ctx context.Context, r *eventsttrpc.ForwardRequest) (*types.Empty, error) {
	if r.Envelope.Topic == topicStart {
		return nil, status.Error(codes.InvalidArgument, "not accepted")
	}
	md, _ := ttrpc.GetMetadata(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.envs = append(d.envs, r.Envelope)
	d.seqs = append(d.seqs, md[sequenceKey]...)
	return &types.Empty{}, nil
}

func serveTTRPCEvents(t *testing.T, path string) *ttrpcDaemon {
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ttrpc.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	d := &ttrpcDaemon{}
	eventsttrpc.RegisterEventsService(srv, d)
	go srv.Serve(context.Background(), l)
	t.Cleanup(func() { srv.Close() })
	return d
}

func TestPublisherForwardsOnceTheDaemonIsUp(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "d.sock.ttrpc")
	p := NewPublisher("unix://"+sock, "ns1")
	defer p.Close()
	for i, topic := range []string{topicCreate, topicStart, topicExit} {
		if err := p.Publish(topic, &events.TaskExit{ContainerID: "c", Pid: uint32(i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if p.Flush(200 * time.Millisecond) {
		t.Fatal("flushed with no daemon listening")
	}
	d := serveTTRPCEvents(t, sock)
	if !p.Flush(10 * time.Second) {
		t.Fatal("not delivered once the daemon is up")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.envs) != 2 || d.envs[0].Topic != topicCreate || d.envs[1].Topic != topicExit {
		t.Fatalf("delivered %v, want create and exit (start rejected)", d.envs)
	}
	if d.seqs[0] != "1" || d.seqs[1] != "3" || d.envs[1].Namespace != "ns1" ||
		d.envs[1].Event.TypeUrl != "containerd.events.TaskExit" || d.envs[1].Timestamp.IsZero() {
		t.Fatalf("envelope %+v, seqs %v", d.envs[1], d.seqs)
	}
}
