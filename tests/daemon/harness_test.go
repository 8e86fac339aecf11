package daemon_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"

	containersapi "github.com/seedrt/seed/api/services/containers/v1"
	namespacesapi "github.com/seedrt/seed/api/services/namespaces/v1"
	tasksapi "github.com/seedrt/seed/api/services/tasks/v1"
	"github.com/seedrt/seed/coordinator/nsctx"
	"github.com/seedrt/seed/tests/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// daemon is one of our daemons on temporary directories and sockets.
type daemon struct {
	t       *testing.T
	dir     string
	bin     string
	Address string
	cmd     *exec.Cmd
	log     *bytes.Buffer
	env     []string // extra environment for the daemon (PATH for third-party shims)
	config  string   // TOML configuration, if any
}

// startDaemon starts a daemon; cleanup deletes every task and container it
// still has, stops it and checks nothing was left behind.
func startDaemon(t *testing.T, env ...string) *daemon {
	return startDaemonWithConfig(t, "", env...)
}

// startDaemonWithConfig starts a daemon with a TOML configuration.
func startDaemonWithConfig(t *testing.T, config string, env ...string) *daemon {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "runc")
	dir := testutil.ShortTempDir(t)
	testutil.CheckNoLeaks(t, dir)
	testutil.UnmountAtCleanup(t, filepath.Join(dir, "state"))
	d := &daemon{t: t, dir: dir, bin: testutil.BuildBinaries(t), Address: filepath.Join(dir, "c.sock"), env: env, config: config}
	d.start()
	t.Cleanup(d.cleanup)
	return d
}

func (d *daemon) start() {
	d.log = &bytes.Buffer{}
	args := []string{"--address", d.Address, "--root", filepath.Join(d.dir, "root"), "--state", filepath.Join(d.dir, "state")}
	if d.config != "" {
		path := filepath.Join(d.dir, "config.toml")
		if err := os.WriteFile(path, []byte(d.config), 0o600); err != nil {
			d.t.Fatal(err)
		}
		args = append(args, "--config", path)
	}
	d.cmd = exec.Command(filepath.Join(d.bin, "containerd"), args...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.cmd.Env = append(os.Environ(), d.env...)
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	testutil.WaitFor(d.t, 10*time.Second, func() bool {
		c, err := net.Dial("unix", d.Address)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "daemon socket "+d.Address)
}

// isStateMount tells the daemon's own tmpfs on its state dir from a leak.
func (d *daemon) isStateMount(l testutil.Leak) bool {
	return l.Kind == "mount" && l.Detail == filepath.Join(d.dir, "state")
}

// isSpare tells the daemon's spare shim (which serves no task yet) from a
// leak.
func (d *daemon) isSpare(l testutil.Leak) bool {
	return l.Kind == "process" && strings.Contains(l.Detail, "-spare -address "+d.Address)
}

// stop ends the daemon with sig and waits for it.
func (d *daemon) stop(sig syscall.Signal) {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(sig)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		d.cmd.Process.Kill()
		<-done
		d.t.Errorf("daemon did not stop on %v", sig)
	}
	d.cmd = nil
}

func (d *daemon) restart() {
	d.stop(syscall.SIGTERM)
	d.start()
}

func (d *daemon) cleanup() {
	if d.cmd != nil {
		namespaces := d.removeEverything()
		d.stop(syscall.SIGTERM)
		// runc leaves the parent cgroup /NS of a namespace's containers:
		// remove it if empty (another test may be using the same name).
		for _, ns := range namespaces {
			for _, dir := range testutil.NamespaceCgroups(ns) {
				syscall.Rmdir(dir)
			}
		}
		// Every shim is gone, and so must its socket be.
		if left, _ := os.ReadDir(filepath.Join(d.dir, "state", "s")); len(left) > 0 {
			d.t.Errorf("%d shim sockets left in %s", len(left), filepath.Join(d.dir, "state", "s"))
		}
	}
	if d.t.Failed() {
		d.t.Logf("daemon log:\n%s", d.log.String())
	}
}

// removeEverything kills and deletes every task and container, through the
// API, in every namespace.
func (d *daemon) removeEverything() (namespaces []string) {
	conn := d.dial()
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nss, err := namespacesapi.NewNamespacesClient(conn).List(ctx, &namespacesapi.ListNamespacesRequest{})
	if err != nil {
		d.t.Errorf("cleanup: list namespaces: %v", err)
		return nil
	}
	tasks := tasksapi.NewTasksClient(conn)
	containers := containersapi.NewContainersClient(conn)
	for _, ns := range nss.Namespaces {
		namespaces = append(namespaces, ns.Name)
		nctx := nsctx.Outgoing(ctx, ns.Name)
		if list, err := tasks.List(nctx, &tasksapi.ListTasksRequest{}); err == nil {
			for _, tk := range list.Tasks {
				tasks.Kill(nctx, &tasksapi.KillRequest{ContainerID: tk.ID, Signal: 9, All: true})
				wctx, wcancel := context.WithTimeout(nctx, 10*time.Second)
				tasks.Wait(wctx, &tasksapi.WaitRequest{ContainerID: tk.ID})
				wcancel()
				if _, err := tasks.Delete(nctx, &tasksapi.DeleteTaskRequest{ContainerID: tk.ID}); err != nil {
					d.t.Errorf("cleanup: delete task %s: %v", tk.ID, err)
				}
			}
		}
		if list, err := containers.List(nctx, &containersapi.ListContainersRequest{}); err == nil {
			for _, c := range list.Containers {
				if _, err := containers.Delete(nctx, &containersapi.DeleteContainerRequest{ID: c.ID}); err != nil {
					d.t.Errorf("cleanup: delete container %s: %v", c.ID, err)
				}
			}
		}
	}
	return namespaces
}

func (d *daemon) dial() *grpc.ClientConn {
	conn, err := grpc.Dial("unix://"+d.Address, grpc.WithInsecure())
	if err != nil {
		d.t.Fatal(err)
	}
	return conn
}

// ctr runs a ctr binary (ours, or containerd's) against the daemon.
func (d *daemon) ctr(binary, ns string, args ...string) (string, error) {
	cmd := exec.Command(binary, append([]string{"--address", d.Address, "-n", ns}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// mustCtr runs ctr and fails the test on error.
func (d *daemon) mustCtr(binary, ns string, args ...string) string {
	d.t.Helper()
	out, err := d.ctr(binary, ns, args...)
	if err != nil {
		d.t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
