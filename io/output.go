package stdio

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// reopenInterval limits how often a disconnected FIFO is probed for a reader.
const reopenInterval = 50 * time.Millisecond

// readerWait bounds how long a new output waits for its first reader.
// containerd's clients (its ctr) open their read side in the background,
// after the request that starts the process: a process that writes and
// exits at once would otherwise have its output dropped.
const readerWait = 2 * time.Second

// readerPoll is how often a waiting output looks for its reader.
const readerPoll = 2 * time.Millisecond

// output writes a process's output stream to where its client asked for it.
// Writes never fail: when nobody reads, the bytes are dropped.
type output interface {
	Write(p []byte) (int, error)
	Close() error
}

// openOutput returns the writer for a stdout/stderr target: a FIFO path, or a
// file:// URI for a log file.
func openOutput(target string) (output, error) {
	if strings.HasPrefix(target, "file://") {
		u, err := url.Parse(target)
		if err != nil {
			return nil, fmt.Errorf("parse log uri %q: %w", target, err)
		}
		f, err := os.OpenFile(u.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, fmt.Errorf("open log file: %w", err)
		}
		return f, nil
	}
	if strings.Contains(target, "://") {
		return nil, fmt.Errorf("unsupported stdio uri %q", target)
	}
	o := &fifoOutput{path: target, created: time.Now()}
	o.tryOpenLocked()
	return o, nil
}

// fifoOutput writes to a FIFO while it has a reader and discards otherwise.
// It opens the write side without blocking (O_NONBLOCK fails at once when
// there is no reader) and reopens it after the reader went away.
type fifoOutput struct {
	mu       sync.Mutex // serializes writes and reopening
	path     string
	created  time.Time
	lastOpen time.Time
	f        atomic.Pointer[os.File]
	closed   atomic.Bool
}

func (o *fifoOutput) tryOpenLocked() {
	o.lastOpen = time.Now()
	f, err := os.OpenFile(o.path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	o.f.Store(f)
	if o.closed.Load() { // lost a race with Close
		o.drop(f)
	}
}

// awaitReaderLocked opens the FIFO if it has a reader. Until readerWait
// after the output was made it polls for one (Close ends the wait); later
// it tries once per reopenInterval, so output with nobody reading is
// dropped without slowing the process down.
func (o *fifoOutput) awaitReaderLocked() {
	deadline := o.created.Add(readerWait)
	for {
		waiting := time.Now().Before(deadline)
		if waiting || time.Since(o.lastOpen) >= reopenInterval {
			o.tryOpenLocked()
		}
		if !waiting || o.f.Load() != nil || o.closed.Load() {
			return
		}
		time.Sleep(readerPoll)
	}
}

// drop closes f if it is still the current file.
func (o *fifoOutput) drop(f *os.File) {
	if o.f.CompareAndSwap(f, nil) {
		f.Close()
	}
}

func (o *fifoOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed.Load() {
		return len(p), nil
	}
	if o.f.Load() == nil {
		o.awaitReaderLocked()
	}
	f := o.f.Load()
	if f == nil {
		return len(p), nil
	}
	if _, err := f.Write(p); err != nil {
		// EPIPE: the reader is gone. Anything else is as fatal for this
		// stream; either way the container must keep running.
		if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, os.ErrClosed) {
			fmt.Fprintf(os.Stderr, "write %s: %v\n", o.path, err)
		}
		o.drop(f)
	}
	return len(p), nil
}

// Close never waits for a write blocked on a slow reader; it closes the file
// under it, which ends that write.
func (o *fifoOutput) Close() error {
	o.closed.Store(true)
	if f := o.f.Swap(nil); f != nil {
		return f.Close()
	}
	return nil
}
