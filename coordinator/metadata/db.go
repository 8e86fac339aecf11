// Package metadata is the daemon's crash-safe persistent store of
// namespaces, containers and leases, kept in one bbolt file (ROOT/meta.db).
//
// Every write is a single bbolt transaction, and bbolt fsyncs on commit, so
// a daemon killed at any moment leaves each record either wholly written or
// not written at all.
//
// Layout, schema version 1:
//
//	meta/version                    -> "1" (decimal)
//	namespaces/<ns>/record          -> JSON Namespace
//	namespaces/<ns>/containers/<id>/record   -> JSON Container
//	namespaces/<ns>/containers/<id>/extra/<key> -> daemon-private bytes
//	namespaces/<ns>/leases/<id>     -> JSON Lease
//
// Records are JSON rather than one bbolt key per field: a record is small and
// always read and written whole, JSON can be inspected with the bbolt CLI,
// and fields can be added later without a migration (missing fields decode
// as zero values, unknown ones are ignored). Nested buckets are used only
// where they carry structure: namespaces, the object kinds inside them, and
// each container's private extra data, so deleting a container or checking
// a namespace for emptiness is a bucket operation.
package metadata

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"

	"github.com/seedrt/seed/errdefs"
)

// SchemaVersion is the version of the on-disk layout this code writes.
const SchemaVersion = 1

// ErrLocked is wrapped by Open when another process holds the store.
var ErrLocked = fmt.Errorf("metadata store is locked by another process: %w", errdefs.ErrUnavailable)

// openTimeout bounds the wait for the store's file lock; a variable for tests.
var openTimeout = time.Second

var (
	bucketMeta       = []byte("meta")
	bucketNamespaces = []byte("namespaces")
	bucketContainers = []byte("containers")
	bucketLeases     = []byte("leases")
	bucketExtra      = []byte("extra")
	keyVersion       = []byte("version")
	keyRecord        = []byte("record")
)

// DB is an open metadata store. Its methods are safe for concurrent use.
type DB struct {
	bolt    *bolt.DB
	writers atomic.Int32 // writes under way, to batch only when they contend
}

// batchDelay is how long a contended write waits for others to share its
// transaction.
const batchDelay = 2 * time.Millisecond

// Open opens, creating it if needed, the store in the file at path. It
// fails wrapping ErrLocked if another process has the file open, and wrapping
// errdefs.ErrFailedPrecondition if the file was written by a newer schema.
func Open(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open metadata store: %w", err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout})
	if bdb != nil {
		bdb.MaxBatchDelay = batchDelay
	}
	if errors.Is(err, bberrors.ErrTimeout) {
		return nil, fmt.Errorf("open metadata store %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open metadata store %s: %w", path, err)
	}
	if err := bdb.Update(initSchema); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open metadata store %s: %w", path, err)
	}
	return &DB{bolt: bdb}, nil
}

// initSchema records the schema version in a new store, and checks it in an
// existing one.
func initSchema(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	if _, err := tx.CreateBucketIfNotExists(bucketNamespaces); err != nil {
		return err
	}
	raw := meta.Get(keyVersion)
	if raw == nil {
		return meta.Put(keyVersion, []byte(strconv.Itoa(SchemaVersion)))
	}
	v, err := strconv.Atoi(string(raw))
	if err != nil {
		return fmt.Errorf("invalid metadata schema version %q: %w", raw, errdefs.ErrFailedPrecondition)
	}
	if v > SchemaVersion {
		return fmt.Errorf("metadata schema version %d is newer than this daemon supports (%d): %w",
			v, SchemaVersion, errdefs.ErrFailedPrecondition)
	}
	// Migrations from older versions would go here; there are none yet.
	return nil
}

// Close closes the store, waiting for running transactions to finish.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("close metadata store: %w", err)
	}
	return nil
}

// update runs fn in a write transaction. A lone writer commits at once;
// writers that arrive while another is committing share one transaction,
// and so one fsync (bbolt's Batch), instead of queueing for one fsync each
// when many containers start at once. fn may run more than once, so it
// must only act through tx.
func (db *DB) update(fn func(tx *bolt.Tx) error) error {
	defer db.writers.Add(-1)
	if db.writers.Add(1) == 1 {
		return closedErr(db.bolt.Update(fn))
	}
	return closedErr(db.bolt.Batch(fn))
}

func (db *DB) view(fn func(tx *bolt.Tx) error) error {
	return closedErr(db.bolt.View(fn))
}

func closedErr(err error) error {
	if errors.Is(err, bberrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("metadata store is closed: %w", errdefs.ErrUnavailable)
	}
	return err
}

// namespaceBucket returns the bucket of namespace ns, nil if absent.
func namespaceBucket(tx *bolt.Tx, ns string) *bolt.Bucket {
	return tx.Bucket(bucketNamespaces).Bucket([]byte(ns))
}

// createNamespaceBucket returns the bucket of namespace ns, creating the
// namespace, with no labels, if absent; created tells which.
func createNamespaceBucket(tx *bolt.Tx, ns string) (b *bolt.Bucket, created bool, err error) {
	if b = namespaceBucket(tx, ns); b != nil {
		return b, false, nil
	}
	b, err = tx.Bucket(bucketNamespaces).CreateBucket([]byte(ns))
	if err != nil {
		return nil, false, err
	}
	if err := putJSON(b, keyRecord, &Namespace{Name: ns}); err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// subBucket returns the bucket name inside the bucket of namespace ns, nil
// if either is absent.
func subBucket(tx *bolt.Tx, ns string, name []byte) *bolt.Bucket {
	if b := namespaceBucket(tx, ns); b != nil {
		return b.Bucket(name)
	}
	return nil
}

// createSubBucket is subBucket, creating the namespace and bucket if absent,
// as containerd does on the first write into a namespace.
func createSubBucket(tx *bolt.Tx, ns string, name []byte) (*bolt.Bucket, error) {
	b, _, err := createNamespaceBucket(tx, ns)
	if err != nil {
		return nil, err
	}
	return b.CreateBucketIfNotExists(name)
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return b.Put(key, data)
}

func getJSON(b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return fmt.Errorf("record %s missing", key)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}

// isEmpty reports whether bucket b is absent or holds no keys.
func isEmpty(b *bolt.Bucket) bool {
	if b == nil {
		return true
	}
	k, _ := b.Cursor().First()
	return k == nil
}
