package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	eventsapi "github.com/seedrt/seed/api/services/events/v1"
	tasksapi "github.com/seedrt/seed/api/services/tasks/v1"
	"github.com/seedrt/seed/shimapi/events"
	"github.com/seedrt/seed/shimapi/types/task"
	"github.com/seedrt/seed/shimapi/typeurl"
)

// maxErrors is how many error messages a scenario keeps (it counts all).
const maxErrors = 10

// errs collects a scenario's errors: all counted, the first few kept.
type errs struct {
	mu    sync.Mutex
	count int
	first []string
}

func (e *errs) add(err error) {
	if err == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.count++
	if len(e.first) < maxErrors {
		e.first = append(e.first, err.Error())
	}
}

func (e *errs) addf(format string, a ...interface{}) { e.add(fmt.Errorf(format, a...)) }

// Outcome is what every scenario reports besides its numbers.
type Outcome struct {
	// Errors counts failed operations; ErrorMessages keeps the first few.
	Errors        int      `json:"errors"`
	ErrorMessages []string `json:"error_messages,omitempty"`
	// Cleanup lists what failed while deleting the scenario's containers.
	Cleanup []string `json:"cleanup_errors,omitempty"`
	// Notes are observations that are not failures, e.g. shims that
	// took long to exit after their tasks were deleted.
	Notes   []string `json:"notes,omitempty"`
	Seconds float64  `json:"seconds"` // wall time of the whole scenario
}

func (o *Outcome) fill(e *errs) {
	o.Errors, o.ErrorMessages = e.count, e.first
}

// Phase is the latency of one step of an operation.
type Phase struct {
	Name string `json:"name"`
	Stats
}

// StartResult: scenario 1.
type StartResult struct {
	Outcome
	N                 int       `json:"n"`
	Concurrency       int       `json:"concurrency"`
	Started           int       `json:"started"`
	BatchSeconds      float64   `json:"batch_seconds"` // first create to last running
	PerSecond         float64   `json:"containers_per_second"`
	HostStealPercent  float64   `json:"host_steal_percent"` // CPU the hypervisor took during the starts
	CPU               *StartCPU `json:"cpu_ms_per_container,omitempty"`
	Latency           Stats     `json:"latency"` // Containers.Create + Tasks.Create + Tasks.Start
	Phases            []Phase   `json:"phases"`
	Removed           int       `json:"removed"`
	TeardownSeconds   float64   `json:"teardown_seconds"`
	TeardownPerSecond float64   `json:"teardown_containers_per_second"`
	TeardownLatency   Stats     `json:"teardown_latency"` // Kill + Wait + Tasks.Delete + Containers.Delete
	// RuncAlone (-runc-alone): the same start with `runc run -d` alone, right after.
	RuncAlone *RuncAlone `json:"runc_alone,omitempty"`
}

// LatencyResult: scenarios 2 (run --rm) and 3 (exec).
type LatencyResult struct {
	Outcome
	Runs    int     `json:"runs"`
	Latency Stats   `json:"latency"`
	Phases  []Phase `json:"phases"`
	// run --rm only: bare `runc run` of the same spec, one after each of
	// our runs so both see the same load.
	BareRunc *Stats `json:"bare_runc_run,omitempty"`
}

// EventResult: scenario 4.
type EventResult struct {
	Outcome
	Runs int `json:"runs"`
	// Event: exited_at of the /tasks/exit event to the subscriber
	// receiving it. Wait: exited_at to Tasks.Wait returning (Wait sent
	// before Tasks.Start).
	Event Stats `json:"event_latency"`
	Wait  Stats `json:"wait_latency"`
}

// MemoryResult: scenario 5. All sizes in KiB.
type MemoryResult struct {
	Outcome
	Containers      int     `json:"containers"`
	SettleSeconds   float64 `json:"settle_seconds"`
	DaemonRSS       int     `json:"daemon_rss_kb"`
	DaemonPSS       int     `json:"daemon_pss_kb"`
	Shims           int     `json:"shims"`
	ShimRSS         []int   `json:"shim_rss_kb"`
	ShimPSS         []int   `json:"shim_pss_kb"`
	ShimRSSMedian   float64 `json:"shim_rss_median_kb"`
	ShimPSSMedian   float64 `json:"shim_pss_median_kb"`
	ShimRSSTotal    int     `json:"shim_rss_total_kb"`
	ShimPSSTotal    int     `json:"shim_pss_total_kb"`
	SpareRSS        int     `json:"spare_rss_kb"` // shims started ahead of need (not counted in Shims)
	SparePSS        int     `json:"spare_pss_kb"`
	TotalRSS        int     `json:"total_rss_kb"` // daemon + shims + spares
	TotalPSS        int     `json:"total_pss_kb"`
	ShimPerContainr float64 `json:"shim_pss_total_per_container_kb"`
}

