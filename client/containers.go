package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/gogo/protobuf/proto"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	containersapi "github.com/seedrt/seed/api/services/containers/v1"
	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/shimapi/typeurl"
)

// DefaultRuntime is the runtime new containers use unless told otherwise.
const DefaultRuntime = "io.containerd.runc.v2"

// Container is a container record, as the daemon last returned it.
type Container struct {
	client *Client
	info   containersapi.Container

	specOnce sync.Once
	spec     *specs.Spec
	specErr  error
}

// ContainerOpt adjusts the record of a new container.
type ContainerOpt func(*containersapi.Container) error

// WithRuntime sets the runtime (shim) name and, unless nil, its options
// (e.g. runcopts.Options, sent as an Any named "containerd.runc.v1.Options").
func WithRuntime(name string, options proto.Message) ContainerOpt {
	return func(c *containersapi.Container) error {
		c.Runtime = &containersapi.Container_Runtime{Name: name}
		if options != nil {
			a, err := typeurl.MarshalAny(options)
			if err != nil {
				return fmt.Errorf("runtime options: %w", err)
			}
			c.Runtime.Options = a
		}
		return nil
	}
}

// WithLabels sets the container's labels.
func WithLabels(labels map[string]string) ContainerOpt {
	return func(c *containersapi.Container) error {
		c.Labels = labels
		return nil
	}
}

// NewContainer creates container id running spec (Containers.Create).
func (c *Client) NewContainer(ctx context.Context, id string, spec *specs.Spec, opts ...ContainerOpt) (*Container, error) {
	if spec == nil {
		return nil, fmt.Errorf("container %q: no spec: %w", id, errdefs.ErrInvalidArgument)
	}
	specAny, err := typeurl.MarshalJSON(typeurl.SpecURL, spec)
	if err != nil {
		return nil, fmt.Errorf("container %q: encode spec: %w", id, err)
	}
	rec := containersapi.Container{
		ID:      id,
		Runtime: &containersapi.Container_Runtime{Name: DefaultRuntime},
		Spec:    specAny,
	}
	for _, o := range opts {
		if err := o(&rec); err != nil {
			return nil, fmt.Errorf("container %q: %w", id, err)
		}
	}
	r, err := c.containers.Create(c.withNS(ctx), &containersapi.CreateContainerRequest{Container: rec})
	if err != nil {
		return nil, containerErr(id, err)
	}
	ctr := &Container{client: c, info: r.Container}
	ctr.specOnce.Do(func() { ctr.spec = spec })
	return ctr, nil
}

// Container returns a handle on container id without fetching its record:
// Info is empty and Spec fails, but Delete, NewTask and Task work, one RPC
// each.
func (c *Client) Container(id string) *Container {
	return &Container{client: c, info: containersapi.Container{ID: id}}
}

// LoadContainer fetches the record of container id (Containers.Get).
func (c *Client) LoadContainer(ctx context.Context, id string) (*Container, error) {
	r, err := c.containers.Get(c.withNS(ctx), &containersapi.GetContainerRequest{ID: id})
	if err != nil {
		return nil, containerErr(id, err)
	}
	return &Container{client: c, info: r.Container}, nil
}

// Containers lists the containers matching any of the filters
// (Containers.ListStream), all of them when there are none.
func (c *Client) Containers(ctx context.Context, filters ...string) ([]*Container, error) {
	stream, err := c.containers.ListStream(c.withNS(ctx), &containersapi.ListContainersRequest{Filters: filters})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", errdefs.FromGRPC(err))
	}
	var out []*Container
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list containers: %w", errdefs.FromGRPC(err))
		}
		if m.Container != nil {
			out = append(out, &Container{client: c, info: *m.Container})
		}
	}
}

// ID returns the container's id.
func (ct *Container) ID() string { return ct.info.ID }

// Info returns the container's record as last fetched (no RPC).
func (ct *Container) Info() containersapi.Container { return ct.info }

// Spec returns the container's OCI spec, decoded from its record (no RPC).
// The spec is shared: copy what you modify.
func (ct *Container) Spec() (*specs.Spec, error) {
	ct.specOnce.Do(func() {
		var s specs.Spec
		if err := typeurl.UnmarshalJSON(ct.info.Spec, typeurl.SpecURL, &s); err != nil {
			ct.specErr = fmt.Errorf("container %q: decode spec: %w", ct.info.ID, err)
			return
		}
		ct.spec = &s
	})
	return ct.spec, ct.specErr
}

// Delete deletes the container record (Containers.Delete). Its task, if
// any, must have been deleted first.
func (ct *Container) Delete(ctx context.Context) error {
	_, err := ct.client.containers.Delete(ct.client.withNS(ctx), &containersapi.DeleteContainerRequest{ID: ct.info.ID})
	return containerErr(ct.info.ID, err)
}

// NewTask creates the container's task (Tasks.Create) with stdio made by
// ioc (NullIO when nil). The task is created, not started.
func (ct *Container) NewTask(ctx context.Context, ioc Creator, opts ...TaskOpt) (*Task, error) {
	return ct.client.newTask(ctx, ct.info.ID, ioc, opts...)
}

// Task loads the container's existing task (Tasks.Get), reconnecting to its
// stdio with attach when not nil.
func (ct *Container) Task(ctx context.Context, attach Attacher) (*Task, error) {
	return ct.client.LoadTask(ctx, ct.info.ID, attach)
}
