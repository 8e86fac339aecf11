package client

import (
	"context"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sync"
)

// IOConfig names a process's stdio the way the daemon sees it: FIFO paths
// (or a log URI for output), empty for a stream that is not connected.
type IOConfig struct {
	Stdin, Stdout, Stderr string
	Terminal              bool
}

// Streams are the caller's ends of a process's stdio; a nil stream is not
// connected. With Terminal, the process gets a pty whose output (stdout and
// stderr together) goes to Stdout; Stderr is ignored.
type Streams struct {
	Stdin    io.Reader
	Stdout   io.Writer
	Stderr   io.Writer
	Terminal bool
}

// Stdio returns this process's own stdin, stdout and stderr.
func Stdio(terminal bool) Streams {
	return Streams{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Terminal: terminal}
}

// Creator makes the stdio of a new process; id names its FIFOs.
type Creator func(id string) (*IO, error)

// Attacher reconnects to the stdio an existing process was created with.
type Attacher func(IOConfig) (*IO, error)

// IO is the client side of a process's stdio: the FIFOs it reads the
// process's output from and writes its input to, and the copying between
// them and the caller's streams.
type IO struct {
	config IOConfig
	cancel context.CancelFunc // abandons FIFO opens no peer ever completes

	output sync.WaitGroup // copies of stdout and stderr
	stdin  io.WriteCloser // our end of the stdin FIFO, nil if none
	src    io.Reader      // the caller's stdin

	closers   []io.Closer
	closeOnce sync.Once
}

// NullIO connects no stdio at all.
func NullIO(string) (*IO, error) { return &IO{}, nil }

// LogURI sends stdout and stderr to uri, e.g. file:///var/log/box.log,
// which the shim writes itself. A bare absolute path is taken as a file.
func LogURI(uri string) Creator {
	return func(string) (*IO, error) {
		if filepath.IsAbs(uri) {
			uri = (&url.URL{Scheme: "file", Path: uri}).String()
		}
		return &IO{config: IOConfig{Stdout: uri, Stderr: uri}}, nil
	}
}

// Config returns the stdio paths sent to the daemon.
func (i *IO) Config() IOConfig { return i.config }

// Wait returns once the process's output has been copied to the caller's
// streams: the shim closes its ends when the process has exited. Call it
// after the process exited.
func (i *IO) Wait() {
	if i.cancel != nil {
		i.cancel() // only opens still pending, which no shim will complete now
	}
	i.output.Wait()
}

// Close stops all copying and closes our ends of the FIFOs. The FIFO files
// stay (another client may attach to them) until the process is deleted.
func (i *IO) Close() error {
	var err error
	i.closeOnce.Do(func() {
		if i.cancel != nil {
			i.cancel()
		}
		for _, c := range i.closers {
			err = errors.Join(err, c.Close())
		}
	})
	return err
}

// startStdin starts copying the caller's stdin to the process. At its end
// (EOF or error) our end of the FIFO is closed and closeIO is called, so the
// process sees EOF. A terminal has no end of input (^D is just a byte) and
// shims hang up the terminal when its input closes, so then the FIFO stays
// open until Close. It starts only once the process exists, so that
// closeIO has something to close.
func (i *IO) startStdin(closeIO func()) {
	if i == nil || i.stdin == nil || i.src == nil {
		return
	}
	go func() {
		copyBuffer(i.stdin, i.src)
		if !i.config.Terminal {
			i.stdin.Close()
			closeIO()
		}
	}()
}

// removeFIFOs removes the FIFOs named by cfg and then their directories,
// if empty. Anything that is not a FIFO (a log URI, a file) is left alone.
func removeFIFOs(cfg IOConfig) {
	dirs := map[string]bool{}
	for _, p := range []string{cfg.Stdin, cfg.Stdout, cfg.Stderr} {
		if !isFIFO(p) {
			continue
		}
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
			os.Remove(p)
			dirs[filepath.Dir(p)] = true
		}
	}
	for d := range dirs {
		os.Remove(d) // fails, as it should, if something else is in there
	}
}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func copyBuffer(dst io.Writer, src io.Reader) {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	io.CopyBuffer(dst, src, *bp)
}
