// Package ctr tests our ctr command and the client package against a
// daemon. The daemon is pluggable: every test runs once per entry of
// daemons: containerd 1.6, the reference, and our own daemon.
package ctr

import (
	"testing"

	"github.com/seedrt/seed/tests/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// daemonUnderTest starts a daemon for t, stopped when t ends, and returns
// its gRPC address. Tests use their own namespaces, so one daemon serves a
// whole suite.
type daemonUnderTest func(t *testing.T) (address string)

var daemons = []struct {
	name  string
	start daemonUnderTest
}{
	{"containerd16", startContainerd16},
	{"seed", startSeed},
}

// forEachDaemon starts each daemon under test and runs suite against it.
func forEachDaemon(t *testing.T, suite func(t *testing.T, address string)) {
	for _, d := range daemons {
		t.Run(d.name, func(t *testing.T) {
			testutil.RequireRoot(t)
			suite(t, d.start(t))
		})
	}
}
