// Package shimv1 tests our containerd-shim as a v1 shim
// (io.containerd.runtime.v1.linux): started the way containerd 1.6 starts
// one, driven over containerd.runtime.linux.shim.v1.Shim, publishing its
// events through `DAEMON --address A publish`; and driven by Debian's
// containerd 1.6 itself.
package shimv1_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/proto"
	ptypes "github.com/gogo/protobuf/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/seedrt/seed/oci"
	"github.com/seedrt/seed/shimapi/events"
	"github.com/seedrt/seed/shimapi/shimv1"
	"github.com/seedrt/seed/tests/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m, namespace) }

const namespace = "shimv1test"

// harness plays containerd's v1 runtime for our shims: it creates each
// shim's socket, starts the shim with the v1 flags and hands the socket
// over as fd 3. The daemon binary the shims run to publish events is by
// default a script that records them (see newFakePublisher).
type harness struct {
	t        *testing.T
	dir      string
	bins     string
	address  string // the daemon's gRPC address the shims are told
	runcRoot string // -runtime-root
	binary   string // -containerd-binary
	pub      *fakePublisher
}

func newHarness(t *testing.T) *harness {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "runc")
	bins := testutil.BuildBinaries(t)
	dir := testutil.ShortTempDir(t)
	testutil.CheckNoLeaks(t, dir)
	h := &harness{t: t, dir: dir, bins: bins, address: filepath.Join(dir, "d.sock"), runcRoot: filepath.Join(dir, "runc")}
	h.pub = newFakePublisher(t, filepath.Join(dir, "pub"))
	h.binary = h.pub.binary
	return h
}

// v1Task is one container served by its own v1 shim.
type v1Task struct {
	t       *testing.T
	h       *harness
	id      string
	bundle  string
	socket  string
	cmd     *exec.Cmd
	exited  chan struct{}
	conn    *ttrpc.Client
	client  shimv1.ShimService
	deleted bool
}

type shimOpts struct {
	socketFlag bool // serve on -socket instead of an inherited fd 3
}

