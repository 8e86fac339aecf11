// Package errdefs defines the error classes shared by the coordinator's
// packages. Errors are classified by wrapping one of the sentinels below
// (fmt.Errorf("...: %w", errdefs.ErrNotFound)) and tested with errors.Is,
// through the Is* helpers. The sentinel messages match containerd's so that
// messages crossing the API look the same as containerd's.
package errdefs

import (
	"context"
	"errors"
)

// Error classes. Wrap them, never compare errors with ==.
var (
	ErrUnknown            = errors.New("unknown") // an error that maps to no other class
	ErrInvalidArgument    = errors.New("invalid argument")
	ErrNotFound           = errors.New("not found")
	ErrAlreadyExists      = errors.New("already exists")
	ErrFailedPrecondition = errors.New("failed precondition")
	ErrUnavailable        = errors.New("unavailable")
	ErrNotImplemented     = errors.New("not implemented")
)

// IsInvalidArgument reports whether err is of class ErrInvalidArgument.
func IsInvalidArgument(err error) bool { return errors.Is(err, ErrInvalidArgument) }

// IsNotFound reports whether err is of class ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsAlreadyExists reports whether err is of class ErrAlreadyExists.
func IsAlreadyExists(err error) bool { return errors.Is(err, ErrAlreadyExists) }

// IsFailedPrecondition reports whether err is of class ErrFailedPrecondition.
func IsFailedPrecondition(err error) bool { return errors.Is(err, ErrFailedPrecondition) }

// IsUnavailable reports whether err is of class ErrUnavailable.
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }

// IsNotImplemented reports whether err is of class ErrNotImplemented.
func IsNotImplemented(err error) bool { return errors.Is(err, ErrNotImplemented) }

// IsUnknown reports whether err is of class ErrUnknown.
func IsUnknown(err error) bool { return errors.Is(err, ErrUnknown) }

// IsCanceled reports whether err is, or wraps, context.Canceled.
func IsCanceled(err error) bool { return errors.Is(err, context.Canceled) }

// IsDeadlineExceeded reports whether err is, or wraps, context.DeadlineExceeded.
func IsDeadlineExceeded(err error) bool { return errors.Is(err, context.DeadlineExceeded) }