// RestartResult: scenario 6. Times from the daemon's process start.
type RestartResult struct {
	Outcome
	Containers   int     `json:"containers"`
	SocketMs     float64 `json:"socket_ms"`      // socket accepts connections
	FirstListMs  float64 `json:"first_list_ms"`  // first Tasks.List that succeeds
	AllRunningMs float64 `json:"all_running_ms"` // Tasks.List shows all K RUNNING
	Polls        int     `json:"polls"`
	Died         int     `json:"died"` // containers not running (same pid) afterwards
	ShimsBefore  int     `json:"shims_before"`
	ShimsAfter   int     `json:"shims_after"`
}

// cleanupScenario deletes whatever the scenario left in the namespace.
func cleanupScenario(d *daemon, o *options, out *Outcome) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if !d.running() {
		out.Cleanup = append(out.Cleanup, "daemon is not running")
		return
	}
	out.Cleanup = append(out.Cleanup, d.removeAll(ctx, o.c)...)
	// Every shim should exit once its task is deleted.
	deleted := time.Now()
	first := len(d.shims())
	for n := first; n > 0; n = len(d.shims()) {
		if time.Since(deleted) > 10*time.Second {
			out.Cleanup = append(out.Cleanup, fmt.Sprintf("%d shim processes still running 10s after their tasks were deleted: %v", n, d.shims()))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	if took := time.Since(deleted); took > time.Second {
		out.Notes = append(out.Notes, fmt.Sprintf("%d shim processes were still running after all tasks were deleted; the last exited %v later", first, took.Round(10*time.Millisecond)))
	}
}

// startMany starts n `sleep 300` containers prefix-0..n-1, c at a time,
// returning the ids that are running; a shortfall is an error in e.
func startMany(ctx context.Context, d *daemon, prefix string, n, c int, e *errs) []string {
	var mu sync.Mutex
	var ids []string
	parallel(ctx, n, c, func(i int) {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if _, err := d.startContainer(ctx, id, "sleep", "300"); err != nil {
			e.add(err)
			return
		}
		mu.Lock()
		ids = append(ids, id)
		mu.Unlock()
	})
	if len(ids) != n {
		e.addf("only %d of %d containers started", len(ids), n)
	}
	return ids
}

// 1. Start N containers C at a time, then tear them down C at a time.
func runStart(ctx context.Context, d *daemon, o *options) *StartResult {
	r := &StartResult{N: o.n, Concurrency: o.c}
	began := time.Now()
	defer func() { r.Seconds = time.Since(began).Seconds() }()
	var e errs
	phases := make([][3]time.Duration, o.n)
	cpu0, steal0 := cpuTimes()
	cpuBefore := d.cpuSnapshot()
	start := timedBatch(ctx, o.n, o.c, func(i int) error {
		ph, err := d.startContainer(ctx, fmt.Sprintf("start-%d", i), "sleep", "300")
		phases[i] = ph
		e.add(err)
		return err
	})
	r.HostStealPercent = stealSince(cpu0, steal0)
	r.CPU = d.cpuPerContainer(cpuBefore, start.done)
	var ph [3][]time.Duration
	var ids []string
	for i, ok := range start.ok {
		if ok {
			for j := range ph {
				ph[j] = append(ph[j], phases[i][j])
			}
			ids = append(ids, fmt.Sprintf("start-%d", i))
		}
	}
	r.Started, r.Latency, r.BatchSeconds, r.PerSecond = start.done, start.latency(), start.seconds, start.perSecond()
	r.Phases = []Phase{
		{"Containers.Create", summarize(ph[0], 0)},
		{"Tasks.Create", summarize(ph[1], 0)},
		{"Tasks.Start", summarize(ph[2], 0)},
	}

	// Teardown of the running ones.
	teardown := timedBatch(ctx, len(ids), o.c, func(i int) error {
		err := d.removeContainer(ctx, ids[i])
		if err != nil {
			e.add(fmt.Errorf("teardown: %w", err))
		}
		return err
	})
	r.Removed, r.TeardownLatency = teardown.done, teardown.latency()
	r.TeardownSeconds, r.TeardownPerSecond = teardown.seconds, teardown.perSecond()
	r.fill(&e)
	cleanupScenario(d, o, &r.Outcome)
	if o.runcAlone && ctx.Err() == nil {
		r.RuncAlone = runRuncAlone(ctx, filepath.Join(d.dir, "state", "alone"), d.ns+"-alone", o.n, o.c) // on the daemon's file system, as run --rm's bare runc
		if r.RuncAlone.Errors > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("runc alone: %d of %d runc run -d failed", r.RuncAlone.Errors, o.n))
		}
	}
	return r
}

