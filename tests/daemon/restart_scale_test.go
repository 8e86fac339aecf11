package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/seedrt/seed/client"
	"github.com/seedrt/seed/oci"
	"github.com/seedrt/seed/shimapi/events"
	"github.com/seedrt/seed/tests/testutil"
)

// The restart-at-scale mix: plain sleepers (half without stdio, half with
// detached FIFOs), the first scaleVictims of which are SIGKILLed while the
// daemon is down; shells with a terminal and detached FIFOs; sleepers with
// a running exec'd sleeper.
const (
	scalePlain    = 30
	scaleVictims  = 10
	scaleTerminal = 10
	scaleExec     = 10
	scaleWorkers  = 8
	scaleExecID   = "sleeper"
	scaleNS       = "scale"
)

type scaleKind int

const (
	kindPlain scaleKind = iota
	kindTTY
	kindExec
)

type scaleCtr struct {
	id      string
	kind    scaleKind
	fifos   bool // created with detached FIFOs
	victim  bool
	pid     uint32 // init, as created
	execPid uint32 // the exec'd sleeper's (kindExec)
	deleted bool
}

// A daemon killed with SIGKILL, with 50 containers of every kind, some of
// which die while it is down, comes back controlling all of them: the
// exits that happened meanwhile reach a subscriber exactly once, the
// running tasks, their exec'd processes and terminals work, and deleting
// everything leaves nothing behind.
func TestRestartAtScale(t *testing.T) {
	t.Run("ours", func(t *testing.T) { restartAtScale(t, "") })
	t.Run("containerd-shim-runc-v2", func(t *testing.T) {
		runcShim := testutil.RequireBinary(t, "containerd-shim-runc-v2")
		bin := t.TempDir()
		if err := os.Symlink(runcShim, filepath.Join(bin, "containerd-shim-debrunc-v2")); err != nil {
			t.Fatal(err)
		}
		restartAtScale(t, "io.containerd.debrunc.v2", "PATH="+bin+":"+os.Getenv("PATH"))
	})
}

