package client

import (
	"context"
	"fmt"

	"github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/errdefs"
)

// Version is the daemon's version.
type Version struct {
	Version  string
	Revision string
}

// Version asks the daemon for its version (Version.Version).
func (c *Client) Version(ctx context.Context) (Version, error) {
	r, err := c.version.Version(c.withNS(ctx), &types.Empty{})
	if err != nil {
		return Version{}, fmt.Errorf("version: %w", errdefs.FromGRPC(err))
	}
	return Version{Version: r.Version, Revision: r.Revision}, nil
}
