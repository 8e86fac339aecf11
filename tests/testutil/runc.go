package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Runc runs runc with a state root private to one test, so tests never see
// each other's containers.
type Runc struct {
	Path string // runc binary
	Root string // --root state directory
}

// NewRunc returns a Runc with a fresh state root. It skips unless running
// as root with runc installed (fails under CI=true), and at cleanup
// force-deletes every container left in the root.
func NewRunc(t testing.TB) *Runc {
	t.Helper()
	RequireRoot(t)
	r := &Runc{Path: RequireBinary(t, "runc"), Root: ShortTempDir(t)}
	t.Cleanup(func() {
		entries, _ := os.ReadDir(r.Root)
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			if out, err := r.Command("delete", "-f", e.Name()).CombinedOutput(); err != nil {
				t.Errorf("runc delete -f %s: %v: %s", e.Name(), err, out)
			}
		}
	})
	return r
}

// Command returns an exec.Cmd for runc --root r.Root args...
func (r *Runc) Command(args ...string) *exec.Cmd {
	return exec.Command(r.Path, append([]string{"--root", r.Root}, args...)...)
}

// Run runs container id from bundle in the foreground (`runc run`) and
// returns its stdout; stderr is included in the error on failure.
func (r *Runc) Run(bundle, id string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := r.Command("run", "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("runc run %s: %w: %s", id, err, stderr.String())
	}
	return stdout.String(), nil
}
