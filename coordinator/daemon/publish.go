package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	api "github.com/seedrt/seed/api/services/events/v1"
	"github.com/seedrt/seed/coordinator/nsctx"
	"github.com/seedrt/seed/errdefs"
)

// publishTimeout bounds the whole of one publish: a v1 shim runs `publish`
// once per event and retries a failure, so failing fast is what it needs.
const publishTimeout = 5 * time.Second

// Publish forwards one event, as a v1 shim hands it to `containerd
// publish`, to the daemon serving gRPC at address: an Events/Forward with an
// envelope stamped now. The error is of class errdefs.ErrUnavailable when
// the daemon cannot be reached or did not answer (worth retrying);
// otherwise the daemon refused the event.
func Publish(ctx context.Context, address, namespace, topic string, event *types.Any) error {
	if topic == "" || namespace == "" {
		return fmt.Errorf("publish: topic and namespace are required: %w", errdefs.ErrInvalidArgument)
	}
	if event == nil {
		return fmt.Errorf("publish: no event: %w", errdefs.ErrInvalidArgument)
	}
	path := strings.TrimPrefix(address, "unix://")
	if path == "" {
		path = DefaultAddress
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	conn, err := grpc.DialContext(ctx, "unix://"+path,
		grpc.WithInsecure(),
		grpc.WithBlock(),
		grpc.FailOnNonTempDialError(true),
		grpc.WithReturnConnectionError(),
	)
	if err != nil {
		return fmt.Errorf("daemon unreachable at %s: %v: %w", path, err, errdefs.ErrUnavailable)
	}
	defer conn.Close()
	ctx = metadata.AppendToOutgoingContext(ctx, nsctx.GRPCHeader, namespace)
	_, err = api.NewEventsClient(conn).Forward(ctx, &api.ForwardRequest{Envelope: &api.Envelope{
		Timestamp: time.Now().UTC(),
		Namespace: namespace,
		Topic:     topic,
		Event:     event,
	}})
	if err == nil {
		return nil
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Unknown:
		return fmt.Errorf("daemon at %s did not take the event: %v: %w", path, err, errdefs.ErrUnavailable)
	}
	if ctxErr := ctx.Err(); errors.Is(ctxErr, context.DeadlineExceeded) {
		return fmt.Errorf("daemon at %s did not answer: %v: %w", path, err, errdefs.ErrUnavailable)
	}
	return fmt.Errorf("daemon at %s rejected the event: %w", path, errdefs.FromGRPC(err))
}
