package daemon_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seedrt/seed/tests/testutil"
)

// The daemon starts shims from a thread with a descriptor table of its own
// (package spawn), so a launch does not copy and close the descriptors the
// daemon holds for every running task. That thread exists and its table
// stays small however many tasks run.
func TestShimsStartFromASmallTable(t *testing.T) {
	ctr := testutil.RequireBinary(t, "ctr")
	d := startDaemon(t)
	fifo := []string{"--fifo-dir", filepath.Join(d.dir, "fifo")}
	const tasks = 5
	for i := 0; i < tasks; i++ {
		d.mustCtr(ctr, "sp", append(append([]string{"run", "-d"}, fifo...), "--rootfs", testutil.BusyboxRootfs(t), fmt.Sprint("t", i), "/bin/sleep", "300")...)
	}
	pid := d.cmd.Process.Pid
	threads, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Tables are told apart by a wide margin, so descriptors the daemon
	// opens or closes meanwhile (a ctr connection) cannot blur them.
	var small, shared [][]string
	for _, th := range threads {
		fds := descriptors(t, fmt.Sprintf("/proc/%d/task/%s/fd", pid, th.Name()))
		if len(fds) <= 7 {
			small = append(small, fds)
		} else {
			shared = append(shared, fds)
		}
	}
	// stdio, /dev/null, a pidfd of the daemon, and the Go runtime's poller.
	if len(small) != 1 || !strings.Contains(strings.Join(small[0], " "), "[pidfd]") {
		t.Fatalf("threads with at most 7 descriptors: %q, want the spawner's alone", small)
	}
	for _, fds := range shared {
		if len(fds) < 4*tasks {
			t.Fatalf("a thread of the daemon with %d descriptors and %d tasks: %q", len(fds), tasks, fds)
		}
	}
	for i := 0; i < tasks; i++ {
		id := fmt.Sprint("t", i)
		d.mustCtr(ctr, "sp", "task", "kill", "-s", "SIGKILL", id)
		d.mustCtr(ctr, "sp", "task", "rm", "-f", id)
		d.mustCtr(ctr, "sp", "c", "rm", id)
	}
}

// descriptors lists what the descriptors in a /proc fd directory are.
func descriptors(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		link, _ := os.Readlink(filepath.Join(dir, e.Name()))
		out = append(out, e.Name()+":"+strings.TrimPrefix(link, "anon_inode:"))
	}
	return out
}
