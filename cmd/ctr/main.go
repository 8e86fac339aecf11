// Command ctr is a lean, containerd-compatible command-line client: it
// drives a containerd 1.6 compatible daemon through package client, one RPC
// per operation where containerd's ctr reloads metadata.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

// version is the client's version, set with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

// run runs the command line and returns the process exit code.
func run(args []string) int {
	err := execute(args)
	var exit exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return int(exit)
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintf(os.Stderr, "ctr: %v\n", err)
	return 1
}

// exitError makes ctr exit with a code, printing nothing (the exit code of
// a container's process).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// errUsage reports a command line error already explained on stderr.
var errUsage = errors.New("usage error")
