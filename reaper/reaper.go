// Package reaper makes the shim a child subreaper and owns every wait on its
// children: exactly one goroutine calls wait4, and each exit it collects is
// routed to whoever asked for that pid.
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
}

// New returns a reaper that has not started collecting yet; see Run.
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

// Run collects exits until the process ends. Call it once, in its own
// goroutine, before starting any child.
func (r *Reaper) Run() {
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, unix.SIGCHLD)
	// Children may have exited before Notify took effect.
	r.reapAll()
	for range sigs {
		r.reapAll()
	}
}

// reapAll waits for every child that has exited; SIGCHLDs coalesce, so one
// signal may stand for many exits.
func (r *Reaper) reapAll() {
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
	return ch
}

// Unclaim drops interest in pid (for a process we gave up on).
func (r *Reaper) Unclaim(pid int) {
	r.mu.Lock()
	delete(r.waiters, pid)
	r.mu.Unlock()
}
