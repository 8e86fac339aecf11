package stdio

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Copying a pipe to an output uses the pooled buffer, not one of its own
// per copy.
func TestCopyUsesThePooledBuffer(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	out, err := openOutput("file://" + log)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	copyOnce := func() {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("line\n"))
		w.Close()
		if n, err := copyBuffer(out, r); n != 5 || err != nil {
			t.Fatalf("copied %d, %v; want 5 bytes", n, err)
		}
		r.Close()
	}
	copyOnce() // fills the pool
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const copies = 20
	for i := 0; i < copies; i++ {
		copyOnce()
	}
	runtime.ReadMemStats(&after)
	// A GC can empty the pool; allow a few refills, not one per copy.
	if perCopy := (after.TotalAlloc - before.TotalAlloc) / copies; perCopy >= bufSize/4 {
		t.Errorf("%d bytes allocated per copy; a buffer of its own each time?", perCopy)
	}
	b, err := os.ReadFile(log)
	if err != nil || len(b) != 5*(copies+1) {
		t.Fatalf("log has %d bytes, %v; want %d", len(b), err, 5*(copies+1))
	}
}
