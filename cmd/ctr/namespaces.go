package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

func namespacesCommand() *command {
	return &command{
		name:    "namespaces",
		aliases: []string{"ns", "namespace"},
		summary: "manage namespaces",
		subs: []*command{
			{name: "ls", aliases: []string{"list"}, usage: "[-q]", summary: "list namespaces", run: cmdNamespacesList},
			{name: "create", usage: "NAME [KEY=VALUE...]", summary: "create a namespace", run: cmdNamespacesCreate},
			{name: "rm", aliases: []string{"delete", "del", "remove"}, usage: "NAME...", summary: "delete empty namespaces", run: cmdNamespacesDelete},
		},
	}
}

// cmdNamespacesList: Namespaces.List.
func cmdNamespacesList(g *globals, args []string) error {
	var quiet bool
	fs := newFlags("ctr namespaces ls")
	boolFlag(fs, &quiet, "print only the names", "quiet", "q")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	nss, err := c.ListNamespaces(context.Background())
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 4, 8, 4, ' ', 0)
	if !quiet {
		fmt.Fprintln(w, "NAME\tLABELS\t")
	}
	for _, ns := range nss {
		if quiet {
			fmt.Fprintln(w, ns.Name)
			continue
		}
		var labels []string
		for k, v := range ns.Labels {
			labels = append(labels, k+"="+v)
		}
		sort.Strings(labels)
		fmt.Fprintf(w, "%s\t%s\t\n", ns.Name, strings.Join(labels, ","))
	}
	return w.Flush()
}

// cmdNamespacesCreate: Namespaces.Create.
func cmdNamespacesCreate(g *globals, args []string) error {
	fs := newFlags("ctr namespaces create")
	if err := parse(fs, args); err != nil {
		return err
	}
	pos, err := needArgs(fs, 1, "NAME")
	if err != nil {
		return err
	}
	labels := map[string]string{}
	for _, kv := range pos[1:] {
		k, v, _ := strings.Cut(kv, "=")
		labels[k] = v
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	return c.CreateNamespace(context.Background(), pos[0], labels)
}

// cmdNamespacesDelete: Namespaces.Delete for each name.
func cmdNamespacesDelete(g *globals, args []string) error {
	fs := newFlags("ctr namespaces rm")
	if err := parse(fs, args); err != nil {
		return err
	}
	pos, err := needArgs(fs, 1, "NAME")
	if err != nil {
		return err
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	var errs []error
	for _, name := range pos {
		errs = append(errs, c.DeleteNamespace(context.Background(), name))
	}
	return errors.Join(errs...)
}
