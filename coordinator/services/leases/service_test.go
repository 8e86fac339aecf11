package leases

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	api "github.com/seedrt/seed/api/services/leases/v1"
	"github.com/seedrt/seed/coordinator/nsctx"
	"github.com/seedrt/seed/identifiers"
)

func ctxNS(ns string) context.Context {
	return nsctx.Outgoing(context.Background(), ns)
}

func ids(t *testing.T, e *env, ns string, filters ...string) string {
	t.Helper()
	resp, err := e.client.List(ctxNS(ns), &api.ListRequest{Filters: filters})
	if err != nil {
		t.Fatalf("List %q: %v", filters, err)
	}
	var out []string
	for _, l := range resp.Leases {
		out = append(out, l.ID)
	}
	return strings.Join(out, " ")
}

func TestCreateListDelete(t *testing.T) {
	e := newEnv(t)
	ctx := ctxNS("demo")
	before := time.Now()
	// As ctr run does: its own id, and an expiry label.
	labels := map[string]string{"containerd.io/gc.expire": "2026-11-23T16:23:21Z"}
	resp, err := e.client.Create(ctx, &api.CreateRequest{ID: "825544099-aZNv", Labels: labels})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	l := resp.Lease
	if l.ID != "825544099-aZNv" || !reflect.DeepEqual(l.Labels, labels) || l.CreatedAt.Before(before) {
		t.Fatalf("Create returned %+v", l)
	}
	_, err = e.client.Create(ctx, &api.CreateRequest{ID: "825544099-aZNv"})
	wantCode(t, err, codes.AlreadyExists, "duplicate Create")

	list, err := e.client.List(ctx, &api.ListRequest{})
	if err != nil || len(list.Leases) != 1 || !reflect.DeepEqual(list.Leases[0], l) {
		t.Fatalf("List: %v %+v, want [%+v]", err, list, l)
	}

	// The sync flag is accepted.
	if _, err := e.client.Delete(ctx, &api.DeleteRequest{ID: l.ID, Sync: true}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err = e.client.Delete(ctx, &api.DeleteRequest{ID: l.ID})
	wantCode(t, err, codes.NotFound, "second Delete")
	if got := ids(t, e, "demo"); got != "" {
		t.Fatalf("leases after Delete: %q", got)
	}
}

func TestGeneratedIDs(t *testing.T) {
	e := newEnv(t)
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		resp, err := e.client.Create(ctxNS("demo"), &api.CreateRequest{})
		if err != nil {
			t.Fatalf("Create without id: %v", err)
		}
		id := resp.Lease.ID
		if err := identifiers.Validate(id); err != nil || seen[id] {
			t.Fatalf("generated id %q: valid: %v, seen before: %v", id, err, seen[id])
		}
		seen[id] = true
	}
}

