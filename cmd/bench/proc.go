package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// proc is one process from /proc.
type proc struct {
	pid  int
	args []string
}

func (p proc) String() string {
	return fmt.Sprintf("pid %d: %s", p.pid, strings.Join(p.args, " "))
}

// processes lists every process with a readable command line (kernel
// threads and processes that exit meanwhile are skipped).
func processes() []proc {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		out = append(out, proc{pid: pid, args: args})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

// argValue returns the value following flag (as "-flag v", "--flag v",
// "-flag=v" or "--flag=v") in args.
func argValue(args []string, flag string) (string, bool) {
	name := strings.TrimLeft(flag, "-")
	for i, a := range args {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		n := strings.TrimLeft(a, "-")
		if n == name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(n, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// isShimOf reports whether p is a shim serving the daemon at address: a
// shim binary whose command line carries -address ADDRESS (with or without
// unix://). The daemon's own children carry its command line until they
// exec, so the binary's name counts too.
func isShimOf(p proc, address string) bool {
	if len(p.args) == 0 || !strings.Contains(filepath.Base(p.args[0]), "shim") {
		return false
	}
	v, ok := argValue(p.args, "address")
	return ok && strings.TrimPrefix(v, "unix://") == address
}

// mentions reports whether any argument contains dir as a whole path or
// a path prefix ("/tmp/x" matches "/tmp/x/y" and "--root=/tmp/x", not
// "/tmp/xy").
func mentions(p proc, dir string) bool {
	for _, a := range p.args {
		s := a
		for {
			i := strings.Index(s, dir)
			if i < 0 {
				break
			}
			s = s[i+len(dir):]
			if s == "" || s[0] == '/' || s[0] == ' ' || s[0] == ',' || s[0] == ':' {
				return true
			}
		}
	}
	return false
}

// memKB reads VmRSS (from status) and Pss (from smaps_rollup) of pid, in KiB.
func memKB(pid int) (rss, pss int, err error) {
	if rss, err = procField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:"); err != nil {
		return 0, 0, err
	}
	if pss, err = procField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:"); err != nil {
		return 0, 0, err
	}
	return rss, pss, nil
}

// procField parses a "Key:   123 kB" line from a /proc file.
func procField(path, key string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), key)
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0, fmt.Errorf("malformed %s line in %s", key, path)
		}
		return strconv.Atoi(fields[0])
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s line in %s", key, path)
}

// cgroupDirs returns the cgroup directories named ns directly under each
// mounted hierarchy (v1: /sys/fs/cgroup/CTRL/NS; v2: /sys/fs/cgroup/NS),
// which is where containers of namespace ns get their cgroups.
func cgroupDirs(ns string) []string {
	var dirs []string
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		dirs = append(dirs, filepath.Join("/sys/fs/cgroup", ns))
	} else {
		ents, _ := os.ReadDir("/sys/fs/cgroup")
		for _, e := range ents {
			p := filepath.Join("/sys/fs/cgroup", e.Name())
			if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
				dirs = append(dirs, filepath.Join(p, ns))
			}
		}
	}
	var out []string
	for _, d := range dirs {
		if _, err := os.Stat(d); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// removeCgroups kills whatever still runs in the cgroups under each of
// dirs and removes them, deepest first. It returns the pids it found.
func removeCgroups(dirs []string) (leftPids []int, err error) {
	seen := map[int]bool{}
	var all []string
	for _, root := range dirs {
		filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.IsDir() {
				all = append(all, p)
			}
			return nil
		})
	}
	for _, d := range all {
		b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
				seen[pid] = true
				leftPids = append(leftPids, pid)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	var errs []string
	for _, d := range all {
		for try := 0; try < 50; try++ {
			if err = syscall.Rmdir(d); err == nil || os.IsNotExist(err) || err != syscall.EBUSY {
				break
			}
			sleepMs(20) // killed processes take a moment to leave
		}
		if err != nil && !os.IsNotExist(err) {
			errs = append(errs, fmt.Sprintf("rmdir %s: %v", d, err))
		}
	}
	if len(errs) > 0 {
		return leftPids, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return leftPids, nil
}

// mountsUnder lists mount points at or under dir, deepest last.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
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

// machineCPU reads the machine's CPU times so far, in clock ticks, from the
// first line of /proc/stat: user nice system idle iowait irq softirq steal
// (guest time is inside user). ok is false when it cannot be read.
func machineCPU() (t [8]uint64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return t, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return t, false
	}
	for i := range t {
		t[i], _ = strconv.ParseUint(f[i+1], 10, 64)
	}
	return t, true
}

