package shim

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	runc "github.com/containerd/go-runc"
	"github.com/gogo/protobuf/proto"
	ptypes "github.com/gogo/protobuf/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/identifiers"
	stdio "github.com/seedrt/seed/io"
	"github.com/seedrt/seed/shimapi/events"
	"github.com/seedrt/seed/shimapi/runcopts"
	"github.com/seedrt/seed/shimapi/task"
	tasktypes "github.com/seedrt/seed/shimapi/types/task"
)

// Version is reported by Connect.
const Version = "seed-shim/1"

var empty = &ptypes.Empty{}

var _ task.TaskService = (*Service)(nil)

// Create mounts the rootfs and creates the container with runc; the init
// process waits in runc init until Start.
func (s *Service) Create(ctx context.Context, r *task.CreateTaskRequest) (_ *task.CreateTaskResponse, retErr error) {
	if err := identifiers.Validate(r.ID); err != nil {
		return nil, err
	}
	if r.Checkpoint != "" || r.ParentCheckpoint != "" {
		return nil, fmt.Errorf("restore from checkpoint: %w", errdefs.ErrNotImplemented)
	}
	if err := s.reserve(r.ID); err != nil {
		return nil, err
	}
	var created *container
	defer func() { s.finishCreate(r.ID, created) }()

	bundle := r.Bundle
	if bundle == "" {
		bundle = s.cfg.Bundle
	}
	opts, err := s.runtimeOptions(r.Options)
	if err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(bundle, optionsFile), opts); err != nil {
		return nil, err
	}
	c := &container{id: r.ID, bundle: bundle, opts: opts, runc: newRunc(bundle, opts, s.cfg.Runc.For(opts.Binary, bundle)), execs: map[string]*process{}}
	if c.hooks = readSpecHooks(bundle); c.hooks.any {
		// Hooks run in our PID namespace: whatever one leaves running in
		// the background is orphaned to us, unannounced.
		s.reaper.WatchAll()
	}
	if err := mountAll(toMounts(r.Rootfs), filepath.Join(bundle, rootfsDir)); err != nil {
		return nil, err
	}
	c.mounted = len(r.Rootfs) > 0
	defer func() {
		if retErr != nil {
			if err := c.cleanup(runcContext()); err != nil {
				logf("clean up failed create of %s: %v", r.ID, err)
			}
		}
	}()

	c.init = newProcess(c, "", stdio.Streams{Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr, Terminal: r.Terminal})
	pidFile := filepath.Join(bundle, initPidFile)
	pid, err := s.startProcess(c.init, pidFile, func(rio runc.IO, sock *runc.Socket) error {
		err := c.runc.Create(runcContext(), r.ID, bundle, &runc.CreateOpts{
			IO:            rio,
			PidFile:       pidFile,
			ConsoleSocket: consoleSocket(sock),
			NoPivot:       opts.NoPivot,
			NoNewKeyring:  opts.NoNewKeyring,
		})
		if err != nil {
			return c.runcError("create", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	created = c
	s.pub.Publish(topicCreate, &events.TaskCreate{
		ContainerID: r.ID,
		Bundle:      bundle,
		Rootfs:      r.Rootfs,
		IO:          &events.TaskIO{Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr, Terminal: r.Terminal},
		Checkpoint:  r.Checkpoint,
		Pid:         uint32(pid),
	}, nil)
	return &task.CreateTaskResponse{Pid: uint32(pid)}, nil
}

// consoleSocket keeps a missing socket a nil interface.
func consoleSocket(sock *runc.Socket) runc.ConsoleSocket {
	if sock == nil {
		return nil
	}
	return sock
}

// runtimeOptions reads containerd.runc.v1.Options, the runtime options ctr
// and containerd send, and fills in the defaults containerd's shim uses.
func (s *Service) runtimeOptions(a *ptypes.Any) (runcOptions, error) {
	o := runcOptions{Version: recordVersion, Binary: "runc", Root: filepath.Join("/run/containerd/runc", s.cfg.Namespace)}
	if a == nil || len(a.Value) == 0 && a.TypeUrl == "" {
		return o, nil
	}
	if !strings.HasSuffix(a.TypeUrl, proto.MessageName(&runcopts.Options{})) {
		return o, fmt.Errorf("runtime options of type %q: want containerd.runc.v1.Options: %w", a.TypeUrl, errdefs.ErrInvalidArgument)
	}
	var ro runcopts.Options
	if err := proto.Unmarshal(a.Value, &ro); err != nil {
		return o, fmt.Errorf("decode runtime options: %w: %w", err, errdefs.ErrInvalidArgument)
	}
	if ro.BinaryName != "" {
		o.Binary = ro.BinaryName
	}
	if ro.Root != "" {
		o.Root = filepath.Join(ro.Root, s.cfg.Namespace)
	}
	o.SystemdCgroup = ro.SystemdCgroup
	o.Criu = ro.CriuPath
	o.NoPivot = ro.NoPivotRoot
	o.NoNewKeyring = ro.NoNewKeyring
	return o, nil
}

// Start starts the init process or an exec.
func (s *Service) Start(ctx context.Context, r *task.StartRequest) (*task.StartResponse, error) {
	c, p, err := s.lookup(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	p.startMu.Lock()
	defer p.startMu.Unlock()
	if st := p.current(); st != Created {
		return nil, fmt.Errorf("process %s is %s, cannot start: %w", p.name(), st, errdefs.ErrFailedPrecondition)
	}
	if r.ExecID == "" {
		if err := c.startInit(runcContext()); err != nil {
			return nil, err
		}
		pid, _, _ := p.exitInfo()
		p.move(Running) // fails only if it already exited: Stopped stays
		s.pub.Publish(topicStart, &events.TaskStart{ContainerID: c.id, Pid: uint32(pid)}, nil)
		return &task.StartResponse{Pid: uint32(pid)}, nil
	}
	pidFile := filepath.Join(c.bundle, r.ExecID+".pid")
	pid, err := s.startProcess(p, pidFile, func(rio runc.IO, sock *runc.Socket) error {
		err := c.runc.Exec(runcContext(), c.id, *p.spec, &runc.ExecOpts{
			IO:            rio,
			PidFile:       pidFile,
			ConsoleSocket: consoleSocket(sock),
			Detach:        true,
		})
		if err != nil {
			return c.runcError("exec", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.move(Running)
	s.pub.Publish(topicExecStarted, &events.TaskExecStarted{ContainerID: c.id, ExecID: r.ExecID, Pid: uint32(pid)}, nil)
	return &task.StartResponse{Pid: uint32(pid)}, nil
}

// Exec adds a process to a running container; Start runs it.
func (s *Service) Exec(ctx context.Context, r *task.ExecProcessRequest) (*ptypes.Empty, error) {
	c, err := s.container(r.ID)
	if err != nil {
		return nil, err
	}
	if err := identifiers.Validate(r.ExecID); err != nil {
		return nil, fmt.Errorf("exec id: %w", err)
	}
	if st := c.init.current(); st != Running {
		return nil, fmt.Errorf("task %s is %s, cannot exec: %w", c.id, st, errdefs.ErrFailedPrecondition)
	}
	if r.Spec == nil {
		return nil, fmt.Errorf("exec %s: no process spec: %w", r.ExecID, errdefs.ErrInvalidArgument)
	}
	var spec specs.Process
	if err := json.Unmarshal(r.Spec.Value, &spec); err != nil {
		return nil, fmt.Errorf("exec %s: decode process spec: %v: %w", r.ExecID, err, errdefs.ErrInvalidArgument)
	}
	if len(spec.Args) == 0 {
		return nil, fmt.Errorf("exec %s: process spec has no args: %w", r.ExecID, errdefs.ErrInvalidArgument)
	}
	spec.Terminal = r.Terminal
	p := newProcess(c, r.ExecID, stdio.Streams{Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr, Terminal: r.Terminal})
	p.spec = &spec
	c.mu.Lock()
	if _, ok := c.execs[r.ExecID]; ok {
		c.mu.Unlock()
		return nil, fmt.Errorf("exec %q in task %q: %w", r.ExecID, c.id, errdefs.ErrAlreadyExists)
	}
	c.execs[r.ExecID] = p
	c.mu.Unlock()
	s.pub.Publish(topicExecAdded, &events.TaskExecAdded{ContainerID: c.id, ExecID: r.ExecID}, nil)
	return empty, nil
}

// Wait blocks until the process exits.
func (s *Service) Wait(ctx context.Context, r *task.WaitRequest) (*task.WaitResponse, error) {
	_, p, err := s.lookup(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	_, status, at := p.exitInfo()
	return &task.WaitResponse{ExitStatus: uint32(status), ExitedAt: at}, nil
}

// Kill signals one process, or with All every process of the container.
func (s *Service) Kill(ctx context.Context, r *task.KillRequest) (*ptypes.Empty, error) {
	c, p, err := s.lookup(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	if r.ExecID == "" && r.All {
		if st := p.current(); st == Stopped {
			return nil, fmt.Errorf("task %s: %w", c.id, errProcessFinished)
		}
		if err := c.runc.Kill(runcContext(), c.id, int(r.Signal), &runc.KillOpts{All: true}); err != nil {
			return nil, c.runcError("kill", err)
		}
		return empty, nil
	}
	if err := p.signal(int(r.Signal)); err != nil {
		return nil, err
	}
	return empty, nil
}

// Delete removes a stopped exec, or the stopped (or never started) task.
func (s *Service) Delete(ctx context.Context, r *task.DeleteRequest) (*task.DeleteResponse, error) {
	c, p, err := s.lookup(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	if r.ExecID != "" {
		return s.deleteExec(c, p)
	}
	if p.current() == Created {
		// Never started: end runc init, and let the exit path record it.
		p.signal(9)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			return nil, fmt.Errorf("task %s did not exit after SIGKILL: %w", c.id, errdefs.ErrFailedPrecondition)
		}
	}
	if err := p.move(Deleted); err != nil {
		return nil, fmt.Errorf("task %s must be stopped before deletion: %w", c.id, err)
	}
	for _, e := range c.execList() {
		e.mu.Lock()
		cp := e.copier
		e.mu.Unlock()
		cp.Close()
	}
	if err := c.cleanup(runcContext()); err != nil {
		logf("delete %s: %v", c.id, err)
	}
	if p.console != nil {
		p.console.Close()
	}
	s.remove(c.id)
	pid, status, at := p.exitInfo()
	s.pub.Publish(topicDelete, &events.TaskDelete{
		ContainerID: c.id, Pid: uint32(pid), ExitStatus: uint32(status), ExitedAt: at,
	}, nil)
	return &task.DeleteResponse{Pid: uint32(pid), ExitStatus: uint32(status), ExitedAt: at}, nil
}

func (s *Service) deleteExec(c *container, p *process) (*task.DeleteResponse, error) {
	if err := p.move(Deleted); err != nil {
		return nil, fmt.Errorf("exec %s must be stopped before deletion: %w", p.execID, err)
	}
	c.mu.Lock()
	delete(c.execs, p.execID)
	c.mu.Unlock()
	if p.console != nil {
		p.console.Close()
	}
	os.Remove(filepath.Join(c.bundle, p.execID+".pid"))
	pid, status, at := p.exitInfo()
	return &task.DeleteResponse{Pid: uint32(pid), ExitStatus: uint32(status), ExitedAt: at}, nil
}

// State reports a process as the daemon sees it.
func (s *Service) State(ctx context.Context, r *task.StateRequest) (*task.StateResponse, error) {
	c, p, err := s.lookup(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	pid, status, at := p.exitInfo()
	return &task.StateResponse{
		ID:         p.name(),
		Bundle:     c.bundle,
		Pid:        uint32(pid),
		Status:     p.apiStatus(),
		Stdin:      p.streams.Stdin,
		Stdout:     p.streams.Stdout,
		Stderr:     p.streams.Stderr,
		Terminal:   p.streams.Terminal,
		ExitStatus: uint32(status),
		ExitedAt:   at,
		ExecID:     r.ExecID,
	}, nil
}

// Pids lists the container's processes, naming the exec each one is.
func (s *Service) Pids(ctx context.Context, r *task.PidsRequest) (*task.PidsResponse, error) {
	c, err := s.container(r.ID)
	if err != nil {
		return nil, err
	}
	if st := c.init.current(); st == Stopped || st == Deleted {
		return &task.PidsResponse{}, nil // and runc may have forgotten it
	}
	pids, err := c.runc.Ps(runcContext(), c.id)
	if err != nil {
		return nil, c.runcError("ps", err)
	}
	execOf := map[int]string{}
	for _, e := range c.execList() {
		if pid, _, _ := e.exitInfo(); pid > 0 {
			execOf[pid] = e.execID
		}
	}
	resp := &task.PidsResponse{}
	for _, pid := range pids {
		info := &tasktypes.ProcessInfo{Pid: uint32(pid)}
		if id, ok := execOf[pid]; ok {
			b, err := proto.Marshal(&runcopts.ProcessDetails{ExecID: id})
			if err == nil {
				info.Info = &ptypes.Any{TypeUrl: proto.MessageName(&runcopts.ProcessDetails{}), Value: b}
			}
		}
		resp.Processes = append(resp.Processes, info)
	}
	return resp, nil
}

// Pause freezes the container.
func (s *Service) Pause(ctx context.Context, r *task.PauseRequest) (*ptypes.Empty, error) {
	return s.freeze(r.ID, true)
}

// Resume thaws the container.
func (s *Service) Resume(ctx context.Context, r *task.ResumeRequest) (*ptypes.Empty, error) {
	return s.freeze(r.ID, false)
}

func (s *Service) freeze(id string, pause bool) (*ptypes.Empty, error) {
	c, err := s.container(id)
	if err != nil {
		return nil, err
	}
	p := c.init
	p.mu.Lock()
	defer p.mu.Unlock()
	from, to, op := Running, Paused, "pause"
	if !pause {
		from, to, op = Paused, Running, "resume"
	}
	if p.state != from {
		return nil, fmt.Errorf("task %s is %s, cannot %s: %w", id, p.state, op, errdefs.ErrFailedPrecondition)
	}
	if pause {
		err = c.runc.Pause(runcContext(), id)
	} else {
		err = c.runc.Resume(runcContext(), id)
	}
	if err != nil {
		return nil, c.runcError(op, err)
	}
	p.moveLocked(to)
	if pause {
		s.pub.Publish(topicPaused, &events.TaskPaused{ContainerID: id}, nil)
	} else {
		s.pub.Publish(topicResumed, &events.TaskResumed{ContainerID: id}, nil)
	}
	return empty, nil
}

// ResizePty sets a terminal's window size; before the process starts, the
// size is kept and applied when its console arrives.
func (s *Service) ResizePty(ctx context.Context, r *task.ResizePtyRequest) (*ptypes.Empty, error) {
	_, p, err := s.lookup(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	if p.console == nil {
		return nil, fmt.Errorf("process %s has no terminal: %w", p.name(), errdefs.ErrFailedPrecondition)
	}
	if st := p.current(); st == Stopped || st == Deleted {
		return nil, fmt.Errorf("process %s is %s, cannot resize: %w", p.name(), st, errdefs.ErrFailedPrecondition)
	}
	if err := p.console.Resize(r.Width, r.Height); err != nil {
		return nil, err
	}
	return empty, nil
}

// CloseIO closes a process's stdin, so it reads EOF.
func (s *Service) CloseIO(ctx context.Context, r *task.CloseIORequest) (*ptypes.Empty, error) {
	_, p, err := s.lookup(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	if r.Stdin {
		p.mu.Lock()
		cp := p.copier
		p.mu.Unlock()
		if err := cp.CloseStdin(); err != nil {
			return nil, fmt.Errorf("close stdin of %s: %w", p.name(), err)
		}
	}
	return empty, nil
}

// Connect tells the daemon who serves it.
func (s *Service) Connect(ctx context.Context, r *task.ConnectRequest) (*task.ConnectResponse, error) {
	resp := &task.ConnectResponse{ShimPid: uint32(os.Getpid()), Version: Version}
	if c, err := s.container(r.ID); err == nil {
		pid, _, _ := c.init.exitInfo()
		resp.TaskPid = uint32(pid)
	}
	return resp, nil
}

// Shutdown ends the shim once it has no task left (or at once with Now).
func (s *Service) Shutdown(ctx context.Context, r *task.ShutdownRequest) (*ptypes.Empty, error) {
	if s.count() > 0 && !r.Now {
		return empty, nil
	}
	if s.exit != nil {
		go s.exit()
	}
	return empty, nil
}

// Checkpoint is not implemented yet.
func (s *Service) Checkpoint(ctx context.Context, r *task.CheckpointTaskRequest) (*ptypes.Empty, error) {
	return nil, fmt.Errorf("checkpoint: %w", errdefs.ErrNotImplemented)
}

// Update is not implemented yet.
func (s *Service) Update(ctx context.Context, r *task.UpdateTaskRequest) (*ptypes.Empty, error) {
	return nil, fmt.Errorf("update: %w", errdefs.ErrNotImplemented)
}

// Stats is not implemented yet.
func (s *Service) Stats(ctx context.Context, r *task.StatsRequest) (*task.StatsResponse, error) {
	return nil, fmt.Errorf("stats: %w", errdefs.ErrNotImplemented)
}
