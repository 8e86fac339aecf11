package daemon_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seedrt/seed/coordinator/failpoint"
	"github.com/seedrt/seed/oci"
	"github.com/seedrt/seed/tests/testutil"
)

// The daemon keeps a spare shim started ahead of the next task; a task's
// create adopts it. The adopted shim serves its task like any other, ps
// shows it by its task, a new spare takes its place, and a killed spare or
// a daemon restart costs nothing but a new spare.
func TestSpareShim(t *testing.T) {
	ctr := testutil.RequireBinary(t, "ctr")
	d := startDaemon(t)
	fifo := []string{"--fifo-dir", filepath.Join(d.dir, "fifo")}
	run := func(id string) {
		t.Helper()
		d.mustCtr(ctr, "sp", append(append([]string{"run", "-d"}, fifo...), "--rootfs", testutil.BusyboxRootfs(t), id, "/bin/sleep", "300")...)
	}
	exec := func(id string) {
		t.Helper()
		out := d.mustCtr(ctr, "sp", append(append([]string{"task", "exec"}, fifo...), "--exec-id", "e-"+strconv.FormatInt(time.Now().UnixNano(), 36), id, "/bin/echo", "hi")...)
		if strings.TrimSpace(out) != "hi" {
			t.Fatalf("exec in %s printed %q", id, out)
		}
	}

	spare := waitSpare(t, d, 0)
	run("a")
	if got := shimPid(t, d.dir, "a"); got != spare {
		t.Fatalf("task a is served by shim %d, not the spare %d", got, spare)
	}
	if cmd := cmdline(spare); strings.Contains(cmd, "-spare") || !strings.Contains(cmd, " -id a ") {
		t.Errorf("adopted spare's command line: %q", cmd)
	}
	exec("a")
	next := waitSpare(t, d, spare)

	// A dead spare: the next task launches its own shim; a spare comes back.
	syscall.Kill(next, syscall.SIGKILL)
	testutil.WaitFor(t, 5*time.Second, func() bool { return exited(next) }, "the killed spare to exit")
	run("b")
	if got := shimPid(t, d.dir, "b"); got == next {
		t.Fatalf("task b is served by the killed spare")
	}
	exec("b")
	next = waitSpare(t, d, next)

	// A daemon crash: the spare goes (its lifeline closed), the tasks stay,
	// and the restarted daemon has a spare again.
	d.stop(syscall.SIGKILL)
	testutil.WaitFor(t, 5*time.Second, func() bool { return exited(next) }, "the spare to exit with its daemon")
	d.start()
	waitSpare(t, d, next)
	for _, id := range []string{"a", "b"} {
		testutil.WaitFor(t, 10*time.Second, func() bool {
			status, _ := testutil.ParseTaskLs(d.mustCtr(ctr, "sp", "task", "ls"), id)
			return status == "RUNNING"
		}, "task "+id+" running after the restart")
		exec(id)
	}
}

// A spare that dies while it is being adopted costs the task nothing: the
// daemon launches a shim for it, and the task is not taken for one whose
// shim died.
func TestSpareDiesWhileAdopted(t *testing.T) {
	ctr := testutil.RequireBinary(t, "ctr")
	d := startDaemon(t, failpoint.Env+"=adopt-spare") // each adoption is held 2 s
	spare := waitSpare(t, d, 0)
	fifo := filepath.Join(d.dir, "fifo")
	done := make(chan error, 1)
	go func() {
		_, err := d.ctr(ctr, "sp", "run", "-d", "--fifo-dir", fifo, "--rootfs", testutil.BusyboxRootfs(t), "a", "/bin/sleep", "300")
		done <- err
	}()
	testutil.WaitFor(t, 5*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(d.dir, "state", "tasks", "sp", "a", "config.json"))
		return err == nil
	}, "the task's bundle")
	syscall.Kill(spare, syscall.SIGKILL)
	testutil.WaitFor(t, 5*time.Second, func() bool { return exited(spare) }, "the spare to die")
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if got := shimPid(t, d.dir, "a"); got == spare {
		t.Fatalf("task a is served by the dead spare")
	}
	if status, _ := testutil.ParseTaskLs(d.mustCtr(ctr, "sp", "task", "ls"), "a"); status != "RUNNING" {
		t.Fatalf("task a is %q", status)
	}
	out := d.mustCtr(ctr, "sp", "task", "exec", "--fifo-dir", fifo, "--exec-id", "e", "a", "/bin/echo", "hi")
	if strings.TrimSpace(out) != "hi" {
		t.Fatalf("exec printed %q", out)
	}
}

