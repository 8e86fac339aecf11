package daemon_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seedrt/seed/tests/testutil"
)

// containerd 1.6's own ctr drives our daemon, with our shim.
func TestContainerdCtrDrivesOurDaemon(t *testing.T) {
	d := startDaemon(t)
	ctrLifecycle(t, d, "", "containerd-shim")
}

// Our daemon drives Debian's containerd-shim-runc-v2, found on PATH by
// containerd's naming convention, with the same results.
func TestDaemonDrivesContainerdShim(t *testing.T) {
	runcShim := testutil.RequireBinary(t, "containerd-shim-runc-v2")
	bin := t.TempDir()
	if err := os.Symlink(runcShim, filepath.Join(bin, "containerd-shim-debrunc-v2")); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "PATH="+bin+":"+os.Getenv("PATH"))
	ctrLifecycle(t, d, "io.containerd.debrunc.v2", "containerd-shim-runc-v2")
}

// ctrLifecycle runs containerd's ctr through a task's whole life on
// runtime, checking a shim named shimName serves it.
func ctrLifecycle(t *testing.T, d *daemon, runtime, shimName string) {
	ctr := testutil.RequireBinary(t, "ctr")
	ns := "peer"
	fifo := []string{"--fifo-dir", filepath.Join(d.dir, "fifo")}
	run := func(args ...string) []string {
		cmd := append([]string{"run"}, fifo...)
		if runtime != "" {
			cmd = append(cmd, "--runtime", runtime)
		}
		return append(cmd, args...)
	}

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
	// (A shim re-executes itself by its real name.)
	if processesNamed(t, shimName, d.dir) == 0 {
		t.Fatalf("no %s serves the task of runtime %q", shimName, runtime)
	}
	d.mustCtr(ctr, ns, "task", "pause", "bg")
	if out := d.mustCtr(ctr, ns, "task", "ls"); !strings.Contains(out, "PAUSED") {
		t.Fatalf("task ls after pause:\n%s", out)
	}
	d.mustCtr(ctr, ns, "task", "resume", "bg")
	if out := d.mustCtr(ctr, ns, "task", "ls"); !strings.Contains(out, "RUNNING") {
		t.Fatalf("task ls after resume:\n%s", out)
	}
	attachLifecycle(t, d, runtime)
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

// processesNamed counts processes whose command name (argv[0] base) is name
// and whose command line mentions marker; spare shims are not counted.
func processesNamed(t *testing.T, name, marker string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		argv0 := strings.SplitN(string(b), "\x00", 2)[0]
		spare := strings.Contains(string(b), "\x00-spare\x00") // serves no task yet
		if filepath.Base(argv0) == name && strings.Contains(string(b), marker) && !spare {
			n++
		}
	}
	return n
}

// attachLifecycle attaches to a detached task with our ctr (containerd's
// needs a terminal for it): input reaches the task, output comes back.
func attachLifecycle(t *testing.T, d *daemon, runtime string) {
	ours := filepath.Join(d.bin, "ctr")
	args := []string{"run", "-d", "--fifo-dir", filepath.Join(d.dir, "fifo")}
	if runtime != "" {
		args = append(args, "--runtime", runtime)
	}
	d.mustCtr(ours, "peer", append(args, "--rootfs", testutil.BusyboxRootfs(t), "att", "/bin/sh")...)
	cmd := exec.Command(ours, "--address", d.Address, "-n", "peer", "tasks", "attach", "att")
	cmd.Stdin = strings.NewReader("echo attached-ok; exit 4\n")
	out, err := cmd.CombinedOutput()
	if code := exitCode(err); code != 4 || !strings.Contains(string(out), "attached-ok") {
		t.Fatalf("tasks attach: exit %d, output %q", code, out)
	}
	d.mustCtr(ours, "peer", "containers", "rm", "att")
}
