// Package nsctx carries the namespace of a request, as containerd clients
// send it: the gRPC metadata header "containerd-namespace", or
// "containerd-namespace-ttrpc" on ttrpc.
package nsctx

import (
	"context"
	"fmt"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/metadata"

	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/identifiers"
)

const (
	// GRPCHeader is the gRPC metadata key containerd clients set.
	GRPCHeader = "containerd-namespace"
	// TTRPCHeader is the ttrpc metadata key shims set on forwarded events.
	TTRPCHeader = "containerd-namespace-ttrpc"
)

type key struct{}

// With returns a context carrying namespace ns.
func With(ctx context.Context, ns string) context.Context {
	return context.WithValue(ctx, key{}, ns)
}

// Namespace returns the request's namespace, validated, or an
// InvalidArgument error when it is missing or malformed.
func Namespace(ctx context.Context) (string, error) {
	ns, ok := lookup(ctx)
	if !ok || ns == "" {
		return "", fmt.Errorf("namespace is required: %w", errdefs.ErrInvalidArgument)
	}
	if err := identifiers.Validate(ns); err != nil {
		return "", fmt.Errorf("namespace %q: %w", ns, err)
	}
	return ns, nil
}

func lookup(ctx context.Context) (string, bool) {
	if ns, ok := ctx.Value(key{}).(string); ok {
		return ns, true
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(GRPCHeader); len(v) > 0 {
			return v[0], true
		}
	}
	if v, ok := ttrpc.GetMetadataValue(ctx, TTRPCHeader); ok {
		return v, true
	}
	return "", false
}

// Outgoing returns ctx with ns set for an outgoing gRPC call.
func Outgoing(ctx context.Context, ns string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, GRPCHeader, ns)
}
