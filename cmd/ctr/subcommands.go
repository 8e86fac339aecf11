package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/seedrt/seed/client"
)

// The subcommands that containers, tasks and namespaces have in common:
// `ls [-q]` and `rm NAME...`, made from what differs between them.

// listCommand is the `ls [-q]` subcommand of a group.
type listCommand struct {
	group, summary string
	// key is what the first column of the rows holds (and -q prints
	// alone), for the flag's help: "ids", "names".
	key string
	// list returns a table: a header and a row per object.
	list func(ctx context.Context, c *client.Client, args []string) (header []string, rows [][]string, err error)
}

func (l listCommand) command() *command {
	run := func(g *globals, args []string) error {
		var quiet bool
		fs := newFlags("ctr " + l.group + " ls")
		boolFlag(fs, &quiet, "print only the "+l.key, "quiet", "q")
		c, pos, err := g.open(fs, args, 0, "")
		if err != nil {
			return err
		}
		defer c.Close()
		header, rows, err := l.list(context.Background(), c, pos)
		if err != nil {
			return err
		}
		if quiet {
			for _, row := range rows {
				fmt.Println(row[0])
			}
			return nil
		}
		w := tabwriter.NewWriter(os.Stdout, 4, 8, 4, ' ', 0)
		for _, row := range append([][]string{header}, rows...) {
			fmt.Fprintln(w, strings.Join(row, "\t")+"\t")
		}
		return w.Flush()
	}
	return &command{name: "ls", aliases: []string{"list"}, usage: "[-q]", summary: l.summary, run: run}
}

// removeCommand is the `rm` subcommand of a group: remove runs for each
// argument, and the errors are joined.
type removeCommand struct {
	group, usage, summary string
	what                  string              // the arguments, for the error when there is none
	flags                 func(*flag.FlagSet) // registers its flags, if any
	remove                func(ctx context.Context, c *client.Client, name string) error
}

func (r removeCommand) command() *command {
	run := func(g *globals, args []string) error {
		fs := newFlags("ctr " + r.group + " rm")
		if r.flags != nil {
			r.flags(fs)
		}
		c, pos, err := g.open(fs, args, 1, r.what)
		if err != nil {
			return err
		}
		defer c.Close()
		var errs []error
		for _, name := range pos {
			errs = append(errs, r.remove(context.Background(), c, name))
		}
		return errors.Join(errs...)
	}
	return &command{name: "rm", aliases: []string{"delete", "del", "remove"}, usage: r.usage, summary: r.summary, run: run}
}

// open is parseArgs, then connects to the daemon. The caller closes the
// client.
func (g *globals) open(fs *flag.FlagSet, args []string, min int, what string) (*client.Client, []string, error) {
	pos, err := parseArgs(fs, args, min, what)
	if err != nil {
		return nil, nil, err
	}
	c, err := g.connect()
	return c, pos, err
}
