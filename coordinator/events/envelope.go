package events

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/identifiers"
	"github.com/seedrt/seed/shimapi/typeurl"
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

// field returns the value filters see at path: "namespace", "topic" or
// "event.<proto field name>" (a string field, or a key of a map of strings
// such as "event.labels.foo") of an event type linked into the binary.
func (e *Envelope) field(path []string) (string, bool) {
	if len(path) == 0 {
		return "", false
	}
	switch path[0] {
	case "namespace":
		return e.Namespace, e.Namespace != ""
	case "topic":
		return e.Topic, e.Topic != ""
	case "event":
		return eventField(e.Event, path[1:])
	}
	return "", false
}

func eventField(a *types.Any, path []string) (string, bool) {
	if a == nil || len(path) == 0 {
		return "", false
	}
	m, err := typeurl.UnmarshalAny(a)
	if err != nil {
		return "", false
	}
	if f, ok := m.(interface{ Field([]string) (string, bool) }); ok {
		return f.Field(path)
	}
	v := reflect.Indirect(reflect.ValueOf(m))
	if v.Kind() != reflect.Struct {
		return "", false
	}
	for i := 0; i < v.NumField(); i++ {
		if protoName(v.Type().Field(i).Tag.Get("protobuf")) != path[0] {
			continue
		}
		fv := v.Field(i)
		switch {
		case fv.Kind() == reflect.String && len(path) == 1:
			return fv.String(), fv.Len() > 0
		case fv.Kind() == reflect.Map && len(path) == 2 &&
			fv.Type().Key().Kind() == reflect.String && fv.Type().Elem().Kind() == reflect.String:
			mv := fv.MapIndex(reflect.ValueOf(path[1]).Convert(fv.Type().Key()))
			if !mv.IsValid() {
				return "", false
			}
			return mv.String(), true
		}
		return "", false
	}
	return "", false
}

// protoName extracts name=... from a protobuf struct tag.
func protoName(tag string) string {
	for _, part := range strings.Split(tag, ",") {
		if name, ok := strings.CutPrefix(part, "name="); ok {
			return name
		}
	}
	return ""
}
