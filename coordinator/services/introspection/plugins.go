package introspection

import (
	"runtime"

	api "github.com/seedrt/seed/api/services/introspection/v1"
	"github.com/seedrt/seed/shimapi/types"
)

// containerd's plugin types, for the parts of containerd this daemon
// provides.
const (
	TypeGRPC     = "io.containerd.grpc.v1"
	TypeRuntime  = "io.containerd.runtime.v2"
	TypeMetadata = "io.containerd.metadata.v1"
	TypeEvent    = "io.containerd.event.v1"
)

// DefaultPlugins describes what the daemon provides, as containerd's
// plugins: the event exchange, the bbolt metadata store, the v2 shim
// runtime (for the host's platform) and the gRPC services. It has no
// content store, snapshotters, images, diff or CRI.
func DefaultPlugins() []api.Plugin {
	store := []string{TypeEvent, TypeMetadata}
	plugins := []api.Plugin{
		{Type: TypeEvent, ID: "exchange"},
		{Type: TypeMetadata, ID: "bolt"},
		{
			Type:      TypeRuntime,
			ID:        "task",
			Requires:  store,
			Platforms: []types.Platform{{OS: runtime.GOOS, Architecture: runtime.GOARCH}},
		},
	}
	for _, id := range []string{"containers", "events", "introspection", "leases", "namespaces", "tasks", "version"} {
		var requires []string
		switch id {
		case "containers", "namespaces", "leases":
			requires = store
		case "tasks":
			requires = []string{TypeEvent, TypeMetadata, TypeRuntime}
		case "events":
			requires = []string{TypeEvent}
		}
		plugins = append(plugins, api.Plugin{Type: TypeGRPC, ID: id, Requires: requires})
	}
	return plugins
}
