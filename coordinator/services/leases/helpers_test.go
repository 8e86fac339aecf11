package leases

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	api "github.com/seedrt/seed/api/services/leases/v1"
	"github.com/seedrt/seed/coordinator/metadata"
)

type env struct {
	db     *metadata.DB
	client api.LeasesClient
}

// newEnv serves the leases service on a unix socket in a temporary
// directory, backed by a new store, and dials it.
func newEnv(t *testing.T) *env {
	t.Helper()
	dir, err := os.MkdirTemp("", "leasesvc") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	db, err := metadata.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	e := &env{db: db}
	srv := grpc.NewServer()
	err = Register(srv, Options{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "grpc.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(srv.Stop)

	conn, err := grpc.Dial("unix://"+sock, grpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	e.client = api.NewLeasesClient(conn)
	return e
}

func wantCode(t *testing.T, err error, code codes.Code, what string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("%s: got %v, want code %v", what, err, code)
	}
}
