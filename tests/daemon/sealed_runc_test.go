package daemon_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seedrt/seed/tests/testutil"
)

// Our shims run runc from one sealed in-memory copy the daemon hands them
// (package sealedexe); a runc that cannot be copied that way, a wrapper
// script here, is run from its path as before.
func TestShimsRunRuncFromASealedCopy(t *testing.T) {
	ctr := testutil.RequireBinary(t, "ctr")
	runc := testutil.RequireBinary(t, "runc")
	wrapper := filepath.Join(testutil.ShortTempDir(t), "runc-wrapper")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec "+runc+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := startDaemonWithConfig(t, fmt.Sprintf(`
version = 2
[runtime.runtimes."seed.wrapped.v2"]
  runc = %q
`, wrapper))
	fifo := []string{"--fifo-dir", filepath.Join(d.dir, "fifo")}
	for _, tc := range []struct {
		id, runtime string
		sealed      bool
	}{
		{"sealed", "io.containerd.runc.v2", true},
		{"wrapped", "seed.wrapped.v2", false},
	} {
		d.mustCtr(ctr, "s", append(append([]string{"run", "-d", "--runtime", tc.runtime}, fifo...), "--rootfs", testutil.BusyboxRootfs(t), tc.id, "/bin/sleep", "300")...)
		if got := holdsSealedRunc(shimPid(t, d.dir, tc.id)); got != tc.sealed {
			t.Errorf("%s: shim holds a sealed runc: %v, want %v", tc.id, got, tc.sealed)
		}
		// runc exec works either way.
		out := d.mustCtr(ctr, "s", append(append([]string{"task", "exec"}, fifo...), "--exec-id", "e", tc.id, "/bin/echo", "hi")...)
		if strings.TrimSpace(out) != "hi" {
			t.Errorf("%s: exec printed %q", tc.id, out)
		}
		d.mustCtr(ctr, "s", "task", "kill", "-s", "SIGKILL", tc.id)
		d.mustCtr(ctr, "s", "task", "rm", "-f", tc.id)
		d.mustCtr(ctr, "s", "c", "rm", tc.id)
	}
}

func holdsSealedRunc(pid int) bool {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); strings.HasPrefix(target, "/memfd:runc") {
			return true
		}
	}
	return false
}

// A runc upgraded on disk reaches running containers: their shim stops
// running the old sealed copy before its next request.
func TestRuncUpgradeReachesRunningShims(t *testing.T) {
	ctr := testutil.RequireBinary(t, "ctr")
	system := testutil.RequireBinary(t, "runc")
	runc := filepath.Join(testutil.ShortTempDir(t), "runc")
	install := func() {
		b, err := os.ReadFile(system)
		if err == nil {
			err = os.WriteFile(runc+".new", b, 0o755)
		}
		if err == nil {
			err = os.Rename(runc+".new", runc) // a new file, as a package upgrade makes
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	install()
	d := startDaemonWithConfig(t, fmt.Sprintf(`
version = 2
[runtime.runtimes."seed.local.v2"]
  runc = %q
`, runc))
	fifo := []string{"--fifo-dir", filepath.Join(d.dir, "fifo")}
	d.mustCtr(ctr, "u", append(append([]string{"run", "-d", "--runtime", "seed.local.v2"}, fifo...), "--rootfs", testutil.BusyboxRootfs(t), "up", "/bin/sleep", "300")...)
	link := filepath.Join(d.dir, "state", "tasks", "u", "up", "runc")
	if target, err := os.Readlink(link); err != nil || !strings.HasPrefix(target, "/proc/self/fd/") {
		t.Fatalf("before the upgrade runc runs from %q (%v), want the sealed copy", target, err)
	}
	install()
	out := d.mustCtr(ctr, "u", append(append([]string{"task", "exec"}, fifo...), "--exec-id", "e", "up", "/bin/echo", "hi")...)
	if strings.TrimSpace(out) != "hi" {
		t.Errorf("exec after the upgrade printed %q", out)
	}
	if target, err := os.Readlink(link); err != nil || target != runc {
		t.Errorf("after the upgrade runc runs from %q (%v), want %s", target, err, runc)
	}
	d.mustCtr(ctr, "u", "task", "kill", "-s", "SIGKILL", "up")
	d.mustCtr(ctr, "u", "task", "rm", "-f", "up")
	d.mustCtr(ctr, "u", "c", "rm", "up")
}
