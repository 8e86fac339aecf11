package daemon_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/seedrt/seed/tests/testutil"
)

// runtimesConfig names the four kinds of shim our daemon drives.
const runtimesConfig = `
version = 2
[runtime.runtimes."seed.debian.v2"]
  protocol = "v2"
  shim = "/usr/bin/containerd-shim-runc-v2"
[runtime.runtimes."seed.debian.v1"]
  protocol = "v1"
  shim = "/usr/bin/containerd-shim"
  runc = "runc"
[runtime.runtimes."seed.badproto"]
  protocol = "v3"
[runtime.runtimes."seed.noshim"]
  shim = "/nonexistent/containerd-shim-x"
`

// runtimeMatrix is every kind of shim our daemon drives: ours over v2 and
// v1, Debian's containerd-shim-runc-v2 (v2) and containerd-shim (v1).
var runtimeMatrix = []struct{ name, runtime, shim string }{
	{"ours-v2", "io.containerd.runc.v2", "containerd-shim"},
	{"ours-v1", "io.containerd.runtime.v1.linux", "containerd-shim"},
	{"containerd-shim-runc-v2", "seed.debian.v2", "containerd-shim-runc-v2"},
	{"containerd-shim-v1", "seed.debian.v1", "containerd-shim"},
}

// The task lifecycle through containerd's ctr, for each runtime.
func TestRuntimeMatrix(t *testing.T) {
	for _, rt := range runtimeMatrix {
		t.Run(rt.name, func(t *testing.T) {
			testutil.RequireBinary(t, filepath.Base(rt.shim))
			d := startDaemonWithConfig(t, runtimesConfig)
			ctrLifecycle(t, d, rt.runtime, rt.shim)
		})
	}
}

// Bad runtime configuration is refused when a container is created, with
// an error naming the runtime, and leaves no container behind.
func TestBadRuntimeConfig(t *testing.T) {
	ctr := testutil.RequireBinary(t, "ctr")
	d := startDaemonWithConfig(t, runtimesConfig)
	for _, tc := range []struct{ runtime, want string }{
		{"seed.badproto", "unknown shim protocol"},
		{"seed.noshim", "/nonexistent/containerd-shim-x"},
		{"io.containerd.nowhere.v2", "containerd-shim-nowhere-v2 not found"},
	} {
		out, err := d.ctr(ctr, "cfg", "run", "--fifo-dir", filepath.Join(d.dir, "fifo"), "--runtime", tc.runtime,
			"--rootfs", testutil.BusyboxRootfs(t), "x", "/bin/true")
		if err == nil || !strings.Contains(out, tc.runtime) || !strings.Contains(out, tc.want) {
			t.Errorf("runtime %s: err %v, output %q; want an error naming it and %q", tc.runtime, err, out, tc.want)
		}
		if out := d.mustCtr(ctr, "cfg", "c", "ls"); strings.Contains(out, " x ") || strings.Contains(out, "\nx ") {
			t.Errorf("runtime %s left a container:\n%s", tc.runtime, out)
		}
	}
}
