package client

import (
	"time"

	tasktypes "github.com/seedrt/seed/shimapi/types/task"
)

// UnknownExitStatus is the exit code reported when the real one could not
// be learned.
const UnknownExitStatus = 255

// ExitStatus is how a process ended.
type ExitStatus struct {
	Code     uint32
	ExitedAt time.Time
	// Err is set when the exit could not be learned (Code is then
	// UnknownExitStatus), e.g. the wait was canceled.
	Err error
}

// State is the state of a process, as the daemon names it.
type State string

// Process states.
const (
	Unknown State = "UNKNOWN"
	Created State = "CREATED"
	Running State = "RUNNING"
	Stopped State = "STOPPED"
	Paused  State = "PAUSED"
	Pausing State = "PAUSING"
)

// ProcessStatus is what the daemon knows about a process.
type ProcessStatus struct {
	ContainerID string
	ExecID      string // empty for a task's init process
	Pid         uint32
	State       State
	ExitStatus  uint32
	ExitedAt    time.Time
	IO          IOConfig
}

// statusOf converts a process record. containerd fills in "id" (the task's
// id, i.e. the container's, for an init process; the exec id otherwise) and
// leaves "container_id" empty, so a listed task's container is its id.
func statusOf(p *tasktypes.Process) ProcessStatus {
	if p == nil {
		return ProcessStatus{State: Unknown}
	}
	s := ProcessStatus{
		ContainerID: p.ContainerID,
		Pid:         p.Pid,
		State:       State(p.Status.String()),
		ExitStatus:  p.ExitStatus,
		ExitedAt:    p.ExitedAt,
		IO:          IOConfig{Stdin: p.Stdin, Stdout: p.Stdout, Stderr: p.Stderr, Terminal: p.Terminal},
	}
	if s.ContainerID == "" {
		s.ContainerID = p.ID
	}
	return s
}
