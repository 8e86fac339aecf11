package sealedexe

import (
	"bytes"
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

func TestCacheCopiesSealsAndFollowsChanges(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "tool")
	if err := os.WriteFile(bin, []byte("\x7fELF one"), 0o755); err != nil {
		t.Fatal(err)
	}
	var c Cache
	defer c.Close()
	first, err := c.Get(bin)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := unix.FcntlInt(first.File.Fd(), unix.F_GET_SEALS, 0); err != nil || got&seals != seals {
		t.Fatalf("seals = %#x, %v; want %#x", got, err, seals)
	}
	if !bytes.Equal(content(t, first.File), []byte("\x7fELF one")) {
		t.Fatal("copy differs from the binary")
	}
	if _, err := first.File.Write([]byte("x")); err == nil {
		t.Fatal("the copy is writable")
	}
	if again, _ := c.Get(bin); again != first {
		t.Fatal("an unchanged binary was copied again")
	}

	// A new binary in its place (as a package upgrade does) gets a new copy.
	time.Sleep(10 * time.Millisecond)
	next := filepath.Join(dir, "tool.new")
	if err := os.WriteFile(next, []byte("\x7fELF two"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, bin); err != nil {
		t.Fatal(err)
	}
	second, err := c.Get(bin)
	if err != nil {
		t.Fatal(err)
	}
	if second == first || !bytes.Equal(content(t, second.File), []byte("\x7fELF two")) {
		t.Fatal("a changed binary was not copied again")
	}
}

func TestCacheMissingBinary(t *testing.T) {
	var c Cache
	if _, err := c.Get(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Fatal("Get of a missing binary succeeded")
	}
}

// copyFile copies the executable src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst+".tmp", b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dst+".tmp", dst); err != nil {
		t.Fatal(err)
	}
}

// A child given the copy runs the binary from it, and only for that binary.
func TestInheritedRunsTheCopy(t *testing.T) {
	if os.Getenv("SEALEDEXE_CHILD") == "1" {
		in := TakeInherited()
		if in == nil {
			os.Exit(3)
		}
		if _, still := os.LookupEnv(EnvVar); still {
			os.Exit(4)
		}
		dir := os.Getenv("SEALEDEXE_DIR")
		cmd := in.For(os.Getenv("SEALEDEXE_BIN"), dir)
		if cmd != filepath.Join(dir, "tool") {
			os.Exit(6) // not through a link named like the binary
		}
		if err := exec.Command(cmd).Run(); err != nil {
			os.Exit(5) // ran the file on disk, or could not run the copy
		}
		os.Stdout.WriteString(in.For("sh", dir))
		os.Exit(0)
	}
	trueBin, err1 := exec.LookPath("true")
	falseBin, err2 := exec.LookPath("false")
	if err1 != nil || err2 != nil {
		t.Skip("needs true and false")
	}
	bin := filepath.Join(t.TempDir(), "tool")
	copyFile(t, trueBin, bin)
	var c Cache
	defer c.Close()
	cp, err := c.Get(bin)
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, falseBin, bin) // the child must still run the copy
	cmd := exec.Command(os.Args[0], "-test.run=^TestInheritedRunsTheCopy$")
	cmd.ExtraFiles = []*os.File{cp.File}
	cmd.Env = append(os.Environ(), "SEALEDEXE_CHILD=1", "SEALEDEXE_BIN="+bin, "SEALEDEXE_DIR="+t.TempDir(), cp.Env(3))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v (%s)", err, out)
	}
	if string(out) != "sh" {
		t.Fatalf("child ran sh as %q, want from PATH", out)
	}
}

// Only an ELF binary can run from /proc/self/fd/N once that descriptor is
// closed on exec: a script's interpreter would find it gone.
func TestCacheRefusesScripts(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "runc")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexec /usr/sbin/runc \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var c Cache
	if _, err := c.Get(bin); err == nil {
		t.Fatal("made a copy of a script")
	}
}

func TestTakeInheritedRefusesUnsealed(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "plain")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Setenv(EnvVar, strconv.Itoa(int(f.Fd()))+":/usr/bin/true")
	if in := TakeInherited(); in != nil {
		t.Fatalf("took a plain file as a sealed copy: %+v", in)
	}
	var nilIn *Inherited
	if got := nilIn.For("runc", t.TempDir()); got != "runc" {
		t.Fatalf("nil Inherited ran %q", got)
	}
}
