package metadata

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/seedrt/seed/errdefs"
)

// SetContainerExtra stores val under key in the daemon-private data of
// container id of namespace ns (e.g. the shim's address or bundle path);
// a nil val removes key. The data is not part of the Container record, is
// never shown through the API, and is deleted with the container. It fails
// with ErrNotFound if there is no such container, ErrInvalidArgument if key
// is empty.
func (db *DB) SetContainerExtra(ns, id, key string, val []byte) error {
	if err := validateNamespace(ns); err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("container extra key must not be empty: %w", errdefs.ErrInvalidArgument)
	}
	err := db.update(func(tx *bolt.Tx) error {
		b := containerBucket(tx, ns, id)
		if b == nil {
			return errdefs.ErrNotFound
		}
		if val == nil {
			if eb := b.Bucket(bucketExtra); eb != nil {
				return eb.Delete([]byte(key))
			}
			return nil
		}
		eb, err := b.CreateBucketIfNotExists(bucketExtra)
		if err != nil {
			return err
		}
		return eb.Put([]byte(key), val)
	})
	if err != nil {
		return fmt.Errorf("set extra %q of container %q in namespace %q: %w", key, id, ns, err)
	}
	return nil
}

// GetContainerExtra returns the value stored by SetContainerExtra. It fails
// with ErrNotFound if there is no such container or key.
func (db *DB) GetContainerExtra(ns, id, key string) ([]byte, error) {
	if err := validateNamespace(ns); err != nil {
		return nil, err
	}
	var val []byte
	err := db.view(func(tx *bolt.Tx) error {
		b := containerBucket(tx, ns, id)
		if b == nil {
			return fmt.Errorf("container: %w", errdefs.ErrNotFound)
		}
		var v []byte
		if eb := b.Bucket(bucketExtra); eb != nil {
			v = eb.Get([]byte(key))
		}
		if v == nil {
			return errdefs.ErrNotFound
		}
		val = bytes.Clone(v) // v is only valid inside the transaction
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("extra %q of container %q in namespace %q: %w", key, id, ns, err)
	}
	return val, nil
}
