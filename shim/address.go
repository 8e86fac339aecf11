package shim

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// maxSocketPath leaves room under the 108-byte sun_path limit.
const maxSocketPath = 100

// fallbackSocketDir is where sockets go when the daemon's directory is too
// deep for a socket path; containerd's shims use it too.
const fallbackSocketDir = "/run/containerd/s"

// SocketPath derives a shim's socket from its daemon's address, namespace and
// id: a hash, so it is stable (a second start finds the running shim) and
// distinct per daemon. It lives in an "s" directory beside the daemon's own
// socket, so each daemon's shims stay in that daemon's directories.
func SocketPath(daemonAddress, namespace, id string) string {
	return SocketPathIn("", daemonAddress, namespace, id)
}

// SocketPathIn is SocketPath's socket name in dir (empty: SocketPath's
// directory); in fallbackSocketDir when that path would be too long. Our
// daemon puts the shims it launches itself in its state directory, a
// tmpfs: on a disk file system, creating and removing a socket file per
// container costs the daemon inode allocation (0.44 ms of CPU per
// container on this project's ext4 /tmp).
func SocketPathIn(dir, daemonAddress, namespace, id string) string {
	daemonAddress = strings.TrimPrefix(daemonAddress, "unix://")
	if dir == "" {
		dir = filepath.Join(filepath.Dir(daemonAddress), "s")
	}
	sum := sha256.Sum256([]byte(filepath.Join(daemonAddress, namespace, id)))
	name := hex.EncodeToString(sum[:])
	p := filepath.Join(dir, name)
	if len(p) > maxSocketPath {
		p = filepath.Join(fallbackSocketDir, name)
	}
	return p
}

// listenSocket listens on path, taking over a stale socket file. It returns
// errShimRunning if a live shim already answers there.
func listenSocket(path string) (*net.UnixListener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return nil, fmt.Errorf("create socket dir: %w", err)
	}
	for attempt := 0; ; attempt++ {
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err == nil {
			if err := os.Chmod(path, 0o600); err != nil {
				l.Close()
				return nil, fmt.Errorf("chmod socket: %w", err)
			}
			// The listener goes to the long-lived shim; closing our copy
			// must not remove the file.
			l.SetUnlinkOnClose(false)
			return l, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) || attempt > 0 {
			return nil, fmt.Errorf("listen on %s: %w", path, err)
		}
		if socketAnswers(path) {
			return nil, errShimRunning
		}
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
}

var errShimRunning = errors.New("a shim is already serving this task")

func socketAnswers(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
