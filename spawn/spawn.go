// Package spawn starts child processes from an OS thread whose file
// descriptor table holds only what the children are given.
//
// A fork copies the parent's whole descriptor table, and the exec then
// closes every close-on-exec entry of the copy, touching each open file on
// the way: starting a process costs time in proportion to the descriptors
// the parent holds. The daemon holds several for every running task (its
// connection to the shim, the shim's event connection, pidfds, the log
// FIFO), so with a thousand tasks a shim launch spent more than a
// millisecond copying and closing descriptors the shim never sees.
//
// Start hands each request to one thread that has unshared its descriptor
// table (unshare(CLONE_FILES)) and closed everything in it but stdio. The
// descriptors a child inherits are copied into that table with pidfd_getfd
// for the fork alone. Where the thread cannot be set up, Start forks from
// the caller's thread, as os/exec does.
package spawn

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Attr is what a child starts with besides its command line. Its stdin,
// stdout and stderr are /dev/null.
type Attr struct {
	Dir    string
	Env    []string
	Files  []*os.File // the child's descriptors 3, 4, ...
	Setsid bool
}

// Start starts the program at path with the command line argv (argv[0]
// included) and returns the running process, which the caller must Wait
// for or Release. A path without a slash is looked up in PATH.
func Start(path string, argv []string, attr Attr) (*os.Process, error) {
	if !strings.Contains(path, "/") {
		lp, err := exec.LookPath(path)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", path, err)
		}
		path = lp
	}
	s := theSpawner()
	if s == nil {
		return startDirect(path, argv, attr)
	}
	fds := make([]int, len(attr.Files))
	for i, f := range attr.Files {
		fds[i] = int(f.Fd())
	}
	attr.Env = dedupEnv(attr.Env)
	req := &request{path: path, argv: argv, attr: attr, fds: fds, done: make(chan result, 1)}
	s.requests <- req
	res := <-req.done
	runtime.KeepAlive(attr.Files) // open until the child has its copies
	if res.err != nil {
		return nil, fmt.Errorf("start %s: %w", path, res.err)
	}
	// The child is ours and not yet waited for, so pid names it still.
	return os.FindProcess(res.pid)
}

// startDirect is Start from the calling thread, where the spawner thread
// cannot be set up: os/exec, with the descriptor table of the whole process.
func startDirect(path string, argv []string, attr Attr) (*os.Process, error) {
	cmd := &exec.Cmd{Path: path, Args: argv, Dir: attr.Dir, Env: attr.Env, ExtraFiles: attr.Files,
		SysProcAttr: &syscall.SysProcAttr{Setsid: attr.Setsid}}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	return cmd.Process, nil
}

// dedupEnv keeps the last of the entries with the same name, as os/exec
// does: a program reading its environment finds the first.
func dedupEnv(env []string) []string {
	seen := make(map[string]bool, len(env))
	out := make([]string, 0, len(env))
	for i := len(env) - 1; i >= 0; i-- {
		name, _, _ := strings.Cut(env[i], "=")
		if !seen[name] {
			seen[name] = true
			out = append(out, env[i])
		}
	}
	slices.Reverse(out)
	return out
}

type request struct {
	path string
	argv []string
	attr Attr
	fds  []int // in the shared table
	done chan result
}

type result struct {
	pid int
	err error
}

// spawner is the thread with the private descriptor table.
type spawner struct {
	requests chan *request
	devNull  int   // in the private table
	self     int   // pidfd of this process, in the private table
	shared   []int // the same two as first opened, in the shared table
}

var (
	spawnerOnce sync.Once
	theOne      *spawner
)

// theSpawner starts the spawner thread on first use; nil if it cannot be.
func theSpawner() *spawner {
	spawnerOnce.Do(func() {
		ready := make(chan *spawner)
		go runSpawner(ready)
		theOne = <-ready
		if theOne != nil {
			// Opened before the unshare: the spawner keeps its own copies.
			// This thread is not the spawner's, so these close the shared ones.
			for _, fd := range theOne.shared {
				unix.Close(fd)
			}
		}
	})
	return theOne
}

// runSpawner sets its thread up and serves requests for the life of the
// process. The goroutine never unlocks its thread once the table is
// private, so nothing else ever runs with it.
func runSpawner(ready chan<- *spawner) {
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		// The main thread's table must stay the shared one (pidfd_getfd
		// reads the thread group leader's). Hold the main thread while
		// another goroutine, which so runs on another thread, becomes the
		// spawner.
		other := make(chan *spawner)
		go runSpawner(other)
		s := <-other
		runtime.UnlockOSThread()
		ready <- s
		return
	}
	s, err := privateTable()
	if err != nil {
		ready <- nil
		if !errors.Is(err, errTableChanged) {
			runtime.UnlockOSThread() // the thread is as it was
		}
		// Else return locked: the runtime then ends the thread, and its
		// table with it.
		return
	}
	ready <- s
	for req := range s.requests {
		req.done <- s.serve(req)
	}
}

// errTableChanged: the thread's table is private but not usable.
var errTableChanged = errors.New("descriptor table unshared but not emptied")

