package daemon_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seedrt/seed/tests/testutil"
)

// containerd 1.6's own ctr drives our daemon.
func TestContainerdCtrDrivesOurDaemon(t *testing.T) {
	ctr := testutil.RequireBinary(t, "ctr")
	d := startDaemon(t)
	ns := "peer"
	fifo := []string{"--fifo-dir", filepath.Join(d.dir, "fifo")}
	run := func(args ...string) []string { return append(append([]string{"run"}, fifo...), args...) }

	rootfs := testutil.BusyboxRootfs(t)
	out := d.mustCtr(ctr, ns, run("--rm", "--rootfs", rootfs, "hi", "/bin/echo", "hi")...)
	if strings.TrimSpace(out) != "hi" {
		t.Fatalf("run --rm echo hi printed %q", out)
	}
	out, err := d.ctr(ctr, ns, run("--rm", "--rootfs", rootfs, "three", "/bin/sh", "-c", "exit 3")...)
	if code := exitCode(err); code != 3 {
		t.Fatalf("exit code %d, want 3 (%s)", code, out)
	}

	d.mustCtr(ctr, ns, run("-d", "--rootfs", testutil.BusyboxRootfs(t), "bg", "/bin/sleep", "300")...)
	if out := d.mustCtr(ctr, ns, "task", "ls"); !strings.Contains(out, "bg") || !strings.Contains(out, "RUNNING") {
		t.Fatalf("task ls:\n%s", out)
	}
	if out := d.mustCtr(ctr, ns, "c", "ls"); !strings.Contains(out, "bg") {
		t.Fatalf("c ls:\n%s", out)
	}
	if out := d.mustCtr(ctr, ns, append(append([]string{"task", "exec"}, fifo...), "--exec-id", "e1", "bg", "/bin/echo", "from-exec")...); strings.TrimSpace(out) != "from-exec" {
		t.Fatalf("exec printed %q", out)
	}
	if out := d.mustCtr(ctr, ns, "task", "ps", "bg"); len(strings.Split(strings.TrimSpace(out), "\n")) < 2 {
		t.Fatalf("task ps:\n%s", out)
	}
	d.mustCtr(ctr, ns, "task", "kill", "-s", "SIGKILL", "bg")
	testutil.WaitFor(t, 10*time.Second, func() bool {
		out, _ := d.ctr(ctr, ns, "task", "ls")
		return strings.Contains(out, "STOPPED")
	}, "task to stop after kill")
	d.mustCtr(ctr, ns, "task", "rm", "bg")
	d.mustCtr(ctr, ns, "c", "rm", "bg")
	if out := d.mustCtr(ctr, ns, "c", "ls"); strings.Contains(out, "bg") {
		t.Fatalf("container still listed:\n%s", out)
	}
	if out := d.mustCtr(ctr, ns, "version"); !strings.Contains(out, "Server:") {
		t.Fatalf("version:\n%s", out)
	}
}
