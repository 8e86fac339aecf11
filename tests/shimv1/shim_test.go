package shimv1_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	ptypes "github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/oci"
	"github.com/seedrt/seed/shimapi/runctypes"
	"github.com/seedrt/seed/shimapi/shimv1"
	tasktypes "github.com/seedrt/seed/shimapi/types/task"
	"github.com/seedrt/seed/tests/testutil"
)

func TestLifecycle(t *testing.T) {
	h := newHarness(t)
	st := h.startShim(shimOpts{}, oci.WithArgs("/bin/sh", "-c", "echo hello; echo oops >&2; exit 7"))
	ctx := context.Background()

	info, err := st.client.ShimInfo(ctx, &ptypes.Empty{})
	if err != nil || int(info.ShimPid) != st.cmd.Process.Pid {
		t.Fatalf("ShimInfo: %v, %v; want pid %d", info, err, st.cmd.Process.Pid)
	}
	if _, err := st.client.State(ctx, &shimv1.StateRequest{ID: st.id}); !errdefs.IsNotFound(errdefs.FromGRPC(err)) {
		t.Fatalf("state before create: %v, want not found", err)
	}

	cio := newIO(t, false)
	created := st.create(cio)
	if created.Pid == 0 {
		t.Fatal("create returned no pid")
	}
	// -runtime-root is runc's root, per namespace.
	if _, err := os.Stat(filepath.Join(h.runcRoot, namespace, st.id, "state.json")); err != nil {
		t.Fatalf("runc state not under -runtime-root/NS: %v", err)
	}
	s := st.state(st.id)
	if s.Status != tasktypes.StatusCreated || s.ID != st.id || s.Bundle != st.bundle || s.Pid != created.Pid || s.Stdout != cio.Stdout {
		t.Fatalf("state after create: %+v", s)
	}
	if pid := st.start(st.id); pid != created.Pid {
		t.Fatalf("start pid %d, create pid %d", pid, created.Pid)
	}
	if code := st.wait(st.id); code != 7 {
		t.Fatalf("exit %d, want 7", code)
	}
	cio.WaitOutputIs(t, "hello\n")
	testutil.WaitFor(t, 5*time.Second, func() bool { return cio.Err.String() == "oops\n" }, "stderr oops")
	s = st.state(st.id)
	if s.Status != tasktypes.StatusStopped || s.ExitStatus != 7 || s.ExitedAt.IsZero() {
		t.Fatalf("state after exit: %+v", s)
	}
	del := st.delete()
	if del.ExitStatus != 7 || del.Pid != created.Pid || del.ExitedAt.IsZero() {
		t.Fatalf("delete: %+v", del)
	}
	if _, err := st.client.State(ctx, &shimv1.StateRequest{ID: st.id}); !errdefs.IsNotFound(errdefs.FromGRPC(err)) {
		t.Fatalf("state after delete: %v, want not found", err)
	}
	if _, err := os.Stat(filepath.Join(h.runcRoot, namespace, st.id)); !os.IsNotExist(err) {
		t.Fatalf("runc state left after delete: %v", err)
	}

	// Delete returns once the exit is out (the daemon kills the shim next).
	evs := h.pub.published(t)
	exits := exitsOf(t, evs, st.id)
	if len(exits) != 1 {
		t.Fatalf("published %d exits, want 1: %v", len(exits), evs)
	}
	if e := exits[0]; e.ID != st.id || e.Pid != created.Pid || e.ExitStatus != 7 || e.ExitedAt.IsZero() {
		t.Fatalf("exit event %+v", e)
	}
	if want := "--address " + h.address + " publish --topic /tasks/exit --namespace " + namespace; evs[0].args != want {
		t.Fatalf("publish command line %q, want %q", evs[0].args, want)
	}

	// The shim says which protocol it speaks.
	var rec struct {
		Protocol string `json:"protocol"`
		Pid      int    `json:"pid"`
		Address  string `json:"address"`
	}
	b, err := os.ReadFile(filepath.Join(st.bundle, "shim.json"))
	if err == nil {
		err = json.Unmarshal(b, &rec)
	}
	if err != nil || rec.Protocol != "v1" || rec.Pid != st.cmd.Process.Pid || rec.Address != "unix://"+st.socket {
		t.Fatalf("shim.json: %+v, %v", rec, err)
	}
}

