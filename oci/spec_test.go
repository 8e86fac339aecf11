package oci

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestDefaultSpec(t *testing.T) {
	s := DefaultSpec("c1")

	if s.Root.Path != "rootfs" || s.Root.Readonly {
		t.Errorf("root = %+v, want rootfs, writable", s.Root)
	}
	if s.Linux.CgroupsPath != "/default/c1" {
		t.Errorf("cgroups path = %q, want /default/c1", s.Linux.CgroupsPath)
	}
	if !reflect.DeepEqual(s.Process.Env, []string{DefaultPathEnv}) {
		t.Errorf("env = %q", s.Process.Env)
	}
	if s.Process.Cwd != "/" || !s.Process.NoNewPrivileges || s.Process.Terminal {
		t.Errorf("process = %+v", s.Process)
	}
	if want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}}; !reflect.DeepEqual(s.Process.Rlimits, want) {
		t.Errorf("rlimits = %+v", s.Process.Rlimits)
	}
	if caps := s.Process.Capabilities; len(caps.Bounding) != 14 || !slices.Contains(caps.Effective, "CAP_KILL") || slices.Contains(caps.Bounding, "CAP_SYS_ADMIN") {
		t.Errorf("capabilities = %+v", caps)
	}

	var nss []specs.LinuxNamespaceType
	for _, ns := range s.Linux.Namespaces {
		nss = append(nss, ns.Type)
	}
	if want := []specs.LinuxNamespaceType{"pid", "ipc", "uts", "mount", "network"}; !reflect.DeepEqual(nss, want) {
		t.Errorf("namespaces = %v, want %v", nss, want)
	}

	mounts := map[string]specs.Mount{}
	for _, m := range s.Mounts {
		mounts[m.Destination] = m
	}
	for _, d := range []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/run"} {
		if _, ok := mounts[d]; !ok {
			t.Errorf("no %s mount", d)
		}
	}
	if !slices.Contains(mounts["/sys/fs/cgroup"].Options, "ro") {
		t.Errorf("/sys/fs/cgroup not read-only: %v", mounts["/sys/fs/cgroup"].Options)
	}
	if !slices.Contains(s.Linux.MaskedPaths, "/proc/kcore") || !slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys") {
		t.Errorf("masked %v readonly %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	if d := s.Linux.Resources.Devices; len(d) == 0 || d[0].Allow || d[0].Access != "rwm" {
		t.Errorf("first device rule must deny all: %+v", d)
	}

	// Each call must return independent slices.
	s.Process.Capabilities.Bounding[0] = "changed"
	if DefaultSpec("c2").Process.Capabilities.Bounding[0] == "changed" {
		t.Error("specs share capability slices")
	}
}

func TestSpecOpts(t *testing.T) {
	s := DefaultSpec("c1",
		WithNamespace("ns1"),
		WithRootfs("/abs/rootfs", true),
		WithArgs("/bin/sh", "-c", "true"),
		WithEnv("FOO=1", "PATH=/bin", "BAR=2"),
		WithEnv("BAR"),
		WithCwd("/tmp"),
		WithTerminal(true),
		WithHostname("box"),
		WithUser(1000, 1001),
		WithMounts(specs.Mount{Destination: "/data", Type: "bind", Source: "/srv", Options: []string{"rbind", "ro"}}),
	)
	if s.Linux.CgroupsPath != "/ns1/c1" {
		t.Errorf("cgroups path = %q", s.Linux.CgroupsPath)
	}
	if *s.Root != (specs.Root{Path: "/abs/rootfs", Readonly: true}) {
		t.Errorf("root = %+v", s.Root)
	}
	if !reflect.DeepEqual(s.Process.Args, []string{"/bin/sh", "-c", "true"}) {
		t.Errorf("args = %q", s.Process.Args)
	}
	if want := []string{"PATH=/bin", "FOO=1", "TERM=xterm"}; !reflect.DeepEqual(s.Process.Env, want) {
		t.Errorf("env = %q, want %q", s.Process.Env, want)
	}
	if s.Process.Cwd != "/tmp" || !s.Process.Terminal || s.Hostname != "box" {
		t.Errorf("cwd %q terminal %v hostname %q", s.Process.Cwd, s.Process.Terminal, s.Hostname)
	}
	if s.Process.User.UID != 1000 || s.Process.User.GID != 1001 {
		t.Errorf("user = %+v", s.Process.User)
	}
	if last := s.Mounts[len(s.Mounts)-1]; last.Destination != "/data" {
		t.Errorf("last mount = %+v", last)
	}

	if p := DefaultSpec("c1", WithNamespace("ns1"), WithCgroupsPath("")).Linux.CgroupsPath; p != "" {
		t.Errorf("WithCgroupsPath(\"\") gave %q", p)
	}
}

func TestWriteAndLoadSpec(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bundle")
	want := DefaultSpec("c1", WithArgs("echo", "hi"))
	if err := WriteBundle(dir, want); err != nil {
		t.Fatal(err)
	}
	// Overwriting must work too (rename over an existing file).
	if err := WriteBundle(dir, want); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != ConfigFile {
		t.Errorf("bundle holds %v, want only %s", entries, ConfigFile)
	}
	fi, err := os.Stat(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("config.json mode = %v", fi.Mode())
	}

	got, err := LoadSpec(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("loaded spec differs:\n got %+v\nwant %+v", got, want)
	}

	if _, err := LoadSpec(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("LoadSpec of a missing file succeeded")
	}
}