// spare_shim = false: no spare, tasks launch their own shim.
func TestSpareShimOff(t *testing.T) {
	ctr := testutil.RequireBinary(t, "ctr")
	d := startDaemonWithConfig(t, "version = 2\nspare_shim = false\n")
	d.mustCtr(ctr, "sp", "run", "-d", "--fifo-dir", filepath.Join(d.dir, "fifo"), "--rootfs", testutil.BusyboxRootfs(t), "a", "/bin/sleep", "300")
	time.Sleep(200 * time.Millisecond) // a spare would have been started by now
	if pids := spares(d); len(pids) != 0 {
		t.Fatalf("spare shims with spare_shim = false: %v", pids)
	}
}

// waitSpare waits for the daemon's spare, other than not, to be ready, and
// returns it. Ready: serving the connection the daemon dials to it right
// after starting it, so the daemon holds it by then.
func waitSpare(t *testing.T, d *daemon, not int) int {
	t.Helper()
	var pid int
	testutil.WaitFor(t, 10*time.Second, func() bool {
		for _, p := range spares(d) {
			if p != not && sockets(p) >= 2 { // the listener and the daemon's connection
				pid = p
				return true
			}
		}
		return false
	}, "a spare shim")
	return pid
}

// sockets counts the sockets a process has open.
func sockets(pid int) int {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	fds, _ := os.ReadDir(dir)
	n := 0
	for _, fd := range fds {
		if target, _ := os.Readlink(filepath.Join(dir, fd.Name())); strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}

// spares lists the daemon's spare shims.
func spares(d *daemon) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cmd := cmdline(pid); strings.Contains(cmd, " -spare ") && strings.Contains(cmd, d.Address) {
			out = append(out, pid)
		}
	}
	return out
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
}

// exited tells whether pid is gone or a zombie (a spare whose daemon died
// is reaped by whoever inherits it).
func exited(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || strings.HasPrefix(string(b[i+1:]), " Z")
}

// The shim's own Go runtime settings (GOMAXPROCS=1 GOGC=50) do not reach
// runc: a created task's runc init, waiting to be started, has the
// daemon's (the test's environment's) GOMAXPROCS, which runc passes on, and
// no GOGC.
func TestRuncGetsTheDaemonsGoSettings(t *testing.T) {
	d := startDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := d.client(t, "env")
	ct, err := c.NewContainer(ctx, "e", oci.DefaultSpec("e", oci.WithNamespace("env"), oci.WithRootfs(testutil.SharedBusyboxRootfs(t), true), oci.WithArgs("/bin/true")))
	if err != nil {
		t.Fatal(err)
	}
	task, err := ct.NewTask(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(int(task.Pid())), "environ"))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range strings.Split(string(env), "\x00") {
		// runc passes its own GOMAXPROCS on to runc init, empty if unset.
		if strings.HasPrefix(kv, "GOMAXPROCS=") && kv != "GOMAXPROCS="+os.Getenv("GOMAXPROCS") ||
			strings.HasPrefix(kv, "GOGC=") || strings.HasPrefix(kv, "SEED_") {
			t.Errorf("runc init has %s (the daemon's GOMAXPROCS: %q)", kv, os.Getenv("GOMAXPROCS"))
		}
	}
	shimEnv, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(shimPid(t, d.dir, "e")), "environ"))
	if !strings.Contains(string(shimEnv), "\x00GOMAXPROCS=1\x00") {
		t.Errorf("the shim itself was not started with GOMAXPROCS=1")
	}
}
