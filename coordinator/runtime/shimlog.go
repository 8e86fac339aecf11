package runtime

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// openShimLog creates the bundle's "log" FIFO, which containerd's shims
// (ours too) write their log to, and copies what arrives into the daemon's
// log. containerd's runc shim refuses to run without a reader on it.
//
// Both ends are opened without blocking, and the daemon keeps a write end
// itself: the read then never sees EOF between shims' writes and waits on
// the poller, not in an OS thread (a blocking FIFO open holds a thread, one
// per task). Closing the returned closer ends the copy.
func openShimLog(bundle, id string) (io.Closer, error) {
	path := filepath.Join(bundle, "log")
	if err := syscall.Mkfifo(path, 0o700); err != nil && !os.IsExist(err) {
		return nil, fmt.Errorf("create shim log: %w", err)
	}
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open shim log: %w", err)
	}
	w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("open shim log: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			fmt.Fprintf(os.Stderr, "shim %s: %s\n", id, sc.Text())
		}
		r.Close()
	}()
	return closers{w, r}, nil
}

type closers []io.Closer

func (cs closers) Close() error {
	for _, c := range cs {
		c.Close()
	}
	return nil
}
