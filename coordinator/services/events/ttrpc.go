package events

import (
	"context"
	"fmt"
	"strconv"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/coordinator/events"
	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/shimapi/eventsttrpc"
)

// SeqHeader is the ttrpc metadata key with which our shims number the
// events they forward (a decimal uint64). containerd's shims do not send it.
const SeqHeader = "seed-event-seq"

// ForwardFunc sees each valid event a shim forwards, with its sequence
// number (0 when the shim sent none), before it is published; it returns
// whether to publish it (false suppresses, e.g., a duplicate). It must not
// modify env.
type ForwardFunc func(ctx context.Context, env *events.Envelope, seq uint64) (publish bool)

type ttrpcService struct {
	x         *events.Exchange
	onForward ForwardFunc
}

// RegisterTTRPC serves the ttrpc Events service on s: events forwarded by
// shims go to onForward (if not nil) and then, unless it says no, into x.
func RegisterTTRPC(s *ttrpc.Server, x *events.Exchange, onForward ForwardFunc) {
	eventsttrpc.RegisterEventsService(s, &ttrpcService{x: x, onForward: onForward})
}

// Forward publishes r.Envelope in the envelope's own namespace (shims also
// send it as metadata; the envelope is what counts, as in containerd).
func (s *ttrpcService) Forward(ctx context.Context, r *eventsttrpc.ForwardRequest) (*types.Empty, error) {
	if err := s.forward(ctx, r.Envelope); err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return &types.Empty{}, nil
}

func (s *ttrpcService) forward(ctx context.Context, e *eventsttrpc.Envelope) error {
	var env *events.Envelope
	if e != nil {
		env = &events.Envelope{Timestamp: e.Timestamp, Namespace: e.Namespace, Topic: e.Topic, Event: e.Event}
	}
	if err := env.Validate(); err != nil {
		return fmt.Errorf("forward event: %w", err)
	}
	seq, err := eventSeq(ctx)
	if err != nil {
		return fmt.Errorf("forward event on %q: %w", env.Topic, err)
	}
	if s.onForward != nil && !s.onForward(ctx, env, seq) {
		return nil
	}
	return s.x.Forward(ctx, env)
}

func eventSeq(ctx context.Context) (uint64, error) {
	v, ok := ttrpc.GetMetadataValue(ctx, SeqHeader)
	if !ok {
		return 0, nil
	}
	seq, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("metadata %s=%q is not a sequence number: %w", SeqHeader, v, errdefs.ErrInvalidArgument)
	}
	return seq, nil
}