// privateTable gives the calling (locked) thread a descriptor table of its
// own holding stdio, /dev/null, a pidfd of this process and the Go
// runtime's poller. On errors other than errTableChanged the thread is
// unchanged.
func privateTable() (*spawner, error) {
	// The runtime may use its poller from any thread (when it restarts
	// the world after a collection, say), so the private table must hold
	// it. A pipe makes sure it exists, and tells which epoll it is.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	poller, err := runtimePoller(r)
	r.Close()
	w.Close()
	if err != nil {
		return nil, err
	}
	null, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	self, err := unix.PidfdOpen(unix.Getpid(), 0)
	if err == nil {
		err = probe(null, self)
		if err != nil {
			unix.Close(self)
		}
	}
	if err == nil {
		err = unix.Unshare(unix.CLONE_FILES)
		if err != nil {
			unix.Close(self)
		}
	}
	if err != nil {
		unix.Close(null)
		return nil, err
	}
	// Our copies of everything else would keep files (listeners, locks)
	// alive after the rest of the process closed them.
	if err := closeAllBut(append(poller, null, self)...); err != nil {
		return nil, fmt.Errorf("%w: %v", errTableChanged, err)
	}
	return &spawner{requests: make(chan *request), devNull: lowest(null), self: lowest(self), shared: []int{null, self}}, nil
}

// probe checks, before there is no way back, that the kernel has
// pidfd_getfd (Linux 5.6) and close_range (5.9).
func probe(null, self int) error {
	fd, err := unix.PidfdGetfd(self, null, 0)
	if err != nil {
		return fmt.Errorf("pidfd_getfd: %w", err)
	}
	unix.Close(fd)
	// A range with no descriptor in it: closes nothing.
	if err := unix.CloseRange(math.MaxUint32, math.MaxUint32, 0); err != nil {
		return fmt.Errorf("close_range: %w", err)
	}
	return nil
}

// runtimePoller finds the Go runtime's epoll, the one f (a pipe, so on
// the poller) is registered in, and the eventfd registered in it that the
// runtime wakes it with.
func runtimePoller(f *os.File) ([]int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var probe int
	rc.Control(func(fd uintptr) { probe = int(fd) })
	fds, err := os.ReadDir("/proc/thread-self/fd")
	if err != nil {
		return nil, err
	}
	for _, e := range fds {
		if link, _ := os.Readlink("/proc/thread-self/fd/" + e.Name()); link != "anon_inode:[eventpoll]" {
			continue
		}
		watched, err := epollTargets(e.Name())
		if err != nil || !slices.Contains(watched, probe) {
			continue
		}
		epfd, _ := strconv.Atoi(e.Name())
		keep := []int{epfd}
		for _, fd := range watched {
			if link, _ := os.Readlink("/proc/thread-self/fd/" + strconv.Itoa(fd)); link == "anon_inode:[eventfd]" {
				keep = append(keep, fd)
			}
		}
		return keep, nil
	}
	return nil, errors.New("the runtime's poller not found")
}

// epollTargets lists the descriptors the epoll at fd (a name in
// /proc/thread-self/fd) watches.
func epollTargets(fd string) ([]int, error) {
	b, err := os.ReadFile("/proc/thread-self/fdinfo/" + fd)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "tfd:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				if n, err := strconv.Atoi(f[0]); err == nil {
					out = append(out, n)
				}
			}
		}
	}
	return out, nil
}

// closeAllBut closes the calling thread's descriptors from 3 up, except
// keep. It needs no descriptor of its own, so it cannot run out of them.
func closeAllBut(keep ...int) error {
	slices.Sort(keep)
	from := uint(3)
	for _, k := range keep {
		if k < 3 {
			continue
		}
		if uint(k) > from {
			if err := unix.CloseRange(from, uint(k)-1, 0); err != nil {
				return err
			}
		}
		from = uint(k) + 1
	}
	return unix.CloseRange(from, math.MaxUint32, 0)
}

// lowest moves fd to the lowest free number (from 3) of the calling
// thread's table. A fork copies the table up to its highest open entry, and
// these two were opened while the shared table was full.
func lowest(fd int) int {
	low, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return fd
	}
	if low > fd {
		unix.Close(low)
		return fd
	}
	unix.Close(fd)
	return low
}

// serve copies the request's descriptors into the private table, forks,
// and closes the copies.
func (s *spawner) serve(req *request) result {
	fds := make([]int, 0, len(req.fds))
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, fd := range req.fds {
		c, err := unix.PidfdGetfd(s.self, fd, 0)
		if err != nil {
			return result{err: fmt.Errorf("copy descriptor %d: %w", fd, err)}
		}
		fds = append(fds, c)
	}
	return forkExec(req, s.devNull, fds)
}

// forkExec forks and execs req from the calling thread, giving the child
// null as stdio and fds as 3, 4, ...
func forkExec(req *request, null int, fds []int) result {
	files := []uintptr{uintptr(null), uintptr(null), uintptr(null)}
	for _, fd := range fds {
		files = append(files, uintptr(fd))
	}
	pid, err := syscall.ForkExec(req.path, req.argv, &syscall.ProcAttr{
		Dir:   req.attr.Dir,
		Env:   req.attr.Env,
		Files: files,
		Sys:   &syscall.SysProcAttr{Setsid: req.attr.Setsid},
	})
	return result{pid: pid, err: err}
}
