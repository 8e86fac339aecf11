package runtime

import (
	"context"
	"fmt"

	ptypes "github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/shimapi/task"
	tasktypes "github.com/seedrt/seed/shimapi/types/task"
)

// deadShim answers for a task whose shim died: the task is stopped, with
// the exit its shim recorded, and can only be waited on and deleted.
type deadShim struct {
	id   string
	exit *task.DeleteResponse
}

var _ task.TaskService = (*deadShim)(nil)

func (d *deadShim) gone(op string) error {
	return fmt.Errorf("%s %s: the task's shim died, it can only be deleted: %w", op, d.id, errdefs.ErrFailedPrecondition)
}

func (d *deadShim) State(ctx context.Context, r *task.StateRequest) (*task.StateResponse, error) {
	if r.ExecID != "" {
		return nil, fmt.Errorf("exec %s: %w", r.ExecID, errdefs.ErrNotFound)
	}
	return &task.StateResponse{ID: d.id, Pid: d.exit.Pid, Status: tasktypes.StatusStopped,
		ExitStatus: d.exit.ExitStatus, ExitedAt: d.exit.ExitedAt}, nil
}

func (d *deadShim) Wait(ctx context.Context, r *task.WaitRequest) (*task.WaitResponse, error) {
	if r.ExecID != "" {
		return nil, fmt.Errorf("exec %s: %w", r.ExecID, errdefs.ErrNotFound)
	}
	return &task.WaitResponse{ExitStatus: d.exit.ExitStatus, ExitedAt: d.exit.ExitedAt}, nil
}

func (d *deadShim) Delete(ctx context.Context, r *task.DeleteRequest) (*task.DeleteResponse, error) {
	if r.ExecID != "" {
		return nil, fmt.Errorf("exec %s: %w", r.ExecID, errdefs.ErrNotFound)
	}
	return d.exit, nil
}

func (d *deadShim) Kill(ctx context.Context, r *task.KillRequest) (*ptypes.Empty, error) {
	return nil, fmt.Errorf("kill %s: process already finished: %w", d.id, errdefs.ErrNotFound)
}

func (d *deadShim) Connect(ctx context.Context, r *task.ConnectRequest) (*task.ConnectResponse, error) {
	return nil, d.gone("connect")
}

func (d *deadShim) Shutdown(ctx context.Context, r *task.ShutdownRequest) (*ptypes.Empty, error) {
	return &ptypes.Empty{}, nil
}

func (d *deadShim) Create(ctx context.Context, r *task.CreateTaskRequest) (*task.CreateTaskResponse, error) {
	return nil, d.gone("create")
}

func (d *deadShim) Start(ctx context.Context, r *task.StartRequest) (*task.StartResponse, error) {
	return nil, d.gone("start")
}

func (d *deadShim) Pids(ctx context.Context, r *task.PidsRequest) (*task.PidsResponse, error) {
	return &task.PidsResponse{}, nil
}

func (d *deadShim) Pause(ctx context.Context, r *task.PauseRequest) (*ptypes.Empty, error) {
	return nil, d.gone("pause")
}

func (d *deadShim) Resume(ctx context.Context, r *task.ResumeRequest) (*ptypes.Empty, error) {
	return nil, d.gone("resume")
}

func (d *deadShim) Checkpoint(ctx context.Context, r *task.CheckpointTaskRequest) (*ptypes.Empty, error) {
	return nil, d.gone("checkpoint")
}

func (d *deadShim) Exec(ctx context.Context, r *task.ExecProcessRequest) (*ptypes.Empty, error) {
	return nil, d.gone("exec")
}

func (d *deadShim) ResizePty(ctx context.Context, r *task.ResizePtyRequest) (*ptypes.Empty, error) {
	return nil, d.gone("resize")
}

func (d *deadShim) CloseIO(ctx context.Context, r *task.CloseIORequest) (*ptypes.Empty, error) {
	return nil, d.gone("close io")
}

func (d *deadShim) Update(ctx context.Context, r *task.UpdateTaskRequest) (*ptypes.Empty, error) {
	return nil, d.gone("update")
}

func (d *deadShim) Stats(ctx context.Context, r *task.StatsRequest) (*task.StatsResponse, error) {
	return nil, d.gone("stats")
}
