package testutil

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ContainerdOptions configures a private containerd (see StartContainerd).
type ContainerdOptions struct {
	// Plugins, if set, returns more plugin tables for config.toml given the
	// daemon's Dir, e.g. `[plugins."io.containerd.runtime.v1.linux"]` with
	// the v1 runtime's shim and runtime_root.
	Plugins func(dir string) string
	// Links are programs linked into Dir/bin, which goes first on the
	// daemon's PATH (and so its shims'): name → the file linked to, e.g.
	// "containerd-shim-seed-v2" → our containerd-shim.
	Links map[string]string
}

// Containerd is a private containerd 1.6 (the system's `containerd`) with
// its root, state, sockets and log under Dir; CRI is disabled and it logs
// at debug level.
type Containerd struct {
	Address string // the gRPC socket; the ttrpc one is Address+".ttrpc"
	Dir     string // a short temp dir, removed when the test ends
	Log     string // the daemon's stdout and stderr, kept across restarts

	t      testing.TB
	bin    string
	config string
	env    []string
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartContainerd writes a config.toml, starts containerd and waits until
// it serves. When t ends, containerd is stopped (its log dumped if t
// failed) and then processes or mounts left under Dir fail the test. So
// that cleanups run last-registered-first, work to do while the daemon
// still runs is registered after StartContainerd, and work for after it
// stopped, before.
func StartContainerd(t testing.TB, opts ContainerdOptions) *Containerd {
	t.Helper()
	bin := RequireBinary(t, "containerd")
	dir := ShortTempDir(t)
	CheckNoLeaks(t, dir) // registered first among dir's users, so checked last

	c := &Containerd{
		Address: filepath.Join(dir, "c.sock"),
		Dir:     dir,
		Log:     filepath.Join(dir, "containerd.log"),
		t:       t,
		bin:     bin,
		config:  filepath.Join(dir, "config.toml"),
	}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[debug]
  address = %q
  level = "debug"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.Address, c.Address+".ttrpc",
		filepath.Join(dir, "debug.sock"), filepath.Join(dir, "opt"))
	if opts.Plugins != nil {
		config += opts.Plugins(dir)
	}
	if err := os.WriteFile(c.config, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if len(opts.Links) > 0 {
		c.env = c.linkBinaries(opts.Links)
	}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			c.DumpLog()
		}
	})
	c.Start()
	return c
}

// linkBinaries makes Dir/bin with links and returns the environment with
// Dir/bin first on PATH.
func (c *Containerd) linkBinaries(links map[string]string) []string {
	binDir := filepath.Join(c.Dir, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	names := make([]string, 0, len(links))
	for name := range links {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := os.Symlink(links[name], filepath.Join(binDir, name)); err != nil {
			c.t.Fatal(err)
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	return append(env, "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// Start runs containerd (again, after Stop) and waits until it serves.
func (c *Containerd) Start() {
	t := c.t
	t.Helper()
	logFile, err := os.OpenFile(c.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(c.bin, "--config", c.config, "--log-level", "debug")
	cmd.Env = c.env // nil: ours
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = c.Dir
	if err := cmd.Start(); err != nil {
		t.Fatalf("start containerd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	c.cmd, c.exited = cmd, exited

	// containerd listens once its plugins are loaded.
	WaitFor(t, 20*time.Second, func() bool {
		if !c.Running() {
			return true
		}
		conn, err := net.Dial("unix", c.Address)
		if err == nil {
			conn.Close()
		}
		return err == nil
	}, "containerd to listen on "+c.Address)
	if !c.Running() {
		c.DumpLog()
		t.Fatalf("containerd exited at startup: %v", cmd.ProcessState)
	}
}

// Running tells whether containerd was started and has not exited.
func (c *Containerd) Running() bool {
	if c.exited == nil {
		return false
	}
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// Stop ends containerd with SIGTERM (SIGKILL after 15s); its shims and
// containers stay.
func (c *Containerd) Stop() {
	if !c.Running() {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(15 * time.Second):
		c.t.Errorf("containerd did not exit 15s after SIGTERM; killing it")
		c.cmd.Process.Kill()
		<-c.exited
	}
}

// DumpLog logs the end of containerd's log.
func (c *Containerd) DumpLog() {
	b, err := os.ReadFile(c.Log)
	if err != nil {
		c.t.Logf("containerd log: %v", err)
		return
	}
	const max = 64 << 10
	if len(b) > max {
		b = append([]byte("...\n"), b[len(b)-max:]...)
	}
	c.t.Logf("containerd log (%s):\n%s", c.Log, b)
}
