// Package sealedexe keeps a sealed in-memory copy of the runc binary that
// every shim runs runc from.
//
// runc defends against a container overwriting its binary (CVE-2019-5736)
// by re-executing `runc init` from a private copy: on this runc, a read-only
// bind mount of itself, made and undone in the host's mount table, and one
// more exec of a dynamically linked 9 MB binary, for every container and
// every exec. runc skips that when it already runs from a sealed memfd
// (runc's own contrib/memfd-bind does the same). The daemon makes one such
// copy per runc binary and hands it to each shim it launches as an inherited
// file; the shim runs runc as /proc/self/fd/N. A changed binary on disk gets
// a new copy for the shims launched after the change.
package sealedexe

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// EnvVar tells a shim which inherited file is a sealed copy of which binary:
// "FD:PATH".
const EnvVar = "SEED_SEALED_RUNC"

// seals are the ones runc checks for (RUNC_MEMFD_SEALS): no write, no resize,
// no more seals.
const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// Copy is a sealed copy of the executable at Path.
type Copy struct {
	Path string
	File *os.File
	stat unix.Stat_t // of Path when copied
}

// Env is the environment entry for a child that inherits c.File as fd.
func (c *Copy) Env(fd int) string {
	return EnvVar + "=" + strconv.Itoa(fd) + ":" + c.Path
}

// Cache holds one copy per binary.
type Cache struct {
	mu      sync.Mutex
	copies  map[string]*Copy
	retired []*Copy // replaced copies: a launch may still be passing one on
}

// Get returns a sealed copy of the binary name (a path, or a name looked up
// on PATH), made anew if the file changed since the last copy. A replaced
// copy stays open until Close, as a shim being launched may be inheriting
// it right now; shims that did keep their own reference.
func (c *Cache) Get(name string) (*Copy, error) {
	path, err := Resolve(name)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.copies[path]; old != nil {
		if sameFile(&old.stat, &st) {
			return old, nil
		}
		c.retired = append(c.retired, old)
		delete(c.copies, path)
	}
	f, err := seal(path)
	if err != nil {
		return nil, err
	}
	if c.copies == nil {
		c.copies = map[string]*Copy{}
	}
	cp := &Copy{Path: path, File: f, stat: st}
	c.copies[path] = cp
	return cp, nil
}

// Close closes every copy.
func (c *Cache) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, cp := range c.copies {
		cp.File.Close()
		delete(c.copies, p)
	}
	for _, cp := range c.retired {
		cp.File.Close()
	}
	c.retired = nil
}

func sameFile(a, b *unix.Stat_t) bool {
	return a.Dev == b.Dev && a.Ino == b.Ino && a.Size == b.Size && a.Mtim == b.Mtim && a.Ctim == b.Ctim
}

// Resolve turns a binary name into the absolute path of the file it runs,
// symlinks followed, as both the daemon and the shim must agree on it.
func Resolve(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", err
	}
	if p, err = filepath.Abs(p); err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(p)
}

// seal copies the file at path into a new memfd and seals it. Only an ELF
// binary qualifies: a script run as /proc/self/fd/N would hand its
// interpreter a descriptor that close-on-exec has already closed.
func seal(path string) (*os.File, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(src, magic); err != nil || string(magic) != "\x7fELF" {
		return nil, fmt.Errorf("%s is not an ELF binary", path)
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	fd, err := unix.MemfdCreate("runc", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd for %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), "memfd:runc")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy %s: %w", path, err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal copy of %s: %w", path, err)
	}
	return f, nil
}

// Inherited is what a shim was given: the binary's path and where to run
// it from instead.
type Inherited struct {
	Path string // the binary copied
	Exe  string // /proc/self/fd/N
}

// minFD keeps the copy clear of the low descriptors a child's stdio and
// extra files are moved onto before it execs.
const minFD = 100

// TakeInherited takes over the copy named by EnvVar, if there is one and it
// is a sealed file: moves it to a high close-on-exec descriptor (an exec of
// /proc/self/fd/N resolves the path before close-on-exec applies) and
// removes the variable so no child inherits it. It returns nil otherwise.
func TakeInherited() *Inherited {
	v, ok := os.LookupEnv(EnvVar)
	if !ok {
		return nil
	}
	os.Unsetenv(EnvVar)
	fdStr, path, ok := strings.Cut(v, ":")
	fd, err := strconv.Atoi(fdStr)
	if !ok || err != nil || fd < 3 || !filepath.IsAbs(path) {
		return nil
	}
	defer unix.Close(fd)
	if got, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0); err != nil || got&seals != seals {
		return nil
	}
	high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, minFD)
	if err != nil {
		return nil
	}
	return &Inherited{Path: path, Exe: "/proc/self/fd/" + strconv.Itoa(high)}
}

// For returns the command to run the binary name with: the copy when name
// resolves to the binary it was made from, else name itself. The copy is
// run through a symlink in dir named like the binary, so its processes are
// called "runc" in ps and top, not "100"; without the link, as
// /proc/self/fd/N.
func (in *Inherited) For(name, dir string) string {
	if in == nil {
		return name
	}
	p, err := Resolve(name)
	if err != nil || p != in.Path {
		return name
	}
	link := filepath.Join(dir, filepath.Base(p))
	os.Remove(link)
	if err := os.Symlink(in.Exe, link); err != nil {
		return in.Exe
	}
	return link
}
