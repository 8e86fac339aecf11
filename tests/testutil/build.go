package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// BinDirEnv names an env var pointing at prebuilt binaries; when set,
// BuildBinaries uses them instead of building (e.g. to test a release).
const BinDirEnv = "SEED_BIN_DIR"

var builtBins struct {
	once sync.Once
	dir  string
	err  error
}

// BuildBinaries returns a directory holding the repo's commands
// (containerd, containerd-shim, ctr, ...), built once per test process
// with `make build BINDIR=DIR` from the repo root. If $SEED_BIN_DIR
// is set, that directory is returned instead.
func BuildBinaries(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv(BinDirEnv); dir != "" {
		abs, err := filepath.Abs(dir)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			t.Fatalf("%s=%q: %v", BinDirEnv, dir, err)
		}
		return abs
	}
	builtBins.once.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			builtBins.err = err
			return
		}
		dir, err := processTempDir("bin")
		if err != nil {
			builtBins.err = err
			return
		}
		builtBins.dir = dir
		builtBins.err = buildCommands(root, dir)
	})
	if builtBins.err != nil {
		t.Fatalf("build binaries: %v", builtBins.err)
	}
	return builtBins.dir
}

// buildCommands builds every main package under root/cmd into out.
func buildCommands(root, out string) error {
	if _, err := os.Stat(filepath.Join(root, "cmd")); err != nil {
		return fmt.Errorf("no commands to build in %s: %w", root, err)
	}
	// The Makefile owns the build flags (static, stripped): tests measure
	// the binaries users run.
	cmd := exec.Command("make", "-s", "build", "BINDIR="+out)
	cmd.Dir = root
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("make build in %s: %w\n%s", root, err, output)
	}
	return nil
}
