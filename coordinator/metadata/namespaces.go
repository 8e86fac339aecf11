package metadata

import (
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"

	"github.com/seedrt/seed/errdefs"
)

// CreateNamespace creates namespace name with labels. It fails with
// ErrAlreadyExists if the namespace exists, ErrInvalidArgument on a bad name
// or label.
func (db *DB) CreateNamespace(name string, labels map[string]string) error {
	if err := validateNamespace(name); err != nil {
		return err
	}
	if err := validateLabels(labels); err != nil {
		return fmt.Errorf("namespace.Labels: %w", err)
	}
	err := db.update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketNamespaces).CreateBucket([]byte(name))
		if errors.Is(err, bberrors.ErrBucketExists) {
			return errdefs.ErrAlreadyExists
		}
		if err != nil {
			return err
		}
		return putJSON(b, keyRecord, &Namespace{Name: name, Labels: labels})
	})
	if err != nil {
		return fmt.Errorf("create namespace %q: %w", name, err)
	}
	return nil
}

// EnsureNamespace creates namespace name, without labels, unless it exists.
// It reports whether it created it.
func (db *DB) EnsureNamespace(name string) (created bool, err error) {
	if err := validateNamespace(name); err != nil {
		return false, err
	}
	// Look first in a read transaction: a write transaction costs an fsync
	// even when it changes nothing, and the daemon calls this on every request.
	var exists bool
	err = db.view(func(tx *bolt.Tx) error {
		exists = namespaceBucket(tx, name) != nil
		return nil
	})
	if err == nil && !exists {
		err = db.update(func(tx *bolt.Tx) error {
			_, created, err = createNamespaceBucket(tx, name)
			return err
		})
	}
	if err != nil {
		return false, fmt.Errorf("ensure namespace %q: %w", name, err)
	}
	return created, nil
}

// GetNamespace returns namespace name, or an error wrapping ErrNotFound.
func (db *DB) GetNamespace(name string) (Namespace, error) {
	if err := validateNamespace(name); err != nil {
		return Namespace{}, err
	}
	var n Namespace
	err := db.view(func(tx *bolt.Tx) error {
		b := namespaceBucket(tx, name)
		if b == nil {
			return errdefs.ErrNotFound
		}
		return readNamespace(b, name, &n)
	})
	if err != nil {
		return Namespace{}, fmt.Errorf("namespace %q: %w", name, err)
	}
	return n, nil
}

// ListNamespaces returns all namespaces, sorted by name.
func (db *DB) ListNamespaces() ([]Namespace, error) {
	var list []Namespace
	err := db.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketNamespaces).ForEachBucket(func(k []byte) error {
			var n Namespace
			if err := readNamespace(tx.Bucket(bucketNamespaces).Bucket(k), string(k), &n); err != nil {
				return fmt.Errorf("namespace %q: %w", k, err)
			}
			list = append(list, n)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	return list, nil
}

// UpdateNamespace updates the labels of namespace name, with containerd's
// semantics: with no fieldpaths, or "labels", the labels are replaced by
// labels; "labels.KEY" sets label KEY to labels[KEY], removing it if that is
// empty; any other path fails with ErrInvalidArgument. As in containerd, a
// namespace that does not exist is created. It returns the updated namespace.
func (db *DB) UpdateNamespace(name string, labels map[string]string, fieldpaths ...string) (Namespace, error) {
	if err := validateNamespace(name); err != nil {
		return Namespace{}, err
	}
	var n Namespace
	err := db.update(func(tx *bolt.Tx) error {
		b, _, err := createNamespaceBucket(tx, name)
		if err != nil {
			return err
		}
		if err := readNamespace(b, name, &n); err != nil {
			return err
		}
		n.Labels, err = applyLabelPaths(n.Labels, labels, fieldpaths)
		if err != nil {
			return err
		}
		if err := validateLabels(n.Labels); err != nil {
			return fmt.Errorf("namespace.Labels: %w", err)
		}
		return putJSON(b, keyRecord, &n)
	})
	if err != nil {
		return Namespace{}, fmt.Errorf("update namespace %q: %w", name, err)
	}
	return n, nil
}

// applyLabelPaths returns cur updated from labels by the field paths
// "labels" and "labels.KEY"; no paths means "labels".
func applyLabelPaths(cur, labels map[string]string, fieldpaths []string) (map[string]string, error) {
	if len(fieldpaths) == 0 {
		fieldpaths = []string{"labels"}
	}
	for _, path := range fieldpaths {
		switch {
		case path == "labels":
			cur = copyLabels(labels)
		case strings.HasPrefix(path, "labels."):
			cur = setLabel(cur, strings.TrimPrefix(path, "labels."), labels[strings.TrimPrefix(path, "labels.")])
		default:
			return nil, fmt.Errorf("cannot update %q field: %w", path, errdefs.ErrInvalidArgument)
		}
	}
	return cur, nil
}

// setLabel sets key to value in labels, or deletes key if value is empty.
func setLabel(labels map[string]string, key, value string) map[string]string {
	if value == "" {
		delete(labels, key)
		return labels
	}
	if labels == nil {
		labels = map[string]string{}
	}
	labels[key] = value
	return labels
}

// copyLabels copies labels, dropping empty values: an empty label value
// means "no such label", as in containerd.
func copyLabels(labels map[string]string) map[string]string {
	var out map[string]string
	for k, v := range labels {
		out = setLabel(out, k, v)
	}
	return out
}

// DeleteNamespace deletes namespace name. It fails with ErrNotFound if it
// does not exist, and with ErrFailedPrecondition if it still holds
// containers or leases.
func (db *DB) DeleteNamespace(name string) error {
	if err := validateNamespace(name); err != nil {
		return err
	}
	err := db.update(func(tx *bolt.Tx) error {
		b := namespaceBucket(tx, name)
		if b == nil {
			return errdefs.ErrNotFound
		}
		var kinds []string
		if !isEmpty(b.Bucket(bucketContainers)) {
			kinds = append(kinds, "containers")
		}
		if !isEmpty(b.Bucket(bucketLeases)) {
			kinds = append(kinds, "leases")
		}
		if len(kinds) > 0 {
			return fmt.Errorf("namespace must be empty, but it still has %s: %w",
				strings.Join(kinds, ", "), errdefs.ErrFailedPrecondition)
		}
		return tx.Bucket(bucketNamespaces).DeleteBucket([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("delete namespace %q: %w", name, err)
	}
	return nil
}

func readNamespace(b *bolt.Bucket, name string, n *Namespace) error {
	if err := getJSON(b, keyRecord, n); err != nil {
		return err
	}
	n.Name = name
	return nil
}
