package stdio

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A client that opens its read side only after the process started (as
// containerd's ctr does) still gets what the process wrote first.
func TestFIFOOutputWaitsForItsFirstReader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stdout")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := openOutput(path)
	if err != nil {
		t.Fatal(err)
	}
	wrote := make(chan struct{})
	go func() {
		out.Write([]byte("works\n"))
		out.Close()
		close(wrote)
	}()
	time.Sleep(50 * time.Millisecond) // the reader comes late
	r, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "works\n" {
		t.Fatalf("read %q, %v; want %q", b, err, "works\n")
	}
	<-wrote
}

// With nobody reading, Close ends the wait at once and the write is dropped.
func TestFIFOOutputCloseEndsTheWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stdout")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := openOutput(path)
	if err != nil {
		t.Fatal(err)
	}
	wrote := make(chan struct{})
	go func() {
		out.Write([]byte("nobody reads this"))
		close(wrote)
	}()
	time.Sleep(20 * time.Millisecond)
	out.Close()
	select {
	case <-wrote:
	case <-time.After(readerWait / 2):
		t.Fatal("Write still waiting for a reader after Close")
	}
}
