// Package failpoint lets crash-consistency tests kill the daemon at a named
// point of an operation, the way a power cut or SIGKILL would.
package failpoint

import (
	"os"
	"syscall"
)

// Env names the failpoint to trigger; unset in normal runs.
const Env = "SEED_FAILPOINT"

var armed = os.Getenv(Env)

// Hit kills this process with SIGKILL if name is the armed failpoint.
func Hit(name string) {
	if armed != "" && armed == name {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL is not synchronous
	}
}
