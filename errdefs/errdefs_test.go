package errdefs

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		cls  error
		code codes.Code
	}{
		{ErrInvalidArgument, codes.InvalidArgument},
		{ErrNotFound, codes.NotFound},
		{ErrAlreadyExists, codes.AlreadyExists},
		{ErrFailedPrecondition, codes.FailedPrecondition},
		{ErrUnavailable, codes.Unavailable},
		{ErrNotImplemented, codes.Unimplemented},
		{ErrUnknown, codes.Unknown},
		{context.Canceled, codes.Canceled},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
	} {
		err := fmt.Errorf("container %q: %w", "c1", tc.cls)
		g := ToGRPC(err)
		s, ok := status.FromError(g)
		if !ok || s.Code() != tc.code {
			t.Fatalf("ToGRPC(%v) = %v, want code %v", err, g, tc.code)
		}
		if s.Message() != err.Error() {
			t.Fatalf("ToGRPC message = %q, want %q", s.Message(), err.Error())
		}
		back := FromGRPC(g)
		if !errors.Is(back, tc.cls) {
			t.Fatalf("FromGRPC(%v) = %v, not of class %v", g, back, tc.cls)
		}
		if back.Error() != err.Error() {
			t.Fatalf("FromGRPC message = %q, want %q", back.Error(), err.Error())
		}
	}
}

func TestUnclassified(t *testing.T) {
	g := ToGRPC(errors.New("boom"))
	if status.Code(g) != codes.Unknown || status.Convert(g).Message() != "boom" {
		t.Fatalf("ToGRPC(boom) = %v", g)
	}
	back := FromGRPC(g)
	if !IsUnknown(back) || back.Error() != "boom: unknown" {
		t.Fatalf("FromGRPC = %v", back)
	}
	// An unmapped code also becomes ErrUnknown.
	if err := FromGRPC(status.Error(codes.Internal, "x")); !IsUnknown(err) {
		t.Fatalf("FromGRPC(Internal) = %v", err)
	}
	// A plain error (not a status) is classified as unknown too.
	if err := FromGRPC(errors.New("plain")); !IsUnknown(err) {
		t.Fatalf("FromGRPC(plain) = %v", err)
	}
}

func TestPassThroughAndNil(t *testing.T) {
	if ToGRPC(nil) != nil || FromGRPC(nil) != nil {
		t.Fatal("nil must map to nil")
	}
	g := status.Error(codes.PermissionDenied, "no")
	if ToGRPC(g) != g {
		t.Fatal("a status error must pass through ToGRPC unchanged")
	}
	if err := FromGRPC(status.Error(codes.NotFound, "not found")); err != ErrNotFound {
		t.Fatalf("bare class message should give the sentinel itself, got %v", err)
	}
}

func TestHelpers(t *testing.T) {
	err := fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", ErrFailedPrecondition))
	if !IsFailedPrecondition(err) || IsNotFound(err) {
		t.Fatal("helpers must follow the wrap chain")
	}
}
