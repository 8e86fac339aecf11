package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/containerd/console"

	"github.com/seedrt/seed/client"
)

// ioFlags say where a process's stdio goes.
type ioFlags struct {
	fifoDir string
	logURI  string
	nullIO  bool
}

func (o *ioFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.fifoDir, "fifo-dir", "", "`dir` for the stdio FIFOs (default "+client.DefaultFIFODir+")")
	fs.StringVar(&o.logURI, "log-uri", "", "send output to `uri` (file:///path) instead of ctr")
	fs.BoolVar(&o.nullIO, "null-io", false, "connect no stdio")
}

// creator returns the stdio of a process: ctr's own, or, detached, FIFOs
// left for a later attach.
func (o *ioFlags) creator(detach, tty bool) client.Creator {
	switch {
	case o.nullIO:
		return client.NullIO
	case o.logURI != "":
		return client.LogURI(o.logURI)
	case detach:
		return client.DetachedFIFOs(o.fifoDir, tty)
	}
	return client.NewFIFOs(o.fifoDir, client.Stdio(tty))
}

// rawConsole puts the terminal on ctr's stdin in raw mode, so keys go to
// the container's terminal as typed. Without a terminal it returns nil: the
// process still gets its pty.
func rawConsole() (console.Console, error) {
	con, err := console.ConsoleFromFile(os.Stdin)
	if err != nil {
		return nil, nil
	}
	if err := con.SetRaw(); err != nil {
		return nil, err
	}
	return con, nil
}

// proc is a started, or about to be started, process (task or exec).
type proc interface {
	Wait(ctx context.Context) (<-chan client.ExitStatus, error)
	Start(ctx context.Context) error
	ResizePty(ctx context.Context, width, height uint32) error
}

// forwarded are the signals ctr passes on to the process it is attached to.
var forwarded = []os.Signal{
	syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2,
}

// attach waits for p to exit, starting it first if start. Meanwhile it
// forwards signals to it with kill and keeps its terminal's size in step
// with con's (when not nil). The exit is waited for before p starts, so it
// cannot be missed.
func attach(ctx context.Context, p proc, start bool, kill func(syscall.Signal) error, con console.Console) (client.ExitStatus, error) {
	// Catch signals first: one arriving once the process runs is for it.
	sigc := make(chan os.Signal, 16)
	signal.Notify(sigc, forwarded...)
	if con != nil {
		signal.Notify(sigc, syscall.SIGWINCH)
	}
	defer signal.Stop(sigc)
	exitc, err := p.Wait(ctx)
	if err != nil {
		return client.ExitStatus{}, err
	}
	if start {
		if err := p.Start(ctx); err != nil {
			return client.ExitStatus{}, err
		}
	}
	if con != nil {
		resize(ctx, p, con)
	}
	for {
		select {
		case s := <-sigc:
			if s == syscall.SIGWINCH {
				resize(ctx, p, con)
			} else {
				kill(s.(syscall.Signal)) // it may have exited meanwhile
			}
		case st := <-exitc:
			return st, st.Err
		}
	}
}

func resize(ctx context.Context, p proc, con console.Console) {
	if size, err := con.Size(); err == nil {
		p.ResizePty(ctx, uint32(size.Width), uint32(size.Height))
	}
}

// exitCode makes a process's exit code ctr's.
func exitCode(st client.ExitStatus) error {
	if st.Code != 0 {
		return exitError(st.Code)
	}
	return nil
}
