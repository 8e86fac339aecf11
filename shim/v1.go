package shim

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gogo/protobuf/proto"
	ptypes "github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/shimapi/runcopts"
	"github.com/seedrt/seed/shimapi/runctypes"
	"github.com/seedrt/seed/shimapi/shimv1"
	"github.com/seedrt/seed/shimapi/task"
)

// defaultRuncRoot is runc's root (before the namespace) when the daemon
// names none; containerd's shims use it too.
const defaultRuncRoot = "/run/containerd/runc"

// v1DeleteFlush bounds how long Delete waits for queued events (the exits)
// to reach the daemon: a v1 daemon kills the shim right after Delete.
const v1DeleteFlush = 2 * time.Second

// V1Config is what a v1 daemon tells its shim on the command line.
type V1Config struct {
	RuntimeRoot   string // runc's root is RuntimeRoot/NS; default defaultRuncRoot
	Criu          string
	SystemdCgroup bool
}

// V1Service serves the v1 shim API (containerd.runtime.linux.shim.v1.Shim)
// on top of the v2 task service: a v1 shim serves one container, and a v1
// request names a process by one id, the container's id for the init
// process and the exec id otherwise.
type V1Service struct {
	tasks task.TaskService
	cfg   V1Config
	flush func(time.Duration) bool // waits for queued events; may be nil

	createMu sync.Mutex // one Create at a time
	mu       sync.Mutex
	id       string // the container, once created
}

var _ shimv1.ShimService = (*V1Service)(nil)

// NewV1Service adapts tasks to the v1 API. flush, if set, is called after
// Delete so the exit events are out before the daemon kills the shim.
func NewV1Service(tasks task.TaskService, cfg V1Config, flush func(time.Duration) bool) *V1Service {
	return &V1Service{tasks: tasks, cfg: cfg, flush: flush}
}

func (v *V1Service) container() (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.id == "" {
		return "", fmt.Errorf("no task created in this shim: %w", errdefs.ErrNotFound)
	}
	return v.id, nil
}

// process maps a v1 process id to the container and the v2 exec id: the
// container's own id (or none) is its init process.
func (v *V1Service) process(id string) (cid, execID string, err error) {
	cid, err = v.container()
	if err != nil {
		return "", "", err
	}
	if id == "" || id == cid {
		return cid, "", nil
	}
	return cid, id, nil
}

// Create creates the shim's one container. The runc settings come from the
// command line (root, criu, systemd cgroups), the request (runc binary) and
// its containerd.linux.runc.CreateOptions (no_pivot_root, no_new_keyring;
// the other fields are not supported and ignored).
func (v *V1Service) Create(ctx context.Context, r *shimv1.CreateTaskRequest) (*shimv1.CreateTaskResponse, error) {
	v.createMu.Lock()
	defer v.createMu.Unlock()
	if cid, err := v.container(); err == nil {
		return nil, fmt.Errorf("shim already serves task %q: %w", cid, errdefs.ErrAlreadyExists)
	}
	opts, err := v.runtimeOptions(r)
	if err != nil {
		return nil, err
	}
	resp, err := v.tasks.Create(ctx, &task.CreateTaskRequest{
		ID:               r.ID,
		Bundle:           r.Bundle,
		Rootfs:           r.Rootfs,
		Terminal:         r.Terminal,
		Stdin:            r.Stdin,
		Stdout:           r.Stdout,
		Stderr:           r.Stderr,
		Checkpoint:       r.Checkpoint,
		ParentCheckpoint: r.ParentCheckpoint,
		Options:          opts,
	})
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	v.id = r.ID
	v.mu.Unlock()
	return &shimv1.CreateTaskResponse{Pid: resp.Pid}, nil
}

// runtimeOptions turns the v1 settings into the containerd.runc.v1.Options
// the task service reads.
func (v *V1Service) runtimeOptions(r *shimv1.CreateTaskRequest) (*ptypes.Any, error) {
	var co runctypes.CreateOptions
	if a := r.Options; a != nil && (a.TypeUrl != "" || len(a.Value) > 0) {
		if !strings.HasSuffix(a.TypeUrl, proto.MessageName(&co)) {
			return nil, fmt.Errorf("task options of type %q: want %s: %w", a.TypeUrl, proto.MessageName(&co), errdefs.ErrInvalidArgument)
		}
		if err := proto.Unmarshal(a.Value, &co); err != nil {
			return nil, fmt.Errorf("decode task options: %v: %w", err, errdefs.ErrInvalidArgument)
		}
	}
	root := v.cfg.RuntimeRoot
	if root == "" {
		root = defaultRuncRoot
	}
	b, err := proto.Marshal(&runcopts.Options{
		BinaryName:    r.Runtime,
		Root:          root,
		CriuPath:      v.cfg.Criu,
		SystemdCgroup: v.cfg.SystemdCgroup,
		NoPivotRoot:   co.NoPivotRoot,
		NoNewKeyring:  co.NoNewKeyring,
	})
	if err != nil {
		return nil, err
	}
	return &ptypes.Any{TypeUrl: proto.MessageName(&runcopts.Options{}), Value: b}, nil
}

