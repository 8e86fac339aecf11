package runtime

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/seedrt/seed/coordinator/failpoint"
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
	rec       bundleRecord // how the task is run: protocol, shim, runc
	shim      *shimConn
	log       io.Closer // the shim's log FIFO
	pid       uint32

	// ready is closed once the task can be used: at once for a created
	// task, after reconnecting for a recovered one (gone if that failed).
	ready  chan struct{}
	gone   bool
	broken error // recovered but unusable (a newer daemon's bundle)

	mu       sync.Mutex
	deleting bool      // our Delete is shutting the shim down: its exit is expected
	exited   bool      // the shim published the init's exit
	dead     *deadShim // the shim died; set once it was cleaned up after
}

func (t *Task) markReady() { close(t.ready) }

// markGone drops a task whose shim could not be found again.
func (t *Task) markGone() {
	t.gone = true
	t.m.forget(t)
	close(t.ready)
}

// markBroken keeps a task listed that this daemon must not act on.
func (t *Task) markBroken(err error) {
	t.broken = err
	close(t.ready)
}

// Ready tells whether the task can be used without waiting.
func (t *Task) Ready() bool {
	select {
	case <-t.ready:
		return !t.gone && t.broken == nil
	default:
		return false
	}
}

// Pid is the init process's pid, as created.
func (t *Task) Pid() uint32 { return t.pid }

// Shim is the task API of the task's shim (a stand-in once it died).
func (t *Task) Shim() task.TaskService {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dead != nil {
		return t.dead
	}
	return t.shim.task
}

// Delete deletes the (stopped) task, then shuts its shim down and removes
// the bundle.
func (t *Task) Delete(ctx context.Context) (*task.DeleteResponse, error) {
	t.mu.Lock()
	dead := t.dead
	t.mu.Unlock()
	if dead != nil {
		t.m.forget(t)
		t.m.publish(t.Namespace, "/tasks/delete", &shimevents.TaskDelete{
			ContainerID: t.ID, Pid: dead.exit.Pid, ExitStatus: dead.exit.ExitStatus, ExitedAt: dead.exit.ExitedAt,
		})
		t.m.removeSocket(t.Bundle)
		os.RemoveAll(t.Bundle)
		return dead.exit, nil
	}
	published := t.m.expectDeleteEvent(t.Namespace, t.ID)
	defer t.m.forgetDeleteEvent(t.Namespace, t.ID)
	resp, err := t.shim.task.Delete(ctx, &task.DeleteRequest{ID: t.ID})
	if err != nil {
		return nil, errdefs.FromGRPC(err)
	}
	// The shim forwards the task's /tasks/delete on its own connection, and
	// a client that deletes the container next must see that event first,
	// as it does with containerd (which answers only once the shim is gone).
	select {
	case <-published:
	case <-time.After(deleteEventWait):
	}
	t.mu.Lock()
	t.deleting = true
	t.mu.Unlock()
	// Should the daemon die from here on, recovery finishes the delete
	// quietly instead of reporting the task's exit a second time.
	os.WriteFile(filepath.Join(t.Bundle, deletedMarker), nil, 0o600)
	failpoint.Hit("delete-after-task-delete")
	// The exit is final and the task gone from the API: the client need not
	// wait for the shim to go (it finishes removing the runc container
	// first) or for the bundle's removal. A new task of this id waits.
	t.m.retire(t, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := t.shim.task.Shutdown(sctx, &task.ShutdownRequest{ID: t.ID})
		cancel()
		if err == nil {
			// The shim flushes its queued events (the task's delete among
			// them) before it exits: keep a stopping daemon up for that.
			t.shim.waitGone(shimExitWait)
		}
		t.shim.close()
		t.closeLog()
		failpoint.Hit("delete-after-shutdown")
		t.m.removeSocket(t.Bundle)
		if err := os.RemoveAll(t.Bundle); err != nil {
			fmt.Fprintf(os.Stderr, "remove bundle of %s: %v\n", t.ID, err)
		}
	})
	return resp, nil
}

// removeSocket removes the socket of a bundle's shim, once the shim is gone,
// if it is in the daemon's socket directory: our shims remove their own, but
// a shim that was killed, or containerd's v1 shim, leaves it behind.
func (m *Manager) removeSocket(bundle string) {
	address, err := readAddress(bundle)
	if err != nil || m.cfg.SocketDir == "" {
		return
	}
	path := strings.TrimPrefix(strings.TrimSpace(address), "unix://")
	if filepath.Dir(path) == filepath.Clean(m.cfg.SocketDir) {
		os.Remove(path)
	}
}

// shimExitWait bounds how long a teardown waits for a shut-down shim to
// exit (ours flushes its events for up to 5 s first).
const shimExitWait = 7 * time.Second

// claimExit marks the init's exit as reported and tells whether it was not
// already: the one place that decides an exit is reported once.
func (t *Task) claimExit() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	first := !t.exited
	t.exited = true
	return first
}

// sawExit records that the shim published the init's exit.
func (t *Task) sawExit() {
	t.mu.Lock()
	t.exited = true
	t.mu.Unlock()
}

// onShimClosed runs when the connection to the shim ends. Unless we asked
// for it (Delete) or the daemon is stopping, the shim died: clean up after
// it (runc container, mounts) and keep the task as stopped, with the exit
// its shim recorded if any, until it is deleted.
func (t *Task) onShimClosed() {
	t.mu.Lock()
	expected := t.deleting
	t.mu.Unlock()
	if expected || t.m.isClosing() {
		return
	}
	resp, err := t.m.cleanupShim(t.rec, t.Namespace, t.ID, t.Bundle)
	if err != nil {
		fmt.Fprintf(os.Stderr, "clean up dead shim of %s: %v\n", t.ID, err)
		resp = &task.DeleteResponse{Pid: t.pid, ExitStatus: 255}
	}
	ev := exitEvent(t.ID, resp)
	resp.ExitedAt = ev.ExitedAt
	t.mu.Lock()
	t.dead = &deadShim{id: t.ID, exit: resp}
	t.mu.Unlock()
	if t.claimExit() {
		t.m.publish(t.Namespace, "/tasks/exit", ev)
	}
	t.closeLog()
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
	t.m.cleanupShim(t.rec, t.Namespace, t.ID, t.Bundle)
	t.closeLog()
	os.RemoveAll(t.Bundle)
}

func (t *Task) closeLog() {
	if t.log != nil {
		t.log.Close()
	}
}
