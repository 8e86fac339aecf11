package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/seedrt/seed/oci"
)

// bareRunc runs /bin/true with `runc run` of a bundle holding the same spec
// the daemons get: the reference run --rm is measured against.
type bareRunc struct {
	bundle, root string
}

// newBareRunc keeps the bundle in dir and runc's state in stateDir, on the
// same file system as the daemon's runc state.
func newBareRunc(dir, stateDir string) (*bareRunc, error) {
	b := &bareRunc{bundle: filepath.Join(dir, "bundle"), root: stateDir}
	spec := oci.DefaultSpec("bare", oci.WithNamespace("bare"), oci.WithRootfs(rootfs, true), oci.WithArgs("/bin/true"))
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(b.bundle, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(b.bundle, "config.json"), data, 0o600); err != nil {
		return nil, err
	}
	return b, nil
}

// run is one `runc run` to the end; runc deletes the container itself.
func (b *bareRunc) run(ctx context.Context, id string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, "runc", "--root", b.root, "run", "--bundle", b.bundle, id)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(t0)
	if err != nil {
		exec.Command("runc", "--root", b.root, "delete", "--force", id).Run()
		return 0, fmt.Errorf("bare runc run %s: %v: %s", id, err, out)
	}
	return d, nil
}

func (b *bareRunc) close() {
	os.RemoveAll(filepath.Dir(b.bundle))
	os.RemoveAll(b.root)
}
