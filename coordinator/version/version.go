// Package version holds the daemon's version, as reported by the version
// API and `containerd --version`. Both strings can be set at link time:
//
//	go build -ldflags "-X github.com/seedrt/seed/coordinator/version.Version=1.6.20+seed.0.2.0 \
//	    -X github.com/seedrt/seed/coordinator/version.Revision=$(git rev-parse HEAD)"
//
// Version is semver: the containerd release whose API the daemon serves,
// with "+seed..." as build metadata. Clients that compare the server's
// version with a containerd release (>= 1.6) then see the API level; a
// pre-release suffix such as "-seed" would compare below 1.6.20.
package version

import "runtime/debug"

var (
	// Package is the daemon's Go module.
	Package = "github.com/seedrt/seed"

	// Version is the daemon's version; see the package comment.
	Version = "1.6.20+seed"

	// Revision is the source revision the daemon was built from. If not
	// set at link time, it is taken from the Go build information when the
	// build recorded one, else it is "unknown".
	Revision = ""
)

func init() {
	if Revision == "" {
		Revision = buildRevision()
	}
}

// buildRevision returns the VCS revision recorded by `go build`, with
// "-dirty" if the tree had local changes, or "unknown".
func buildRevision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "unknown"
	}
	return rev + dirty
}
