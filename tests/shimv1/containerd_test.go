package shimv1_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seedrt/seed/tests/testutil"
)

// v1Runtime is containerd's v1 runtime, configured to start our shim.
const v1Runtime = "io.containerd.runtime.v1.linux"

const cmdTimeout = 60 * time.Second

// containerd is a private containerd 1.6 whose v1 runtime runs our
// containerd-shim: its state, sockets, runc root (runtime_root) and the
// FIFOs of our ctr commands live under Dir; its namespace is unique, and
// the cgroups ctr makes under /NS are removed (and must be empty) at the end.
type containerd struct {
	*testutil.Containerd
	*testutil.Ctr
	t        *testing.T
	fifoDir  string
	shimPath string // our containerd-shim
}

func startContainerd(t *testing.T) *containerd {
	t.Helper()
	testutil.RequireRoot(t)
	ctrPath := testutil.RequireBinary(t, "ctr")
	testutil.RequireBinary(t, "runc")
	bins := testutil.BuildBinaries(t)

	d := &containerd{
		t:        t,
		Ctr:      &testutil.Ctr{Binary: ctrPath, Namespace: "seedv1-" + randHex(t, 6)},
		shimPath: filepath.Join(bins, "containerd-shim"),
	}
	// Cleanups run last-registered-first: remove what the test left, stop
	// the daemon, then the cgroups of our namespace.
	t.Cleanup(func() { testutil.RemoveNamespaceCgroups(t, d.Namespace) })
	d.Containerd = testutil.StartContainerd(t, testutil.ContainerdOptions{
		Plugins: func(dir string) string {
			return fmt.Sprintf(`  [plugins.%q]
    shim = %q
    runtime = "runc"
    runtime_root = %q
    no_shim = false
`, v1Runtime, d.shimPath, filepath.Join(dir, "runc-v1"))
		},
	})
	d.Socket = d.Address
	d.fifoDir = filepath.Join(d.Dir, "fifo")
	t.Cleanup(func() {
		if d.Running() {
			d.RemoveAll(t)
		}
	})
	return d
}

func (d *containerd) runArgs(flags ...string) []string {
	return append([]string{"run", "--runtime", v1Runtime, "--fifo-dir", d.fifoDir}, flags...)
}

// bundle is where containerd's v1 runtime keeps task id.
func (d *containerd) bundle(id string) string {
	return filepath.Join(d.Dir, "state", v1Runtime, d.Namespace, id)
}

// shimPid is the pid containerd recorded for task id's shim.
func (d *containerd) shimPid(id string) int {
	d.t.Helper()
	b, err := os.ReadFile(filepath.Join(d.bundle(id), "shim.pid"))
	if err != nil {
		d.t.Fatalf("shim.pid of %s: %v", id, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		d.t.Fatalf("shim.pid of %s: %q", id, b)
	}
	return pid
}

// eventStream is a running `ctr events`.
type eventStream struct {
	cmd  *exec.Cmd
	out  *testutil.Buffer
	done chan struct{}
}

// events runs `ctr events` until the test ends.
func (d *containerd) events() *eventStream {
	d.t.Helper()
	e := &eventStream{out: &testutil.Buffer{}, done: make(chan struct{})}
	e.cmd = exec.Command(d.Binary, "--address", d.Socket, "--namespace", d.Namespace, "events")
	e.cmd.Stdout, e.cmd.Stderr = e.out, e.out
	if err := e.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	go func() { e.cmd.Wait(); close(e.done) }()
	d.t.Cleanup(func() {
		e.cmd.Process.Kill()
		<-e.done
	})
	time.Sleep(300 * time.Millisecond) // subscribed
	return e
}

// alive tells whether pid is a live (not zombie) process.
func alive(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(raw, ')')
	f := strings.Fields(string(raw[i+1:]))
	return len(f) > 0 && f[0] != "Z"
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// topicsAbout picks the topics of `ctr events` lines about container id.
func topicsAbout(out, id string) []string {
	var topics []string
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, `"container_id":"`+id+`"`) && !strings.Contains(line, `{"id":"`+id+`"`) {
			continue
		}
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/tasks/") || strings.HasPrefix(f, "/containers/") {
				topics = append(topics, f)
				break
			}
		}
	}
	return topics
}