func TestFilters(t *testing.T) {
	e := newEnv(t)
	for _, req := range []*api.CreateRequest{
		{ID: "a", Labels: map[string]string{"kind": "run"}},
		{ID: "b", Labels: map[string]string{"kind": "pull", "x.y": "z"}},
		{ID: "c"},
	} {
		if _, err := e.client.Create(ctxNS("demo"), req); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.client.Create(ctxNS("other"), &api.CreateRequest{ID: "d"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		filters []string
		want    string
	}{
		{nil, "a b c"},
		{[]string{"id==b"}, "b"},
		{[]string{`labels."kind"==run`}, "a"},
		{[]string{`labels."x.y"==z`}, "b"},
		{[]string{"labels.kind"}, "a b"},
		{[]string{"id==a", "id==c"}, "a c"},
		{[]string{"id==b,labels.kind==run"}, ""},
	} {
		if got := ids(t, e, "demo", tc.filters...); got != tc.want {
			t.Errorf("filters %q: got %q, want %q", tc.filters, got, tc.want)
		}
	}
	if got := ids(t, e, "other"); got != "d" {
		t.Fatalf("namespace other lists %q", got)
	}
	_, err := e.client.List(ctxNS("demo"), &api.ListRequest{Filters: []string{"id=="}})
	wantCode(t, err, codes.InvalidArgument, "List with a bad filter")
}

func TestResources(t *testing.T) {
	e := newEnv(t)
	ctx := ctxNS("demo")
	if _, err := e.client.Create(ctx, &api.CreateRequest{ID: "l1"}); err != nil {
		t.Fatal(err)
	}
	res := api.Resource{ID: "sha256:abc", Type: "content"}
	if _, err := e.client.AddResource(ctx, &api.AddResourceRequest{ID: "l1", Resource: res}); err != nil {
		t.Fatalf("AddResource: %v", err)
	}
	list, err := e.client.ListResources(ctx, &api.ListResourcesRequest{ID: "l1"})
	if err != nil || len(list.Resources) != 0 {
		t.Fatalf("ListResources: %v %+v, want none", err, list)
	}
	if _, err := e.client.DeleteResource(ctx, &api.DeleteResourceRequest{ID: "l1", Resource: res}); err != nil {
		t.Fatalf("DeleteResource: %v", err)
	}

	_, err = e.client.AddResource(ctx, &api.AddResourceRequest{ID: "nope", Resource: res})
	wantCode(t, err, codes.NotFound, "AddResource to an unknown lease")
	_, err = e.client.DeleteResource(ctx, &api.DeleteResourceRequest{ID: "nope", Resource: res})
	wantCode(t, err, codes.NotFound, "DeleteResource from an unknown lease")
	_, err = e.client.ListResources(ctx, &api.ListResourcesRequest{ID: "nope"})
	wantCode(t, err, codes.NotFound, "ListResources of an unknown lease")
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	for _, ctx := range []context.Context{context.Background(), ctxNS("a/b")} {
		_, err := e.client.Create(ctx, &api.CreateRequest{ID: "l1"})
		wantCode(t, err, codes.InvalidArgument, "Create without a namespace")
		_, err = e.client.List(ctx, &api.ListRequest{})
		wantCode(t, err, codes.InvalidArgument, "List without a namespace")
		_, err = e.client.Delete(ctx, &api.DeleteRequest{ID: "l1"})
		wantCode(t, err, codes.InvalidArgument, "Delete without a namespace")
		_, err = e.client.ListResources(ctx, &api.ListResourcesRequest{ID: "l1"})
		wantCode(t, err, codes.InvalidArgument, "ListResources without a namespace")
	}
	ctx := ctxNS("demo")
	for _, id := range []string{strings.Repeat("l", 257)} {
		_, err := e.client.Create(ctx, &api.CreateRequest{ID: id})
		wantCode(t, err, codes.InvalidArgument, "Create "+id)
		_, err = e.client.Delete(ctx, &api.DeleteRequest{ID: id})
		wantCode(t, err, codes.InvalidArgument, "Delete "+id)
		_, err = e.client.AddResource(ctx, &api.AddResourceRequest{ID: id})
		wantCode(t, err, codes.InvalidArgument, "AddResource "+id)
	}
	_, err := e.client.Delete(ctx, &api.DeleteRequest{})
	wantCode(t, err, codes.InvalidArgument, "Delete without an id")
	_, err = e.client.Delete(ctx, &api.DeleteRequest{ID: "nope"})
	wantCode(t, err, codes.NotFound, "Delete unknown")
	if got := ids(t, e, "demo"); got != "" {
		t.Fatalf("failed creates left %q", got)
	}
}

// A lease keeps its namespace from being deleted, as in containerd.
func TestLeaseHoldsNamespace(t *testing.T) {
	e := newEnv(t)
	if _, err := e.client.Create(ctxNS("held"), &api.CreateRequest{ID: "l1"}); err != nil {
		t.Fatal(err)
	}
	names := func() []string {
		list, err := e.db.ListNamespaces()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range list {
			out = append(out, n.Name)
		}
		sort.Strings(out)
		return out
	}
	if got := names(); !reflect.DeepEqual(got, []string{"held"}) {
		t.Fatalf("namespaces %v", got)
	}
	if err := e.db.DeleteNamespace("held"); err == nil {
		t.Fatal("namespace with a lease deleted")
	}
}
