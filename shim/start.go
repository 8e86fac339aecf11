package shim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// execFifo is the FIFO runc create leaves in the container's state
// directory; runc init blocks writing one byte to it until someone reads.
const execFifo = "exec.fifo"

// startInit lets a created container's init process run.
//
// `runc start` does no more than open the exec FIFO for reading, read runc
// init's byte, remove the FIFO (which makes runc report the container
// running) and run the poststart hooks. Doing the FIFO part here saves a
// runc process, about 5 ms, on every start. Whatever this path does not
// cover goes through `runc start`: another runtime binary, a spec with
// poststart hooks, or no FIFO where runc 1.x keeps it.
func (c *container) startInit(ctx context.Context) error {
	if filepath.Base(c.opts.Binary) != "runc" || c.hooks.poststart {
		return c.runcStart(ctx)
	}
	path := filepath.Join(c.opts.Root, c.id, execFifo)
	// Non-blocking, so the open never waits for a writer; it still wakes
	// runc init, which is blocked opening its end.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return c.runcStart(ctx)
	}
	defer unix.Close(fd)
	if err := readStartByte(fd, c.init.exited); err != nil {
		return fmt.Errorf("start %s: %w", c.id, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("start %s: remove %s: %w", c.id, execFifo, err)
	}
	return nil
}

func (c *container) runcStart(ctx context.Context) error {
	if err := c.runc.Start(ctx, c.id); err != nil {
		return c.runcError("start", err)
	}
	return nil
}

// readStartByte waits for runc init's byte on the exec FIFO. Until runc
// init has opened its end, poll sees nothing (not even a hang-up), so the
// wait also watches for the process dying first.
func readStartByte(fd int, exited <-chan struct{}) error {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 100)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll %s: %w", execFifo, err)
		}
		if n > 0 {
			var b [1]byte
			m, err := unix.Read(fd, b[:])
			if m == 1 {
				return nil
			}
			if err != nil && !errors.Is(err, unix.EAGAIN) {
				return fmt.Errorf("read %s: %w", execFifo, err)
			}
			if fds[0].Revents&unix.POLLHUP != 0 {
				return errors.New("runc init closed the exec fifo without starting")
			}
			continue
		}
		select {
		case <-exited:
			return errors.New("container process is already dead")
		default:
		}
	}
}

// specHooks is what the shim needs to know of a spec's hooks.
type specHooks struct {
	any       bool // hooks of any kind: runc runs them, and their orphans come to us
	poststart bool // only `runc start` runs these
}

// readSpecHooks reads the hooks of the bundle's spec. A spec we cannot read
// says yes to both: runc decides, and orphans are reaped at once.
func readSpecHooks(bundle string) specHooks {
	unknown := specHooks{any: true, poststart: true}
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return unknown
	}
	// Most specs: no need to decode (0.2 ms of a shim's start). JSON keys
	// match case-insensitively and may be escaped, as runc reads them.
	if !bytes.Contains(bytes.ToLower(b), []byte("hooks")) && !bytes.Contains(b, []byte(`\u`)) {
		return specHooks{}
	}
	var spec struct {
		Hooks map[string][]json.RawMessage `json:"hooks"`
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		return unknown
	}
	var h specHooks
	for name, hooks := range spec.Hooks {
		if len(hooks) > 0 {
			h.any = true
			h.poststart = h.poststart || strings.EqualFold(name, "poststart")
		}
	}
	return h
}
