package daemon_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	tasksapi "github.com/seedrt/seed/api/services/tasks/v1"
	"github.com/seedrt/seed/coordinator/failpoint"
	"github.com/seedrt/seed/coordinator/nsctx"
	"github.com/seedrt/seed/tests/testutil"
)

// Killing the daemon at any point of create, start, exec or delete leaves
// either a task that works normally after a restart, or nothing: no shim,
// runc container, mount or bundle.
func TestCrashConsistency(t *testing.T) {
	ctr := testutil.RequireBinary(t, "ctr")
	for _, tc := range []struct {
		failpoint string
		op        []string // the ctr command that dies with the daemon
		setup     [][]string
		taskAfter string // the task's status after restart, "" for none
		// The op may answer before the daemon dies: delete tears the shim
		// down after answering.
		mayAnswer bool
	}{
		{"create-after-bundle", runArgs("c"), nil, "", false},
		{"create-after-shim-start", runArgs("c"), nil, "", false},
		{"create-after-task-create", runArgs("c"), nil, "CREATED", false},
		{"start-after-start", runArgs("c"), nil, "RUNNING", false},
		{"exec-after-exec", []string{"task", "exec", "--exec-id", "e1", "c", "/bin/true"}, [][]string{runArgs("c")}, "RUNNING", false},
		{"delete-after-task-delete", []string{"task", "rm", "c"}, [][]string{runArgs("c"), {"task", "kill", "-s", "SIGKILL", "c"}}, "", false},
		{"delete-after-shutdown", []string{"task", "rm", "c"}, [][]string{runArgs("c"), {"task", "kill", "-s", "SIGKILL", "c"}}, "", true},
	} {
		t.Run(tc.failpoint, func(t *testing.T) {
			d := startDaemon(t)
			rootfs := testutil.BusyboxRootfs(t)
			withRootfs := func(args []string) []string {
				return []string{strings.ReplaceAll(strings.Join(args, "\x00"), "ROOTFS", rootfs)}
			}
			do := func(args []string) (string, error) {
				args = strings.Split(withRootfs(args)[0], "\x00")
				if args[0] == "task" && args[1] == "exec" || args[0] == "run" {
					args = append([]string{args[0], "--fifo-dir", filepath.Join(d.dir, "fifo")}, args[1:]...)
					if args[0] == "task" {
						args = append([]string{"task", "exec", "--fifo-dir", filepath.Join(d.dir, "fifo")}, args[4:]...)
					}
				}
				return d.ctr(ctr, "crash", args...)
			}
			for _, s := range tc.setup {
				if out, err := do(s); err != nil {
					t.Fatalf("setup %v: %v\n%s", s, err, out)
				}
				if s[0] == "task" && s[1] == "kill" {
					waitStatus(t, d, ctr, "c", "STOPPED")
				}
			}
			d.stop(syscall.SIGTERM)
			d.env = append(d.env, failpoint.Env+"="+tc.failpoint)
			d.start()
			if out, err := do(tc.op); err == nil && !tc.mayAnswer {
				t.Fatalf("%v succeeded although the daemon was killed at %s:\n%s", tc.op, tc.failpoint, out)
			}
			d.cmd.Wait()
			d.cmd = nil
			d.env = d.env[:len(d.env)-1]
			d.start()

			// A task being recovered is listed UNKNOWN until its shim is
			// found again (or found gone).
			var status string
			testutil.WaitFor(t, 10*time.Second, func() bool {
				status = taskStatus(t, d, ctr, "c")
				return status != "UNKNOWN"
			}, "recovery of task c to finish")
			if status != tc.taskAfter {
				t.Fatalf("after restart the task is %q, want %q", status, tc.taskAfter)
			}
			if status == "" {
				// A shim told to shut down first tries to deliver its last
				// events for a few seconds.
				testutil.WaitFor(t, 10*time.Second, func() bool { return processesNamed(t, "containerd-shim", d.dir) == 0 },
					"no shim left for a task that does not exist")
				testutil.WaitFor(t, 5*time.Second, func() bool {
					_, err := os.Stat(filepath.Join(d.dir, "state", "tasks", "crash", "c"))
					return os.IsNotExist(err)
				}, "the bundle to be removed")
				// The container record is intact: a task can be made again.
				if out, err := d.ctr(ctr, "crash", "task", "start", "--fifo-dir", filepath.Join(d.dir, "fifo"), "-d", "c"); err != nil {
					t.Fatalf("start a new task after the crash: %v\n%s", err, out)
				}
				return
			}
			// It works normally.
			if status == "CREATED" {
				conn := d.dial()
				defer conn.Close()
				_, err := tasksapi.NewTasksClient(conn).Start(nsctx.Outgoing(context.Background(), "crash"), &tasksapi.StartRequest{ContainerID: "c"})
				if err != nil {
					t.Fatalf("start the recovered created task: %v", err)
				}
			}
			out := d.mustCtr(ctr, "crash", "task", "exec", "--fifo-dir", filepath.Join(d.dir, "fifo"), "--exec-id", "after", "c", "/bin/echo", "works")
			if strings.TrimSpace(out) != "works" {
				t.Fatalf("exec after restart printed %q", out)
			}
		})
	}
}

