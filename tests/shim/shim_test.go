package shim_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/seedrt/seed/oci"
	"github.com/seedrt/seed/shimapi/task"
	tasktypes "github.com/seedrt/seed/shimapi/types/task"
	"github.com/seedrt/seed/tests/testutil"
)

func TestExitCodesAndOutput(t *testing.T) {
	d := newDaemon(t)
	for _, tc := range []struct {
		script  string
		code    uint32
		out, er string
	}{
		{"echo hello; echo oops >&2", 0, "hello\n", "oops\n"},
		{"echo bye; exit 42", 42, "bye\n", ""},
	} {
		st := d.startShim(oci.WithArgs("/bin/sh", "-c", tc.script))
		cio := newIO(t, false, false)
		created := st.create(cio)
		if created.Pid == 0 {
			t.Fatal("create returned no pid")
		}
		if s := st.state(""); s.Status != tasktypes.StatusCreated {
			t.Fatalf("after create: %v", s.Status)
		}
		if pid := st.start(""); pid != created.Pid {
			t.Fatalf("start pid %d, create pid %d", pid, created.Pid)
		}
		if code := st.wait(""); code != tc.code {
			t.Fatalf("%q: exit %d, want %d", tc.script, code, tc.code)
		}
		testutil.WaitFor(t, 5*time.Second, func() bool { return cio.Out.String() == tc.out && cio.Err.String() == tc.er },
			"stdout "+strconvQ(tc.out)+" and stderr "+strconvQ(tc.er))
		s := st.state("")
		if s.Status != tasktypes.StatusStopped || s.ExitStatus != tc.code || s.ExitedAt.IsZero() {
			t.Fatalf("state after exit: %+v", s)
		}
		del, err := st.client.Delete(context.Background(), &task.DeleteRequest{ID: st.id})
		if err != nil || del.ExitStatus != tc.code || del.Pid != created.Pid {
			t.Fatalf("delete: %+v, %v", del, err)
		}
		if _, err := st.client.State(context.Background(), &task.StateRequest{ID: st.id}); err == nil {
			t.Fatal("state after delete succeeded")
		}
		want := []string{"/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"}
		testutil.WaitFor(t, 5*time.Second, func() bool { return strings.Join(d.events.topicsFor(st.id), " ") == strings.Join(want, " ") },
			"events "+strings.Join(want, " "))
	}
}

func strconvQ(s string) string { return strconv.Quote(s) }

func TestStdinAndCloseIO(t *testing.T) {
	d := newDaemon(t)
	st := d.startShim(oci.WithArgs("/bin/cat"))
	cio := newIO(t, true, false)
	st.create(cio)
	st.start("")
	if _, err := cio.In.Write([]byte("through stdin\n")); err != nil {
		t.Fatal(err)
	}
	cio.WaitOutput(t, "through stdin\n")
	if _, err := st.client.CloseIO(context.Background(), &task.CloseIORequest{ID: st.id, Stdin: true}); err != nil {
		t.Fatal(err)
	}
	if code := st.wait(""); code != 0 {
		t.Fatalf("cat exit %d after CloseIO", code)
	}
}

func TestTerminalAndResize(t *testing.T) {
	d := newDaemon(t)
	st := d.startShim(oci.WithTerminal(true), oci.WithArgs("/bin/sh"))
	cio := newIO(t, true, true)
	st.create(cio)
	ctx := context.Background()
	// Sent before start: kept and applied.
	if _, err := st.client.ResizePty(ctx, &task.ResizePtyRequest{ID: st.id, Width: 100, Height: 40}); err != nil {
		t.Fatal(err)
	}
	st.start("")
	cio.In.Write([]byte("tty; stty size\n"))
	cio.WaitOutput(t, "/dev/pts/")
	cio.WaitOutput(t, "40 100")
	if _, err := st.client.ResizePty(ctx, &task.ResizePtyRequest{ID: st.id, Width: 132, Height: 50}); err != nil {
		t.Fatal(err)
	}
	cio.In.Write([]byte("stty size; exit 5\n"))
	cio.WaitOutput(t, "50 132")
	if code := st.wait(""); code != 5 {
		t.Fatalf("exit %d, want 5", code)
	}
}

