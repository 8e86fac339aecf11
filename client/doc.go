// Package client is a Go client for a containerd 1.6 compatible daemon
// (ours, or containerd itself), speaking its gRPC API.
//
// Its objects remember what they already know, so that each operation costs
// one RPC: a Container holds its record (and decoded spec), a Task its id,
// pid and stdio, and a Task handle needs no RPC at all to be made
// (Client.Task). Task calls answer "not found" alike for an unknown
// container and for a container without a task; LoadContainer tells which.
//
//	c, err := client.New("/run/containerd/containerd.sock", client.WithNamespace("demo"))
//	ctr, err := c.NewContainer(ctx, "box", oci.DefaultSpec("box", ...))
//	task, err := ctr.NewTask(ctx, client.NewFIFOs("", client.Stdio(false)))
//	exitc, err := task.Wait(ctx) // before Start, so the exit is never missed
//	err = task.Start(ctx)
//	status := <-exitc            // output has been drained by now
//	_, err = task.Delete(ctx)
//	err = ctr.Delete(ctx)
//
// Errors returned by the daemon are converted back to the errdefs classes
// (errdefs.IsNotFound, errdefs.IsAlreadyExists, ...).
package client
