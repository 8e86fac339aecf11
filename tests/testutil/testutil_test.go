package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seedrt/seed/oci"
)

// testNamespace keeps these containers' cgroups apart from any real daemon's.
const testNamespace = "testutiltest"

func TestMain(m *testing.M) { Main(m, testNamespace) }

func TestBusyboxRootfs(t *testing.T) {
	root := BusyboxRootfs(t)
	for _, p := range []string{"bin/busybox", "bin/sh", "bin/true", "bin/echo", "bin/sleep", "bin/cat", "bin/awk", "usr/bin/awk", "bin/ls"} {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s: not an executable (%v)", p, err)
		}
	}
	for _, d := range []string{"proc", "sys", "dev", "run", "etc", "root"} {
		if fi, err := os.Stat(filepath.Join(root, d)); err != nil || !fi.IsDir() {
			t.Errorf("%s: not a directory (%v)", d, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("tmp: want mode 1777, got %v (%v)", fi.Mode(), err)
	}
	if data, err := os.ReadFile(filepath.Join(root, "etc/passwd")); err != nil || !strings.HasPrefix(string(data), "root:x:0:0:") {
		t.Errorf("etc/passwd = %q (%v)", data, err)
	}

	// The busybox is static, so the rootfs's shell runs on the host as-is.
	out, err := exec.Command(filepath.Join(root, "bin/sh"), "-c", "echo hi").CombinedOutput()
	if err != nil || string(out) != "hi\n" {
		t.Errorf("bin/sh -c 'echo hi' = %q, %v", out, err)
	}

	// Each call gets its own copy, so writes don't leak between tests.
	if other := BusyboxRootfs(t); sameFile(t, filepath.Join(root, "bin/busybox"), filepath.Join(other, "bin/busybox")) {
		t.Error("two BusyboxRootfs calls share bin/busybox")
	}
	if SharedBusyboxRootfs(t) != SharedBusyboxRootfs(t) {
		t.Error("SharedBusyboxRootfs returned different dirs")
	}
}

func sameFile(t *testing.T, a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(fa, fb)
}

func TestBundleRunsWithRunc(t *testing.T) {
	runc := NewRunc(t)
	CheckNoLeaks(t, runc.Root)
	id := UniqueID(t)
	bundle := Bundle(t, id, oci.WithNamespace(testNamespace), oci.WithArgs("/bin/sh", "-c", "echo hi"))
	out, err := runc.Run(bundle, id)
	if err != nil {
		t.Fatal(err)
	}
	if out != "hi\n" {
		t.Errorf("output = %q, want %q", out, "hi\n")
	}
	if _, err := oci.LoadSpec(filepath.Join(bundle, oci.ConfigFile)); err != nil {
		t.Error(err)
	}
}

// startSleep starts a shell running sleep, in its own process group so
// stop can kill both; it is stopped at cleanup in case the test fails
// first.
func startSleep(t *testing.T, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("/bin/busybox", append([]string{"sh", "-c", "sleep 60; true"}, args...)...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(t, cmd) })
	return cmd
}

func stop(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
}

func findLeak(t *testing.T, marker, kind string, pid int, detail string) bool {
	t.Helper()
	leaks, err := FindLeaks(marker)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leaks {
		if l.Kind == kind && (pid == 0 || l.PID == pid) && (detail == "" || l.Detail == detail) {
			return true
		}
	}
	return false
}

func TestFindLeaksProcesses(t *testing.T) {
	marker := ShortTempDir(t)
	neighbour := marker + "x" // shares a prefix, must not match

	byCwd := startSleep(t, marker)
	byArg := startSleep(t, "/", "--state="+marker+"/state")
	unrelated := startSleep(t, "/", neighbour)
	if !findLeak(t, marker, "process", byCwd.Process.Pid, "") {
		t.Error("process with cwd in marker not found")
	}
	if !findLeak(t, marker, "process", byArg.Process.Pid, "") {
		t.Error("process mentioning marker not found")
	}
	if findLeak(t, marker, "process", unrelated.Process.Pid, "") {
		t.Error("process mentioning a different path with the same prefix reported")
	}

	stop(t, byCwd)
	stop(t, byArg)
	if findLeak(t, marker, "process", 0, "") {
		t.Error("processes still reported after being killed")
	}
}

