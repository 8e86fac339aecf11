package containers

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	ptypes "github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	api "github.com/seedrt/seed/api/services/containers/v1"
	"github.com/seedrt/seed/coordinator/nsctx"
	eventtypes "github.com/seedrt/seed/shimapi/events"
)

func ctxNS(ns string) context.Context {
	return nsctx.Outgoing(context.Background(), ns)
}

func newContainer(id string) api.Container {
	return api.Container{
		ID:     id,
		Labels: map[string]string{"app": "web"},
		Image:  "docker.io/library/busybox:latest",
		Runtime: &api.Container_Runtime{
			Name:    "io.containerd.runc.v2",
			Options: &ptypes.Any{TypeUrl: "containerd.runc.v1.Options"}, // as ctr sends it
		},
		Spec:        &ptypes.Any{TypeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec", Value: []byte(`{"ociVersion":"1.0.2-dev"}`)},
		Snapshotter: "overlayfs",
		SnapshotKey: id + "-snapshot",
		Extensions:  map[string]ptypes.Any{"ext": {TypeUrl: "t", Value: []byte("v")}},
	}
}

func create(t *testing.T, e *env, ns string, c api.Container) api.Container {
	t.Helper()
	resp, err := e.client.Create(ctxNS(ns), &api.CreateContainerRequest{Container: c})
	if err != nil {
		t.Fatalf("Create %s/%s: %v", ns, c.ID, err)
	}
	return resp.Container
}

// sameRecord compares containers but for the timestamps set by the store.
func sameRecord(t *testing.T, got, want api.Container) {
	t.Helper()
	got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("container:\n got  %+v\n want %+v", got, want)
	}
}

