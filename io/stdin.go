package stdio

import (
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// closeGrace is how long input already written is still read after CloseIO.
const closeGrace = 100 * time.Millisecond

// stdinFIFO is the shim's reading end of a process's stdin FIFO.
//
// Opening waits (in its own goroutine) for a client to open the writing end,
// so a process created before any client attaches still gets its input.
// CloseIO does not throw away what the client wrote just before: reading
// goes on until the FIFO is empty (and closeGrace has passed), then stops.
type stdinFIFO struct {
	path string

	mu      sync.Mutex
	f       *os.File
	opening bool
	closing bool // CloseIO: read what is there, then stop
	stopped bool // stop now, discard the rest
}

var errStdinClosed = errors.New("stdin closed")

// open waits for a writer and returns the FIFO, or errStdinClosed.
func (s *stdinFIFO) open() (*os.File, error) {
	s.mu.Lock()
	if s.closing || s.stopped {
		s.mu.Unlock()
		return nil, errStdinClosed
	}
	s.opening = true
	s.mu.Unlock()

	// Blocks until a writer opens the FIFO (or stop opens one to wake us).
	f, err := os.OpenFile(s.path, os.O_RDONLY, 0)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.opening = false
	if err != nil {
		return nil, err
	}
	if s.stopped {
		f.Close()
		return nil, errStdinClosed
	}
	if s.closing {
		// CloseIO came while a client was connecting: what it wrote
		// before is still read.
		f.SetReadDeadline(time.Now().Add(closeGrace))
	}
	s.f = f
	return f, nil
}

// closeInput is CloseIO: finish reading what is there, then stop.
func (s *stdinFIFO) closeInput() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	if s.f != nil {
		// Reads return what is buffered at once and time out when empty.
		s.f.SetReadDeadline(time.Now().Add(closeGrace))
	}
	s.wakeOpenerLocked()
}

// stop ends reading now.
func (s *stdinFIFO) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	if s.f != nil {
		s.f.Close()
	}
	s.wakeOpenerLocked()
}

// wakeOpenerLocked unblocks an open waiting for a writer by being one.
func (s *stdinFIFO) wakeOpenerLocked() {
	if !s.opening {
		return
	}
	if w, err := os.OpenFile(s.path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		w.Close()
	}
}

// copyIn starts copying the stdin FIFO at path to dst. When the client
// closes its end:
//   - with closeDst (pipes), dst is closed, so the process sees EOF;
//   - without (a terminal), the FIFO is opened again for the next client:
//     a terminal outlives the clients attached to it.
//
// CloseStdin ends either for good.
func (c *Copier) copyIn(path string, dst io.WriteCloser, closeDst bool) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	s := &stdinFIFO{path: path}
	c.stdin = s
	go func() {
		for {
			f, err := s.open()
			if err == nil {
				copyBuffer(dst, f)
				f.Close()
			}
			if closeDst || err != nil {
				if closeDst {
					dst.Close()
				}
				return
			}
		}
	}()
	return nil
}

// CloseStdin ends the process's input (CloseIO), after what the client
// already wrote.
func (c *Copier) CloseStdin() error {
	if c != nil && c.stdin != nil {
		c.stdin.closeInput()
	}
	return nil
}
