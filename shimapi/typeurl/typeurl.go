// Package typeurl packs values into google.protobuf.Any the way containerd
// and ctr do on the wire.
//
// A protobuf message's type URL is its bare full name, e.g.
// "containerd.runc.v1.Options" — unlike gogo's types.MarshalAny, which adds a
// "type.googleapis.com/" prefix, and types.UnmarshalAny, which rejects URLs
// without a slash. OCI runtime-spec structs travel as JSON under the fixed
// URLs below.
package typeurl

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/gogo/protobuf/proto"
	"github.com/gogo/protobuf/types"
)

// Type URLs of OCI runtime-spec structs carried as JSON.
const (
	SpecURL             = "types.containerd.io/opencontainers/runtime-spec/1/Spec"
	ProcessURL          = "types.containerd.io/opencontainers/runtime-spec/1/Process"
	LinuxResourcesURL   = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"
	WindowsResourcesURL = "types.containerd.io/opencontainers/runtime-spec/1/WindowsResources"
)

// MarshalAny encodes m with its bare message name as the type URL.
func MarshalAny(m proto.Message) (*types.Any, error) {
	value, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &types.Any{TypeUrl: proto.MessageName(m), Value: value}, nil
}

// MarshalJSON encodes v as JSON under the given type URL (e.g. SpecURL).
func MarshalJSON(url string, v interface{}) (*types.Any, error) {
	value, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &types.Any{TypeUrl: url, Value: value}, nil
}

// Name returns the message name of a protobuf type URL: the URL itself when
// it has no slash, else the part after the last slash.
func Name(url string) string {
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		return url[i+1:]
	}
	return url
}

// Is reports whether a holds a message of m's type (with or without a
// URL prefix).
func Is(a *types.Any, m proto.Message) bool {
	return a != nil && Name(a.TypeUrl) == proto.MessageName(m)
}

// UnmarshalTo decodes a into m, which must be of the type a names.
func UnmarshalTo(a *types.Any, m proto.Message) error {
	if a == nil {
		return fmt.Errorf("typeurl: nil Any")
	}
	if !Is(a, m) {
		return fmt.Errorf("typeurl: Any holds %q, not %q", a.TypeUrl, proto.MessageName(m))
	}
	return proto.Unmarshal(a.Value, m)
}

// UnmarshalAny decodes a into a new message of the registered (linked-in)
// type it names.
func UnmarshalAny(a *types.Any) (proto.Message, error) {
	if a == nil {
		return nil, fmt.Errorf("typeurl: nil Any")
	}
	t := proto.MessageType(Name(a.TypeUrl))
	if t == nil {
		return nil, fmt.Errorf("typeurl: type %q is not registered", a.TypeUrl)
	}
	m := reflect.New(t.Elem()).Interface().(proto.Message)
	if err := proto.Unmarshal(a.Value, m); err != nil {
		return nil, err
	}
	return m, nil
}

// UnmarshalJSON decodes a JSON-carried value with the given type URL into v.
func UnmarshalJSON(a *types.Any, url string, v interface{}) error {
	if a == nil {
		return fmt.Errorf("typeurl: nil Any")
	}
	if a.TypeUrl != url {
		return fmt.Errorf("typeurl: Any holds %q, not %q", a.TypeUrl, url)
	}
	return json.Unmarshal(a.Value, v)
}
