package metadata

import (
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/seedrt/seed/errdefs"
)

func setVersion(t *testing.T, path, v string) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	if err := bdb.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyVersion, []byte(v))
	}); err != nil {
		t.Fatal(err)
	}
}

func TestVersionCheck(t *testing.T) {
	db, path := newDB(t)
	db.Close()

	setVersion(t, path, "2")
	_, err := Open(path)
	check(t, err, errdefs.IsFailedPrecondition, "open newer schema")
	if !strings.Contains(err.Error(), "metadata schema version 2 is newer than this daemon supports (1)") {
		t.Fatalf("unclear error: %v", err)
	}

	setVersion(t, path, "garbage")
	_, err = Open(path)
	check(t, err, errdefs.IsFailedPrecondition, "open invalid schema")

	setVersion(t, path, "1")
	db, err = Open(path)
	if err != nil {
		t.Fatalf("open current schema: %v", err)
	}
	db.Close()
}

func TestNewStoreRecordsVersion(t *testing.T) {
	db, _ := newDB(t)
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		if v := string(tx.Bucket(bucketMeta).Get(keyVersion)); v != "1" {
			t.Errorf("version = %q, want 1", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestLocked(t *testing.T) {
	old := openTimeout
	openTimeout = 100 * time.Millisecond
	defer func() { openTimeout = old }()

	_, path := newDB(t)
	_, err := Open(path)
	if !errors.Is(err, ErrLocked) || !errdefs.IsUnavailable(err) {
		t.Fatalf("second Open: got %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "metadata store is locked by another process") {
		t.Fatalf("unclear error: %v", err)
	}
}

func TestClosed(t *testing.T) {
	db, _ := newDB(t)
	db.Close()
	_, err := db.GetContainer("default", "c1")
	check(t, err, errdefs.IsUnavailable, "get on closed store")
	_, err = db.CreateContainer("default", testContainer("c1"))
	check(t, err, errdefs.IsUnavailable, "create on closed store")
}

func TestReopenKeepsData(t *testing.T) {
	db, path := newDB(t)
	if err := db.CreateNamespace("ns1", map[string]string{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	want, err := db.CreateContainer("ns1", testContainer("c1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetContainerExtra("ns1", "c1", "bundle", []byte("/run/x")); err != nil {
		t.Fatal(err)
	}
	lease, err := db.CreateLease("ns1", Lease{ID: "l1", Labels: map[string]string{"x": "y"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.GetContainer("ns1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	assertContainer(t, got, want)
	if v, err := db.GetContainerExtra("ns1", "c1", "bundle"); err != nil || string(v) != "/run/x" {
		t.Fatalf("extra after reopen = %q, %v", v, err)
	}
	n, err := db.GetNamespace("ns1")
	if err != nil || n.Labels["a"] != "b" {
		t.Fatalf("namespace after reopen = %+v, %v", n, err)
	}
	gl, err := db.GetLease("ns1", "l1")
	if err != nil || !gl.CreatedAt.Equal(lease.CreatedAt) || gl.Labels["x"] != "y" {
		t.Fatalf("lease after reopen = %+v, %v", gl, err)
	}
}
