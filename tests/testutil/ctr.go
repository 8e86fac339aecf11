package testutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// CtrTimeout bounds every ctr invocation, so a hung daemon or shim fails
// the test instead of hanging it.
const CtrTimeout = 60 * time.Second

// Ctr runs a ctr binary (containerd's or ours) against one daemon, in one
// namespace.
type Ctr struct {
	Binary    string
	Socket    string
	Namespace string
}

// Run runs ctr with args and returns what it printed.
func (c *Ctr) Run(args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), CtrTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Binary, append([]string{"--address", c.Socket, "--namespace", c.Namespace}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("ctr %s: timed out after %v: %w", strings.Join(args, " "), CtrTimeout, err)
	}
	return o.String(), e.String(), err
}

// Must runs ctr and fails the test unless it exits 0.
func (c *Ctr) Must(t testing.TB, args ...string) string {
	t.Helper()
	stdout, stderr, err := c.Run(args...)
	if err != nil {
		t.Fatalf("ctr %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}

// TaskStatus returns the STATUS and PID columns `ctr task ls` shows for id
// ("" if it is not listed).
func (c *Ctr) TaskStatus(t testing.TB, id string) (status string, pid int) {
	t.Helper()
	return ParseTaskLs(c.Must(t, "task", "ls"), id)
}

// ParseTaskLs picks the STATUS and PID of id from `ctr task ls` output.
func ParseTaskLs(out, id string) (status string, pid int) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == id {
			pid, _ := strconv.Atoi(f[1])
			return f[2], pid
		}
	}
	return "", 0
}

// WaitStatus waits until `ctr task ls` shows id as want.
func (c *Ctr) WaitStatus(t testing.TB, id, want string) {
	t.Helper()
	var last string
	WaitFor(t, 10*time.Second, func() bool {
		last, _ = c.TaskStatus(t, id)
		return last == want
	}, fmt.Sprintf("task %s to be %s (last seen %q)", id, want, last))
}

// RemoveAll kills and removes whatever tasks and containers a failed test
// left in the namespace, so the daemon can stop cleanly.
func (c *Ctr) RemoveAll(t testing.TB) {
	out, _, err := c.Run("containers", "ls", "-q")
	if err != nil {
		return
	}
	for _, id := range strings.Fields(out) {
		if _, _, err := c.Run("task", "kill", "-s", "SIGKILL", id); err == nil {
			Poll(10*time.Second, func() bool {
				out, _, err := c.Run("task", "ls")
				st, _ := ParseTaskLs(out, id)
				return err != nil || st == "STOPPED" || st == ""
			})
		}
		c.Run("task", "rm", "-f", id)
		if _, stderr, err := c.Run("containers", "rm", id); err != nil {
			t.Errorf("clean up container %s: %v: %s", id, err, stderr)
		}
	}
}

// RemoveNamespaceCgroups removes the parent cgroups /NS that ctr puts a
// namespace's containers under. Only empty ones go, so a cgroup a container
// left behind fails the test.
func RemoveNamespaceCgroups(t testing.TB, ns string) {
	cgroups, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", ns))
	if p := filepath.Join("/sys/fs/cgroup", ns); dirExists(p) { // cgroup v2
		cgroups = append(cgroups, p)
	}
	for _, p := range cgroups {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("remove cgroup %s: %v", p, err)
		}
	}
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