// batch is the outcome of timedBatch.
type batch struct {
	n, done int
	ok      []bool
	lat     []time.Duration // of the ones that succeeded
	seconds float64         // first start to the last success
}

func (b batch) latency() Stats { return summarize(b.lat, b.n-b.done) }

func (b batch) perSecond() float64 {
	if b.done == 0 || b.seconds == 0 {
		return 0
	}
	return float64(b.done) / b.seconds
}

// timedBatch runs f(0..n-1), c at a time, timing each call.
func timedBatch(ctx context.Context, n, c int, f func(i int) error) batch {
	lat := make([]time.Duration, n)
	b := batch{n: n, ok: make([]bool, n)}
	var mu sync.Mutex
	var last time.Time
	t0 := time.Now()
	parallel(ctx, n, c, func(i int) {
		s := time.Now()
		if f(i) != nil {
			return
		}
		end := time.Now()
		lat[i], b.ok[i] = end.Sub(s), true
		mu.Lock()
		if end.After(last) {
			last = end
		}
		mu.Unlock()
	})
	for i, ok := range b.ok {
		if ok {
			b.lat = append(b.lat, lat[i])
		}
	}
	b.done = len(b.lat)
	if b.done > 0 {
		b.seconds = last.Sub(t0).Seconds()
	}
	return b
}

// runRm is one `ctr run --rm` of /bin/true: create, start, wait, delete.
// Wait is sent before Start, as ctr does.
func runRm(ctx context.Context, d *daemon, id string) (total time.Duration, phases [6]time.Duration, err error) {
	t0 := time.Now()
	if err = d.createContainer(ctx, id, "/bin/true"); err != nil {
		return
	}
	defer func() {
		if err != nil { // leave nothing behind for the next run
			d.deleteTask(context.Background(), id)
			d.deleteContainer(context.Background(), id)
		}
	}()
	t1 := time.Now()
	if _, err = d.createTask(ctx, id); err != nil {
		return
	}
	t2 := time.Now()
	waited := asyncWait(ctx, d, id, "")
	if err = d.startTask(ctx, id, ""); err != nil {
		return
	}
	t3 := time.Now()
	w := <-waited
	if err = w.err; err != nil {
		return
	}
	if w.resp.ExitStatus != 0 {
		err = fmt.Errorf("%s: /bin/true exited with status %d", id, w.resp.ExitStatus)
		return
	}
	t4 := time.Now()
	if err = d.deleteTask(ctx, id); err != nil {
		return
	}
	t5 := time.Now()
	if err = d.deleteContainer(ctx, id); err != nil {
		return
	}
	t6 := time.Now()
	phases = [6]time.Duration{t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3), t5.Sub(t4), t6.Sub(t5)}
	return t6.Sub(t0), phases, nil
}

type waitResult struct {
	resp *tasksapi.WaitResponse
	err  error
	at   time.Time
}

// asyncWait sends Tasks.Wait now and delivers its answer on the channel.
func asyncWait(ctx context.Context, d *daemon, id, execID string) <-chan waitResult {
	ch := make(chan waitResult, 1)
	go func() {
		r, err := d.wait(ctx, id, execID)
		ch <- waitResult{resp: r, err: err, at: time.Now()}
	}()
	return ch
}

