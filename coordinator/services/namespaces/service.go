// Package namespaces serves containerd's namespaces API
// (containerd.services.namespaces.v1.Namespaces) from the metadata store.
//
// The API is not itself namespaced: the namespace header of a request is
// ignored. Namespaces are also created implicitly, without an event, by
// the first write into them through another service (the store does it).
package namespaces

import (
	"context"
	"errors"
	"fmt"

	"github.com/gogo/protobuf/proto"
	ptypes "github.com/gogo/protobuf/types"
	"google.golang.org/grpc"

	api "github.com/seedrt/seed/api/services/namespaces/v1"
	"github.com/seedrt/seed/coordinator/events"
	"github.com/seedrt/seed/coordinator/filters"
	"github.com/seedrt/seed/coordinator/metadata"
	"github.com/seedrt/seed/coordinator/nsctx"
	"github.com/seedrt/seed/errdefs"
	eventtypes "github.com/seedrt/seed/shimapi/events"
)

// Event topics published by the service.
const (
	TopicCreate = "/namespaces/create"
	TopicUpdate = "/namespaces/update"
	TopicDelete = "/namespaces/delete"
)

// Options configures the service.
type Options struct {
	DB     *metadata.DB     // required
	Events events.Publisher // required
}

type service struct {
	opts Options
}

// Register registers the namespaces service on s.
func Register(s *grpc.Server, opts Options) error {
	if opts.DB == nil || opts.Events == nil {
		return errors.New("namespaces service: DB and Events are required")
	}
	api.RegisterNamespacesServer(s, &service{opts: opts})
	return nil
}

func (s *service) Get(ctx context.Context, req *api.GetNamespaceRequest) (*api.GetNamespaceResponse, error) {
	n, err := s.opts.DB.GetNamespace(req.Name)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return &api.GetNamespaceResponse{Namespace: toProto(n)}, nil
}

// List lists all namespaces. containerd ignores the request's filter; it
// is applied here, over the fields name and labels.KEY.
func (s *service) List(ctx context.Context, req *api.ListNamespacesRequest) (*api.ListNamespacesResponse, error) {
	f, err := filters.Parse(req.Filter)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	list, err := s.opts.DB.ListNamespaces()
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	resp := &api.ListNamespacesResponse{}
	for _, n := range list {
		if f.Match(func(path []string) (string, bool) { return field(n, path) }) {
			resp.Namespaces = append(resp.Namespaces, toProto(n))
		}
	}
	return resp, nil
}

func (s *service) Create(ctx context.Context, req *api.CreateNamespaceRequest) (*api.CreateNamespaceResponse, error) {
	n := req.Namespace
	if err := s.opts.DB.CreateNamespace(n.Name, n.Labels); err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	if err := s.publish(ctx, n.Name, TopicCreate, &eventtypes.NamespaceCreate{Name: n.Name, Labels: n.Labels}); err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return &api.CreateNamespaceResponse{Namespace: n}, nil
}

// Update updates the labels of a namespace, creating it if needed, as
// containerd does.
func (s *service) Update(ctx context.Context, req *api.UpdateNamespaceRequest) (*api.UpdateNamespaceResponse, error) {
	var paths []string
	if req.UpdateMask != nil {
		paths = req.UpdateMask.Paths
	}
	n, err := s.opts.DB.UpdateNamespace(req.Namespace.Name, req.Namespace.Labels, paths...)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	if err := s.publish(ctx, n.Name, TopicUpdate, &eventtypes.NamespaceUpdate{Name: n.Name, Labels: n.Labels}); err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return &api.UpdateNamespaceResponse{Namespace: toProto(n)}, nil
}

// Delete deletes a namespace; the store refuses while it holds containers
// or leases.
func (s *service) Delete(ctx context.Context, req *api.DeleteNamespaceRequest) (*ptypes.Empty, error) {
	if err := s.opts.DB.DeleteNamespace(req.Name); err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	if err := s.publish(ctx, req.Name, TopicDelete, &eventtypes.NamespaceDelete{Name: req.Name}); err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return &ptypes.Empty{}, nil
}

// publish publishes an event about namespace ns, in namespace ns (the
// request may have no namespace header). As in containerd, a failure is
// returned to the client even though the change was made.
func (s *service) publish(ctx context.Context, ns, topic string, event proto.Message) error {
	if err := s.opts.Events.Publish(nsctx.With(ctx, ns), topic, event); err != nil {
		return fmt.Errorf("publish %s event: %w", topic, err)
	}
	return nil
}

func toProto(n metadata.Namespace) api.Namespace {
	return api.Namespace{Name: n.Name, Labels: n.Labels}
}

func field(n metadata.Namespace, path []string) (string, bool) {
	switch path[0] {
	case "name":
		return n.Name, true
	case "labels":
		return filters.Label(path[1:], n.Labels)
	}
	return "", false
}
