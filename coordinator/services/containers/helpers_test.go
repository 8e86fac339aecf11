package containers

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gogo/protobuf/proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	api "github.com/seedrt/seed/api/services/containers/v1"
	"github.com/seedrt/seed/coordinator/metadata"
	"github.com/seedrt/seed/coordinator/nsctx"
)

type event struct {
	ns, topic string
	msg       proto.Message
}

// recorder is a Publisher that records what it is given.
type recorder struct {
	mu     sync.Mutex
	events []event
	err    error // returned by Publish when set
}

func (r *recorder) Publish(ctx context.Context, topic string, msg proto.Message) error {
	ns, err := nsctx.Namespace(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.events = append(r.events, event{ns, topic, msg})
	return nil
}

func (r *recorder) take() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

type env struct {
	db     *metadata.DB
	events *recorder
	client api.ContainersClient
	tasks  sync.Map // "ns/id" -> true: containers that have a task
}

// newEnv serves the containers service on a unix socket in a temporary
// directory, backed by a new store, and dials it.
func newEnv(t *testing.T) *env {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctrsvc") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	db, err := metadata.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	e := &env{db: db, events: &recorder{}}
	srv := grpc.NewServer()
	err = Register(srv, Options{DB: db, Events: e.events, TaskExists: func(_ context.Context, ns, id string) bool {
		_, ok := e.tasks.Load(ns + "/" + id)
		return ok
	}})
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
	e.client = api.NewContainersClient(conn)
	return e
}

func wantCode(t *testing.T, err error, code codes.Code, what string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("%s: got %v, want code %v", what, err, code)
	}
}
