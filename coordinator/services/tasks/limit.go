package tasks

import (
	"context"
	"fmt"

	"github.com/seedrt/seed/errdefs"
)

// limiter bounds how many heavy task operations (create, start, delete) run
// at once; the rest wait their turn. Goroutines blocked on a channel are
// woken in arrival order, so the queue is fair.
type limiter chan struct{}

func newLimiter(n int) limiter {
	if n <= 0 {
		return nil // unlimited
	}
	return make(limiter, n)
}

// acquire waits for a slot (or the caller giving up) and returns its release.
func (l limiter) acquire(ctx context.Context) (func(), error) {
	if l == nil {
		return func() {}, nil
	}
	select {
	case l <- struct{}{}:
		return func() { <-l }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a task operation slot: %v: %w", ctx.Err(), errdefs.ErrUnavailable)
	}
}