// 2. run --rm latency, sequential, after one warm-up run.
func runRunRm(ctx context.Context, d *daemon, o *options) *LatencyResult {
	r := &LatencyResult{Runs: o.r}
	began := time.Now()
	defer func() { r.Seconds = time.Since(began).Seconds() }()
	var e errs
	if _, _, err := runRm(ctx, d, "rm-warmup"); err != nil {
		e.add(fmt.Errorf("warm-up: %w", err))
	}
	bare, err := newBareRunc(filepath.Join(d.dir, "bare"), filepath.Join(d.dir, "state", "bare-runc"), d.ns+"-bare")
	if err != nil {
		e.add(err)
	} else {
		defer bare.close()
	}
	var bareRuns []time.Duration
	r.Latency, r.Phases = repeat(ctx, o.r, &e,
		[]string{"Containers.Create", "Tasks.Create", "Tasks.Start", "Start→Wait returns", "Tasks.Delete", "Containers.Delete"},
		func(i int) (time.Duration, []time.Duration, error) {
			total, phases, err := runRm(ctx, d, fmt.Sprintf("rm-%d", i))
			if bare != nil {
				if b, err := bare.run(ctx, fmt.Sprintf("bare-%s-%d", d.ns, i)); err != nil {
					e.add(err)
				} else {
					bareRuns = append(bareRuns, b)
				}
			}
			return total, phases[:], err
		})
	if len(bareRuns) > 0 {
		s := summarize(bareRuns, 0)
		r.BareRunc = &s
	}
	r.fill(&e)
	cleanupScenario(d, o, &r.Outcome)
	return r
}

// execOnce is Tasks.Exec + Tasks.Wait (sent before Start) + Tasks.Start +
// Tasks.DeleteProcess of /bin/true.
func execOnce(ctx context.Context, d *daemon, id, execID string) (total time.Duration, phases [4]time.Duration, err error) {
	t0 := time.Now()
	if err = d.exec(ctx, id, execID, "/bin/true"); err != nil {
		return
	}
	t1 := time.Now()
	waited := asyncWait(ctx, d, id, execID)
	if err = d.startTask(ctx, id, execID); err != nil {
		d.deleteProcess(context.Background(), id, execID)
		return
	}
	t2 := time.Now()
	w := <-waited
	if err = w.err; err != nil {
		return
	}
	if w.resp.ExitStatus != 0 {
		err = fmt.Errorf("exec %s/%s: /bin/true exited with status %d", id, execID, w.resp.ExitStatus)
	}
	t3 := time.Now()
	if derr := d.deleteProcess(ctx, id, execID); err == nil {
		err = derr
	}
	if err != nil {
		return
	}
	t4 := time.Now()
	phases = [4]time.Duration{t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3)}
	return t4.Sub(t0), phases, nil
}

// 3. exec latency into one running container, sequential, after a warm-up.
func runExec(ctx context.Context, d *daemon, o *options) *LatencyResult {
	r := &LatencyResult{Runs: o.r}
	began := time.Now()
	defer func() { r.Seconds = time.Since(began).Seconds() }()
	var e errs
	defer func() {
		r.fill(&e)
		cleanupScenario(d, o, &r.Outcome)
	}()
	const id = "exec-host"
	if _, err := d.startContainer(ctx, id, "sleep", "300"); err != nil {
		e.add(err)
		r.Latency = summarize(nil, o.r)
		return r
	}
	if _, _, err := execOnce(ctx, d, id, "warmup"); err != nil {
		e.add(fmt.Errorf("warm-up: %w", err))
	}
	r.Latency, r.Phases = repeat(ctx, o.r, &e,
		[]string{"Tasks.Exec", "Tasks.Start", "Start→Wait returns", "Tasks.DeleteProcess"},
		func(i int) (time.Duration, []time.Duration, error) {
			total, phases, err := execOnce(ctx, d, id, fmt.Sprintf("e%d", i))
			return total, phases[:], err
		})
	return r
}

type exitEvent struct {
	ev *events.TaskExit
	at time.Time
}