// startShim writes a bundle running spec opts and starts its shim as
// containerd 1.6's v1 runtime does (runtime/v1/shim/client.WithStart).
func (h *harness) startShim(so shimOpts, opts ...oci.SpecOpt) *v1Task {
	t := h.t
	id := testutil.UniqueID(t)
	bundle := testutil.Bundle(t, id, append([]oci.SpecOpt{oci.WithNamespace(namespace)}, opts...)...)
	workdir := filepath.Join(h.dir, "work", id)
	if err := os.MkdirAll(workdir, 0o711); err != nil {
		t.Fatal(err)
	}
	st := &v1Task{t: t, h: h, id: id, bundle: bundle, socket: filepath.Join(h.dir, "s", randHex(t, 8)), exited: make(chan struct{})}
	if err := os.MkdirAll(filepath.Dir(st.socket), 0o700); err != nil {
		t.Fatal(err)
	}
	args := []string{"-namespace", namespace, "-workdir", workdir, "-address", h.address,
		"-containerd-binary", h.binary, "-runtime-root", h.runcRoot}
	st.cmd = exec.Command(filepath.Join(h.bins, "containerd-shim"), args...)
	if so.socketFlag {
		st.cmd.Args = append(st.cmd.Args, "-socket", st.socket)
	} else {
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: st.socket, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		l.SetUnlinkOnClose(false)
		f, err := l.File()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		defer l.Close()
		st.cmd.ExtraFiles = []*os.File{f}
	}
	st.cmd.Dir = bundle
	st.cmd.Env = append(os.Environ(), "GOMAXPROCS=2")
	logFile, err := os.Create(filepath.Join(workdir, "shim.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	st.cmd.Stdout, st.cmd.Stderr = logFile, logFile
	st.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := st.cmd.Start(); err != nil {
		t.Fatalf("start shim: %v", err)
	}
	go func() { st.cmd.Wait(); close(st.exited) }()
	t.Cleanup(st.teardown)

	var conn net.Conn
	testutil.WaitFor(t, 5*time.Second, func() bool {
		conn, err = net.Dial("unix", st.socket)
		return err == nil
	}, "shim socket to accept")
	st.conn = ttrpc.NewClient(conn)
	st.client = shimv1.NewShimClient(st.conn)
	return st
}

// teardown does what containerd does to a task it removes: kill, delete,
// and SIGKILL the shim; then it checks the shim is gone.
func (st *v1Task) teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if !st.deleted {
		st.client.Kill(ctx, &shimv1.KillRequest{ID: st.id, Signal: 9, All: true})
		st.client.Wait(ctx, &shimv1.WaitRequest{ID: st.id})
		st.client.Delete(ctx, &ptypes.Empty{})
	}
	st.conn.Close()
	st.cmd.Process.Kill()
	select {
	case <-st.exited:
	case <-time.After(10 * time.Second):
		st.t.Errorf("shim %d did not exit after SIGKILL", st.cmd.Process.Pid)
	}
	os.Remove(st.socket)
	if st.t.Failed() {
		if b, err := os.ReadFile(filepath.Join(st.h.dir, "work", st.id, "shim.log")); err == nil && len(b) > 0 {
			st.t.Logf("shim log of %s:\n%s", st.id, b)
		}
	}
}

func (st *v1Task) create(cio *clientIO) *shimv1.CreateTaskResponse {
	st.t.Helper()
	resp, err := st.client.Create(context.Background(), &shimv1.CreateTaskRequest{
		ID: st.id, Bundle: st.bundle, Runtime: "runc", Terminal: cio.Terminal,
		Stdin: cio.Stdin, Stdout: cio.Stdout, Stderr: cio.Stderr,
	})
	if err != nil {
		st.t.Fatalf("create: %v", err)
	}
	return resp
}

func (st *v1Task) start(id string) uint32 {
	st.t.Helper()
	resp, err := st.client.Start(context.Background(), &shimv1.StartRequest{ID: id})
	if err != nil {
		st.t.Fatalf("start %q: %v", id, err)
	}
	if resp.ID != id {
		st.t.Fatalf("start %q answered for %q", id, resp.ID)
	}
	return resp.Pid
}

func (st *v1Task) wait(id string) uint32 {
	st.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := st.client.Wait(ctx, &shimv1.WaitRequest{ID: id})
	if err != nil {
		st.t.Fatalf("wait %q: %v", id, err)
	}
	if resp.ExitedAt.IsZero() {
		st.t.Fatalf("wait %q: no exit time", id)
	}
	return resp.ExitStatus
}

func (st *v1Task) state(id string) *shimv1.StateResponse {
	st.t.Helper()
	resp, err := st.client.State(context.Background(), &shimv1.StateRequest{ID: id})
	if err != nil {
		st.t.Fatalf("state %q: %v", id, err)
	}
	return resp
}

func (st *v1Task) exec(id string, cio *clientIO, args ...string) {
	st.t.Helper()
	spec, err := json.Marshal(&specs.Process{Args: args, Cwd: "/", Env: []string{oci.DefaultPathEnv}, Terminal: cio.Terminal})
	if err != nil {
		st.t.Fatal(err)
	}
	_, err = st.client.Exec(context.Background(), &shimv1.ExecProcessRequest{
		ID: id, Terminal: cio.Terminal, Stdin: cio.Stdin, Stdout: cio.Stdout, Stderr: cio.Stderr,
		Spec: &ptypes.Any{TypeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Process", Value: spec},
	})
	if err != nil {
		st.t.Fatalf("exec %q: %v", id, err)
	}
}

func (st *v1Task) delete() *shimv1.DeleteResponse {
	st.t.Helper()
	resp, err := st.client.Delete(context.Background(), &ptypes.Empty{})
	if err != nil {
		st.t.Fatalf("delete: %v", err)
	}
	st.deleted = true
	return resp
}

// clientIO is the client's side of a process's stdio.
type clientIO = testutil.FIFOs

func newIO(t *testing.T, withStdin bool) *clientIO { return testutil.NewFIFOs(t, withStdin, false) }

// fakePublisher is a stand-in for `containerd publish`: a script that
// records each call's arguments (one line in DIR/calls) and its stdin
// (DIR/ev.N), and fails like an unreachable daemon while DIR/down exists.
type fakePublisher struct {
	dir    string
	binary string
}

func newFakePublisher(t *testing.T, dir string) *fakePublisher {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := &fakePublisher{dir: dir, binary: filepath.Join(dir, "containerd")}
	script := fmt.Sprintf(`#!/bin/sh
d=%q
if [ -e "$d/down" ]; then echo "containerd: failed to dial: connection refused" >&2; exit 1; fi
n=$(ls "$d" | grep -c '^ev\.')
cat > "$d/ev.$n"
echo "$*" >> "$d/calls"
`, dir)
	if err := os.WriteFile(p.binary, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *fakePublisher) setDown(t *testing.T, down bool) {
	f := filepath.Join(p.dir, "down")
	if down {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	} else {
		os.Remove(f)
	}
}

// publishedEvent is one event the shim published.
type publishedEvent struct {
	args  string // the publish command's arguments
	topic string
	event proto.Message
}

// published decodes every event recorded so far, in order.
func (p *fakePublisher) published(t *testing.T) []publishedEvent {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(p.dir, "calls"))
	var out []publishedEvent
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(p.dir, fmt.Sprintf("ev.%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		var a ptypes.Any
		if err := proto.Unmarshal(raw, &a); err != nil {
			t.Fatalf("event %d is not a protobuf Any: %v", i, err)
		}
		ev := publishedEvent{args: line, event: decodeEvent(t, &a)}
		f := strings.Fields(line)
		for j := 0; j+1 < len(f); j++ {
			if f[j] == "--topic" {
				ev.topic = f[j+1]
			}
		}
		out = append(out, ev)
	}
	return out
}

func decodeEvent(t *testing.T, a *ptypes.Any) proto.Message {
	t.Helper()
	var m proto.Message
	switch a.TypeUrl {
	case "containerd.events.TaskExit":
		m = &events.TaskExit{}
	case "containerd.events.TaskCreate":
		m = &events.TaskCreate{}
	case "containerd.events.TaskStart":
		m = &events.TaskStart{}
	case "containerd.events.TaskDelete":
		m = &events.TaskDelete{}
	default:
		t.Fatalf("event of unexpected type %q", a.TypeUrl)
	}
	if err := proto.Unmarshal(a.Value, m); err != nil {
		t.Fatalf("decode %s: %v", a.TypeUrl, err)
	}
	return m
}

// exitsOf returns the /tasks/exit events about container id, in order, and
// fails if the shim published any other topic about it.
func exitsOf(t *testing.T, evs []publishedEvent, id string) []*events.TaskExit {
	t.Helper()
	var out []*events.TaskExit
	for _, e := range evs {
		te, ok := e.event.(*events.TaskExit)
		if e.topic != "/tasks/exit" || !ok {
			t.Fatalf("v1 shim published %s %v: a v1 shim publishes only /tasks/exit (the daemon publishes the rest)", e.topic, e.event)
		}
		if te.ContainerID == id {
			out = append(out, te)
		}
	}
	return out
}

func randHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
