package client

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	containersapi "github.com/seedrt/seed/api/services/containers/v1"
	eventsapi "github.com/seedrt/seed/api/services/events/v1"
	namespacesapi "github.com/seedrt/seed/api/services/namespaces/v1"
	tasksapi "github.com/seedrt/seed/api/services/tasks/v1"
	versionapi "github.com/seedrt/seed/api/services/version/v1"
	"github.com/seedrt/seed/errdefs"
)

const (
	// DefaultAddress is where containerd (and our daemon) listens.
	DefaultAddress = "/run/containerd/containerd.sock"
	// DefaultNamespace is used when no namespace is given.
	DefaultNamespace = "default"
	// DefaultDialTimeout bounds New's connection attempt.
	DefaultDialTimeout = 5 * time.Second

	// namespaceHeader is the gRPC metadata key carrying the namespace
	// (coordinator/nsctx.GRPCHeader; not imported to keep ttrpc out of
	// client binaries).
	namespaceHeader = "containerd-namespace"
)

// Client is a connection to the daemon, bound to one namespace.
type Client struct {
	conn *grpc.ClientConn
	ns   string

	containers containersapi.ContainersClient
	tasks      tasksapi.TasksClient
	events     eventsapi.EventsClient
	namespaces namespacesapi.NamespacesClient
	version    versionapi.VersionClient
}

type options struct {
	namespace   string
	dialTimeout time.Duration
}

// Opt configures New.
type Opt func(*options)

// WithNamespace sets the namespace of every call (default "default").
func WithNamespace(ns string) Opt { return func(o *options) { o.namespace = ns } }

// WithDialTimeout bounds the connection attempt (default 5s).
func WithDialTimeout(d time.Duration) Opt { return func(o *options) { o.dialTimeout = d } }

// New connects to the daemon at address, a unix socket path or a unix://
// URL. It fails at once, with an error of class errdefs.ErrUnavailable,
// when nothing listens there.
func New(address string, opts ...Opt) (*Client, error) {
	o := options{namespace: DefaultNamespace, dialTimeout: DefaultDialTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	path := strings.TrimPrefix(address, "unix://")
	if path == "" {
		return nil, fmt.Errorf("empty daemon address: %w", errdefs.ErrInvalidArgument)
	}
	// gRPC would read a relative "unix://dir/x.sock" as host "dir".
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.dialTimeout)
	defer cancel()
	conn, err := grpc.DialContext(ctx, "unix://"+path,
		grpc.WithInsecure(),
		grpc.WithBlock(),
		grpc.FailOnNonTempDialError(true),
		grpc.WithReturnConnectionError(),
	)
	if err != nil {
		return nil, fmt.Errorf("daemon not running at %s (%v): %w", path, err, errdefs.ErrUnavailable)
	}
	return &Client{
		conn:       conn,
		ns:         o.namespace,
		containers: containersapi.NewContainersClient(conn),
		tasks:      tasksapi.NewTasksClient(conn),
		events:     eventsapi.NewEventsClient(conn),
		namespaces: namespacesapi.NewNamespacesClient(conn),
		version:    versionapi.NewVersionClient(conn),
	}, nil
}

// Namespace returns the namespace the client's calls are made in.
func (c *Client) Namespace() string { return c.ns }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// withNS returns ctx carrying the client's namespace for an outgoing call.
func (c *Client) withNS(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, namespaceHeader, c.ns)
}
