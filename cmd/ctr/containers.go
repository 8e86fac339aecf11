package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/gogo/protobuf/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/seedrt/seed/client"
	"github.com/seedrt/seed/errdefs"
)

func containersCommand() *command {
	return &command{
		name:    "containers",
		aliases: []string{"c", "container"},
		summary: "manage containers",
		subs: []*command{
			{name: "ls", aliases: []string{"list"}, usage: "[-q]", summary: "list containers", run: cmdContainersList},
			{name: "info", usage: "ID", summary: "print a container's record as JSON", run: cmdContainersInfo},
			{name: "create", usage: "--rootfs DIR [flags] ID CMD [ARGS...]", summary: "create a container", run: cmdContainersCreate},
			{name: "rm", aliases: []string{"delete", "del", "remove"}, usage: "ID...", summary: "delete containers (and their stopped tasks)", run: cmdContainersDelete},
		},
	}
}

// cmdContainersList: Containers.ListStream.
func cmdContainersList(g *globals, args []string) error {
	var quiet bool
	fs := newFlags("ctr containers ls")
	boolFlag(fs, &quiet, "print only the ids", "quiet", "q")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	ctrs, err := c.Containers(context.Background(), fs.Args()...)
	if err != nil {
		return err
	}
	if quiet {
		for _, ctr := range ctrs {
			fmt.Println(ctr.ID())
		}
		return nil
	}
	w := tabwriter.NewWriter(os.Stdout, 4, 8, 4, ' ', 0)
	fmt.Fprintln(w, "CONTAINER\tIMAGE\tRUNTIME\t")
	for _, ctr := range ctrs {
		info := ctr.Info()
		image, runtime := info.Image, ""
		if image == "" {
			image = "-"
		}
		if info.Runtime != nil {
			runtime = info.Runtime.Name
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t\n", ctr.ID(), image, runtime)
	}
	return w.Flush()
}

// containerInfo is what `containers info` prints: the record, spec decoded.
type containerInfo struct {
	ID        string
	Labels    map[string]string
	Image     string
	Runtime   runtimeInfo
	CreatedAt time.Time
	UpdatedAt time.Time
	Spec      *specs.Spec `json:",omitempty"`
}

type runtimeInfo struct {
	Name    string
	Options *types.Any `json:",omitempty"`
}

// cmdContainersInfo: Containers.Get.
func cmdContainersInfo(g *globals, args []string) error {
	fs := newFlags("ctr containers info")
	if err := parse(fs, args); err != nil {
		return err
	}
	pos, err := needArgs(fs, 1, "ID")
	if err != nil {
		return err
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	ctr, err := c.LoadContainer(context.Background(), pos[0])
	if err != nil {
		return err
	}
	rec := ctr.Info()
	info := containerInfo{ID: rec.ID, Labels: rec.Labels, Image: rec.Image, CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt}
	if rec.Runtime != nil {
		info.Runtime = runtimeInfo{Name: rec.Runtime.Name, Options: rec.Runtime.Options}
	}
	if info.Spec, err = ctr.Spec(); err != nil {
		return err
	}
	out, err := json.MarshalIndent(info, "", "    ")
	if err != nil {
		return fmt.Errorf("encode container %q: %w", rec.ID, err)
	}
	fmt.Println(string(out))
	return nil
}

// cmdContainersCreate: Containers.Create.
func cmdContainersCreate(g *globals, args []string) error {
	var cf containerFlags
	fs := newFlags("ctr containers create")
	cf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	pos, err := needArgs(fs, 2, "ID and CMD")
	if err != nil {
		return err
	}
	spec, err := cf.spec(g.namespace, pos[0], pos[1:])
	if err != nil {
		return err
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.NewContainer(context.Background(), pos[0], spec, cf.runtimeOpt())
	return err
}

// cmdContainersDelete deletes each container, and its task if stopped:
// Tasks.Get, (Tasks.Delete), Containers.Delete. A container whose task
// still runs is left alone.
func cmdContainersDelete(g *globals, args []string) error {
	fs := newFlags("ctr containers rm")
	if err := parse(fs, args); err != nil {
		return err
	}
	pos, err := needArgs(fs, 1, "ID")
	if err != nil {
		return err
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	var errs []error
	for _, id := range pos {
		errs = append(errs, deleteContainer(context.Background(), c, id))
	}
	return errors.Join(errs...)
}

func deleteContainer(ctx context.Context, c *client.Client, id string) error {
	task, err := c.LoadTask(ctx, id, nil)
	switch {
	case errdefs.IsNotFound(err): // no task, or no container: Delete says which
	case err != nil:
		return err
	default:
		if err := deleteStoppedTask(ctx, task); err != nil {
			return fmt.Errorf("cannot delete container %q: %w", id, err)
		}
	}
	return c.Container(id).Delete(ctx)
}
