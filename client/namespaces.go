package client

import (
	"context"
	"fmt"

	namespacesapi "github.com/seedrt/seed/api/services/namespaces/v1"
	"github.com/seedrt/seed/errdefs"
)

// Namespace is a namespace and its labels.
type Namespace struct {
	Name   string
	Labels map[string]string
}

// ListNamespaces lists all namespaces (Namespaces.List).
func (c *Client) ListNamespaces(ctx context.Context) ([]Namespace, error) {
	r, err := c.namespaces.List(c.withNS(ctx), &namespacesapi.ListNamespacesRequest{})
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", errdefs.FromGRPC(err))
	}
	out := make([]Namespace, 0, len(r.Namespaces))
	for _, n := range r.Namespaces {
		out = append(out, Namespace{Name: n.Name, Labels: n.Labels})
	}
	return out, nil
}

// CreateNamespace creates namespace name (Namespaces.Create).
func (c *Client) CreateNamespace(ctx context.Context, name string, labels map[string]string) error {
	_, err := c.namespaces.Create(c.withNS(ctx), &namespacesapi.CreateNamespaceRequest{
		Namespace: namespacesapi.Namespace{Name: name, Labels: labels},
	})
	if err != nil {
		return fmt.Errorf("namespace %q: %w", name, errdefs.FromGRPC(err))
	}
	return nil
}

// DeleteNamespace deletes namespace name, which must be empty
// (Namespaces.Delete).
func (c *Client) DeleteNamespace(ctx context.Context, name string) error {
	_, err := c.namespaces.Delete(c.withNS(ctx), &namespacesapi.DeleteNamespaceRequest{Name: name})
	if err != nil {
		return fmt.Errorf("namespace %q: %w", name, errdefs.FromGRPC(err))
	}
	return nil
}
