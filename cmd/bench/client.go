package main

import (
	"context"
	"time"

	ptypes "github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	containersapi "github.com/seedrt/seed/api/services/containers/v1"
	tasksapi "github.com/seedrt/seed/api/services/tasks/v1"
	"github.com/seedrt/seed/oci"
	"github.com/seedrt/seed/shimapi/runcopts"
	"github.com/seedrt/seed/shimapi/typeurl"
)

// runtimeName is the runtime every container asks for, as ctr run does.
const runtimeName = "io.containerd.runc.v2"

// rootfs is the shared read-only busybox root filesystem.
var rootfs string

// runcOptions is the Any of containerd.runc.v1.Options sent with every
// container and task: empty, so each daemon's shim uses its default runc
// root (ours: STATE/runc/NS; containerd's: /run/containerd/runc/NS).
func runcOptions() *ptypes.Any {
	a, err := typeurl.MarshalAny(&runcopts.Options{})
	if err != nil {
		panic(err)
	}
	return a
}

// createContainer creates container id running args, like ctr run
// --rootfs: containerd's default spec, the shared rootfs read-only, the
// cgroup /NS/ID.
func (d *daemon) createContainer(ctx context.Context, id string, args ...string) error {
	spec, err := typeurl.MarshalJSON(typeurl.SpecURL, oci.DefaultSpec(id,
		oci.WithNamespace(d.ns), oci.WithRootfs(rootfs, true), oci.WithArgs(args...)))
	if err != nil {
		return err
	}
	d.ids.Store(id, true)
	return d.call(ctx, "Containers.Create", id, func(ctx context.Context) error {
		_, err := d.containers.Create(ctx, &containersapi.CreateContainerRequest{Container: containersapi.Container{
			ID:      id,
			Labels:  map[string]string{"seed.bench": "1"},
			Runtime: &containersapi.Container_Runtime{Name: runtimeName, Options: runcOptions()},
			Spec:    spec,
		}})
		return err
	})
}

// createTask creates the task of container id with no stdio.
func (d *daemon) createTask(ctx context.Context, id string) (pid uint32, err error) {
	err = d.call(ctx, "Tasks.Create", id, func(ctx context.Context) error {
		r, err := d.tasks.Create(ctx, &tasksapi.CreateTaskRequest{ContainerID: id, Options: runcOptions()})
		if err == nil {
			pid = r.Pid
		}
		return err
	})
	return pid, err
}

func (d *daemon) startTask(ctx context.Context, id, execID string) error {
	return d.call(ctx, "Tasks.Start", id+execSuffix(execID), func(ctx context.Context) error {
		_, err := d.tasks.Start(ctx, &tasksapi.StartRequest{ContainerID: id, ExecID: execID})
		return err
	})
}

// kill sends SIGKILL to the task's process (all processes with all).
func (d *daemon) kill(ctx context.Context, id, execID string, all bool) error {
	return d.call(ctx, "Tasks.Kill", id+execSuffix(execID), func(ctx context.Context) error {
		_, err := d.tasks.Kill(ctx, &tasksapi.KillRequest{ContainerID: id, ExecID: execID, Signal: 9, All: all})
		return err
	})
}

// wait blocks until the process exits (bounded by the RPC timeout).
func (d *daemon) wait(ctx context.Context, id, execID string) (*tasksapi.WaitResponse, error) {
	var r *tasksapi.WaitResponse
	err := d.call(ctx, "Tasks.Wait", id+execSuffix(execID), func(ctx context.Context) (err error) {
		r, err = d.tasks.Wait(ctx, &tasksapi.WaitRequest{ContainerID: id, ExecID: execID})
		return err
	})
	return r, err
}

func (d *daemon) deleteTask(ctx context.Context, id string) error {
	return d.call(ctx, "Tasks.Delete", id, func(ctx context.Context) error {
		_, err := d.tasks.Delete(ctx, &tasksapi.DeleteTaskRequest{ContainerID: id})
		return err
	})
}

func (d *daemon) deleteContainer(ctx context.Context, id string) error {
	return d.call(ctx, "Containers.Delete", id, func(ctx context.Context) error {
		_, err := d.containers.Delete(ctx, &containersapi.DeleteContainerRequest{ID: id})
		return err
	})
}

// exec adds process execID running args to container id, no stdio.
func (d *daemon) exec(ctx context.Context, id, execID string, args ...string) error {
	spec, err := typeurl.MarshalJSON(typeurl.ProcessURL, oci.DefaultSpec(id, oci.WithArgs(args...)).Process)
	if err != nil {
		return err
	}
	return d.call(ctx, "Tasks.Exec", id+execSuffix(execID), func(ctx context.Context) error {
		_, err := d.tasks.Exec(ctx, &tasksapi.ExecProcessRequest{ContainerID: id, ExecID: execID, Spec: spec})
		return err
	})
}

func (d *daemon) deleteProcess(ctx context.Context, id, execID string) error {
	return d.call(ctx, "Tasks.DeleteProcess", id+execSuffix(execID), func(ctx context.Context) error {
		_, err := d.tasks.DeleteProcess(ctx, &tasksapi.DeleteProcessRequest{ContainerID: id, ExecID: execID})
		return err
	})
}

func (d *daemon) listTasks(ctx context.Context, timeout time.Duration) (*tasksapi.ListTasksResponse, error) {
	var r *tasksapi.ListTasksResponse
	err := d.callTimeout(ctx, timeout, "Tasks.List", "", func(ctx context.Context) (err error) {
		r, err = d.tasks.List(ctx, &tasksapi.ListTasksRequest{})
		return err
	})
	return r, err
}

// startContainer is Containers.Create + Tasks.Create + Tasks.Start of a
// container running args; phases holds the duration of each.
func (d *daemon) startContainer(ctx context.Context, id string, args ...string) (phases [3]time.Duration, err error) {
	t0 := time.Now()
	if err = d.createContainer(ctx, id, args...); err != nil {
		return
	}
	t1 := time.Now()
	phases[0] = t1.Sub(t0)
	if _, err = d.createTask(ctx, id); err != nil {
		return
	}
	t2 := time.Now()
	phases[1] = t2.Sub(t1)
	err = d.startTask(ctx, id, "")
	phases[2] = time.Since(t2)
	return
}

// removeContainer is Kill(SIGKILL) + Wait + Tasks.Delete + Containers.Delete.
func (d *daemon) removeContainer(ctx context.Context, id string) error {
	if err := d.kill(ctx, id, "", false); err != nil {
		return err
	}
	if _, err := d.wait(ctx, id, ""); err != nil {
		return err
	}
	if err := d.deleteTask(ctx, id); err != nil {
		return err
	}
	return d.deleteContainer(ctx, id)
}

func execSuffix(execID string) string {
	if execID == "" {
		return ""
	}
	return "/" + execID
}

func isNotFound(err error) bool {
	for e := err; e != nil; {
		if s, ok := status.FromError(e); ok && s.Code() == codes.NotFound {
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}
