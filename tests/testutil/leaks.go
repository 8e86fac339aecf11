package testutil

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// LeakTimeout is how long CheckNoLeaks waits for processes and mounts to
// go away before reporting them; exiting processes take a moment.
var LeakTimeout = 5 * time.Second

// Leak is something a test left behind.
type Leak struct {
	Kind   string // "process", "mount" or "zombie"
	PID    int    // for processes and zombies
	Detail string // command line, mount point, ...
}

func (l Leak) String() string {
	if l.Kind == "mount" {
		return "mount " + l.Detail
	}
	return fmt.Sprintf("%s pid %d: %s", l.Kind, l.PID, l.Detail)
}

// CheckNoLeaks registers a cleanup that fails the test if, once the test's
// later-registered cleanups have run, there remain (after polling up to
// LeakTimeout):
//   - processes whose command line, cwd or executable mentions marker
//     (e.g. shims started with a state dir under it),
//   - mounts at or under marker in this process's mount namespace,
//   - zombie children of the test process that did not exist when
//     CheckNoLeaks was called.
//
// Cleanups run last-registered-first, so call it before starting the
// daemon. marker should be unique to the test, such as a ShortTempDir the
// daemon's state lives in. After reporting, leaked processes are killed and
// mounts detached so later tests and temp dir removal aren't affected.
func CheckNoLeaks(t testing.TB, marker string) {
	t.Helper()
	if _, err := FindLeaks(marker); err != nil {
		t.Fatalf("leak check: %v", err)
	}
	preexisting := map[int]bool{}
	for _, pid := range zombieChildren() {
		preexisting[pid] = true
	}
	t.Cleanup(func() {
		var leaks []Leak
		var err error
		Poll(LeakTimeout, func() bool {
			leaks, err = FindLeaks(marker)
			leaks = dropZombies(leaks, preexisting)
			return err == nil && len(leaks) == 0
		})
		if err != nil {
			t.Errorf("leak check: %v", err)
			return
		}
		if len(leaks) == 0 {
			return
		}
		var msg strings.Builder
		for _, l := range leaks {
			fmt.Fprintf(&msg, "\n  %s", l)
		}
		t.Errorf("leaked after %v:%s", LeakTimeout, msg.String())
		reclaim(leaks)
	})
}

func dropZombies(leaks []Leak, ignore map[int]bool) []Leak {
	var out []Leak
	for _, l := range leaks {
		if l.Kind == "zombie" && ignore[l.PID] {
			continue
		}
		out = append(out, l)
	}
	return out
}

// reclaim kills leaked processes and lazily unmounts leaked mounts,
// deepest first. Zombies are left alone: reaping them would steal the exit
// status from whoever started them.
func reclaim(leaks []Leak) {
	for _, l := range leaks {
		if l.Kind == "process" {
			syscall.Kill(l.PID, syscall.SIGKILL)
		}
	}
	for i := len(leaks) - 1; i >= 0; i-- {
		if leaks[i].Kind == "mount" {
			syscall.Unmount(leaks[i].Detail, syscall.MNT_DETACH)
		}
	}
}

// FindLeaks returns what currently matches marker (see CheckNoLeaks), plus
// all zombie children of this process. Mounts are listed in mountinfo
// order, so parents precede children.
func FindLeaks(marker string) ([]Leak, error) {
	if marker == "" {
		return nil, errors.New("empty leak marker would match everything")
	}
	marker, err := filepath.Abs(marker)
	if err != nil {
		return nil, fmt.Errorf("leak marker: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(marker); err == nil {
		marker = resolved
	}

	var leaks []Leak
	procs, err := processesMentioning(marker)
	if err != nil {
		return nil, err
	}
	leaks = append(leaks, procs...)
	mounts, err := mountsUnder(marker)
	if err != nil {
		return nil, err
	}
	leaks = append(leaks, mounts...)
	for _, pid := range zombieChildren() {
		leaks = append(leaks, Leak{Kind: "zombie", PID: pid, Detail: procComm(pid)})
	}
	return leaks, nil
}

// mentions reports whether s contains path p as a whole path or a prefix
// of one: "/tmp/sd-1" matches "/tmp/sd-1/x" and "--state=/tmp/sd-1" but not
// "/tmp/sd-12".
func mentions(s, p string) bool {
	for {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
		if s == "" || !isPathNameByte(s[0]) {
			return true
		}
	}
}

func isPathNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

// isUnder reports whether p is dir or inside it.
func isUnder(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

func listPIDs() ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

func processesMentioning(marker string) ([]Leak, error) {
	pids, err := listPIDs()
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	var leaks []Leak
	for _, pid := range pids {
		if pid == self {
			continue
		}
		// Errors mean the process exited meanwhile (or is a kernel
		// thread without cmdline); either way it is not a leak.
		raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cmdline := strings.TrimSpace(string(bytes.ReplaceAll(raw, []byte{0}, []byte{' '})))
		cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if mentions(cmdline, marker) || (cwd != "" && isUnder(cwd, marker)) || (exe != "" && isUnder(exe, marker)) {
			leaks = append(leaks, Leak{Kind: "process", PID: pid, Detail: fmt.Sprintf("%q (cwd %s)", cmdline, cwd)})
		}
	}
	return leaks, nil
}

func mountsUnder(marker string) ([]Leak, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	defer f.Close()
	var leaks []Leak
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// Fields: id parent major:minor root mountpoint options ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		if mp := unescapeMountPath(fields[4]); isUnder(mp, marker) {
			leaks = append(leaks, Leak{Kind: "mount", Detail: mp})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	return leaks, nil
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for space, ...).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// zombieChildren lists zombie processes whose parent is this process.
func zombieChildren() []int {
	pids, _ := listPIDs()
	self := os.Getpid()
	var zombies []int
	for _, pid := range pids {
		state, ppid, ok := procState(pid)
		if ok && state == "Z" && ppid == self {
			zombies = append(zombies, pid)
		}
	}
	return zombies
}

// procState parses state and ppid from /proc/PID/stat. The command name
// is in parentheses and may itself contain spaces or parentheses, so
// parse after the last ')'.
func procState(pid int) (state string, ppid int, ok bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, false
	}
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return "", 0, false
	}
	fields := strings.Fields(string(raw[i+1:]))
	if len(fields) < 2 {
		return "", 0, false
	}
	ppid, err = strconv.Atoi(fields[1])
	if err != nil {
		return "", 0, false
	}
	return fields[0], ppid, true
}

func procComm(pid int) string {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(raw))
}
