package shim

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// writeRuncState writes a runc 1.x state.json for id under root whose
// cgroups are plain directories under dir, edited by edit.
func writeRuncState(t *testing.T, root, dir, id string, edit func(map[string]any)) []string {
	t.Helper()
	cpu := filepath.Join(dir, "cpu", id)
	mem := filepath.Join(dir, "memory", id)
	for _, p := range []string{filepath.Join(cpu, "nested"), mem} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
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
	root, dir := t.TempDir(), t.TempDir()
	cgroups := writeRuncState(t, root, dir, "c1", nil)
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
	} {
		root, dir := t.TempDir(), t.TempDir()
		cgroups := writeRuncState(t, root, dir, "c1", edit)
		if err := removeStopped(root, "c1"); !errors.Is(err, errNeedsRunc) {
			t.Errorf("%s: removeStopped = %v, want errNeedsRunc", name, err)
		}
		for _, p := range append(cgroups, filepath.Join(root, "c1", "state.json")) {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s: %s was removed: %v", name, p, err)
			}
		}
	}
	// Not runc's layout (or gone): runc decides.
	if err := removeStopped(t.TempDir(), "none"); !errors.Is(err, errNeedsRunc) {
		t.Errorf("no state.json: %v, want errNeedsRunc", err)
	}
}
