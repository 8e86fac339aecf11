// Package tasks serves containerd.services.tasks.v1.Tasks: each call finds
// the task's shim and asks it; the daemon keeps no task state of its own.
package tasks

import (
	"context"
	"fmt"
	"sync"

	ptypes "github.com/gogo/protobuf/types"
	"google.golang.org/grpc"

	api "github.com/seedrt/seed/api/services/tasks/v1"
	"github.com/seedrt/seed/coordinator/failpoint"
	"github.com/seedrt/seed/coordinator/metadata"
	"github.com/seedrt/seed/coordinator/nsctx"
	"github.com/seedrt/seed/coordinator/runtime"
	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/shimapi/task"
	tasktypes "github.com/seedrt/seed/shimapi/types/task"
)

type service struct {
	api.UnimplementedTasksServer
	db      *metadata.DB
	runtime *runtime.Manager
	limit   limiter
}

// Register serves the tasks API on s. concurrency bounds how many creates,
// starts and deletes run at once (0: no bound).
func Register(s *grpc.Server, db *metadata.DB, rt *runtime.Manager, concurrency int) {
	api.RegisterTasksServer(s, &service{db: db, runtime: rt, limit: newLimiter(concurrency)})
}

var empty = &ptypes.Empty{}

func (s *service) Create(ctx context.Context, r *api.CreateTaskRequest) (*api.CreateTaskResponse, error) {
	ns, err := nsctx.Namespace(ctx)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	if r.Checkpoint != nil {
		return nil, errdefs.ToGRPC(fmt.Errorf("restore from checkpoint: %w", errdefs.ErrNotImplemented))
	}
	c, err := s.db.GetContainer(ns, r.ContainerID)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	release, err := s.limit.acquire(ctx)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	defer release()
	t, err := s.runtime.Create(ctx, ns, c, runtime.CreateOpts{
		Rootfs: r.Rootfs, Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr,
		Terminal: r.Terminal, Options: r.Options,
	})
	if err != nil {
		return nil, errdefs.ToGRPC(fmt.Errorf("create task %s: %w", r.ContainerID, err))
	}
	return &api.CreateTaskResponse{ContainerID: r.ContainerID, Pid: t.Pid()}, nil
}

// shim returns the task API of container id's shim.
func (s *service) shim(ctx context.Context, id string) (*runtime.Task, error) {
	t, err := s.runtime.Get(ctx, id)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return t, nil
}

func (s *service) Start(ctx context.Context, r *api.StartRequest) (*api.StartResponse, error) {
	t, err := s.shim(ctx, r.ContainerID)
	if err != nil {
		return nil, err
	}
	release, err := s.limit.acquire(ctx)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	defer release()
	resp, err := t.Shim().Start(ctx, &task.StartRequest{ID: r.ContainerID, ExecID: r.ExecID})
	if err != nil {
		return nil, err
	}
	failpoint.Hit("start-after-start")
	return &api.StartResponse{Pid: resp.Pid}, nil
}

func (s *service) Delete(ctx context.Context, r *api.DeleteTaskRequest) (*api.DeleteResponse, error) {
	t, err := s.shim(ctx, r.ContainerID)
	if err != nil {
		return nil, err
	}
	release, err := s.limit.acquire(ctx)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	defer release()
	resp, err := t.Delete(ctx)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return &api.DeleteResponse{ID: r.ContainerID, Pid: resp.Pid, ExitStatus: resp.ExitStatus, ExitedAt: resp.ExitedAt}, nil
}

func (s *service) DeleteProcess(ctx context.Context, r *api.DeleteProcessRequest) (*api.DeleteResponse, error) {
	if r.ExecID == "" {
		return s.Delete(ctx, &api.DeleteTaskRequest{ContainerID: r.ContainerID})
	}
	t, err := s.shim(ctx, r.ContainerID)
	if err != nil {
		return nil, err
	}
	resp, err := t.Shim().Delete(ctx, &task.DeleteRequest{ID: r.ContainerID, ExecID: r.ExecID})
	if err != nil {
		return nil, err
	}
	return &api.DeleteResponse{ID: r.ExecID, Pid: resp.Pid, ExitStatus: resp.ExitStatus, ExitedAt: resp.ExitedAt}, nil
}

func (s *service) Get(ctx context.Context, r *api.GetRequest) (*api.GetResponse, error) {
	t, err := s.shim(ctx, r.ContainerID)
	if err != nil {
		return nil, err
	}
	p, err := state(ctx, t, r.ExecID)
	if err != nil {
		return nil, err
	}
	return &api.GetResponse{Process: p}, nil
}

func state(ctx context.Context, t *runtime.Task, execID string) (*tasktypes.Process, error) {
	st, err := t.Shim().State(ctx, &task.StateRequest{ID: t.ID, ExecID: execID})
	if err != nil {
		return nil, err
	}
	id := execID
	if id == "" {
		id = t.ID // containerd's clients take the task's id from here
	}
	return &tasktypes.Process{
		ContainerID: t.ID, ID: id, Pid: st.Pid, Status: st.Status,
		Stdin: st.Stdin, Stdout: st.Stdout, Stderr: st.Stderr, Terminal: st.Terminal,
		ExitStatus: st.ExitStatus, ExitedAt: st.ExitedAt,
	}, nil
}

