package client

import (
	"context"
	"fmt"

	containersapi "github.com/seedrt/seed/api/services/containers/v1"
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
// its process execID, if any). A task call answers "not found" both for an
// unknown container and for a container without a task; only then is one
// more call (Containers.Get) spent to tell which.
func (c *Client) taskErr(ctx context.Context, id, execID string, err error) error {
	err = errdefs.FromGRPC(err)
	if err == nil {
		return nil
	}
	what := fmt.Sprintf("task %q", id)
	if execID != "" {
		what = fmt.Sprintf("process %q of task %q", execID, id)
	}
	if !errdefs.IsNotFound(err) {
		return fmt.Errorf("%s: %w", what, err)
	}
	if _, gerr := c.containers.Get(c.withNS(ctx), &containersapi.GetContainerRequest{ID: id}); errdefs.IsNotFound(errdefs.FromGRPC(gerr)) {
		return fmt.Errorf("container %q: %w", id, errdefs.ErrNotFound)
	}
	if execID != "" {
		return fmt.Errorf("%s: %w", what, errdefs.ErrNotFound)
	}
	return fmt.Errorf("container %q has no task: %w", id, errdefs.ErrNotFound)
}
