package shimapi_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"net"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/proto"
	ptypes "github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/shimapi/events"
	"github.com/seedrt/seed/shimapi/eventsttrpc"
	"github.com/seedrt/seed/shimapi/runcopts"
	"github.com/seedrt/seed/shimapi/runctypes"
	"github.com/seedrt/seed/shimapi/shimv1"
	"github.com/seedrt/seed/shimapi/task"
	"github.com/seedrt/seed/shimapi/types"
	tasktypes "github.com/seedrt/seed/shimapi/types/task"
	"github.com/seedrt/seed/shimapi/typeurl"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The bytes containerd's shim printed for `delete` in the reference logs:
// {1: 16859, 2: 137, 3: {1: 1795447529, 2: 94630470}}.
func TestDeleteResponseWire(t *testing.T) {
	want := mustHex(t, "08db8301"+"108901"+"1a0b"+"08e9b591d806"+"10c6e48f2d")
	msg := &task.DeleteResponse{
		Pid:        16859,
		ExitStatus: 137,
		ExitedAt:   time.Unix(1795447529, 94630470).UTC(),
	}
	got, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("DeleteResponse bytes\n got %x\nwant %x", got, want)
	}
	var back task.DeleteResponse
	if err := proto.Unmarshal(want, &back); err != nil {
		t.Fatal(err)
	}
	if back.Pid != 16859 || back.ExitStatus != 137 || !back.ExitedAt.Equal(msg.ExitedAt) {
		t.Fatalf("decoded %+v", back)
	}
}

// Field numbers of the main request, including a nested message, an enum and
// an Any, checked against a hand-made encoding.
func TestMessagesWire(t *testing.T) {
	opts, err := typeurl.MarshalAny(&runcopts.Options{BinaryName: "runc", SystemdCgroup: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		msg  proto.Message
		want string
	}{
		{"runc options", &runcopts.Options{BinaryName: "runc", SystemdCgroup: true},
			"3204" + hex.EncodeToString([]byte("runc")) + "4801"},
		{"create", &task.CreateTaskRequest{
			ID:      "c",
			Bundle:  "/b",
			Rootfs:  []*types.Mount{{Type: "bind", Source: "/s", Options: []string{"rbind"}}},
			Options: opts,
		},
			"0a0163" + "12022f62" +
				"1a11" + "0a0462696e64" + "12022f73" + "2205726269 6e64" +
				"5226" + "0a1a" + hex.EncodeToString([]byte("containerd.runc.v1.Options")) + "1208" + "32047275 6e634801"},
		{"state", &task.StateResponse{ID: "c", Status: tasktypes.StatusRunning, ExitedAt: time.Unix(0, 0), ExecID: "e"},
			"0a0163" + "2002" + "5200" + "5a0165"},
		{"exec added", &events.TaskExecAdded{ContainerID: "c", ExecID: "e"}, "0a0163" + "120165"},
		{"v1 start", &shimv1.StartResponse{ID: "c", Pid: 7}, "0a0163" + "1007"},
		{"v1 create options", &runctypes.CreateOptions{IoUid: 1, CriuImagePath: "/i"}, "5001" + "6a022f69"},
	} {
		want, err := hex.DecodeString(stripSpaces(tc.want))
		if err != nil {
			t.Fatal(err)
		}
		got, err := proto.Marshal(tc.msg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %x\nwant %x", tc.name, got, want)
		}
	}
}

func stripSpaces(s string) string {
	return string(bytes.ReplaceAll([]byte(s), []byte(" "), nil))
}

func TestMessageNames(t *testing.T) {
	for _, tc := range []struct {
		msg  proto.Message
		want string
	}{
		{&events.TaskExit{}, "containerd.events.TaskExit"},
		{&events.TaskCreate{}, "containerd.events.TaskCreate"},
		{&events.ContainerCreate_Runtime{}, "containerd.events.ContainerCreate.Runtime"},
		{&events.NamespaceDelete{}, "containerd.events.NamespaceDelete"},
		{&runcopts.Options{}, "containerd.runc.v1.Options"},
		{&runcopts.ProcessDetails{}, "containerd.runc.v1.ProcessDetails"},
		{&runctypes.RuncOptions{}, "containerd.linux.runc.RuncOptions"},
		{&runctypes.CreateOptions{}, "containerd.linux.runc.CreateOptions"},
		{&task.CreateTaskRequest{}, "containerd.task.v2.CreateTaskRequest"},
		{&task.DeleteResponse{}, "containerd.task.v2.DeleteResponse"},
		{&shimv1.CreateTaskRequest{}, "containerd.runtime.linux.shim.v1.CreateTaskRequest"},
		{&eventsttrpc.Envelope{}, "containerd.services.events.ttrpc.v1.Envelope"},
		{&types.Mount{}, "containerd.types.Mount"},
		{&types.Metric{}, "containerd.types.Metric"},
		{&tasktypes.Process{}, "containerd.v1.types.Process"},
	} {
		if got := proto.MessageName(tc.msg); got != tc.want {
			t.Errorf("MessageName(%T) = %q, want %q", tc.msg, got, tc.want)
		}
		a, err := typeurl.MarshalAny(tc.msg)
		if err != nil {
			t.Fatal(err)
		}
		if a.TypeUrl != tc.want {
			t.Errorf("typeurl.MarshalAny(%T).TypeUrl = %q, want %q", tc.msg, a.TypeUrl, tc.want)
		}
	}
}

func TestTypeURL(t *testing.T) {
	exit := &events.TaskExit{ContainerID: "c", ID: "c", Pid: 3, ExitStatus: 1, ExitedAt: time.Unix(5, 0).UTC()}
	a, err := typeurl.MarshalAny(exit)
	if err != nil {
		t.Fatal(err)
	}
	m, err := typeurl.UnmarshalAny(a)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := m.(*events.TaskExit); !ok || !reflect.DeepEqual(got, exit) {
		t.Fatalf("UnmarshalAny = %#v", m)
	}
	// gogo's own helper adds a prefix; ours accepts both forms.
	g, err := ptypes.MarshalAny(exit)
	if err != nil {
		t.Fatal(err)
	}
	if g.TypeUrl != "type.googleapis.com/containerd.events.TaskExit" {
		t.Fatalf("gogo MarshalAny url %q", g.TypeUrl)
	}
	var back events.TaskExit
	if err := typeurl.UnmarshalTo(g, &back); err != nil || !reflect.DeepEqual(&back, exit) {
		t.Fatalf("UnmarshalTo(prefixed) = %v, %+v", err, back)
	}
	if typeurl.Is(a, &events.TaskStart{}) {
		t.Fatal("Is matched the wrong type")
	}
	if err := typeurl.UnmarshalTo(a, &events.TaskStart{}); err == nil {
		t.Fatal("UnmarshalTo accepted the wrong type")
	}
	j, err := typeurl.MarshalJSON(typeurl.ProcessURL, map[string]interface{}{"cwd": "/"})
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Cwd string }
	if err := typeurl.UnmarshalJSON(j, typeurl.ProcessURL, &p); err != nil || p.Cwd != "/" {
		t.Fatalf("UnmarshalJSON = %v, %+v", err, p)
	}
}

