package shim

import (
	"math"
	"runtime/debug"
	"testing"
)

func currentGCPercent() int {
	p := debug.SetGCPercent(-1)
	debug.SetGCPercent(p)
	return p
}

func currentMemoryLimit() int64 { return debug.SetMemoryLimit(-1) }

// An idle shim's GC is paused under a memory limit; the next operation
// turns it back on as it was.
func TestTrimPausesGCUntilTheNextOperation(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(50))
	defer debug.SetMemoryLimit(math.MaxInt64)
	var tr trimmer
	tr.idle()
	if got := currentGCPercent(); got != -1 {
		t.Fatalf("GC percent after idle = %d, want -1 (paused)", got)
	}
	if got := currentMemoryLimit(); got != idleMemoryLimit {
		t.Fatalf("memory limit after idle = %d, want %d", got, idleMemoryLimit)
	}
	tr.after("/containerd.task.v2.Task/State") // a read leaves it paused
	if got := currentGCPercent(); got != -1 {
		t.Fatalf("GC percent after a read = %d, want -1", got)
	}
	tr.after("/containerd.task.v2.Task/Start")
	tr.timer.Stop()
	if got := currentGCPercent(); got != 50 {
		t.Fatalf("GC percent after an operation = %d, want 50", got)
	}
	if got := currentMemoryLimit(); got != math.MaxInt64 {
		t.Fatalf("memory limit after an operation = %d, want none", got)
	}
}
