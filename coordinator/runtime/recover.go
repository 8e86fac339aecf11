package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	ptypes "github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/coordinator/metadata"
	shimevents "github.com/seedrt/seed/shimapi/events"
	"github.com/seedrt/seed/shimapi/task"
	"github.com/seedrt/seed/shimapi/typeurl"
)

// recoverParallel bounds how many shims are reconnected at once.
const recoverParallel = 16

// Recover finds the shims of a previous daemon: for every container record
// with a bundle, reconnect to its shim; a shim that no longer answers is
// cleaned up and its task reported gone. Bundles without a record are
// removed. Containers keep running throughout.
func (m *Manager) Recover(ctx context.Context, db *metadata.DB) error {
	nss, err := db.ListNamespaces()
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	sem := make(chan struct{}, recoverParallel)
	var wg sync.WaitGroup
	for _, ns := range nss {
		cs, err := db.ListContainers(ns.Name, nil)
		if err != nil {
			return fmt.Errorf("recover namespace %s: %w", ns.Name, err)
		}
		known := map[string]bool{}
		for _, c := range cs {
			known[c.ID] = true
			bundle := m.bundleDir(ns.Name, c.ID)
			if _, err := os.Stat(bundle); err != nil {
				continue // no task
			}
			wg.Add(1)
			sem <- struct{}{}
			go func(ns, id, bundle string) {
				defer func() { <-sem; wg.Done() }()
				m.recoverTask(ns, id, bundle)
			}(ns.Name, c.ID, bundle)
		}
		m.removeOrphanBundles(ns.Name, known)
	}
	wg.Wait()
	return nil
}

// recoverTask reconnects to one shim, or cleans up after it.
func (m *Manager) recoverTask(ns, id, bundle string) {
	rec, err := readBundleRecord(bundle)
	if err != nil {
		// Killed before the bundle was complete: nothing was started that
		// the shim's delete would not undo.
		m.deleteShim(m.cfg.ShimBinary, ns, id, bundle)
		os.RemoveAll(bundle)
		return
	}
	t := &Task{m: m, Namespace: ns, ID: id, Bundle: bundle, Runtime: rec.Runtime, binary: rec.Binary}
	t.log, _ = openShimLog(bundle, id)
	if address, err := readAddress(bundle); err == nil {
		if t.shim, err = dialShim(address, t.onShimClosed); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			st, err := t.shim.task.State(ctx, &task.StateRequest{ID: id})
			cancel()
			if err == nil {
				t.pid = st.Pid
				m.mu.Lock()
				m.tasks[key(ns, id)] = t
				m.mu.Unlock()
				return
			}
			t.closeLog()
			// Alive but without our task (it never got created).
			t.deleting = true
			t.shim.task.Shutdown(context.Background(), &task.ShutdownRequest{ID: id, Now: true})
			t.shim.close()
		}
	}
	resp, err := m.deleteShim(rec.Binary, ns, id, bundle)
	if err == nil && resp.Pid != 0 {
		m.publish(ns, "/tasks/exit", exitEvent(id, resp))
		m.publish(ns, "/tasks/delete", &shimevents.TaskDelete{
			ContainerID: id, Pid: resp.Pid, ExitStatus: resp.ExitStatus, ExitedAt: exitEvent(id, resp).ExitedAt,
		})
	}
	os.RemoveAll(bundle)
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
		m.removeStaleBundle(ns, e.Name(), m.bundleDir(ns, e.Name()))
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
