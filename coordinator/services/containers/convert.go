package containers

import (
	ptypes "github.com/gogo/protobuf/types"

	api "github.com/seedrt/seed/api/services/containers/v1"
	"github.com/seedrt/seed/coordinator/filters"
	"github.com/seedrt/seed/coordinator/metadata"
)

// fromProto converts an API container to a record. Missing parts (no
// runtime, no spec) are left empty for the store's validation to reject.
// containerd 1.6's API has no sandbox id, so SandboxID is left empty: the
// store keeps the stored one on update.
func fromProto(c *api.Container) metadata.Container {
	m := metadata.Container{
		ID:          c.ID,
		Labels:      c.Labels,
		Image:       c.Image,
		Spec:        anyFromProto(c.Spec),
		SnapshotKey: c.SnapshotKey,
		Snapshotter: c.Snapshotter,
	}
	if c.Runtime != nil {
		m.Runtime = metadata.Runtime{Name: c.Runtime.Name, Options: anyFromProto(c.Runtime.Options)}
	}
	if len(c.Extensions) > 0 {
		m.Extensions = make(map[string]metadata.Any, len(c.Extensions))
		for k, v := range c.Extensions {
			m.Extensions[k] = metadata.Any{TypeURL: v.TypeUrl, Value: v.Value}
		}
	}
	return m
}

// toProto converts a record to an API container; Runtime is always set.
func toProto(m *metadata.Container) api.Container {
	c := api.Container{
		ID:          m.ID,
		Labels:      m.Labels,
		Image:       m.Image,
		Runtime:     &api.Container_Runtime{Name: m.Runtime.Name, Options: anyToProto(m.Runtime.Options)},
		Spec:        anyToProto(m.Spec),
		Snapshotter: m.Snapshotter,
		SnapshotKey: m.SnapshotKey,
		CreatedAt:   m.CreatedAt,
		UpdatedAt:   m.UpdatedAt,
	}
	if len(m.Extensions) > 0 {
		c.Extensions = make(map[string]ptypes.Any, len(m.Extensions))
		for k, v := range m.Extensions {
			c.Extensions[k] = ptypes.Any{TypeUrl: v.TypeURL, Value: v.Value}
		}
	}
	return c
}

func anyFromProto(a *ptypes.Any) *metadata.Any {
	if a == nil {
		return nil
	}
	return &metadata.Any{TypeURL: a.TypeUrl, Value: a.Value}
}

func anyToProto(a *metadata.Any) *ptypes.Any {
	if a == nil {
		return nil
	}
	return &ptypes.Any{TypeUrl: a.TypeURL, Value: a.Value}
}

// parseFilters turns the request's filters into a store filter, over the
// fields containerd filters containers by: id, image, runtime.name and
// labels.KEY.
func parseFilters(fs []string) (func(*metadata.Container) bool, error) {
	f, err := filters.Parse(fs...)
	if err != nil {
		return nil, err
	}
	return func(c *metadata.Container) bool {
		return f.Match(func(path []string) (string, bool) { return field(c, path) })
	}, nil
}

func field(c *metadata.Container, path []string) (string, bool) {
	switch path[0] {
	case "id":
		return c.ID, c.ID != ""
	case "image":
		return c.Image, c.Image != ""
	case "runtime":
		if len(path) == 2 && path[1] == "name" {
			return c.Runtime.Name, c.Runtime.Name != ""
		}
	case "snapshotter":
		return c.Snapshotter, c.Snapshotter != ""
	case "labels":
		return filters.Label(path[1:], c.Labels)
	}
	return "", false
}
