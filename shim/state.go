package shim

import "fmt"

// State is where a process is in its life. The allowed moves are all in
// transitions, so an operation on a process in the wrong state is an error
// named after that state, never an accident.
type State int

const (
	Created State = iota
	Running
	Paused
	Stopped
	Deleted
)

func (s State) String() string {
	switch s {
	case Created:
		return "created"
	case Running:
		return "running"
	case Paused:
		return "paused"
	case Stopped:
		return "stopped"
	case Deleted:
		return "deleted"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

var transitions = map[State][]State{
	Created: {Running, Stopped, Deleted},
	Running: {Paused, Stopped},
	Paused:  {Running, Stopped},
	Stopped: {Deleted},
}

func canMove(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}
