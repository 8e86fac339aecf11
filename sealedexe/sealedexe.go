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
// file; the shim runs runc from /proc/self/fd/N. A changed binary on disk
// gets a new copy for the shims launched after the change, and running
// shims go back to the binary on disk (Current, Relink).
package sealedexe

import (
	"errors"
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

// EnvVar tells a shim which inherited file is a sealed copy of which binary,
// and which file that was: "FD:DEV:INO:SIZE:MTIME_NS:PATH".
const EnvVar = "SEED_SEALED_RUNC"

// seals are the ones runc checks for (RUNC_MEMFD_SEALS): no write, no resize,
// no more seals.
const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// identity tells whether the file at a path is still the one copied.
type identity struct {
	dev, ino uint64
	size     int64
	mtime    int64 // ns
}

func identityOf(st *unix.Stat_t) identity {
	return identity{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano()}
}

func (id identity) String() string {
	return fmt.Sprintf("%d:%d:%d:%d", id.dev, id.ino, id.size, id.mtime)
}

// Copy is a sealed copy of the executable at Path.
type Copy struct {
	Path string
	File *os.File
	id   identity // of Path when copied
}

// Env is the environment entry for a child that inherits c.File as fd.
func (c *Copy) Env(fd int) string {
	return EnvVar + "=" + strconv.Itoa(fd) + ":" + c.id.String() + ":" + c.Path
}

// Cache holds one copy per binary.
type Cache struct {
	mu     sync.Mutex
	copies map[string]*Copy
}

// Get returns a sealed copy of the runc binary name (a path, or a name
// looked up on PATH), made anew if the file changed since the last copy.
// The Copy's File is the caller's own descriptor (a dup), to close once the
// child that inherits it has started; so a copy replaced meanwhile can be
// closed here at once. Only a binary named runc is copied: runc is what
// recognises the seals, and other runtimes may find files next to their own
// path.
func (c *Cache) Get(name string) (*Copy, error) {
	if filepath.Base(name) != "runc" {
		return nil, fmt.Errorf("%s is not runc", name)
	}
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
	cp := c.copies[path]
	if cp == nil || cp.id != identityOf(&st) {
		if cp != nil {
			cp.File.Close()
			delete(c.copies, path)
		}
		f, id, err := seal(path)
		if err != nil {
			return nil, err
		}
		if c.copies == nil {
			c.copies = map[string]*Copy{}
		}
		cp = &Copy{Path: path, File: f, id: id}
		c.copies[path] = cp
	}
	fd, err := unix.FcntlInt(cp.File.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dup copy of %s: %w", path, err)
	}
	return &Copy{Path: path, File: os.NewFile(uintptr(fd), "memfd:runc"), id: cp.id}, nil
}

// Close closes every copy.
func (c *Cache) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, cp := range c.copies {
		cp.File.Close()
		delete(c.copies, p)
	}
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

// seal copies the file at path into a new executable memfd and seals it.
// Only a whole ELF binary qualifies: a script run as /proc/self/fd/N would
// hand its interpreter a descriptor that close-on-exec has already closed,
// and a binary being replaced in place could be copied torn.
func seal(path string) (*os.File, identity, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, identity{}, err
	}
	defer src.Close()
	var before unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &before); err != nil {
		return nil, identity{}, err
	}
	magic := make([]byte, 4)
	if _, err := io.ReadFull(src, magic); err != nil || string(magic) != "\x7fELF" {
		return nil, identity{}, fmt.Errorf("%s is not an ELF binary", path)
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return nil, identity{}, err
	}
	// MFD_EXEC: with vm.memfd_noexec=1 a memfd is otherwise not executable.
	fd, err := unix.MemfdCreate("runc", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if err == unix.EINVAL { // a kernel before 6.3 knows no MFD_EXEC
		fd, err = unix.MemfdCreate("runc", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, identity{}, fmt.Errorf("memfd for %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), "memfd:runc")
	fail := func(err error) (*os.File, identity, error) {
		f.Close()
		return nil, identity{}, err
	}
	n, err := io.Copy(f, src)
	if err != nil {
		return fail(fmt.Errorf("copy %s: %w", path, err))
	}
	var after, copied unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &after); err != nil {
		return fail(err)
	}
	if n != before.Size || identityOf(&after) != identityOf(&before) {
		return fail(fmt.Errorf("%s changed while it was copied", path))
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		return fail(fmt.Errorf("seal copy of %s: %w", path, err))
	}
	if err := unix.Fstat(fd, &copied); err != nil || copied.Mode&0o111 == 0 {
		return fail(fmt.Errorf("the copy of %s is not executable (vm.memfd_noexec?)", path))
	}
	return f, identityOf(&before), nil
}

// Inherited is what a shim was given: the binary's path and where to run
// it from instead.
type Inherited struct {
	Path string // the binary copied
	Exe  string // /proc/self/fd/N
	id   identity
}

// minFD keeps the copy clear of the low descriptors a child's stdio and
// extra files are moved onto before it execs.
const minFD = 100

// TakeInherited takes over the copy named by EnvVar, if there is one and it
// is a sealed file: moves it to a high close-on-exec descriptor (an exec of
// /proc/self/fd/N resolves the path before close-on-exec applies) and
// removes the variable so no child inherits it. It returns nil otherwise,
// and then no runc inherits the descriptor either.
func TakeInherited() *Inherited {
	v, ok := os.LookupEnv(EnvVar)
	if !ok {
		return nil
	}
	os.Unsetenv(EnvVar)
	f := strings.SplitN(v, ":", 6)
	if len(f) != 6 {
		return nil
	}
	fd, err := strconv.Atoi(f[0])
	if err != nil || fd < 3 {
		return nil
	}
	// Whatever it is, it was meant for this process only.
	unix.CloseOnExec(fd)
	var id identity
	var err1, err2, err3, err4 error
	id.dev, err1 = strconv.ParseUint(f[1], 10, 64)
	id.ino, err2 = strconv.ParseUint(f[2], 10, 64)
	id.size, err3 = strconv.ParseInt(f[3], 10, 64)
	id.mtime, err4 = strconv.ParseInt(f[4], 10, 64)
	path := f[5]
	if errors.Join(err1, err2, err3, err4) != nil || !filepath.IsAbs(path) {
		return nil
	}
	if got, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0); err != nil || got&seals != seals {
		return nil
	}
	high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, minFD)
	if err != nil {
		return nil
	}
	unix.Close(fd)
	return &Inherited{Path: path, Exe: "/proc/self/fd/" + strconv.Itoa(high), id: id}
}

