package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	ptypes "github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/coordinator/events"
	"github.com/seedrt/seed/coordinator/failpoint"
	"github.com/seedrt/seed/coordinator/metadata"
	"github.com/seedrt/seed/errdefs"
	shimevents "github.com/seedrt/seed/shimapi/events"
	"github.com/seedrt/seed/shimapi/task"
	tasktypes "github.com/seedrt/seed/shimapi/types/task"
	"github.com/seedrt/seed/shimapi/typeurl"
)

var errAlreadyDeleted = errors.New("task already deleted")

// recoverParallel bounds how many shims are reconnected at once.
const recoverParallel = 128

// Recover finds the shims of a previous daemon. It registers every task
// whose bundle exists at once, so the API never reports a task missing
// while it is being recovered, then reconnects to the shims concurrently in
// the background: a shim that no longer answers is cleaned up and its task
// reported gone. Bundles without a record are removed. done is closed when
// every task is recovered. Containers keep running throughout.
func (m *Manager) Recover(db *metadata.DB) (done <-chan struct{}, err error) {
	nss, err := db.ListNamespaces()
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	var pending []*Task
	for _, ns := range nss {
		cs, err := db.ListContainers(ns.Name, nil)
		if err != nil {
			return nil, fmt.Errorf("recover namespace %s: %w", ns.Name, err)
		}
		known := map[string]bool{}
		for _, c := range cs {
			known[c.ID] = true
			bundle := m.bundleDir(ns.Name, c.ID)
			if _, err := os.Stat(bundle); err != nil {
				continue // no task
			}
			t := &Task{m: m, Namespace: ns.Name, ID: c.ID, Bundle: bundle, ready: make(chan struct{})}
			m.mu.Lock()
			m.tasks[key(ns.Name, c.ID)] = t
			m.mu.Unlock()
			pending = append(pending, t)
		}
		m.removeOrphanBundles(ns.Name, known)
	}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		sem := make(chan struct{}, recoverParallel)
		var wg sync.WaitGroup
		for _, t := range pending {
			wg.Add(1)
			sem <- struct{}{}
			go func(t *Task) {
				defer func() { <-sem; wg.Done() }()
				m.recoverTask(t)
			}(t)
		}
		wg.Wait()
	}()
	return finished, nil
}

// recoverTask reconnects to one shim, or cleans up after it, and then
// marks t ready (or gone).
func (m *Manager) recoverTask(t *Task) {
	failpoint.Pause("recover-task")
	ns, id, bundle := t.Namespace, t.ID, t.Bundle
	rec, err := readBundleRecord(bundle)
	if errors.Is(err, errNewerFormat) {
		// Not ours to touch: keep it listed, refuse to act on it.
		fmt.Fprintf(os.Stderr, "recover task %s/%s: %v\n", ns, id, err)
		t.markBroken(fmt.Errorf("task %s: %v: %w", id, err, errdefs.ErrFailedPrecondition))
		return
	}
	if err != nil {
		// Killed before the bundle was complete: nothing was started that
		// the shim's delete would not undo.
		m.deleteShim(m.cfg.ShimBinary, ns, id, bundle)
		os.RemoveAll(bundle)
		t.markGone()
		return
	}
	t.Runtime, t.rec = rec.Runtime, rec
	t.log, _ = openShimLog(bundle, id)
	if m.reconnect(t) {
		t.markReady()
		return
	}
	t.markGone()
	resp, err := m.cleanupShim(rec, ns, id, bundle)
	if _, statErr := os.Stat(filepath.Join(bundle, deletedMarker)); statErr == nil {
		err = errAlreadyDeleted // reported when it was deleted
	}
	if err == nil && resp.Pid != 0 {
		m.publish(ns, "/tasks/exit", exitEvent(id, resp))
		m.publish(ns, "/tasks/delete", &shimevents.TaskDelete{
			ContainerID: id, Pid: resp.Pid, ExitStatus: resp.ExitStatus, ExitedAt: exitEvent(id, resp).ExitedAt,
		})
	}
	t.closeLog()
	os.RemoveAll(bundle)
}

