package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// runcState is the part of runc's state.json (runc 1.x) that tells what
// `runc delete` of a stopped container would have to do.
type runcState struct {
	Rootless     bool              `json:"rootless"`
	CgroupPaths  map[string]string `json:"cgroup_paths"`
	IntelRdtPath string            `json:"intel_rdt_path"`
	Config       struct {
		Namespaces []struct {
			Type string `json:"type"`
			Path string `json:"path"`
		} `json:"namespaces"`
		Cgroups struct {
			Systemd  bool              `json:"Systemd"`
			Rootless bool              `json:"Rootless"`
			Paths    map[string]string `json:"paths"` // joined, not created: runc leaves them
		} `json:"cgroups"`
		Hooks          map[string][]json.RawMessage `json:"Hooks"`
		RootlessEUID   bool                         `json:"rootless_euid"`
		RootlessCgroup bool                         `json:"rootless_cgroups"`
	} `json:"config"`
}

// errNeedsRunc says a stopped container needs `runc delete` itself.
var errNeedsRunc = errors.New("needs runc delete")

// removeStopped does in-process what `runc delete` does for a stopped
// container whose init had a PID namespace of its own: with the init reaped,
// the kernel has killed everything else in it, so what is left is removing
// its cgroups and its state directory. That saves starting runc (about 5 ms
// of CPU, on the critical path of `run --rm`). Anything more (poststop
// hooks, systemd or rootless cgroups, Intel RDT, a shared PID namespace)
// returns errNeedsRunc; so does a cgroup that does not empty in time. Either
// way what is left is still a valid runc container for `runc delete`.
func removeStopped(runcRoot, id string) error {
	dir := filepath.Join(runcRoot, id)
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil { // gone already, or not runc's layout: runc tells
		return fmt.Errorf("%w: %v", errNeedsRunc, err)
	}
	var st runcState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("%w: state.json: %v", errNeedsRunc, err)
	}
	if reason := st.needsRunc(); reason != "" {
		return fmt.Errorf("%w: %s", errNeedsRunc, reason)
	}
	done := map[string]bool{} // co-mounted hierarchies repeat a path
	for _, p := range st.CgroupPaths {
		if p == "" || done[p] {
			continue
		}
		done[p] = true
		if err := checkCgroupPath(p); err != nil {
			return fmt.Errorf("%w: %v", errNeedsRunc, err)
		}
		if err := removeCgroup(p); err != nil {
			return fmt.Errorf("%w: %v", errNeedsRunc, err)
		}
	}
	// runc leaves only state.json once the exec FIFO is gone; anything else
	// takes the slower, general way.
	os.Remove(filepath.Join(dir, "state.json"))
	if err := unix.Rmdir(dir); err == nil || err == unix.ENOENT {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove runc state %s: %w", dir, err)
	}
	return nil
}

// needsRunc names what only runc can do for this container, or "".
func (st *runcState) needsRunc() string {
	switch {
	case len(st.Config.Hooks["poststop"]) > 0:
		return "poststop hooks"
	case st.Config.Cgroups.Systemd:
		return "systemd cgroups"
	case st.Config.Cgroups.Paths != nil:
		return "joined cgroups"
	case st.Rootless || st.Config.Cgroups.Rootless || st.Config.RootlessEUID || st.Config.RootlessCgroup:
		return "rootless"
	case st.IntelRdtPath != "":
		return "intel rdt"
	}
	for _, ns := range st.Config.Namespaces {
		if ns.Type == "NEWPID" && ns.Path == "" {
			return ""
		}
	}
	return "no private pid namespace" // runc delete kills what is left in the cgroup
}

// checkCgroupPath refuses a path that is not a directory on a cgroup file
// system (a gone one is fine): rmdir is all this does there, but only
// cgroups are its business.
func checkCgroupPath(p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("cgroup path %q is not absolute", p)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(p, &fs); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("statfs %s: %w", p, err)
	}
	if fs.Type != unix.CGROUP_SUPER_MAGIC && fs.Type != unix.CGROUP2_SUPER_MAGIC {
		return fmt.Errorf("%s is not on a cgroup file system", p)
	}
	return nil
}

// removeCgroup removes a cgroup directory and any below it. The container's
// last processes may still be exiting: a busy cgroup is tried again briefly,
// as runc does. Child cgroups are looked for only when the first rmdir
// fails, as most containers make none.
func removeCgroup(path string) error {
	delay := time.Millisecond
	for try := 0; ; try++ {
		err := unix.Rmdir(path)
		if err == nil || err == unix.ENOENT {
			return nil
		}
		if err != unix.EBUSY && err != unix.ENOTEMPTY || try == 7 {
			return fmt.Errorf("rmdir %s: %w", path, err)
		}
		if try == 0 {
			if err := removeChildren(path); err != nil {
				return err
			}
			continue
		}
		time.Sleep(delay)
		delay *= 2
	}
}

func removeChildren(path string) error {
	entries, err := os.ReadDir(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroup(filepath.Join(path, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
