package main

import (
	"context"
	"errors"
	"syscall"

	"github.com/containerd/console"

	"github.com/seedrt/seed/client"
)

func runCmd() *command {
	return &command{
		name:    "run",
		usage:   "[--rm] [-d] [-t] --rootfs DIR [flags] ID CMD [ARGS...]",
		summary: "create a container and run its task",
		run:     cmdRun,
	}
}

// cmdRun creates a container and its task and starts it. Attached, it
// waits for the task to exit and exits with its code: Containers.Create,
// Tasks.Create, Tasks.Wait, Tasks.Start, Tasks.Delete (+ Containers.Delete
// with --rm). Detached, it stops after Tasks.Start.
func cmdRun(g *globals, args []string) (err error) {
	var (
		cf         containerFlags
		iof        ioFlags
		rm, detach bool
	)
	fs := newFlags("ctr run")
	cf.register(fs)
	iof.register(fs)
	fs.BoolVar(&rm, "rm", false, "delete the task and the container when the task exits")
	boolFlag(fs, &detach, "start the task and return", "detach", "d")
	pos, err := parseArgs(fs, args, 2, "ID and CMD")
	if err != nil {
		return err
	}
	if rm && detach {
		return errors.New("--rm and --detach cannot be used together")
	}
	id := pos[0]
	spec, err := cf.spec(g.namespace, id, pos[1:])
	if err != nil {
		return err
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()

	ctr, err := c.NewContainer(ctx, id, spec, cf.runtimeOpt())
	if err != nil {
		return err
	}
	if rm {
		defer func() {
			if derr := ctr.Delete(ctx); derr != nil && err == nil {
				err = derr
			}
		}()
	}
	return runTask(ctx, ctr, &iof, cf.tty, detach)
}

// runTask creates and starts ctr's task; unless detached, it stays attached
// until the task exits, deletes it and returns its exit code as an
// exitError.
func runTask(ctx context.Context, ctr *client.Container, iof *ioFlags, tty, detach bool) (err error) {
	var con console.Console
	if tty && !detach {
		if con, err = rawConsole(); err != nil {
			return err
		}
		if con != nil {
			defer con.Reset()
		}
	}
	task, err := ctr.NewTask(ctx, iof.creator(detach, tty))
	if err != nil {
		return err
	}
	if detach {
		if err := task.Start(ctx); err != nil {
			task.Delete(ctx)
			return err
		}
		return nil
	}
	kill := func(s syscall.Signal) error { return task.Kill(ctx, s, false) }
	st, err := attach(ctx, task, true, kill, con)
	if err != nil {
		task.Delete(ctx)
		return err
	}
	if _, err := task.Delete(ctx); err != nil {
		return err
	}
	return exitCode(st)
}
