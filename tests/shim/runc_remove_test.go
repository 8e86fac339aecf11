package shim_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/seedrt/seed/oci"
	"github.com/seedrt/seed/tests/testutil"
)

// When a container's init exits, the shim removes the container from runc:
// its state and its cgroups, whatever else was left in it, and it runs the
// poststop hooks. Three kinds of containers take different paths in the shim
// (without runc when nothing more is needed, else runc delete); each must
// leave nothing behind.
func TestStoppedContainerIsRemovedFromRunc(t *testing.T) {
	d := newDaemon(t)
	hookOut := filepath.Join(d.dir, "poststop-ran")
	for _, tc := range []struct {
		name    string
		viaRunc bool // the shim must leave this one to runc delete
		opts    []oci.SpecOpt
	}{
		{"private pid namespace", false, nil},
		{"poststop hook", true, []oci.SpecOpt{func(_ string, s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo ran > " + hookOut}}}}
		}}},
		{"host pid namespace", true, []oci.SpecOpt{func(_ string, s *specs.Spec) {
			var kept []specs.LinuxNamespace
			for _, ns := range s.Linux.Namespaces {
				if ns.Type != specs.PIDNamespace {
					kept = append(kept, ns)
				}
			}
			s.Linux.Namespaces = kept
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]oci.SpecOpt{oci.WithArgs("/bin/sh", "-c", "sleep 300 & exec sleep 301")}, tc.opts...)
			st := d.startShim(opts...)
			st.create(newIO(t, false, false))
			initPid := st.start("")

			stateDir := filepath.Join(d.dir, "runc", namespace, st.id)
			cgroups := runcCgroupPaths(t, filepath.Join(stateDir, "state.json"))
			var procs []int
			testutil.WaitFor(t, 5*time.Second, func() bool {
				procs = cgroupProcs(t, cgroups)
				return len(procs) == 2
			}, "both sleeps in the container's cgroup")

			// Only the init: the background sleep is left to the kernel
			// (its own pid namespace) or to runc delete (the host's).
			syscall.Kill(int(initPid), syscall.SIGKILL)
			st.wait("")
			st.deleteExec("") // the task itself

			if _, err := os.Stat(stateDir); !os.IsNotExist(err) {
				t.Errorf("runc state %s left behind: %v", stateDir, err)
			}
			for _, p := range cgroups {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Errorf("cgroup %s left behind: %v", p, err)
				}
			}
			for _, pid := range procs {
				testutil.WaitFor(t, 5*time.Second, func() bool { return !alive(pid) }, "process "+strconv.Itoa(pid)+" to be gone")
			}
			if tc.name == "poststop hook" && strings.TrimSpace(readFile(t, hookOut)) != "ran" {
				t.Error("the poststop hook did not run")
			}
			shimLog, _ := os.ReadFile(filepath.Join(st.bundle, "shim.log"))
			if got := strings.Contains(string(shimLog), ": runc delete ("); got != tc.viaRunc {
				t.Errorf("removed with runc delete: %v, want %v; shim log:\n%s", got, tc.viaRunc, shimLog)
			}
		})
	}
}

// runcCgroupPaths reads the cgroup directories runc made for a container.
func runcCgroupPaths(t *testing.T, stateJSON string) []string {
	t.Helper()
	var st struct {
		CgroupPaths map[string]string `json:"cgroup_paths"`
	}
	b, err := os.ReadFile(stateJSON)
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil || len(st.CgroupPaths) == 0 {
		t.Fatalf("runc state %s: %v (%d cgroup paths)", stateJSON, err, len(st.CgroupPaths))
	}
	var out []string
	for _, p := range st.CgroupPaths {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("cgroup of a running container: %v", err)
		}
		out = append(out, p)
	}
	return out
}

// cgroupProcs lists the processes in the first cgroup that lists any.
func cgroupProcs(t *testing.T, cgroups []string) []int {
	for _, p := range cgroups {
		b, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil || len(b) == 0 {
			continue
		}
		var pids []int
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	return nil
}
