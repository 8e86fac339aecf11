package shim

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/gogo/protobuf/proto"

	"github.com/seedrt/seed/reaper"
)

// Exit codes of `DAEMON publish` that ExecPublisher tells apart (see
// PROTOCOL.md). Any other failure, containerd's own publish included (it
// exits 1 for everything), is taken as "daemon unreachable" and retried.
const (
	publishExitRejected = 2 // the daemon (or the command line) refused the event: retrying cannot help
)

// publishTimeout bounds one publish command; it is killed after that and
// the event retried.
const publishTimeout = 10 * time.Second

// refused is a delivery failure that retrying cannot change: the daemon
// rejected the event.
type refused struct{ error }

// ExecPublisher delivers events the way a v1 shim does: for each event it
// runs `BINARY --address ADDRESS publish --topic TOPIC --namespace NS` with
// the event, a protobuf-encoded Any, on stdin. It keeps Publisher's
// contract (an eventQueue): events are delivered one at a time in order,
// Publish never blocks on delivery, and an event is retried until the
// command succeeds or says the daemon rejected it.
type ExecPublisher struct {
	*eventQueue
	binary    string
	address   string
	namespace string
	monitor   *reaper.Monitor
}

// NewExecPublisher starts a publisher. Its commands are started and reaped
// through m, as every child of the shim must be. An empty binary or address
// drops events (nobody asked for them).
func NewExecPublisher(binary, address, namespace string, m *reaper.Monitor) *ExecPublisher {
	p := &ExecPublisher{binary: binary, address: strings.TrimPrefix(address, "unix://"), namespace: namespace, monitor: m}
	var deliver func(queuedEvent) error
	if p.binary != "" && p.address != "" {
		deliver = p.deliver
	}
	p.eventQueue = newEventQueue(deliver, func(err error) bool { return errors.As(err, new(refused)) },
		func(ev queuedEvent, err error, attempt int) {
			if attempt%30 == 0 { // while the daemon is down: every minute or so
				logf("publish %s (event %d): %v; retrying", ev.topic, ev.seq, err)
			}
		})
	return p
}

// deliver runs the publish command once.
func (p *ExecPublisher) deliver(ev queuedEvent) error {
	data, err := proto.Marshal(ev.event)
	if err != nil {
		return refused{fmt.Errorf("encode event: %w", err)}
	}
	cmd := exec.Command(p.binary, "--address", p.address, "publish", "--topic", ev.topic, "--namespace", p.namespace)
	cmd.Stdin = bytes.NewReader(data)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	exits, err := p.monitor.Start(cmd)
	if err != nil {
		return fmt.Errorf("run %s publish: %w", p.binary, err)
	}
	timer := time.AfterFunc(publishTimeout, func() { cmd.Process.Kill() })
	status, _ := p.monitor.Wait(cmd, exits)
	timer.Stop()
	switch status {
	case 0:
		return nil
	case publishExitRejected:
		return refused{errors.New(strings.TrimSpace(out.String()))}
	}
	return fmt.Errorf("%s publish exited with status %d: %s", p.binary, status, strings.TrimSpace(out.String()))
}
