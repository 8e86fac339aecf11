package shim

import (
	"fmt"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/seedrt/seed/errdefs"
	stdio "github.com/seedrt/seed/io"
	"github.com/seedrt/seed/reaper"
	tasktypes "github.com/seedrt/seed/shimapi/types/task"
)

// process is the container's init process or one exec. Its state changes
// only through move, and its exit only through Service.watch.
type process struct {
	c       *container
	execID  string // empty for init
	streams stdio.Streams
	spec    *specs.Process // exec only: what to run
	console *stdio.Console // terminal only

	// startMu is held across a start and its event, and by the exit path
	// before it publishes, so TaskStart always precedes TaskExit.
	startMu sync.Mutex

	mu       sync.Mutex
	state    State
	pid      int
	handle   *reaper.Handle
	copier   *stdio.Copier
	status   int
	exitedAt time.Time
	exited   chan struct{} // closed once the exit is recorded and queued
}

func newProcess(c *container, execID string, streams stdio.Streams) *process {
	p := &process{c: c, execID: execID, streams: streams, exited: make(chan struct{})}
	if streams.Terminal {
		p.console = &stdio.Console{}
	}
	return p
}

// name is how events and errors call the process.
func (p *process) name() string {
	if p.execID == "" {
		return p.c.id
	}
	return p.execID
}

// move changes the state, or says why it may not.
func (p *process) move(to State) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.moveLocked(to)
}

func (p *process) moveLocked(to State) error {
	if !canMove(p.state, to) {
		return fmt.Errorf("process %s is %s, cannot become %s: %w", p.name(), p.state, to, errdefs.ErrFailedPrecondition)
	}
	p.state = to
	return nil
}

func (p *process) current() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

func (p *process) setStarted(pid int, h *reaper.Handle, cp *stdio.Copier) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pid, p.handle, p.copier = pid, h, cp
}

// setExited marks the process stopped and wakes every Wait.
func (p *process) setExited(status int, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status, p.exitedAt = status, at
	p.state = Stopped
	if p.handle != nil {
		p.handle.Close()
	}
	close(p.exited)
}

// signal sends sig through the pidfd, never to a recycled pid.
func (p *process) signal(sig int) error {
	p.mu.Lock()
	h, state := p.handle, p.state
	p.mu.Unlock()
	if state == Stopped || state == Deleted || h == nil {
		return fmt.Errorf("process %s: %w", p.name(), errProcessFinished)
	}
	if err := h.Signal(sysSignal(sig)); err != nil {
		if err == reaper.ErrProcessGone {
			return fmt.Errorf("process %s: %w", p.name(), errProcessFinished)
		}
		return err
	}
	return nil
}

// errProcessFinished is what containerd answers for a kill after exit.
var errProcessFinished = fmt.Errorf("process already finished: %w", errdefs.ErrNotFound)

func (p *process) apiStatus() tasktypes.Status {
	switch p.current() {
	case Created:
		return tasktypes.StatusCreated
	case Running:
		return tasktypes.StatusRunning
	case Paused:
		return tasktypes.StatusPaused
	case Stopped:
		return tasktypes.StatusStopped
	}
	return tasktypes.StatusUnknown
}

// exitInfo returns pid, status and time of exit (zero until stopped).
func (p *process) exitInfo() (pid int, status int, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid, p.status, p.exitedAt
}
