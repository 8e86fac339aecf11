package runtime

import (
	"context"
	"fmt"
	"syscall"

	"github.com/gogo/protobuf/proto"
	ptypes "github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/errdefs"
	shimevents "github.com/seedrt/seed/shimapi/events"
	"github.com/seedrt/seed/shimapi/shimv1"
	"github.com/seedrt/seed/shimapi/task"
)

// v1Task speaks the v1 shim protocol behind the v2 task interface the rest
// of the daemon uses. v1 shims publish only exits, so it publishes the other
// task events itself when a call succeeds, as containerd's v1 runtime does.
type v1Task struct {
	m   *Manager
	ns  string
	id  string // the container
	pid int    // the shim, killed after Delete: v1 has no Shutdown
	svc shimv1.ShimService
}

var _ task.TaskService = (*v1Task)(nil)

// proc names a process the v1 way: the container's id for init.
func (v *v1Task) proc(execID string) string {
	if execID == "" {
		return v.id
	}
	return execID
}

func (v *v1Task) publish(topic string, ev proto.Message) { v.m.publish(v.ns, topic, ev) }

func (v *v1Task) State(ctx context.Context, r *task.StateRequest) (*task.StateResponse, error) {
	st, err := v.svc.State(ctx, &shimv1.StateRequest{ID: v.proc(r.ExecID)})
	if err != nil {
		return nil, err
	}
	return &task.StateResponse{ID: st.ID, Bundle: st.Bundle, Pid: st.Pid, Status: st.Status,
		Stdin: st.Stdin, Stdout: st.Stdout, Stderr: st.Stderr, Terminal: st.Terminal,
		ExitStatus: st.ExitStatus, ExitedAt: st.ExitedAt, ExecID: r.ExecID}, nil
}

func (v *v1Task) Create(ctx context.Context, r *task.CreateTaskRequest) (*task.CreateTaskResponse, error) {
	return nil, fmt.Errorf("v1 create goes through createV1: %w", errdefs.ErrFailedPrecondition)
}

func (v *v1Task) Start(ctx context.Context, r *task.StartRequest) (*task.StartResponse, error) {
	resp, err := v.svc.Start(ctx, &shimv1.StartRequest{ID: v.proc(r.ExecID)})
	if err != nil {
		return nil, err
	}
	if r.ExecID == "" {
		v.publish("/tasks/start", &shimevents.TaskStart{ContainerID: v.id, Pid: resp.Pid})
	} else {
		v.publish("/tasks/exec-started", &shimevents.TaskExecStarted{ContainerID: v.id, ExecID: r.ExecID, Pid: resp.Pid})
	}
	return &task.StartResponse{Pid: resp.Pid}, nil
}

func (v *v1Task) Delete(ctx context.Context, r *task.DeleteRequest) (*task.DeleteResponse, error) {
	var resp *shimv1.DeleteResponse
	var err error
	if r.ExecID == "" {
		resp, err = v.svc.Delete(ctx, &ptypes.Empty{})
	} else {
		resp, err = v.svc.DeleteProcess(ctx, &shimv1.DeleteProcessRequest{ID: r.ExecID})
	}
	if err != nil {
		return nil, err
	}
	if r.ExecID == "" {
		v.publish("/tasks/delete", &shimevents.TaskDelete{ContainerID: v.id, Pid: resp.Pid,
			ExitStatus: resp.ExitStatus, ExitedAt: resp.ExitedAt})
	}
	return &task.DeleteResponse{Pid: resp.Pid, ExitStatus: resp.ExitStatus, ExitedAt: resp.ExitedAt}, nil
}

func (v *v1Task) Pids(ctx context.Context, r *task.PidsRequest) (*task.PidsResponse, error) {
	resp, err := v.svc.ListPids(ctx, &shimv1.ListPidsRequest{ID: v.id})
	if err != nil {
		return nil, err
	}
	return &task.PidsResponse{Processes: resp.Processes}, nil
}