func TestExecSeveralProcesses(t *testing.T) {
	d := newDaemon(t)
	st := d.startShim(oci.WithArgs("/bin/sleep", "300"))
	st.create(newIO(t, false, false))
	st.start("")

	ios := map[string]*clientIO{}
	for i := 0; i < 3; i++ {
		id := "exec" + strconv.Itoa(i)
		ios[id] = newIO(t, false, false)
		st.exec(id, ios[id], "/bin/sh", "-c", "echo out-"+id+"; exit "+strconv.Itoa(10+i))
	}
	for i := 0; i < 3; i++ {
		id := "exec" + strconv.Itoa(i)
		if pid := st.start(id); pid == 0 {
			t.Fatalf("exec %s: no pid", id)
		}
	}
	for i := 0; i < 3; i++ {
		id := "exec" + strconv.Itoa(i)
		if code := st.wait(id); code != uint32(10+i) {
			t.Fatalf("exec %s exit %d", id, code)
		}
		ios[id].WaitOutput(t, "out-"+id+"\n")
		if _, err := st.client.Delete(context.Background(), &task.DeleteRequest{ID: st.id, ExecID: id}); err != nil {
			t.Fatalf("delete exec %s: %v", id, err)
		}
	}
	// A terminal exec.
	tio := newIO(t, true, true)
	st.exec("tty", tio, "/bin/sh")
	st.start("tty")
	tio.In.Write([]byte("tty; exit 0\n"))
	tio.WaitOutput(t, "/dev/pts/")
	if code := st.wait("tty"); code != 0 {
		t.Fatalf("terminal exec exit %d", code)
	}
	// The task is still running after all that.
	if s := st.state(""); s.Status != tasktypes.StatusRunning {
		t.Fatalf("init is %v", s.Status)
	}
	// A duplicate exec id is refused.
	st.exec("dup", newIO(t, false, false), "/bin/true")
	if _, err := st.client.Exec(context.Background(), &task.ExecProcessRequest{ID: st.id, ExecID: "dup"}); err == nil {
		t.Fatal("duplicate exec id accepted")
	}
}

// An exec is finished when its process exits, even if a background child
// keeps its stdout open.
func TestExecFinishesDespiteBackgroundChild(t *testing.T) {
	d := newDaemon(t)
	st := d.startShim(oci.WithArgs("/bin/sleep", "300"))
	st.create(newIO(t, false, false))
	st.start("")
	cio := newIO(t, false, false)
	st.exec("bg", cio, "/bin/sh", "-c", "sleep 100 & echo started")
	st.start("bg")
	done := make(chan uint32, 1)
	go func() { done <- st.wait("bg") }()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("exec with a background child never finished")
	}
	cio.WaitOutput(t, "started\n")
}

func TestKillBySignal(t *testing.T) {
	d := newDaemon(t)
	st := d.startShim(oci.WithArgs("/bin/sh", "-c", "trap 'exit 7' USR1; while true; do sleep 0.1; done"))
	st.create(newIO(t, false, false))
	st.start("")
	time.Sleep(200 * time.Millisecond) // let the trap be installed
	ctx := context.Background()
	if _, err := st.client.Kill(ctx, &task.KillRequest{ID: st.id, Signal: uint32(syscall.SIGUSR1)}); err != nil {
		t.Fatal(err)
	}
	if code := st.wait(""); code != 7 {
		t.Fatalf("exit %d after SIGUSR1, want 7", code)
	}
	// A second kill finds the process gone.
	if _, err := st.client.Kill(ctx, &task.KillRequest{ID: st.id, Signal: 9}); err == nil || !strings.Contains(err.Error(), "process already finished") {
		t.Fatalf("kill after exit: %v", err)
	}

	st2 := d.startShim(oci.WithArgs("/bin/sleep", "300"))
	st2.create(newIO(t, false, false))
	st2.start("")
	if _, err := st2.client.Kill(ctx, &task.KillRequest{ID: st2.id, Signal: 9, All: true}); err != nil {
		t.Fatal(err)
	}
	if code := st2.wait(""); code != 137 {
		t.Fatalf("exit %d after SIGKILL, want 137", code)
	}
}

