package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	ptypes "github.com/gogo/protobuf/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	containersapi "github.com/seedrt/seed/api/services/containers/v1"
	eventsapi "github.com/seedrt/seed/api/services/events/v1"
	tasksapi "github.com/seedrt/seed/api/services/tasks/v1"
	versionapi "github.com/seedrt/seed/api/services/version/v1"
	"github.com/seedrt/seed/coordinator/nsctx"
	"github.com/seedrt/seed/shimapi/types/task"
)

const (
	targetOurs       = "ours"
	targetContainerd = "containerd"
)

// daemon is one private daemon (ours or containerd 1.6) on its own
// temporary directory and socket, plus a gRPC connection to it.
type daemon struct {
	kind    string // targetOurs or targetContainerd
	dir     string // everything of this daemon lives here
	sock    string
	ns      string // the namespace all our containers live in
	binary  string
	args    []string
	env     []string
	logPath string
	timeout time.Duration // per RPC
	// tmpfs mounts made for this daemon (ours: by itself), unmounted at
	// teardown; stateTmpfs says its state is on tmpfs.
	tmpfs      []string
	stateTmpfs bool

	cmd    *exec.Cmd
	exited chan struct{}

	mu         sync.Mutex // guards the clients, replaced on restart
	conn       *grpc.ClientConn
	containers containersapi.ContainersClient
	tasks      tasksapi.TasksClient
	events     eventsapi.EventsClient
	version    versionapi.VersionClient

	ids   sync.Map // every container id ever created, for the leak check
	ready bool     // it started and answered at least once

	Version, Revision string
}

// newDaemon prepares (but does not start) a daemon of kind under dir.
func newDaemon(kind, dir, ns string, o *options) (*daemon, error) {
	d := &daemon{kind: kind, dir: dir, sock: filepath.Join(dir, "c.sock"), ns: ns,
		logPath: filepath.Join(dir, "daemon.log"), timeout: o.rpcTimeout}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	switch kind {
	case targetOurs:
		d.binary = filepath.Join(o.binDir, "containerd")
		d.args = append([]string{"--address", d.sock, "--root", filepath.Join(dir, "root"),
			"--state", filepath.Join(dir, "state")}, o.oursArgs...)
		// Our daemon mounts a tmpfs on its state dir (unless told not to)
		// and leaves it mounted when it exits.
		d.tmpfs = []string{filepath.Join(dir, "state")}
		d.stateTmpfs = !strings.Contains(strings.Join(o.oursArgs, " "), "--state-tmpfs=false")
	case targetContainerd:
		d.binary = o.containerdBin
		config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = %[5]q
  [plugins."io.containerd.runtime.v1.linux"]
    runtime_root = %[6]q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), d.sock, d.sock+".ttrpc",
			filepath.Join(dir, "opt"), filepath.Join(dir, "runc-v1"))
		configPath := filepath.Join(dir, "config.toml")
		if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
			return nil, err
		}
		d.args = append([]string{"--config", configPath}, o.containerdArgs...)
		if o.containerdTmpfs {
			// containerd's runc shim keeps runc state in /run/containerd/runc/NS.
			d.tmpfs = []string{filepath.Join(dir, "state"), filepath.Join("/run/containerd/runc", ns)}
			for _, p := range d.tmpfs {
				if err := os.MkdirAll(p, 0o711); err != nil {
					return nil, err
				}
				if err := syscall.Mount("bench-tmpfs", p, "tmpfs", 0, "mode=0711"); err != nil {
					return nil, fmt.Errorf("mount tmpfs on %s: %w", p, err)
				}
			}
			d.stateTmpfs = true
		}
	default:
		return nil, fmt.Errorf("unknown target %q", kind)
	}
	return d, nil
}

// start runs the daemon process (it does not wait for it to be ready).
func (d *daemon) start() error {
	logf, err := os.OpenFile(d.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "==== %s starting %s %s\n", time.Now().Format(time.RFC3339Nano), d.binary, strings.Join(d.args, " "))
	cmd := exec.Command(d.binary, d.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = d.dir
	cmd.Env = append(os.Environ(), d.env...)
	// Own process group: a ^C at the terminal reaches only us, and we
	// stop the daemon after deleting its containers.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", d.binary, err)
	}
	d.cmd = cmd
	exited := make(chan struct{})
	d.exited = exited
	go func() { cmd.Wait(); close(exited) }()
	return nil
}

