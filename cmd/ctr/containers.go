package main

import (
	"context"
	"encoding/json"
	"fmt"
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
			listCommand{group: "containers", summary: "list containers", key: "ids", list: listContainers}.command(),
			{name: "info", usage: "ID", summary: "print a container's record as JSON", run: cmdContainersInfo},
			{name: "create", usage: "--rootfs DIR [flags] ID CMD [ARGS...]", summary: "create a container", run: cmdContainersCreate},
			removeCommand{group: "containers", usage: "ID...", summary: "delete containers (and their stopped tasks)", what: "ID",
				remove: deleteContainer}.command(),
		},
	}
}

// listContainers: Containers.ListStream.
func listContainers(ctx context.Context, c *client.Client, filters []string) ([]string, [][]string, error) {
	ctrs, err := c.Containers(ctx, filters...)
	if err != nil {
		return nil, nil, err
	}
	rows := make([][]string, 0, len(ctrs))
	for _, ctr := range ctrs {
		info := ctr.Info()
		image, runtime := info.Image, ""
		if image == "" {
			image = "-"
		}
		if info.Runtime != nil {
			runtime = info.Runtime.Name
		}
		rows = append(rows, []string{ctr.ID(), image, runtime})
	}
	return []string{"CONTAINER", "IMAGE", "RUNTIME"}, rows, nil
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
	c, pos, err := g.open(newFlags("ctr containers info"), args, 1, "ID")
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
	pos, err := parseArgs(fs, args, 2, "ID and CMD")
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

// deleteContainer deletes a container, and its task if stopped:
// Tasks.Get, (Tasks.Delete), Containers.Delete. A container whose task
// still runs is left alone.
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