func TestCreateGetDelete(t *testing.T) {
	e := newEnv(t)
	want := newContainer("c1")
	before := time.Now()
	got := create(t, e, "demo", want)
	sameRecord(t, got, want)
	if got.CreatedAt.Before(before) || !got.UpdatedAt.Equal(got.CreatedAt) {
		t.Fatalf("timestamps: created %v updated %v, request sent at %v", got.CreatedAt, got.UpdatedAt, before)
	}

	resp, err := e.client.Get(ctxNS("demo"), &api.GetContainerRequest{ID: "c1"})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	sameRecord(t, resp.Container, want)
	if !resp.Container.CreatedAt.Equal(got.CreatedAt) {
		t.Fatalf("Get: CreatedAt %v, Create said %v", resp.Container.CreatedAt, got.CreatedAt)
	}

	// Namespaces are separate.
	_, err = e.client.Get(ctxNS("other"), &api.GetContainerRequest{ID: "c1"})
	wantCode(t, err, codes.NotFound, "Get in another namespace")

	if _, err := e.client.Delete(ctxNS("demo"), &api.DeleteContainerRequest{ID: "c1"}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err = e.client.Get(ctxNS("demo"), &api.GetContainerRequest{ID: "c1"})
	wantCode(t, err, codes.NotFound, "Get after Delete")
	_, err = e.client.Delete(ctxNS("demo"), &api.DeleteContainerRequest{ID: "c1"})
	wantCode(t, err, codes.NotFound, "second Delete")

	wantEvents(t, e.events.Take(),
		event("demo", TopicCreate, &eventtypes.ContainerCreate{ID: "c1", Image: want.Image,
			Runtime: &eventtypes.ContainerCreate_Runtime{Name: want.Runtime.Name, Options: want.Runtime.Options}}),
		event("demo", TopicDelete, &eventtypes.ContainerDelete{ID: "c1"}),
	)
}

func TestMinimalContainer(t *testing.T) {
	e := newEnv(t)
	c := api.Container{ID: "min", Runtime: &api.Container_Runtime{Name: "io.containerd.runc.v2"}, Spec: &ptypes.Any{TypeUrl: "spec"}}
	got := create(t, e, "demo", c)
	sameRecord(t, got, c)
}

func TestCreateErrors(t *testing.T) {
	e := newEnv(t)
	create(t, e, "demo", newContainer("c1"))
	e.events.Take()

	noRuntime := newContainer("x")
	noRuntime.Runtime = nil
	noRuntimeName := newContainer("x")
	noRuntimeName.Runtime = &api.Container_Runtime{}
	noSpec := newContainer("x")
	noSpec.Spec = nil
	noSnapshotter := newContainer("x")
	noSnapshotter.Snapshotter = ""
	for _, tc := range []struct {
		name string
		c    api.Container
		code codes.Code
	}{
		{"duplicate", newContainer("c1"), codes.AlreadyExists},
		{"empty request", api.Container{}, codes.InvalidArgument},
		{"bad id", newContainer("../x"), codes.InvalidArgument},
		{"no runtime", noRuntime, codes.InvalidArgument},
		{"no runtime name", noRuntimeName, codes.InvalidArgument},
		{"no spec", noSpec, codes.InvalidArgument},
		{"snapshot key without snapshotter", noSnapshotter, codes.InvalidArgument},
	} {
		_, err := e.client.Create(ctxNS("demo"), &api.CreateContainerRequest{Container: tc.c})
		wantCode(t, err, tc.code, tc.name)
	}
	if ev := e.events.Take(); len(ev) != 0 {
		t.Fatalf("failed creates published %v", ev)
	}
}

func TestNamespaceRequired(t *testing.T) {
	e := newEnv(t)
	for _, ctx := range []context.Context{context.Background(), ctxNS("a/b"), ctxNS("")} {
		_, err := e.client.Get(ctx, &api.GetContainerRequest{ID: "c1"})
		wantCode(t, err, codes.InvalidArgument, "Get")
		_, err = e.client.List(ctx, &api.ListContainersRequest{})
		wantCode(t, err, codes.InvalidArgument, "List")
		_, err = listStream(ctx, e, nil)
		wantCode(t, err, codes.InvalidArgument, "ListStream")
		_, err = e.client.Create(ctx, &api.CreateContainerRequest{Container: newContainer("c1")})
		wantCode(t, err, codes.InvalidArgument, "Create")
		_, err = e.client.Update(ctx, &api.UpdateContainerRequest{Container: newContainer("c1")})
		wantCode(t, err, codes.InvalidArgument, "Update")
		_, err = e.client.Delete(ctx, &api.DeleteContainerRequest{ID: "c1"})
		wantCode(t, err, codes.InvalidArgument, "Delete")
	}
}

func TestBadAndUnknownIDs(t *testing.T) {
	e := newEnv(t)
	ctx := ctxNS("demo")
	for _, id := range []string{"", "../etc", "a/b", strings.Repeat("a", 77)} {
		_, err := e.client.Get(ctx, &api.GetContainerRequest{ID: id})
		wantCode(t, err, codes.InvalidArgument, "Get "+id)
		_, err = e.client.Update(ctx, &api.UpdateContainerRequest{Container: api.Container{ID: id}})
		wantCode(t, err, codes.InvalidArgument, "Update "+id)
		_, err = e.client.Delete(ctx, &api.DeleteContainerRequest{ID: id})
		wantCode(t, err, codes.InvalidArgument, "Delete "+id)
	}
	_, err := e.client.Get(ctx, &api.GetContainerRequest{ID: "nope"})
	wantCode(t, err, codes.NotFound, "Get unknown")
	_, err = e.client.Update(ctx, &api.UpdateContainerRequest{Container: newContainer("nope")})
	wantCode(t, err, codes.NotFound, "Update unknown")
	_, err = e.client.Delete(ctx, &api.DeleteContainerRequest{ID: "nope"})
	wantCode(t, err, codes.NotFound, "Delete unknown")
}

func TestUpdate(t *testing.T) {
	e := newEnv(t)
	ctx := ctxNS("demo")
	orig := create(t, e, "demo", newContainer("c1"))
	e.events.Take()

	// With a mask, only the named fields change.
	req := &api.UpdateContainerRequest{
		Container:  api.Container{ID: "c1", Labels: map[string]string{"tier": "front", "app": "ignored"}, Image: "alpine"},
		UpdateMask: &ptypes.FieldMask{Paths: []string{"labels.tier", "image"}},
	}
	resp, err := e.client.Update(ctx, req)
	if err != nil {
		t.Fatalf("Update with mask: %v", err)
	}
	want := orig
	want.Labels = map[string]string{"app": "web", "tier": "front"}
	want.Image = "alpine"
	sameRecord(t, resp.Container, want)
	if !resp.Container.UpdatedAt.After(orig.UpdatedAt) || !resp.Container.CreatedAt.Equal(orig.CreatedAt) {
		t.Fatalf("timestamps after update: %v %v, before %v %v",
			resp.Container.CreatedAt, resp.Container.UpdatedAt, orig.CreatedAt, orig.UpdatedAt)
	}

	// Without a mask, the mutable fields are replaced.
	full := newContainer("c1")
	full.Labels = nil
	full.SnapshotKey = "other"
	full.Extensions = nil
	resp, err = e.client.Update(ctx, &api.UpdateContainerRequest{Container: full})
	if err != nil {
		t.Fatalf("Update without mask: %v", err)
	}
	sameRecord(t, resp.Container, full)

	got, err := e.client.Get(ctx, &api.GetContainerRequest{ID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, got.Container, full)

	wantEvents(t, e.events.Take(),
		event("demo", TopicUpdate, &eventtypes.ContainerUpdate{ID: "c1", Image: "alpine",
			Labels: map[string]string{"app": "web", "tier": "front"}, SnapshotKey: "c1-snapshot"}),
		event("demo", TopicUpdate, &eventtypes.ContainerUpdate{ID: "c1", Image: full.Image, SnapshotKey: "other"}),
	)

	// Immutable fields and unknown paths are refused.
	otherRuntime := newContainer("c1")
	otherRuntime.Runtime.Name = "io.containerd.runc.v1"
	_, err = e.client.Update(ctx, &api.UpdateContainerRequest{Container: otherRuntime})
	wantCode(t, err, codes.InvalidArgument, "Update of the runtime")
	_, err = e.client.Update(ctx, &api.UpdateContainerRequest{Container: newContainer("c1"),
		UpdateMask: &ptypes.FieldMask{Paths: []string{"runtime"}}})
	wantCode(t, err, codes.InvalidArgument, "Update with path runtime")
	if ev := e.events.Take(); len(ev) != 0 {
		t.Fatalf("failed updates published %v", ev)
	}
}

func listStream(ctx context.Context, e *env, filters []string) ([]string, error) {
	stream, err := e.client.ListStream(ctx, &api.ListContainersRequest{Filters: filters})
	if err != nil {
		return nil, err
	}
	var ids []string
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return ids, nil
		}
		if err != nil {
			return nil, err
		}
		ids = append(ids, msg.Container.ID)
	}
}

