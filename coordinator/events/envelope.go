package events

import (
	"fmt"
	"strings"
	"time"

	"github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/identifiers"
)

// Envelope is one event as it travels through the exchange: the event
// (packed with its bare type URL, e.g. "containerd.events.TaskExit") with the
// time it happened, its namespace and its topic (e.g. "/tasks/exit").
//
// Subscribers share the envelopes they receive: never modify one.
type Envelope struct {
	Timestamp time.Time
	Namespace string
	Topic     string
	Event     *types.Any
}

// Validate checks what Forward requires of an envelope: a valid namespace
// and topic, a timestamp and an event. Errors wrap errdefs.ErrInvalidArgument.
func (e *Envelope) Validate() error {
	if e == nil {
		return fmt.Errorf("envelope is required: %w", errdefs.ErrInvalidArgument)
	}
	if err := identifiers.Validate(e.Namespace); err != nil {
		return fmt.Errorf("envelope has invalid namespace: %w", err)
	}
	if err := validateTopic(e.Topic); err != nil {
		return err
	}
	if e.Timestamp.IsZero() {
		return fmt.Errorf("envelope timestamp must be set: %w", errdefs.ErrInvalidArgument)
	}
	if e.Event == nil {
		return fmt.Errorf("envelope event must be set: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

// validateTopic accepts "/" followed by one or more "/"-separated
// identifiers, e.g. "/tasks/exit".
func validateTopic(topic string) error {
	if topic == "" || topic[0] != '/' || len(topic) == 1 {
		return fmt.Errorf("topic %q must be '/' followed by one or more components: %w",
			topic, errdefs.ErrInvalidArgument)
	}
	for _, c := range strings.Split(topic[1:], "/") {
		if err := identifiers.Validate(c); err != nil {
			return fmt.Errorf("topic %q: invalid component: %w", topic, err)
		}
	}
	return nil
}
