package shim

import (
	"context"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/proto"
	"golang.org/x/sys/unix"

	"github.com/seedrt/seed/shimapi/shimv1"
)

// v1Topics are the events a v1 shim publishes. A v1 daemon publishes the
// others (/tasks/create, /tasks/start, /tasks/delete, /tasks/paused,
// /tasks/resumed, /tasks/exec-started) itself when the shim's call returns,
// as containerd 1.6's io.containerd.runtime.v1.linux does; a shim that sent
// them too would have each reach subscribers twice.
var v1Topics = map[string]bool{topicExit: true}

// topicFilter passes on only the events of some topics. The others are
// not published, but their before hook still runs.
type topicFilter struct {
	pub    EventPublisher
	topics map[string]bool
}

func (f topicFilter) Publish(topic string, event proto.Message, before func(seq uint64) error) error {
	if f.topics[topic] {
		return f.pub.Publish(topic, event, before)
	}
	if before != nil {
		return before(0)
	}
	return nil
}

// serveV1 is the long-lived shim as a v1 daemon starts it: the daemon made
// the socket (fd 3, or -socket), wrote the bundle's address and shim.pid,
// and reads our stdout and stderr; events go out through -containerd-binary.
// The daemon ends the shim with SIGKILL after Delete (or SIGTERM).
func serveV1(f Flags) error {
	r, err := InstallReaper()
	if err != nil {
		return err
	}
	l, err := shimListener(f.Socket)
	if err != nil {
		return err
	}
	events := NewExecPublisher(f.ContainerdBinary, f.Address, f.Namespace, r.Monitor())
	var svc *Service
	server, err := ttrpc.NewServer(ttrpc.WithUnaryServerInterceptor(func(ctx context.Context, u ttrpc.Unmarshaler, info *ttrpc.UnaryServerInfo, m ttrpc.Method) (interface{}, error) {
		svc.checkRunc()
		defer svc.trim.after(info.FullMethod)
		return translateErrors(ctx, u, info, m)
	}))
	if err != nil {
		return err
	}
	svc = NewService(shimConfig(f), r, topicFilter{pub: events, topics: v1Topics}, nil)
	shimv1.RegisterShimService(server, NewV1Service(svc, V1Config{
		RuntimeRoot:   f.RuntimeRoot,
		Criu:          f.Criu,
		SystemdCgroup: f.SystemdCgroup,
	}, events.Flush))

	// Tell a daemon of ours which protocol this bundle's shim speaks.
	rec := shimRecord{Version: recordVersion, Protocol: "v1", Pid: os.Getpid()}
	rec.Binary, _ = os.Executable()
	if addr, ok := l.Addr().(*net.UnixAddr); ok {
		rec.Address = "unix://" + addr.Name
	}
	if err := writeJSON(filepath.Join(f.Bundle, recordFile), rec); err != nil {
		logf("write %s: %v", recordFile, err)
	}

	signal.Ignore(unix.SIGHUP, unix.SIGINT, unix.SIGPIPE)
	term := make(chan os.Signal, 1)
	signal.Notify(term, unix.SIGTERM)
	go server.Serve(context.Background(), l)
	svc.trim.touch()
	<-term
	// Containers keep running; only the events still queued are waited for.
	events.Flush(v1DeleteFlush)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	server.Shutdown(ctx)
	cancel()
	return nil
}