func restartAtScale(t *testing.T, runtime string, env ...string) {
	began := time.Now()
	removeNamespaceCgroups(t, scaleNS)
	d := startDaemon(t, env...)
	rootfs := testutil.SharedBusyboxRootfs(t)
	fifoDir := filepath.Join(d.dir, "fifo")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := d.client(t, scaleNS)

	var ctrs []*scaleCtr
	for i := 0; i < scalePlain; i++ {
		ctrs = append(ctrs, &scaleCtr{id: fmt.Sprintf("plain-%02d", i), kind: kindPlain, fifos: i%2 == 1, victim: i < scaleVictims})
	}
	for i := 0; i < scaleTerminal; i++ {
		ctrs = append(ctrs, &scaleCtr{id: fmt.Sprintf("tty-%02d", i), kind: kindTTY, fifos: true})
	}
	for i := 0; i < scaleExec; i++ {
		ctrs = append(ctrs, &scaleCtr{id: fmt.Sprintf("exec-%02d", i), kind: kindExec})
	}
	byID := map[string]*scaleCtr{}
	for _, sc := range ctrs {
		byID[sc.id] = sc
	}
	var opts []client.ContainerOpt
	if runtime != "" {
		opts = append(opts, client.WithRuntime(runtime, nil))
	}
	spec := func(id string, terminal bool, args ...string) *specs.Spec {
		return oci.DefaultSpec(id, oci.WithNamespace(scaleNS), oci.WithRootfs(rootfs, true),
			oci.WithArgs(args...), oci.WithTerminal(terminal))
	}

	parallel(t, scaleWorkers, ctrs, func(sc *scaleCtr) error {
		args := []string{"/bin/sleep", "300"}
		if sc.kind == kindTTY {
			args = []string{"/bin/sh"}
		}
		ct, err := c.NewContainer(ctx, sc.id, spec(sc.id, sc.kind == kindTTY, args...), opts...)
		if err != nil {
			return err
		}
		var ioc client.Creator
		if sc.fifos {
			ioc = client.DetachedFIFOs(fifoDir, sc.kind == kindTTY)
		}
		task, err := ct.NewTask(ctx, ioc)
		if err != nil {
			return err
		}
		if err := task.Start(ctx); err != nil {
			return err
		}
		task.IO().Close() // nobody attached: a client that went away
		sc.pid = task.Pid()
		if sc.kind == kindExec {
			p, err := task.Exec(ctx, scaleExecID, spec(sc.id, false, "/bin/sleep", "300").Process, nil)
			if err != nil {
				return err
			}
			if err := p.Start(ctx); err != nil {
				return err
			}
			sc.execPid = p.Pid()
		}
		return nil
	})
	created := time.Now()
	t.Logf("created %d containers in %v", len(ctrs), created.Sub(began).Round(time.Millisecond))

	exitFilter := fmt.Sprintf(`topic=="/tasks/exit",namespace==%q`, scaleNS)
	subCtx, subCancel := context.WithCancel(ctx)
	defer subCancel()
	_, preErrs := c.Subscribe(subCtx, exitFilter)
	list, err := c.Tasks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := countState(list, client.Running); n != len(ctrs) {
		t.Fatalf("%d of %d tasks running before the restart: %+v", n, len(ctrs), list)
	}

	d.stop(syscall.SIGKILL)
	select {
	case err := <-preErrs:
		if err == nil {
			t.Errorf("subscription ended without an error when the daemon died")
		}
	case <-time.After(10 * time.Second):
		t.Errorf("a subscriber saw no error 10s after the daemon died")
	}
	c.Close()
	var victims []string
	for _, sc := range ctrs {
		if sc.victim {
			victims = append(victims, sc.id)
			if err := syscall.Kill(int(sc.pid), syscall.SIGKILL); err != nil {
				t.Fatalf("kill %s (pid %d): %v", sc.id, sc.pid, err)
			}
		}
	}
	for _, sc := range ctrs {
		if sc.victim {
			testutil.WaitFor(t, 10*time.Second, func() bool { return !alive(int(sc.pid)) }, "the shim to reap "+sc.id)
		} else if !alive(int(sc.pid)) || sc.execPid != 0 && !alive(int(sc.execPid)) {
			t.Fatalf("%s died with the daemon", sc.id)
		}
	}

	restarted := time.Now()
	d.start()
	c = d.client(t, scaleNS)
	// Two subscribers: one at once, one that connects once every exit was
	// delivered (shims retry within 2s), as a client that reconnects a
	// while later: it gets them from the daemon's backlog.
	early := collectExits(t, ctx, c, exitFilter)
	allExits := func(l *exitLog) func() bool {
		return func() bool {
			for _, id := range victims {
				if l.count(id, "") == 0 {
					return false
				}
			}
			return true
		}
	}
	testutil.WaitFor(t, 30*time.Second, allExits(early),
		"the exits of the containers killed while the daemon was down, by a subscriber after the restart")
	t.Logf("all %d exits of the killed containers delivered %v after the restart", len(victims), time.Since(restarted).Round(time.Millisecond))
	time.Sleep(time.Until(restarted.Add(4 * time.Second)))
	exits := collectExits(t, ctx, c, exitFilter)
	lateAt := time.Since(restarted)
	testutil.WaitFor(t, 5*time.Second, allExits(exits),
		fmt.Sprintf("the exits of the containers killed while the daemon was down, by a subscriber %v after the restart", lateAt.Round(time.Millisecond)))
	time.Sleep(3 * time.Second) // duplicates, and exits of containers that did not die, would show by now
	for _, l := range []*exitLog{early, exits} {
		if got := l.snapshot(); !sameExits(got, victims, 137) {
			t.Errorf("exits seen by the subscriber %v after the restart: %v\nwant exactly one each, status 137, for %v\narrivals since subscribing:\n%s",
				l.start.Sub(restarted).Round(time.Millisecond), got, victims, l)
		}
	}

	// The 40 others run, and the 10 are stopped with 137.
	var wrong []string
	for _, sc := range ctrs {
		st, err := c.Task(sc.id).Status(ctx)
		switch {
		case err != nil:
			wrong = append(wrong, fmt.Sprintf("%s: %v", sc.id, err))
		case sc.victim && (st.State != client.Stopped || st.ExitStatus != 137):
			wrong = append(wrong, fmt.Sprintf("%s, killed while the daemon was down: %s with %d, want STOPPED with 137", sc.id, st.State, st.ExitStatus))
		case !sc.victim && (st.State != client.Running || st.Pid != sc.pid):
			wrong = append(wrong, fmt.Sprintf("%s: %s pid %d, want RUNNING pid %d", sc.id, st.State, st.Pid, sc.pid))
		}
	}
	if len(wrong) > 0 {
		t.Fatalf("after the restart:\n%s", strings.Join(wrong, "\n"))
	}
	for _, id := range victims {
		task, err := c.LoadTask(ctx, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if st := waitExit(t, ctx, task); st.Code != 137 {
			t.Errorf("Wait for %s: %d, want 137", id, st.Code)
		}
		if del, err := task.Delete(ctx); err != nil || del.Code != 137 {
			t.Errorf("delete %s: %+v, %v; want 137", id, del, err)
		}
		byID[id].deleted = true
	}

	// The exec'd processes from before the restart are known and work.
	for _, sc := range ctrs {
		if sc.kind != kindExec {
			continue
		}
		p := c.Task(sc.id).Process(scaleExecID)
		st, err := p.Status(ctx)
		if err != nil || st.State != client.Running || st.Pid != sc.execPid {
			t.Fatalf("exec %s of %s after the restart: %+v, %v; want RUNNING pid %d", scaleExecID, sc.id, st, err, sc.execPid)
		}
	}
	execEcho(t, ctx, c, fifoDir, "plain-10", "plain-11", "tty-01", "exec-00", "exec-01")
	parallel(t, scaleWorkers, filterCtrs(ctrs, kindExec), func(sc *scaleCtr) error {
		p := c.Task(sc.id).Process(scaleExecID)
		exitc, err := p.Wait(ctx)
		if err != nil {
			return err
		}
		if err := p.Kill(ctx, syscall.SIGKILL); err != nil {
			return err
		}
		if st := <-exitc; st.Err != nil || st.Code != 137 {
			return fmt.Errorf("exec %s of %s: exit %+v, want 137", scaleExecID, sc.id, st)
		}
		if del, err := p.Delete(ctx); err != nil || del.Code != 137 {
			return fmt.Errorf("delete exec %s of %s: %+v, %v; want 137", scaleExecID, sc.id, del, err)
		}
		return nil
	})

	// Kill one, pause and resume another.
	killed := c.Task("plain-12")
	exitc, err := killed.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := killed.Kill(ctx, syscall.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	if st := <-exitc; st.Code != 137 {
		t.Errorf("plain-12 killed after the restart: exit %+v, want 137", st)
	}
	if del, err := killed.Delete(ctx); err != nil || del.Code != 137 {
		t.Errorf("delete plain-12: %+v, %v; want 137", del, err)
	}
	byID["plain-12"].deleted = true
	paused := c.Task("plain-13")
	if err := paused.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := paused.Status(ctx); err != nil || st.State != client.Paused {
		t.Errorf("plain-13 after Pause: %+v, %v", st, err)
	}
	if err := paused.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := paused.Status(ctx); err != nil || st.State != client.Running {
		t.Errorf("plain-13 after Resume: %+v, %v", st, err)
	}
	execEcho(t, ctx, c, fifoDir, "plain-13")

	// A terminal started before the restart can be attached to.
	attachTerminal(t, ctx, c, "tty-00")
	byID["tty-00"].deleted = true

	// Delete everything; every exit reaches the subscriber exactly once.
	parallel(t, scaleWorkers, ctrs, func(sc *scaleCtr) error {
		if !sc.deleted {
			task, err := c.LoadTask(ctx, sc.id, nil)
			if err != nil {
				return err
			}
			exitc, err := task.Wait(ctx)
			if err != nil {
				return err
			}
			if err := task.Kill(ctx, syscall.SIGKILL, true); err != nil {
				return err
			}
			select {
			case st := <-exitc:
				if st.Err != nil {
					return st.Err
				}
			case <-time.After(20 * time.Second):
				return fmt.Errorf("%s: no exit 20s after SIGKILL", sc.id)
			}
			if _, err := task.Delete(ctx); err != nil {
				return err
			}
		}
		return c.Container(sc.id).Delete(ctx)
	})
	if list, err := c.Tasks(ctx); err != nil || len(list) != 0 {
		t.Errorf("tasks left after deleting everything: %+v, %v", list, err)
	}
	if cs, err := c.Containers(ctx); err != nil || len(cs) != 0 {
		t.Errorf("containers left after deleting everything: %d, %v", len(cs), err)
	}
	for _, l := range []*exitLog{early, exits} {
		testutil.WaitFor(t, 10*time.Second, func() bool {
			for _, sc := range ctrs {
				if l.count(sc.id, "") == 0 || sc.kind == kindExec && l.count(sc.id, scaleExecID) == 0 {
					return false
				}
			}
			return true
		}, "an exit event for every process")
		var dups []string
		for k, sts := range l.snapshot() {
			if len(sts) != 1 {
				dups = append(dups, fmt.Sprintf("%s: %v", k, sts))
			}
		}
		if len(dups) > 0 {
			sort.Strings(dups)
			t.Errorf("the subscriber %v after the restart saw more than one exit event for:\n%s\nevery exit it saw:\n%s",
				l.start.Sub(restarted).Round(time.Millisecond), strings.Join(dups, "\n"), l)
		}
	}
	checkNothingLeft(t, d, scaleNS, fifoDir, ctrs)
	t.Logf("total %v (restart to everything deleted: %v)", time.Since(began).Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
}

// execEcho runs an echo in each task and checks its output and exit.
func execEcho(t *testing.T, ctx context.Context, c *client.Client, fifoDir string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		want := "exec-OK-" + id
		var out bytes.Buffer
		ps := oci.DefaultSpec(id, oci.WithArgs("/bin/echo", want)).Process
		p, err := c.Task(id).Exec(ctx, "echo", ps, client.NewFIFOs(fifoDir, client.Streams{Stdout: &out}))
		if err != nil {
			t.Fatalf("exec in %s: %v", id, err)
		}
		exitc, err := p.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Start(ctx); err != nil {
			t.Fatalf("start exec in %s: %v", id, err)
		}
		select {
		case st := <-exitc:
			if st.Err != nil || st.Code != 0 || strings.TrimSpace(out.String()) != want {
				t.Errorf("exec echo in %s: exit %+v, output %q", id, st, out.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("exec echo in %s did not exit", id)
		}
		if _, err := p.Delete(ctx); err != nil {
			t.Errorf("delete exec in %s: %v", id, err)
		}
	}
}

// attachTerminal attaches to the shell of task id through the FIFOs it was
// created with, runs a command in it, then kills it and deletes the task.
func attachTerminal(t *testing.T, ctx context.Context, c *client.Client, id string) {
	t.Helper()
	in, input := io.Pipe()
	out := &testutil.Buffer{}
	task, err := c.LoadTask(ctx, id, client.Attach(client.Streams{Stdin: in, Stdout: out}))
	if err != nil {
		t.Fatalf("attach to %s: %v", id, err)
	}
	if cfg := task.IO().Config(); !cfg.Terminal || cfg.Stdin == "" || cfg.Stdout == "" {
		t.Fatalf("%s: attached to %+v, want a terminal with stdin and stdout", id, cfg)
	}
	go input.Write([]byte("echo attached-OK\n"))
	// The terminal echoes the command line; the line the command printed
	// is "attached-OK" on its own.
	if !testutil.Poll(10*time.Second, func() bool { return hasLine(out.String(), "attached-OK") }) {
		t.Errorf("no line attached-OK from the attached terminal of %s; output: %q", id, out.String())
	}
	exitc, err := task.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Kill(ctx, syscall.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-exitc:
		if st.Err != nil || st.Code != 137 {
			t.Errorf("attached %s killed: %+v, want 137", id, st)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("attached %s: no exit (or its output never ended) 20s after SIGKILL", id)
	}
	input.Close()
	if _, err := task.Delete(ctx); err != nil {
		t.Errorf("delete %s: %v", id, err)
	}
}

// checkNothingLeft checks, after every task and container was deleted, that
// no shim, container process, zombie, mount, bundle, runc state, cgroup or
// FIFO remains.
func checkNothingLeft(t *testing.T, d *daemon, ns, fifoDir string, ctrs []*scaleCtr) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, func() bool {
		return processesNamed(t, "containerd-shim", d.dir) == 0 && processesNamed(t, "containerd-shim-runc-v2", d.dir) == 0
	}, "every shim to exit")
	for _, sc := range ctrs {
		for _, pid := range []uint32{sc.pid, sc.execPid} {
			if pid != 0 && alive(int(pid)) {
				t.Errorf("process %d of %s still exists", pid, sc.id)
			}
		}
	}
	var leaks []testutil.Leak
	if !testutil.Poll(5*time.Second, func() bool {
		leaks = nil
		found, err := testutil.FindLeaks(d.dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range found {
			if l.PID != d.cmd.Process.Pid && !d.isStateMount(l) && !d.isSpare(l) {
				leaks = append(leaks, l)
			}
		}
		return len(leaks) == 0
	}) {
		t.Errorf("left behind besides the daemon: %v", leaks)
	}
	var zombies []int
	if !testutil.Poll(5*time.Second, func() bool { zombies = zombiesOf(d.cmd.Process.Pid); return len(zombies) == 0 }) {
		t.Errorf("zombie children of the daemon: %v", zombies)
	}
	for _, dir := range []string{
		filepath.Join(d.dir, "state", "tasks", ns), // bundles
		filepath.Join(d.dir, "state", "runc", ns),  // runc's state
		fifoDir,
	} {
		// The daemon removes a deleted task's bundle in the background,
		// once its shim has exited.
		var names []string
		if !testutil.Poll(5*time.Second, func() bool {
			left, _ := os.ReadDir(dir)
			names = names[:0]
			for _, e := range left {
				names = append(names, e.Name())
			}
			return len(names) == 0
		}) {
			t.Errorf("left in %s: %v", dir, names)
		}
	}
	if left := childCgroups(ns); len(left) > 0 {
		t.Errorf("cgroups left: %v", left)
	}
}

// removeNamespaceCgroups removes, when t ends, the namespace's parent
// cgroups, which must be empty by then: runc removes each container's.
// Call it before startDaemon, so that it runs after the daemon's cleanup.
func removeNamespaceCgroups(t *testing.T, ns string) {
	t.Cleanup(func() {
		for _, p := range testutil.NamespaceCgroups(ns) {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) && !t.Failed() {
				t.Errorf("remove cgroup %s: %v", p, err)
			}
		}
	})
}

// childCgroups lists the cgroups left under the namespace's.
func childCgroups(ns string) []string {
	var out []string
	for _, p := range testutil.NamespaceCgroups(ns) {
		entries, _ := os.ReadDir(p)
		for _, e := range entries {
			if e.IsDir() {
				out = append(out, filepath.Join(p, e.Name()))
			}
		}
	}
	return out
}

// zombiesOf lists the zombie children of pid.
func zombiesOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			f := strings.Fields(s[i+1:])
			if len(f) >= 2 && f[0] == "Z" && f[1] == strconv.Itoa(pid) {
				out = append(out, p)
			}
		}
	}
	return out
}

