package testutil

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcRSS returns the resident set size of pid in KiB (VmRSS).
func ProcRSS(pid int) (int, error) {
	return procField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
}

// ProcPSS returns the proportional set size of pid in KiB: resident memory
// with shared pages divided among their users, which is the fair measure
// of what one more shim costs.
func ProcPSS(pid int) (int, error) {
	return procField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:")
}

// procField parses a "Key:   123 kB" line from a /proc file.
func procField(path, key string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", key, err)
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
		v, err := strconv.Atoi(fields[0])
		if err != nil {
			return 0, fmt.Errorf("parse %s in %s: %w", key, path, err)
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return 0, fmt.Errorf("no %s line in %s", key, path)
}
