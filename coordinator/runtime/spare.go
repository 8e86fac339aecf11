package runtime

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/seedrt/seed/coordinator/failpoint"
	"github.com/seedrt/seed/shim"
)

// The daemon keeps one of our shims started ahead of need, a spare
// (shim.Spare), for the next task of a runtime our shim serves: that task's
// create then skips the shim's process start-up. Taking the spare starts
// the next one in the background.

// spare is the ready spare shim, already connected: the spare serves
// before it is adopted (requests wait for the adoption), so a task's first
// request does not wait for the connection's set-up either.
type spare struct {
	*shim.Spare
	runc   string          // the runc binary name it was started for, as runtimeOptions gives it
	exited <-chan struct{} // closed once the process is reaped
	conn   *shimConn

	mu      sync.Mutex
	onClose func() // the adopting task's, for when the connection ends
}

func (sp *spare) setOnClose(f func()) {
	sp.mu.Lock()
	sp.onClose = f
	sp.mu.Unlock()
}

func (sp *spare) connClosed() {
	sp.mu.Lock()
	f := sp.onClose
	sp.mu.Unlock()
	if f != nil {
		f()
	}
}

// dead tells whether the spare's process is gone.
func (sp *spare) dead() bool {
	select {
	case <-sp.exited:
		return true
	default:
		return false
	}
}

// spareExitWait bounds how long letting a spare go waits for it to exit.
const spareExitWait = time.Second

// takeSpare returns the ready spare if it runs runcBinary; nil if there is
// none.
func (m *Manager) takeSpare(runcBinary string) *spare {
	m.mu.Lock()
	defer m.mu.Unlock()
	sp := m.spare
	if sp == nil || sp.runc != runcBinary {
		return nil
	}
	m.spare = nil
	return sp
}

// adoptSpare gives t to the spare for runcBinary, if there is one, and
// returns the address and connection of t's shim; conn is nil (and the
// caller dials) if a live shim already served t. Either way the next spare
// is started.
func (m *Manager) adoptSpare(t *Task, runcBinary string, flags shim.Flags) (address string, conn *shimConn, ok bool) {
	defer m.FillSpare()
	sp := m.takeSpare(runcBinary)
	if sp == nil {
		return "", nil, false
	}
	if sp.dead() {
		sp.release()
		return "", nil, false
	}
	failpoint.Pause("adopt-spare")
	address, adopted, err := sp.Adopt(flags)
	if err != nil {
		sp.conn.close()
		fmt.Fprintf(os.Stderr, "task %s: launching a shim, the spare failed: %v\n", t.ID, err)
		return "", nil, false
	}
	if !adopted {
		sp.conn.close()
		return address, nil, true
	}
	// Only now is the connection the task's: a spare that fails before
	// this is no task's shim dying.
	sp.setOnClose(t.onShimClosed)
	return address, sp.conn, true
}

// FillSpare starts a spare shim in the background if spares are on and
// none is ready or starting.
func (m *Manager) FillSpare() {
	m.mu.Lock()
	if !m.cfg.SpareShim || m.closing || m.spare != nil || m.filling {
		m.mu.Unlock()
		return
	}
	m.filling = true
	m.fills.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.fills.Done()
		sp, err := m.launchSpare()
		m.mu.Lock()
		m.filling = false
		if errors.Is(err, errNoSpareRuntime) {
			m.cfg.SpareShim = false // for good: the configuration does not change
		}
		if err == nil && !m.closing {
			m.spare = sp
			sp = nil
		}
		m.mu.Unlock()
		if err != nil {
			if m.firstFailure("spare", err) {
				fmt.Fprintf(os.Stderr, "no spare shim, tasks launch their own: %v\n", err)
			}
			return
		}
		if sp != nil { // closing meanwhile
			sp.release()
		}
	}()
}

var errNoSpareRuntime = errors.New("the default runtime is not served by our shim")

// launchSpare starts a spare for the default runtime's runc.
func (m *Manager) launchSpare() (*spare, error) {
	rt, err := m.resolve("")
	if err != nil {
		return nil, err
	}
	if rt.Shim != m.cfg.ShimBinary || rt.Protocol != ProtocolV2 {
		return nil, errNoSpareRuntime
	}
	_, runcBinary, err := m.runtimeOptions(rt, nil, nil)
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(), "TTRPC_ADDRESS="+m.cfg.TTRPCAddress)
	flags := shim.Flags{Address: m.cfg.Address, Debug: m.cfg.Debug}
	runcCopy := m.runcCopy(runcBinary)
	if runcCopy != nil {
		defer runcCopy.File.Close() // our dup: the spare has its own
	}
	s, err := shim.LaunchSpare(m.cfg.ShimBinary, m.spareSocket(), flags, env, runcCopy)
	if err != nil {
		return nil, err
	}
	sp := &spare{Spare: s, runc: runcBinary, exited: reapInBackground(s.Process)}
	if sp.conn, err = dialShim("unix://"+s.Socket(), sp.connClosed); err != nil {
		sp.release()
		return nil, err
	}
	return sp, nil
}

// spareSocket names a new spare's socket, hashed into the socket directory
// like a task's. Each spare gets a name of its own (this daemon's pid and a
// count), so a spare removing its socket as it exits, or the daemon
// removing a dead spare's, never removes another's.
func (m *Manager) spareSocket() string {
	m.mu.Lock()
	m.spares++
	n := m.spares
	m.mu.Unlock()
	return shim.SocketPathIn(m.cfg.SocketDir, m.cfg.Address, "", fmt.Sprintf("spare-%d-%d", os.Getpid(), n))
}

// release lets an unadopted spare go and waits a little for it to exit.
func (sp *spare) release() {
	sp.conn.close()
	sp.Close()
	select {
	case <-sp.exited:
	case <-time.After(spareExitWait):
		sp.Process.Kill()
	}
}

// closeSpare lets the ready spare go, at daemon shutdown.
func (m *Manager) closeSpare() {
	m.mu.Lock()
	sp := m.spare
	m.spare = nil
	m.mu.Unlock()
	if sp != nil {
		sp.release()
	}
}
