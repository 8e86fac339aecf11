package shim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	runc "github.com/containerd/go-runc"

	"github.com/seedrt/seed/errdefs"
	stdio "github.com/seedrt/seed/io"
	"github.com/seedrt/seed/reaper"
)

// container is one runc container and its processes.
type container struct {
	id      string
	bundle  string
	runc    *runc.Runc
	opts    runcOptions
	mounted bool      // rootfs mounted from the request's mounts
	hooks   specHooks // of the spec it was created with

	init *process

	mu    sync.Mutex
	execs map[string]*process

	deleteMu    sync.Mutex
	runcDeleted bool // the runc container is gone
}

// newRunc returns the runc command line for a container: its own root, a
// JSON log in the bundle (where the error messages of a failed create are),
// and its own process group so our signals never reach it by accident.
// command is what runs o.Binary: itself, or a sealed copy of it.
func newRunc(bundle string, o runcOptions, command string) *runc.Runc {
	return &runc.Runc{
		Command:       command,
		Root:          o.Root,
		Log:           filepath.Join(bundle, "log.json"),
		LogFormat:     runc.JSON,
		Setpgid:       true,
		SystemdCgroup: o.SystemdCgroup,
		Criu:          o.Criu,
	}
}

// runcError adds the last error runc logged to err: runc prints it to the
// container's stderr, where nobody sees it.
func (c *container) runcError(op string, err error) error {
	msg := lastRuncError(c.runc.Log)
	if msg != "" {
		return fmt.Errorf("runc %s %s: %s: %w", op, c.id, msg, err)
	}
	return fmt.Errorf("runc %s %s: %w", op, c.id, err)
}

func lastRuncError(logPath string) string {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return ""
	}
	var last string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var entry struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &entry) == nil && entry.Level == "error" {
			last = entry.Msg
		}
	}
	return last
}

// startProcess runs the runc command that creates p (runc create for init,
// runc exec for an exec), wires up its stdio and starts watching its exit.
// run receives the stdio to hand to runc and the pid file to ask for.
func (s *Service) startProcess(p *process, pidFile string, run func(io runc.IO, sock *runc.Socket) error) (int, error) {
	since := time.Now()
	var (
		pipes *stdio.Pipes
		sock  *runc.Socket
		err   error
	)
	if p.streams.Terminal {
		if sock, err = runc.NewTempConsoleSocket(); err != nil {
			return 0, fmt.Errorf("console socket: %w", err)
		}
		defer sock.Close()
	} else {
		if pipes, err = stdio.NewPipes(p.streams); err != nil {
			return 0, fmt.Errorf("stdio pipes: %w", err)
		}
	}
	var rio runc.IO
	if pipes != nil {
		rio = pipes
	}
	if err := run(rio, sock); err != nil {
		if pipes != nil {
			pipes.Close()
		}
		return 0, err
	}
	copier, err := s.attachIO(p, pipes, sock)
	if err != nil {
		// The process exists but is unusable: kill it so it is reaped.
		s.killByPidFile(pidFile)
		return 0, err
	}
	pid, err := readPidFile(pidFile)
	if err != nil {
		copier.Close()
		return 0, err
	}
	if !ownPIDNamespace(pid) {
		// Its orphans come to us, unannounced: reap them as they exit.
		s.reaper.WatchAll()
	}
	exits := s.reaper.Claim(pid, since)
	h, err := reaper.Open(pid)
	if err != nil && !errors.Is(err, reaper.ErrProcessGone) {
		copier.Close()
		s.reaper.Unclaim(pid)
		return 0, err
	}
	p.setStarted(pid, h, copier)
	go s.watch(p, exits)
	return pid, nil
}

