// Package peer runs our binaries against real peers: here, Debian's
// containerd 1.6 and its ctr drive our containerd-shim as the v2 runtime
// io.containerd.seed.v2.
package peer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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

func TestMain(m *testing.M) { testutil.Main(m) }

// seedRuntime is the runtime name under which containerd finds our shim as
// containerd-shim-seed-v2 on its PATH.
const seedRuntime = "io.containerd.seed.v2"

// cmdTimeout bounds every ctr invocation, so a hung shim fails the test
// instead of hanging it.
const cmdTimeout = 60 * time.Second

// containerd is a private containerd 1.6 daemon: its state, sockets and
// the stdio FIFOs of our ctr commands live under Dir. The shims' runc state
// does not: ctr sends runtime options (and so --runc-root) only for
// io.containerd.runc.v2, so our shim uses its default runc root
// /run/containerd/runc/NS, and ctr puts the containers' cgroups under /NS.
// NS is unique per test run, so neither collides with a system containerd,
// and both are removed (and must be empty) at the end.
type containerd struct {
	*testutil.Containerd
	*testutil.Ctr
	fifoDir string
}

// startContainerd builds our shim, installs it as containerd-shim-seed-v2
// and starts a private containerd that uses it. Everything is undone when
// the test ends, and the test fails if a process or mount is left behind.
func startContainerd(t *testing.T) *containerd {
	t.Helper()
	testutil.RequireRoot(t)
	ctrPath := testutil.RequireBinary(t, "ctr")
	testutil.RequireBinary(t, "runc")
	bins := testutil.BuildBinaries(t)

	d := &containerd{Ctr: &testutil.Ctr{Binary: ctrPath, Namespace: "seedpeer-" + randHex(t, 6)}}
	// Cleanups run last-registered-first: remove what the test left (while
	// the daemon runs), stop the daemon, then the host-wide leftovers of our
	// unique namespace.
	t.Cleanup(func() { d.removeNamespaceLeftovers(t) })
	d.Containerd = testutil.StartContainerd(t, testutil.ContainerdOptions{
		Plugins: func(dir string) string {
			return fmt.Sprintf(`  [plugins."io.containerd.runtime.v1.linux"]
    runtime_root = %q
`, filepath.Join(dir, "runc-v1"))
		},
		Links: map[string]string{"containerd-shim-seed-v2": filepath.Join(bins, "containerd-shim")},
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

// runArgs is `run` with our runtime and a private FIFO dir.
func (d *containerd) runArgs(flags ...string) []string {
	args := []string{"run", "--runtime", seedRuntime, "--fifo-dir", d.fifoDir}
	return append(args, flags...)
}

// shimPIDs lists live processes that are our shim for task id of this
// daemon: their command line names the id and the daemon's address.
func (d *containerd) shimPIDs(id string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(raw) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if hasFlag(args, "-id", id) && (hasFlag(args, "-address", d.Address) || hasFlag(args, "-namespace", d.Namespace)) {
			if state, ok := procState(pid); ok && state != "Z" {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func hasFlag(args []string, name, value string) bool {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == name && args[i+1] == value {
			return true
		}
	}
	return false
}

func procState(pid int) (string, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", false
	}
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return "", false
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) == 0 {
		return "", false
	}
	return f[0], true
}

// removeNamespaceLeftovers removes what our unique namespace leaves outside
// dir: the default runc root /run/containerd/runc/NS and the parent cgroup
// /NS that ctr puts containers under. Only empty directories are removed, so
// runc state or a cgroup left behind by a container fails the test.
func (d *containerd) removeNamespaceLeftovers(t *testing.T) {
	if err := os.Remove(filepath.Join("/run/containerd/runc", d.Namespace)); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Errorf("remove default runc root of namespace %s: %v", d.Namespace, err)
	}
	testutil.RemoveNamespaceCgroups(t, d.Namespace)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func randHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// exitCode returns the exit status of a finished command's error (0 for nil).
func exitCode(err error) (int, bool) {
	if err == nil {
		return 0, true
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), true
	}
	return 0, false
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func TestContainerdRunsSeedShim(t *testing.T) {
	d := startContainerd(t)

	t.Run("run-rm", func(t *testing.T) {
		rootfs := testutil.BusyboxRootfs(t)
		out := d.Must(t, d.runArgs("--rm", "--rootfs", rootfs, "id1", "/bin/echo", "hi")...)
		if out != "hi\n" {
			t.Errorf("ctr run echo hi: stdout %q, want %q", out, "hi\n")
		}
		if pids := d.shimPIDs("id1"); len(pids) > 0 {
			testutil.Poll(5*time.Second, func() bool { return len(d.shimPIDs("id1")) == 0 })
			if pids := d.shimPIDs("id1"); len(pids) > 0 {
				t.Errorf("shim for id1 still running after ctr run --rm: pids %v", pids)
			}
		}
	})

	t.Run("exit-status", func(t *testing.T) {
		rootfs := testutil.BusyboxRootfs(t)
		stdout, stderr, err := d.Run(d.runArgs("--rm", "--rootfs", rootfs, "id1b", "/bin/sh", "-c", "exit 3")...)
		code, ok := exitCode(err)
		if !ok || code != 3 {
			t.Fatalf("ctr run sh -c 'exit 3': err %v (exit code %d), want exit code 3\nstdout: %s\nstderr: %s", err, code, stdout, stderr)
		}
	})

	t.Run("detached-lifecycle", func(t *testing.T) {
		const id = "id2"
		rootfs := testutil.BusyboxRootfs(t)
		d.Must(t, d.runArgs("-d", "--rootfs", rootfs, id, "/bin/sleep", "300")...)
		status, pid := d.TaskStatus(t, id)
		if status != "RUNNING" || pid <= 0 {
			t.Fatalf("task ls: %s is %q with pid %d, want RUNNING with a pid", id, status, pid)
		}
		shims := d.shimPIDs(id)
		if len(shims) != 1 {
			t.Errorf("want exactly one shim process for %s, found %v", id, shims)
		}

		if out := d.Must(t, "task", "exec", "--fifo-dir", d.fifoDir, "--exec-id", "e1", id, "/bin/echo", "x"); out != "x\n" {
			t.Errorf("task exec echo x: stdout %q, want %q", out, "x\n")
		}

		// A detached exec shows up in ps with its exec id.
		d.Must(t, "task", "exec", "-d", "--fifo-dir", d.fifoDir, "--exec-id", "e2", id, "/bin/sleep", "300")
		var ps string
		testutil.WaitFor(t, 10*time.Second, func() bool {
			ps = d.Must(t, "task", "ps", id)
			return strings.Contains(ps, "e2")
		}, "task ps to list exec e2")
		lines := strings.Split(strings.TrimSpace(ps), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "PID") {
			t.Errorf("task ps %s: want a header and 2 processes, got:\n%s", id, ps)
		}
		var pids []int
		for _, l := range lines[1:] {
			if f := strings.Fields(l); len(f) > 0 {
				p, _ := strconv.Atoi(f[0])
				pids = append(pids, p)
			}
		}
		foundInit := false
		for _, p := range pids {
			foundInit = foundInit || p == pid
		}
		if !foundInit {
			t.Errorf("task ps %s does not list the init pid %d:\n%s", id, pid, ps)
		}

		d.Must(t, "task", "pause", id)
		if st, _ := d.TaskStatus(t, id); st != "PAUSED" {
			t.Errorf("after pause: task %s is %q, want PAUSED", id, st)
		}
		d.Must(t, "task", "resume", id)
		if st, _ := d.TaskStatus(t, id); st != "RUNNING" {
			t.Errorf("after resume: task %s is %q, want RUNNING", id, st)
		}

		d.Must(t, "task", "kill", "-s", "SIGKILL", id)
		d.WaitStatus(t, id, "STOPPED")
		d.Must(t, "task", "rm", id)
		if st, _ := d.TaskStatus(t, id); st != "" {
			t.Errorf("after task rm: task %s still listed as %q", id, st)
		}
		d.Must(t, "containers", "rm", id)
		if out := d.Must(t, "containers", "ls", "-q"); strings.Contains(out, id) {
			t.Errorf("after containers rm: %s still listed:\n%s", id, out)
		}

		if !testutil.Poll(10*time.Second, func() bool { return len(d.shimPIDs(id)) == 0 }) {
			t.Errorf("shim for %s still running after task rm + containers rm: pids %v", id, d.shimPIDs(id))
		}
	})

	t.Run("terminal", func(t *testing.T) {
		script := testutil.RequireBinary(t, "script")
		rootfs := testutil.BusyboxRootfs(t)
		args := []string{d.Binary, "--address", d.Socket, "--namespace", d.Namespace}
		args = append(args, d.runArgs("--rm", "-t", "--rootfs", rootfs, "id3", "/bin/sh", "-c", "tty; exit 0")...)
		quoted := make([]string, len(args))
		for i, a := range args {
			quoted[i] = shellQuote(a)
		}
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, script, "-qec", strings.Join(quoted, " "), "/dev/null")
		cmd.Stdin = nil // script puts its own pty between ctr and us
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("script ctr run -t: %v\noutput: %q", err, out)
		}
		if !bytes.Contains(out, []byte("/dev/pts/")) {
			t.Errorf("ctr run -t: tty printed %q, want a /dev/pts/ path", out)
		}
	})

	// Nothing of ours may remain in the daemon.
	if out := d.Must(t, "task", "ls", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("tasks left after the test: %q", out)
	}
	if out := d.Must(t, "containers", "ls", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("containers left after the test: %q", out)
	}
}