func runArgs(id string) []string {
	return []string{"run", "-d", "--rootfs", "ROOTFS", id, "/bin/sleep", "300"}
}

// taskStatus returns the status ctr task ls shows for id, "" if not listed.
func taskStatus(t *testing.T, d *daemon, ctr, id string) string {
	out := d.mustCtr(ctr, "crash", "task", "ls")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == id {
			return f[2]
		}
	}
	return ""
}

func waitStatus(t *testing.T, d *daemon, ctr, id, want string) {
	testutil.WaitFor(t, 10*time.Second, func() bool { return taskStatus(t, d, ctr, id) == want }, "task "+id+" to be "+want)
}

// A shim that dies leaves its task stopped, deletable, and nothing behind.
func TestDeadShim(t *testing.T) {
	ctr := testutil.RequireBinary(t, "ctr")
	d := startDaemon(t)
	d.mustCtr(ctr, "dead", "run", "-d", "--fifo-dir", filepath.Join(d.dir, "fifo"), "--rootfs", testutil.BusyboxRootfs(t), "victim", "/bin/sleep", "300")
	shim := shimPid(t, d.dir, "victim")
	syscall.Kill(shim, syscall.SIGKILL)
	testutil.WaitFor(t, 10*time.Second, func() bool {
		out, _ := d.ctr(ctr, "dead", "task", "ls")
		return strings.Contains(out, "STOPPED")
	}, "the task of the dead shim to be reported stopped")
	d.mustCtr(ctr, "dead", "task", "rm", "victim")
	if out := d.mustCtr(ctr, "dead", "task", "ls"); strings.Contains(out, "victim") {
		t.Fatalf("task still listed after delete:\n%s", out)
	}
	d.mustCtr(ctr, "dead", "c", "rm", "victim")
}

// shimPid finds the shim serving id among processes mentioning marker.
func shimPid(t *testing.T, marker, id string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.Split(string(b), "\x00")
		if len(args) > 0 && strings.HasSuffix(args[0], "containerd-shim") && strings.Contains(string(b), marker) &&
			strings.Contains(string(b), "\x00-id\x00"+id+"\x00") && !strings.Contains(string(b), "\x00start") {
			return pid
		}
	}
	t.Fatalf("no shim for %s", id)
	return 0
}

// The API answers while recovery runs: a task not yet recovered is listed
// UNKNOWN, not missing, and a call on it waits for it.
func TestAPIAnswersDuringRecovery(t *testing.T) {
	ctr := testutil.RequireBinary(t, "ctr")
	d := startDaemon(t)
	d.mustCtr(ctr, "slow", "run", "-d", "--fifo-dir", filepath.Join(d.dir, "fifo"), "--rootfs", testutil.BusyboxRootfs(t), "r1", "/bin/sleep", "300")
	d.stop(syscall.SIGKILL)
	d.env = append(d.env, failpoint.Env+"=recover-task") // each task's recovery is held 2 s
	d.start()
	d.env = d.env[:len(d.env)-1]

	out := d.mustCtr(ctr, "slow", "task", "ls")
	if !strings.Contains(out, "r1") || !strings.Contains(out, "UNKNOWN") {
		t.Fatalf("task ls during recovery:\n%s", out)
	}
	conn := d.dial()
	defer conn.Close()
	start := time.Now()
	resp, err := tasksapi.NewTasksClient(conn).Get(nsctx.Outgoing(context.Background(), "slow"), &tasksapi.GetRequest{ContainerID: "r1"})
	if err != nil {
		t.Fatalf("get during recovery: %v", err)
	}
	if resp.Process.Status.String() != "RUNNING" {
		t.Fatalf("recovered task is %v", resp.Process.Status)
	}
	t.Logf("Get waited %v for the task's recovery", time.Since(start).Round(time.Millisecond))
}
