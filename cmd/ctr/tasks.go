package main

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"text/tabwriter"

	"github.com/containerd/console"

	"github.com/seedrt/seed/client"
)

func tasksCommand() *command {
	return &command{
		name:    "tasks",
		aliases: []string{"t", "task"},
		summary: "manage tasks",
		subs: []*command{
			{name: "ls", aliases: []string{"list"}, usage: "[-q]", summary: "list tasks", run: cmdTasksList},
			{name: "start", usage: "[-d] ID", summary: "start a container's task", run: cmdTasksStart},
			{name: "attach", usage: "ID", summary: "attach to a task's stdio until it exits", run: cmdTasksAttach},
			{name: "kill", usage: "[-s SIGNAL] [-a] [--exec-id EID] ID", summary: "signal a task", run: cmdTasksKill},
			{name: "exec", usage: "[-t] [-d] --exec-id EID ID CMD [ARGS...]", summary: "run a process in a task", run: cmdTasksExec},
			{name: "ps", usage: "ID", summary: "list a task's processes", run: cmdTasksPs},
			{name: "pause", usage: "ID", summary: "pause a task", run: cmdTasksPause},
			{name: "resume", usage: "ID", summary: "resume a paused task", run: cmdTasksResume},
			{name: "rm", aliases: []string{"delete", "del", "remove"}, usage: "[-f] ID...", summary: "delete stopped tasks", run: cmdTasksDelete},
		},
	}
}

// cmdTasksList: Tasks.List.
func cmdTasksList(g *globals, args []string) error {
	var quiet bool
	fs := newFlags("ctr tasks ls")
	boolFlag(fs, &quiet, "print only the ids", "quiet", "q")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	tasks, err := c.Tasks(context.Background())
	if err != nil {
		return err
	}
	if quiet {
		for _, t := range tasks {
			fmt.Println(t.ContainerID)
		}
		return nil
	}
	w := tabwriter.NewWriter(os.Stdout, 4, 8, 4, ' ', 0)
	fmt.Fprintln(w, "TASK\tPID\tSTATUS\t")
	for _, t := range tasks {
		fmt.Fprintf(w, "%s\t%d\t%s\t\n", t.ContainerID, t.Pid, t.State)
	}
	return w.Flush()
}

// cmdTasksStart creates and starts the task of an existing container:
// Containers.Get (for its terminal), then as `run`.
func cmdTasksStart(g *globals, args []string) error {
	var (
		iof    ioFlags
		detach bool
	)
	fs := newFlags("ctr tasks start")
	iof.register(fs)
	boolFlag(fs, &detach, "start the task and return", "detach", "d")
	if err := parse(fs, args); err != nil {
		return err
	}
	pos, err := needArgs(fs, 1, "ID")
	if err != nil {
		return err
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()
	ctr, err := c.LoadContainer(ctx, pos[0])
	if err != nil {
		return err
	}
	spec, err := ctr.Spec()
	if err != nil {
		return err
	}
	tty := spec.Process != nil && spec.Process.Terminal
	return runTask(ctx, ctr, &iof, tty, detach)
}

// cmdTasksAttach reconnects to a task's stdio and waits for it to exit,
// then deletes it: Tasks.Get, (Tasks.ResizePty), Tasks.Wait, Tasks.Delete.
func cmdTasksAttach(g *globals, args []string) error {
	fs := newFlags("ctr tasks attach")
	if err := parse(fs, args); err != nil {
		return err
	}
	pos, err := needArgs(fs, 1, "ID")
	if err != nil {
		return err
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()
	id := pos[0]
	task, err := c.LoadTask(ctx, id, client.Attach(client.Stdio(false)))
	if err != nil {
		return explain(ctx, c, id, err)
	}
	var con console.Console
	if task.LastStatus().IO.Terminal {
		if con, err = rawConsole(); err != nil {
			return err
		}
		if con != nil {
			defer con.Reset()
		}
	}
	kill := func(s syscall.Signal) error { return task.Kill(ctx, s, false) }
	st, err := attach(ctx, task, false, kill, con)
	if err != nil {
		return err
	}
	if _, err := task.Delete(ctx); err != nil {
		return err
	}
	return exitCode(st)
}

// cmdTasksPs: Tasks.ListPids.
func cmdTasksPs(g *globals, args []string) error {
	return withTask(g, "ps", args, func(ctx context.Context, t *client.Task) error {
		pids, err := t.Pids(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(os.Stdout, 4, 8, 4, ' ', 0)
		fmt.Fprintln(w, "PID\tINFO\t")
		for _, p := range pids {
			info := p.ExecID
			if info == "" {
				info = "-"
			}
			fmt.Fprintf(w, "%d\t%s\t\n", p.Pid, info)
		}
		return w.Flush()
	})
}

// cmdTasksPause: Tasks.Pause.
func cmdTasksPause(g *globals, args []string) error {
	return withTask(g, "pause", args, func(ctx context.Context, t *client.Task) error { return t.Pause(ctx) })
}

// cmdTasksResume: Tasks.Resume.
func cmdTasksResume(g *globals, args []string) error {
	return withTask(g, "resume", args, func(ctx context.Context, t *client.Task) error { return t.Resume(ctx) })
}

// withTask runs a flagless command on the task ID with a bare handle, so
// the command costs one RPC.
func withTask(g *globals, name string, args []string, do func(context.Context, *client.Task) error) error {
	fs := newFlags("ctr tasks " + name)
	if err := parse(fs, args); err != nil {
		return err
	}
	pos, err := needArgs(fs, 1, "ID")
	if err != nil {
		return err
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()
	return explain(ctx, c, pos[0], do(ctx, c.Task(pos[0])))
}
