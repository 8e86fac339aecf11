package daemon

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ensureTmpfs makes the state directory a tmpfs of its own unless it is on
// one already, as containerd's /run/containerd normally is.
//
// Everything in it (bundles, runc's state, shim sockets, FIFOs, exit
// records) is created and removed once per container and means nothing
// after a reboot. On a disk file system each of those files costs an inode
// allocation and journal work: on ext4 under container churn, allocating
// inodes alone took an eighth of the machine's CPU while starting
// containers, and every exit record's fsync waited for the journal.
//
// A directory that is not empty is left as it is: mounting over it would
// hide the bundles of shims that are still running. The mount outlives the
// daemon on purpose, for the same reason; a restarted daemon finds it.
func ensureTmpfs(dir string) (mounted bool, err error) {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return false, fmt.Errorf("create state dir: %w", err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false, fmt.Errorf("statfs %s: %w", dir, err)
	}
	if st.Type == unix.TMPFS_MAGIC {
		return false, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("read state dir: %w", err)
	}
	if len(entries) > 0 {
		fmt.Fprintf(os.Stderr, "state dir %s is not a tmpfs and not empty: leaving it on disk\n", dir)
		return false, nil
	}
	if err := unix.Mount("seed-state", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0711"); err != nil {
		return false, fmt.Errorf("mount tmpfs on state dir %s (set state_tmpfs = false to keep it on disk): %w", dir, err)
	}
	return true, nil
}
