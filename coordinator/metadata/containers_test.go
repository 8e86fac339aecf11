package metadata

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/seedrt/seed/errdefs"
)

func assertContainer(t *testing.T, got, want Container) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("container mismatch:\n got  %+v\n want %+v", got, want)
	}
}

func TestContainerCRUD(t *testing.T) {
	db, _ := newDB(t)

	c, err := db.CreateContainer("ns", testContainer("c1"))
	if err != nil {
		t.Fatal(err)
	}
	if c.CreatedAt.IsZero() || !c.UpdatedAt.Equal(c.CreatedAt) {
		t.Fatalf("timestamps not set: %+v", c)
	}
	if created, _ := db.EnsureNamespace("ns"); created {
		t.Fatal("CreateContainer must create the namespace")
	}

	got, err := db.GetContainer("ns", "c1")
	if err != nil {
		t.Fatal(err)
	}
	assertContainer(t, got, c)

	_, err = db.CreateContainer("ns", testContainer("c1"))
	check(t, err, errdefs.IsAlreadyExists, "duplicate container")
	// The same id in another namespace is another container.
	if _, err := db.CreateContainer("ns2", testContainer("c1")); err != nil {
		t.Fatal(err)
	}

	_, err = db.GetContainer("ns", "nope")
	check(t, err, errdefs.IsNotFound, "get missing container")
	if want := `container "nope" in namespace "ns": not found`; err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}
	_, err = db.GetContainer("nons", "c1")
	check(t, err, errdefs.IsNotFound, "get in missing namespace")

	if _, err := db.CreateContainer("ns", testContainer("c2")); err != nil {
		t.Fatal(err)
	}
	list, err := db.ListContainers("ns", nil)
	if err != nil || len(list) != 2 || list[0].ID != "c1" || list[1].ID != "c2" {
		t.Fatalf("ListContainers = %+v, %v", list, err)
	}
	list, err = db.ListContainers("ns", func(c *Container) bool { return c.ID == "c2" })
	if err != nil || len(list) != 1 || list[0].ID != "c2" {
		t.Fatalf("filtered ListContainers = %+v, %v", list, err)
	}
	if list, err := db.ListContainers("empty", nil); err != nil || len(list) != 0 {
		t.Fatalf("ListContainers(empty) = %+v, %v", list, err)
	}

	if err := db.DeleteContainer("ns", "c1"); err != nil {
		t.Fatal(err)
	}
	check(t, db.DeleteContainer("ns", "c1"), errdefs.IsNotFound, "delete deleted container")
	check(t, db.DeleteContainer("nons", "c1"), errdefs.IsNotFound, "delete in missing namespace")
	_, err = db.GetContainer("ns", "c1")
	check(t, err, errdefs.IsNotFound, "get deleted container")
}

func TestContainerValidation(t *testing.T) {
	db, _ := newDB(t)
	for _, id := range []string{"", "../x", "a/b", "-a", "héllo", strings.Repeat("a", 77)} {
		_, err := db.CreateContainer("ns", testContainer(id))
		check(t, err, errdefs.IsInvalidArgument, fmt.Sprintf("create container %q", id))
	}
	_, err := db.CreateContainer("../ns", testContainer("c1"))
	check(t, err, errdefs.IsInvalidArgument, "bad namespace")
	_, err = db.GetContainer("a/b", "c1")
	check(t, err, errdefs.IsInvalidArgument, "get in bad namespace")

	bad := map[string]func(*Container){
		"no runtime":              func(c *Container) { c.Runtime.Name = "" },
		"no spec":                 func(c *Container) { c.Spec = nil },
		"key without snapshotter": func(c *Container) { c.SnapshotKey = "k" },
		"huge label":              func(c *Container) { c.Labels["k"] = strings.Repeat("v", 5000) },
		"empty extension key":     func(c *Container) { c.Extensions[""] = Any{} },
	}
	for name, mutate := range bad {
		c := testContainer("c1")
		mutate(&c)
		_, err := db.CreateContainer("ns", c)
		check(t, err, errdefs.IsInvalidArgument, name)
	}
	if list, _ := db.ListContainers("ns", nil); len(list) != 0 {
		t.Fatalf("invalid containers were stored: %+v", list)
	}
}

