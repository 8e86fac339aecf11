package events

import (
	"context"
	"testing"
	"time"

	"github.com/seedrt/seed/coordinator/nsctx"
	shimevents "github.com/seedrt/seed/shimapi/events"
)

func TestBacklogReachesLateSubscribers(t *testing.T) {
	x := NewExchange()
	ctx := nsctx.With(context.Background(), "ns")
	x.OpenBacklog()
	x.Publish(ctx, "/tasks/exit", &shimevents.TaskExit{ContainerID: "a", ExitStatus: 137})
	x.Publish(ctx, "/tasks/start", &shimevents.TaskStart{ContainerID: "b"})

	sctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, _, err := x.Subscribe(sctx, `topic=="/tasks/exit"`)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-ch:
		if e.Topic != "/tasks/exit" {
			t.Fatalf("got %s", e.Topic)
		}
	case <-time.After(time.Second):
		t.Fatal("backlog not delivered")
	}
	select {
	case e := <-ch:
		t.Fatalf("unexpected %s", e.Topic)
	default:
	}

	x.CloseBacklog()
	late, _, _ := x.Subscribe(sctx)
	x.Publish(ctx, "/tasks/delete", &shimevents.TaskDelete{ContainerID: "a"})
	if e := <-late; e.Topic != "/tasks/delete" {
		t.Fatalf("after the backlog closed, a new subscriber got %s first", e.Topic)
	}
}
