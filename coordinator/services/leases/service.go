// Package leases serves containerd's leases API
// (containerd.services.leases.v1.Leases) from the metadata store.
//
// In containerd a lease keeps content and snapshots from being garbage
// collected. This daemon has neither a content store nor snapshotters, so a
// lease protects nothing: leases are stored so that clients such as
// `ctr run` (which wraps container creation in one) work, and the resource
// calls check the lease and otherwise record nothing.
package leases

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	ptypes "github.com/gogo/protobuf/types"
	"google.golang.org/grpc"

	api "github.com/seedrt/seed/api/services/leases/v1"
	"github.com/seedrt/seed/coordinator/filters"
	"github.com/seedrt/seed/coordinator/metadata"
	"github.com/seedrt/seed/coordinator/nsctx"
	"github.com/seedrt/seed/errdefs"
)

// Options configures the service.
type Options struct {
	DB *metadata.DB // required
}

type service struct {
	db *metadata.DB
}

// Register registers the leases service on s.
func Register(s *grpc.Server, opts Options) error {
	if opts.DB == nil {
		return errors.New("leases service: DB is required")
	}
	api.RegisterLeasesServer(s, &service{db: opts.DB})
	return nil
}

// Create creates a lease, with a random id if the request has none.
func (s *service) Create(ctx context.Context, req *api.CreateRequest) (*api.CreateResponse, error) {
	ns, err := nsctx.Namespace(ctx)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	id := req.ID
	if id == "" {
		if id, err = randomID(); err != nil {
			return nil, errdefs.ToGRPC(err)
		}
	}
	l, err := s.db.CreateLease(ns, metadata.Lease{ID: id, Labels: req.Labels})
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return &api.CreateResponse{Lease: toProto(l)}, nil
}

// Delete deletes a lease. The sync flag (wait for garbage collection) is
// accepted and ignored: there is nothing to collect.
func (s *service) Delete(ctx context.Context, req *api.DeleteRequest) (*ptypes.Empty, error) {
	ns, err := namespaceAndID(ctx, req.ID)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	if err := s.db.DeleteLease(ns, req.ID); err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return &ptypes.Empty{}, nil
}

// List lists the namespace's leases, filtered on id and labels.KEY.
func (s *service) List(ctx context.Context, req *api.ListRequest) (*api.ListResponse, error) {
	ns, err := nsctx.Namespace(ctx)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	f, err := filters.Parse(req.Filters...)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	list, err := s.db.ListLeases(ns, func(l *metadata.Lease) bool {
		return f.Match(func(path []string) (string, bool) { return field(l, path) })
	})
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	resp := &api.ListResponse{}
	for _, l := range list {
		resp.Leases = append(resp.Leases, toProto(l))
	}
	return resp, nil
}

// AddResource succeeds for an existing lease and records nothing.
func (s *service) AddResource(ctx context.Context, req *api.AddResourceRequest) (*ptypes.Empty, error) {
	if err := s.checkLease(ctx, req.ID); err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return &ptypes.Empty{}, nil
}

// DeleteResource succeeds for an existing lease: it has no resources.
func (s *service) DeleteResource(ctx context.Context, req *api.DeleteResourceRequest) (*ptypes.Empty, error) {
	if err := s.checkLease(ctx, req.ID); err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return &ptypes.Empty{}, nil
}

// ListResources returns no resources for an existing lease.
func (s *service) ListResources(ctx context.Context, req *api.ListResourcesRequest) (*api.ListResourcesResponse, error) {
	if err := s.checkLease(ctx, req.ID); err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	return &api.ListResourcesResponse{}, nil
}

// checkLease fails unless lease id exists in the request's namespace.
func (s *service) checkLease(ctx context.Context, id string) error {
	ns, err := namespaceAndID(ctx, id)
	if err != nil {
		return err
	}
	_, err = s.db.GetLease(ns, id)
	return err
}

func namespaceAndID(ctx context.Context, id string) (string, error) {
	ns, err := nsctx.Namespace(ctx)
	if err != nil {
		return "", err
	}
	if err := metadata.ValidateLeaseID(id); err != nil {
		return "", err
	}
	return ns, nil
}

// randomID returns an id in the style of containerd's generated lease ids
// ("<nanoseconds>-<random>"), always a valid identifier.
func randomID() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate lease id: %w", err)
	}
	return fmt.Sprintf("%d-%s", time.Now().Nanosecond(), hex.EncodeToString(b[:])), nil
}

func toProto(l metadata.Lease) *api.Lease {
	return &api.Lease{ID: l.ID, CreatedAt: l.CreatedAt, Labels: l.Labels}
}

func field(l *metadata.Lease, path []string) (string, bool) {
	switch path[0] {
	case "id":
		return l.ID, l.ID != ""
	case "labels":
		return filters.Label(path[1:], l.Labels)
	}
	return "", false
}
