// Package version serves containerd's version API
// (containerd.services.version.v1.Version): the daemon's version and
// revision from package coordinator/version.
package version

import (
	"context"

	ptypes "github.com/gogo/protobuf/types"
	"google.golang.org/grpc"

	api "github.com/seedrt/seed/api/services/version/v1"
	"github.com/seedrt/seed/coordinator/version"
)

type service struct{}

// Register registers the version service on s.
func Register(s *grpc.Server) {
	api.RegisterVersionServer(s, service{})
}

func (service) Version(context.Context, *ptypes.Empty) (*api.VersionResponse, error) {
	return &api.VersionResponse{Version: version.Version, Revision: version.Revision}, nil
}
