package runtime

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/gogo/protobuf/proto"
	ptypes "github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/coordinator/events"
	"github.com/seedrt/seed/coordinator/failpoint"
	"github.com/seedrt/seed/coordinator/metadata"
	"github.com/seedrt/seed/coordinator/nsctx"
	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/sealedexe"
	shimevents "github.com/seedrt/seed/shimapi/events"
	"github.com/seedrt/seed/shimapi/runcopts"
	"github.com/seedrt/seed/shimapi/task"
	"github.com/seedrt/seed/shimapi/types"
	"github.com/seedrt/seed/shimapi/typeurl"
)

// Config is what the manager needs to know about its daemon.
type Config struct {
	State         string // bundles live in State/NS/ID
	SocketDir     string // sockets of the shims the daemon launches itself (empty: shim.SocketPath's choice)
	Address       string // the daemon's gRPC socket, passed to shims
	TTRPCAddress  string // where shims forward events
	PublishBinary string // the daemon's binary (shims may run it to publish)
	ShimBinary    string // our containerd-shim
	RuncRoot      string // runc --root for this daemon's containers (+/NS)
	Root          string // the daemon's --root: v1 shims get a work dir there
	Debug         bool
	SpareShim     bool // keep a spare shim ready (see spare.go)

	DefaultRuntime string                    // for containers that name none
	Runtimes       map[string]RuntimeOptions // configured runtimes by name
}

// Manager owns the daemon's tasks: one shim connection each.
type Manager struct {
	cfg    Config
	events events.Publisher

	mu           sync.Mutex
	tasks        map[string]*Task
	creating     map[string]bool
	teardowns    map[string]chan struct{} // deleted tasks whose shim is still going away
	deleteEvents map[string]chan struct{} // Task.Delete waiting for the shim's /tasks/delete
	closing      bool

	runcCopies sealedexe.Cache // what our shims run runc from
	failed     map[string]bool // what failed and was logged once (firstFailure)

	spare   *spare         // the ready spare shim, if any
	spares  int            // spares started, for their socket names
	filling bool           // a spare is being started
	fills   sync.WaitGroup // FillSpare's launches, which Close waits for
}

// NewManager returns a manager with no tasks; see Recover.
func NewManager(cfg Config, ev events.Publisher) *Manager {
	return &Manager{cfg: cfg, events: ev, tasks: map[string]*Task{}, creating: map[string]bool{},
		teardowns: map[string]chan struct{}{}, deleteEvents: map[string]chan struct{}{}}
}

func key(ns, id string) string { return ns + "/" + id }

// CreateOpts are the task-creation fields of a Tasks.Create request.
type CreateOpts struct {
	Rootfs                []*types.Mount
	Stdin, Stdout, Stderr string
	Terminal              bool
	Options               *ptypes.Any // task options; the container's runtime options if nil
}

// Create launches a shim for the container and creates its task.
func (m *Manager) Create(ctx context.Context, ns string, c metadata.Container, o CreateOpts) (_ *Task, retErr error) {
	if err := m.reserve(ctx, ns, c.ID); err != nil {
		return nil, err
	}
	var created *Task
	defer func() { m.finishCreate(ns, c.ID, created) }()

	rt, err := m.resolve(c.Runtime.Name)
	if err != nil {
		return nil, err
	}
	bundle := m.bundleDir(ns, c.ID)
	m.removeStaleBundle(ns, c.ID, bundle)
	rec := bundleRecord{Version: recordVersion, Runtime: rt.Name, Binary: rt.Shim, Protocol: rt.Protocol,
		Runc: rt.Runc, RuncRoot: rt.RuncRoot}
	if err := writeBundle(bundle, toAny(c.Spec), rec); err != nil {
		os.RemoveAll(bundle)
		return nil, err
	}
	failpoint.Hit("create-after-bundle")
	t := &Task{m: m, Namespace: ns, ID: c.ID, Bundle: bundle, Runtime: rt.Name, rec: rec, ready: closedChan}
	defer func() {
		if retErr != nil {
			t.abandon()
		}
	}()
	if t.log, err = openShimLog(bundle, c.ID); err != nil {
		return nil, err
	}
	if rt.Protocol == ProtocolV1 {
		err = m.createV1(ctx, t, rt, c, o)
	} else {
		err = m.createV2(ctx, t, rt, c, o)
	}
	if err != nil {
		return nil, err
	}
	failpoint.Hit("create-after-task-create")
	created = t
	return t, nil
}

