// Package failpoint lets crash-consistency tests kill the daemon at a named
// point of an operation, the way a power cut or SIGKILL would.
package failpoint

import (
	"os"
	"syscall"
	"time"
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

// SlowDown is how long Pause waits when its failpoint is armed.
const SlowDown = 2 * time.Second

// Pause sleeps SlowDown if name is the armed failpoint, to hold an
// operation in the middle where a test wants to look at it.
func Pause(name string) {
	if armed != "" && armed == name {
		time.Sleep(SlowDown)
	}
}
