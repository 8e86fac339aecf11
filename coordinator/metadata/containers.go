package metadata

import (
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"

	"github.com/seedrt/seed/errdefs"
)

// CreateContainer stores the new container c in namespace ns, creating the
// namespace if needed, and returns it with CreatedAt and UpdatedAt set.
// It fails with ErrInvalidArgument if c is invalid (bad id or label, no
// runtime name, no spec, a snapshot key without snapshotter), and with
// ErrAlreadyExists if the id is taken.
func (db *DB) CreateContainer(ns string, c Container) (Container, error) {
	if err := validateNamespace(ns); err != nil {
		return Container{}, err
	}
	if err := validateContainer(&c); err != nil {
		return Container{}, fmt.Errorf("create container failed validation: %w", err)
	}
	normalize(&c)
	c.CreatedAt = time.Now().UTC()
	c.UpdatedAt = c.CreatedAt
	err := db.update(func(tx *bolt.Tx) error {
		cbkt, err := createSubBucket(tx, ns, bucketContainers)
		if err != nil {
			return err
		}
		b, err := cbkt.CreateBucket([]byte(c.ID))
		if errors.Is(err, bberrors.ErrBucketExists) {
			return errdefs.ErrAlreadyExists
		}
		if err != nil {
			return err
		}
		return putJSON(b, keyRecord, &c)
	})
	if err != nil {
		return Container{}, fmt.Errorf("create container %q in namespace %q: %w", c.ID, ns, err)
	}
	return c, nil
}

// GetContainer returns container id of namespace ns, or an error wrapping
// ErrNotFound.
func (db *DB) GetContainer(ns, id string) (Container, error) {
	if err := validateNamespace(ns); err != nil {
		return Container{}, err
	}
	var c Container
	err := db.view(func(tx *bolt.Tx) error {
		b := containerBucket(tx, ns, id)
		if b == nil {
			return errdefs.ErrNotFound
		}
		return readContainer(b, id, &c)
	})
	if err != nil {
		return Container{}, fmt.Errorf("container %q in namespace %q: %w", id, ns, err)
	}
	return c, nil
}