// State reports a process.
func (v *V1Service) State(ctx context.Context, r *shimv1.StateRequest) (*shimv1.StateResponse, error) {
	cid, execID, err := v.process(r.ID)
	if err != nil {
		return nil, err
	}
	s, err := v.tasks.State(ctx, &task.StateRequest{ID: cid, ExecID: execID})
	if err != nil {
		return nil, err
	}
	return &shimv1.StateResponse{
		ID:         s.ID,
		Bundle:     s.Bundle,
		Pid:        s.Pid,
		Status:     s.Status,
		Stdin:      s.Stdin,
		Stdout:     s.Stdout,
		Stderr:     s.Stderr,
		Terminal:   s.Terminal,
		ExitStatus: s.ExitStatus,
		ExitedAt:   s.ExitedAt,
	}, nil
}

// Start starts the init process or an exec.
func (v *V1Service) Start(ctx context.Context, r *shimv1.StartRequest) (*shimv1.StartResponse, error) {
	cid, execID, err := v.process(r.ID)
	if err != nil {
		return nil, err
	}
	resp, err := v.tasks.Start(ctx, &task.StartRequest{ID: cid, ExecID: execID})
	if err != nil {
		return nil, err
	}
	name := execID
	if name == "" {
		name = cid
	}
	return &shimv1.StartResponse{ID: name, Pid: resp.Pid}, nil
}

// Delete removes the stopped container. The daemon kills the shim next, so
// the events still queued are given a moment to go out.
func (v *V1Service) Delete(ctx context.Context, _ *ptypes.Empty) (*shimv1.DeleteResponse, error) {
	cid, err := v.container()
	if err != nil {
		return nil, err
	}
	resp, err := v.tasks.Delete(ctx, &task.DeleteRequest{ID: cid})
	if err != nil {
		return nil, err
	}
	if v.flush != nil && !v.flush(v1DeleteFlush) {
		logf("delete %s: events not yet delivered after %v", cid, v1DeleteFlush)
	}
	return &shimv1.DeleteResponse{Pid: resp.Pid, ExitStatus: resp.ExitStatus, ExitedAt: resp.ExitedAt}, nil
}

// DeleteProcess removes a stopped exec.
func (v *V1Service) DeleteProcess(ctx context.Context, r *shimv1.DeleteProcessRequest) (*shimv1.DeleteResponse, error) {
	cid, execID, err := v.process(r.ID)
	if err != nil {
		return nil, err
	}
	if execID == "" {
		return nil, fmt.Errorf("cannot delete the init process with DeleteProcess: %w", errdefs.ErrInvalidArgument)
	}
	resp, err := v.tasks.Delete(ctx, &task.DeleteRequest{ID: cid, ExecID: execID})
	if err != nil {
		return nil, err
	}
	return &shimv1.DeleteResponse{Pid: resp.Pid, ExitStatus: resp.ExitStatus, ExitedAt: resp.ExitedAt}, nil
}

// ListPids lists the container's processes. As containerd's v1 shim does,
// each process the shim started (init included) carries a
// containerd.linux.runc.ProcessDetails naming it.
func (v *V1Service) ListPids(ctx context.Context, _ *shimv1.ListPidsRequest) (*shimv1.ListPidsResponse, error) {
	cid, err := v.container()
	if err != nil {
		return nil, err
	}
	resp, err := v.tasks.Pids(ctx, &task.PidsRequest{ID: cid})
	if err != nil {
		return nil, err
	}
	var initPid uint32
	if s, err := v.tasks.State(ctx, &task.StateRequest{ID: cid}); err == nil {
		initPid = s.Pid
	}
	v2Details := proto.MessageName(&runcopts.ProcessDetails{})
	for _, p := range resp.Processes {
		switch {
		case p.Info != nil && p.Info.TypeUrl == v2Details:
			// Same fields, the v1 type's name.
			p.Info = &ptypes.Any{TypeUrl: proto.MessageName(&runctypes.ProcessDetails{}), Value: p.Info.Value}
		case p.Info == nil && p.Pid == initPid && initPid != 0:
			b, err := proto.Marshal(&runctypes.ProcessDetails{ExecID: cid})
			if err != nil {
				return nil, err
			}
			p.Info = &ptypes.Any{TypeUrl: proto.MessageName(&runctypes.ProcessDetails{}), Value: b}
		}
	}
	return &shimv1.ListPidsResponse{Processes: resp.Processes}, nil
}

