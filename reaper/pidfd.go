package reaper

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrProcessGone is returned when signalling a process that has exited.
var ErrProcessGone = errors.New("process already finished")

// Handle refers to one process through a pidfd, so a signal can never reach
// another process that later got the same pid.
type Handle struct {
	mu  sync.Mutex
	fd  int
	pid int
}

// Open takes a pidfd for pid. Call it while the process cannot have been
// reaped yet (it is our child and its exit has not been dispatched), so the
// pid still names our process.
func Open(pid int) (*Handle, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if err == unix.ESRCH {
			return nil, ErrProcessGone
		}
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	unix.CloseOnExec(fd)
	return &Handle{fd: fd, pid: pid}, nil
}

// Pid is the process id the handle was opened for.
func (h *Handle) Pid() int { return h.pid }

// Signal sends sig to the process, or returns ErrProcessGone once it exited.
func (h *Handle) Signal(sig unix.Signal) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fd < 0 {
		return ErrProcessGone
	}
	if err := unix.PidfdSendSignal(h.fd, sig, nil, 0); err != nil {
		if err == unix.ESRCH {
			return ErrProcessGone
		}
		return fmt.Errorf("signal %d to pid %d: %w", sig, h.pid, err)
	}
	return nil
}

// Close releases the pidfd; later signals report ErrProcessGone.
func (h *Handle) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fd >= 0 {
		unix.Close(h.fd)
		h.fd = -1
	}
}
