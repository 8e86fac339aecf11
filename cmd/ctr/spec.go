package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/seedrt/seed/client"
	"github.com/seedrt/seed/oci"
	"github.com/seedrt/seed/shimapi/runcopts"
)

// containerFlags are the flags that describe a new container.
type containerFlags struct {
	rootfs  string
	runtime string
	env     listFlag
	cwd     string
	tty     bool
}

func (o *containerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.rootfs, "rootfs", "", "root filesystem `dir` of the container (required)")
	fs.StringVar(&o.runtime, "runtime", client.DefaultRuntime, "runtime `name`")
	fs.Var(&o.env, "env", "set an environment variable `K=V` (repeatable)")
	fs.StringVar(&o.cwd, "cwd", "", "working `dir` of the process in the container")
	boolFlag(fs, &o.tty, "allocate a terminal", "tty", "t")
}

// spec checks the flags and makes the container's OCI spec; it runs before
// anything is created.
func (o *containerFlags) spec(ns, id string, args []string) (*specs.Spec, error) {
	if o.rootfs == "" {
		return nil, fmt.Errorf("--rootfs is required")
	}
	rootfs, err := filepath.Abs(o.rootfs)
	if err != nil {
		return nil, fmt.Errorf("rootfs %s: %w", o.rootfs, err)
	}
	if fi, err := os.Stat(rootfs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("rootfs %s: no such directory", o.rootfs)
	}
	opts := []oci.SpecOpt{
		oci.WithNamespace(ns),
		oci.WithRootfs(rootfs, false),
		oci.WithArgs(args...),
		oci.WithEnv(o.env...),
		oci.WithTerminal(o.tty),
	}
	if o.cwd != "" {
		opts = append(opts, oci.WithCwd(o.cwd))
	}
	return oci.DefaultSpec(id, opts...), nil
}

// runtimeOpt names the runtime; like containerd's ctr, it sends (empty) runc
// options for io.containerd.runc.v2.
func (o *containerFlags) runtimeOpt() client.ContainerOpt {
	if o.runtime == client.DefaultRuntime {
		return client.WithRuntime(o.runtime, &runcopts.Options{})
	}
	return client.WithRuntime(o.runtime, nil)
}
