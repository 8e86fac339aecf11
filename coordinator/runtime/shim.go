package runtime

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/proto"

	"github.com/seedrt/seed/sealedexe"
	"github.com/seedrt/seed/shim"
	"github.com/seedrt/seed/shimapi/task"
)

const (
	shimStartTimeout  = 10 * time.Second
	shimDeleteTimeout = 10 * time.Second
)

// shimConn is the daemon's connection to one shim.
type shimConn struct {
	client *ttrpc.Client
	task   task.TaskService
}

func (s *shimConn) close() {
	if s != nil && s.client != nil {
		s.client.Close()
	}
}

// waitGone waits, up to timeout, for the shim to close the connection: it
// does once it has handed its last events to the daemon and exits.
func (s *shimConn) waitGone(timeout time.Duration) {
	if s == nil || s.client == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s.client.UserOnCloseWait(ctx)
}

// shimCommand builds a shim invocation with containerd's v2 flags, in the
// bundle directory, with the events address in TTRPC_ADDRESS.
func (m *Manager) shimCommand(ctx context.Context, binary, ns, id, bundle string, extra ...string) *exec.Cmd {
	args := []string{"-namespace", ns, "-address", m.cfg.Address, "-publish-binary", m.cfg.PublishBinary, "-id", id}
	if m.cfg.Debug {
		args = append(args, "-debug")
	}
	cmd := exec.CommandContext(ctx, binary, append(args, extra...)...)
	cmd.Dir = bundle
	cmd.Env = append(os.Environ(), "TTRPC_ADDRESS="+m.cfg.TTRPCAddress, "NAMESPACE="+ns)
	return cmd
}

// startShim runs `SHIM start` and returns the address it printed.
func (m *Manager) startShim(binary, ns, id, bundle string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), shimStartTimeout)
	defer cancel()
	cmd := m.shimCommand(ctx, binary, ns, id, bundle, "start")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("start shim %s: %w: %s", binary, err, strings.TrimSpace(stderr.String()))
	}
	address := strings.TrimSpace(string(out))
	if address == "" {
		return "", fmt.Errorf("start shim %s: printed no address", binary)
	}
	return address, nil
}

// launchOurShim hands the task to the spare shim if there is one for
// runcBinary (then conn is its connection), else starts our own shim
// directly, skipping the `start` step (one process less than the v2 launch
// protocol, same result), with a sealed copy of runcBinary (package
// sealedexe) when one can be made.
func (m *Manager) launchOurShim(t *Task, runcBinary string) (address string, conn *shimConn, err error) {
	flags := shim.Flags{
		Namespace: t.Namespace, ID: t.ID, Address: m.cfg.Address, Bundle: t.Bundle, Debug: m.cfg.Debug,
		SocketDir: m.cfg.SocketDir,
	}
	if address, conn, ok := m.adoptSpare(t, runcBinary, flags); ok {
		return address, conn, nil
	}
	env := append(os.Environ(), "TTRPC_ADDRESS="+m.cfg.TTRPCAddress, "NAMESPACE="+t.Namespace)
	runcCopy := m.runcCopy(runcBinary)
	address, p, err := shim.Launch(m.cfg.ShimBinary, flags, env, runcCopy)
	if runcCopy != nil {
		runcCopy.File.Close() // our dup: the shim has its own now
	}
	if err != nil {
		return "", nil, fmt.Errorf("launch shim: %w", err)
	}
	if p != nil {
		reapInBackground(p)
	}
	return address, nil, nil
}

// runcCopy returns a sealed copy of runcBinary for a shim to run, or nil:
// then the shim runs runc from its path, as it would anyway. The caller
// closes the copy's File.
func (m *Manager) runcCopy(runcBinary string) *sealedexe.Copy {
	if filepath.Base(runcBinary) != "runc" { // only runc knows the sealed copy for what it is
		return nil
	}
	c, err := m.runcCopies.Get(runcBinary)
	if err != nil {
		if m.firstFailure("copy "+runcBinary, err) {
			fmt.Fprintf(os.Stderr, "no sealed copy of %s, shims run it from its path: %v\n", runcBinary, err)
		}
		return nil
	}
	return c
}

// firstFailure tells whether err is the first failure of what, so the log
// says it once, not once per container.
func (m *Manager) firstFailure(what string, err error) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failed[what] {
		return false
	}
	if m.failed == nil {
		m.failed = map[string]bool{}
	}
	m.failed[what] = true
	return true
}

// dialShim connects to a shim's ttrpc address; onClose runs when the
// connection ends for any reason.
func dialShim(address string, onClose func()) (*shimConn, error) {
	path := strings.TrimPrefix(address, "unix://")
	conn, err := net.DialTimeout("unix", path, shimStartTimeout)
	if err != nil {
		return nil, fmt.Errorf("dial shim %s: %w", address, err)
	}
	client := ttrpc.NewClient(conn, ttrpc.WithOnClose(onClose))
	return &shimConn{client: client, task: task.NewTaskClient(client)}, nil
}

// deleteShim runs `SHIM -bundle B delete`, which cleans up after a shim
// that is gone, and returns the exit it reports.
func (m *Manager) deleteShim(binary, ns, id, bundle string) (*task.DeleteResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), shimDeleteTimeout)
	defer cancel()
	cmd := m.shimCommand(ctx, binary, ns, id, bundle, "-bundle", bundle, "delete")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("shim delete %s: %w: %s", id, err, strings.TrimSpace(stderr.String()))
	}
	var resp task.DeleteResponse
	if err := proto.Unmarshal(out, &resp); err != nil {
		return nil, fmt.Errorf("shim delete %s: decode response: %w", id, err)
	}
	return &resp, nil
}
