package reaper

import (
	"os/exec"

	runc "github.com/containerd/go-runc"
)

// Monitor is the go-runc ProcessMonitor that routes runc's own exits through
// the reaper instead of exec.Cmd.Wait, which would race with wait4(-1).
type Monitor struct {
	r *Reaper
}

// Monitor returns the go-runc process monitor backed by r. Install it with
// `runc.Monitor = r.Monitor()` before running any runc command.
func (r *Reaper) Monitor() *Monitor { return &Monitor{r: r} }

// Start starts c and registers its pid under the dispatch lock, so its exit
// cannot be collected before a waiter exists.
func (m *Monitor) Start(c *exec.Cmd) (chan runc.Exit, error) {
	m.r.mu.Lock()
	defer m.r.mu.Unlock()
	if err := c.Start(); err != nil {
		return nil, err
	}
	ch := m.r.watchLocked(c.Process.Pid)
	m.r.watch(c.Process.Pid)
	return ch, nil
}

// StartLocked is Start. go-runc uses it only when Pdeathsig is set, which the
// shim never does: Go threads live as long as the process, so the signal could
// not fire early anyway.
func (m *Monitor) StartLocked(c *exec.Cmd) (chan runc.Exit, error) {
	return m.Start(c)
}

// Wait returns the exit status of c once the reaper collected it.
func (m *Monitor) Wait(c *exec.Cmd, ch chan runc.Exit) (int, error) {
	e := <-ch
	// The process is already reaped, so Wait only finishes the copying of its
	// output; its ECHILD error is expected.
	_ = c.Wait()
	// What runc leaves behind (an OCI hook's daemon, the runc init of a
	// killed runc) comes to us unannounced: collect any that has exited.
	m.r.reapAll()
	return e.Status, nil
}

// watchLocked registers a waiter for pid and adapts it to go-runc's Exit.
func (r *Reaper) watchLocked(pid int) chan runc.Exit {
	ch := make(chan Exit, 1)
	r.waiters[pid] = ch
	out := make(chan runc.Exit, 1)
	go func() {
		e := <-ch
		out <- runc.Exit{Pid: e.Pid, Status: e.Status, Timestamp: e.Timestamp}
	}()
	return out
}
