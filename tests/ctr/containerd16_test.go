package ctr

import (
	"testing"

	"github.com/seedrt/seed/tests/testutil"
)

// startContainerd16 starts a private containerd 1.6 running containerd's
// runc shim, stopped when t ends. Leftover processes and mounts under its
// dir fail the test.
func startContainerd16(t *testing.T) string {
	t.Helper()
	testutil.RequireBinary(t, "containerd-shim-runc-v2")
	testutil.RequireBinary(t, "runc")
	return testutil.StartContainerd(t, testutil.ContainerdOptions{}).Address
}