// Pause freezes the container.
func (v *V1Service) Pause(ctx context.Context, _ *ptypes.Empty) (*ptypes.Empty, error) {
	cid, err := v.container()
	if err != nil {
		return nil, err
	}
	return v.tasks.Pause(ctx, &task.PauseRequest{ID: cid})
}

// Resume thaws the container.
func (v *V1Service) Resume(ctx context.Context, _ *ptypes.Empty) (*ptypes.Empty, error) {
	cid, err := v.container()
	if err != nil {
		return nil, err
	}
	return v.tasks.Resume(ctx, &task.ResumeRequest{ID: cid})
}

// Checkpoint checkpoints the container (as far as the task service can).
func (v *V1Service) Checkpoint(ctx context.Context, r *shimv1.CheckpointTaskRequest) (*ptypes.Empty, error) {
	cid, err := v.container()
	if err != nil {
		return nil, err
	}
	return v.tasks.Checkpoint(ctx, &task.CheckpointTaskRequest{ID: cid, Path: r.Path, Options: r.Options})
}

// Kill signals a process; an empty id is the init process.
func (v *V1Service) Kill(ctx context.Context, r *shimv1.KillRequest) (*ptypes.Empty, error) {
	cid, execID, err := v.process(r.ID)
	if err != nil {
		return nil, err
	}
	return v.tasks.Kill(ctx, &task.KillRequest{ID: cid, ExecID: execID, Signal: r.Signal, All: r.All})
}

// Exec adds a process named r.ID to the container.
func (v *V1Service) Exec(ctx context.Context, r *shimv1.ExecProcessRequest) (*ptypes.Empty, error) {
	cid, err := v.container()
	if err != nil {
		return nil, err
	}
	if r.ID == "" {
		return nil, fmt.Errorf("exec: no process id: %w", errdefs.ErrInvalidArgument)
	}
	if r.ID == cid {
		return nil, fmt.Errorf("exec %q: the init process has that id: %w", r.ID, errdefs.ErrAlreadyExists)
	}
	return v.tasks.Exec(ctx, &task.ExecProcessRequest{
		ID: cid, ExecID: r.ID, Terminal: r.Terminal,
		Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr, Spec: r.Spec,
	})
}

// ResizePty resizes a process's terminal.
func (v *V1Service) ResizePty(ctx context.Context, r *shimv1.ResizePtyRequest) (*ptypes.Empty, error) {
	cid, execID, err := v.process(r.ID)
	if err != nil {
		return nil, err
	}
	return v.tasks.ResizePty(ctx, &task.ResizePtyRequest{ID: cid, ExecID: execID, Width: r.Width, Height: r.Height})
}

// CloseIO closes a process's stdin.
func (v *V1Service) CloseIO(ctx context.Context, r *shimv1.CloseIORequest) (*ptypes.Empty, error) {
	cid, execID, err := v.process(r.ID)
	if err != nil {
		return nil, err
	}
	return v.tasks.CloseIO(ctx, &task.CloseIORequest{ID: cid, ExecID: execID, Stdin: r.Stdin})
}

// ShimInfo reports the shim's pid (the daemon kills the shim by it).
func (v *V1Service) ShimInfo(context.Context, *ptypes.Empty) (*shimv1.ShimInfoResponse, error) {
	return &shimv1.ShimInfoResponse{ShimPid: uint32(os.Getpid())}, nil
}

// Update changes the container's resources (as far as the task service can).
func (v *V1Service) Update(ctx context.Context, r *shimv1.UpdateTaskRequest) (*ptypes.Empty, error) {
	cid, err := v.container()
	if err != nil {
		return nil, err
	}
	return v.tasks.Update(ctx, &task.UpdateTaskRequest{ID: cid, Resources: r.Resources})
}

// Wait blocks until a process exits.
func (v *V1Service) Wait(ctx context.Context, r *shimv1.WaitRequest) (*shimv1.WaitResponse, error) {
	cid, execID, err := v.process(r.ID)
	if err != nil {
		return nil, err
	}
	resp, err := v.tasks.Wait(ctx, &task.WaitRequest{ID: cid, ExecID: execID})
	if err != nil {
		return nil, err
	}
	return &shimv1.WaitResponse{ExitStatus: resp.ExitStatus, ExitedAt: resp.ExitedAt}, nil
}