func TestPauseResumeAndPids(t *testing.T) {
	d := newDaemon(t)
	st := d.startShim(oci.WithArgs("/bin/sh", "-c", "sleep 300 & wait"))
	st.create(newIO(t, false, false))
	initPid := st.start("")
	ctx := context.Background()
	var pids *task.PidsResponse
	testutil.WaitFor(t, 5*time.Second, func() bool {
		var err error
		pids, err = st.client.Pids(ctx, &task.PidsRequest{ID: st.id})
		return err == nil && len(pids.Processes) == 2
	}, "two processes in the container")
	found := false
	for _, p := range pids.Processes {
		found = found || p.Pid == initPid
	}
	if !found {
		t.Fatalf("init pid %d not in %v", initPid, pids.Processes)
	}
	if _, err := st.client.Pause(ctx, &task.PauseRequest{ID: st.id}); err != nil {
		t.Fatal(err)
	}
	if s := st.state(""); s.Status != tasktypes.StatusPaused {
		t.Fatalf("after pause: %v", s.Status)
	}
	if !strings.Contains(readProcState(int(initPid)), "D") && !frozen(t, int(initPid)) {
		t.Fatal("init not frozen")
	}
	if _, err := st.client.Pause(ctx, &task.PauseRequest{ID: st.id}); err == nil {
		t.Fatal("pausing a paused task succeeded")
	}
	if _, err := st.client.Resume(ctx, &task.ResumeRequest{ID: st.id}); err != nil {
		t.Fatal(err)
	}
	if s := st.state(""); s.Status != tasktypes.StatusRunning {
		t.Fatalf("after resume: %v", s.Status)
	}
	want := "/tasks/paused /tasks/resumed"
	testutil.WaitFor(t, 5*time.Second, func() bool { return strings.Contains(strings.Join(d.events.topicsFor(st.id), " "), want) }, want)
}

func frozen(t *testing.T, pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && parts[1] == "freezer" {
			state, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/freezer", parts[2], "freezer.state"))
			return err == nil && strings.TrimSpace(string(state)) == "FROZEN"
		}
	}
	return false
}

func readProcState(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i > 0 && len(s) > i+2 {
		return s[i+2 : i+3]
	}
	return ""
}

func TestDeleteRunningIsRefusedAndShutdown(t *testing.T) {
	d := newDaemon(t)
	st := d.startShim(oci.WithArgs("/bin/sleep", "300"))
	st.create(newIO(t, false, false))
	st.start("")
	ctx := context.Background()
	if _, err := st.client.Delete(ctx, &task.DeleteRequest{ID: st.id}); err == nil {
		t.Fatal("deleting a running task succeeded")
	}
	shimPid := st.shimPid()
	// With a task left, Shutdown keeps the shim.
	st.client.Shutdown(ctx, &task.ShutdownRequest{ID: st.id})
	time.Sleep(100 * time.Millisecond)
	if !alive(shimPid) {
		t.Fatal("shim exited while it still had a task")
	}
	st.client.Kill(ctx, &task.KillRequest{ID: st.id, Signal: 9})
	st.wait("")
	if _, err := st.client.Delete(ctx, &task.DeleteRequest{ID: st.id}); err != nil {
		t.Fatal(err)
	}
	st.client.Shutdown(ctx, &task.ShutdownRequest{ID: st.id})
	testutil.WaitFor(t, 10*time.Second, func() bool { return !alive(shimPid) }, "shim to exit after shutdown")
	if _, err := os.Stat(strings.TrimPrefix(readFile(t, filepath.Join(st.bundle, "address")), "unix://")); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
}

func TestStartTwiceReturnsSameAddress(t *testing.T) {
	d := newDaemon(t)
	st := d.startShim(oci.WithArgs("/bin/true"))
	again := d.runShim(st.bundle, st.id, "start")
	if want := readFile(t, filepath.Join(st.bundle, "address")); again != want {
		t.Fatalf("second start printed %q, address file says %q", again, want)
	}
}

