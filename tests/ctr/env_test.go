package ctr

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seedrt/seed/client"
	"github.com/seedrt/seed/tests/testutil"
)

// cmdTimeout bounds every ctr invocation, so a hang fails the test.
const cmdTimeout = 60 * time.Second

// env is one test's corner of a daemon: its own namespace (so runc state
// /run/containerd/runc/NS and cgroups /NS never collide), FIFO dir and
// busybox rootfs. Whatever the test leaves in the namespace is removed at
// the end, and must leave nothing behind.
type env struct {
	t       *testing.T
	address string
	ns      string
	ctrPath string
	fifoDir string
	rootfs  string
	rec     *recorder
}

func newEnv(t *testing.T, address string) *env {
	t.Helper()
	bins := testutil.BuildBinaries(t)
	e := &env{
		t:       t,
		address: address,
		ns:      "seedctr-" + randHex(t, 6),
		ctrPath: filepath.Join(bins, "ctr"),
		fifoDir: filepath.Join(t.TempDir(), "fifo"),
		rootfs:  testutil.BusyboxRootfs(t),
	}
	testutil.CheckNoLeaks(t, e.rootfs) // container processes run from it
	t.Cleanup(e.cleanup)
	return e
}

// ctr runs our ctr in the test's namespace with stdin as its input.
func (e *env) ctrIn(stdin string, args ...string) (stdout, stderr string, code int) {
	return e.ctrAt(e.address, stdin, args...)
}

func (e *env) ctr(args ...string) (stdout, stderr string, code int) {
	return e.ctrIn("", args...)
}

func (e *env) ctrAt(address, stdin string, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.ctrPath, append([]string{"--address", address, "-n", e.ns}, args...)...)
	var o, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &o, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		e.t.Fatalf("ctr %s: timed out after %v", strings.Join(args, " "), cmdTimeout)
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		e.t.Fatalf("ctr %s: %v", strings.Join(args, " "), err)
	}
	return o.String(), errb.String(), code
}

// mustCtr runs ctr and fails the test unless it exits 0.
func (e *env) mustCtr(args ...string) string {
	e.t.Helper()
	stdout, stderr, code := e.ctr(args...)
	if code != 0 {
		e.t.Fatalf("ctr %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}

// runArgs is `run` with the test's FIFO dir and rootfs.
func (e *env) runArgs(args ...string) []string {
	return append([]string{"run", "--fifo-dir", e.fifoDir, "--rootfs", e.rootfs}, args...)
}

// client connects the Go client to the daemon in the test's namespace.
func (e *env) client() *client.Client {
	e.t.Helper()
	c, err := client.New(e.address, client.WithNamespace(e.ns))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// taskState returns the STATUS column of `ctr tasks ls` for id ("" if not
// listed) and the PID column.
func (e *env) taskState(id string) (state string, pid string) {
	e.t.Helper()
	for _, line := range strings.Split(e.mustCtr("tasks", "ls"), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == id {
			return f[2], f[1]
		}
	}
	return "", ""
}

func (e *env) waitState(id, want string) {
	e.t.Helper()
	var last string
	testutil.WaitFor(e.t, 10*time.Second, func() bool {
		last, _ = e.taskState(id)
		return last == want
	}, fmt.Sprintf("task %s to be %s (last %q)", id, want, last))
}

// cleanup removes what the test left in its namespace, then the namespace
// and its host-wide traces, which must be empty: runc's state dir and the
// parent cgroup. FIFOs must all have been removed by ctr.
func (e *env) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.New(e.address, client.WithNamespace(e.ns))
	if err != nil {
		e.t.Errorf("cleanup: %v", err)
		return
	}
	defer c.Close()
	tasks, _ := c.Tasks(ctx)
	for _, ts := range tasks {
		task := c.Task(ts.ContainerID)
		if ts.State != client.Stopped && ts.State != client.Created {
			if ts.State == client.Paused {
				task.Resume(ctx)
			}
			if exitc, err := task.Wait(ctx); err == nil {
				task.Kill(ctx, syscall.SIGKILL, true)
				<-exitc
			}
		}
		if _, err := task.Delete(ctx); err != nil {
			e.t.Errorf("cleanup: %v", err)
		}
	}
	ctrs, _ := c.Containers(ctx)
	for _, ctr := range ctrs {
		if err := ctr.Delete(ctx); err != nil {
			e.t.Errorf("cleanup: %v", err)
		}
	}
	if err := c.DeleteNamespace(ctx, e.ns); err != nil && !strings.Contains(err.Error(), "not found") {
		e.t.Errorf("cleanup: %v", err)
	}
	if err := os.Remove(filepath.Join("/run/containerd/runc", e.ns)); err != nil && !errors.Is(err, os.ErrNotExist) {
		e.t.Errorf("remove runc state dir of namespace %s: %v", e.ns, err)
	}
	for _, p := range testutil.NamespaceCgroups(e.ns) {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			e.t.Errorf("remove cgroup %s: %v", p, err)
		}
	}
	if left, _ := os.ReadDir(e.fifoDir); len(left) > 0 && !e.t.Failed() {
		e.t.Errorf("FIFO dirs left in %s: %v", e.fifoDir, left)
	}
}

func randHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
