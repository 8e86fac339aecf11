package client

import (
	"fmt"

	"github.com/seedrt/seed/errdefs"
)

// containerErr converts an error of a call about container id: the gRPC
// status becomes its errdefs class, and "not found" / "already exists"
// name the container the way ctr users expect ("container \"x\": not
// found") whatever the daemon's wording.
func containerErr(id string, err error) error {
	err = errdefs.FromGRPC(err)
	switch {
	case err == nil:
		return nil
	case errdefs.IsNotFound(err):
		return fmt.Errorf("container %q: %w", id, errdefs.ErrNotFound)
	case errdefs.IsAlreadyExists(err):
		return fmt.Errorf("container %q: %w", id, errdefs.ErrAlreadyExists)
	}
	return fmt.Errorf("container %q: %w", id, err)
}

// taskErr converts an error of a call about the task of container id (and
// its process execID, if any). The daemon answers "not found" both for an
// unknown container and for a container without a task; telling which
// takes another call (LoadContainer), which is the caller's choice.
func taskErr(id, execID string, err error) error {
	err = errdefs.FromGRPC(err)
	if err == nil {
		return nil
	}
	what := fmt.Sprintf("task %q", id)
	if execID != "" {
		what = fmt.Sprintf("process %q of task %q", execID, id)
	}
	switch {
	case errdefs.IsNotFound(err):
		return fmt.Errorf("%s: %w", what, errdefs.ErrNotFound)
	case errdefs.IsAlreadyExists(err):
		return fmt.Errorf("%s: %w", what, errdefs.ErrAlreadyExists)
	}
	return fmt.Errorf("%s: %w", what, err)
}