func (v *v1Task) Pause(ctx context.Context, r *task.PauseRequest) (*ptypes.Empty, error) {
	if _, err := v.svc.Pause(ctx, &ptypes.Empty{}); err != nil {
		return nil, err
	}
	v.publish("/tasks/paused", &shimevents.TaskPaused{ContainerID: v.id})
	return &ptypes.Empty{}, nil
}

func (v *v1Task) Resume(ctx context.Context, r *task.ResumeRequest) (*ptypes.Empty, error) {
	if _, err := v.svc.Resume(ctx, &ptypes.Empty{}); err != nil {
		return nil, err
	}
	v.publish("/tasks/resumed", &shimevents.TaskResumed{ContainerID: v.id})
	return &ptypes.Empty{}, nil
}

func (v *v1Task) Checkpoint(ctx context.Context, r *task.CheckpointTaskRequest) (*ptypes.Empty, error) {
	return v.svc.Checkpoint(ctx, &shimv1.CheckpointTaskRequest{Path: r.Path, Options: r.Options})
}

func (v *v1Task) Kill(ctx context.Context, r *task.KillRequest) (*ptypes.Empty, error) {
	return v.svc.Kill(ctx, &shimv1.KillRequest{ID: v.proc(r.ExecID), Signal: r.Signal, All: r.All})
}

func (v *v1Task) Exec(ctx context.Context, r *task.ExecProcessRequest) (*ptypes.Empty, error) {
	return v.svc.Exec(ctx, &shimv1.ExecProcessRequest{ID: r.ExecID, Terminal: r.Terminal,
		Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr, Spec: r.Spec})
}

func (v *v1Task) ResizePty(ctx context.Context, r *task.ResizePtyRequest) (*ptypes.Empty, error) {
	return v.svc.ResizePty(ctx, &shimv1.ResizePtyRequest{ID: v.proc(r.ExecID), Width: r.Width, Height: r.Height})
}

func (v *v1Task) CloseIO(ctx context.Context, r *task.CloseIORequest) (*ptypes.Empty, error) {
	return v.svc.CloseIO(ctx, &shimv1.CloseIORequest{ID: v.proc(r.ExecID), Stdin: r.Stdin})
}

func (v *v1Task) Update(ctx context.Context, r *task.UpdateTaskRequest) (*ptypes.Empty, error) {
	return v.svc.Update(ctx, &shimv1.UpdateTaskRequest{Resources: r.Resources})
}

func (v *v1Task) Wait(ctx context.Context, r *task.WaitRequest) (*task.WaitResponse, error) {
	resp, err := v.svc.Wait(ctx, &shimv1.WaitRequest{ID: v.proc(r.ExecID)})
	if err != nil {
		return nil, err
	}
	return &task.WaitResponse{ExitStatus: resp.ExitStatus, ExitedAt: resp.ExitedAt}, nil
}

func (v *v1Task) Stats(ctx context.Context, r *task.StatsRequest) (*task.StatsResponse, error) {
	return nil, fmt.Errorf("stats: %w", errdefs.ErrNotImplemented)
}

func (v *v1Task) Connect(ctx context.Context, r *task.ConnectRequest) (*task.ConnectResponse, error) {
	info, err := v.svc.ShimInfo(ctx, &ptypes.Empty{})
	if err != nil {
		return nil, err
	}
	return &task.ConnectResponse{ShimPid: info.ShimPid}, nil
}

// Shutdown ends a v1 shim the way containerd does: by signal, since v1 has
// no Shutdown call. Only after Delete, when it serves nothing.
func (v *v1Task) Shutdown(ctx context.Context, r *task.ShutdownRequest) (*ptypes.Empty, error) {
	pid := v.pid
	if pid == 0 {
		if info, err := v.svc.ShimInfo(ctx, &ptypes.Empty{}); err == nil {
			pid = int(info.ShimPid)
		}
	}
	if pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	return &ptypes.Empty{}, nil
}
