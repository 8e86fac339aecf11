package metadata

import (
	"reflect"
	"testing"

	"github.com/seedrt/seed/errdefs"
)

func TestNamespaceCRUD(t *testing.T) {
	db, _ := newDB(t)

	if err := db.CreateNamespace("b", map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	check(t, db.CreateNamespace("b", nil), errdefs.IsAlreadyExists, "duplicate namespace")
	check(t, db.CreateNamespace("../x", nil), errdefs.IsInvalidArgument, "bad namespace name")

	created, err := db.EnsureNamespace("a")
	if err != nil || !created {
		t.Fatalf("EnsureNamespace(a) = %v, %v; want created", created, err)
	}
	created, err = db.EnsureNamespace("b")
	if err != nil || created {
		t.Fatalf("EnsureNamespace(b) = %v, %v; want existing", created, err)
	}

	n, err := db.GetNamespace("b")
	if err != nil || !reflect.DeepEqual(n, Namespace{Name: "b", Labels: map[string]string{"k": "v"}}) {
		t.Fatalf("GetNamespace(b) = %+v, %v", n, err)
	}
	_, err = db.GetNamespace("nope")
	check(t, err, errdefs.IsNotFound, "get missing namespace")

	list, err := db.ListNamespaces()
	if err != nil || len(list) != 2 || list[0].Name != "a" || list[1].Name != "b" {
		t.Fatalf("ListNamespaces = %+v, %v", list, err)
	}

	if err := db.DeleteNamespace("a"); err != nil {
		t.Fatal(err)
	}
	check(t, db.DeleteNamespace("a"), errdefs.IsNotFound, "delete missing namespace")
}

func TestNamespaceUpdate(t *testing.T) {
	db, _ := newDB(t)
	if err := db.CreateNamespace("ns", map[string]string{"a": "1", "b": "2"}); err != nil {
		t.Fatal(err)
	}
	n, err := db.UpdateNamespace("ns", map[string]string{"c": "3"})
	if err != nil || !reflect.DeepEqual(n.Labels, map[string]string{"c": "3"}) {
		t.Fatalf("full update = %+v, %v", n, err)
	}
	n, err = db.UpdateNamespace("ns", map[string]string{"d": "4", "e": "ignored"}, "labels.d", "labels.c")
	if err != nil || !reflect.DeepEqual(n.Labels, map[string]string{"d": "4"}) {
		t.Fatalf("path update = %+v, %v", n, err)
	}
	_, err = db.UpdateNamespace("ns", nil, "name")
	check(t, err, errdefs.IsInvalidArgument, "update bad path")
	if got, _ := db.GetNamespace("ns"); !reflect.DeepEqual(got.Labels, map[string]string{"d": "4"}) {
		t.Fatalf("stored labels = %v", got.Labels)
	}
	// As containerd, updating a missing namespace creates it.
	if _, err := db.UpdateNamespace("new", map[string]string{"x": "y"}); err != nil {
		t.Fatal(err)
	}
	if got, err := db.GetNamespace("new"); err != nil || got.Labels["x"] != "y" {
		t.Fatalf("GetNamespace(new) = %+v, %v", got, err)
	}
}

func TestNamespaceDeleteRefusal(t *testing.T) {
	db, _ := newDB(t)
	if _, err := db.CreateContainer("ns", testContainer("c1")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateLease("ns", Lease{ID: "l1"}); err != nil {
		t.Fatal(err)
	}
	err := db.DeleteNamespace("ns")
	check(t, err, errdefs.IsFailedPrecondition, "delete namespace with objects")
	want := `delete namespace "ns": namespace must be empty, but it still has containers, leases: failed precondition`
	if err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}

	if err := db.DeleteContainer("ns", "c1"); err != nil {
		t.Fatal(err)
	}
	check(t, db.DeleteNamespace("ns"), errdefs.IsFailedPrecondition, "delete namespace with a lease")
	if err := db.DeleteLease("ns", "l1"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteNamespace("ns"); err != nil {
		t.Fatalf("delete emptied namespace: %v", err)
	}
}
