// Package runtime is the daemon's runtime manager: it launches one shim per
// task through the runtime its container names, keeps only the shim's
// connection, and finds every shim again after a restart.
package runtime

import (
	"fmt"
	"os/exec"
	"strings"

	"github.com/seedrt/seed/errdefs"
)

// Runtime names our own shim serves; containerd's ctr asks for the first.
const (
	DefaultRuntime = "io.containerd.runc.v2"
	RuncV1Runtime  = "io.containerd.runc.v1"
	LinuxV1Runtime = "io.containerd.runtime.v1.linux"
)

// resolveShim returns the shim binary for a runtime name: ours for the
// standard names, else containerd's convention, io.containerd.NAME.vN →
// containerd-shim-NAME-vN on PATH.
func (m *Manager) resolveShim(runtime string) (string, error) {
	switch runtime {
	case "", DefaultRuntime, RuncV1Runtime, LinuxV1Runtime:
		return m.cfg.ShimBinary, nil
	}
	parts := strings.Split(runtime, ".")
	if len(parts) < 2 || !strings.HasPrefix(parts[len(parts)-1], "v") {
		return "", fmt.Errorf("runtime %q: want io.containerd.NAME.vN: %w", runtime, errdefs.ErrInvalidArgument)
	}
	name := "containerd-shim-" + parts[len(parts)-2] + "-" + parts[len(parts)-1]
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("runtime %q: shim binary %s not found on PATH: %w", runtime, name, errdefs.ErrNotFound)
	}
	return path, nil
}