func list(t *testing.T, e *env, ns string, filters ...string) string {
	t.Helper()
	resp, err := e.client.List(ctxNS(ns), &api.ListContainersRequest{Filters: filters})
	if err != nil {
		t.Fatalf("List %q: %v", filters, err)
	}
	var ids []string
	for _, c := range resp.Containers {
		ids = append(ids, c.ID)
	}
	streamed, err := listStream(ctxNS(ns), e, filters)
	if err != nil {
		t.Fatalf("ListStream %q: %v", filters, err)
	}
	if !reflect.DeepEqual(ids, streamed) {
		t.Fatalf("filters %q: List gave %v, ListStream %v", filters, ids, streamed)
	}
	return strings.Join(ids, " ")
}

func TestListAndFilters(t *testing.T) {
	e := newEnv(t)
	if got := list(t, e, "demo"); got != "" {
		t.Fatalf("empty namespace lists %q", got)
	}
	a, b, c := newContainer("a"), newContainer("b"), newContainer("c")
	b.Labels = map[string]string{"app": "db", "x.y": "z"}
	b.Image = ""
	c.Runtime.Name = "io.containerd.runc.v1"
	for _, ctr := range []api.Container{c, a, b} {
		create(t, e, "demo", ctr)
	}
	create(t, e, "other", newContainer("d"))

	for _, tc := range []struct {
		filters []string
		want    string
	}{
		{nil, "a b c"},
		{[]string{"id==b"}, "b"},
		{[]string{`labels."app"==web`}, "a c"},
		{[]string{`labels."x.y"==z`}, "b"},
		{[]string{"runtime.name==io.containerd.runc.v2"}, "a b"},
		{[]string{"image==docker.io/library/busybox:latest"}, "a c"},
		{[]string{"runtime.name==io.containerd.runc.v2,labels.app==web"}, "a"},
		{[]string{"id==a", "id==c"}, "a c"},
		{[]string{"id~=^[bc]$"}, "b c"},
		{[]string{"id==d"}, ""},
	} {
		if got := list(t, e, "demo", tc.filters...); got != tc.want {
			t.Errorf("filters %q: got %q, want %q", tc.filters, got, tc.want)
		}
	}

	_, err := e.client.List(ctxNS("demo"), &api.ListContainersRequest{Filters: []string{"id=="}})
	wantCode(t, err, codes.InvalidArgument, "List with a bad filter")
	_, err = listStream(ctxNS("demo"), e, []string{"id==a", "labels.=x"})
	wantCode(t, err, codes.InvalidArgument, "ListStream with a bad filter")
}

func TestDeleteRefusedWhileTaskExists(t *testing.T) {
	e := newEnv(t)
	create(t, e, "demo", newContainer("c1"))
	e.events.Take()
	e.tasks.Store("demo/c1", true)

	_, err := e.client.Delete(ctxNS("demo"), &api.DeleteContainerRequest{ID: "c1"})
	wantCode(t, err, codes.FailedPrecondition, "Delete with a task")
	if msg := status.Convert(err).Message(); !strings.Contains(msg, `container "c1" has a task: delete the task first`) {
		t.Fatalf("message %q", msg)
	}
	if _, err := e.client.Get(ctxNS("demo"), &api.GetContainerRequest{ID: "c1"}); err != nil {
		t.Fatalf("container gone after refused Delete: %v", err)
	}

	e.tasks.Delete("demo/c1")
	if _, err := e.client.Delete(ctxNS("demo"), &api.DeleteContainerRequest{ID: "c1"}); err != nil {
		t.Fatalf("Delete without a task: %v", err)
	}
	wantEvents(t, e.events.Take(), event("demo", TopicDelete, &eventtypes.ContainerDelete{ID: "c1"}))
}

func TestPublishFailureIsReported(t *testing.T) {
	e := newEnv(t)
	e.events.Err = errors.New("exchange closed")
	_, err := e.client.Create(ctxNS("demo"), &api.CreateContainerRequest{Container: newContainer("c1")})
	if err == nil || !strings.Contains(err.Error(), "exchange closed") {
		t.Fatalf("Create with a failing publisher: %v", err)
	}
	// As in containerd, the change itself was made.
	if _, err := e.client.Get(ctxNS("demo"), &api.GetContainerRequest{ID: "c1"}); err != nil {
		t.Fatalf("Get: %v", err)
	}
}
