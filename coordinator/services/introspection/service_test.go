package introspection

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ptypes "github.com/gogo/protobuf/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	api "github.com/seedrt/seed/api/services/introspection/v1"
	"github.com/seedrt/seed/coordinator/nsctx"
)

// serve starts the service with opts on a unix socket and returns a client
// and a function stopping the server.
func serve(t *testing.T, opts Options) (api.IntrospectionClient, func()) {
	t.Helper()
	dir, err := os.MkdirTemp("", "introsvc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	srv := grpc.NewServer()
	if err := Register(srv, opts); err != nil {
		t.Fatalf("Register: %v", err)
	}
	sock := filepath.Join(dir, "grpc.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	conn, err := grpc.Dial("unix://"+sock, grpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	stop := func() { conn.Close(); srv.Stop() }
	t.Cleanup(stop)
	return api.NewIntrospectionClient(conn), stop
}

func serverUUID(t *testing.T, c api.IntrospectionClient) string {
	t.Helper()
	resp, err := c.Server(nsctx.Outgoing(context.Background(), "demo"), &ptypes.Empty{})
	if err != nil {
		t.Fatalf("Server: %v", err)
	}
	return resp.UUID
}

func TestUUIDStableAcrossRestarts(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root") // created by Register
	c, stop := serve(t, Options{Root: root})
	u := serverUUID(t, c)
	if !uuidRe.MatchString(u) || u[14] != '4' {
		t.Fatalf("UUID %q is not a version 4 UUID", u)
	}
	if again := serverUUID(t, c); again != u {
		t.Fatalf("UUID changed from %q to %q", u, again)
	}
	stop()

	c, _ = serve(t, Options{Root: root})
	if again := serverUUID(t, c); again != u {
		t.Fatalf("UUID changed across restart from %q to %q", u, again)
	}

	entries, err := os.ReadDir(root)
	if err != nil || len(entries) != 1 || entries[0].Name() != "uuid" {
		t.Fatalf("root holds %v (%v), want just the uuid file", entries, err)
	}
	data, _ := os.ReadFile(filepath.Join(root, "uuid"))
	if string(data) != u {
		t.Fatalf("uuid file holds %q, want %q", data, u)
	}

	other, _ := serve(t, Options{Root: t.TempDir()})
	if serverUUID(t, other) == u {
		t.Fatal("two roots share a UUID")
	}
}

func TestExistingUUIDFile(t *testing.T) {
	root := t.TempDir()
	const u = "5c2e7ccc-3a87-48cb-90f0-2506775e1bf7" // containerd's, with a newline added by hand
	if err := os.WriteFile(filepath.Join(root, "uuid"), []byte(u+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := serve(t, Options{Root: root})
	if got := serverUUID(t, c); got != u {
		t.Fatalf("UUID %q, want %q", got, u)
	}
}

func TestRegisterErrors(t *testing.T) {
	if err := Register(grpc.NewServer(), Options{}); err == nil {
		t.Fatal("Register without Root succeeded")
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "uuid"), []byte("not a uuid"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Register(grpc.NewServer(), Options{Root: root}); err == nil || !strings.Contains(err.Error(), "invalid daemon UUID") {
		t.Fatalf("Register with a bad uuid file: %v", err)
	}
}

func pluginIDs(t *testing.T, c api.IntrospectionClient, filters ...string) string {
	t.Helper()
	resp, err := c.Plugins(context.Background(), &api.PluginsRequest{Filters: filters})
	if err != nil {
		t.Fatalf("Plugins %q: %v", filters, err)
	}
	var ids []string
	for _, p := range resp.Plugins {
		ids = append(ids, p.Type+"/"+p.ID)
	}
	return strings.Join(ids, " ")
}

func TestPlugins(t *testing.T) {
	c, _ := serve(t, Options{Root: t.TempDir()})
	all := pluginIDs(t, c)
	for _, want := range []string{"io.containerd.grpc.v1/containers", "io.containerd.grpc.v1/tasks", "io.containerd.runtime.v2/task"} {
		if !strings.Contains(all, want) {
			t.Errorf("plugins %q lack %s", all, want)
		}
	}
	if got := pluginIDs(t, c, "type==io.containerd.runtime.v2"); got != "io.containerd.runtime.v2/task" {
		t.Errorf("runtime plugins: %q", got)
	}
	if got := pluginIDs(t, c, "id==leases", "id==version"); got != "io.containerd.grpc.v1/leases io.containerd.grpc.v1/version" {
		t.Errorf("leases or version: %q", got)
	}
	_, err := c.Plugins(context.Background(), &api.PluginsRequest{Filters: []string{"type=="}})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad filter: %v", err)
	}

	custom, _ := serve(t, Options{Root: t.TempDir(), Plugins: []api.Plugin{{Type: "t", ID: "x"}}})
	if got := pluginIDs(t, custom); got != "t/x" {
		t.Errorf("custom plugins: %q", got)
	}
}
