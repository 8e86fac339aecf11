package containers

import (
	"context"
	"github.com/gogo/protobuf/proto"
	"sync"
	"testing"

	"google.golang.org/grpc"

	api "github.com/seedrt/seed/api/services/containers/v1"
	"github.com/seedrt/seed/coordinator/metadata"
	"github.com/seedrt/seed/coordinator/services/servicetest"
)

// event is the Event expected on topic in namespace ns.
func event(ns, topic string, msg proto.Message) servicetest.Event {
	return servicetest.Event{NS: ns, Topic: topic, Msg: msg}
}

var (
	wantCode   = servicetest.WantCode
	wantEvents = servicetest.WantEvents
)

type env struct {
	db     *metadata.DB
	events *servicetest.Recorder
	client api.ContainersClient
	tasks  sync.Map // "ns/id" -> true: containers that have a task
}

// newEnv serves the containers service over a new store and dials it.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{events: &servicetest.Recorder{}}
	db, conn := servicetest.Serve(t, func(s *grpc.Server, db *metadata.DB) error {
		return Register(s, Options{DB: db, Events: e.events, TaskExists: func(_ context.Context, ns, id string) bool {
			_, ok := e.tasks.Load(ns + "/" + id)
			return ok
		}})
	})
	e.db, e.client = db, api.NewContainersClient(conn)
	return e
}