// exitLog collects the /tasks/exit events a subscriber receives.
type exitLog struct {
	mu    sync.Mutex
	start time.Time
	seen  map[string][]uint32 // "container" or "container/exec" → statuses
	log   []string            // every exit with its arrival, for failures
	errs  []string
}

func exitKey(ctr, exec string) string {
	if exec == "" || exec == ctr {
		return ctr
	}
	return ctr + "/" + exec
}

// collectExits subscribes and records every exit until the test ends.
func collectExits(t *testing.T, ctx context.Context, c *client.Client, filter string) *exitLog {
	l := &exitLog{seen: map[string][]uint32{}, start: time.Now()}
	sctx, cancel := context.WithCancel(ctx)
	envs, errs := c.Subscribe(sctx, filter)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case env := <-envs:
				ev, ok := env.Event.(*events.TaskExit)
				l.mu.Lock()
				if ok {
					k := exitKey(ev.ContainerID, ev.ID)
					l.seen[k] = append(l.seen[k], ev.ExitStatus)
					l.log = append(l.log, fmt.Sprintf("+%v %s pid %d status %d exited %s",
						time.Since(l.start).Round(time.Millisecond), k, ev.Pid, ev.ExitStatus, ev.ExitedAt.Format("15:04:05.000")))
				} else {
					l.errs = append(l.errs, fmt.Sprintf("%s: %T", env.Topic, env.Event))
				}
				l.mu.Unlock()
			case err := <-errs:
				if sctx.Err() == nil {
					l.mu.Lock()
					l.errs = append(l.errs, "subscription ended: "+err.Error())
					l.mu.Unlock()
				}
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.errs) > 0 {
			t.Errorf("exit subscriber: %v", l.errs)
		}
	})
	return l
}

