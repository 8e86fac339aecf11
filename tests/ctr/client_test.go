package ctr

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/seedrt/seed/client"
	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/oci"
	"github.com/seedrt/seed/shimapi/events"
)

// TestClient drives the Go client package against each daemon under test.
func TestClient(t *testing.T) {
	forEachDaemon(t, func(t *testing.T, address string) {
		t.Run("lifecycle", func(t *testing.T) { testClientLifecycle(t, newEnv(t, address)) })
		t.Run("stdin", func(t *testing.T) { testClientStdin(t, newEnv(t, address)) })
		t.Run("running-task", func(t *testing.T) { testClientRunningTask(t, newEnv(t, address)) })
		t.Run("attach", func(t *testing.T) { testClientAttach(t, newEnv(t, address)) })
		t.Run("events", func(t *testing.T) { testClientEvents(t, newEnv(t, address)) })
		t.Run("errors", func(t *testing.T) { testClientErrors(t, newEnv(t, address)) })
	})
}

func (e *env) spec(id string, args ...string) *specs.Spec {
	return oci.DefaultSpec(id, oci.WithNamespace(e.ns), oci.WithRootfs(e.rootfs, false), oci.WithArgs(args...))
}

// runToExit starts task, waiting for its exit as ctr does.
func runToExit(t *testing.T, ctx context.Context, task interface {
	Wait(context.Context) (<-chan client.ExitStatus, error)
	Start(context.Context) error
}) client.ExitStatus {
	t.Helper()
	exitc, err := task.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-exitc:
		if st.Err != nil {
			t.Fatal(st.Err)
		}
		return st
	case <-time.After(cmdTimeout):
		t.Fatal("timed out waiting for the process to exit")
	}
	panic("unreachable")
}

// A container and task through their whole life; output is complete when
// the exit is delivered.
func testClientLifecycle(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.client()
	ctr, err := c.NewContainer(ctx, "l1", e.spec("l1", "/bin/sh", "-c", "seq 1 2000; echo err >&2; exit 2"))
	if err != nil {
		t.Fatal(err)
	}
	if info := ctr.Info(); info.ID != "l1" || info.Runtime == nil || info.Runtime.Name != client.DefaultRuntime || info.CreatedAt.IsZero() {
		t.Errorf("Info() = %+v", info)
	}
	var stdout, stderr bytes.Buffer
	task, err := ctr.NewTask(ctx, client.NewFIFOs(e.fifoDir, client.Streams{Stdout: &stdout, Stderr: &stderr}))
	if err != nil {
		t.Fatal(err)
	}
	if task.Pid() == 0 || task.ID() != "l1" {
		t.Errorf("new task: id %q pid %d", task.ID(), task.Pid())
	}
	st := runToExit(t, ctx, task)
	if st.Code != 2 || st.ExitedAt.IsZero() {
		t.Errorf("exit status %+v, want code 2 and a time", st)
	}
	if lines := strings.Split(stdout.String(), "\n"); len(lines) != 2001 || lines[1999] != "2000" || stderr.String() != "err\n" {
		t.Errorf("output: %d stdout lines (last %q), stderr %q", len(lines), lines[len(lines)-2], stderr.String())
	}
	if s, err := task.Status(ctx); err != nil || s.State != client.Stopped || s.ExitStatus != 2 {
		t.Errorf("Status() = %+v, %v; want STOPPED with 2", s, err)
	}
	del, err := task.Delete(ctx)
	if err != nil || del.Code != 2 {
		t.Errorf("Delete() = %+v, %v; want code 2", del, err)
	}

	loaded, err := c.LoadContainer(ctx, "l1")
	if err != nil {
		t.Fatal(err)
	}
	if spec, err := loaded.Spec(); err != nil || strings.Join(spec.Process.Args, " ") != "/bin/sh -c seq 1 2000; echo err >&2; exit 2" {
		t.Errorf("loaded Spec() = %v, %v", spec, err)
	}
	list, err := c.Containers(ctx)
	if err != nil || len(list) != 1 || list[0].ID() != "l1" {
		t.Errorf("Containers() = %v, %v", list, err)
	}
	if err := loaded.Delete(ctx); err != nil {
		t.Fatal(err)
	}
}

