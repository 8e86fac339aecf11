package errdefs

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ToGRPC maps err to a gRPC status error whose code is given by err's class
// and whose message is err.Error(). An error that already carries a gRPC
// status is returned unchanged; an error of no known class becomes
// codes.Unknown. ToGRPC(nil) is nil.
func ToGRPC(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(grpcCode(err), err.Error())
}

func grpcCode(err error) codes.Code {
	switch {
	case IsInvalidArgument(err):
		return codes.InvalidArgument
	case IsNotFound(err):
		return codes.NotFound
	case IsAlreadyExists(err):
		return codes.AlreadyExists
	case IsFailedPrecondition(err):
		return codes.FailedPrecondition
	case IsUnavailable(err):
		return codes.Unavailable
	case IsNotImplemented(err):
		return codes.Unimplemented
	case IsCanceled(err):
		return codes.Canceled
	case IsDeadlineExceeded(err):
		return codes.DeadlineExceeded
	}
	return codes.Unknown
}

// FromGRPC maps a gRPC status error back to an error wrapping the class
// matching its code (ErrUnknown for an unmapped code), keeping the status
// message. A trailing ": <class>" in the message, left there by ToGRPC, is
// not repeated. FromGRPC(nil) is nil.
func FromGRPC(err error) error {
	if err == nil {
		return nil
	}
	code, msg := codes.Unknown, err.Error()
	if s, ok := status.FromError(err); ok {
		code, msg = s.Code(), s.Message()
	}

	cls := classOf(code)
	msg = strings.TrimSuffix(msg, ": "+cls.Error())
	if msg == "" || msg == cls.Error() {
		return cls
	}
	return fmt.Errorf("%s: %w", msg, cls)
}

func classOf(code codes.Code) error {
	switch code {
	case codes.InvalidArgument:
		return ErrInvalidArgument
	case codes.NotFound:
		return ErrNotFound
	case codes.AlreadyExists:
		return ErrAlreadyExists
	case codes.FailedPrecondition:
		return ErrFailedPrecondition
	case codes.Unavailable:
		return ErrUnavailable
	case codes.Unimplemented:
		return ErrNotImplemented
	case codes.Canceled:
		return context.Canceled
	case codes.DeadlineExceeded:
		return context.DeadlineExceeded
	}
	return ErrUnknown
}