// ttrpc plumbing shared by the round-trip tests.
type recorder struct {
	mu      sync.Mutex
	methods []string // full method names seen by the server
	payload [][]byte // request payloads sent by the client
}

func (r *recorder) server(ctx context.Context, unmarshal ttrpc.Unmarshaler, info *ttrpc.UnaryServerInfo, m ttrpc.Method) (interface{}, error) {
	r.mu.Lock()
	r.methods = append(r.methods, info.FullMethod)
	r.mu.Unlock()
	return m(ctx, unmarshal)
}

func (r *recorder) client(ctx context.Context, req *ttrpc.Request, resp *ttrpc.Response, _ *ttrpc.UnaryClientInfo, inv ttrpc.Invoker) error {
	r.mu.Lock()
	r.payload = append(r.payload, append([]byte(nil), req.Payload...))
	r.mu.Unlock()
	return inv(ctx, req, resp)
}

func serve(t *testing.T, register func(*ttrpc.Server)) (*ttrpc.Client, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv, err := ttrpc.NewServer(ttrpc.WithUnaryServerInterceptor(rec.server))
	if err != nil {
		t.Fatal(err)
	}
	register(srv)
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(context.Background(), l)
	t.Cleanup(func() { srv.Close() })
	conn, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := ttrpc.NewClient(conn, ttrpc.WithUnaryClientInterceptor(rec.client))
	t.Cleanup(func() { c.Close() })
	return c, rec
}

type fakeTask struct {
	task.TaskService // unimplemented methods panic
	gotCreate        *task.CreateTaskRequest
}

func (f *fakeTask) Create(ctx context.Context, r *task.CreateTaskRequest) (*task.CreateTaskResponse, error) {
	f.gotCreate = r
	return &task.CreateTaskResponse{Pid: 42}, nil
}

func (f *fakeTask) Delete(ctx context.Context, r *task.DeleteRequest) (*task.DeleteResponse, error) {
	return &task.DeleteResponse{Pid: 42, ExitStatus: 137, ExitedAt: time.Unix(1795447529, 94630470).UTC()}, nil
}

func (f *fakeTask) Kill(ctx context.Context, r *task.KillRequest) (*ptypes.Empty, error) {
	return &ptypes.Empty{}, nil
}

