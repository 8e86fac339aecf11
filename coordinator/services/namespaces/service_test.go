package namespaces

import (
	"context"
	"reflect"
	"strings"
	"testing"

	ptypes "github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"

	api "github.com/seedrt/seed/api/services/namespaces/v1"
	"github.com/seedrt/seed/coordinator/metadata"
	"github.com/seedrt/seed/coordinator/nsctx"
	eventtypes "github.com/seedrt/seed/shimapi/events"
)

// Requests carry no namespace header: the API does not need one.
var ctx = context.Background()

func names(t *testing.T, e *env, filter string) string {
	t.Helper()
	resp, err := e.client.List(ctx, &api.ListNamespacesRequest{Filter: filter})
	if err != nil {
		t.Fatalf("List %q: %v", filter, err)
	}
	var out []string
	for _, n := range resp.Namespaces {
		out = append(out, n.Name)
	}
	return strings.Join(out, " ")
}

func get(t *testing.T, e *env, name string) api.Namespace {
	t.Helper()
	resp, err := e.client.Get(ctx, &api.GetNamespaceRequest{Name: name})
	if err != nil {
		t.Fatalf("Get %s: %v", name, err)
	}
	return resp.Namespace
}

func TestCRUD(t *testing.T) {
	e := newEnv(t)
	labels := map[string]string{"team": "a", "env": "prod"}
	resp, err := e.client.Create(ctx, &api.CreateNamespaceRequest{Namespace: api.Namespace{Name: "ns1", Labels: labels}})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if want := (api.Namespace{Name: "ns1", Labels: labels}); !reflect.DeepEqual(resp.Namespace, want) {
		t.Fatalf("Create returned %+v", resp.Namespace)
	}
	if got := get(t, e, "ns1"); !reflect.DeepEqual(got.Labels, labels) {
		t.Fatalf("Get: %+v", got)
	}

	_, err = e.client.Create(ctx, &api.CreateNamespaceRequest{Namespace: api.Namespace{Name: "ns1"}})
	wantCode(t, err, codes.AlreadyExists, "duplicate Create")

	// Update with a mask changes one label; without one, replaces them.
	up, err := e.client.Update(ctx, &api.UpdateNamespaceRequest{
		Namespace:  api.Namespace{Name: "ns1", Labels: map[string]string{"env": "dev", "team": "ignored"}},
		UpdateMask: &ptypes.FieldMask{Paths: []string{"labels.env"}},
	})
	if err != nil {
		t.Fatalf("Update with mask: %v", err)
	}
	if want := map[string]string{"team": "a", "env": "dev"}; !reflect.DeepEqual(up.Namespace.Labels, want) {
		t.Fatalf("Update with mask: labels %v", up.Namespace.Labels)
	}
	up, err = e.client.Update(ctx, &api.UpdateNamespaceRequest{Namespace: api.Namespace{Name: "ns1", Labels: map[string]string{"x": "y"}}})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got := get(t, e, "ns1"); !reflect.DeepEqual(got.Labels, map[string]string{"x": "y"}) || !reflect.DeepEqual(got, up.Namespace) {
		t.Fatalf("after Update: Get %+v, Update returned %+v", got, up.Namespace)
	}
	_, err = e.client.Update(ctx, &api.UpdateNamespaceRequest{Namespace: api.Namespace{Name: "ns1"},
		UpdateMask: &ptypes.FieldMask{Paths: []string{"name"}}})
	wantCode(t, err, codes.InvalidArgument, "Update of the name")

	if _, err := e.client.Delete(ctx, &api.DeleteNamespaceRequest{Name: "ns1"}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err = e.client.Get(ctx, &api.GetNamespaceRequest{Name: "ns1"})
	wantCode(t, err, codes.NotFound, "Get after Delete")
	_, err = e.client.Delete(ctx, &api.DeleteNamespaceRequest{Name: "ns1"})
	wantCode(t, err, codes.NotFound, "second Delete")

	wantEvents(t, e.events.Take(),
		event("ns1", TopicCreate, &eventtypes.NamespaceCreate{Name: "ns1", Labels: labels}),
		event("ns1", TopicUpdate, &eventtypes.NamespaceUpdate{Name: "ns1", Labels: map[string]string{"team": "a", "env": "dev"}}),
		event("ns1", TopicUpdate, &eventtypes.NamespaceUpdate{Name: "ns1", Labels: map[string]string{"x": "y"}}),
		event("ns1", TopicDelete, &eventtypes.NamespaceDelete{Name: "ns1"}),
	)
}

func TestBadNames(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"", "a/b", "..", "-x", strings.Repeat("n", 77)} {
		_, err := e.client.Get(ctx, &api.GetNamespaceRequest{Name: name})
		wantCode(t, err, codes.InvalidArgument, "Get "+name)
		_, err = e.client.Create(ctx, &api.CreateNamespaceRequest{Namespace: api.Namespace{Name: name}})
		wantCode(t, err, codes.InvalidArgument, "Create "+name)
		_, err = e.client.Update(ctx, &api.UpdateNamespaceRequest{Namespace: api.Namespace{Name: name}})
		wantCode(t, err, codes.InvalidArgument, "Update "+name)
		_, err = e.client.Delete(ctx, &api.DeleteNamespaceRequest{Name: name})
		wantCode(t, err, codes.InvalidArgument, "Delete "+name)
	}
	_, err := e.client.Get(ctx, &api.GetNamespaceRequest{Name: "nope"})
	wantCode(t, err, codes.NotFound, "Get unknown")
	if ev := e.events.Take(); len(ev) != 0 {
		t.Fatalf("failed calls published %v", ev)
	}
}

