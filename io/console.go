package stdio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"
)

// Console is the pty master of a terminal process. It exists before the
// process does (the master only arrives when runc starts it), so a window
// size set early is kept and applied on Attach.
type Console struct {
	mu      sync.Mutex
	master  *os.File
	pending *unix.Winsize
}

// Attach takes over the master that runc sent over the console socket. The
// master is switched to non-blocking mode so reads park a goroutine on the
// poller instead of holding an OS thread per terminal.
func (c *Console) Attach(m console.Console) error {
	fd, err := unix.Dup(int(m.Fd()))
	m.Close()
	if err != nil {
		return fmt.Errorf("dup console master: %w", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return fmt.Errorf("set console master non-blocking: %w", err)
	}
	f := os.NewFile(uintptr(fd), "ptmx")
	c.mu.Lock()
	defer c.mu.Unlock()
	c.master = f
	if c.pending != nil {
		return c.setSizeLocked(c.pending)
	}
	return nil
}

// Resize sets the window size now, or when the master arrives.
func (c *Console) Resize(width, height uint32) error {
	ws := &unix.Winsize{Col: uint16(width), Row: uint16(height)}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = ws
	if c.master == nil {
		return nil
	}
	return c.setSizeLocked(ws)
}

func (c *Console) setSizeLocked(ws *unix.Winsize) error {
	rc, err := c.master.SyscallConn()
	if err != nil {
		return err
	}
	var ioctlErr error
	if err := rc.Control(func(fd uintptr) {
		ioctlErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws)
	}); err != nil {
		return err
	}
	if ioctlErr != nil {
		return fmt.Errorf("resize console: %w", ioctlErr)
	}
	return nil
}

// Size reports the current window size (for tests and State).
func (c *Console) Size() (width, height uint32, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.master == nil {
		return 0, 0, errors.New("console not attached")
	}
	rc, err := c.master.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var ws *unix.Winsize
	var ioctlErr error
	rc.Control(func(fd uintptr) { ws, ioctlErr = unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ) })
	if ioctlErr != nil {
		return 0, 0, ioctlErr
	}
	return uint32(ws.Col), uint32(ws.Row), nil
}

// Close closes the master.
func (c *Console) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.master == nil {
		return nil
	}
	return c.master.Close()
}

// CopyConsole starts copying between the client's streams and the attached
// master: input to the master, the master's output (stdout and stderr merged,
// as a terminal does) to Stdout.
func CopyConsole(s Streams, c *Console) (*Copier, error) {
	c.mu.Lock()
	master := c.master
	c.mu.Unlock()
	if master == nil {
		return nil, errors.New("console not attached")
	}
	cp := &Copier{done: make(chan struct{})}
	if err := cp.copyOut(s.Stdout, eioIsEOF{master}); err != nil {
		return nil, cp.abort(fmt.Errorf("stdout: %w", err))
	}
	if s.Stdin != "" {
		// Input ending must not hang up the terminal: keep the master open.
		if err := cp.copyIn(s.Stdin, master, false); err != nil {
			return nil, cp.abort(fmt.Errorf("stdin: %w", err))
		}
	}
	cp.start()
	return cp, nil
}

// eioIsEOF reads a pty master, where EIO means every slave fd is closed.
type eioIsEOF struct{ *os.File }

func (r eioIsEOF) Read(p []byte) (int, error) {
	n, err := r.File.Read(p)
	if err != nil && errors.Is(err, syscall.EIO) {
		return n, io.EOF
	}
	return n, err
}