func TestContainerUpdate(t *testing.T) {
	db, _ := newDB(t)
	orig := testContainer("c1")
	orig.Labels["keep"] = "yes"
	orig.Extensions["ext2"] = Any{TypeURL: "t2"}
	orig.Snapshotter, orig.SnapshotKey = "overlayfs", "k1"
	created, err := db.CreateContainer("ns", orig)
	if err != nil {
		t.Fatal(err)
	}

	// Field paths update only what they name.
	in := Container{
		ID:         "c1",
		Labels:     map[string]string{"app": "db", "new": "1"},
		Image:      "other",
		Spec:       &Any{TypeURL: "s", Value: []byte("2")},
		Extensions: map[string]Any{"ext3": {TypeURL: "t3"}},
	}
	u, err := db.UpdateContainer("ns", in, "labels.app", "labels.keep", "image", "extensions.ext1", "extensions.ext3")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(u.Labels, map[string]string{"app": "db"}) {
		t.Errorf("labels = %v", u.Labels)
	}
	if !reflect.DeepEqual(u.Extensions, map[string]Any{"ext2": {TypeURL: "t2"}, "ext3": {TypeURL: "t3"}}) {
		t.Errorf("extensions = %v", u.Extensions)
	}
	if u.Image != "other" || !reflect.DeepEqual(u.Spec, created.Spec) || u.SnapshotKey != "k1" {
		t.Errorf("fields changed or not: %+v", u)
	}
	if !u.CreatedAt.Equal(created.CreatedAt) || u.UpdatedAt.Before(created.UpdatedAt) {
		t.Errorf("timestamps: %+v", u)
	}
	got, _ := db.GetContainer("ns", "c1")
	assertContainer(t, got, u)

	// Runtime and snapshotter are immutable.
	_, err = db.UpdateContainer("ns", in, "runtime")
	check(t, err, errdefs.IsInvalidArgument, "update runtime path")
	_, err = db.UpdateContainer("ns", in, "bogus")
	check(t, err, errdefs.IsInvalidArgument, "update unknown path")
	_, err = db.UpdateContainer("ns", in) // Runtime.Name differs
	check(t, err, errdefs.IsInvalidArgument, "full update changing runtime")
	in.Runtime.Name = orig.Runtime.Name
	_, err = db.UpdateContainer("ns", in) // Snapshotter differs
	check(t, err, errdefs.IsInvalidArgument, "full update changing snapshotter")

	// A full update replaces all mutable fields.
	in.Snapshotter, in.SnapshotKey = orig.Snapshotter, "k2"
	in.Runtime.Options = &Any{TypeURL: "ignored"}
	u, err = db.UpdateContainer("ns", in)
	if err != nil {
		t.Fatal(err)
	}
	want := got
	want.Labels, want.Image, want.Spec, want.Extensions, want.SnapshotKey = in.Labels, in.Image, in.Spec, in.Extensions, "k2"
	want.UpdatedAt = u.UpdatedAt
	assertContainer(t, u, want)

	// Updates must still produce a valid container.
	_, err = db.UpdateContainer("ns", Container{ID: "c1"}, "spec")
	check(t, err, errdefs.IsInvalidArgument, "update removing spec")
	_, err = db.UpdateContainer("ns", Container{ID: "nope"}, "image")
	check(t, err, errdefs.IsNotFound, "update missing container")
	_, err = db.UpdateContainer("ns", Container{}, "image")
	check(t, err, errdefs.IsInvalidArgument, "update without id")
}

func TestContainerExtra(t *testing.T) {
	db, _ := newDB(t)
	if _, err := db.CreateContainer("ns", testContainer("c1")); err != nil {
		t.Fatal(err)
	}
	_, err := db.GetContainerExtra("ns", "c1", "bundle")
	check(t, err, errdefs.IsNotFound, "get unset extra")
	if err := db.SetContainerExtra("ns", "c1", "bundle", []byte("/b")); err != nil {
		t.Fatal(err)
	}
	if v, err := db.GetContainerExtra("ns", "c1", "bundle"); err != nil || string(v) != "/b" {
		t.Fatalf("GetContainerExtra = %q, %v", v, err)
	}
	check(t, db.SetContainerExtra("ns", "nope", "k", []byte("v")), errdefs.IsNotFound, "extra of missing container")
	check(t, db.SetContainerExtra("ns", "c1", "", []byte("v")), errdefs.IsInvalidArgument, "empty extra key")

	// Extra data survives record updates, is removed by nil, and dies with the container.
	if _, err := db.UpdateContainer("ns", Container{ID: "c1", Image: "x"}, "image"); err != nil {
		t.Fatal(err)
	}
	if v, _ := db.GetContainerExtra("ns", "c1", "bundle"); string(v) != "/b" {
		t.Fatalf("extra lost on update: %q", v)
	}
	if err := db.SetContainerExtra("ns", "c1", "bundle", nil); err != nil {
		t.Fatal(err)
	}
	_, err = db.GetContainerExtra("ns", "c1", "bundle")
	check(t, err, errdefs.IsNotFound, "get removed extra")
	if err := db.SetContainerExtra("ns", "c1", "bundle", []byte("/b")); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteContainer("ns", "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateContainer("ns", testContainer("c1")); err != nil {
		t.Fatal(err)
	}
	_, err = db.GetContainerExtra("ns", "c1", "bundle")
	check(t, err, errdefs.IsNotFound, "extra of a recreated container")
}

func TestConcurrentAccess(t *testing.T) {
	db, _ := newDB(t)
	const workers, perWorker = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- worker(db, w, perWorker)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	list, err := db.ListContainers("ns", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Each worker deletes every other container it created.
	if want := workers * (perWorker - perWorker/2); len(list) != want {
		t.Fatalf("%d containers left, want %d", len(list), want)
	}
	for _, c := range list {
		if c.Image != "updated" {
			t.Fatalf("container %s not updated: %+v", c.ID, c)
		}
	}
}

// worker creates, reads, updates and deletes containers, and races the
// other workers to create one shared container: exactly one of them wins.
func worker(db *DB, w, n int) error {
	if _, err := db.CreateContainer("shared", testContainer("same")); err != nil && !errdefs.IsAlreadyExists(err) {
		return err
	}
	for i := range n {
		id := fmt.Sprintf("w%d-c%d", w, i)
		if _, err := db.CreateContainer("ns", testContainer(id)); err != nil {
			return err
		}
		if _, err := db.GetContainer("ns", id); err != nil {
			return err
		}
		if _, err := db.UpdateContainer("ns", Container{ID: id, Image: "updated"}, "image"); err != nil {
			return err
		}
		if _, err := db.ListContainers("ns", nil); err != nil {
			return err
		}
		if i%2 == 1 {
			if err := db.DeleteContainer("ns", id); err != nil {
				return err
			}
		}
	}
	return nil
}