func TestContainerdRunsOurV1Shim(t *testing.T) {
	d := startContainerd(t)

	{
		const id = "v1a"
		events := d.events()
		rootfs := testutil.BusyboxRootfs(t)
		if out := d.Must(d.t, d.runArgs("--rm", "--rootfs", rootfs, id, "/bin/echo", "hi")...); out != "hi\n" {
			t.Fatalf("ctr run echo hi: stdout %q, want %q", out, "hi\n")
		}
		// Each event once: containerd's v1 runtime publishes create, start
		// and delete itself; the shim publishes the exit.
		want := "/containers/create /tasks/create /tasks/start /tasks/exit /tasks/delete /containers/delete"
		var got string
		if !testutil.Poll(10*time.Second, func() bool {
			got = strings.Join(topicsAbout(events.out.String(), id), " ")
			return got == want
		}) {
			t.Fatalf("events about %s: %q, want %q\n%s", id, got, want, events.out.String())
		}
		t.Logf("ctr events:\n%s", events.out.String())

		stdout, stderr, err := d.Run(d.runArgs("--rm", "--rootfs", rootfs, "v1b", "/bin/sh", "-c", "exit 3")...)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Fatalf("ctr run sh -c 'exit 3': %v, want exit code 3\nstdout: %s\nstderr: %s", err, stdout, stderr)
		}
	}

	// A detached task survives a restart of containerd.
	{
		const id = "v1c"
		rootfs := testutil.BusyboxRootfs(t)
		d.Must(d.t, d.runArgs("-d", "--rootfs", rootfs, id, "/bin/sleep", "300")...)
		status, pid := d.TaskStatus(d.t, id)
		if status != "RUNNING" || pid <= 0 {
			t.Fatalf("task ls: %s is %q with pid %d, want RUNNING", id, status, pid)
		}
		shim := d.shimPid(id)
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", shim)); !alive(shim) || exe != d.shimPath {
			t.Fatalf("shim %d of %s: alive %v, binary %q; want our %s running", shim, id, alive(shim), exe, d.shimPath)
		}
		// runtime_root is runc's root, per namespace.
		if !exists(filepath.Join(d.Dir, "runc-v1", d.Namespace, id, "state.json")) {
			t.Fatalf("runc state of %s not under runtime_root/%s", id, d.Namespace)
		}
		if out := d.Must(d.t, "task", "exec", "--fifo-dir", d.fifoDir, "--exec-id", "e1", id, "/bin/echo", "before"); out != "before\n" {
			t.Fatalf("task exec: %q", out)
		}

		d.Stop()
		if !alive(shim) || !alive(pid) {
			t.Fatalf("after containerd stopped: shim alive %v, task alive %v", alive(shim), alive(pid))
		}
		d.Start()

		if status, p := d.TaskStatus(d.t, id); status != "RUNNING" || p != pid {
			t.Fatalf("after restart: %s is %q with pid %d, want RUNNING with pid %d", id, status, p, pid)
		}
		if out := d.Must(d.t, "task", "exec", "--fifo-dir", d.fifoDir, "--exec-id", "e2", id, "/bin/echo", "after"); out != "after\n" {
			t.Fatalf("task exec after restart: %q", out)
		}
		d.Must(d.t, "task", "exec", "-d", "--fifo-dir", d.fifoDir, "--exec-id", "e3", id, "/bin/sleep", "300")
		var ps string
		testutil.WaitFor(t, 10*time.Second, func() bool {
			ps = d.Must(d.t, "task", "ps", id)
			return strings.Contains(ps, "e3")
		}, "task ps to list exec e3")
		if !strings.Contains(ps, strconv.Itoa(pid)) || !strings.Contains(ps, "ExecID:"+id) {
			t.Fatalf("task ps %s does not list the init %d:\n%s", id, pid, ps)
		}
		d.Must(d.t, "task", "pause", id)
		if st, _ := d.TaskStatus(d.t, id); st != "PAUSED" {
			t.Fatalf("after pause: %q", st)
		}
		d.Must(d.t, "task", "resume", id)
		if st, _ := d.TaskStatus(d.t, id); st != "RUNNING" {
			t.Fatalf("after resume: %q", st)
		}

		d.Must(d.t, "task", "kill", "-s", "SIGKILL", id)
		d.WaitStatus(d.t, id, "STOPPED")
		d.Must(d.t, "task", "rm", id)
		d.Must(d.t, "containers", "rm", id)
		if !testutil.Poll(10*time.Second, func() bool { return !alive(shim) }) {
			t.Fatalf("shim %d still running after task rm", shim)
		}
		if exists(d.bundle(id)) {
			t.Fatalf("bundle of %s left after task rm", id)
		}
	}

	if out := d.Must(d.t, "task", "ls", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("tasks left after the test: %q", out)
	}
	if out := d.Must(d.t, "containers", "ls", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("containers left after the test: %q", out)
	}
}
