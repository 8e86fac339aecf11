package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/coordinator/daemon"
	"github.com/seedrt/seed/errdefs"
)

// Exit codes of `containerd publish`, which v1 shims run once per event
// (PROTOCOL.md): they retry on 1 and give the event up on 2.
const (
	publishUnavailable = 1 // the daemon could not be reached: try again
	publishRejected    = 2 // bad command line or input, or the daemon refused the event
)

// runPublish is `containerd [--address ADDRESS] publish --topic TOPIC
// --namespace NS`: it forwards the event on stdin (a protobuf-encoded Any)
// to the running daemon at ADDRESS and returns the exit code.
func runPublish(address string, args []string, stdin io.Reader, stderr io.Writer) int {
	fs := flag.NewFlagSet("containerd publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	topic := fs.String("topic", "", "topic of the event")
	namespace := fs.String("namespace", "", "namespace to publish to")
	if err := fs.Parse(args); err != nil {
		return publishRejected
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "containerd publish: "+format+"\n", a...)
		return code
	}
	if *topic == "" || *namespace == "" {
		return fail(publishRejected, "--topic and --namespace are required")
	}
	data, err := io.ReadAll(stdin)
	if err != nil {
		return fail(publishRejected, "read event from stdin: %v", err)
	}
	var event types.Any
	if err := event.Unmarshal(data); err != nil {
		return fail(publishRejected, "decode event from stdin (a protobuf Any): %v", err)
	}
	if err := daemon.Publish(context.Background(), address, *namespace, *topic, &event); err != nil {
		if errdefs.IsUnavailable(err) {
			return fail(publishUnavailable, "%v", err)
		}
		return fail(publishRejected, "%v", err)
	}
	return 0
}
