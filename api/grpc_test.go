package api_test

import (
	"context"
	"net"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	ptypes "github.com/gogo/protobuf/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	containers "github.com/seedrt/seed/api/services/containers/v1"
	eventsapi "github.com/seedrt/seed/api/services/events/v1"
	introspection "github.com/seedrt/seed/api/services/introspection/v1"
	leases "github.com/seedrt/seed/api/services/leases/v1"
	namespaces "github.com/seedrt/seed/api/services/namespaces/v1"
	tasks "github.com/seedrt/seed/api/services/tasks/v1"
	version "github.com/seedrt/seed/api/services/version/v1"
	"github.com/seedrt/seed/api/types/rpc"
	"github.com/seedrt/seed/shimapi/runcopts"
	tasktypes "github.com/seedrt/seed/shimapi/types/task"
	"github.com/seedrt/seed/shimapi/typeurl"
)

type versionServer struct {
	version.UnimplementedVersionServer
}

type tasksServer struct{ tasks.UnimplementedTasksServer }

type containersServer struct {
	containers.UnimplementedContainersServer
}

func (*versionServer) Version(ctx context.Context, _ *ptypes.Empty) (*version.VersionResponse, error) {
	return &version.VersionResponse{Version: "v1.6.20", Revision: "r"}, nil
}

func (*tasksServer) Get(ctx context.Context, r *tasks.GetRequest) (*tasks.GetResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	ns := md.Get("containerd-namespace")
	return &tasks.GetResponse{Process: &tasktypes.Process{
		ContainerID: r.ContainerID, ID: r.ExecID + "/" + ns[0], Pid: 5,
		Status: tasktypes.StatusStopped, ExitStatus: 137, ExitedAt: time.Unix(1795447529, 94630470).UTC(),
	}}, nil
}

func (*containersServer) ListStream(r *containers.ListContainersRequest, s containers.Containers_ListStreamServer) error {
	opts, _ := typeurl.MarshalAny(&runcopts.Options{BinaryName: "runc"})
	for _, id := range []string{"a", "b"} {
		c := containers.Container{ID: id, Runtime: &containers.Container_Runtime{Name: "io.containerd.runc.v2", Options: opts},
			CreatedAt: time.Unix(10, 0).UTC(), UpdatedAt: time.Unix(20, 0).UTC(),
			Extensions: map[string]ptypes.Any{"x": {TypeUrl: "t", Value: []byte{1}}}}
		if err := s.Send(&containers.ListContainerMessage{Container: &c}); err != nil {
			return err
		}
	}
	return nil
}

// A real gRPC round trip through the generated stubs, with grpc's default
// codec, checking method paths and gogo-specific field types (time.Time,
// non-nullable maps of Any).
func TestGRPCRoundTrip(t *testing.T) {
	var mu sync.Mutex
	var methods []string
	s := grpc.NewServer(
		grpc.UnaryInterceptor(func(ctx context.Context, req interface{}, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (interface{}, error) {
			mu.Lock()
			methods = append(methods, info.FullMethod)
			mu.Unlock()
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv interface{}, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			mu.Lock()
			methods = append(methods, info.FullMethod)
			mu.Unlock()
			return h(srv, ss)
		}),
	)
	tasks.RegisterTasksServer(s, &tasksServer{})
	containers.RegisterContainersServer(s, &containersServer{})
	version.RegisterVersionServer(s, &versionServer{})
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "c.sock"))
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	defer s.Stop()

	cc, err := grpc.Dial("unix://"+l.Addr().String(), grpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "containerd-namespace", "demo")

	v, err := version.NewVersionClient(cc).Version(ctx, &ptypes.Empty{})
	if err != nil || v.Version != "v1.6.20" {
		t.Fatalf("Version = %+v, %v", v, err)
	}
	g, err := tasks.NewTasksClient(cc).Get(ctx, &tasks.GetRequest{ContainerID: "c1", ExecID: "e1"})
	if err != nil {
		t.Fatal(err)
	}
	if p := g.Process; p.ContainerID != "c1" || p.ID != "e1/demo" || p.Status != tasktypes.StatusStopped ||
		p.ExitedAt.UnixNano() != 1795447529094630470 {
		t.Fatalf("Get = %+v", p)
	}
	st, err := containers.NewContainersClient(cc).ListStream(ctx, &containers.ListContainersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for {
		m, err := st.Recv()
		if err != nil {
			break
		}
		ids = append(ids, m.Container.ID)
		if !m.Container.CreatedAt.Equal(time.Unix(10, 0)) || m.Container.Extensions["x"].Value[0] != 1 ||
			!typeurl.Is(m.Container.Runtime.Options, &runcopts.Options{}) {
			t.Fatalf("container %+v", m.Container)
		}
	}
	if !reflect.DeepEqual(ids, []string{"a", "b"}) {
		t.Fatalf("ListStream ids %v", ids)
	}
	want := []string{
		"/containerd.services.version.v1.Version/Version",
		"/containerd.services.tasks.v1.Tasks/Get",
		"/containerd.services.containers.v1.Containers/ListStream",
	}
	if !reflect.DeepEqual(methods, want) {
		t.Fatalf("methods %v, want %v", methods, want)
	}
}

func TestAPIMessageNames(t *testing.T) {
	for _, tc := range []struct {
		msg  proto.Message
		want string
	}{
		{&eventsapi.Envelope{}, "containerd.services.events.v1.Envelope"},
		{&tasks.CreateTaskRequest{}, "containerd.services.tasks.v1.CreateTaskRequest"},
		{&containers.Container_Runtime{}, "containerd.services.containers.v1.Container.Runtime"},
		{&namespaces.Namespace{}, "containerd.services.namespaces.v1.Namespace"},
		{&leases.Lease{}, "containerd.services.leases.v1.Lease"},
		{&introspection.Plugin{}, "containerd.services.introspection.v1.Plugin"},
		{&rpc.Status{}, "google.rpc.Status"},
	} {
		if got := proto.MessageName(tc.msg); got != tc.want {
			t.Errorf("MessageName(%T) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}
