package metadata

import (
	"testing"

	"github.com/seedrt/seed/errdefs"
)

func TestLeases(t *testing.T) {
	db, _ := newDB(t)
	l, err := db.CreateLease("ns", Lease{ID: "l1", Labels: map[string]string{"gc": "x"}})
	if err != nil || l.CreatedAt.IsZero() {
		t.Fatalf("CreateLease = %+v, %v", l, err)
	}
	if _, err := db.CreateLease("ns", Lease{ID: "l2"}); err != nil {
		t.Fatal(err)
	}
	_, err = db.CreateLease("ns", Lease{ID: "l1"})
	check(t, err, errdefs.IsAlreadyExists, "duplicate lease")
	_, err = db.CreateLease("ns", Lease{ID: ""})
	check(t, err, errdefs.IsInvalidArgument, "empty lease id")
	// ctr's generated ids are not identifiers; leases are only keys.
	if _, err := db.CreateLease("ns", Lease{ID: "292645843-ozw-"}); err != nil {
		t.Fatalf("ctr-style lease id: %v", err)
	}
	if err := db.DeleteLease("ns", "292645843-ozw-"); err != nil {
		t.Fatal(err)
	}

	list, err := db.ListLeases("ns", nil)
	if err != nil || len(list) != 2 || list[0].ID != "l1" || list[1].ID != "l2" {
		t.Fatalf("ListLeases = %+v, %v", list, err)
	}
	list, err = db.ListLeases("ns", func(l *Lease) bool { return l.Labels["gc"] == "x" })
	if err != nil || len(list) != 1 || list[0].ID != "l1" {
		t.Fatalf("filtered ListLeases = %+v, %v", list, err)
	}
	if list, err := db.ListLeases("other", nil); err != nil || len(list) != 0 {
		t.Fatalf("ListLeases(other) = %+v, %v", list, err)
	}

	if err := db.DeleteLease("ns", "l1"); err != nil {
		t.Fatal(err)
	}
	check(t, db.DeleteLease("ns", "l1"), errdefs.IsNotFound, "delete missing lease")
	_, err = db.GetLease("ns", "l1")
	check(t, err, errdefs.IsNotFound, "get deleted lease")
}
