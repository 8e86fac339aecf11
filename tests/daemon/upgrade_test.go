package daemon_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tasksapi "github.com/seedrt/seed/api/services/tasks/v1"
	"github.com/seedrt/seed/client"
	"github.com/seedrt/seed/coordinator/nsctx"
	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/oci"
	"github.com/seedrt/seed/tests/testutil"
)

const upgradeVersion = "9.9.9-test"

// A daemon of another version started on the same root, state and address
// takes over every task of the one it replaces: running ones, their
// exec'd processes and terminals, stopped ones, and reports its own
// version. New tasks get the new daemon's shim; old ones keep theirs.
func TestUpgradeTakesOver(t *testing.T) {
	const ns = "upgrade"
	removeNamespaceCgroups(t, ns)
	d := startDaemon(t)
	oldBin := d.bin
	newBin := buildVersionedDaemon(t, oldBin, upgradeVersion)
	rootfs := testutil.SharedBusyboxRootfs(t)
	fifoDir := filepath.Join(d.dir, "fifo")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := d.client(t, ns)
	oldVersion, err := c.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if oldVersion.Version == upgradeVersion {
		t.Fatalf("the first daemon already reports %s", upgradeVersion)
	}

	ctrs := []*scaleCtr{
		{id: "up-plain", kind: kindPlain},
		{id: "up-fifo", kind: kindPlain, fifos: true},
		{id: "up-exec", kind: kindExec},
		{id: "up-tty", kind: kindTTY, fifos: true},
	}
	for _, sc := range ctrs {
		args := []string{"/bin/sleep", "300"}
		if sc.kind == kindTTY {
			args = []string{"/bin/sh"}
		}
		ct, err := c.NewContainer(ctx, sc.id, oci.DefaultSpec(sc.id, oci.WithNamespace(ns), oci.WithRootfs(rootfs, true),
			oci.WithArgs(args...), oci.WithTerminal(sc.kind == kindTTY)))
		if err != nil {
			t.Fatal(err)
		}
		var ioc client.Creator
		if sc.fifos {
			ioc = client.DetachedFIFOs(fifoDir, sc.kind == kindTTY)
		}
		task, err := ct.NewTask(ctx, ioc)
		if err != nil {
			t.Fatal(err)
		}
		if err := task.Start(ctx); err != nil {
			t.Fatal(err)
		}
		task.IO().Close()
		sc.pid = task.Pid()
		if sc.kind == kindExec {
			p, err := task.Exec(ctx, scaleExecID, oci.DefaultSpec(sc.id, oci.WithArgs("/bin/sleep", "300")).Process, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Start(ctx); err != nil {
				t.Fatal(err)
			}
			sc.execPid = p.Pid()
		}
	}
	// One task that already exited, with its status.
	done, err := c.NewContainer(ctx, "up-done", oci.DefaultSpec("up-done", oci.WithNamespace(ns), oci.WithRootfs(rootfs, true),
		oci.WithArgs("/bin/sh", "-c", "exit 7")))
	if err != nil {
		t.Fatal(err)
	}
	doneTask, err := done.NewTask(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	exitc, err := doneTask.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := doneTask.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if st := <-exitc; st.Code != 7 {
		t.Fatalf("up-done exited with %+v, want 7", st)
	}
	oldShim := exeOf(shimPid(t, d.dir, "up-plain"))

	d.stop(syscall.SIGTERM)
	for _, sc := range ctrs {
		if !alive(int(sc.pid)) || sc.execPid != 0 && !alive(int(sc.execPid)) {
			t.Fatalf("%s died when the old daemon stopped", sc.id)
		}
	}
	d.bin = newBin
	d.start()
	c = d.client(t, ns)
	v, err := c.Version(ctx)
	if err != nil || v.Version != upgradeVersion {
		t.Fatalf("the new daemon reports %+v, %v; want version %s", v, err, upgradeVersion)
	}

	for _, sc := range ctrs {
		st, err := c.Task(sc.id).Status(ctx)
		if err != nil || st.State != client.Running || st.Pid != sc.pid {
			t.Fatalf("%s under the new daemon: %+v, %v; want RUNNING pid %d", sc.id, st, err, sc.pid)
		}
	}
	if st, err := c.Task("up-done").Status(ctx); err != nil || st.State != client.Stopped || st.ExitStatus != 7 {
		t.Errorf("up-done under the new daemon: %+v, %v; want STOPPED with 7", st, err)
	}
	p := c.Task("up-exec").Process(scaleExecID)
	if st, err := p.Status(ctx); err != nil || st.State != client.Running || st.Pid != ctrs[2].execPid {
		t.Fatalf("exec %s under the new daemon: %+v, %v; want RUNNING pid %d", scaleExecID, st, err, ctrs[2].execPid)
	}
	execEcho(t, ctx, c, fifoDir, "up-plain", "up-fifo", "up-exec", "up-tty")
	exitc, err = p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(ctx, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if st := <-exitc; st.Code != 137 {
		t.Errorf("exec %s killed: %+v, want 137", scaleExecID, st)
	}
	if del, err := p.Delete(ctx); err != nil || del.Code != 137 {
		t.Errorf("delete exec %s: %+v, %v; want 137", scaleExecID, del, err)
	}
	attachTerminal(t, ctx, c, "up-tty")
	ctrs[3].deleted = true

	// A new task is served by the new daemon's shim; the old ones keep
	// the shim that started them.
	nc, err := c.NewContainer(ctx, "up-new", oci.DefaultSpec("up-new", oci.WithNamespace(ns), oci.WithRootfs(rootfs, true),
		oci.WithArgs("/bin/sleep", "300")))
	if err != nil {
		t.Fatal(err)
	}
	nt, err := nc.NewTask(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := nt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ctrs = append(ctrs, &scaleCtr{id: "up-new", kind: kindPlain, pid: nt.Pid()})
	if got, want := exeOf(shimPid(t, d.dir, "up-new")), filepath.Join(newBin, "containerd-shim"); got != want {
		t.Errorf("the new task's shim runs %s, want %s", got, want)
	}
	if got := exeOf(shimPid(t, d.dir, "up-plain")); got != oldShim {
		t.Errorf("an old task's shim now runs %s, want %s (untouched)", got, oldShim)
	}

	for _, sc := range ctrs {
		if !sc.deleted {
			task, err := c.LoadTask(ctx, sc.id, nil) // knows its FIFOs, to remove them
			if err != nil {
				t.Fatal(err)
			}
			st := killAndWait(t, ctx, task)
			if st.Code != 137 {
				t.Errorf("%s killed under the new daemon: %+v, want 137", sc.id, st)
			}
			if del, err := task.Delete(ctx); err != nil || del.Code != 137 {
				t.Errorf("delete %s: %+v, %v; want 137", sc.id, del, err)
			}
		}
		if err := c.Container(sc.id).Delete(ctx); err != nil {
			t.Errorf("delete container %s: %v", sc.id, err)
		}
	}
	if del, err := c.Task("up-done").Delete(ctx); err != nil || del.Code != 7 {
		t.Errorf("delete up-done: %+v, %v; want 7", del, err)
	}
	if err := c.Container("up-done").Delete(ctx); err != nil {
		t.Error(err)
	}
	checkNothingLeft(t, d, ns, fifoDir, ctrs)
}

// A bundle record in a format newer than the daemon knows (a downgrade,
// or a newer daemon's leftovers) is refused, not misread: the daemon keeps
// running and serving the other tasks, leaves that task's container alone
// and reports why it cannot act on it. With the record back in a known
// format, the next daemon takes the task over as usual.
func TestUpgradeRefusesNewerBundleFormat(t *testing.T) {
	const ns = "future"
	removeNamespaceCgroups(t, ns)
	d := startDaemon(t)
	rootfs := testutil.SharedBusyboxRootfs(t)
	fifoDir := filepath.Join(d.dir, "fifo")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := d.client(t, ns)
	pids := map[string]uint32{}
	for _, id := range []string{"from-future", "normal"} {
		ct, err := c.NewContainer(ctx, id, oci.DefaultSpec(id, oci.WithNamespace(ns), oci.WithRootfs(rootfs, true), oci.WithArgs("/bin/sleep", "300")))
		if err != nil {
			t.Fatal(err)
		}
		task, err := ct.NewTask(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := task.Start(ctx); err != nil {
			t.Fatal(err)
		}
		pids[id] = task.Pid()
	}
	bundle := filepath.Join(d.dir, "state", "tasks", ns, "from-future")
	record := filepath.Join(bundle, "runtime.json")
	original, err := os.ReadFile(record)
	if err != nil {
		t.Fatalf("the bundle record: %v", err)
	}
	var rec map[string]any
	if err := json.Unmarshal(original, &rec); err != nil {
		t.Fatalf("%s: %v", record, err)
	}
	if v, _ := rec["version"].(float64); v != 1 {
		t.Fatalf("%s has version %v; this test knows 1: %s", record, rec["version"], original)
	}

	d.stop(syscall.SIGTERM)
	rec["version"] = 99
	rec["something_new"] = map[string]any{"unknown": true}
	future, _ := json.Marshal(rec)
	if err := os.WriteFile(record, future, 0o600); err != nil {
		t.Fatal(err)
	}
	d.start()
	c = d.client(t, ns)

	// The other task is served as usual.
	if st, err := c.Task("normal").Status(ctx); err != nil || st.State != client.Running || st.Pid != pids["normal"] {
		t.Fatalf("the other task: %+v, %v; want RUNNING pid %d", st, err, pids["normal"])
	}
	execEcho(t, ctx, c, fifoDir, "normal")

	// The task of the newer format: refused with a clear error, untouched.
	_, err = c.Task("from-future").Status(ctx)
	if err == nil || errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "99") || !strings.Contains(err.Error(), "newer") {
		t.Errorf("status of the task with a newer record: %v; want an error naming the newer format version 99", err)
	}
	conn := d.dial()
	defer conn.Close()
	_, err = tasksapi.NewTasksClient(conn).Get(nsctx.Outgoing(ctx, ns), &tasksapi.GetRequest{ContainerID: "from-future"})
	if code := status.Code(err); code != codes.FailedPrecondition {
		t.Errorf("Tasks.Get of the task with a newer record: code %v (%v), want FailedPrecondition", code, err)
	}
	list, err := c.Tasks(ctx)
	if err != nil {
		t.Fatalf("list tasks with one of a newer format: %v", err)
	}
	listed := false
	for _, p := range list {
		listed = listed || p.ContainerID == "from-future"
	}
	if !listed {
		t.Errorf("the task with a newer record is not listed: %+v", list)
	}
	for what, err := range map[string]error{
		"kill":             c.Task("from-future").Kill(ctx, syscall.SIGKILL, true),
		"delete":           func() error { _, err := c.Task("from-future").Delete(ctx); return err }(),
		"delete container": c.Container("from-future").Delete(ctx),
	} {
		if err == nil {
			t.Errorf("%s of the task with a newer record succeeded", what)
		}
	}
	if _, err := c.Container("from-future").NewTask(ctx, nil); err == nil {
		t.Errorf("a new task replaced the task with a newer record")
	}
	time.Sleep(500 * time.Millisecond) // anything done in the background would show by now
	if !alive(int(pids["from-future"])) {
		t.Fatalf("the container of the task with a newer record was killed")
	}
	if b, err := os.ReadFile(record); err != nil || string(b) != string(future) {
		t.Fatalf("the newer record was changed or removed: %q, %v", b, err)
	}
	if v, err := c.Version(ctx); err != nil {
		t.Fatalf("the daemon stopped answering: %v, %v", v, err)
	}
	if !strings.Contains(d.log.String(), "newer") {
		t.Errorf("the daemon's log does not say why it left the task alone:\n%s", d.log.String())
	}

	// Back in a known format, the task is taken over again.
	d.stop(syscall.SIGTERM)
	if err := os.WriteFile(record, original, 0o600); err != nil {
		t.Fatal(err)
	}
	d.start()
	c = d.client(t, ns)
	if st, err := c.Task("from-future").Status(ctx); err != nil || st.State != client.Running || st.Pid != pids["from-future"] {
		t.Fatalf("the task with its record restored: %+v, %v; want RUNNING pid %d", st, err, pids["from-future"])
	}
	var ctrs []*scaleCtr
	for id, pid := range pids {
		task := c.Task(id)
		if st := killAndWait(t, ctx, task); st.Code != 137 {
			t.Errorf("%s killed: %+v, want 137", id, st)
		}
		if _, err := task.Delete(ctx); err != nil {
			t.Errorf("delete %s: %v", id, err)
		}
		if err := c.Container(id).Delete(ctx); err != nil {
			t.Errorf("delete container %s: %v", id, err)
		}
		ctrs = append(ctrs, &scaleCtr{id: id, pid: pid})
	}
	checkNothingLeft(t, d, ns, fifoDir, ctrs)
}

// buildVersionedDaemon builds the daemon reporting version into a new
// directory, with a copy of the shim from bin beside it.
func buildVersionedDaemon(t *testing.T, bin, version string) string {
	t.Helper()
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-trimpath",
		"-ldflags", "-s -w -X github.com/seedrt/seed/coordinator/version.Version="+version,
		"-o", filepath.Join(dir, "containerd"), "./cmd/containerd")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the daemon with version %s: %v\n%s", version, err, out)
	}
	shim, err := os.ReadFile(filepath.Join(bin, "containerd-shim"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "containerd-shim"), shim, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// killAndWait SIGKILLs every process of the task and returns its exit.
func killAndWait(t *testing.T, ctx context.Context, task *client.Task) client.ExitStatus {
	t.Helper()
	exitc, err := task.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Kill(ctx, syscall.SIGKILL, true); err != nil {
		t.Fatalf("kill %s: %v", task.ID(), err)
	}
	select {
	case st := <-exitc:
		return st
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no exit 20s after SIGKILL", task.ID())
	}
	panic("unreachable")
}

// exeOf returns the executable a process runs.
func exeOf(pid int) string {
	exe, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
	return exe
}
