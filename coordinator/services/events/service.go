// Package events serves the daemon's event exchange: the gRPC
// containerd.services.events.v1.Events service for clients, and the ttrpc
// containerd.services.events.ttrpc.v1.Events service shims forward to.
package events

import (
	"context"
	"fmt"

	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	api "github.com/seedrt/seed/api/services/events/v1"
	"github.com/seedrt/seed/coordinator/events"
	"github.com/seedrt/seed/errdefs"
)

type service struct {
	x *events.Exchange
}

// Register serves x as the gRPC Events service on s.
func Register(s *grpc.Server, x *events.Exchange) {
	api.RegisterEventsServer(s, &service{x: x})
}

// Publish publishes r.Event (as is) on r.Topic in the request's namespace.
func (s *service) Publish(ctx context.Context, r *api.PublishRequest) (*types.Empty, error) {
	if err := s.x.Publish(ctx, r.Topic, r.Event); err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return &types.Empty{}, nil
}

// Forward publishes r.Envelope unchanged, in its own namespace.
func (s *service) Forward(ctx context.Context, r *api.ForwardRequest) (*types.Empty, error) {
	var env *events.Envelope
	if e := r.Envelope; e != nil {
		env = &events.Envelope{Timestamp: e.Timestamp, Namespace: e.Namespace, Topic: e.Topic, Event: e.Event}
	}
	if err := s.x.Forward(ctx, env); err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return &types.Empty{}, nil
}

// Subscribe streams the events of all namespaces matching any of r.Filters
// until the client goes away or falls too far behind. The response headers
// are sent once the subscription is in place, so a client that waits for
// them (stream.Header()) receives every event published afterwards.
func (s *service) Subscribe(r *api.SubscribeRequest, srv api.Events_SubscribeServer) error {
	ctx, cancel := context.WithCancel(srv.Context())
	defer cancel()
	ch, errs, err := s.x.Subscribe(ctx, r.Filters...)
	if err != nil {
		return errdefs.ToGRPC(err)
	}
	if err := srv.SendHeader(metadata.MD{}); err != nil {
		return fmt.Errorf("subscribe: send header: %w", err)
	}
	for e := range ch {
		env := &api.Envelope{Timestamp: e.Timestamp, Namespace: e.Namespace, Topic: e.Topic, Event: e.Event}
		if err := srv.Send(env); err != nil {
			return err
		}
	}
	return errdefs.ToGRPC(<-errs)
}