// 4. Event latency: exited_at of /tasks/exit to the subscriber getting it.
func runEvent(ctx context.Context, d *daemon, o *options) *EventResult {
	r := &EventResult{Runs: o.r}
	began := time.Now()
	defer func() { r.Seconds = time.Since(began).Seconds() }()
	var e errs
	defer func() {
		r.fill(&e)
		cleanupScenario(d, o, &r.Outcome)
	}()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	filter := fmt.Sprintf(`namespace==%s,topic=="/tasks/exit"`, d.ns)
	stream, err := d.events.Subscribe(sctx, &eventsapi.SubscribeRequest{Filters: []string{filter}})
	if err != nil {
		e.add(fmt.Errorf("Events.Subscribe: %w", err))
		r.Event, r.Wait = summarize(nil, o.r), summarize(nil, o.r)
		return r
	}
	exits := make(chan exitEvent, 64)
	recvErr := make(chan error, 1)
	go func() {
		for {
			env, err := stream.Recv()
			at := time.Now()
			if err != nil {
				recvErr <- err
				return
			}
			var ev events.TaskExit
			if err := typeurl.UnmarshalTo(env.Event, &ev); err != nil {
				recvErr <- fmt.Errorf("decode %s event: %w", env.Topic, err)
				return
			}
			exits <- exitEvent{&ev, at}
		}
	}()
	// one runs a container of /bin/true and returns both latencies.
	one := func(id string) (evLat, waitLat time.Duration, err error) {
		if err = d.createContainer(ctx, id, "/bin/true"); err != nil {
			return
		}
		defer func() {
			if err2 := d.deleteTask(ctx, id); err == nil {
				err = err2
			}
			if err2 := d.deleteContainer(ctx, id); err == nil {
				err = err2
			}
		}()
		if _, err = d.createTask(ctx, id); err != nil {
			return
		}
		waited := asyncWait(ctx, d, id, "")
		if err = d.startTask(ctx, id, ""); err != nil {
			return
		}
		w := <-waited
		if err = w.err; err != nil {
			return
		}
		waitLat = w.at.Sub(w.resp.ExitedAt)
		timeout := time.After(d.timeout)
		for {
			select {
			case x := <-exits:
				if x.ev.ContainerID != id || x.ev.ID != id {
					continue // a stale event (e.g. of a failed earlier run)
				}
				return x.at.Sub(x.ev.ExitedAt), waitLat, nil
			case err = <-recvErr:
				err = fmt.Errorf("Events.Subscribe stream: %w", err)
				recvErr <- err
				return
			case <-timeout:
				err = fmt.Errorf("%s: no /tasks/exit event within %v of Tasks.Wait returning", id, d.timeout)
				return
			case <-ctx.Done():
				err = ctx.Err()
				return
			}
		}
	}
	// The warm-up also proves the subscription is live.
	if _, _, err := one("ev-warmup"); err != nil {
		e.add(fmt.Errorf("warm-up: %w", err))
	}
	var evs, waits []time.Duration
	for i := 0; i < o.r && ctx.Err() == nil; i++ {
		evLat, waitLat, err := one(fmt.Sprintf("ev-%d", i))
		if err != nil {
			e.add(err)
			continue
		}
		evs = append(evs, evLat)
		waits = append(waits, waitLat)
	}
	r.Event = summarize(evs, o.r-len(evs))
	r.Wait = summarize(waits, o.r-len(waits))
	return r
}

// 5. Memory of the daemon and its shims with M idle containers.
func runMemory(ctx context.Context, d *daemon, o *options) *MemoryResult {
	r := &MemoryResult{Containers: o.m, SettleSeconds: o.settle.Seconds()}
	began := time.Now()
	defer func() { r.Seconds = time.Since(began).Seconds() }()
	var e errs
	defer func() {
		r.fill(&e)
		cleanupScenario(d, o, &r.Outcome)
	}()
	ids := startMany(ctx, d, "mem", o.m, o.c, &e)
	select {
	case <-time.After(o.settle):
	case <-ctx.Done():
		return r
	}
	var err error
	if r.DaemonRSS, r.DaemonPSS, err = memKB(d.pid()); err != nil {
		e.addf("daemon memory: %v", err)
	}
	for _, p := range d.shims() {
		rss, pss, err := memKB(p.pid)
		if err != nil {
			e.addf("shim memory: %s: %v", p, err)
			continue
		}
		r.ShimRSS = append(r.ShimRSS, rss)
		r.ShimPSS = append(r.ShimPSS, pss)
		r.ShimRSSTotal += rss
		r.ShimPSSTotal += pss
	}
	r.Shims = len(r.ShimRSS)
	if r.Shims != len(ids) {
		e.addf("found %d shim processes for %d running containers", r.Shims, len(ids))
	}
	for _, p := range d.spares() {
		rss, pss, err := memKB(p.pid)
		if err != nil {
			e.addf("spare shim memory: %s: %v", p, err)
			continue
		}
		r.SpareRSS += rss
		r.SparePSS += pss
	}
	r.ShimRSSMedian, r.ShimPSSMedian = medianInt(r.ShimRSS), medianInt(r.ShimPSS)
	r.TotalRSS = r.DaemonRSS + r.ShimRSSTotal + r.SpareRSS
	r.TotalPSS = r.DaemonPSS + r.ShimPSSTotal + r.SparePSS
	if len(ids) > 0 {
		r.ShimPerContainr = float64(r.ShimPSSTotal) / float64(len(ids))
	}
	return r
}