func TestFindLeaksZombies(t *testing.T) {
	cmd := exec.Command("/bin/busybox", "true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	marker := ShortTempDir(t)
	WaitFor(t, 5*time.Second, func() bool { return findLeak(t, marker, "zombie", pid, "") }, "unreaped child to be reported as zombie")
	cmd.Wait()
	if findLeak(t, marker, "zombie", pid, "") {
		t.Error("zombie still reported after being reaped")
	}
}

func TestFindLeaksMounts(t *testing.T) {
	RequireRoot(t)
	marker := ShortTempDir(t)
	mnt := filepath.Join(marker, "with space")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	mounted := true
	t.Cleanup(func() {
		if mounted {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	})
	if !findLeak(t, marker, "mount", 0, mnt) {
		t.Errorf("mount at %q not found", mnt)
	}
	if err := syscall.Unmount(mnt, 0); err != nil {
		t.Fatal(err)
	}
	mounted = false
	if findLeak(t, marker, "mount", 0, "") {
		t.Error("mount still reported after unmount")
	}
}

// recordingTB captures what CheckNoLeaks reports instead of failing.
type recordingTB struct {
	testing.TB
	cleanups []func()
	errors   []string
}

func (r *recordingTB) Helper()          {}
func (r *recordingTB) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordingTB) runCleanups() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func TestCheckNoLeaks(t *testing.T) {
	old := LeakTimeout
	LeakTimeout = 300 * time.Millisecond
	t.Cleanup(func() { LeakTimeout = old })

	// Clean: a process that exits before cleanup is not reported.
	marker := ShortTempDir(t)
	rec := &recordingTB{TB: t}
	CheckNoLeaks(rec, marker)
	stop(t, startSleep(t, marker))
	rec.runCleanups()
	if len(rec.errors) != 0 {
		t.Errorf("unexpected leak report: %q", rec.errors)
	}

	// Leaked: reported, then killed so it doesn't outlive the test.
	rec = &recordingTB{TB: t}
	CheckNoLeaks(rec, marker)
	leaked := startSleep(t, marker)
	rec.runCleanups()
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], fmt.Sprintf("process pid %d", leaked.Process.Pid)) {
		t.Errorf("leak report = %q, want one naming pid %d", rec.errors, leaked.Process.Pid)
	}
	done := make(chan error, 1)
	go func() { done <- leaked.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("leaked process was not killed")
	}
}

func TestProcMemory(t *testing.T) {
	rss, err := ProcRSS(os.Getpid())
	if err != nil || rss <= 0 {
		t.Errorf("ProcRSS = %d, %v", rss, err)
	}
	pss, err := ProcPSS(os.Getpid())
	if err != nil || pss <= 0 {
		t.Errorf("ProcPSS = %d, %v", pss, err)
	}
	if _, err := ProcRSS(-1); err == nil {
		t.Error("ProcRSS of a bad pid succeeded")
	}
}

func TestBuildCommands(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"go.mod":            "module example.com/fake\n\ngo 1.21\n",
		"cmd/hello/main.go": "package main\n\nfunc main() { println(\"hello\") }\n",
		"Makefile":          "BINDIR ?= bin\nbuild:\n\tgo build -o $(BINDIR)/ ./cmd/...\n",
	}
	for p, content := range files {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	if err := buildCommands(root, out); err != nil {
		t.Fatal(err)
	}
	if got, err := exec.Command(filepath.Join(out, "hello")).CombinedOutput(); err != nil || string(got) != "hello\n" {
		t.Errorf("hello = %q, %v", got, err)
	}

	if err := buildCommands(t.TempDir(), out); err == nil {
		t.Error("building a tree without cmd/ succeeded")
	}

	t.Setenv(BinDirEnv, out)
	if got := BuildBinaries(t); got != out {
		t.Errorf("BuildBinaries with %s set = %q, want %q", BinDirEnv, got, out)
	}
}

func TestUniqueID(t *testing.T) {
	a, b := UniqueID(t), UniqueID(t)
	if a == b {
		t.Errorf("ids collide: %q", a)
	}
	if !regexp.MustCompile(`^testuniqueid-[0-9a-f]{8}$`).MatchString(a) {
		t.Errorf("id = %q", a)
	}
}

func TestWaitFor(t *testing.T) {
	n := 0
	WaitFor(t, 5*time.Second, func() bool { n++; return n == 3 }, "third poll")
	if !Poll(50*time.Millisecond, func() bool { return true }) || Poll(50*time.Millisecond, func() bool { return false }) {
		t.Error("poll reported wrong result")
	}
}

func TestShortTempDir(t *testing.T) {
	dir := ShortTempDir(t)
	// Room for a socket name within the 108-byte sun_path.
	if len(dir) > 40 {
		t.Errorf("ShortTempDir = %q is not short", dir)
	}
}