// Current tells whether the binary on disk is still the one copied: after
// an upgrade, runc must run from its path again, as it would have without
// the copy.
func (in *Inherited) Current() bool {
	var st unix.Stat_t
	return unix.Stat(in.Path, &st) == nil && identityOf(&st) == in.id
}

// For returns the command to run the binary name with: the copy when name
// resolves to the binary it was made from, else name itself. The copy is
// run through a symlink in dir named like the binary, so its processes are
// called "runc" in ps and top, not "100"; Relink points that link back at
// the binary on disk.
func (in *Inherited) For(name, dir string) string {
	if in == nil {
		return name
	}
	p, err := Resolve(name)
	if err != nil || p != in.Path || !in.Current() {
		return name
	}
	link := filepath.Join(dir, filepath.Base(p))
	if err := replaceSymlink(in.Exe, link); err != nil {
		return name
	}
	return link
}

// Relink makes the link For made in dir, if there is one, run the binary on
// disk.
func (in *Inherited) Relink(dir string) error {
	link := filepath.Join(dir, filepath.Base(in.Path))
	if target, err := os.Readlink(link); err != nil || target != in.Exe {
		return nil // no link to the copy here
	}
	return replaceSymlink(in.Path, link)
}

func replaceSymlink(target, link string) error {
	tmp := link + ".new"
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, link)
}
