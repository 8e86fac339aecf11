package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// testCgroups makes two real, empty cgroups for a test, the first with a
// child, in two hierarchies (cgroup v1) or side by side (v2), and removes
// what is left of them at cleanup.
func testCgroups(t *testing.T) (string, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make cgroups")
	}
	var roots []string
	for _, h := range []string{"pids", "freezer", "cpu", "memory"} {
		var fs unix.Statfs_t
		if p := filepath.Join("/sys/fs/cgroup", h); unix.Statfs(p, &fs) == nil && fs.Type == unix.CGROUP_SUPER_MAGIC {
			roots = append(roots, p)
		}
	}
	if len(roots) < 2 {
		var fs unix.Statfs_t
		if unix.Statfs("/sys/fs/cgroup", &fs) != nil || fs.Type != unix.CGROUP2_SUPER_MAGIC {
			t.Skip("no cgroup hierarchies found")
		}
		roots = []string{"/sys/fs/cgroup", "/sys/fs/cgroup"}
	}
	name := fmt.Sprintf("seed-test-%d", os.Getpid())
	a, b := filepath.Join(roots[0], name+"-a"), filepath.Join(roots[1], name+"-b")
	for _, p := range []string{filepath.Join(a, "nested"), b} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, p := range []string{filepath.Join(a, "nested"), a, b} {
			unix.Rmdir(p)
		}
	})
	return a, b
}

// writeRuncState writes a runc 1.x state.json for id under root with
// cgroups cpu and mem (cpuacct co-mounted with cpu), edited by edit.
func writeRuncState(t *testing.T, root, cpu, mem, id string, edit func(map[string]any)) []string {
	t.Helper()
	cfg := map[string]any{
		"namespaces": []any{map[string]any{"type": "NEWPID", "path": ""}, map[string]any{"type": "NEWNS", "path": ""}},
		"cgroups":    map[string]any{"Systemd": false, "Rootless": false},
		"Hooks":      nil,
	}
	state := map[string]any{
		"id":             id,
		"rootless":       false,
		"cgroup_paths":   map[string]any{"cpu": cpu, "cpuacct": cpu, "memory": mem},
		"intel_rdt_path": "",
		"config":         cfg,
	}
	if edit != nil {
		edit(state)
	}
	b, err := json.Marshal(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, id), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, id, "state.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{cpu, mem}
}

func TestRemoveStopped(t *testing.T) {
	root := t.TempDir()
	a, b := testCgroups(t)
	cgroups := writeRuncState(t, root, a, b, "c1", nil)
	if err := removeStopped(root, "c1"); err != nil {
		t.Fatal(err)
	}
	for _, p := range append(cgroups, filepath.Join(root, "c1")) {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", p, err)
		}
	}
}

func TestRemoveStoppedLeavesWhatNeedsRunc(t *testing.T) {
	for name, edit := range map[string]func(map[string]any){
		"poststop hook": func(s map[string]any) {
			s["config"].(map[string]any)["Hooks"] = map[string]any{"poststop": []any{map[string]any{"path": "/bin/true"}}}
		},
		"systemd": func(s map[string]any) {
			s["config"].(map[string]any)["cgroups"] = map[string]any{"Systemd": true}
		},
		"rootless":  func(s map[string]any) { s["rootless"] = true },
		"intel rdt": func(s map[string]any) { s["intel_rdt_path"] = "/sys/fs/resctrl/c1" },
		"host pid namespace": func(s map[string]any) {
			s["config"].(map[string]any)["namespaces"] = []any{map[string]any{"type": "NEWNS", "path": ""}}
		},
		"joined pid namespace": func(s map[string]any) {
			s["config"].(map[string]any)["namespaces"] = []any{map[string]any{"type": "NEWPID", "path": "/proc/1/ns/pid"}}
		},
		"bad state": func(s map[string]any) { s["cgroup_paths"] = "x" },
		"joined cgroups": func(s map[string]any) {
			s["config"].(map[string]any)["cgroups"] = map[string]any{"paths": map[string]any{"pids": "/x"}}
		},
	} {
		root := t.TempDir()
		a, b := testCgroups(t)
		cgroups := writeRuncState(t, root, a, b, "c1", edit)
		if err := removeStopped(root, "c1"); !errors.Is(err, errNeedsRunc) {
			t.Errorf("%s: removeStopped = %v, want errNeedsRunc", name, err)
		}
		for _, p := range append(cgroups, filepath.Join(root, "c1", "state.json")) {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s: %s was removed: %v", name, p, err)
			}
		}
	}
	// A path that is no cgroup is not touched.
	root, plain := t.TempDir(), filepath.Join(t.TempDir(), "c1")
	a, _ := testCgroups(t)
	writeRuncState(t, root, a, plain, "c1", nil)
	if err := os.Mkdir(plain, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := removeStopped(root, "c1"); !errors.Is(err, errNeedsRunc) {
		t.Errorf("a cgroup path outside cgroupfs: %v, want errNeedsRunc", err)
	}
	if _, err := os.Stat(plain); err != nil {
		t.Errorf("the plain directory was removed: %v", err)
	}
	// Not runc's layout (or gone): runc decides.
	if err := removeStopped(t.TempDir(), "none"); !errors.Is(err, errNeedsRunc) {
		t.Errorf("no state.json: %v, want errNeedsRunc", err)
	}
}
