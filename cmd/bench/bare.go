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
	bundle, root, ns string
}

// newBareRunc keeps the bundle in dir and runc's state in stateDir, on the
// same file system as the daemon's runc state; its containers' cgroups go
// under namespace ns.
func newBareRunc(dir, stateDir, ns string) (*bareRunc, error) {
	b := &bareRunc{bundle: filepath.Join(dir, "bundle"), root: stateDir, ns: ns}
	spec := oci.DefaultSpec("bare", oci.WithNamespace(ns), oci.WithRootfs(rootfs, true), oci.WithArgs("/bin/true"))
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
	removeCgroups(cgroupDirs(b.ns)) // the parent runc leaves
}

// RuncAlone is runc's own start rate: the same N containers started with
// `runc run -d`, C at a time, no daemon or shim. No daemon can beat it.
type RuncAlone struct {
	Started   int     `json:"started"`
	Errors    int     `json:"errors"`
	PerSecond float64 `json:"containers_per_second"`
	Latency   Stats   `json:"latency"` // one `runc run -d`
	// CPUPerContainer is the machine's busy CPU during the batch per
	// container started (runc, runc init, the containers, the kernel), ms.
	CPUPerContainer float64 `json:"cpu_ms_per_container"`
}

// runRuncAlone starts n `sleep 300` containers with `runc run -d`, c at a
// time, each from its own bundle holding the spec the daemons get, and
// removes them afterwards. Bundles and runc's state live under dir, their
// cgroups under namespace ns.
func runRuncAlone(ctx context.Context, dir, ns string, n, c int) *RuncAlone {
	res := &RuncAlone{}
	root := filepath.Join(dir, "runc")
	defer os.RemoveAll(dir)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("alone-%d", i)
		spec := oci.DefaultSpec(ids[i], oci.WithNamespace(ns), oci.WithRootfs(rootfs, true), oci.WithArgs("/bin/sleep", "300"))
		if err := oci.WriteBundle(filepath.Join(dir, ids[i]), spec); err != nil {
			res.Errors = n
			return res
		}
	}
	busy := busyCPU()
	b := timedBatch(ctx, n, c, func(i int) error {
		return exec.CommandContext(ctx, "runc", "--root", root, "run", "-d", "--bundle", filepath.Join(dir, ids[i]), ids[i]).Run()
	})
	busy = busyCPU() - busy
	res.Started, res.Errors, res.Latency, res.PerSecond = b.done, n-b.done, b.latency(), b.perSecond()
	if b.done > 0 {
		res.CPUPerContainer = busy / float64(b.done)
	}
	// Remove them all, started or not (delete --force kills first).
	parallel(context.Background(), n, c, func(i int) {
		exec.Command("runc", "--root", root, "delete", "--force", ids[i]).Run()
	})
	removeCgroups(cgroupDirs(ns)) // the parent runc leaves
	return res
}
