package shim

import (
	"runtime"
	"time"

	"github.com/seedrt/seed/reaper"
	"github.com/seedrt/seed/shimapi/events"
)

// execExitWait bounds how long an init's exit waits for its execs' exits to
// be published first.
const execExitWait = 2 * time.Second

// watch is the one exit path of a process: reaped, output drained, recorded
// durably, then published and made visible to Wait.
func (s *Service) watch(p *process, exits <-chan reaper.Exit) {
	e := <-exits
	p.mu.Lock()
	copier := p.copier
	p.mu.Unlock()
	copier.Wait(s.cfg.Drain)
	if p.execID == "" {
		p.c.waitExecs(execExitWait)
	}

	p.startMu.Lock() // TaskStart of this process goes first
	rec := exitRecord{ID: p.execID, Pid: e.Pid, Status: e.Status, ExitedAt: e.Timestamp.UTC()}
	ev := &events.TaskExit{
		ContainerID: p.c.id,
		ID:          p.name(),
		Pid:         uint32(e.Pid),
		ExitStatus:  uint32(e.Status),
		ExitedAt:    rec.ExitedAt,
	}
	s.pub.Publish(topicExit, ev, func(seq uint64) error {
		rec.Seq = seq
		if err := saveExit(p.c.bundle, rec); err != nil {
			// Still published and reported to Wait: only the copy
			// that outlives the shim is missing.
			logf("record exit of %s: %v", p.name(), err)
		}
		return nil
	})
	p.setExited(e.Status, rec.ExitedAt)
	p.startMu.Unlock()
	s.trim.touch() // the exit path allocated: collect, then trim again
	if p.execID == "" {
		// The container is stopped for good: remove it from runc now (not
		// before the exit record, whose fsync would wait for runc's file
		// system work), while the exit travels to the client. Like
		// containerd's shim, this kills whatever is left in the container.
		// The shim runs on one P: let the Wait answers and the event go
		// out before this holds it.
		runtime.Gosched()
		if err := p.c.deleteStopped(runcContext()); err != nil {
			logf("delete stopped %s: %v", p.c.id, err)
		}
	}
}