// The caller's stdin reaches the process, and its end is the process's.
func testClientStdin(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.client()
	ctr, err := c.NewContainer(ctx, "i1", e.spec("i1", "/bin/sh", "-c", "tr a-z A-Z; echo done"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	task, err := ctr.NewTask(ctx, client.NewFIFOs(e.fifoDir, client.Streams{Stdin: strings.NewReader("abc\n"), Stdout: &out}))
	if err != nil {
		t.Fatal(err)
	}
	if st := runToExit(t, ctx, task); st.Code != 0 || out.String() != "ABC\ndone\n" {
		t.Errorf("exit %d, output %q", st.Code, out.String())
	}
	if _, err := task.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ctr.Delete(ctx); err != nil {
		t.Fatal(err)
	}
}

// Everything one does to a running task, each through a handle.
func testClientRunningTask(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.client()
	ctr, err := c.NewContainer(ctx, "r1", e.spec("r1", "/bin/sleep", "300"))
	if err != nil {
		t.Fatal(err)
	}
	task, err := ctr.NewTask(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if ts, err := c.Tasks(ctx); err != nil || len(ts) != 1 || ts[0].ContainerID != "r1" || ts[0].State != client.Running || ts[0].Pid != task.Pid() {
		t.Errorf("Tasks() = %+v, %v", ts, err)
	}

	spec, _ := ctr.Spec()
	pspec := *spec.Process
	pspec.Args = []string{"/bin/sh", "-c", "echo $PATH"}
	var out bytes.Buffer
	p, err := task.Exec(ctx, "x1", &pspec, client.NewFIFOs(e.fifoDir, client.Streams{Stdout: &out}))
	if err != nil {
		t.Fatal(err)
	}
	if st := runToExit(t, ctx, p); st.Code != 0 || !strings.Contains(out.String(), "/bin") {
		t.Errorf("exec: exit %d, output %q", st.Code, out.String())
	}
	if _, err := p.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := task.Exec(ctx, "x1", &pspec, nil); err != nil { // the id is free again
		t.Fatal(err)
	}
	if _, err := task.Exec(ctx, "x1", &pspec, nil); !errdefs.IsAlreadyExists(err) {
		t.Errorf("duplicate exec id: %v, want already exists", err)
	}
	if _, err := task.Process("x1").Delete(ctx); err != nil { // created, never started
		t.Errorf("delete created exec: %v", err)
	}

	pids, err := task.Pids(ctx)
	if err != nil || len(pids) != 1 || pids[0].Pid != task.Pid() {
		t.Errorf("Pids() = %+v, %v; want the init pid %d", pids, err, task.Pid())
	}
	handle := c.Task("r1") // knows nothing, costs nothing
	if err := handle.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if s, err := handle.Status(ctx); err != nil || s.State != client.Paused || handle.Pid() != task.Pid() {
		t.Errorf("after Pause: %+v, %v", s, err)
	}
	if err := handle.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	exitc, err := handle.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := handle.Kill(ctx, syscall.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	if st := <-exitc; st.Code != 137 {
		t.Errorf("exit after SIGKILL: %+v, want 137", st)
	}
	if _, err := handle.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Container("r1").Delete(ctx); err != nil {
		t.Fatal(err)
	}
}

// A detached task's FIFOs outlive its creator; another client attaches,
// and deleting the task removes them.
func testClientAttach(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.client()
	ctr, err := c.NewContainer(ctx, "a1", e.spec("a1", "/bin/sh"))
	if err != nil {
		t.Fatal(err)
	}
	task, err := ctr.NewTask(ctx, client.DetachedFIFOs(e.fifoDir, false))
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Start(ctx); err != nil {
		t.Fatal(err)
	}
	task.IO().Close()

	var out bytes.Buffer
	in := strings.NewReader("echo attached; exit 3\n")
	attached, err := c.Container("a1").Task(ctx, client.Attach(client.Streams{Stdin: in, Stdout: &out}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg := attached.IO().Config(); cfg.Stdin == "" || cfg.Stdout == "" || cfg.Terminal {
		t.Errorf("attached IO config %+v", cfg)
	}
	exitc, err := attached.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := <-exitc; st.Code != 3 || out.String() != "attached\n" {
		t.Errorf("attached: exit %+v, output %q", st, out.String())
	}
	if _, err := attached.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(attached.IO().Config().Stdout); !os.IsNotExist(err) {
		t.Errorf("stdout FIFO after Delete: %v, want it removed", err)
	}
	if err := ctr.Delete(ctx); err != nil {
		t.Fatal(err)
	}
}

// Subscribe delivers decoded events matching the filter.
func testClientEvents(t *testing.T, e *env) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := e.client()
	envelopes, errs := c.Subscribe(ctx, fmt.Sprintf(`topic=="/tasks/exit",namespace==%q`, e.ns))
	for i := 0; ; i++ {
		id := "ev" + string(rune('a'+i))
		ctr, err := c.NewContainer(ctx, id, e.spec(id, "/bin/sh", "-c", "exit 6"))
		if err != nil {
			t.Fatal(err)
		}
		task, err := ctr.NewTask(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		runToExit(t, ctx, task)
		if _, err := task.Delete(ctx); err != nil {
			t.Fatal(err)
		}
		if err := ctr.Delete(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case env := <-envelopes:
			exit, ok := env.Event.(*events.TaskExit)
			if env.Topic != "/tasks/exit" || env.Namespace != e.ns || !ok || exit.ExitStatus != 6 || exit.ContainerID != id && i == 0 {
				t.Fatalf("event %+v (%T %+v)", env, env.Event, env.Event)
			}
			cancel()
			if err := <-errs; err != context.Canceled {
				t.Errorf("error after cancel: %v, want context.Canceled", err)
			}
			return
		case err := <-errs:
			t.Fatal(err)
		case <-time.After(500 * time.Millisecond):
			if i == 10 {
				t.Fatal("no /tasks/exit event")
			}
		}
	}
}

// Errors come back in their errdefs classes, naming what is missing.
func testClientErrors(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.client()
	if _, err := c.LoadContainer(ctx, "nope"); !errdefs.IsNotFound(err) || err.Error() != `container "nope": not found` {
		t.Errorf("LoadContainer(nope) = %v", err)
	}
	if err := c.Container("nope").Delete(ctx); !errdefs.IsNotFound(err) {
		t.Errorf("Delete(nope) = %v", err)
	}
	if err := c.Task("nope").Kill(ctx, syscall.SIGTERM, false); !errdefs.IsNotFound(err) || err.Error() != `task "nope": not found` {
		t.Errorf("Kill(nope) = %v", err)
	}
	if _, err := c.Container("nope").NewTask(ctx, client.NewFIFOs(e.fifoDir, client.Stdio(false))); !errdefs.IsNotFound(err) {
		t.Errorf("NewTask(nope) = %v", err)
	}
	if _, err := c.NewContainer(ctx, "dup", e.spec("dup", "/bin/true")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NewContainer(ctx, "dup", e.spec("dup", "/bin/true")); !errdefs.IsAlreadyExists(err) || err.Error() != `container "dup": already exists` {
		t.Errorf("duplicate NewContainer = %v", err)
	}
	if _, err := c.Task("dup").Status(ctx); !errdefs.IsNotFound(err) {
		t.Errorf("Status of a container without task = %v", err)
	}
	if err := c.Container("dup").Delete(ctx); err != nil {
		t.Fatal(err)
	}

	dead := e.fifoDir + "/none.sock"
	if _, err := client.New(dead); !errdefs.IsUnavailable(err) || !strings.HasPrefix(err.Error(), "daemon not running at "+dead) {
		t.Errorf("New(%s) = %v", dead, err)
	}
}