const (
	cpuIdle, cpuIOWait, cpuSteal = 3, 4, 7 // indexes into machineCPU's times
)

// cpuTimes returns the machine's total and stolen CPU time so far, in
// clock ticks. Steal is time the hypervisor ran something else while this
// VM wanted the CPU: a busy host shows up there, not in our figures'
// variance alone.
func cpuTimes() (total, steal uint64) {
	t, ok := machineCPU()
	if !ok {
		return 0, 0
	}
	for _, v := range t {
		total += v
	}
	return total, t[cpuSteal]
}

// stealSince is the share of CPU time stolen since (total0, steal0), in %.
func stealSince(total0, steal0 uint64) float64 {
	total, steal := cpuTimes()
	if total0 == 0 || total <= total0 || steal < steal0 { // unreadable, or a counter went back
		return 0
	}
	return 100 * float64(steal-steal0) / float64(total-total0)
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// waitedCPU is the CPU time, in ms, of the children a process has waited
// for (and of theirs): cutime + cstime, fields 16-17 of /proc/PID/stat.
func waitedCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')', with field 3.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks uint64
	for _, s := range f[13:15] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += v
	}
	return float64(ticks) * 1000 / clockTicks, nil
}

// selfCPU is this process's own CPU time so far, in ms.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	ms := func(tv syscall.Timeval) float64 { return float64(tv.Sec)*1000 + float64(tv.Usec)/1000 }
	return ms(ru.Utime) + ms(ru.Stime)
}

// busyCPU is the machine's busy CPU time so far, in ms: everything but
// idle, iowait and steal.
func busyCPU() float64 {
	t, ok := machineCPU()
	if !ok {
		return 0
	}
	var all uint64
	for _, v := range t {
		all += v
	}
	busy := all - t[cpuIdle] - t[cpuIOWait] - t[cpuSteal]
	return float64(busy) * 1000 / clockTicks
}

// threadsCPU is the CPU time, in ms, of a process's live threads, from the
// scheduler's nanosecond counters: /proc/PID/stat rounds a process's total
// to 10 ms, more than a shim spends starting a container.
func threadsCPU(pid int) float64 {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0
	}
	var ns uint64
	for _, e := range ents {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, e.Name()))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) > 0 {
			v, _ := strconv.ParseUint(f[0], 10, 64)
			ns += v
		}
	}
	return float64(ns) / 1e6
}

// peerRunDirs are where containerd 1.6 and its runc shim put shim sockets
// and runc state whatever their configuration says: made on first use, and
// left behind empty.
var peerRunDirs = []string{"/run/containerd", "/run/containerd/s", "/run/containerd/runc", "/run/containerd/fifo"}

// removeCreatedEmpty notes which of dirs (parents first) do not exist yet,
// and returns a func that removes those of them that are empty by then
// (children first). Ones that existed, or still hold something, stay.
func removeCreatedEmpty(dirs []string) func() {
	var missing []string
	for _, d := range dirs {
		if _, err := os.Lstat(d); errors.Is(err, os.ErrNotExist) {
			missing = append(missing, d)
		}
	}
	return func() {
		for i := len(missing) - 1; i >= 0; i-- {
			syscall.Rmdir(missing[i]) // fails, as it should, when not empty
		}
	}
}
