package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/seedrt/seed/client"
	"github.com/seedrt/seed/errdefs"
)

// cmdTasksKill: Tasks.Kill.
func cmdTasksKill(g *globals, args []string) error {
	var (
		sig, execID string
		all         bool
	)
	fs := newFlags("ctr tasks kill")
	stringFlag(fs, &sig, "SIGTERM", "`signal` to send (name or number)", "signal", "s")
	boolFlag(fs, &all, "signal every process of the task", "all", "a")
	fs.StringVar(&execID, "exec-id", "", "signal exec'd process `EID` instead")
	pos, err := parseArgs(fs, args, 1, "ID")
	if err != nil {
		return err
	}
	s, err := parseSignal(sig)
	if err != nil {
		return err
	}
	if all && execID != "" {
		return errors.New("--all and --exec-id cannot be used together")
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()
	id := pos[0]
	if execID != "" {
		err = c.Task(id).Process(execID).Kill(ctx, s)
	} else {
		err = c.Task(id).Kill(ctx, s, all)
	}
	return explain(ctx, c, id, err)
}

// deleteTask deletes a stopped task, or with force kills it first:
// Tasks.Get (for the state and the FIFOs to remove), Tasks.Delete.
func deleteTask(ctx context.Context, c *client.Client, id string, force bool) error {
	task, err := c.LoadTask(ctx, id, nil)
	if err != nil {
		return err
	}
	if !force {
		return deleteStoppedTask(ctx, task)
	}
	if err := killTask(ctx, task); err != nil {
		return err
	}
	_, err = task.Delete(ctx)
	return err
}

// killTask kills every process of a live task and waits for it to exit.
func killTask(ctx context.Context, task *client.Task) error {
	switch task.LastStatus().State {
	case client.Stopped, client.Created:
		return nil
	case client.Paused, client.Pausing:
		if err := task.Resume(ctx); err != nil { // frozen processes cannot die
			return err
		}
	}
	exitc, err := task.Wait(ctx)
	if err != nil {
		return err
	}
	if err := task.Kill(ctx, syscall.SIGKILL, true); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	st := <-exitc
	return st.Err
}

// deleteStoppedTask deletes a task loaded by LoadTask unless it is alive.
func deleteStoppedTask(ctx context.Context, task *client.Task) error {
	switch st := task.LastStatus().State; st {
	case client.Running, client.Paused, client.Pausing:
		return fmt.Errorf("task %q is %s, it must be stopped first: %w", task.ID(), strings.ToLower(string(st)), errdefs.ErrFailedPrecondition)
	}
	_, err := task.Delete(ctx)
	return err
}

// parseSignal parses a signal name (SIGKILL, KILL, kill) or number.
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
