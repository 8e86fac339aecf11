package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"text/tabwriter"

	"github.com/containerd/console"

	"github.com/seedrt/seed/client"
)

func tasksCommand() *command {
	var force bool // tasks rm -f
	return &command{
		name:    "tasks",
		aliases: []string{"t", "task"},
		summary: "manage tasks",
		subs: []*command{
			listCommand{group: "tasks", summary: "list tasks", key: "ids", list: listTasks}.command(),
			{name: "start", usage: "[-d] ID", summary: "start a container's task", run: cmdTasksStart},
			{name: "attach", usage: "ID", summary: "attach to a task's stdio until it exits", run: cmdTasksAttach},
			{name: "kill", usage: "[-s SIGNAL] [-a] [--exec-id EID] ID", summary: "signal a task", run: cmdTasksKill},
			{name: "exec", usage: "[-t] [-d] --exec-id EID ID CMD [ARGS...]", summary: "run a process in a task", run: cmdTasksExec},
			{name: "ps", usage: "ID", summary: "list a task's processes", run: cmdTasksPs},
			{name: "pause", usage: "ID", summary: "pause a task", run: cmdTasksPause},
			{name: "resume", usage: "ID", summary: "resume a paused task", run: cmdTasksResume},
			removeCommand{group: "tasks", usage: "[-f] ID...", summary: "delete stopped tasks", what: "ID",
				flags: func(fs *flag.FlagSet) { boolFlag(fs, &force, "kill the task first if it is running", "force", "f") },
				remove: func(ctx context.Context, c *client.Client, id string) error {
					return explain(ctx, c, id, deleteTask(ctx, c, id, force))
				},
			}.command(),
		},
	}
}

// listTasks: Tasks.List.
func listTasks(ctx context.Context, c *client.Client, _ []string) ([]string, [][]string, error) {
	tasks, err := c.Tasks(ctx)
	if err != nil {
		return nil, nil, err
	}
	rows := make([][]string, 0, len(tasks))
	for _, t := range tasks {
		rows = append(rows, []string{t.ContainerID, strconv.FormatUint(uint64(t.Pid), 10), string(t.State)})
	}
	return []string{"TASK", "PID", "STATUS"}, rows, nil
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
	c, pos, err := g.open(fs, args, 1, "ID")
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
	c, pos, err := g.open(fs, args, 1, "ID")
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
	c, pos, err := g.open(fs, args, 1, "ID")
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()
	return explain(ctx, c, pos[0], do(ctx, c.Task(pos[0])))
}
