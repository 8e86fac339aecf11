package daemon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	ptypes "github.com/gogo/protobuf/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	containersapi "github.com/seedrt/seed/api/services/containers/v1"
	tasksapi "github.com/seedrt/seed/api/services/tasks/v1"
	"github.com/seedrt/seed/coordinator/nsctx"
	"github.com/seedrt/seed/oci"
	"github.com/seedrt/seed/shimapi/typeurl"
	"github.com/seedrt/seed/tests/testutil"
)

// Containers keep running while the daemon is stopped (gracefully or with
// SIGKILL), and the restarted daemon controls them again, whichever kind of
// shim runs them.
func TestRestartKeepsContainers(t *testing.T) {
	for _, rt := range runtimeMatrix {
		t.Run(rt.name, func(t *testing.T) {
			testutil.RequireBinary(t, filepath.Base(rt.shim))
			testRestartKeepsContainers(t, rt.runtime)
		})
	}
}

func testRestartKeepsContainers(t *testing.T, runtime string) {
	ctr := testutil.RequireBinary(t, "ctr")
	d := startDaemonWithConfig(t, runtimesConfig)
	fifo := []string{"--fifo-dir", filepath.Join(d.dir, "fifo")}
	d.mustCtr(ctr, "r", append(append([]string{"run", "-d", "--runtime", runtime}, fifo...), "--rootfs", testutil.BusyboxRootfs(t), "keep", "/bin/sleep", "300")...)
	pid := taskPid(t, d, ctr, "r", "keep")

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		d.stop(sig)
		if !alive(pid) {
			t.Fatalf("container died when the daemon got %v", sig)
		}
		d.start()
		if got := taskPid(t, d, ctr, "r", "keep"); got != pid {
			t.Fatalf("after restart (%v) task pid %d, want %d", sig, got, pid)
		}
		out := d.mustCtr(ctr, "r", append(append([]string{"task", "exec"}, fifo...), "--exec-id", "x"+sig.String()[3:], "keep", "/bin/echo", "still-here")...)
		if strings.TrimSpace(out) != "still-here" {
			t.Fatalf("exec after restart printed %q", out)
		}
	}
	d.mustCtr(ctr, "r", "task", "kill", "-s", "SIGKILL", "keep")
	testutil.WaitFor(t, 10*time.Second, func() bool { return !alive(pid) }, "container to die")
	d.mustCtr(ctr, "r", "task", "rm", "keep")
	d.mustCtr(ctr, "r", "c", "rm", "keep")
}