func (d *daemon) running() bool {
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

func (d *daemon) pid() int {
	if d.cmd == nil || d.cmd.Process == nil {
		return 0
	}
	return d.cmd.Process.Pid
}

// waitSocket polls (every 10 ms) until the socket accepts connections.
func (d *daemon) waitSocket(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if !d.running() {
			return fmt.Errorf("%s daemon exited at startup (%v); log %s:\n%s", d.kind, d.cmd.ProcessState, d.logPath, d.logTail(30))
		}
		if c, err := net.Dial("unix", d.sock); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s daemon: socket %s not accepting after %v; log %s:\n%s", d.kind, d.sock, timeout, d.logPath, d.logTail(30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// connect (re)dials the daemon; the old connection, if any, is closed.
func (d *daemon) connect() error {
	conn, err := grpc.Dial("unix://"+d.sock, grpc.WithInsecure(),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 10 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 200 * time.Millisecond},
			MinConnectTimeout: 5 * time.Second,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)))
	if err != nil {
		return fmt.Errorf("dial %s: %w", d.sock, err)
	}
	d.mu.Lock()
	old := d.conn
	d.conn = conn
	d.containers = containersapi.NewContainersClient(conn)
	d.tasks = tasksapi.NewTasksClient(conn)
	d.events = eventsapi.NewEventsClient(conn)
	d.version = versionapi.NewVersionClient(conn)
	d.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// startReady starts the daemon, waits for its socket, connects and asks
// for its version.
func (d *daemon) startReady(ctx context.Context) error {
	if err := d.start(); err != nil {
		return err
	}
	if err := d.waitSocket(ctx, 60*time.Second); err != nil {
		return err
	}
	if err := d.connect(); err != nil {
		return err
	}
	var v *versionapi.VersionResponse
	err := d.call(ctx, "Version.Version", "", func(ctx context.Context) (err error) {
		v, err = d.version.Version(ctx, &ptypes.Empty{})
		return err
	})
	if err != nil {
		return err
	}
	d.Version, d.Revision = v.Version, v.Revision
	d.ready = true
	return nil
}

// stop signals the daemon and waits up to timeout, then kills it.
func (d *daemon) stop(sig syscall.Signal, timeout time.Duration) error {
	if !d.running() {
		return nil
	}
	d.cmd.Process.Signal(sig)
	select {
	case <-d.exited:
		return nil
	case <-time.After(timeout):
		d.cmd.Process.Kill()
		<-d.exited
		return fmt.Errorf("%s daemon did not exit within %v of %v; killed", d.kind, timeout, sig)
	}
}

func (d *daemon) closeConn() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
}

