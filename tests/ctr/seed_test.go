package ctr

import (
	"bytes"
	"net"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/seedrt/seed/tests/testutil"
)

// startSeed starts our own daemon (bin/containerd) with its root, state and
// socket in a short temp dir, and stops it when t ends.
func startSeed(t *testing.T) string {
	t.Helper()
	testutil.RequireBinary(t, "runc")
	bins := testutil.BuildBinaries(t)
	dir := testutil.ShortTempDir(t)
	testutil.CheckNoLeaks(t, dir) // first, so checked after the daemon stopped
	testutil.UnmountAtCleanup(t, filepath.Join(dir, "state"))

	sock := filepath.Join(dir, "c.sock")
	var log bytes.Buffer
	cmd := exec.Command(filepath.Join(bins, "containerd"),
		"--address", sock, "--root", filepath.Join(dir, "root"), "--state", filepath.Join(dir, "state"))
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			t.Errorf("daemon did not exit 15s after SIGTERM; killing it")
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", tail(log.Bytes(), 32<<10))
		}
	})
	testutil.WaitFor(t, 20*time.Second, func() bool {
		select {
		case <-exited:
			t.Fatalf("daemon exited at startup: %v\n%s", cmd.ProcessState, log.String())
		default:
		}
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "daemon to listen on "+sock)
	return sock
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return append([]byte("...\n"), b[len(b)-n:]...)
	}
	return b
}