// 6. Restart recovery: SIGKILL the daemon with K running containers,
// start it again and time until Tasks.List shows all K RUNNING.
func runRestart(ctx context.Context, d *daemon, o *options) *RestartResult {
	r := &RestartResult{Containers: o.k}
	began := time.Now()
	defer func() { r.Seconds = time.Since(began).Seconds() }()
	var e errs
	defer func() {
		r.fill(&e)
		cleanupScenario(d, o, &r.Outcome)
	}()
	ids := startMany(ctx, d, "rs", o.k, o.c, &e)
	if ctx.Err() != nil || len(ids) == 0 {
		return r
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	list, err := d.listTasks(ctx, d.timeout)
	if err != nil {
		e.add(err)
		return r
	}
	pids := map[string]uint32{}
	for _, t := range list.Tasks {
		if want[taskID(t)] {
			pids[taskID(t)] = t.Pid
		}
	}
	r.ShimsBefore = len(d.shims())

	d.closeConn()
	d.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		e.addf("daemon pid %d did not die of SIGKILL within 10s", d.pid())
		return r
	}
	t0 := time.Now()
	if err := d.start(); err != nil {
		e.add(err)
		return r
	}
	if err := d.waitSocket(ctx, 60*time.Second); err != nil {
		e.add(fmt.Errorf("after restart: %w", err))
		return r
	}
	r.SocketMs = msSince(t0)
	if err := d.connect(); err != nil {
		e.add(err)
		return r
	}
	deadline := t0.Add(2 * time.Minute)
	var lastErr error
	var lastStatus map[string]int
	for {
		r.Polls++
		list, err := d.listTasks(ctx, 5*time.Second)
		if err == nil {
			if r.FirstListMs == 0 {
				r.FirstListMs = msSince(t0)
			}
			lastStatus = map[string]int{}
			running := 0
			for _, t := range list.Tasks {
				if want[taskID(t)] {
					lastStatus[t.Status.String()]++
					if t.Status == task.StatusRunning {
						running++
					}
				}
			}
			if running == len(ids) {
				r.AllRunningMs = msSince(t0)
				// Did any container die, or come back as another process?
				for _, t := range list.Tasks {
					if id := taskID(t); want[id] && t.Pid != pids[id] {
						r.Died++
						e.addf("%s: pid %d before the restart, %d after", id, pids[id], t.Pid)
					}
				}
				for id, pid := range pids {
					if syscall.Kill(int(pid), 0) != nil {
						r.Died++
						e.addf("%s: process %d is gone after the restart", id, pid)
					}
				}
				break
			}
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) || ctx.Err() != nil || !d.running() {
			e.addf("after restart: %d containers not all RUNNING within %v (daemon running: %v; task statuses: %v; last error: %v)",
				len(ids), time.Since(t0).Round(time.Millisecond), d.running(), lastStatus, lastErr)
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.ShimsAfter = len(d.shims())
	if r.ShimsAfter != r.ShimsBefore {
		e.addf("%d shims before the restart, %d after", r.ShimsBefore, r.ShimsAfter)
	}
	return r
}

func msSince(t time.Time) float64 { return float64(time.Since(t)) / float64(time.Millisecond) }

// repeat runs once n times (until ctx ends) and summarizes the total
// latency and each named phase; failures are counted and kept in e.
func repeat(ctx context.Context, n int, e *errs, names []string,
	once func(i int) (total time.Duration, phases []time.Duration, err error)) (Stats, []Phase) {
	var lat []time.Duration
	ph := make([][]time.Duration, len(names))
	for i := 0; i < n && ctx.Err() == nil; i++ {
		total, phases, err := once(i)
		if err != nil {
			e.add(err)
			continue
		}
		lat = append(lat, total)
		for j := range ph {
			ph[j] = append(ph[j], phases[j])
		}
	}
	out := make([]Phase, len(names))
	for j, name := range names {
		out[j] = Phase{name, summarize(ph[j], 0)}
	}
	return summarize(lat, n-len(lat)), out
}
