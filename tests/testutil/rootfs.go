package testutil

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/seedrt/seed/oci"
)

// BusyboxRootfs returns a fresh, writable root filesystem under
// t.TempDir(): a private copy of the static busybox with every applet hard
// linked to it (in its usual dir and in /bin), the usual mount point dirs,
// and /etc/passwd, /etc/group and /etc/hostname. It costs one 2 MB copy
// plus a few hundred links, so use one per container.
func BusyboxRootfs(t testing.TB) string {
	t.Helper()
	bb, applets := busyboxInfo(t)
	dir := filepath.Join(t.TempDir(), "rootfs")
	if err := oci.BuildBusyboxRootfs(dir, bb, applets); err != nil {
		t.Fatalf("build busybox rootfs: %v", err)
	}
	return dir
}

var sharedRootfs struct {
	once sync.Once
	dir  string
	err  error
}

// SharedBusyboxRootfs returns one busybox rootfs built once per test
// process (see Main for its removal). Many containers may use it at once
// because the runtime mounts /proc, /dev, /sys and /run inside each
// container's own mount namespace, but only if nothing writes to it: use
// it with oci.WithRootfs(path, true).
func SharedBusyboxRootfs(t testing.TB) string {
	t.Helper()
	bb, applets := busyboxInfo(t) // may skip, so not inside the Once
	sharedRootfs.once.Do(func() {
		dir, err := processTempDir("rootfs")
		if err != nil {
			sharedRootfs.err = err
			return
		}
		sharedRootfs.dir = dir
		sharedRootfs.err = oci.BuildBusyboxRootfs(dir, bb, applets)
	})
	if sharedRootfs.err != nil {
		t.Fatalf("build shared busybox rootfs: %v", sharedRootfs.err)
	}
	return sharedRootfs.dir
}

// Bundle creates an OCI bundle under t.TempDir() for container id: a fresh
// busybox rootfs/ and a config.json from oci.DefaultSpec(id, opts...).
// Pass oci.WithArgs to set the command. It returns the bundle directory.
func Bundle(t testing.TB, id string, opts ...oci.SpecOpt) string {
	t.Helper()
	bb, applets := busyboxInfo(t)
	dir := t.TempDir()
	if err := oci.BuildBusyboxRootfs(filepath.Join(dir, oci.DefaultRootfs), bb, applets); err != nil {
		t.Fatalf("build busybox rootfs: %v", err)
	}
	if err := oci.WriteBundle(dir, oci.DefaultSpec(id, opts...)); err != nil {
		t.Fatalf("write bundle: %v", err)
	}
	return dir
}

var busybox struct {
	once    sync.Once
	path    string
	applets []string // paths relative to /, e.g. "usr/bin/awk"
	err     error
}

// busyboxInfo locates the static busybox and lists its applets (once per
// process), skipping or failing the test if it is unusable.
func busyboxInfo(t testing.TB) (path string, applets []string) {
	t.Helper()
	path = RequireBinary(t, "busybox")
	busybox.once.Do(func() {
		busybox.path = path
		busybox.applets, busybox.err = oci.BusyboxApplets(path)
	})
	if busybox.err != nil {
		t.Fatalf("busybox: %v", busybox.err)
	}
	return busybox.path, busybox.applets
}