// createV2 starts a v2 shim (`start`, dial what it prints) and creates the
// task through it.
func (m *Manager) createV2(ctx context.Context, t *Task, rt runtime, c metadata.Container, o CreateOpts) error {
	options, runcBinary, err := m.runtimeOptions(rt, o.Options, c.Runtime.Options)
	if err != nil {
		return err
	}
	var address string
	if rt.Shim == m.cfg.ShimBinary {
		address, t.shim, err = m.launchOurShim(t, runcBinary)
	} else {
		address, err = m.startShim(rt.Shim, t.Namespace, t.ID, t.Bundle)
	}
	if err != nil {
		return err
	}
	failpoint.Hit("create-after-shim-start")
	if t.shim == nil {
		if t.shim, err = dialShim(address, t.onShimClosed); err != nil {
			return err
		}
	}
	resp, err := t.shim.task.Create(ctx, &task.CreateTaskRequest{
		ID: t.ID, Bundle: t.Bundle, Rootfs: o.Rootfs, Terminal: o.Terminal,
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Options: options,
	})
	if err != nil {
		return errdefs.FromGRPC(err)
	}
	t.pid = resp.Pid
	return nil
}

// runtimeOptions picks the request's or the container's runc options and
// gives runc this daemon's root, so two daemons never share runc state.
func (m *Manager) runtimeOptions(rt runtime, reqOpts *ptypes.Any, containerOpts *metadata.Any) (_ *ptypes.Any, runcBinary string, _ error) {
	a := reqOpts
	if a == nil || len(a.Value) == 0 && a.TypeUrl == "" {
		a = toAny(containerOpts)
	}
	var o runcopts.Options
	if a != nil && len(a.Value) > 0 {
		if !typeurl.Is(a, &o) {
			return a, "", nil // another runtime's options: pass them through
		}
		if err := typeurl.UnmarshalTo(a, &o); err != nil {
			return nil, "", fmt.Errorf("decode runtime options: %v: %w", err, errdefs.ErrInvalidArgument)
		}
	}
	if o.Root == "" {
		o.Root = rt.RuncRoot
	}
	if o.BinaryName == "" {
		o.BinaryName = rt.Runc
	}
	if rt.SystemdCgroup {
		o.SystemdCgroup = true
	}
	runcBinary = o.BinaryName
	if runcBinary == "" {
		runcBinary = "runc" // the shim's default
	}
	a, err := typeurl.MarshalAny(&o)
	return a, runcBinary, err
}

func toAny(a *metadata.Any) *ptypes.Any {
	if a == nil {
		return nil
	}
	return &ptypes.Any{TypeUrl: a.TypeURL, Value: a.Value}
}

// reserve claims ns/id for a new task, after the teardown of a deleted
// task of the same id, if one is still going on, has finished.
func (m *Manager) reserve(ctx context.Context, ns, id string) error {
	k := key(ns, id)
	for {
		m.mu.Lock()
		done, tearingDown := m.teardowns[k]
		if !tearingDown {
			break
		}
		m.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("task %s: the previous task of this id is still being torn down: %w", id, ctx.Err())
		}
	}
	defer m.mu.Unlock()
	if _, ok := m.tasks[k]; ok || m.creating[k] {
		return fmt.Errorf("task %s: %w", id, errdefs.ErrAlreadyExists)
	}
	m.creating[k] = true
	return nil
}

// retire drops a deleted task from the table and runs the rest of its
// teardown in the background; reserve and Close wait for it.
func (m *Manager) retire(t *Task, teardown func()) {
	k := key(t.Namespace, t.ID)
	done := make(chan struct{})
	m.mu.Lock()
	if m.tasks[k] == t {
		delete(m.tasks, k)
	}
	m.teardowns[k] = done
	m.mu.Unlock()
	go func() {
		defer func() {
			m.mu.Lock()
			delete(m.teardowns, k)
			m.mu.Unlock()
			close(done)
		}()
		teardown()
	}()
}