func TestExecKillPauseListPids(t *testing.T) {
	h := newHarness(t)
	st := h.startShim(shimOpts{}, oci.WithArgs("/bin/sleep", "300"))
	ctx := context.Background()
	st.create(newIO(t, false))
	initPid := st.start(st.id)

	// An exec that exits on its own.
	eio := newIO(t, false)
	st.exec("e1", eio, "/bin/sh", "-c", "echo exec-out; exit 3")
	if _, err := st.client.Exec(ctx, &shimv1.ExecProcessRequest{ID: st.id}); !errdefs.IsAlreadyExists(errdefs.FromGRPC(err)) {
		t.Fatalf("exec named like the container: %v, want already exists", err)
	}
	e1Pid := st.start("e1")
	if code := st.wait("e1"); code != 3 {
		t.Fatalf("exec e1 exit %d, want 3", code)
	}
	eio.WaitOutputIs(t, "exec-out\n")
	if s := st.state("e1"); s.ID != "e1" || s.Status != tasktypes.StatusStopped || s.ExitStatus != 3 {
		t.Fatalf("state of e1: %+v", s)
	}
	if _, err := st.client.DeleteProcess(ctx, &shimv1.DeleteProcessRequest{ID: st.id}); !errdefs.IsInvalidArgument(errdefs.FromGRPC(err)) {
		t.Fatalf("DeleteProcess of the init process: %v, want invalid argument", err)
	}
	del, err := st.client.DeleteProcess(ctx, &shimv1.DeleteProcessRequest{ID: "e1"})
	if err != nil || del.ExitStatus != 3 || del.Pid != e1Pid {
		t.Fatalf("DeleteProcess e1: %+v, %v", del, err)
	}
	if _, err := st.client.State(ctx, &shimv1.StateRequest{ID: "e1"}); !errdefs.IsNotFound(errdefs.FromGRPC(err)) {
		t.Fatalf("state of deleted exec: %v, want not found", err)
	}

	// A long-running exec: listed by ListPids, killed by its id.
	st.exec("e2", newIO(t, false), "/bin/sleep", "300")
	e2Pid := st.start("e2")
	pids, err := st.client.ListPids(ctx, &shimv1.ListPidsRequest{ID: st.id})
	if err != nil {
		t.Fatal(err)
	}
	named := map[uint32]string{}
	for _, p := range pids.Processes {
		if p.Info == nil {
			continue
		}
		if p.Info.TypeUrl != "containerd.linux.runc.ProcessDetails" {
			t.Fatalf("pid %d info of type %q", p.Pid, p.Info.TypeUrl)
		}
		var d runctypes.ProcessDetails
		if err := proto.Unmarshal(p.Info.Value, &d); err != nil {
			t.Fatal(err)
		}
		named[p.Pid] = d.ExecID
	}
	if len(pids.Processes) != 2 || named[initPid] != st.id || named[e2Pid] != "e2" {
		t.Fatalf("ListPids: %v (named %v), want init %d as %s and e2 %d", pids.Processes, named, initPid, st.id, e2Pid)
	}

	if _, err := st.client.Pause(ctx, &ptypes.Empty{}); err != nil {
		t.Fatalf("pause: %v", err)
	}
	if s := st.state(st.id); s.Status != tasktypes.StatusPaused {
		t.Fatalf("after pause: %v", s.Status)
	}
	if _, err := st.client.Resume(ctx, &ptypes.Empty{}); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if s := st.state(st.id); s.Status != tasktypes.StatusRunning {
		t.Fatalf("after resume: %v", s.Status)
	}

	if _, err := st.client.Kill(ctx, &shimv1.KillRequest{ID: "e2", Signal: 9}); err != nil {
		t.Fatalf("kill e2: %v", err)
	}
	if code := st.wait("e2"); code != 137 {
		t.Fatalf("e2 exit %d, want 137", code)
	}
	if s := st.state(st.id); s.Status != tasktypes.StatusRunning {
		t.Fatalf("init after killing e2: %v", s.Status)
	}
	// An empty id is the init process, as containerd sends it.
	if _, err := st.client.Kill(ctx, &shimv1.KillRequest{Signal: 9, All: true}); err != nil {
		t.Fatalf("kill init: %v", err)
	}
	if code := st.wait(st.id); code != 137 {
		t.Fatalf("init exit %d, want 137", code)
	}
	if del := st.delete(); del.ExitStatus != 137 || del.Pid != initPid {
		t.Fatalf("delete: %+v", del)
	}

	exits := exitsOf(t, h.pub.published(t), st.id)
	var got []string
	for _, e := range exits {
		got = append(got, e.ID)
	}
	if strings.Join(got, " ") != "e1 e2 "+st.id {
		t.Fatalf("exit events for %v, want e1, e2, then the init", got)
	}
	if exits[0].ExitStatus != 3 || exits[1].Pid != e2Pid || exits[2].ExitStatus != 137 {
		t.Fatalf("exit events %v", exits)
	}
}

func TestStdinAndCloseIO(t *testing.T) {
	h := newHarness(t)
	st := h.startShim(shimOpts{}, oci.WithArgs("/bin/cat"))
	cio := newIO(t, true)
	st.create(cio)
	st.start(st.id)
	if _, err := cio.In.Write([]byte("through stdin\n")); err != nil {
		t.Fatal(err)
	}
	cio.WaitOutputIs(t, "through stdin\n")
	if _, err := st.client.CloseIO(context.Background(), &shimv1.CloseIORequest{ID: st.id, Stdin: true}); err != nil {
		t.Fatal(err)
	}
	if code := st.wait(st.id); code != 0 {
		t.Fatalf("cat exit %d after CloseIO", code)
	}
}

// Exits that happen while the daemon cannot take events are published,
// in order, once it can; the shim answers meanwhile.
func TestEventsWaitForTheDaemon(t *testing.T) {
	h := newHarness(t)
	st := h.startShim(shimOpts{}, oci.WithArgs("/bin/sleep", "300"))
	st.create(newIO(t, false))
	st.start(st.id)
	h.pub.setDown(t, true)
	st.exec("e1", newIO(t, false), "/bin/true")
	st.start("e1")
	if code := st.wait("e1"); code != 0 {
		t.Fatalf("e1 exit %d", code)
	}
	if _, err := st.client.Kill(context.Background(), &shimv1.KillRequest{ID: st.id, Signal: 9}); err != nil {
		t.Fatal(err)
	}
	if code := st.wait(st.id); code != 137 {
		t.Fatalf("init exit %d", code)
	}
	time.Sleep(300 * time.Millisecond) // a few failed attempts
	if evs := h.pub.published(t); len(evs) != 0 {
		t.Fatalf("published while the daemon was down: %v", evs)
	}
	h.pub.setDown(t, false)
	testutil.WaitFor(t, 10*time.Second, func() bool { return len(h.pub.published(t)) == 2 }, "2 exit events once the daemon is back")
	exits := exitsOf(t, h.pub.published(t), st.id)
	if exits[0].ID != "e1" || exits[1].ID != st.id || exits[1].ExitStatus != 137 {
		t.Fatalf("exit events %v %v, want e1's then the init's", exits[0], exits[1])
	}
	st.delete()
}