func (l *exitLog) count(ctr, exec string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen[exitKey(ctr, exec)])
}

// String lists every exit received, with when it arrived.
func (l *exitLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.log, "\n")
}

func (l *exitLog) snapshot() map[string][]uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string][]uint32, len(l.seen))
	for k, v := range l.seen {
		out[k] = append([]uint32(nil), v...)
	}
	return out
}

// sameExits tells whether got holds exactly one exit with status for each
// of ids, and nothing else.
func sameExits(got map[string][]uint32, ids []string, status uint32) bool {
	if len(got) != len(ids) {
		return false
	}
	for _, id := range ids {
		if s := got[id]; len(s) != 1 || s[0] != status {
			return false
		}
	}
	return true
}

// parallel runs f on every container with n workers and fails the test
// with the errors.
func parallel(t *testing.T, n int, ctrs []*scaleCtr, f func(*scaleCtr) error) {
	t.Helper()
	work := make(chan *scaleCtr)
	var mu sync.Mutex
	var errs []string
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sc := range work {
				if err := f(sc); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("%s: %v", sc.id, err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, sc := range ctrs {
		work <- sc
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		sort.Strings(errs)
		t.Fatalf("%d failed:\n%s", len(errs), strings.Join(errs, "\n"))
	}
}

func filterCtrs(ctrs []*scaleCtr, kind scaleKind) []*scaleCtr {
	var out []*scaleCtr
	for _, sc := range ctrs {
		if sc.kind == kind {
			out = append(out, sc)
		}
	}
	return out
}

func countState(list []client.ProcessStatus, s client.State) int {
	n := 0
	for _, p := range list {
		if p.State == s {
			n++
		}
	}
	return n
}

func waitExit(t *testing.T, ctx context.Context, task *client.Task) client.ExitStatus {
	t.Helper()
	exitc, err := task.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-exitc:
		return st
	case <-time.After(20 * time.Second):
		t.Fatalf("Wait for %s did not return", task.ID())
	}
	panic("unreachable")
}

// client connects the Go client to the daemon in namespace ns.
func (d *daemon) client(t *testing.T, ns string) *client.Client {
	t.Helper()
	c, err := client.New(d.Address, client.WithNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func hasLine(s, want string) bool {
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimRight(line, "\r") == want {
			return true
		}
	}
	return false
}
