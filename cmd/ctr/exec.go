package main

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/containerd/console"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/seedrt/seed/client"
	"github.com/seedrt/seed/oci"
)

// cmdTasksExec runs a process in a running task, from the container's
// process spec with the given command: Containers.Get, Tasks.Exec,
// Tasks.Wait, Tasks.Start, Tasks.DeleteProcess.
func cmdTasksExec(g *globals, args []string) error {
	var (
		iof         ioFlags
		execID, cwd string
		env         listFlag
		tty, detach bool
	)
	fs := newFlags("ctr tasks exec")
	iof.register(fs)
	fs.StringVar(&execID, "exec-id", "", "`id` of the new process (required)")
	fs.StringVar(&cwd, "cwd", "", "working `dir` of the process")
	fs.Var(&env, "env", "set an environment variable `K=V` (repeatable)")
	boolFlag(fs, &tty, "allocate a terminal", "tty", "t")
	boolFlag(fs, &detach, "start the process and return", "detach", "d")
	pos, err := parseArgs(fs, args, 2, "ID and CMD")
	if err != nil {
		return err
	}
	if execID == "" {
		return errors.New("--exec-id is required")
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()
	id := pos[0]
	ctr, err := c.LoadContainer(ctx, id)
	if err != nil {
		return err
	}
	pspec, err := execSpec(ctr, pos[1:], cwd, env, tty)
	if err != nil {
		return err
	}
	ioc := iof.creator(false, tty)
	if detach && iof.logURI == "" {
		ioc = client.NullIO // nobody would ever delete the process and its FIFOs
	}

	var con console.Console
	if tty && !detach {
		if con, err = rawConsole(); err != nil {
			return err
		}
		if con != nil {
			defer con.Reset()
		}
	}
	p, err := c.Task(id).Exec(ctx, execID, pspec, ioc)
	if err != nil {
		return explain(ctx, c, id, err)
	}
	if detach {
		if err := p.Start(ctx); err != nil {
			p.Delete(ctx)
			return err
		}
		return nil
	}
	kill := func(s syscall.Signal) error { return p.Kill(ctx, s) }
	st, err := attach(ctx, p, true, kill, con)
	if err != nil {
		p.Delete(ctx)
		return err
	}
	if _, err := p.Delete(ctx); err != nil {
		return err
	}
	return exitCode(st)
}

// execSpec is the container's process spec running args instead.
func execSpec(ctr *client.Container, args []string, cwd string, env []string, tty bool) (*specs.Process, error) {
	spec, err := ctr.Spec()
	if err != nil {
		return nil, err
	}
	if spec.Process == nil {
		return nil, fmt.Errorf("container %q has no process spec", ctr.ID())
	}
	p := *spec.Process
	s := &specs.Spec{Process: &p}
	for _, o := range []oci.SpecOpt{oci.WithArgs(args...), oci.WithEnv(env...), oci.WithTerminal(tty)} {
		o(ctr.ID(), s)
	}
	if cwd != "" {
		p.Cwd = cwd
	}
	return &p, nil
}
