package shim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/proto"
	ptypes "github.com/gogo/protobuf/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/seedrt/seed/oci"
	"github.com/seedrt/seed/shimapi/eventsttrpc"
	"github.com/seedrt/seed/shimapi/runcopts"
	"github.com/seedrt/seed/shimapi/task"
	"github.com/seedrt/seed/tests/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m, namespace) }

const namespace = "shimtest"

// daemon plays the daemon's part for a shim: the events socket it forwards
// to, and the directory its sockets derive from.
type daemon struct {
	t       *testing.T
	dir     string
	address string // the "gRPC" address the shim is told; only its path matters
	shimBin string
	events  *eventLog
}

func newDaemon(t *testing.T) *daemon {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "runc")
	bin := filepath.Join(testutil.BuildBinaries(t), "containerd-shim")
	dir := testutil.ShortTempDir(t)
	testutil.CheckNoLeaks(t, dir)
	d := &daemon{t: t, dir: dir, address: filepath.Join(dir, "d.sock"), shimBin: bin, events: &eventLog{}}
	d.events.serve(t, d.address+".ttrpc")
	return d
}

// shimTask is one task served by its own shim.
type shimTask struct {
	t      *testing.T
	d      *daemon
	id     string
	bundle string
	client task.TaskService
	conn   *ttrpc.Client
	stdio  *clientIO
}

// startShim makes a bundle running spec opts and starts a shim for it, as a
// daemon does: `containerd-shim ... start` in the bundle, dial what it prints.
func (d *daemon) startShim(opts ...oci.SpecOpt) *shimTask {
	t := d.t
	id := testutil.UniqueID(t)
	bundle := testutil.Bundle(t, id, append([]oci.SpecOpt{oci.WithNamespace(namespace)}, opts...)...)
	address := d.runShim(bundle, id, "start")
	conn, err := net.Dial("unix", strings.TrimPrefix(address, "unix://"))
	if err != nil {
		t.Fatalf("dial shim: %v", err)
	}
	st := &shimTask{t: t, d: d, id: id, bundle: bundle, conn: ttrpc.NewClient(conn)}
	st.client = task.NewTaskClient(st.conn)
	t.Cleanup(st.teardown)
	return st
}

func (d *daemon) runShim(bundle, id, action string) string {
	cmd := exec.Command(d.shimBin, "-namespace", namespace, "-id", id, "-address", d.address,
		"-publish-binary", "/nonexistent", action)
	cmd.Dir = bundle
	cmd.Env = append(os.Environ(), "TTRPC_ADDRESS="+d.address+".ttrpc")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		d.t.Fatalf("shim %s: %v: %s", action, err, stderr.String())
	}
	return string(out)
}

// teardown removes whatever the test left: kill, delete, shut the shim down.
func (st *shimTask) teardown() {
	ctx := context.Background()
	st.client.Kill(ctx, &task.KillRequest{ID: st.id, Signal: 9, All: true})
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	st.client.Wait(waitCtx, &task.WaitRequest{ID: st.id})
	cancel()
	st.client.Delete(ctx, &task.DeleteRequest{ID: st.id})
	st.client.Shutdown(ctx, &task.ShutdownRequest{ID: st.id, Now: true})
	st.conn.Close()
}

func (st *shimTask) runtimeOptions() *ptypes.Any {
	b, err := proto.Marshal(&runcopts.Options{Root: filepath.Join(st.d.dir, "runc")})
	if err != nil {
		st.t.Fatal(err)
	}
	return &ptypes.Any{TypeUrl: "containerd.runc.v1.Options", Value: b}
}

// create creates the task with the given stdio.
func (st *shimTask) create(cio *clientIO) *task.CreateTaskResponse {
	st.t.Helper()
	st.stdio = cio
	resp, err := st.client.Create(context.Background(), &task.CreateTaskRequest{
		ID: st.id, Bundle: st.bundle, Terminal: cio.Terminal,
		Stdin: cio.Stdin, Stdout: cio.Stdout, Stderr: cio.Stderr,
		Options: st.runtimeOptions(),
	})
	if err != nil {
		st.t.Fatalf("create: %v", err)
	}
	return resp
}

func (st *shimTask) start(execID string) uint32 {
	st.t.Helper()
	resp, err := st.client.Start(context.Background(), &task.StartRequest{ID: st.id, ExecID: execID})
	if err != nil {
		st.t.Fatalf("start %q: %v", execID, err)
	}
	return resp.Pid
}

func (st *shimTask) wait(execID string) uint32 {
	st.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := st.client.Wait(ctx, &task.WaitRequest{ID: st.id, ExecID: execID})
	if err != nil {
		st.t.Fatalf("wait %q: %v", execID, err)
	}
	return resp.ExitStatus
}

func (st *shimTask) state(execID string) *task.StateResponse {
	st.t.Helper()
	resp, err := st.client.State(context.Background(), &task.StateRequest{ID: st.id, ExecID: execID})
	if err != nil {
		st.t.Fatalf("state %q: %v", execID, err)
	}
	return resp
}

func (st *shimTask) exec(execID string, cio *clientIO, args ...string) {
	st.t.Helper()
	spec, err := json.Marshal(&specs.Process{Args: args, Cwd: "/", Env: []string{oci.DefaultPathEnv}, Terminal: cio.Terminal})
	if err != nil {
		st.t.Fatal(err)
	}
	_, err = st.client.Exec(context.Background(), &task.ExecProcessRequest{
		ID: st.id, ExecID: execID, Terminal: cio.Terminal,
		Stdin: cio.Stdin, Stdout: cio.Stdout, Stderr: cio.Stderr,
		Spec: &ptypes.Any{TypeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Process", Value: spec},
	})
	if err != nil {
		st.t.Fatalf("exec %q: %v", execID, err)
	}
}

func (st *shimTask) shimPid() int {
	resp, err := st.client.Connect(context.Background(), &task.ConnectRequest{ID: st.id})
	if err != nil {
		st.t.Fatalf("connect: %v", err)
	}
	return int(resp.ShimPid)
}

// clientIO is the client's side of a process's stdio.
type clientIO = testutil.FIFOs

func newIO(t *testing.T, withStdin, terminal bool) *clientIO {
	return testutil.NewFIFOs(t, withStdin, terminal)
}

// eventLog is the daemon's events service: it records every forwarded event.
type eventLog struct {
	mu     sync.Mutex
	topics []string
	events []*eventsttrpc.Envelope
}

func (l *eventLog) Forward(ctx context.Context, r *eventsttrpc.ForwardRequest) (*ptypes.Empty, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.topics = append(l.topics, r.Envelope.Topic)
	l.events = append(l.events, r.Envelope)
	return &ptypes.Empty{}, nil
}

func (l *eventLog) serve(t *testing.T, path string) {
	server, err := ttrpc.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	eventsttrpc.RegisterEventsService(server, l)
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	go server.Serve(context.Background(), lis)
	t.Cleanup(func() { server.Close() })
}

// topicsFor returns the topics of the events about container id, in order.
func (l *eventLog) topicsFor(id string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		if bytes.Contains(e.Event.Value, []byte(id)) {
			out = append(out, e.Topic)
		}
	}
	return out
}

func (st *shimTask) deleteExec(execID string) {
	st.t.Helper()
	if _, err := st.client.Delete(context.Background(), &task.DeleteRequest{ID: st.id, ExecID: execID}); err != nil {
		st.t.Fatalf("delete exec %q: %v", execID, err)
	}
}
