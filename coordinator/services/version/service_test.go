package version

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	ptypes "github.com/gogo/protobuf/types"
	"google.golang.org/grpc"

	api "github.com/seedrt/seed/api/services/version/v1"
	"github.com/seedrt/seed/coordinator/nsctx"
	"github.com/seedrt/seed/coordinator/version"
)

func TestVersion(t *testing.T) {
	dir, err := os.MkdirTemp("", "versvc")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "grpc.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	Register(srv)
	go srv.Serve(l)
	defer srv.Stop()

	conn, err := grpc.Dial("unix://"+sock, grpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := api.NewVersionClient(conn)

	// With a namespace header, as ctr sends, and without.
	for _, ctx := range []context.Context{nsctx.Outgoing(context.Background(), "demo"), context.Background()} {
		resp, err := client.Version(ctx, &ptypes.Empty{})
		if err != nil {
			t.Fatalf("Version: %v", err)
		}
		if resp.Version != version.Version || resp.Revision != version.Revision || resp.Version == "" {
			t.Fatalf("Version returned %+v, want %q %q", resp, version.Version, version.Revision)
		}
	}
}