// taskPid returns the pid of a running task, waiting while a restarted
// daemon still recovers it (listed UNKNOWN).
func taskPid(t *testing.T, d *daemon, ctr, ns, id string) int {
	t.Helper()
	var pid int
	var out string
	testutil.WaitFor(t, 10*time.Second, func() bool {
		out = d.mustCtr(ctr, ns, "task", "ls")
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) == 3 && f[0] == id {
				json.Unmarshal([]byte(f[1]), &pid)
				return f[2] == "RUNNING"
			}
		}
		return false
	}, "task "+id+" to be listed RUNNING")
	return pid
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// ctr events sees the daemon's and the shims' events, filtered.
func TestEventsWithFilters(t *testing.T) {
	ctr := testutil.RequireBinary(t, "ctr")
	d := startDaemon(t)
	all := exec.Command(ctr, "--address", d.Address, "events")
	exits := exec.Command(ctr, "--address", d.Address, "events", `topic=="/tasks/exit"`)
	var lines [2]chan string
	for i, cmd := range []*exec.Cmd{all, exits} {
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		lines[i] = make(chan string, 100)
		go func(ch chan string) {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				ch <- sc.Text()
			}
			close(ch)
		}(lines[i])
	}
	time.Sleep(300 * time.Millisecond) // let the subscriptions register
	d.mustCtr(ctr, "ev", "run", "--rm", "--fifo-dir", filepath.Join(d.dir, "fifo"), "--rootfs", testutil.BusyboxRootfs(t), "evt", "/bin/true")

	want := []string{"/containers/create", "/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete", "/containers/delete"}
	var got []string
	timeout := time.After(10 * time.Second)
	for len(got) < len(want) {
		select {
		case l := <-lines[0]:
			if f := strings.Fields(l); len(f) >= 6 && f[4] == "ev" { // date time zone UTC namespace topic event
				got = append(got, f[5])
			}
		case <-timeout:
			t.Fatalf("events so far %v, want %v", got, want)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events %v, want %v", got, want)
	}
	select {
	case l := <-lines[1]:
		if !strings.Contains(l, "/tasks/exit") {
			t.Fatalf("filtered subscriber got %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("filtered subscriber got nothing")
	}
	select {
	case l := <-lines[1]:
		t.Fatalf("filtered subscriber got a second event %q", l)
	case <-time.After(300 * time.Millisecond):
	}
}

// Bad requests get the right error codes, and nothing half-made stays.
func TestBadInput(t *testing.T) {
	d := startDaemon(t)
	conn := d.dial()
	defer conn.Close()
	containers := containersapi.NewContainersClient(conn)
	tasks := tasksapi.NewTasksClient(conn)
	ctx := nsctx.Outgoing(context.Background(), "bad")
	spec := specAny(t, oci.DefaultSpec("c1", oci.WithRootfs(testutil.BusyboxRootfs(t), false), oci.WithArgs("/bin/true")))
	create := func(id, runtime string, spec *ptypes.Any) error {
		_, err := containers.Create(ctx, &containersapi.CreateContainerRequest{Container: containersapi.Container{
			ID: id, Runtime: &containersapi.Container_Runtime{Name: runtime}, Spec: spec,
		}})
		return err
	}
	check := func(what string, err error, want codes.Code) {
		t.Helper()
		if status.Code(err) != want {
			t.Errorf("%s: got %v, want %v", what, err, want)
		}
	}
	check("create", create("c1", "io.containerd.runc.v2", spec), codes.OK)
	check("duplicate container", create("c1", "io.containerd.runc.v2", spec), codes.AlreadyExists)
	check("path in id", create("../escape", "io.containerd.runc.v2", spec), codes.InvalidArgument)
	_, err := containers.Get(context.Background(), &containersapi.GetContainerRequest{ID: "c1"})
	check("no namespace", err, codes.InvalidArgument)
	_, err = containers.Get(ctx, &containersapi.GetContainerRequest{ID: "nope"})
	check("unknown container", err, codes.NotFound)
	_, err = tasks.Get(ctx, &tasksapi.GetRequest{ContainerID: "c1"})
	check("task of a container without one", err, codes.NotFound)
	_, err = tasks.Create(ctx, &tasksapi.CreateTaskRequest{ContainerID: "nope"})
	check("task for unknown container", err, codes.NotFound)
	_, err = tasks.Kill(ctx, &tasksapi.KillRequest{ContainerID: "nope", Signal: 9})
	check("kill unknown", err, codes.NotFound)

	check("create bad spec", create("badspec", "io.containerd.runc.v2", &ptypes.Any{TypeUrl: typeurl.SpecURL, Value: []byte("{not json")}), codes.OK)
	_, err = tasks.Create(ctx, &tasksapi.CreateTaskRequest{ContainerID: "badspec"})
	check("task from a bad spec", err, codes.InvalidArgument)
	// A runtime that resolves to nothing is refused before any container
	// record exists.
	err = create("norun", "io.containerd.nosuch.v2", spec)
	check("container with a runtime that resolves to nothing", err, codes.NotFound)
	if err != nil && !strings.Contains(err.Error(), "io.containerd.nosuch.v2") {
		t.Errorf("error does not name the runtime: %v", err)
	}
	_, err = containers.Get(ctx, &containersapi.GetContainerRequest{ID: "norun"})
	check("no container left by a refused runtime", err, codes.NotFound)
	_, err = tasks.Get(ctx, &tasksapi.GetRequest{ContainerID: "badspec"})
	check("no half-created task", err, codes.NotFound)

	// A second daemon on the same address or state is refused.
	out, err := exec.Command(filepath.Join(d.bin, "containerd"), "--address", d.Address,
		"--root", filepath.Join(d.dir, "root2"), "--state", filepath.Join(d.dir, "state2")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already serving") {
		t.Errorf("second daemon on the same address: %v: %s", err, out)
	}
	out, err = exec.Command(filepath.Join(d.bin, "containerd"), "--address", filepath.Join(d.dir, "other.sock"),
		"--root", filepath.Join(d.dir, "root"), "--state", filepath.Join(d.dir, "state")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "state directory") {
		t.Errorf("second daemon on the same state: %v: %s", err, out)
	}
}

// Namespaces are kept apart: the same id in two namespaces is two containers.
func TestNamespacesKeptApart(t *testing.T) {
	ctr := testutil.RequireBinary(t, "ctr")
	d := startDaemon(t)
	fifo := []string{"--fifo-dir", filepath.Join(d.dir, "fifo")}
	for _, ns := range []string{"one", "two"} {
		d.mustCtr(ctr, ns, append(append([]string{"run", "-d"}, fifo...), "--rootfs", testutil.BusyboxRootfs(t), "same", "/bin/sleep", "300")...)
	}
	d.mustCtr(ctr, "one", "task", "kill", "-s", "SIGKILL", "same")
	testutil.WaitFor(t, 10*time.Second, func() bool {
		out, _ := d.ctr(ctr, "one", "task", "ls")
		return strings.Contains(out, "STOPPED")
	}, "task in namespace one to stop")
	if out := d.mustCtr(ctr, "two", "task", "ls"); !strings.Contains(out, "RUNNING") {
		t.Fatalf("namespace two's task was affected:\n%s", out)
	}
	if out := d.mustCtr(ctr, "three", "task", "ls"); strings.Contains(out, "same") {
		t.Fatalf("namespace three sees another namespace's task:\n%s", out)
	}
}

func specAny(t *testing.T, s *specs.Spec) *ptypes.Any {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return &ptypes.Any{TypeUrl: typeurl.SpecURL, Value: b}
}