// List asks every shim of the namespace at once; a task still being
// recovered, or whose shim does not answer, is listed with status UNKNOWN
// rather than left out.
func (s *service) List(ctx context.Context, r *api.ListTasksRequest) (*api.ListTasksResponse, error) {
	ns, err := nsctx.Namespace(ctx)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	ts := s.runtime.List(ns)
	out := make([]*tasktypes.Process, len(ts))
	var wg sync.WaitGroup
	for i, t := range ts {
		wg.Add(1)
		go func(i int, t *runtime.Task) {
			defer wg.Done()
			var p *tasktypes.Process
			var err error
			if t.Ready() {
				p, err = state(ctx, t, "")
			}
			if p == nil || err != nil {
				p = &tasktypes.Process{ContainerID: t.ID, ID: t.ID, Pid: t.Pid(), Status: tasktypes.StatusUnknown}
			}
			p.ID = t.ID
			out[i] = p
		}(i, t)
	}
	wg.Wait()
	return &api.ListTasksResponse{Tasks: out}, nil
}

func (s *service) Kill(ctx context.Context, r *api.KillRequest) (*ptypes.Empty, error) {
	t, err := s.shim(ctx, r.ContainerID)
	if err != nil {
		return nil, err
	}
	return t.Shim().Kill(ctx, &task.KillRequest{ID: r.ContainerID, ExecID: r.ExecID, Signal: r.Signal, All: r.All})
}

func (s *service) Exec(ctx context.Context, r *api.ExecProcessRequest) (*ptypes.Empty, error) {
	if r.ExecID == "" {
		return nil, errdefs.ToGRPC(fmt.Errorf("exec id is required: %w", errdefs.ErrInvalidArgument))
	}
	t, err := s.shim(ctx, r.ContainerID)
	if err != nil {
		return nil, err
	}
	resp, err := t.Shim().Exec(ctx, &task.ExecProcessRequest{
		ID: r.ContainerID, ExecID: r.ExecID, Terminal: r.Terminal,
		Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr, Spec: r.Spec,
	})
	failpoint.Hit("exec-after-exec")
	return resp, err
}

func (s *service) ResizePty(ctx context.Context, r *api.ResizePtyRequest) (*ptypes.Empty, error) {
	t, err := s.shim(ctx, r.ContainerID)
	if err != nil {
		return nil, err
	}
	return t.Shim().ResizePty(ctx, &task.ResizePtyRequest{ID: r.ContainerID, ExecID: r.ExecID, Width: r.Width, Height: r.Height})
}

func (s *service) CloseIO(ctx context.Context, r *api.CloseIORequest) (*ptypes.Empty, error) {
	t, err := s.shim(ctx, r.ContainerID)
	if err != nil {
		return nil, err
	}
	return t.Shim().CloseIO(ctx, &task.CloseIORequest{ID: r.ContainerID, ExecID: r.ExecID, Stdin: r.Stdin})
}

func (s *service) Pause(ctx context.Context, r *api.PauseTaskRequest) (*ptypes.Empty, error) {
	t, err := s.shim(ctx, r.ContainerID)
	if err != nil {
		return nil, err
	}
	return t.Shim().Pause(ctx, &task.PauseRequest{ID: r.ContainerID})
}

func (s *service) Resume(ctx context.Context, r *api.ResumeTaskRequest) (*ptypes.Empty, error) {
	t, err := s.shim(ctx, r.ContainerID)
	if err != nil {
		return nil, err
	}
	return t.Shim().Resume(ctx, &task.ResumeRequest{ID: r.ContainerID})
}

func (s *service) ListPids(ctx context.Context, r *api.ListPidsRequest) (*api.ListPidsResponse, error) {
	t, err := s.shim(ctx, r.ContainerID)
	if err != nil {
		return nil, err
	}
	resp, err := t.Shim().Pids(ctx, &task.PidsRequest{ID: r.ContainerID})
	if err != nil {
		return nil, err
	}
	return &api.ListPidsResponse{Processes: resp.Processes}, nil
}

func (s *service) Wait(ctx context.Context, r *api.WaitRequest) (*api.WaitResponse, error) {
	t, err := s.shim(ctx, r.ContainerID)
	if err != nil {
		return nil, err
	}
	resp, err := t.Shim().Wait(ctx, &task.WaitRequest{ID: r.ContainerID, ExecID: r.ExecID})
	if err != nil {
		return nil, err
	}
	return &api.WaitResponse{ExitStatus: resp.ExitStatus, ExitedAt: resp.ExitedAt}, nil
}

func (s *service) Checkpoint(ctx context.Context, r *api.CheckpointTaskRequest) (*api.CheckpointTaskResponse, error) {
	return nil, errdefs.ToGRPC(fmt.Errorf("checkpoint: %w", errdefs.ErrNotImplemented))
}

func (s *service) Update(ctx context.Context, r *api.UpdateTaskRequest) (*ptypes.Empty, error) {
	return nil, errdefs.ToGRPC(fmt.Errorf("update: %w", errdefs.ErrNotImplemented))
}

func (s *service) Metrics(ctx context.Context, r *api.MetricsRequest) (*api.MetricsResponse, error) {
	return nil, errdefs.ToGRPC(fmt.Errorf("metrics: %w", errdefs.ErrNotImplemented))
}
