package client

import (
	"context"
	"fmt"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/gogo/protobuf/types"

	eventsapi "github.com/seedrt/seed/api/services/events/v1"
	"github.com/seedrt/seed/errdefs"
	_ "github.com/seedrt/seed/shimapi/events" // registers containerd.events.* for decoding
	"github.com/seedrt/seed/shimapi/typeurl"
)

// Envelope is an event as the daemon published it.
type Envelope struct {
	Timestamp time.Time
	Namespace string
	Topic     string
	// Event is the decoded event when its type is known
	// (containerd.events.*), else nil; Raw always holds it encoded.
	Event proto.Message
	Raw   *types.Any
}

// Subscribe streams the events matching any of the filters (containerd
// filter syntax, e.g. `topic=="/tasks/exit"`), all of them when there are
// none (Events.Subscribe). The request is on the wire when it returns. The
// error channel receives one error when the stream ends, ctx.Err() after
// ctx is done.
func (c *Client) Subscribe(ctx context.Context, filters ...string) (<-chan Envelope, <-chan error) {
	envelopes := make(chan Envelope)
	errs := make(chan error, 1)
	stream, err := c.events.Subscribe(c.withNS(ctx), &eventsapi.SubscribeRequest{Filters: filters})
	if err != nil {
		errs <- fmt.Errorf("subscribe: %w", errdefs.FromGRPC(err))
		return envelopes, errs
	}
	go func() {
		for {
			e, err := stream.Recv()
			if err != nil {
				if ctx.Err() != nil {
					errs <- ctx.Err()
				} else {
					errs <- fmt.Errorf("events: %w", errdefs.FromGRPC(err))
				}
				return
			}
			env := Envelope{Timestamp: e.Timestamp, Namespace: e.Namespace, Topic: e.Topic, Raw: e.Event}
			if e.Event != nil {
				env.Event, _ = typeurl.UnmarshalAny(e.Event)
			}
			select {
			case envelopes <- env:
			case <-ctx.Done():
				errs <- ctx.Err()
				return
			}
		}
	}()
	return envelopes, errs
}
