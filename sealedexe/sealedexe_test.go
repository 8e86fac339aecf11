package sealedexe

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func content(t *testing.T, f *os.File) []byte {
	t.Helper()
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<30))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// install puts content at path the way a package upgrade does: a new file
// renamed over the old one.
func install(t *testing.T, path string, content []byte) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", content, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

func TestCacheCopiesSealsAndFollowsChanges(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "runc")
	install(t, bin, []byte("\x7fELF one"))
	var c Cache
	defer c.Close()
	first, err := c.Get(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer first.File.Close()
	if got, err := unix.FcntlInt(first.File.Fd(), unix.F_GET_SEALS, 0); err != nil || got&seals != seals {
		t.Fatalf("seals = %#x, %v; want %#x", got, err, seals)
	}
	if !bytes.Equal(content(t, first.File), []byte("\x7fELF one")) {
		t.Fatal("copy differs from the binary")
	}
	if _, err := first.File.Write([]byte("x")); err == nil {
		t.Fatal("the copy is writable")
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(first.File.Fd()), &st); err != nil || st.Mode&0o111 == 0 {
		t.Fatalf("the copy is not executable: mode %o, %v", st.Mode, err)
	}
	again, err := c.Get(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer again.File.Close()
	if again.File.Fd() == first.File.Fd() || !sameFile(t, again.File, first.File) {
		t.Fatal("want a new descriptor of the same copy for an unchanged binary")
	}

	// A new binary in its place gets a new copy; the old descriptor the
	// caller holds stays usable.
	time.Sleep(10 * time.Millisecond)
	install(t, bin, []byte("\x7fELF two"))
	second, err := c.Get(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer second.File.Close()
	if sameFile(t, second.File, first.File) || !bytes.Equal(content(t, second.File), []byte("\x7fELF two")) {
		t.Fatal("a changed binary was not copied again")
	}
	if !bytes.Equal(content(t, first.File), []byte("\x7fELF one")) {
		t.Fatal("the caller's descriptor of the replaced copy broke")
	}
}

func sameFile(t *testing.T, a, b *os.File) bool {
	var sa, sb unix.Stat_t
	if unix.Fstat(int(a.Fd()), &sa) != nil || unix.Fstat(int(b.Fd()), &sb) != nil {
		t.Fatal("fstat")
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

func TestCacheRefuses(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "runc")
	// A wrapper script cannot run from a descriptor closed on exec.
	install(t, script, []byte("#!/bin/sh\nexec /usr/sbin/runc \"$@\"\n"))
	other := filepath.Join(dir, "crun")
	install(t, other, []byte("\x7fELF crun"))
	var c Cache
	defer c.Close()
	for _, name := range []string{script, other, filepath.Join(dir, "none", "runc")} {
		if cp, err := c.Get(name); err == nil {
			cp.File.Close()
			t.Errorf("Get(%s) made a copy", name)
		}
	}
}

// copyFile copies the executable src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	install(t, dst, b)
}

// exeOf starts cmd with args and returns what the process runs
// (/proc/PID/exe) and is called (comm).
func exeOf(cmd string, args ...string) (exe, comm string, err error) {
	c := exec.Command(cmd, args...)
	if err := c.Start(); err != nil {
		return "", "", err
	}
	defer func() { c.Process.Kill(); c.Wait() }()
	for i := 0; i < 100; i++ { // until the exec has happened
		exe, _ = os.Readlink("/proc/" + strconv.Itoa(c.Process.Pid) + "/exe")
		if exe != "" && exe != os.Args[0] {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(c.Process.Pid) + "/comm")
	return exe, string(bytes.TrimSpace(b)), nil
}

// A child given the copy runs the binary from it, through a link named like
// the binary, and only that binary; after an upgrade on disk it runs the
// binary on disk again.
func TestInheritedRunsTheCopy(t *testing.T) {
	if os.Getenv("SEALEDEXE_CHILD") == "1" {
		fail := func(format string, a ...any) {
			os.Stdout.WriteString(fmt.Sprintf(format, a...))
			os.Exit(1)
		}
		in := TakeInherited()
		if in == nil {
			fail("no copy taken")
		}
		if _, still := os.LookupEnv(EnvVar); still {
			fail("the variable is still set")
		}
		dir, bin := os.Getenv("SEALEDEXE_DIR"), os.Getenv("SEALEDEXE_BIN")
		cmd := in.For(bin, dir)
		if cmd != filepath.Join(dir, "runc") {
			fail("For = %q, want the link", cmd)
		}
		if exe, comm, err := exeOf(cmd, "5"); err != nil || exe != "/memfd:runc (deleted)" || comm != "runc" {
			fail("the link ran %q called %q (%v), want the copy called runc", exe, comm, err)
		}
		if in.For("sh", dir) != "sh" {
			fail("another binary is run from the copy")
		}
		copyFile(&testing.T{}, os.Getenv("SEALEDEXE_SLEEP"), bin) // an upgrade
		if in.Current() {
			fail("the upgrade went unnoticed")
		}
		if err := in.Relink(dir); err != nil {
			fail("relink: %v", err)
		}
		if exe, _, err := exeOf(cmd, "5"); err != nil || exe != bin {
			fail("after the upgrade the link ran %q (%v), want %s", exe, err, bin)
		}
		if in.For(bin, dir) != bin {
			fail("For still gives the copy after the upgrade")
		}
		os.Exit(0)
	}
	sleepBin, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("needs sleep")
	}
	bin := filepath.Join(t.TempDir(), "runc")
	copyFile(t, sleepBin, bin)
	var c Cache
	defer c.Close()
	cp, err := c.Get(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.File.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestInheritedRunsTheCopy$")
	cmd.ExtraFiles = []*os.File{cp.File}
	cmd.Env = append(os.Environ(), "SEALEDEXE_CHILD=1", "SEALEDEXE_BIN="+bin, "SEALEDEXE_DIR="+t.TempDir(),
		"SEALEDEXE_SLEEP="+sleepBin, cp.Env(3))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
}

func TestTakeInheritedRefusesUnsealed(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "plain")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Setenv(EnvVar, strconv.Itoa(int(f.Fd()))+":1:2:3:4:/usr/bin/true")
	if in := TakeInherited(); in != nil {
		t.Fatalf("took a plain file as a sealed copy: %+v", in)
	}
	if flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatal("a refused descriptor is left for children to inherit")
	}
	var nilIn *Inherited
	if got := nilIn.For("runc", t.TempDir()); got != "runc" {
		t.Fatalf("nil Inherited ran %q", got)
	}
}
