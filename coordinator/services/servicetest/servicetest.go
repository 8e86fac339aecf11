// Package servicetest is what the gRPC services' tests share: a service
// served on a unix socket over a fresh metadata store, a Publisher that
// records events, and assertions on status codes and events.
package servicetest

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

	"github.com/seedrt/seed/coordinator/metadata"
	"github.com/seedrt/seed/coordinator/nsctx"
)

// Serve opens a store in a new temporary directory, lets register put the
// service on a gRPC server, serves it on a unix socket there, and returns
// the store and a connection to the server. Everything goes at cleanup.
func Serve(t *testing.T, register func(s *grpc.Server, db *metadata.DB) error) (*metadata.DB, *grpc.ClientConn) {
	t.Helper()
	dir, err := os.MkdirTemp("", "svc") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	db, err := metadata.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	srv := grpc.NewServer()
	if err := register(srv, db); err != nil {
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
	return db, conn
}

// WantCode fails the test unless err has the status code code.
func WantCode(t *testing.T, err error, code codes.Code, what string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("%s: got %v, want code %v", what, err, code)
	}
}

// Event is one published event.
type Event struct {
	NS, Topic string
	Msg       proto.Message
}

// Recorder is a Publisher that records what it is given.
type Recorder struct {
	mu     sync.Mutex
	events []Event
	Err    error // returned by Publish when set
}

// Publish records the event in the namespace of ctx.
func (r *Recorder) Publish(ctx context.Context, topic string, msg proto.Message) error {
	ns, err := nsctx.Namespace(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Err != nil {
		return r.Err
	}
	r.events = append(r.events, Event{ns, topic, msg})
	return nil
}

// Take returns the events recorded so far and forgets them.
func (r *Recorder) Take() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

// WantEvents fails the test unless got are want, in order.
func WantEvents(t *testing.T, got []Event, want ...Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events %v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i].NS != want[i].NS || got[i].Topic != want[i].Topic || !proto.Equal(got[i].Msg, want[i].Msg) {
			t.Fatalf("event %d: got %s %s %v, want %s %s %v", i,
				got[i].NS, got[i].Topic, got[i].Msg, want[i].NS, want[i].Topic, want[i].Msg)
		}
	}
}
