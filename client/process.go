package client

import (
	"context"
	"errors"
	"io"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"

	tasksapi "github.com/seedrt/seed/api/services/tasks/v1"
)

const waitMethod = "/containerd.services.tasks.v1.Tasks/Wait"

// closeIOTimeout bounds the CloseIO call made when the caller's stdin ends.
const closeIOTimeout = 10 * time.Second

// process is what a Task (its init process, execID "") and an exec'd
// Process share.
type process struct {
	client      *Client
	containerID string
	execID      string
	io          *IO // nil when unknown (a bare handle)

	mu   sync.Mutex
	pid  uint32
	last ProcessStatus // as of the last Tasks.Get
}

// Pid returns the process's pid as last learned (0 before Start for an
// exec'd process, or for a bare handle).
func (p *process) Pid() uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

// IO returns the process's stdio, nil if unknown.
func (p *process) IO() *IO { return p.io }

// Start starts the process (Tasks.Start).
func (p *process) Start(ctx context.Context) error {
	r, err := p.client.tasks.Start(p.client.withNS(ctx), &tasksapi.StartRequest{ContainerID: p.containerID, ExecID: p.execID})
	if err != nil {
		return p.err(err)
	}
	p.mu.Lock()
	p.pid = r.Pid
	p.mu.Unlock()
	return nil
}

// Wait sends Tasks.Wait and returns a channel that receives the process's
// exit status once it has exited and its output has been drained. The
// request is on the wire when Wait returns, so call it before Start to
// never miss an exit.
func (p *process) Wait(ctx context.Context) (<-chan ExitStatus, error) {
	stream, err := p.client.conn.NewStream(p.client.withNS(ctx), &grpc.StreamDesc{StreamName: "Wait"}, waitMethod)
	if err != nil {
		return nil, p.err(err)
	}
	// io.EOF means the stream failed; RecvMsg returns why.
	if err := stream.SendMsg(&tasksapi.WaitRequest{ContainerID: p.containerID, ExecID: p.execID}); err != nil && !errors.Is(err, io.EOF) {
		return nil, p.err(err)
	}
	c := make(chan ExitStatus, 1)
	go func() {
		var r tasksapi.WaitResponse
		if err := stream.RecvMsg(&r); err != nil {
			c <- ExitStatus{Code: UnknownExitStatus, Err: p.err(err)}
			return
		}
		if p.io != nil {
			p.io.Wait()
		}
		c <- ExitStatus{Code: r.ExitStatus, ExitedAt: r.ExitedAt}
	}()
	return c, nil
}

// Status returns the process's status (Tasks.Get).
func (p *process) Status(ctx context.Context) (ProcessStatus, error) {
	r, err := p.client.tasks.Get(p.client.withNS(ctx), &tasksapi.GetRequest{ContainerID: p.containerID, ExecID: p.execID})
	if err != nil {
		return ProcessStatus{}, p.err(err)
	}
	s := statusOf(r.Process)
	s.ContainerID, s.ExecID = p.containerID, p.execID
	p.learn(s)
	return s, nil
}

// LastStatus returns the status as the last Status (or LoadTask) call
// learned it, without asking again.
func (p *process) LastStatus() ProcessStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

func (p *process) learn(s ProcessStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = s
	if s.Pid != 0 {
		p.pid = s.Pid
	}
}

// ResizePty sets the window size of the process's terminal
// (Tasks.ResizePty).
func (p *process) ResizePty(ctx context.Context, width, height uint32) error {
	_, err := p.client.tasks.ResizePty(p.client.withNS(ctx), &tasksapi.ResizePtyRequest{
		ContainerID: p.containerID, ExecID: p.execID, Width: width, Height: height,
	})
	return p.err(err)
}

// CloseIO closes the process's stdin (Tasks.CloseIO). The IO does it by
// itself when the caller's stdin ends.
func (p *process) CloseIO(ctx context.Context) error {
	_, err := p.client.tasks.CloseIO(p.client.withNS(ctx), &tasksapi.CloseIORequest{
		ContainerID: p.containerID, ExecID: p.execID, Stdin: true,
	})
	return p.err(err)
}

func (p *process) kill(ctx context.Context, sig syscall.Signal, all bool) error {
	_, err := p.client.tasks.Kill(p.client.withNS(ctx), &tasksapi.KillRequest{
		ContainerID: p.containerID, ExecID: p.execID, Signal: uint32(sig), All: all,
	})
	return p.err(err)
}

// startIO starts feeding the caller's stdin, now that the process exists.
func (p *process) startIO() {
	p.io.startStdin(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeIOTimeout)
		defer cancel()
		p.CloseIO(ctx) // the process may be gone already: nothing to close
	})
}

// finish releases the stdio of a deleted process: drains the output,
// closes our ends and removes its FIFOs.
func (p *process) finish() {
	if p.io == nil {
		return
	}
	p.io.Wait()
	p.io.Close()
	removeFIFOs(p.io.config)
}

func (p *process) err(err error) error {
	return taskErr(p.containerID, p.execID, err)
}

// Process is a process exec'd in a task.
type Process struct {
	process
}

// ID returns the process's exec id.
func (p *Process) ID() string { return p.execID }

// Kill sends sig to the process (Tasks.Kill).
func (p *Process) Kill(ctx context.Context, sig syscall.Signal) error {
	return p.kill(ctx, sig, false)
}

// Delete deletes the exited process (Tasks.DeleteProcess), then drains and
// closes its stdio.
func (p *Process) Delete(ctx context.Context) (ExitStatus, error) {
	r, err := p.client.tasks.DeleteProcess(p.client.withNS(ctx), &tasksapi.DeleteProcessRequest{
		ContainerID: p.containerID, ExecID: p.execID,
	})
	if err != nil {
		return ExitStatus{}, p.err(err)
	}
	p.finish()
	return ExitStatus{Code: r.ExitStatus, ExitedAt: r.ExitedAt}, nil
}