// waitTeardowns waits, up to timeout, for the teardowns under way.
func (m *Manager) waitTeardowns(timeout time.Duration) {
	m.mu.Lock()
	pending := make([]chan struct{}, 0, len(m.teardowns))
	for _, done := range m.teardowns {
		pending = append(pending, done)
	}
	m.mu.Unlock()
	deadline := time.After(timeout)
	for _, done := range pending {
		select {
		case <-done:
		case <-deadline:
			return
		}
	}
}

func (m *Manager) finishCreate(ns, id string, t *Task) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := key(ns, id)
	delete(m.creating, k)
	if t != nil {
		m.tasks[k] = t
	}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Get returns the task of container id, waiting (within ctx) for it to be
// recovered if the daemon is still finding its shim.
func (m *Manager) Get(ctx context.Context, id string) (*Task, error) {
	ns, err := nsctx.Namespace(ctx)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	t, ok := m.tasks[key(ns, id)]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("task %s: %w", id, errdefs.ErrNotFound)
	}
	select {
	case <-t.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("task %s is still being recovered: %w", id, errdefs.ErrUnavailable)
	}
	if t.gone {
		return nil, fmt.Errorf("task %s: %w", id, errdefs.ErrNotFound)
	}
	if t.broken != nil {
		return nil, t.broken
	}
	return t, nil
}

// Exists tells whether container id has a task (or one being created).
func (m *Manager) Exists(ns, id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := key(ns, id)
	_, ok := m.tasks[k]
	return ok || m.creating[k]
}

// List returns the tasks of a namespace.
func (m *Manager) List(ns string) []*Task {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Task
	for _, t := range m.tasks {
		if t.Namespace == ns {
			out = append(out, t)
		}
	}
	return out
}

func (m *Manager) forget(t *Task) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tasks[key(t.Namespace, t.ID)] == t {
		delete(m.tasks, key(t.Namespace, t.ID))
	}
}

// Close drops every shim connection and leaves the shims (and their
// containers) running: the daemon is going away, not the tasks.
func (m *Manager) Close() {
	defer m.runcCopies.Close()
	m.waitTeardowns(10 * time.Second)
	m.mu.Lock()
	m.closing = true
	m.mu.Unlock()
	m.fills.Wait()
	m.closeSpare()
	m.mu.Lock()
	tasks := make([]*Task, 0, len(m.tasks))
	for _, t := range m.tasks {
		tasks = append(tasks, t)
	}
	m.mu.Unlock()
	for _, t := range tasks {
		if t.Ready() {
			t.shim.close()
		}
	}
}

func (m *Manager) isClosing() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closing
}

// publish sends a daemon-made task event (for a shim that could not).
func (m *Manager) publish(ns, topic string, ev proto.Message) {
	if err := m.events.Publish(nsctx.With(context.Background(), ns), topic, ev); err != nil {
		fmt.Fprintf(os.Stderr, "publish %s: %v\n", topic, err)
	}
}

// removeStaleBundle cleans up a bundle left by a task that no longer exists
// (a crash between create and delete): its shim's delete undoes runc state
// and mounts, then the directory goes.
func (m *Manager) removeStaleBundle(ns, id, bundle string) {
	if _, err := os.Stat(bundle); err != nil {
		return
	}
	rec, err := readBundleRecord(bundle)
	if err != nil {
		rec = bundleRecord{Binary: m.cfg.ShimBinary, Protocol: ProtocolV2}
	}
	m.cleanupShim(rec, ns, id, bundle)
	os.RemoveAll(bundle)
}

// exitEvent is the TaskExit a daemon publishes for a shim that died.
func exitEvent(id string, resp *task.DeleteResponse) *shimevents.TaskExit {
	at := resp.ExitedAt
	if at.IsZero() {
		at = time.Now().UTC()
	}
	return &shimevents.TaskExit{ContainerID: id, ID: id, Pid: resp.Pid, ExitStatus: resp.ExitStatus, ExitedAt: at}
}
