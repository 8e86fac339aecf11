// Package introspection serves containerd's introspection API
// (containerd.services.introspection.v1.Introspection): the daemon's
// persistent UUID and the list of what it provides, in the form of
// containerd's plugins.
package introspection

import (
	"context"
	"errors"
	"fmt"

	ptypes "github.com/gogo/protobuf/types"
	"google.golang.org/grpc"

	api "github.com/seedrt/seed/api/services/introspection/v1"
	"github.com/seedrt/seed/coordinator/filters"
	"github.com/seedrt/seed/errdefs"
)

// Options configures the service.
type Options struct {
	// Root is the daemon's root directory; the UUID is kept in Root/uuid.
	// Required.
	Root string
	// Plugins, if not nil, replaces DefaultPlugins() as the list returned
	// by the Plugins call.
	Plugins []api.Plugin
}

type service struct {
	uuid    string
	plugins []api.Plugin
}

// Register registers the introspection service on s. It reads the
// daemon's UUID from Root/uuid, creating the file if needed, and fails if
// that file cannot be read, created, or holds no valid UUID.
func Register(s *grpc.Server, opts Options) error {
	if opts.Root == "" {
		return errors.New("introspection service: Root is required")
	}
	u, err := loadUUID(opts.Root)
	if err != nil {
		return fmt.Errorf("introspection service: %w", err)
	}
	plugins := opts.Plugins
	if plugins == nil {
		plugins = DefaultPlugins()
	}
	api.RegisterIntrospectionServer(s, &service{uuid: u, plugins: plugins})
	return nil
}

// Server returns the daemon's UUID, stable across restarts.
func (s *service) Server(context.Context, *ptypes.Empty) (*api.ServerResponse, error) {
	return &api.ServerResponse{UUID: s.uuid}, nil
}

// Plugins returns the plugins matching the request's filters, which may
// test the fields type and id.
func (s *service) Plugins(_ context.Context, req *api.PluginsRequest) (*api.PluginsResponse, error) {
	f, err := filters.Parse(req.Filters...)
	if err != nil {
		return nil, errdefs.ToGRPC(err)
	}
	resp := &api.PluginsResponse{}
	for _, p := range s.plugins {
		if f.Match(func(path []string) (string, bool) { return field(&p, path) }) {
			resp.Plugins = append(resp.Plugins, p)
		}
	}
	return resp, nil
}

func field(p *api.Plugin, path []string) (string, bool) {
	switch path[0] {
	case "type":
		return p.Type, p.Type != ""
	case "id":
		return p.ID, p.ID != ""
	}
	return "", false
}