func TestListAndImplicitNamespaces(t *testing.T) {
	e := newEnv(t)
	if got := names(t, e, ""); got != "" {
		t.Fatalf("new store lists %q", got)
	}
	for _, n := range []api.Namespace{{Name: "b", Labels: map[string]string{"k": "v"}}, {Name: "a"}} {
		if _, err := e.client.Create(ctx, &api.CreateNamespaceRequest{Namespace: n}); err != nil {
			t.Fatal(err)
		}
	}
	// Another service's first write creates its namespace.
	if _, err := e.db.CreateLease("implicit", metadata.Lease{ID: "l1"}); err != nil {
		t.Fatal(err)
	}
	for filter, want := range map[string]string{
		"":               "a b implicit",
		"name==a":        "a",
		`labels."k"==v`:  "b",
		"name!=implicit": "a b",
	} {
		if got := names(t, e, filter); got != want {
			t.Errorf("filter %q: got %q, want %q", filter, got, want)
		}
	}
	_, err := e.client.List(ctx, &api.ListNamespacesRequest{Filter: "name=="})
	wantCode(t, err, codes.InvalidArgument, "List with a bad filter")
}

func TestDeleteRefusedWhileNotEmpty(t *testing.T) {
	e := newEnv(t)
	c := metadata.Container{ID: "c1", Runtime: metadata.Runtime{Name: "io.containerd.runc.v2"}, Spec: &metadata.Any{TypeURL: "spec"}}
	if _, err := e.db.CreateContainer("busy", c); err != nil {
		t.Fatal(err)
	}
	_, err := e.client.Delete(ctx, &api.DeleteNamespaceRequest{Name: "busy"})
	wantCode(t, err, codes.FailedPrecondition, "Delete with a container")
	get(t, e, "busy")

	if err := e.db.DeleteContainer("busy", "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Delete(ctx, &api.DeleteNamespaceRequest{Name: "busy"}); err != nil {
		t.Fatalf("Delete of the emptied namespace: %v", err)
	}
	wantEvents(t, e.events.Take(), event("busy", TopicDelete, &eventtypes.NamespaceDelete{Name: "busy"}))
}

// The namespace header of a request does not change the namespace of the
// events, which is the one they are about.
func TestEventNamespaceIgnoresHeader(t *testing.T) {
	e := newEnv(t)
	if _, err := e.client.Create(nsctx.Outgoing(ctx, "caller"), &api.CreateNamespaceRequest{Namespace: api.Namespace{Name: "target"}}); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, e.events.Take(), event("target", TopicCreate, &eventtypes.NamespaceCreate{Name: "target"}))
}
