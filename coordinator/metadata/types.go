package metadata

import (
	"fmt"
	"time"

	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/identifiers"
)

// The record types below are stored as JSON (see db.go); the json tags are
// the on-disk field names of schema version 1 and must not change.

// Any is an opaque typed value, as google.protobuf.Any.
type Any struct {
	TypeURL string `json:"type_url"`
	Value   []byte `json:"value,omitempty"`
}

// Runtime names the runtime (shim) that runs a container, and its options.
type Runtime struct {
	Name    string `json:"name"`
	Options *Any   `json:"options,omitempty"`
}

// Container is the stored record of a container.
type Container struct {
	ID          string            `json:"id"`
	Labels      map[string]string `json:"labels,omitempty"`
	Image       string            `json:"image,omitempty"`
	Runtime     Runtime           `json:"runtime"`
	Spec        *Any              `json:"spec,omitempty"`
	SnapshotKey string            `json:"snapshot_key,omitempty"`
	Snapshotter string            `json:"snapshotter,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
	Extensions  map[string]Any    `json:"extensions,omitempty"`
	SandboxID   string            `json:"sandbox_id,omitempty"`
}

// Namespace is the stored record of a namespace.
type Namespace struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
}

// Lease is the stored record of a lease. Without a content store a lease
// protects nothing; it is kept so that the leases API behaves.
type Lease struct {
	ID        string            `json:"id"`
	CreatedAt time.Time         `json:"created_at"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// maxLabelSize is containerd's limit on len(key)+len(value) of a label.
const maxLabelSize = 4096

func validateLabels(labels map[string]string) error {
	for k, v := range labels {
		if len(k)+len(v) > maxLabelSize {
			short := k
			if len(short) > 10 {
				short = short[:10]
			}
			return fmt.Errorf("label key and value greater than maximum size (%d bytes), key: %s: %w",
				maxLabelSize, short, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// validateContainer applies containerd's rules to a container record.
func validateContainer(c *Container) error {
	if err := identifiers.Validate(c.ID); err != nil {
		return fmt.Errorf("container.ID: %w", err)
	}
	for k := range c.Extensions {
		if k == "" {
			return fmt.Errorf("container.Extensions keys must not be empty: %w", errdefs.ErrInvalidArgument)
		}
	}
	if err := validateLabels(c.Labels); err != nil {
		return fmt.Errorf("container.Labels: %w", err)
	}
	if c.Runtime.Name == "" {
		return fmt.Errorf("container.Runtime.Name must be set: %w", errdefs.ErrInvalidArgument)
	}
	if c.Spec == nil {
		return fmt.Errorf("container.Spec must be set: %w", errdefs.ErrInvalidArgument)
	}
	if c.SnapshotKey != "" && c.Snapshotter == "" {
		return fmt.Errorf("container.Snapshotter must be set if container.SnapshotKey is set: %w",
			errdefs.ErrInvalidArgument)
	}
	return nil
}

// validateNamespace checks a namespace name, for every namespaced call.
func validateNamespace(ns string) error {
	if err := identifiers.Validate(ns); err != nil {
		return fmt.Errorf("namespace: %w", err)
	}
	return nil
}
