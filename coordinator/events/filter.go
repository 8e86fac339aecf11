package events

import (
	"reflect"
	"strings"

	"github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/shimapi/typeurl"
)

// Subscription filters use the syntax of package filters, over the fields
// of an envelope below, e.g. topic=="/tasks/exit", namespace==default,
// event.container_id==c1 or event.labels."a b"~=x.

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
