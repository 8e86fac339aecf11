package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	ptypes "github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/coordinator/metadata"
	shimevents "github.com/seedrt/seed/shimapi/events"
	"github.com/seedrt/seed/shimapi/task"
	tasktypes "github.com/seedrt/seed/shimapi/types/task"
	"github.com/seedrt/seed/shimapi/typeurl"
)

var errAlreadyDeleted = errors.New("task already deleted")

// recoverParallel bounds how many shims are reconnected at once.
const recoverParallel = 16

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
			m.tasks[key(ns.Name, c.ID)] = t
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
	ns, id, bundle := t.Namespace, t.ID, t.Bundle
	rec, err := readBundleRecord(bundle)
	if err != nil {
		// Killed before the bundle was complete: nothing was started that
		// the shim's delete would not undo.
		m.deleteShim(m.cfg.ShimBinary, ns, id, bundle)
		os.RemoveAll(bundle)
		t.markGone()
		return
	}
	t.Runtime, t.binary = rec.Runtime, rec.Binary
	t.log, _ = openShimLog(bundle, id)
	if address, err := readAddress(bundle); err == nil {
		if t.shim, err = dialShim(address, t.onShimClosed); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			st, err := t.shim.task.State(ctx, &task.StateRequest{ID: id})
			cancel()
			if err == nil {
				t.pid = st.Pid
				if st.Status == tasktypes.StatusStopped && !isOurShim(bundle) {
					// containerd's shims drop events after a few retries:
					// an exit while we were down may never have been sent.
					t.sawExit()
					m.publish(ns, "/tasks/exit", &shimevents.TaskExit{ContainerID: id, ID: id,
						Pid: st.Pid, ExitStatus: st.ExitStatus, ExitedAt: st.ExitedAt})
				}
				t.markReady()
				return
			}
			t.closeLog()
			// Alive but without our task (it never got created).
			t.deleting = true
			t.shim.task.Shutdown(context.Background(), &task.ShutdownRequest{ID: id, Now: true})
			t.shim.close()
		}
	}
	t.markGone()
	resp, err := m.deleteShim(rec.Binary, ns, id, bundle)
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

// OnForward sees every event a shim forwards before it is published, to
// note the init exits the daemon must not report a second time.
func (m *Manager) OnForward(ns, topic string, event *ptypes.Any) {
	if topic != "/tasks/exit" || event == nil {
		return
	}
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
