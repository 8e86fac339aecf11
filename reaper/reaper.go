// Package reaper makes the shim a child subreaper and owns every wait on its
// children: all waiting is wait4(-1) loops, run one at a time, and each exit
// they collect is routed to whoever asked for that pid.
//
// Two kinds of children are routed:
//   - commands the shim starts itself (runc create/start/exec/...), through the
//     go-runc ProcessMonitor this package implements. The pid is registered
//     under the same lock that dispatches exits, so an exit can never be
//     collected before its waiter exists (the lost-exit-status race between a
//     reaper and exec.Cmd.Wait).
//   - container processes (init and execs), which become our children only
//     after runc has exited. Their pid is known a moment after they may already
//     have died, so an exit nobody asked for is kept for a while and handed to
//     the first Claim of that pid that started before it happened.
//
// A child's exit is noticed through a pidfd on the Go poller, which sets off
// a wait4(-1) loop; that loop also collects any orphan that came to us
// unannounced. A container's orphans go to its own init, unless it shares
// our PID namespace; its OCI hooks run in ours, so what they leave running
// is orphaned to us. For those cases WatchAll adds SIGCHLD, so orphans are
// reaped at once. SIGCHLD is not the default: os/signal costs every shim two
// more threads, one locked to its signal mask, and a hand-off between
// threads for each signal.
package reaper

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Exit is one reaped child.
type Exit struct {
	Pid       int
	Status    int // exit code, or 128+signal for a signalled process
	Timestamp time.Time
}

// unclaimedTTL bounds how long an exit nobody waits for is kept. Claims follow
// the exit by milliseconds (the time for runc to return); the bound only keeps
// orphans of dead containers from piling up.
const unclaimedTTL = time.Minute

// Reaper collects the exits of all children of this process.
type Reaper struct {
	mu        sync.Mutex
	waiters   map[int]chan Exit
	unclaimed map[int]Exit

	reaping  sync.Mutex // one wait4(-1) loop at a time
	watchAll sync.Once
}

// New returns a reaper. It collects the exits of the children started
// through its Monitor and of the pids claimed, and of every child once
// WatchAll has been called.
func New() *Reaper {
	return &Reaper{
		waiters:   make(map[int]chan Exit),
		unclaimed: make(map[int]Exit),
	}
}

// SetSubreaper makes this process the reaper of its orphaned descendants, so
// a container's init becomes our child once runc exits.
func SetSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set child subreaper: %w", err)
	}
	return nil
}

// WatchAll makes the reaper collect every child as soon as it exits, orphans
// included, by SIGCHLD. Call it once children may come that nobody claims
// (a container sharing our PID namespace, OCI hooks); later calls do nothing.
func (r *Reaper) WatchAll() {
	r.watchAll.Do(func() {
		sigs := make(chan os.Signal, 32)
		signal.Notify(sigs, unix.SIGCHLD)
		go func() {
			// Children may have exited before Notify took effect.
			r.reapAll()
			for range sigs {
				r.reapAll()
			}
		}()
	})
}

// Collect makes sure the exit of pid, our child, is collected even if
// nobody claims it (a process given up on); the exit is kept as unclaimed.
func (r *Reaper) Collect(pid int) { r.watch(pid) }

// watch collects the children's exits once pid has exited. Call it for a
// pid that names our child, or a process gone already.
func (r *Reaper) watch(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err == unix.ESRCH {
		// Collected already (its exit is being dispatched), or not ours.
		return
	}
	if err != nil {
		// No pidfds (before Linux 5.3, or out of descriptors): fall back.
		r.WatchAll()
		return
	}
	// Not our child (any more): pid was collected and taken again since.
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err == unix.ECHILD {
		unix.Close(fd)
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd") // pidfds are always close-on-exec
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		r.WatchAll()
		return
	}
	go func() {
		defer f.Close()
		// A pidfd polls readable once its process has exited; until then
		// this goroutine is parked on the poller.
		err := rc.Read(func(fd uintptr) bool {
			n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
			return n > 0
		})
		if err != nil {
			r.WatchAll() // the poller would not take it
		}
		r.reapAll()
	}()
}

// reapAll waits for every child that has exited: one exit noticed may stand
// for several (SIGCHLDs coalesce, and orphans are not watched).
func (r *Reaper) reapAll() {
	r.reaping.Lock()
	defer r.reaping.Unlock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		r.dispatch(Exit{Pid: pid, Status: exitStatus(ws), Timestamp: time.Now()})
	}
}

func exitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func (r *Reaper) dispatch(e Exit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ch, ok := r.waiters[e.Pid]; ok {
		delete(r.waiters, e.Pid)
		ch <- e // buffered, never blocks
		return
	}
	r.pruneLocked(e.Timestamp)
	r.unclaimed[e.Pid] = e
}

func (r *Reaper) pruneLocked(now time.Time) {
	for pid, e := range r.unclaimed {
		if now.Sub(e.Timestamp) > unclaimedTTL {
			delete(r.unclaimed, pid)
		}
	}
}

// Claim asks for the exit of pid, a process that was started no earlier than
// since. If it already exited, the channel is ready at once. The channel
// receives exactly one Exit.
func (r *Reaper) Claim(pid int, since time.Time) <-chan Exit {
	ch := make(chan Exit, 1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.unclaimed[pid]; ok {
		delete(r.unclaimed, pid)
		// An exit from before the process was started belongs to an older
		// holder of the same pid.
		if !e.Timestamp.Before(since) {
			ch <- e
			return ch
		}
	}
	r.waiters[pid] = ch
	r.watch(pid)
	return ch
}

// Unclaim drops interest in pid (for a process we gave up on).
func (r *Reaper) Unclaim(pid int) {
	r.mu.Lock()
	delete(r.waiters, pid)
	r.mu.Unlock()
}
