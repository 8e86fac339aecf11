package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedrt/seed/tests/testutil"
)

// The daemon keeps its state on a tmpfs of its own: mounted on an empty
// state directory, kept (not stacked) across restarts, and a container
// that runs before a restart still runs after it.
func TestStateOnTmpfs(t *testing.T) {
	ctr := testutil.RequireBinary(t, "ctr")
	d := startDaemon(t)
	state := filepath.Join(d.dir, "state")
	if !isTmpfs(t, state) {
		t.Fatalf("state dir %s is not a tmpfs", state)
	}
	rootfs := testutil.BusyboxRootfs(t)
	d.mustCtr(ctr, "tmpfs", "run", "-d", "--rootfs", rootfs, "c", "/bin/sleep", "300")
	if _, err := os.Stat(filepath.Join(state, "tasks", "tmpfs", "c", "config.json")); err != nil {
		t.Fatalf("bundle not in the state dir: %v", err)
	}

	d.restart()
	if n := mountsAt(t, state); n != 1 {
		t.Errorf("%d mounts on %s after a restart, want 1", n, state)
	}
	status := func() string { return strings.Join(strings.Fields(d.mustCtr(ctr, "tmpfs", "task", "ls")), " ") }
	testutil.WaitFor(t, 10*time.Second, func() bool { return strings.HasSuffix(status(), " RUNNING") }, "c to run")
	d.mustCtr(ctr, "tmpfs", "task", "kill", "-s", "SIGKILL", "c")
	testutil.WaitFor(t, 10*time.Second, func() bool { return strings.HasSuffix(status(), " STOPPED") }, "c to stop")
	d.mustCtr(ctr, "tmpfs", "task", "rm", "c")
	d.mustCtr(ctr, "tmpfs", "container", "rm", "c")
}

// A state directory that already holds something stays on disk (mounting
// over it would hide it), and so does one when state_tmpfs is off.
func TestStateLeftOnDisk(t *testing.T) {
	ctr := testutil.RequireBinary(t, "ctr")
	rootfs := testutil.BusyboxRootfs(t)
	run := func(d *daemon) {
		out := d.mustCtr(ctr, "disk", "run", "--rm", "--rootfs", rootfs, "c", "/bin/echo", "ran")
		if strings.TrimSpace(out) != "ran" {
			t.Errorf("container printed %q", out)
		}
	}

	t.Run("not empty", func(t *testing.T) {
		d := startDaemon(t)
		state := filepath.Join(d.dir, "state")
		d.stop(syscall.SIGTERM)
		if err := unix.Unmount(state, unix.MNT_DETACH); err != nil {
			t.Fatal(err)
		}
		keep := filepath.Join(state, "keep")
		if err := os.WriteFile(keep, []byte("mine"), 0o600); err != nil {
			t.Fatal(err)
		}
		d.start()
		if isTmpfs(t, state) {
			t.Fatalf("a tmpfs was mounted over the non-empty state dir %s", state)
		}
		run(d)
		if b, err := os.ReadFile(keep); err != nil || string(b) != "mine" {
			t.Errorf("file in the state dir: %q, %v", b, err)
		}
	})

	t.Run("state_tmpfs = false", func(t *testing.T) {
		d := startDaemonWithConfig(t, "state_tmpfs = false\n")
		if state := filepath.Join(d.dir, "state"); isTmpfs(t, state) {
			t.Fatalf("state dir %s is a tmpfs although state_tmpfs = false", state)
		}
		run(d)
	})
}

func isTmpfs(t *testing.T, dir string) bool {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Type == unix.TMPFS_MAGIC
}

// mountsAt counts the mounts whose mount point is dir.
func mountsAt(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			n++
		}
	}
	return n
}
