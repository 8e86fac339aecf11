package main

import (
	"context"
	"sort"
	"strings"

	"github.com/seedrt/seed/client"
)

func namespacesCommand() *command {
	return &command{
		name:    "namespaces",
		aliases: []string{"ns", "namespace"},
		summary: "manage namespaces",
		subs: []*command{
			listCommand{group: "namespaces", summary: "list namespaces", key: "names", list: listNamespaces}.command(),
			{name: "create", usage: "NAME [KEY=VALUE...]", summary: "create a namespace", run: cmdNamespacesCreate},
			removeCommand{group: "namespaces", usage: "NAME...", summary: "delete empty namespaces", what: "NAME",
				remove: func(ctx context.Context, c *client.Client, name string) error { return c.DeleteNamespace(ctx, name) },
			}.command(),
		},
	}
}

// listNamespaces: Namespaces.List.
func listNamespaces(ctx context.Context, c *client.Client, _ []string) ([]string, [][]string, error) {
	nss, err := c.ListNamespaces(ctx)
	if err != nil {
		return nil, nil, err
	}
	rows := make([][]string, 0, len(nss))
	for _, ns := range nss {
		var labels []string
		for k, v := range ns.Labels {
			labels = append(labels, k+"="+v)
		}
		sort.Strings(labels)
		rows = append(rows, []string{ns.Name, strings.Join(labels, ",")})
	}
	return []string{"NAME", "LABELS"}, rows, nil
}

// cmdNamespacesCreate: Namespaces.Create.
func cmdNamespacesCreate(g *globals, args []string) error {
	c, pos, err := g.open(newFlags("ctr namespaces create"), args, 1, "NAME")
	if err != nil {
		return err
	}
	defer c.Close()
	labels := map[string]string{}
	for _, kv := range pos[1:] {
		k, v, _ := strings.Cut(kv, "=")
		labels[k] = v
	}
	return c.CreateNamespace(context.Background(), pos[0], labels)
}