// ListContainers returns the containers of namespace ns for which filter,
// if not nil, returns true, sorted by id. A namespace that does not exist
// has no containers.
func (db *DB) ListContainers(ns string, filter func(*Container) bool) ([]Container, error) {
	if err := validateNamespace(ns); err != nil {
		return nil, err
	}
	var list []Container
	err := db.view(func(tx *bolt.Tx) error {
		cbkt := subBucket(tx, ns, bucketContainers)
		if cbkt == nil {
			return nil
		}
		return cbkt.ForEachBucket(func(k []byte) error {
			var c Container
			if err := readContainer(cbkt.Bucket(k), string(k), &c); err != nil {
				return fmt.Errorf("container %q: %w", k, err)
			}
			if filter == nil || filter(&c) {
				list = append(list, c)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list containers in namespace %q: %w", ns, err)
	}
	return list, nil
}

// UpdateContainer updates the stored container c.ID of namespace ns from c,
// with containerd's field paths: "labels", "labels.KEY", "spec",
// "extensions", "extensions.KEY", "image" and "snapshotkey". With no field
// paths all of those are updated, and c's Runtime.Name and Snapshotter must
// equal the stored ones (they are immutable). An unknown or immutable path
// fails with ErrInvalidArgument, a missing container with ErrNotFound. A
// "labels.KEY" whose value in c is empty, or an "extensions.KEY" absent
// from c, removes that entry. It returns the updated container.
func (db *DB) UpdateContainer(ns string, c Container, fieldpaths ...string) (Container, error) {
	if err := validateNamespace(ns); err != nil {
		return Container{}, err
	}
	if c.ID == "" {
		return Container{}, fmt.Errorf("must specify a container id: %w", errdefs.ErrInvalidArgument)
	}
	var updated Container
	err := db.update(func(tx *bolt.Tx) error {
		b := containerBucket(tx, ns, c.ID)
		if b == nil {
			return errdefs.ErrNotFound
		}
		if err := readContainer(b, c.ID, &updated); err != nil {
			return err
		}
		if err := applyContainerPaths(&updated, &c, fieldpaths); err != nil {
			return err
		}
		if err := validateContainer(&updated); err != nil {
			return fmt.Errorf("update failed validation: %w", err)
		}
		normalize(&updated)
		updated.UpdatedAt = time.Now().UTC()
		return putJSON(b, keyRecord, &updated)
	})
	if err != nil {
		return Container{}, fmt.Errorf("update container %q in namespace %q: %w", c.ID, ns, err)
	}
	return updated, nil
}

// applyContainerPaths copies the fields named by fieldpaths from c to
// updated, following containerd's metadata.containerStore.Update.
func applyContainerPaths(updated, c *Container, fieldpaths []string) error {
	if len(fieldpaths) == 0 {
		fieldpaths = []string{"labels", "spec", "extensions", "image", "snapshotkey"}
		// Immutable fields must match on a full update, so that they can
		// become mutable later without changing the meaning of old requests.
		if updated.Snapshotter != c.Snapshotter {
			return fmt.Errorf("container.Snapshotter field is immutable: %w", errdefs.ErrInvalidArgument)
		}
		if updated.Runtime.Name != c.Runtime.Name {
			return fmt.Errorf("container.Runtime.Name field is immutable: %w", errdefs.ErrInvalidArgument)
		}
	}
	for _, path := range fieldpaths {
		if key, ok := strings.CutPrefix(path, "labels."); ok {
			updated.Labels = setLabel(updated.Labels, key, c.Labels[key])
			continue
		}
		if key, ok := strings.CutPrefix(path, "extensions."); ok {
			ext, present := c.Extensions[key]
			if !present {
				delete(updated.Extensions, key)
				continue
			}
			if updated.Extensions == nil {
				updated.Extensions = map[string]Any{}
			}
			updated.Extensions[key] = ext
			continue
		}
		switch path {
		case "labels":
			updated.Labels = c.Labels
		case "spec":
			updated.Spec = c.Spec
		case "extensions":
			updated.Extensions = c.Extensions
		case "image":
			updated.Image = c.Image
		case "snapshotkey":
			updated.SnapshotKey = c.SnapshotKey
		default:
			return fmt.Errorf("cannot update %q field on %q: %w", path, c.ID, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// DeleteContainer deletes container id of namespace ns, with its extra
// data. It fails with ErrNotFound if there is no such container.
func (db *DB) DeleteContainer(ns, id string) error {
	if err := validateNamespace(ns); err != nil {
		return err
	}
	err := db.update(func(tx *bolt.Tx) error {
		cbkt := subBucket(tx, ns, bucketContainers)
		if cbkt == nil || cbkt.Bucket([]byte(id)) == nil {
			return errdefs.ErrNotFound
		}
		return cbkt.DeleteBucket([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete container %q in namespace %q: %w", id, ns, err)
	}
	return nil
}

// containerBucket returns the bucket of container id in namespace ns, nil
// if absent.
func containerBucket(tx *bolt.Tx, ns, id string) *bolt.Bucket {
	if cbkt := subBucket(tx, ns, bucketContainers); cbkt != nil && id != "" {
		return cbkt.Bucket([]byte(id))
	}
	return nil
}

func readContainer(b *bolt.Bucket, id string, c *Container) error {
	if err := getJSON(b, keyRecord, c); err != nil {
		return err
	}
	c.ID = id
	return nil
}

// normalize gives c the form it has once stored and read back: labels with
// empty values dropped (an empty label value means no label, as in
// containerd), and empty maps as nil.
func normalize(c *Container) {
	c.Labels = copyLabels(c.Labels)
	if len(c.Extensions) == 0 {
		c.Extensions = nil
	}
}
