package metadata

import (
	"path/filepath"
	"testing"
)

func newDB(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "meta.db")
	db, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func testContainer(id string) Container {
	return Container{
		ID:      id,
		Labels:  map[string]string{"app": "web"},
		Image:   "docker.io/library/busybox:latest",
		Runtime: Runtime{Name: "io.containerd.runc.v2", Options: &Any{TypeURL: "opts", Value: []byte{1, 2}}},
		Spec:    &Any{TypeURL: "types.containerd.io/opencontainers/runtime-spec/1/Spec", Value: []byte(`{"ociVersion":"1.0.2"}`)},
		Extensions: map[string]Any{
			"ext1": {TypeURL: "t1", Value: []byte("v1")},
		},
	}
}

func check(t *testing.T, err error, want func(error) bool, what string) {
	t.Helper()
	if err == nil || !want(err) {
		t.Fatalf("%s: got error %v", what, err)
	}
}
