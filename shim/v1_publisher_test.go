package shim

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/reaper"
	"github.com/seedrt/seed/shimapi/events"
)

var testReaper struct {
	once sync.Once
	r    *reaper.Reaper
}

// monitor returns a reaper for the test process (one: it waits for all
// children).
func monitor() *reaper.Monitor {
	testReaper.once.Do(func() {
		testReaper.r = reaper.New()
	})
	return testReaper.r.Monitor()
}

// fakeDaemon is a `containerd publish` stand-in: a script that fails with
// 1 while DIR/down exists, with 2 while DIR/reject exists, and otherwise
// appends its arguments to DIR/calls and stores stdin as DIR/ev.N.
func fakeDaemon(t *testing.T) (dir, binary string) {
	dir = t.TempDir()
	binary = filepath.Join(dir, "containerd")
	script := fmt.Sprintf(`#!/bin/sh
d=%q
if [ -e "$d/down" ]; then echo "daemon not running" >&2; exit 1; fi
if [ -e "$d/reject" ]; then echo "invalid event" >&2; exit 2; fi
n=$(ls "$d" | grep -c '^ev\.')
echo "$*" >> "$d/calls"
cat > "$d/ev.$n"
`, dir)
	if err := os.WriteFile(binary, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, binary
}

// delivered decodes the events the fake daemon got, in order.
func delivered(t *testing.T, dir string) (calls []string, exits []*events.TaskExit) {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(dir, "calls"))
	calls = strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(b) == 0 {
		calls = nil
	}
	for i := range calls {
		raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("ev.%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		var a types.Any
		if err := proto.Unmarshal(raw, &a); err != nil {
			t.Fatalf("event %d: not an Any: %v", i, err)
		}
		if a.TypeUrl != "containerd.events.TaskExit" {
			t.Fatalf("event %d: type %q", i, a.TypeUrl)
		}
		var e events.TaskExit
		if err := proto.Unmarshal(a.Value, &e); err != nil {
			t.Fatal(err)
		}
		exits = append(exits, &e)
	}
	return calls, exits
}

func TestExecPublisherDeliversInOrder(t *testing.T) {
	dir, bin := fakeDaemon(t)
	p := NewExecPublisher(bin, "unix:///run/x/d.sock", "ns1", monitor())
	defer p.Close()
	var seqs []uint64
	for i := 1; i <= 5; i++ {
		err := p.Publish(topicExit, &events.TaskExit{ContainerID: "c", Pid: uint32(i)}, func(seq uint64) error {
			seqs = append(seqs, seq)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !p.Flush(10 * time.Second) {
		t.Fatal("not delivered")
	}
	calls, exits := delivered(t, dir)
	if len(exits) != 5 {
		t.Fatalf("delivered %d events, want 5", len(exits))
	}
	for i, e := range exits {
		if e.Pid != uint32(i+1) || seqs[i] != uint64(i+1) {
			t.Fatalf("event %d: pid %d seq %d", i, e.Pid, seqs[i])
		}
	}
	if want := "--address /run/x/d.sock publish --topic /tasks/exit --namespace ns1"; calls[0] != want {
		t.Fatalf("command line %q, want %q", calls[0], want)
	}
}

func TestExecPublisherRetriesWhileDaemonDown(t *testing.T) {
	dir, bin := fakeDaemon(t)
	down := filepath.Join(dir, "down")
	os.WriteFile(down, nil, 0o600)
	p := NewExecPublisher(bin, "/d.sock", "ns1", monitor())
	defer p.Close()
	start := time.Now()
	for i := 1; i <= 3; i++ {
		p.Publish(topicExit, &events.TaskExit{ContainerID: "c", Pid: uint32(i)}, nil)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Publish blocked for %v while the daemon is down", d)
	}
	if p.Flush(300 * time.Millisecond) {
		t.Fatal("flushed while the daemon is down")
	}
	os.Remove(down)
	if !p.Flush(10 * time.Second) {
		t.Fatal("not delivered once the daemon is back")
	}
	_, exits := delivered(t, dir)
	if len(exits) != 3 || exits[0].Pid != 1 || exits[1].Pid != 2 || exits[2].Pid != 3 {
		t.Fatalf("delivered %v", exits)
	}
}

func TestExecPublisherDropsRejectedEvent(t *testing.T) {
	dir, bin := fakeDaemon(t)
	reject := filepath.Join(dir, "reject")
	os.WriteFile(reject, nil, 0o600)
	p := NewExecPublisher(bin, "/d.sock", "ns1", monitor())
	defer p.Close()
	p.Publish(topicExit, &events.TaskExit{Pid: 1}, nil)
	if !p.Flush(10 * time.Second) {
		t.Fatal("rejected event still queued")
	}
	os.Remove(reject)
	p.Publish(topicExit, &events.TaskExit{Pid: 2}, nil)
	if !p.Flush(10 * time.Second) {
		t.Fatal("not delivered")
	}
	if _, exits := delivered(t, dir); len(exits) != 1 || exits[0].Pid != 2 {
		t.Fatalf("delivered %v, want only pid 2", exits)
	}
}

func TestExecPublisherWithoutDaemon(t *testing.T) {
	p := NewExecPublisher("", "", "ns1", monitor())
	called := false
	if err := p.Publish(topicExit, &events.TaskExit{}, func(uint64) error { called = true; return nil }); err != nil || !called {
		t.Fatalf("publish: %v, before called %v", err, called)
	}
	if !p.Flush(0) {
		t.Fatal("events queued with nowhere to go")
	}
}

func TestTopicFilter(t *testing.T) {
	dir, bin := fakeDaemon(t)
	p := NewExecPublisher(bin, "/d.sock", "ns1", monitor())
	defer p.Close()
	f := topicFilter{pub: p, topics: v1Topics}
	f.Publish(topicCreate, &events.TaskCreate{ContainerID: "c"}, nil)
	f.Publish(topicStart, &events.TaskStart{ContainerID: "c"}, nil)
	f.Publish(topicExit, &events.TaskExit{ContainerID: "c", Pid: 7}, nil)
	f.Publish(topicDelete, &events.TaskDelete{ContainerID: "c"}, nil)
	if !p.Flush(10 * time.Second) {
		t.Fatal("not delivered")
	}
	if _, exits := delivered(t, dir); len(exits) != 1 || exits[0].Pid != 7 {
		t.Fatalf("delivered %v, want only the exit", exits)
	}
}
