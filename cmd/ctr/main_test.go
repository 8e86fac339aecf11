package main

import (
	"syscall"
	"testing"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{
		"SIGKILL": syscall.SIGKILL, "KILL": syscall.SIGKILL, "kill": syscall.SIGKILL, "9": syscall.SIGKILL, "SIGTERM": syscall.SIGTERM,
	} {
		if got, err := parseSignal(in); err != nil || got != want {
			t.Errorf("parseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "SIGNOPE", "-1"} {
		if _, err := parseSignal(in); err == nil {
			t.Errorf("parseSignal(%q) succeeded", in)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"tasks", "frobnicate"},
		{"run", "--rootfs", "/"},     // no ID and command
		{"run", "--bogus-flag", "x"}, // unknown flag
	} {
		if code := run(args); code != 2 {
			t.Errorf("ctr %v: exit %d, want a usage error", args, code)
		}
	}
}

// Flags stop at the ID: the container's command keeps its own flags.
func TestFlagsStopAtID(t *testing.T) {
	var cf containerFlags
	fs := newFlags("ctr test")
	cf.register(fs)
	if err := fs.Parse([]string{"--rootfs", "/r", "-t", "id", "/bin/sh", "-c", "--rootfs x"}); err != nil {
		t.Fatal(err)
	}
	if cf.rootfs != "/r" || !cf.tty || len(fs.Args()) != 4 || fs.Arg(3) != "--rootfs x" {
		t.Errorf("parsed rootfs %q tty %v args %q", cf.rootfs, cf.tty, fs.Args())
	}
}