// logTail returns the last n lines of the daemon's log.
func (d *daemon) logTail(n int) string {
	b, _ := os.ReadFile(d.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// call runs one RPC in the daemon's namespace with the per-RPC timeout,
// and names the RPC and container in its error.
func (d *daemon) call(ctx context.Context, rpc, id string, f func(context.Context) error) error {
	return d.callTimeout(ctx, d.timeout, rpc, id, f)
}

func (d *daemon) callTimeout(ctx context.Context, timeout time.Duration, rpc, id string, f func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(nsctx.Outgoing(ctx, d.ns), timeout)
	defer cancel()
	err := f(cctx)
	if err == nil {
		return nil
	}
	what := rpc
	if id != "" {
		what += " " + id
	}
	if cctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		return fmt.Errorf("%s: timed out after %v: %w", what, timeout, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// removeAll kills and deletes every task and deletes every container in
// the namespace, c at a time. It returns what failed.
func (d *daemon) removeAll(ctx context.Context, c int) []string {
	var errs []string
	var list *tasksapi.ListTasksResponse
	if err := d.call(ctx, "Tasks.List", "", func(ctx context.Context) (err error) {
		list, err = d.tasks.List(ctx, &tasksapi.ListTasksRequest{})
		return err
	}); err != nil {
		return []string{err.Error()}
	}
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err.Error())
		mu.Unlock()
	}
	parallel(ctx, len(list.Tasks), c, func(i int) {
		tk := list.Tasks[i]
		id := taskID(tk)
		if tk.Status != task.StatusStopped {
			if err := d.kill(ctx, id, "", true); err != nil && !isNotFound(err) {
				fail(err)
			}
			if _, err := d.wait(ctx, id, ""); err != nil && !isNotFound(err) {
				fail(err)
			}
		}
		if err := d.deleteTask(ctx, id); err != nil && !isNotFound(err) {
			fail(err)
		}
	})
	var cl *containersapi.ListContainersResponse
	if err := d.call(ctx, "Containers.List", "", func(ctx context.Context) (err error) {
		cl, err = d.containers.List(ctx, &containersapi.ListContainersRequest{})
		return err
	}); err != nil {
		return append(errs, err.Error())
	}
	parallel(ctx, len(cl.Containers), c, func(i int) {
		if err := d.deleteContainer(ctx, cl.Containers[i].ID); err != nil && !isNotFound(err) {
			fail(err)
		}
	})
	return errs
}

// shims returns the shim processes serving this daemon's tasks; spares
// returns the ones started ahead of need (ours keeps one, see
// coordinator/runtime/spare.go), which serve no task yet.
func (d *daemon) shims() []proc  { return d.shimProcs(false) }
func (d *daemon) spares() []proc { return d.shimProcs(true) }

func (d *daemon) shimProcs(spares bool) []proc {
	var out []proc
	for _, p := range processes() {
		if p.pid != d.pid() && isShimOf(p, d.sock) && slices.Contains(p.args, "-spare") == spares {
			out = append(out, p)
		}
	}
	return out
}

// teardown deletes everything through the API, stops the daemon and then
// checks nothing is left: no shim or other process mentioning the
// daemon's directory, socket or namespace, no mount under its directory,
// no cgroup of its namespace, no runc state. Leftovers are reported and
// removed.
func (d *daemon) teardown(c int) []string {
	var errs []string
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if d.ready && !d.running() {
		// It died (or a scenario killed it): bring it back to delete
		// the containers properly.
		if err := d.startReady(ctx); err != nil {
			errs = append(errs, "restart daemon for cleanup: "+err.Error())
		}
	}
	if d.running() && d.conn != nil {
		for _, e := range d.removeAll(ctx, c) {
			errs = append(errs, "cleanup: "+e)
		}
	}
	d.closeConn()
	stopBegan := time.Now()
	if err := d.stop(syscall.SIGTERM, 20*time.Second); err != nil {
		errs = append(errs, err.Error())
	}
	if took := time.Since(stopBegan); took > time.Second {
		progress("%s: daemon took %v to exit on SIGTERM", d.kind, took.Round(time.Millisecond))
	}

	// Leftover processes: poll a little, exiting shims take a moment.
	var left []proc
	for i := 0; i < 200; i++ { // 10 s
		left = left[:0]
		for _, p := range processes() {
			if isShimOf(p, d.sock) || mentions(p, d.dir) || nsArg(p) == d.ns {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			break
		}
		sleepMs(50)
	}
	for _, p := range left {
		errs = append(errs, "leftover process (killed): "+p.String())
		syscall.Kill(p.pid, syscall.SIGKILL)
	}
	if pids, err := removeCgroups(cgroupDirs(d.ns)); len(pids) > 0 || err != nil {
		if len(pids) > 0 {
			errs = append(errs, fmt.Sprintf("leftover processes in cgroups of namespace %s (killed): %v", d.ns, pids))
		}
		if err != nil {
			errs = append(errs, "cgroups: "+err.Error())
		}
	}
	mounts := mountsUnder(d.dir)
	for i := len(mounts) - 1; i >= 0; i-- {
		if slices.Contains(d.tmpfs, mounts[i]) {
			continue // expected, unmounted below
		}
		errs = append(errs, "leftover mount (detached): "+mounts[i])
		syscall.Unmount(mounts[i], syscall.MNT_DETACH)
	}
	// Shim sockets outside our directory: containerd's runc shim always
	// listens on /run/containerd/s/HEX, ours when DIR/s/HEX would be too
	// long; HEX = sha256(ADDRESS/NS/ID). A shim removes its socket when
	// it exits properly.
	d.ids.Range(func(k, _ interface{}) bool {
		sum := sha256.Sum256([]byte(filepath.Join(d.sock, d.ns, k.(string))))
		p := filepath.Join("/run/containerd/s", hex.EncodeToString(sum[:]))
		if _, err := os.Lstat(p); err == nil {
			errs = append(errs, fmt.Sprintf("leftover shim socket of %s (removed): %s", k, p))
			os.Remove(p)
		}
		return true
	})
	if d.kind == targetContainerd {
		// containerd's runc shim keeps runc state in its default root
		// /run/containerd/runc/NS (NS is unique to this run).
		runcRoot := filepath.Join("/run/containerd/runc", d.ns)
		if ents, err := os.ReadDir(runcRoot); err == nil {
			for _, e := range ents {
				errs = append(errs, "leftover runc state (removed): "+filepath.Join(runcRoot, e.Name()))
			}
			os.RemoveAll(runcRoot)
		}
	}
	for _, p := range d.tmpfs {
		syscall.Unmount(p, syscall.MNT_DETACH)
		if !strings.HasPrefix(p, d.dir+"/") {
			os.Remove(p) // the empty mount point
		}
	}
	return errs
}

// taskID is the container id of a listed task: containerd 1.6 sets only
// Process.ID, ours sets both ID and ContainerID.
func taskID(p *task.Process) string {
	if p.ID != "" {
		return p.ID
	}
	return p.ContainerID
}

// nsArg is the -namespace argument of a shim command line.
func nsArg(p proc) string {
	v, _ := argValue(p.args, "namespace")
	return v
}

// parallel runs f(0..n-1), c at a time, stopping early when ctx ends.
func parallel(ctx context.Context, n, c int, f func(i int)) {
	if c < 1 {
		c = 1
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < c && w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
}

func sleepMs(ms int) { time.Sleep(time.Duration(ms) * time.Millisecond) }

var errInterrupted = errors.New("interrupted")
