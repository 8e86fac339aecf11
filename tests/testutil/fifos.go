package testutil

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/fifo"
)

// Buffer is a bytes.Buffer safe for one writer and concurrent readers.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// FIFOs is a client's side of a process's stdio: the FIFOs it made (paths to
// put in a create or exec request), its writing end of stdin, and the output
// collected as it arrives.
type FIFOs struct {
	Stdin, Stdout, Stderr string
	Terminal              bool
	In                    io.WriteCloser
	Out, Err              *Buffer
}

// NewFIFOs makes the FIFOs for a process in a temporary directory, with
// stdin if withStdin, and without stderr for a terminal. The reading ends
// are open before it returns, as a client's must be before the create.
func NewFIFOs(t testing.TB, withStdin, terminal bool) *FIFOs {
	dir := t.TempDir()
	f := &FIFOs{Terminal: terminal, Out: &Buffer{}, Err: &Buffer{}}
	open := func(name string, flags int, w io.Writer) string {
		p := filepath.Join(dir, name)
		rw, err := fifo.OpenFifo(context.Background(), p, flags|syscall.O_CREAT|syscall.O_NONBLOCK, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if w != nil {
			go io.Copy(w, rw)
		} else {
			f.In = rw
		}
		t.Cleanup(func() { rw.Close() })
		return p
	}
	f.Stdout = open("stdout", syscall.O_RDONLY, f.Out)
	if !terminal {
		f.Stderr = open("stderr", syscall.O_RDONLY, f.Err)
	}
	if withStdin {
		f.Stdin = open("stdin", syscall.O_WRONLY, nil)
	}
	return f
}

// WaitOutput waits until stdout contains want.
func (f *FIFOs) WaitOutput(t testing.TB, want string) {
	t.Helper()
	WaitFor(t, 10*time.Second, func() bool { return strings.Contains(f.Out.String(), want) },
		fmt.Sprintf("stdout to contain %q (have %q)", want, f.Out.String()))
}

// WaitOutputIs waits until stdout is exactly want.
func (f *FIFOs) WaitOutputIs(t testing.TB, want string) {
	t.Helper()
	WaitFor(t, 10*time.Second, func() bool { return f.Out.String() == want },
		fmt.Sprintf("stdout %q (have %q)", want, f.Out.String()))
}
