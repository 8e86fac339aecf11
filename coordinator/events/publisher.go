// Package events is the daemon's event exchange: events published by the
// daemon's services and forwarded by shims go to every matching subscriber.
package events

import (
	"context"

	"github.com/gogo/protobuf/proto"
)

// Publisher publishes one event in the namespace of ctx (see nsctx).
type Publisher interface {
	Publish(ctx context.Context, topic string, event proto.Message) error
}