func (s *Service) attachIO(p *process, pipes *stdio.Pipes, sock *runc.Socket) (*stdio.Copier, error) {
	if pipes != nil {
		cp, err := stdio.CopyPipes(p.streams, pipes)
		if err != nil {
			pipes.Close()
			return nil, fmt.Errorf("copy stdio: %w", err)
		}
		return cp, nil
	}
	master, err := sock.ReceiveMaster()
	if err != nil {
		return nil, fmt.Errorf("receive console master: %w", err)
	}
	if err := p.console.Attach(master); err != nil {
		return nil, err
	}
	cp, err := stdio.CopyConsole(p.streams, p.console)
	if err != nil {
		p.console.Close()
		return nil, fmt.Errorf("copy console: %w", err)
	}
	return cp, nil
}

func (s *Service) killByPidFile(pidFile string) {
	if pid, err := readPidFile(pidFile); err == nil {
		if h, err := reaper.Open(pid); err == nil {
			h.Signal(9)
			h.Close()
			s.reaper.Collect(pid)
		}
	}
}

// ourPIDNamespace is read once: it never changes for a process.
var ourPIDNamespace = sync.OnceValues(func() (string, error) { return os.Readlink("/proc/self/ns/pid") })

// ownPIDNamespace tells whether process pid is in a PID namespace other
// than ours (false if that cannot be told).
func ownPIDNamespace(pid int) bool {
	ours, err1 := ourPIDNamespace()
	theirs, err2 := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/pid")
	return err1 == nil && err2 == nil && ours != theirs
}

func readPidFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("bad pid file %s: %q", path, b)
	}
	return pid, nil
}

// exec returns the exec process with that id.
func (c *container) exec(execID string) (*process, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.execs[execID]
	if !ok {
		return nil, fmt.Errorf("exec %q in task %q: %w", execID, c.id, errdefs.ErrNotFound)
	}
	return p, nil
}

// process returns init for an empty execID, else the exec.
func (c *container) process(execID string) (*process, error) {
	if execID == "" {
		return c.init, nil
	}
	return c.exec(execID)
}

func (c *container) execList() []*process {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*process, 0, len(c.execs))
	for _, p := range c.execs {
		out = append(out, p)
	}
	return out
}

// waitExecs waits (bounded) until every started exec's exit is published,
// so an init's exit is always the last exit event of a task.
func (c *container) waitExecs(timeout time.Duration) {
	deadline := time.After(timeout)
	for _, p := range c.execList() {
		if p.current() == Created {
			continue
		}
		select {
		case <-p.exited:
		case <-deadline:
			return
		}
	}
}

// cleanup removes what create left behind: the runc container and the
// rootfs mount.
func (c *container) cleanup(ctx context.Context) error {
	var errs []error
	if err := c.deleteRunc(ctx); err != nil {
		errs = append(errs, err)
	}
	if c.mounted {
		if err := unmountAll(filepath.Join(c.bundle, rootfsDir)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// deleteRunc removes the runc container (state, cgroups, any process left
// in it) once; a failure is tried again by the next call.
func (c *container) deleteRunc(ctx context.Context) error {
	c.deleteMu.Lock()
	defer c.deleteMu.Unlock()
	if c.runcDeleted {
		return nil
	}
	return c.runDeleteLocked(ctx)
}

// deleteStopped is deleteRunc for a container whose init has been reaped:
// without starting runc when it need not (removeStopped).
func (c *container) deleteStopped(ctx context.Context) error {
	c.deleteMu.Lock()
	defer c.deleteMu.Unlock()
	if c.runcDeleted {
		return nil
	}
	err := removeStopped(c.runc.Root, c.id)
	if err == nil {
		c.runcDeleted = true
		return nil
	}
	if !errors.Is(err, errNeedsRunc) {
		return err
	}
	logf("stopped %s: runc delete (%v)", c.id, err)
	return c.runDeleteLocked(ctx)
}

func (c *container) runDeleteLocked(ctx context.Context) error {
	if err := c.runc.Delete(ctx, c.id, &runc.DeleteOpts{Force: true}); err != nil && !isNotExist(err) {
		return c.runcError("delete", err)
	}
	c.runcDeleted = true
	return nil
}

// isNotExist tells runc's "container does not exist" from real failures.
func isNotExist(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "does not exist") || strings.Contains(err.Error(), "not found"))
}
