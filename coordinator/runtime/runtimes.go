package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/seedrt/seed/errdefs"
)

// Runtime names our own shim serves by default; containerd's ctr asks for
// the first.
const (
	DefaultRuntime = "io.containerd.runc.v2"
	RuncV1Runtime  = "io.containerd.runc.v1"
	LinuxV1Runtime = "io.containerd.runtime.v1.linux"
)

// Shim protocols.
const (
	ProtocolV2 = "v2"
	ProtocolV1 = "v1"
)

// RuntimeOptions configure one named runtime (the daemon's [runtime.runtimes.NAME]).
type RuntimeOptions struct {
	Protocol      string `toml:"protocol"`       // v2 (default) or v1
	Shim          string `toml:"shim"`           // name on PATH or path; empty: our containerd-shim
	Runc          string `toml:"runc"`           // the OCI runtime binary; empty: runc
	RuncRoot      string `toml:"runc_root"`      // its --root; empty: the daemon's
	SystemdCgroup bool   `toml:"systemd_cgroup"` // use the systemd cgroup driver
}

// runtime is a runtime name resolved to what runs it.
type runtime struct {
	Name string
	RuntimeOptions
}

// builtin are the runtimes that need no configuration.
var builtin = map[string]RuntimeOptions{
	DefaultRuntime: {Protocol: ProtocolV2},
	RuncV1Runtime:  {Protocol: ProtocolV2},
	LinuxV1Runtime: {Protocol: ProtocolV1},
}

// resolve finds how to run a runtime name: the configuration first, then
// the builtin names, then containerd's convention for third-party v2 shims,
// io.containerd.NAME.vN → containerd-shim-NAME-vN on PATH. Every error names
// the runtime.
func (m *Manager) resolve(name string) (runtime, error) {
	if name == "" {
		name = m.cfg.DefaultRuntime
	}
	if name == "" {
		name = DefaultRuntime
	}
	opts, ok := m.cfg.Runtimes[name]
	if !ok {
		opts, ok = builtin[name]
	}
	if !ok {
		bin, err := conventionShim(name)
		if err != nil {
			return runtime{}, err
		}
		opts = RuntimeOptions{Protocol: ProtocolV2, Shim: bin}
	}
	r := runtime{Name: name, RuntimeOptions: opts}
	switch r.Protocol {
	case "":
		r.Protocol = ProtocolV2
	case ProtocolV1, ProtocolV2:
	default:
		return runtime{}, fmt.Errorf("runtime %q: unknown shim protocol %q (want v1 or v2): %w", name, r.Protocol, errdefs.ErrInvalidArgument)
	}
	shim, err := findBinary(name, "shim", r.Shim, m.cfg.ShimBinary)
	if err != nil {
		return runtime{}, err
	}
	r.Shim = shim
	if r.RuncRoot == "" {
		r.RuncRoot = m.cfg.RuncRoot
	}
	if r.Runc != "" {
		if r.Runc, err = findBinary(name, "OCI runtime", r.Runc, ""); err != nil {
			return runtime{}, err
		}
	}
	return r, nil
}

// Validate tells whether a runtime name can run tasks, so a container that
// could never run is refused when it is created.
func (m *Manager) Validate(name string) error {
	_, err := m.resolve(name)
	return err
}

func conventionShim(name string) (string, error) {
	parts := strings.Split(name, ".")
	if len(parts) < 3 || !strings.HasPrefix(parts[len(parts)-1], "v") {
		return "", fmt.Errorf("runtime %q is not configured and not of the form io.containerd.NAME.vN: %w", name, errdefs.ErrInvalidArgument)
	}
	bin := "containerd-shim-" + parts[len(parts)-2] + "-" + parts[len(parts)-1]
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("runtime %q: shim binary %s not found on PATH: %w", name, bin, errdefs.ErrNotFound)
	}
	return path, nil
}

// findBinary resolves a configured binary (a path, or a name on PATH);
// empty means fallback.
func findBinary(runtime, what, bin, fallback string) (string, error) {
	if bin == "" {
		bin = fallback
	}
	if !strings.Contains(bin, "/") {
		p, err := exec.LookPath(bin)
		if err != nil {
			return "", fmt.Errorf("runtime %q: %s %q not found on PATH: %w", runtime, what, bin, errdefs.ErrNotFound)
		}
		return p, nil
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("runtime %q: %s %s: %w", runtime, what, bin, errdefs.ErrNotFound)
	}
	return bin, nil
}
