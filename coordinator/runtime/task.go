package runtime

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/seedrt/seed/errdefs"
	shimevents "github.com/seedrt/seed/shimapi/events"
	"github.com/seedrt/seed/shimapi/task"
)

// Task is the daemon's handle on one task: the shim that owns it. Everything
// else (state, pids, exit status) is asked of the shim.
type Task struct {
	m         *Manager
	Namespace string
	ID        string
	Bundle    string
	Runtime   string
	binary    string
	shim      *shimConn
	log       io.Closer // the shim's log FIFO
	pid       uint32

	mu       sync.Mutex
	deleting bool // our Delete is shutting the shim down: its exit is expected
	exited   bool // the shim published the init's exit
}

// Pid is the init process's pid, as created.
func (t *Task) Pid() uint32 { return t.pid }

// Shim is the task API of the task's shim.
func (t *Task) Shim() task.TaskService { return t.shim.task }

// Delete deletes the (stopped) task, then shuts its shim down and removes
// the bundle.
func (t *Task) Delete(ctx context.Context) (*task.DeleteResponse, error) {
	resp, err := t.shim.task.Delete(ctx, &task.DeleteRequest{ID: t.ID})
	if err != nil {
		return nil, errdefs.FromGRPC(err)
	}
	t.mu.Lock()
	t.deleting = true
	t.mu.Unlock()
	t.m.forget(t)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.shim.task.Shutdown(sctx, &task.ShutdownRequest{ID: t.ID})
	cancel()
	t.shim.close()
	t.closeLog()
	if err := os.RemoveAll(t.Bundle); err != nil {
		fmt.Fprintf(os.Stderr, "remove bundle of %s: %v\n", t.ID, err)
	}
	return resp, nil
}

// sawExit records that the shim published the init's exit.
func (t *Task) sawExit() {
	t.mu.Lock()
	t.exited = true
	t.mu.Unlock()
}

// onShimClosed runs when the connection to the shim ends. Unless we asked
// for it (Delete) or the daemon is stopping, the shim died: clean up after
// it and report the task gone, with the exit the shim recorded if any.
func (t *Task) onShimClosed() {
	t.mu.Lock()
	expected := t.deleting
	exited := t.exited
	t.mu.Unlock()
	if expected || t.m.isClosing() {
		return
	}
	t.m.forget(t)
	resp, err := t.m.deleteShim(t.binary, t.Namespace, t.ID, t.Bundle)
	if err != nil {
		fmt.Fprintf(os.Stderr, "clean up dead shim of %s: %v\n", t.ID, err)
		resp = &task.DeleteResponse{Pid: t.pid, ExitStatus: 255}
	}
	if !exited {
		t.m.publish(t.Namespace, "/tasks/exit", exitEvent(t.ID, resp))
	}
	t.m.publish(t.Namespace, "/tasks/delete", &shimevents.TaskDelete{
		ContainerID: t.ID, Pid: resp.Pid, ExitStatus: resp.ExitStatus, ExitedAt: exitEvent(t.ID, resp).ExitedAt,
	})
	t.closeLog()
	os.RemoveAll(t.Bundle)
}

// abandon undoes a failed create: shim down, its cleanup, bundle gone.
func (t *Task) abandon() {
	t.mu.Lock()
	t.deleting = true
	t.mu.Unlock()
	if t.shim != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t.shim.task.Shutdown(ctx, &task.ShutdownRequest{ID: t.ID, Now: true})
		cancel()
		t.shim.close()
	}
	t.m.deleteShim(t.binary, t.Namespace, t.ID, t.Bundle)
	t.closeLog()
	os.RemoveAll(t.Bundle)
}

func (t *Task) closeLog() {
	if t.log != nil {
		t.log.Close()
	}
}
