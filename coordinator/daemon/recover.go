package daemon

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A client's request must never take the daemon down: a handler that
// panics fails that request with Internal, and the daemon logs it.

func panicError(method string, p any) error {
	fmt.Fprintf(os.Stderr, "panic serving %s: %v\n%s", method, p, debug.Stack())
	return status.Errorf(codes.Internal, "%s: internal error", method)
}

func recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError(info.FullMethod, p)
		}
	}()
	return handler(ctx, req)
}

func recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError(info.FullMethod, p)
		}
	}()
	return handler(srv, ss)
}

func recoverTTRPC(ctx context.Context, u ttrpc.Unmarshaler, info *ttrpc.UnaryServerInfo, m ttrpc.Method) (resp interface{}, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError(info.FullMethod, p)
		}
	}()
	return m(ctx, u)
}
