package shim

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/reaper"
)

// Exit codes of `DAEMON publish` that ExecPublisher tells apart (see
// PROTOCOL.md). Any other failure, containerd's own publish included (it
// exits 1 for everything), is taken as "daemon unreachable" and retried.
const (
	publishExitRejected = 2 // the daemon (or the command line) refused the event: retrying cannot help
)

const (
	// publishTimeout bounds one publish command; it is killed after that
	// and the event retried.
	publishTimeout = 10 * time.Second
	minRetryDelay  = 50 * time.Millisecond
)

// ExecPublisher delivers events the way a v1 shim does: for each event it
// runs `BINARY --address ADDRESS publish --topic TOPIC --namespace NS` with
// the event, a protobuf-encoded Any, on stdin. It keeps Publisher's
// contract: events are delivered one at a time in order, Publish never
// blocks on delivery, and an event is retried (50 ms doubling to 2 s) until
// the command succeeds or says the daemon rejected it.
type ExecPublisher struct {
	binary    string
	address   string
	namespace string
	monitor   *reaper.Monitor

	mu     sync.Mutex
	cond   *sync.Cond
	queue  []execEvent
	seq    uint64
	closed bool
}

type execEvent struct {
	seq   uint64
	topic string
	data  []byte // the marshalled Any
}

// NewExecPublisher starts a publisher. Its commands are started and reaped
// through m, as every child of the shim must be. An empty binary or address
// drops events (nobody asked for them).
func NewExecPublisher(binary, address, namespace string, m *reaper.Monitor) *ExecPublisher {
	p := &ExecPublisher{binary: binary, address: strings.TrimPrefix(address, "unix://"), namespace: namespace, monitor: m}
	p.cond = sync.NewCond(&p.mu)
	if p.binary != "" && p.address != "" {
		go p.run()
	}
	return p
}

// Publish queues an event; before is as for Publisher.Publish.
func (p *ExecPublisher) Publish(topic string, event proto.Message, before func(seq uint64) error) error {
	value, err := proto.Marshal(event)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", topic, err)
	}
	data, err := proto.Marshal(&types.Any{TypeUrl: proto.MessageName(event), Value: value})
	if err != nil {
		return fmt.Errorf("encode %s event: %w", topic, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	seq := p.seq
	if before != nil {
		if err := before(seq); err != nil {
			return err
		}
	}
	if p.binary == "" || p.address == "" || p.closed {
		return nil
	}
	p.queue = append(p.queue, execEvent{seq: seq, topic: topic, data: data})
	p.cond.Broadcast()
	return nil
}

// Flush waits until every queued event was delivered, or timeout.
func (p *ExecPublisher) Flush(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		p.mu.Lock()
		n := len(p.queue)
		p.mu.Unlock()
		if n == 0 {
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Close stops delivery; queued events are dropped.
func (p *ExecPublisher) Close() {
	p.mu.Lock()
	p.closed = true
	p.queue = nil
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *ExecPublisher) run() {
	delay := minRetryDelay
	attempts := 0
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && !p.closed {
			p.cond.Wait()
		}
		if p.closed {
			p.mu.Unlock()
			return
		}
		ev := p.queue[0]
		p.mu.Unlock()

		if err := p.deliver(ev); err != nil {
			if attempts%30 == 0 { // while the daemon is down: every minute or so
				logf("publish %s (event %d): %v; retrying", ev.topic, ev.seq, err)
			}
			attempts++
			time.Sleep(delay)
			delay = min(delay*2, maxRetryDelay)
			continue
		}
		delay, attempts = minRetryDelay, 0
		p.mu.Lock()
		if len(p.queue) > 0 && p.queue[0].seq == ev.seq {
			p.queue = p.queue[1:]
		}
		p.mu.Unlock()
	}
}

// deliver runs the publish command once. A nil error means the event is
// done with: delivered, or rejected for good (logged).
func (p *ExecPublisher) deliver(ev execEvent) error {
	cmd := exec.Command(p.binary, "--address", p.address, "publish", "--topic", ev.topic, "--namespace", p.namespace)
	cmd.Stdin = bytes.NewReader(ev.data)
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
		logf("daemon rejected %s event %d: %s", ev.topic, ev.seq, strings.TrimSpace(out.String()))
		return nil
	}
	return fmt.Errorf("%s publish exited with status %d: %s", p.binary, status, strings.TrimSpace(out.String()))
}
