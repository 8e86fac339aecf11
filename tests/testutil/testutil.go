// Package testutil is the shared harness for integration tests: busybox
// root filesystems and bundles, building the repo's binaries, runc helpers,
// leak checks and small polling/proc helpers. A typical test:
//
//	func TestRun(t *testing.T) {
//		testutil.RequireRoot(t)
//		bin := testutil.BuildBinaries(t)
//		state := testutil.ShortTempDir(t) // sockets need short paths
//		testutil.CheckNoLeaks(t, state)    // first, so it is checked last
//		id := testutil.UniqueID(t)
//		bundle := testutil.Bundle(t, id, oci.WithArgs("/bin/echo", "hi"))
//		// start bin/containerd with its state under state, run bundle ...
//	}
//
// Test packages that use SharedBusyboxRootfs or BuildBinaries should call
// Main from TestMain so process-wide temp dirs are removed at exit:
//
//	func TestMain(m *testing.M) { testutil.Main(m) }
//
// Without it those dirs (named /tmp/seed-test-<pid>-*) are removed by the
// next test process that needs them, once their owner has exited.
package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Main runs the tests, removes process-wide temp dirs and exits.
//
// cgroupNamespaces are the namespaces the package's containers use: runc
// removes a container's own cgroups but leaves their parent, /NS in every
// hierarchy, which Main removes once every test is done. One that cannot be
// removed still holds cgroups, a leak: Main reports it and fails the run.
//
// containerd 1.6 and its runc shim (the peers some tests run) make
// /run/containerd/{s,runc,fifo} whatever their configuration says; Main
// removes the ones that were not there before and are empty again.
func Main(m *testing.M, cgroupNamespaces ...string) {
	var madeByPeers []string
	for _, d := range []string{"/run/containerd", "/run/containerd/s", "/run/containerd/runc", "/run/containerd/fifo"} {
		if _, err := os.Lstat(d); errors.Is(err, os.ErrNotExist) {
			madeByPeers = append(madeByPeers, d)
		}
	}
	code := m.Run()
	removeProcessDirs()
	slices.Reverse(madeByPeers) // children first
	for _, d := range madeByPeers {
		syscall.Rmdir(d) // fails, as it should, when not empty
	}
	for _, ns := range cgroupNamespaces {
		for _, p := range NamespaceCgroups(ns) {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				fmt.Fprintf(os.Stderr, "testutil: cgroup of namespace %s left: %v\n", ns, err)
				code = max(code, 1)
			}
		}
	}
	os.Exit(code)
}

// NamespaceCgroups lists the parent cgroups runc creates for namespace
// ns's containers (oci.DefaultSpec's cgroupsPath is /NS/ID): /NS in every
// cgroup v1 hierarchy, or in the v2 tree.
func NamespaceCgroups(ns string) []string {
	cgroups, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", ns))
	if p := filepath.Join("/sys/fs/cgroup", ns); isDir(p) {
		cgroups = append(cgroups, p)
	}
	return cgroups
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// inCI reports whether missing prerequisites must fail rather than skip,
// so CI cannot silently go green without running anything.
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf(format+" (CI=true, so this is fatal)", args...)
	}
	t.Skipf(format, args...)
}

// RequireRoot skips the test unless running as root (fails under CI=true).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "test requires root")
	}
}

// RequireBinary returns the absolute path of the named program, looking in
// $PATH and then the sbin/bin dirs (often missing from PATH under go test).
// It skips the test if the program is absent (fails under CI=true).
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := findBinary(name)
	if err != nil {
		skipOrFail(t, "test requires %s: %v", name, err)
	}
	return p
}

func findBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return filepath.Abs(p)
	}
	for _, dir := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q not found in $PATH or standard bin dirs", name)
}

// WaitFor polls cond until it returns true, failing the test with msg if
// that doesn't happen within timeout.
func WaitFor(t testing.TB, timeout time.Duration, cond func() bool, msg string) {
	t.Helper()
	if !Poll(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, msg)
	}
}

// Poll reports whether cond became true within timeout. It always checks
// at least once, and once more at the deadline.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ShortTempDir returns a new directory directly under /tmp, removed when
// the test ends. Use it for unix sockets: their paths are limited to 108
// bytes and t.TempDir() paths (which embed the test name) can exceed that.
func ShortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "sd-")
	if err != nil {
		t.Fatalf("create short temp dir: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove short temp dir: %v", err)
		}
	})
	return dir
}

// UniqueID returns a container ID derived from the test name plus a random
// suffix, so concurrent tests (and test binaries) never collide on runtime
// state or cgroup paths.
func UniqueID(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random id: %v", err)
	}
	return strings.Trim(name, "-") + "-" + hex.EncodeToString(b[:])
}

// RepoRoot returns the directory holding go.mod, found by walking up from
// the working directory (go test runs in the package dir).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("get working dir: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above working directory")
		}
		dir = parent
	}
}

// Process-wide temp dirs live as long as the test binary; see Main.
var processDirs struct {
	sync.Mutex
	swept bool
	dirs  []string
}

const processDirPrefix = "seed-test-"

func processTempDir(name string) (string, error) {
	processDirs.Lock()
	defer processDirs.Unlock()
	if !processDirs.swept {
		processDirs.swept = true
		sweepStaleProcessDirs()
	}
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-%s-", processDirPrefix, os.Getpid(), name))
	if err != nil {
		return "", fmt.Errorf("create process temp dir: %w", err)
	}
	processDirs.dirs = append(processDirs.dirs, dir)
	return dir, nil
}

func removeProcessDirs() {
	processDirs.Lock()
	defer processDirs.Unlock()
	for _, d := range processDirs.dirs {
		os.RemoveAll(d)
	}
	processDirs.dirs = nil
}

// sweepStaleProcessDirs removes dirs left by test processes that exited
// without Main cleaning up.
func sweepStaleProcessDirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), processDirPrefix+"*"))
	for _, m := range matches {
		pidStr, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(m), processDirPrefix), "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(m)
		}
	}
}

// UnmountAtCleanup lazily unmounts dir when t ends, if something is mounted
// there: our daemon mounts a tmpfs on its state directory and leaves it
// mounted when it exits. Call it after CheckNoLeaks and before starting the
// daemon, so it runs after the daemon is stopped and before the leak check.
func UnmountAtCleanup(t testing.TB, dir string) {
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil && err != syscall.EINVAL && err != syscall.ENOENT {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}