// reconnect dials the task's shim with the protocol it was started with and
// checks it still has the task. A shim that answers without the task (the
// daemon died between starting it and creating the task) is shut down.
func (m *Manager) reconnect(t *Task) bool {
	address, err := readAddress(t.Bundle)
	if err != nil {
		return false
	}
	if t.rec.Protocol == ProtocolV1 {
		t.shim, err = dialV1(m, t, address)
	} else {
		t.shim, err = dialShim(address, t.onShimClosed)
	}
	if err != nil {
		return false
	}
	if _, err := os.Stat(filepath.Join(t.Bundle, deletedMarker)); err == nil {
		// Deleted, but the daemon died before the shim was shut down.
		t.shutdownShim()
		return false
	}
	if isOurShim(t.Bundle) && t.rec.Protocol != ProtocolV1 {
		// Our shim had the task if runc wrote its pid; no need to wake
		// every shim with a request (1000 of them add up).
		pid, err := readPid(filepath.Join(t.Bundle, "init.pid"))
		if err != nil {
			t.shutdownShim()
			return false
		}
		t.pid = pid
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	st, err := t.shim.task.State(ctx, &task.StateRequest{ID: t.ID})
	cancel()
	if errdefs.IsNotFound(errdefs.FromGRPC(err)) {
		t.shutdownShim()
		return false
	}
	if err != nil {
		// Alive but slow: keep it; calls will tell.
		fmt.Fprintf(os.Stderr, "recover task %s/%s: state: %v\n", t.Namespace, t.ID, err)
		return true
	}
	t.pid = st.Pid
	if st.Status == tasktypes.StatusStopped && !isOurShim(t.Bundle) && t.claimExit() {
		// containerd's shims drop events after a few retries: an exit
		// while we were down may never have been sent. (If it still is,
		// FilterForward drops it.)
		m.publish(t.Namespace, "/tasks/exit", &shimevents.TaskExit{ContainerID: t.ID, ID: t.ID,
			Pid: st.Pid, ExitStatus: st.ExitStatus, ExitedAt: st.ExitedAt})
	}
	return true
}

// isOurShim tells our shims, which queue events until the daemon takes
// them, from third-party ones: ours leave shim.json in the bundle.
func isOurShim(bundle string) bool {
	_, err := os.Stat(filepath.Join(bundle, "shim.json"))
	return err == nil
}

// removeOrphanBundles cleans up bundles whose container record is gone (a
// daemon killed in the middle of deleting).
func (m *Manager) removeOrphanBundles(ns string, known map[string]bool) {
	entries, err := os.ReadDir(filepath.Join(m.cfg.State, ns))
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || known[e.Name()] {
			continue
		}
		// Cleaned up in the background: nothing can refer to it.
		go m.removeStaleBundle(ns, e.Name(), m.bundleDir(ns, e.Name()))
	}
}

// WatchExits follows the exits published in the exchange (forwarded by v2
// shims, sent by v1 shims through `publish`, or made by the daemon) to note
// which tasks' exits were reported, so a shim that dies later does not get
// its task's exit reported twice. It runs until ctx is done.
func (m *Manager) WatchExits(ctx context.Context, x *events.Exchange) {
	for ctx.Err() == nil {
		ch, _, err := x.Subscribe(ctx, `topic=="/tasks/exit"`, `topic=="/tasks/delete"`)
		if err != nil {
			return
		}
		for env := range ch {
			if env.Topic == "/tasks/delete" {
				m.noteDeleteEvent(env.Namespace, env.Event)
			} else {
				m.noteExit(env.Namespace, env.Event)
			}
		}
	}
}

// deleteEventWait bounds how long Task.Delete waits for the shim's
// /tasks/delete (a shim may send none).
const deleteEventWait = 200 * time.Millisecond

// expectDeleteEvent returns a channel closed once the /tasks/delete of
// ns/id has been published.
func (m *Manager) expectDeleteEvent(ns, id string) <-chan struct{} {
	ch := make(chan struct{})
	m.mu.Lock()
	m.deleteEvents[key(ns, id)] = ch
	m.mu.Unlock()
	return ch
}

func (m *Manager) forgetDeleteEvent(ns, id string) {
	m.mu.Lock()
	delete(m.deleteEvents, key(ns, id))
	m.mu.Unlock()
}

func (m *Manager) noteDeleteEvent(ns string, event *ptypes.Any) {
	var ev shimevents.TaskDelete
	if err := typeurl.UnmarshalTo(event, &ev); err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if ch, ok := m.deleteEvents[key(ns, ev.ContainerID)]; ok {
		close(ch)
		delete(m.deleteEvents, key(ns, ev.ContainerID))
	}
}

func (m *Manager) noteExit(ns string, event *ptypes.Any) {
	var ev shimevents.TaskExit
	if err := typeurl.UnmarshalTo(event, &ev); err != nil || ev.ID != ev.ContainerID {
		return
	}
	m.mu.Lock()
	t := m.tasks[key(ns, ev.ContainerID)]
	m.mu.Unlock()
	if t != nil {
		t.sawExit()
	}
}

// FilterForward drops a forwarded init exit that was already reported (by
// the daemon at recovery, or by an earlier try of the same shim).
func (m *Manager) FilterForward(_ context.Context, env *events.Envelope, _ uint64) bool {
	if env.Topic != "/tasks/exit" || env.Event == nil {
		return true
	}
	var ev shimevents.TaskExit
	if err := typeurl.UnmarshalTo(env.Event, &ev); err != nil || ev.ID != ev.ContainerID {
		return true
	}
	m.mu.Lock()
	t := m.tasks[key(env.Namespace, ev.ContainerID)]
	m.mu.Unlock()
	return t == nil || t.claimExit()
}

// shutdownShim ends a shim that serves no task (any more).
func (t *Task) shutdownShim() {
	t.mu.Lock()
	t.deleting = true
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.shim.task.Shutdown(ctx, &task.ShutdownRequest{ID: t.ID, Now: true})
	cancel()
	t.shim.close()
}

func readPid(path string) (uint32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil || pid == 0 {
		return 0, fmt.Errorf("bad pid file %s", path)
	}
	return uint32(pid), nil
}
