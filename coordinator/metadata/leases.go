package metadata

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/seedrt/seed/errdefs"
)

// CreateLease stores the new lease l in namespace ns, creating the namespace
// if needed, and returns it with CreatedAt set. It fails with
// ErrInvalidArgument on a bad id or label, ErrAlreadyExists if the id is
// taken.
func (db *DB) CreateLease(ns string, l Lease) (Lease, error) {
	if err := validateNamespace(ns); err != nil {
		return Lease{}, err
	}
	if err := ValidateLeaseID(l.ID); err != nil {
		return Lease{}, err
	}
	if err := validateLabels(l.Labels); err != nil {
		return Lease{}, fmt.Errorf("lease.Labels: %w", err)
	}
	l.Labels = copyLabels(l.Labels)
	l.CreatedAt = time.Now().UTC()
	err := db.update(func(tx *bolt.Tx) error {
		lbkt, err := createSubBucket(tx, ns, bucketLeases)
		if err != nil {
			return err
		}
		if lbkt.Get([]byte(l.ID)) != nil {
			return errdefs.ErrAlreadyExists
		}
		return putJSON(lbkt, []byte(l.ID), &l)
	})
	if err != nil {
		return Lease{}, fmt.Errorf("create lease %q in namespace %q: %w", l.ID, ns, err)
	}
	return l, nil
}

// GetLease returns lease id of namespace ns, or an error wrapping
// ErrNotFound.
func (db *DB) GetLease(ns, id string) (Lease, error) {
	if err := validateNamespace(ns); err != nil {
		return Lease{}, err
	}
	var l Lease
	err := db.view(func(tx *bolt.Tx) error {
		lbkt := subBucket(tx, ns, bucketLeases)
		if lbkt == nil || id == "" || lbkt.Get([]byte(id)) == nil {
			return errdefs.ErrNotFound
		}
		return readLease(lbkt, []byte(id), &l)
	})
	if err != nil {
		return Lease{}, fmt.Errorf("lease %q in namespace %q: %w", id, ns, err)
	}
	return l, nil
}

// ListLeases returns the leases of namespace ns for which filter, if not
// nil, returns true, sorted by id.
func (db *DB) ListLeases(ns string, filter func(*Lease) bool) ([]Lease, error) {
	if err := validateNamespace(ns); err != nil {
		return nil, err
	}
	var list []Lease
	err := db.view(func(tx *bolt.Tx) error {
		lbkt := subBucket(tx, ns, bucketLeases)
		if lbkt == nil {
			return nil
		}
		return lbkt.ForEach(func(k, _ []byte) error {
			var l Lease
			if err := readLease(lbkt, k, &l); err != nil {
				return fmt.Errorf("lease %q: %w", k, err)
			}
			if filter == nil || filter(&l) {
				list = append(list, l)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list leases in namespace %q: %w", ns, err)
	}
	return list, nil
}

// DeleteLease deletes lease id of namespace ns. It fails with ErrNotFound if
// there is no such lease.
func (db *DB) DeleteLease(ns, id string) error {
	if err := validateNamespace(ns); err != nil {
		return err
	}
	err := db.update(func(tx *bolt.Tx) error {
		lbkt := subBucket(tx, ns, bucketLeases)
		if lbkt == nil || id == "" || lbkt.Get([]byte(id)) == nil {
			return errdefs.ErrNotFound
		}
		return lbkt.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete lease %q in namespace %q: %w", id, ns, err)
	}
	return nil
}

func readLease(lbkt *bolt.Bucket, id []byte, l *Lease) error {
	if err := getJSON(lbkt, id, l); err != nil {
		return err
	}
	l.ID = string(id)
	return nil
}

// MaxLeaseIDLength bounds lease ids. Leases are only keys in the store, never
// paths, so unlike container ids they may hold any character: containerd's
// ctr makes ids such as "292645843-ozw-".
const MaxLeaseIDLength = 256

// ValidateLeaseID accepts any non-empty id up to MaxLeaseIDLength bytes.
func ValidateLeaseID(id string) error {
	if id == "" || len(id) > MaxLeaseIDLength {
		return fmt.Errorf("lease id must be 1 to %d bytes: %w", MaxLeaseIDLength, errdefs.ErrInvalidArgument)
	}
	return nil
}
