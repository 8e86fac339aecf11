package stdio

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Streams names where a process's stdio goes: FIFO paths (or file:// log
// URIs for output), empty for a stream the client does not want.
type Streams struct {
	Stdin, Stdout, Stderr string
	Terminal              bool
}

// Copier moves bytes between a process's stdio and its client.
type Copier struct {
	stdin *stdinFIFO // nil without stdin

	sources []io.Closer
	outputs []output
	wg      sync.WaitGroup
	done    chan struct{}
}

// CopyPipes starts copying between the client's streams and p.
func CopyPipes(s Streams, p *Pipes) (*Copier, error) {
	c := &Copier{done: make(chan struct{})}
	if err := c.copyOut(s.Stdout, p.stdoutR); err != nil {
		return nil, c.abort(fmt.Errorf("stdout: %w", err))
	}
	if err := c.copyOut(s.Stderr, p.stderrR); err != nil {
		return nil, c.abort(fmt.Errorf("stderr: %w", err))
	}
	if s.Stdin != "" && p.stdinW != nil {
		if err := c.copyIn(s.Stdin, p.stdinW, true); err != nil {
			return nil, c.abort(fmt.Errorf("stdin: %w", err))
		}
	}
	c.start()
	return c, nil
}

// copyOut starts copying src to the target; src is closed when done.
func (c *Copier) copyOut(target string, src io.ReadCloser) error {
	if target == "" || src == nil {
		return nil
	}
	out, err := openOutput(target)
	if err != nil {
		return err
	}
	c.outputs = append(c.outputs, out)
	c.sources = append(c.sources, src)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		copyBuffer(out, src)
	}()
	return nil
}

func (c *Copier) start() {
	go func() {
		c.wg.Wait()
		close(c.done)
	}()
}

func (c *Copier) abort(err error) error {
	c.start()
	c.closeAll()
	return err
}

// Wait returns once the process's output has been copied, or after drain,
// when a background child still holds the output open: then the streams are
// closed and whatever it writes later is lost. Call it after the process
// exited.
func (c *Copier) Wait(drain time.Duration) {
	if c == nil {
		return
	}
	t := time.NewTimer(drain)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	}
	c.closeAll()
	<-c.done
}

// Close stops all copying now.
func (c *Copier) Close() {
	if c == nil {
		return
	}
	c.closeAll()
}

func (c *Copier) closeAll() {
	for _, s := range c.sources {
		s.Close()
	}
	for _, o := range c.outputs {
		o.Close()
	}
	if c.stdin != nil {
		c.stdin.stop()
	}
}

// ensure *os.File satisfies output, as log files are plain files.
var _ output = (*os.File)(nil)
