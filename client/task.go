package client

import (
	"context"
	"fmt"
	"syscall"

	"github.com/gogo/protobuf/proto"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	tasksapi "github.com/seedrt/seed/api/services/tasks/v1"
	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/shimapi/runcopts"
	"github.com/seedrt/seed/shimapi/typeurl"
)

// Task is the running instance of a container: its init process, plus
// what applies to the whole task.
type Task struct {
	process
}

// TaskOpt adjusts a Tasks.Create request.
type TaskOpt func(*tasksapi.CreateTaskRequest) error

// WithTaskOptions passes runtime-specific task options (e.g.
// runcopts.Options).
func WithTaskOptions(options proto.Message) TaskOpt {
	return func(r *tasksapi.CreateTaskRequest) error {
		a, err := typeurl.MarshalAny(options)
		if err != nil {
			return fmt.Errorf("task options: %w", err)
		}
		r.Options = a
		return nil
	}
}

// Task returns a handle on the task of container id without asking the
// daemon anything: every method is then one RPC. It knows no pid and no
// stdio, so Delete leaves any FIFOs in place (use LoadTask for that).
func (c *Client) Task(id string) *Task {
	return &Task{process{client: c, containerID: id}}
}

// LoadTask fetches the task of container id (Tasks.Get). With attach, it
// reconnects to the task's stdio; without, it only remembers its FIFOs so
// that Delete removes them.
func (c *Client) LoadTask(ctx context.Context, id string, attach Attacher) (*Task, error) {
	r, err := c.tasks.Get(c.withNS(ctx), &tasksapi.GetRequest{ContainerID: id})
	if err != nil {
		return nil, taskErr(id, "", err)
	}
	s := statusOf(r.Process)
	s.ContainerID = id
	t := &Task{process{client: c, containerID: id, io: &IO{config: s.IO}}}
	t.learn(s)
	if attach != nil && s.State != Unknown {
		i, err := attach(s.IO)
		if err != nil {
			return nil, fmt.Errorf("task %q: %w", id, err)
		}
		t.io = i
		t.startIO()
	}
	return t, nil
}

// Tasks lists the tasks in the namespace (Tasks.List).
func (c *Client) Tasks(ctx context.Context) ([]ProcessStatus, error) {
	r, err := c.tasks.List(c.withNS(ctx), &tasksapi.ListTasksRequest{})
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", errdefs.FromGRPC(err))
	}
	out := make([]ProcessStatus, 0, len(r.Tasks))
	for _, p := range r.Tasks {
		out = append(out, statusOf(p))
	}
	return out, nil
}

func (c *Client) newTask(ctx context.Context, id string, ioc Creator, opts ...TaskOpt) (*Task, error) {
	if ioc == nil {
		ioc = NullIO
	}
	i, err := ioc(id)
	if err != nil {
		return nil, fmt.Errorf("task %q: stdio: %w", id, err)
	}
	req := &tasksapi.CreateTaskRequest{
		ContainerID: id,
		Stdin:       i.config.Stdin,
		Stdout:      i.config.Stdout,
		Stderr:      i.config.Stderr,
		Terminal:    i.config.Terminal,
	}
	for _, o := range opts {
		if err = o(req); err != nil {
			break
		}
	}
	var r *tasksapi.CreateTaskResponse
	if err == nil {
		r, err = c.tasks.Create(c.withNS(ctx), req)
		err = taskErr(id, "", err)
	}
	if err != nil {
		i.Close()
		removeFIFOs(i.config)
		return nil, err
	}
	t := &Task{process{client: c, containerID: id, pid: r.Pid, io: i}}
	t.startIO()
	return t, nil
}

// ID returns the id of the task's container.
func (t *Task) ID() string { return t.containerID }

// Kill sends sig to the init process, or with all to every process of the
// task (Tasks.Kill).
func (t *Task) Kill(ctx context.Context, sig syscall.Signal, all bool) error {
	return t.kill(ctx, sig, all)
}

// Pause freezes every process of the task (Tasks.Pause).
func (t *Task) Pause(ctx context.Context) error {
	_, err := t.client.tasks.Pause(t.client.withNS(ctx), &tasksapi.PauseTaskRequest{ContainerID: t.containerID})
	return t.err(err)
}

// Resume thaws a paused task (Tasks.Resume).
func (t *Task) Resume(ctx context.Context) error {
	_, err := t.client.tasks.Resume(t.client.withNS(ctx), &tasksapi.ResumeTaskRequest{ContainerID: t.containerID})
	return t.err(err)
}

// ProcessInfo is a process of a task.
type ProcessInfo struct {
	Pid    uint32
	ExecID string // for runc runtimes: the exec id of an exec'd process
}

// Pids lists the task's processes (Tasks.ListPids).
func (t *Task) Pids(ctx context.Context) ([]ProcessInfo, error) {
	r, err := t.client.tasks.ListPids(t.client.withNS(ctx), &tasksapi.ListPidsRequest{ContainerID: t.containerID})
	if err != nil {
		return nil, t.err(err)
	}
	out := make([]ProcessInfo, 0, len(r.Processes))
	for _, p := range r.Processes {
		info := ProcessInfo{Pid: p.Pid}
		var d runcopts.ProcessDetails
		if typeurl.Is(p.Info, &d) && typeurl.UnmarshalTo(p.Info, &d) == nil {
			info.ExecID = d.ExecID
		}
		out = append(out, info)
	}
	return out, nil
}

// Delete deletes the stopped task (Tasks.Delete), then drains and closes
// its stdio and removes its FIFOs.
func (t *Task) Delete(ctx context.Context) (ExitStatus, error) {
	r, err := t.client.tasks.Delete(t.client.withNS(ctx), &tasksapi.DeleteTaskRequest{ContainerID: t.containerID})
	if err != nil {
		return ExitStatus{}, t.err(err)
	}
	t.finish()
	return ExitStatus{Code: r.ExitStatus, ExitedAt: r.ExitedAt}, nil
}

// Process returns a handle on the task's exec'd process execID, without
// asking the daemon anything.
func (t *Task) Process(execID string) *Process {
	return &Process{process{client: t.client, containerID: t.containerID, execID: execID}}
}

// Exec adds process execID running spec to the task (Tasks.Exec), with
// stdio made by ioc (NullIO when nil); the process gets a terminal when its
// IO has one. It is created, not started.
func (t *Task) Exec(ctx context.Context, execID string, spec *specs.Process, ioc Creator) (*Process, error) {
	if spec == nil {
		return nil, fmt.Errorf("exec %q: no process spec: %w", execID, errdefs.ErrInvalidArgument)
	}
	if ioc == nil {
		ioc = NullIO
	}
	i, err := ioc(execID)
	if err != nil {
		return nil, fmt.Errorf("exec %q: stdio: %w", execID, err)
	}
	ps := *spec
	ps.Terminal = i.config.Terminal
	specAny, err := typeurl.MarshalJSON(typeurl.ProcessURL, &ps)
	if err == nil {
		_, err = t.client.tasks.Exec(t.client.withNS(ctx), &tasksapi.ExecProcessRequest{
			ContainerID: t.containerID,
			ExecID:      execID,
			Stdin:       i.config.Stdin,
			Stdout:      i.config.Stdout,
			Stderr:      i.config.Stderr,
			Terminal:    i.config.Terminal,
			Spec:        specAny,
		})
		err = taskErr(t.containerID, execID, err)
	}
	if err != nil {
		i.Close()
		removeFIFOs(i.config)
		return nil, err
	}
	p := &Process{process{client: t.client, containerID: t.containerID, execID: execID, io: i}}
	p.startIO()
	return p, nil
}