func TestTaskServiceRoundTrip(t *testing.T) {
	fake := &fakeTask{}
	c, rec := serve(t, func(s *ttrpc.Server) { task.RegisterTaskService(s, fake) })
	cl := task.NewTaskClient(c)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	opts, _ := typeurl.MarshalAny(&runcopts.Options{BinaryName: "runc"})
	cr, err := cl.Create(ctx, &task.CreateTaskRequest{ID: "demo", Bundle: "/b", Options: opts,
		Rootfs: []*types.Mount{{Type: "bind", Source: "/r", Options: []string{"rbind", "rw"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if cr.Pid != 42 || fake.gotCreate.ID != "demo" || len(fake.gotCreate.Rootfs) != 1 {
		t.Fatalf("create: resp %+v, server saw %+v", cr, fake.gotCreate)
	}
	var o runcopts.Options
	if err := typeurl.UnmarshalTo(fake.gotCreate.Options, &o); err != nil || o.BinaryName != "runc" {
		t.Fatalf("options: %v %+v", err, o)
	}
	dr, err := cl.Delete(ctx, &task.DeleteRequest{ID: "demo", ExecID: "e1"})
	if err != nil {
		t.Fatal(err)
	}
	if dr.ExitStatus != 137 || dr.ExitedAt.UnixNano() != 1795447529094630470 {
		t.Fatalf("delete: %+v", dr)
	}
	if _, err := cl.Kill(ctx, &task.KillRequest{ID: "demo", Signal: 9, All: true}); err != nil {
		t.Fatal(err)
	}
	want := []string{"/containerd.task.v2.Task/Create", "/containerd.task.v2.Task/Delete", "/containerd.task.v2.Task/Kill"}
	if len(rec.methods) != len(want) {
		t.Fatalf("methods %v", rec.methods)
	}
	for i := range want {
		if rec.methods[i] != want[i] {
			t.Errorf("method %d = %q, want %q", i, rec.methods[i], want[i])
		}
	}
	// DeleteRequest{id: "demo", exec_id: "e1"} and KillRequest{id, signal 9, all}.
	if got := hex.EncodeToString(rec.payload[1]); got != "0a0464656d6f"+"12026531" {
		t.Errorf("DeleteRequest payload %s", got)
	}
	if got := hex.EncodeToString(rec.payload[2]); got != "0a0464656d6f"+"1809"+"2001" {
		t.Errorf("KillRequest payload %s", got)
	}
}

type fakeEvents struct {
	got chan *eventsttrpc.ForwardRequest
	ns  chan string
}

func (f *fakeEvents) Forward(ctx context.Context, r *eventsttrpc.ForwardRequest) (*ptypes.Empty, error) {
	ns, _ := ttrpc.GetMetadataValue(ctx, "containerd-namespace-ttrpc")
	f.ns <- ns
	f.got <- r
	return &ptypes.Empty{}, nil
}

func TestEventsForwardRoundTrip(t *testing.T) {
	fake := &fakeEvents{got: make(chan *eventsttrpc.ForwardRequest, 1), ns: make(chan string, 1)}
	c, rec := serve(t, func(s *ttrpc.Server) { eventsttrpc.RegisterEventsService(s, fake) })
	ev, _ := typeurl.MarshalAny(&events.TaskExit{ContainerID: "demo", ID: "demo", Pid: 9, ExitStatus: 137})
	ctx := ttrpc.WithMetadata(context.Background(), ttrpc.MD{"containerd-namespace-ttrpc": {"ns1"}})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ts := time.Unix(100, 0).UTC()
	if _, err := eventsttrpc.NewEventsClient(c).Forward(ctx, &eventsttrpc.ForwardRequest{Envelope: &eventsttrpc.Envelope{
		Timestamp: ts, Namespace: "ns1", Topic: "/tasks/exit", Event: ev}}); err != nil {
		t.Fatal(err)
	}
	if ns := <-fake.ns; ns != "ns1" {
		t.Errorf("namespace metadata %q", ns)
	}
	got := <-fake.got
	if got.Envelope.Topic != "/tasks/exit" || !got.Envelope.Timestamp.Equal(ts) || got.Envelope.Event.TypeUrl != "containerd.events.TaskExit" {
		t.Fatalf("envelope %+v", got.Envelope)
	}
	if rec.methods[0] != "/containerd.services.events.ttrpc.v1.Events/Forward" {
		t.Errorf("method %q", rec.methods[0])
	}
}

type fakeShimV1 struct{ shimv1.ShimService }

func (fakeShimV1) ShimInfo(ctx context.Context, _ *ptypes.Empty) (*shimv1.ShimInfoResponse, error) {
	return &shimv1.ShimInfoResponse{ShimPid: 77}, nil
}

func TestShimV1RoundTrip(t *testing.T) {
	c, rec := serve(t, func(s *ttrpc.Server) { shimv1.RegisterShimService(s, fakeShimV1{}) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := shimv1.NewShimClient(c).ShimInfo(ctx, &ptypes.Empty{})
	if err != nil || r.ShimPid != 77 {
		t.Fatalf("ShimInfo = %+v, %v", r, err)
	}
	if rec.methods[0] != "/containerd.runtime.linux.shim.v1.Shim/ShimInfo" {
		t.Errorf("method %q", rec.methods[0])
	}
}
