package oci_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/seedrt/seed/oci"
	"github.com/seedrt/seed/tests/testutil"
)

// namespace keeps these containers' cgroups apart from any real daemon's.
const namespace = "ocitest"

func TestMain(m *testing.M) { testutil.Main(m, namespace) }

// TestRuncRunsDefaultSpec checks the generated spec against the real runc.
func TestRuncRunsDefaultSpec(t *testing.T) {
	runc := testutil.NewRunc(t)
	id := testutil.UniqueID(t)
	script := `echo hi; echo "$FOO"; hostname; id -u; ulimit -n; ` +
		// The cgroup hierarchy must be read-only inside the container.
		`if mkdir /sys/fs/cgroup/memory/x 2>/dev/null; then echo cgroup-writable; fi`
	bundle := testutil.Bundle(t, id,
		oci.WithNamespace(namespace),
		oci.WithArgs("/bin/sh", "-c", script),
		oci.WithEnv("FOO=bar"),
		oci.WithHostname("box"),
	)
	out, err := runc.Run(bundle, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := "hi\nbar\nbox\n0\n1024\n"; out != want {
		t.Errorf("output = %q, want %q", out, want)
	}
}

// TestRuncSharedReadonlyRootfs runs several containers at once on one
// read-only rootfs.
func TestRuncSharedReadonlyRootfs(t *testing.T) {
	runc := testutil.NewRunc(t)
	rootfs := testutil.SharedBusyboxRootfs(t)
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		id := testutil.UniqueID(t)
		bundle := t.TempDir()
		spec := oci.DefaultSpec(id,
			oci.WithNamespace(namespace),
			oci.WithRootfs(rootfs, true),
			oci.WithUser(65534, 65534),
			oci.WithArgs("/bin/sh", "-c", "id -u; touch /x 2>/dev/null || echo ro"),
		)
		if err := oci.WriteBundle(bundle, spec); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := runc.Run(bundle, id)
			if err != nil {
				t.Error(err)
				return
			}
			if want := "65534\nro\n"; strings.TrimSpace(out)+"\n" != want {
				t.Errorf("%s output = %q, want %q", id, out, want)
			}
		}()
	}
	wg.Wait()
}
