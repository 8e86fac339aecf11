package client

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"

	"github.com/seedrt/seed/coordinator/nsctx"
	"github.com/seedrt/seed/errdefs"
)

func TestNamespaceHeader(t *testing.T) {
	if namespaceHeader != nsctx.GRPCHeader {
		t.Fatalf("namespaceHeader = %q, the daemon reads %q", namespaceHeader, nsctx.GRPCHeader)
	}
}

func TestNewNoDaemon(t *testing.T) {
	dir := t.TempDir()
	for _, addr := range []string{filepath.Join(dir, "none.sock"), "unix://" + filepath.Join(dir, "none.sock")} {
		_, err := New(addr)
		if !errdefs.IsUnavailable(err) || !strings.HasPrefix(err.Error(), "daemon not running at "+filepath.Join(dir, "none.sock")) {
			t.Errorf("New(%s) = %v, want daemon not running (unavailable)", addr, err)
		}
	}
}

// containerd's shim needs both output FIFOs (one with a terminal) as soon
// as any stream is connected.
func TestNewFIFOsPaths(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name                  string
		s                     Streams
		stdin, stdout, stderr bool
	}{
		{"none", Streams{}, false, false, false},
		{"stdout", Streams{Stdout: io.Discard}, false, true, true},
		{"stdin", Streams{Stdin: strings.NewReader("")}, true, true, true},
		{"terminal", Streams{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Terminal: true}, true, true, false},
	} {
		i, err := NewFIFOs(dir, tc.s)("id")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		cfg := i.Config()
		if (cfg.Stdin != "") != tc.stdin || (cfg.Stdout != "") != tc.stdout || (cfg.Stderr != "") != tc.stderr || cfg.Terminal != tc.s.Terminal {
			t.Errorf("%s: config %+v", tc.name, cfg)
		}
		for _, p := range []string{cfg.Stdin, cfg.Stdout, cfg.Stderr} {
			if fi, err := os.Stat(p); p != "" && (err != nil || fi.Mode()&os.ModeNamedPipe == 0) {
				t.Errorf("%s: %s is not a FIFO: %v", tc.name, p, err)
			}
		}
		i.Close()
		removeFIFOs(cfg)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left in the FIFO dir: %v", left)
	}
}

func TestRemoveFIFOsKeepsFiles(t *testing.T) {
	f := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	removeFIFOs(IOConfig{Stdout: f, Stderr: "file://" + f})
	if _, err := os.Stat(f); err != nil {
		t.Errorf("a log file was removed: %v", err)
	}
}

func TestLogURI(t *testing.T) {
	for in, want := range map[string]string{"/var/log/x": "file:///var/log/x", "file:///y": "file:///y"} {
		i, _ := LogURI(in)("id")
		if cfg := i.Config(); cfg.Stdout != want || cfg.Stderr != want || cfg.Stdin != "" {
			t.Errorf("LogURI(%s) = %+v", in, cfg)
		}
	}
}

// A relative socket path (as in `ctr --address .demo/containerd.sock`) is
// relative to the working directory.
func TestNewRelativeAddress(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "sub", "d.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	go srv.Serve(l)
	defer srv.Stop()
	t.Chdir(dir)
	c, err := New("sub/d.sock")
	if err != nil {
		t.Fatalf("New(relative path): %v", err)
	}
	c.Close()
}
