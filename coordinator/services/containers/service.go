// Package containers serves containerd's containers API
// (containerd.services.containers.v1.Containers) from the metadata store:
// container records, without runtime state (that is the tasks service's).
package containers

import (
	"context"
	"errors"
	"fmt"

	"github.com/gogo/protobuf/proto"
	ptypes "github.com/gogo/protobuf/types"
	"google.golang.org/grpc"

	api "github.com/seedrt/seed/api/services/containers/v1"
	"github.com/seedrt/seed/coordinator/events"
	"github.com/seedrt/seed/coordinator/metadata"
	"github.com/seedrt/seed/coordinator/nsctx"
	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/identifiers"
	eventtypes "github.com/seedrt/seed/shimapi/events"
)

// Event topics published by the service.
const (
	TopicCreate = "/containers/create"
	TopicUpdate = "/containers/update"
	TopicDelete = "/containers/delete"
)

// Options configures the service.
type Options struct {
	DB     *metadata.DB     // required
	Events events.Publisher // required
	// TaskExists, if not nil, reports whether container id of namespace ns
	// has a task; Delete refuses to delete such a container.
	TaskExists func(ctx context.Context, ns, id string) bool
	// ValidateRuntime, if not nil, refuses a runtime name that cannot run
	// tasks, so no container is made that could never run.
	ValidateRuntime func(name string) error
}

type service struct {
	opts Options
}

// Register registers the containers service on s.
func Register(s *grpc.Server, opts Options) error {
	if opts.DB == nil || opts.Events == nil {
		return errors.New("containers service: DB and Events are required")
	}
	api.RegisterContainersServer(s, &service{opts: opts})
	return nil
}

func (s *service) Get(ctx context.Context, req *api.GetContainerRequest) (*api.GetContainerResponse, error) {
	ns, err := namespaceAndID(ctx, req.ID)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	c, err := s.opts.DB.GetContainer(ns, req.ID)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return &api.GetContainerResponse{Container: toProto(&c)}, nil
}

func (s *service) List(ctx context.Context, req *api.ListContainersRequest) (*api.ListContainersResponse, error) {
	list, err := s.list(ctx, req.Filters)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	resp := &api.ListContainersResponse{}
	for i := range list {
		resp.Containers = append(resp.Containers, toProto(&list[i]))
	}
	return resp, nil
}

func (s *service) ListStream(req *api.ListContainersRequest, stream api.Containers_ListStreamServer) error {
	list, err := s.list(stream.Context(), req.Filters)
	if err != nil {
		return errdefs.ToGRPC(err)
	}
	for i := range list {
		c := toProto(&list[i])
		if err := stream.Send(&api.ListContainerMessage{Container: &c}); err != nil {
			return err // already a gRPC status: the stream is broken
		}
	}
	return nil
}

func (s *service) list(ctx context.Context, filterStrings []string) ([]metadata.Container, error) {
	ns, err := nsctx.Namespace(ctx)
	if err != nil {
		return nil, err
	}
	f, err := parseFilters(filterStrings)
	if err != nil {
		return nil, err
	}
	return s.opts.DB.ListContainers(ns, f)
}

func (s *service) Create(ctx context.Context, req *api.CreateContainerRequest) (*api.CreateContainerResponse, error) {
	ns, err := nsctx.Namespace(ctx)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	if s.opts.ValidateRuntime != nil && req.Container.Runtime != nil {
		if err := s.opts.ValidateRuntime(req.Container.Runtime.Name); err != nil {
			return nil, errdefs.ToGRPC(err)
		}
	}
	// ctr sends a "containerd-lease" header here; leases protect nothing
	// in this daemon (see the leases service), so it is ignored.
	c, err := s.opts.DB.CreateContainer(ns, fromProto(&req.Container))
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	resp := &api.CreateContainerResponse{Container: toProto(&c)}
	err = s.publish(ctx, ns, TopicCreate, &eventtypes.ContainerCreate{
		ID:    c.ID,
		Image: c.Image,
		Runtime: &eventtypes.ContainerCreate_Runtime{
			Name:    c.Runtime.Name,
			Options: resp.Container.Runtime.Options,
		},
	})
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return resp, nil
}

func (s *service) Update(ctx context.Context, req *api.UpdateContainerRequest) (*api.UpdateContainerResponse, error) {
	ns, err := namespaceAndID(ctx, req.Container.ID)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	var paths []string
	if req.UpdateMask != nil {
		paths = req.UpdateMask.Paths
	}
	c, err := s.opts.DB.UpdateContainer(ns, fromProto(&req.Container), paths...)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	err = s.publish(ctx, ns, TopicUpdate, &eventtypes.ContainerUpdate{
		ID:          c.ID,
		Image:       c.Image,
		Labels:      c.Labels,
		SnapshotKey: c.SnapshotKey,
	})
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return &api.UpdateContainerResponse{Container: toProto(&c)}, nil
}

func (s *service) Delete(ctx context.Context, req *api.DeleteContainerRequest) (*ptypes.Empty, error) {
	ns, err := namespaceAndID(ctx, req.ID)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	// The check and the deletion are not atomic: the tasks service must
	// itself refuse to create a task for a container that is gone.
	if s.opts.TaskExists != nil && s.opts.TaskExists(ctx, ns, req.ID) {
		return nil, errdefs.ToGRPC(fmt.Errorf("container %q has a task: delete the task first: %w",
			req.ID, errdefs.ErrFailedPrecondition))
	}
	if err := s.opts.DB.DeleteContainer(ns, req.ID); err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	if err := s.publish(ctx, ns, TopicDelete, &eventtypes.ContainerDelete{ID: req.ID}); err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return &ptypes.Empty{}, nil
}

// publish publishes an event after a change was stored. As in containerd,
// a failure is returned to the client even though the change was made.
func (s *service) publish(ctx context.Context, ns, topic string, event proto.Message) error {
	if err := s.opts.Events.Publish(nsctx.With(ctx, ns), topic, event); err != nil {
		return fmt.Errorf("publish %s event: %w", topic, err)
	}
	return nil
}

// namespaceAndID returns the request's namespace, after checking both it
// and the container id of the request.
func namespaceAndID(ctx context.Context, id string) (string, error) {
	ns, err := nsctx.Namespace(ctx)
	if err != nil {
		return "", err
	}
	if err := identifiers.Validate(id); err != nil {
		return "", fmt.Errorf("container id: %w", err)
	}
	return ns, nil
}