// The delete action cleans up after a shim killed with SIGKILL and reports
// the exit the shim recorded before it died.
func TestDeleteAfterShimKilled(t *testing.T) {
	d := newDaemon(t)
	st := d.startShim(oci.WithArgs("/bin/sh", "-c", "exit 9"))
	st.create(newIO(t, false, false))
	pid := st.start("")
	st.wait("")
	shimPid := st.shimPid()
	syscall.Kill(shimPid, syscall.SIGKILL)
	testutil.WaitFor(t, 5*time.Second, func() bool { return !alive(shimPid) }, "shim to die")

	out := d.runShim(st.bundle, st.id, "delete")
	var resp task.DeleteResponse
	if err := proto.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Pid != pid || resp.ExitStatus != 9 || resp.ExitedAt.IsZero() {
		t.Fatalf("delete response %+v, want pid %d status 9", resp, pid)
	}
	// runc no longer knows the container.
	r := testutil.Runc{Path: "runc", Root: filepath.Join(d.dir, "runc", namespace)}
	if out, err := r.Command("state", st.id).CombinedOutput(); err == nil {
		t.Fatalf("runc still has the container: %s", out)
	}

	// A shim killed while its container runs: delete kills the container.
	st2 := d.startShim(oci.WithArgs("/bin/sleep", "300"))
	st2.create(newIO(t, false, false))
	initPid := st2.start("")
	syscall.Kill(st2.shimPid(), syscall.SIGKILL)
	out = d.runShim(st2.bundle, st2.id, "delete")
	if err := proto.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.ExitStatus != 137 {
		t.Fatalf("delete of running container reported %d, want 137", resp.ExitStatus)
	}
	testutil.WaitFor(t, 5*time.Second, func() bool { return !alive(int(initPid)) }, "container process to be gone")
}

func TestNoZombies(t *testing.T) {
	d := newDaemon(t)
	st := d.startShim(oci.WithArgs("/bin/sleep", "300"))
	st.create(newIO(t, false, false))
	st.start("")
	for i := 0; i < 5; i++ {
		id := "z" + strconv.Itoa(i)
		st.exec(id, newIO(t, false, false), "/bin/sh", "-c", "sleep 0.05 & exit 0")
		st.start(id)
		st.wait(id)
	}
	shimPid := st.shimPid()
	testutil.WaitFor(t, 5*time.Second, func() bool { return len(zombieChildren(shimPid)) == 0 }, "no zombie children of the shim")
}

// A container in our PID namespace hands its orphans to the shim, which
// reaps them as they exit, though nobody asked for them and nothing else
// exits then (the shim watches SIGCHLD for such containers).
func TestNoZombiesInTheHostPIDNamespace(t *testing.T) {
	d := newDaemon(t)
	st := d.startShim(oci.WithArgs("/bin/sleep", "300"), func(_ string, s *specs.Spec) {
		var kept []specs.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != specs.PIDNamespace {
				kept = append(kept, ns)
			}
		}
		s.Linux.Namespaces = kept
	})
	st.create(newIO(t, false, false))
	st.start("")
	cio := newIO(t, false, false)
	// The background sleep outlives its shell, so it is orphaned to the
	// shim, and exits after everything the shim started has.
	st.exec("orphan", cio, "/bin/sh", "-c", "sleep 0.5 & echo $!")
	st.start("orphan")
	st.wait("orphan")
	testutil.WaitFor(t, 5*time.Second, func() bool { return strings.HasSuffix(cio.Out.String(), "\n") }, "the orphan's pid")
	orphan, err := strconv.Atoi(strings.TrimSpace(cio.Out.String()))
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, func() bool { return syscall.Kill(orphan, 0) != nil }, "the orphan exited and reaped")
	if z := zombieChildren(st.shimPid()); len(z) != 0 {
		t.Fatalf("zombie children of the shim: %v", z)
	}
}

// A hook runs in the shim's PID namespace, so what it leaves running in
// the background is orphaned to the shim, and is reaped as it exits even
// though the container has a PID namespace of its own.
func TestNoZombiesLeftByHooks(t *testing.T) {
	d := newDaemon(t)
	pidFile := filepath.Join(t.TempDir(), "orphan.pid")
	st := d.startShim(oci.WithArgs("/bin/sleep", "300"), func(_ string, s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{
			Path: "/bin/sh",
			Args: []string{"sh", "-c", "sleep 0.5 </dev/null >/dev/null 2>&1 & echo $! >" + pidFile},
		}}}
	})
	st.create(newIO(t, false, false))
	st.start("")
	orphan, err := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, func() bool { return syscall.Kill(orphan, 0) != nil }, "the hook's orphan exited and reaped")
	if z := zombieChildren(st.shimPid()); len(z) != 0 {
		t.Fatalf("zombie children of the shim: %v", z)
	}
}

func zombieChildren(parent int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if len(f) > 2 && f[0] == "Z" && f[1] == strconv.Itoa(parent) {
			out = append(out, pid)
		}
	}
	return out
}

func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil && readProcState(pid) != "Z"
}

func readFile(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
