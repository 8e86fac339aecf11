package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/seedrt/seed/client"
	"github.com/seedrt/seed/errdefs"
)

// command is a (sub)command: it runs, or dispatches to its subcommands.
type command struct {
	name    string
	aliases []string
	usage   string // arguments, shown after the name
	summary string
	run     func(g *globals, args []string) error
	subs    []*command
}

func commands() []*command {
	return []*command{
		runCmd(),
		containersCommand(),
		tasksCommand(),
		{name: "events", usage: "[FILTER...]", summary: "print events", run: cmdEvents},
		{name: "version", summary: "print client and daemon versions", run: cmdVersion},
		namespacesCommand(),
	}
}

// globals are the global flags.
type globals struct {
	address   string
	namespace string
}

// execute parses the global flags and runs the command they precede.
func execute(args []string) error {
	g := &globals{
		address:   envOr("CONTAINERD_ADDRESS", client.DefaultAddress),
		namespace: envOr("CONTAINERD_NAMESPACE", client.DefaultNamespace),
	}
	fs := newFlags("ctr")
	stringFlag(fs, &g.address, g.address, "daemon socket `address`", "address", "a")
	stringFlag(fs, &g.namespace, g.namespace, "`namespace` to work in", "namespace", "n")
	fs.Usage = func() { printUsage("ctr [--address A] [-n NS]", commands(), fs) }
	if err := parse(fs, args); err != nil {
		return err
	}
	return dispatch(g, "ctr", commands(), fs.Args())
}

func dispatch(g *globals, path string, cmds []*command, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(path, cmds, nil)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	for _, c := range cmds {
		if c.name != args[0] && !contains(c.aliases, args[0]) {
			continue
		}
		if c.subs != nil {
			return dispatch(g, path+" "+c.name, c.subs, args[1:])
		}
		return c.run(g, args[1:])
	}
	fmt.Fprintf(os.Stderr, "%s: unknown command %q\n", path, args[0])
	printUsage(path, cmds, nil)
	return errUsage
}

func printUsage(path string, cmds []*command, fs *flag.FlagSet) {
	fmt.Fprintf(os.Stderr, "usage: %s COMMAND\n", path)
	if fs != nil {
		fs.PrintDefaults()
	}
	fmt.Fprintln(os.Stderr, "commands:")
	for _, c := range cmds {
		name := c.name
		if len(c.aliases) > 0 {
			name += " (" + strings.Join(c.aliases, ", ") + ")"
		}
		fmt.Fprintf(os.Stderr, "  %-26s %s\n", name, c.summary)
		if c.usage != "" {
			fmt.Fprintf(os.Stderr, "  %-26s   %s %s\n", "", c.name, c.usage)
		}
	}
}

// newFlags returns a flag set for a command; parsing stops at the first
// argument that is not a flag, so everything after ID belongs to the
// container's command.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	return fs
}

// parse parses a command's flags; a bad one is a usage error, already
// explained on stderr by the flag package.
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return errUsage
	}
	return err
}

func boolFlag(fs *flag.FlagSet, p *bool, usage string, names ...string) {
	for _, n := range names {
		fs.BoolVar(p, n, false, usage)
	}
}

func stringFlag(fs *flag.FlagSet, p *string, value, usage string, names ...string) {
	for _, n := range names {
		fs.StringVar(p, n, value, usage)
	}
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// parseArgs parses a command's flags (registered on fs) and returns the
// positional arguments that follow, at least min of them (what names them
// in the error).
func parseArgs(fs *flag.FlagSet, args []string, min int, what string) ([]string, error) {
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() < min {
		fmt.Fprintf(os.Stderr, "%s: missing %s\n", fs.Name(), what)
		return nil, errUsage
	}
	return fs.Args(), nil
}

// connect connects to the daemon in the namespace.
func (g *globals) connect() (*client.Client, error) {
	c, err := client.New(g.address, client.WithNamespace(g.namespace))
	if errdefs.IsUnavailable(err) {
		return nil, fmt.Errorf("cannot connect to daemon at %s: is it running?", g.address)
	}
	return c, err
}

// explain turns a task call's "not found" into "container "x": not found"
// when it is the container that does not exist; that costs one more call,
// on the error path only.
func explain(ctx context.Context, c *client.Client, id string, err error) error {
	if !errdefs.IsNotFound(err) {
		return err
	}
	if _, cerr := c.LoadContainer(ctx, id); errdefs.IsNotFound(cerr) {
		return cerr
	}
	return err
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
