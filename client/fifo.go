package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/containerd/fifo"
)

// DefaultFIFODir is where ctr and this package create stdio FIFOs when not
// told otherwise, whatever the daemon's address.
const DefaultFIFODir = "/run/containerd/fifo"

// NewFIFOs makes FIFOs for the connected streams in a new directory under
// dir (DefaultFIFODir if empty) and copies between them and the streams.
// containerd's shim needs stdout, and stderr unless with a terminal, as soon
// as any stream is connected: the output not wanted is discarded.
func NewFIFOs(dir string, s Streams) Creator {
	if s.Stdin != nil || s.Stdout != nil || s.Stderr != nil {
		if s.Stdout == nil {
			s.Stdout = io.Discard
		}
		if s.Stderr == nil && !s.Terminal {
			s.Stderr = io.Discard
		}
	}
	return func(id string) (*IO, error) {
		cfg, err := makeFIFOs(dir, id, s.Terminal, s.Stdin != nil, s.Stdout != nil, s.Stderr != nil)
		if err != nil {
			return nil, err
		}
		i, err := openFIFOs(cfg, s)
		if err != nil {
			removeFIFOs(cfg)
			return nil, err
		}
		return i, nil
	}
}

// DetachedFIFOs makes the FIFOs of a process nobody reads or writes yet
// (stdin, stdout, and stderr unless terminal), so that a client can attach
// to it later (Attach); output written meanwhile may be dropped or block.
// The IO holds read sides open, since containerd's shim waits for a reader
// when it creates the process; close it once the process started.
func DetachedFIFOs(dir string, terminal bool) Creator {
	return func(id string) (*IO, error) {
		cfg, err := makeFIFOs(dir, id, terminal, true, true, true)
		if err != nil {
			return nil, err
		}
		i := &IO{config: cfg}
		for _, p := range []string{cfg.Stdout, cfg.Stderr} {
			if p == "" {
				continue
			}
			f, err := os.OpenFile(p, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
			if err != nil {
				i.Close()
				removeFIFOs(cfg)
				return nil, fmt.Errorf("open fifo: %w", err)
			}
			i.closers = append(i.closers, f)
		}
		return i, nil
	}
}

// Attach reconnects s to the FIFOs an existing process was created with
// (from Tasks.Get): the ones both named there and connected in s. Output
// sent to a log URI stays there.
func Attach(s Streams) Attacher {
	return func(cfg IOConfig) (*IO, error) {
		s.Terminal = cfg.Terminal
		if !isFIFO(cfg.Stdin) {
			s.Stdin = nil
		}
		if !isFIFO(cfg.Stdout) {
			s.Stdout = nil
		}
		if !isFIFO(cfg.Stderr) {
			s.Stderr = nil
		}
		i, err := openFIFOs(cfg, s)
		if err != nil {
			return nil, fmt.Errorf("attach: %w", err)
		}
		return i, nil
	}
}

// isFIFO reports whether a stdio path names a FIFO rather than nothing or
// a URI.
func isFIFO(p string) bool { return p != "" && !strings.Contains(p, "://") }

// makeFIFOs creates a FIFO for each wanted stream (never stderr with a
// terminal) in a new directory under dir.
func makeFIFOs(dir, id string, terminal, stdin, stdout, stderr bool) (IOConfig, error) {
	cfg := IOConfig{Terminal: terminal}
	if !stdin && !stdout && !(stderr && !terminal) {
		return cfg, nil
	}
	if dir == "" {
		dir = DefaultFIFODir
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return cfg, fmt.Errorf("create fifo dir: %w", err)
	}
	d, err := os.MkdirTemp(dir, "")
	if err != nil {
		return cfg, fmt.Errorf("create fifo dir: %w", err)
	}
	name := func(stream string) string { return filepath.Join(d, id+"-"+stream) }
	if stdin {
		cfg.Stdin = name("stdin")
	}
	if stdout {
		cfg.Stdout = name("stdout")
	}
	if stderr && !terminal {
		cfg.Stderr = name("stderr")
	}
	for _, p := range []string{cfg.Stdin, cfg.Stdout, cfg.Stderr} {
		if p == "" {
			continue
		}
		if err := syscall.Mkfifo(p, 0o700); err != nil {
			removeFIFOs(cfg)
			os.Remove(d)
			return IOConfig{}, fmt.Errorf("create fifo %s: %w", p, err)
		}
	}
	return cfg, nil
}

// openFIFOs opens our ends of the FIFOs in cfg that s connects and starts
// copying output; stdin copying starts later (IO.startStdin). Every read
// side is open when it returns: a shim opens the write side without
// blocking and drops output while no reader exists.
func openFIFOs(cfg IOConfig, s Streams) (_ *IO, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	i := &IO{config: cfg, cancel: cancel, src: s.Stdin}
	defer func() {
		if err != nil {
			i.Close()
		}
	}()
	if isFIFO(cfg.Stdin) && s.Stdin != nil {
		f, err := fifo.OpenFifo(ctx, cfg.Stdin, syscall.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return nil, fmt.Errorf("open stdin fifo: %w", err)
		}
		i.stdin = f
		i.closers = append(i.closers, f)
	}
	if err := i.copyOutput(ctx, cfg.Stdout, s.Stdout); err != nil {
		return nil, fmt.Errorf("open stdout fifo: %w", err)
	}
	if !cfg.Terminal {
		if err := i.copyOutput(ctx, cfg.Stderr, s.Stderr); err != nil {
			return nil, fmt.Errorf("open stderr fifo: %w", err)
		}
	}
	return i, nil
}

// copyOutput copies FIFO path to dst until the shim closes its end.
//
// The blocking open that makes the reader wait for the shim runs in a
// goroutine (fifo.OpenFifo), so it may not be in the kernel yet when the
// shim opens its end; a non-blocking open done here first is a reader from
// now on. It reads nothing, and is closed with the IO.
func (i *IO) copyOutput(ctx context.Context, path string, dst io.Writer) error {
	if !isFIFO(path) || dst == nil {
		return nil
	}
	f, err := fifo.OpenFifo(ctx, path, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	i.closers = append(i.closers, f)
	holder, err := os.OpenFile(path, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	i.closers = append(i.closers, holder)
	i.output.Add(1)
	go func() {
		defer i.output.Done()
		_, err := copyBufferErr(dst, f)
		f.Close()
		if errors.Is(err, fifo.ErrReadClosed) {
			// The open was abandoned (IO.Wait), maybe after a writer had
			// come and gone: what it wrote is still in the pipe.
			copyBuffer(dst, holder)
		}
	}()
	return nil
}

func copyBufferErr(dst io.Writer, src io.Reader) (int64, error) {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	return io.CopyBuffer(dst, src, *bp)
}
