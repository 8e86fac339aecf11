package stdio

import (
	"fmt"
	"io"
	"os"
	"os/exec"
)

// Pipes are the stdio of a process without a terminal: one pipe per stream
// the client asked for, /dev/null for the others. It implements go-runc's IO.
type Pipes struct {
	stdinR, stdinW   *os.File // child reads stdinR
	stdoutR, stdoutW *os.File // child writes stdoutW
	stderrR, stderrW *os.File
}

// NewPipes makes the pipes for the streams that are set.
func NewPipes(s Streams) (p *Pipes, err error) {
	p = &Pipes{}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if p.stdinR, p.stdinW, err = pipeOrNull(s.Stdin != "", true); err != nil {
		return nil, fmt.Errorf("stdin: %w", err)
	}
	if p.stdoutR, p.stdoutW, err = pipeOrNull(s.Stdout != "", false); err != nil {
		return nil, fmt.Errorf("stdout: %w", err)
	}
	if p.stderrR, p.stderrW, err = pipeOrNull(s.Stderr != "", false); err != nil {
		return nil, fmt.Errorf("stderr: %w", err)
	}
	return p, nil
}

// pipeOrNull returns a pipe, or /dev/null on the child's side only. The child
// must never inherit runc's own stdout: a detached container would hold it
// open and go-runc would wait for it forever.
func pipeOrNull(want, childReads bool) (r, w *os.File, err error) {
	if want {
		return os.Pipe()
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	if childReads {
		return null, nil, nil
	}
	return nil, null, nil
}

// Stdin is the shim's end of the process's stdin (nil if none was asked for).
func (p *Pipes) Stdin() io.WriteCloser {
	if p.stdinW == nil {
		return nil
	}
	return p.stdinW
}

// Stdout is the shim's end of the process's stdout.
func (p *Pipes) Stdout() io.ReadCloser { return readCloser(p.stdoutR) }

// Stderr is the shim's end of the process's stderr.
func (p *Pipes) Stderr() io.ReadCloser { return readCloser(p.stderrR) }

// Set gives the child ends to the runc command; the container inherits them.
func (p *Pipes) Set(cmd *exec.Cmd) {
	cmd.Stdin = p.stdinR
	cmd.Stdout = p.stdoutW
	cmd.Stderr = p.stderrW
}

// CloseAfterStart closes the shim's copies of the child ends, so the
// process's exit (not ours) ends the output streams.
func (p *Pipes) CloseAfterStart() error {
	closeAll(p.stdinR, p.stdoutW, p.stderrW)
	return nil
}

// Close closes every end.
func (p *Pipes) Close() error {
	closeAll(p.stdinR, p.stdinW, p.stdoutR, p.stdoutW, p.stderrR, p.stderrW)
	return nil
}

// readCloser keeps a missing stream a nil interface, not a typed nil.
func readCloser(f *os.File) io.ReadCloser {
	if f == nil {
		return nil
	}
	return f
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}
