package runtime

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/containerd/fifo"
)

// openShimLog creates the bundle's "log" FIFO, which containerd's shims
// (ours too) write their log to, and copies what arrives into the daemon's
// log. containerd's runc shim refuses to run without a reader on it.
func openShimLog(bundle, id string) (io.Closer, error) {
	f, err := fifo.OpenFifo(context.Background(), filepath.Join(bundle, "log"), syscall.O_RDONLY|syscall.O_CREAT|syscall.O_NONBLOCK, 0o700)
	if err != nil {
		return nil, fmt.Errorf("open shim log: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fmt.Fprintf(os.Stderr, "shim %s: %s\n", id, sc.Text())
		}
		f.Close()
	}()
	return f, nil
}
