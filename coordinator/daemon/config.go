// Package daemon wires the coordinator together: configuration, the state
// lock, the metadata store, the runtime manager, and the gRPC and ttrpc
// servers.
package daemon

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"

	"github.com/seedrt/seed/coordinator/runtime"
)

// Config is the daemon's configuration: containerd's file format for the
// keys both share, plus a [runtime] table of our own.
type Config struct {
	Version int    `toml:"version"`
	Root    string `toml:"root"`
	State   string `toml:"state"`
	GRPC    struct {
		Address        string `toml:"address"`
		MaxRecvMsgSize int    `toml:"max_recv_message_size"`
		MaxSendMsgSize int    `toml:"max_send_message_size"`
	} `toml:"grpc"`
	TTRPC struct {
		Address string `toml:"address"`
	} `toml:"ttrpc"`
	Debug struct {
		Level string `toml:"level"`
	} `toml:"debug"`
	Runtime RuntimeConfig `toml:"runtime"`
	// Concurrency bounds the task creates, starts and deletes running at
	// once; the rest queue in arrival order. 0: no bound.
	Concurrency int `toml:"concurrency"`
	// StateTmpfs (default true) mounts a tmpfs on the state directory when
	// it is on a disk file system and empty; see ensureTmpfs.
	StateTmpfs *bool `toml:"state_tmpfs"`
	// SpareShim (default true) keeps one of our shims started ahead of
	// the next task, which then skips a shim's start-up.
	SpareShim *bool `toml:"spare_shim"`
}

// RuntimeConfig says how tasks are run.
type RuntimeConfig struct {
	// Shim is our containerd-shim; default: beside the daemon binary.
	Shim string `toml:"shim"`
	// RuncRoot is runc's --root for this daemon; default STATE/runc.
	RuncRoot string `toml:"runc_root"`
	// Default is the runtime of containers that name none.
	Default string `toml:"default"`
	// Runtimes configures runtimes by name ([runtime.runtimes."NAME"]);
	// io.containerd.runc.v2 (v2) and io.containerd.runtime.v1.linux (v1)
	// run our shim without configuration.
	Runtimes map[string]runtime.RuntimeOptions `toml:"runtimes"`
}

// Defaults are containerd's.
const (
	DefaultRoot    = "/var/lib/containerd"
	DefaultState   = "/run/containerd"
	DefaultAddress = "/run/containerd/containerd.sock"
	maxMsgSize     = 16 << 20
)

// LoadConfig reads a TOML file; an empty path gives the defaults.
func LoadConfig(path string) (*Config, error) {
	c := &Config{}
	if path != "" {
		md, err := toml.DecodeFile(path, c)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		_ = md // unknown keys (containerd's plugin tables) are ignored on purpose
	}
	return c, nil
}

// complete fills in defaults and derived values.
func (c *Config) complete() error {
	if c.Root == "" {
		c.Root = DefaultRoot
	}
	if c.State == "" {
		c.State = DefaultState
	}
	if c.GRPC.Address == "" {
		c.GRPC.Address = DefaultAddress
	}
	if c.TTRPC.Address == "" {
		c.TTRPC.Address = c.GRPC.Address + ".ttrpc"
	}
	if c.GRPC.MaxRecvMsgSize == 0 {
		c.GRPC.MaxRecvMsgSize = maxMsgSize
	}
	if c.GRPC.MaxSendMsgSize == 0 {
		c.GRPC.MaxSendMsgSize = maxMsgSize
	}
	var err error
	for _, p := range []*string{&c.Root, &c.State, &c.GRPC.Address, &c.TTRPC.Address} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	if c.Runtime.RuncRoot == "" {
		c.Runtime.RuncRoot = filepath.Join(c.State, "runc")
	}
	if c.Runtime.Shim == "" {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		c.Runtime.Shim = filepath.Join(filepath.Dir(self), "containerd-shim")
	}
	if _, err := os.Stat(c.Runtime.Shim); err != nil {
		return fmt.Errorf("shim binary: %w (set [runtime] shim in the config)", err)
	}
	return nil
}
