package ctr

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/tap"

	"github.com/seedrt/seed/tests/testutil"
)

// recorder is a gRPC proxy in front of the daemon that records the methods
// called through it, in the order their requests arrive (a tap runs on the
// connection's reader, before any handler).
type recorder struct {
	address string
	mu      sync.Mutex
	calls   []string
	noNS    []string // methods called without the namespace header
}

// recordCtr runs ctr through the recorder and returns the methods it called
// (abbreviated: "C/Create" for /containerd.services.containers.v1.Containers/Create),
// except Tasks.CloseIO: ctr sends it when its stdin (empty here) ends, at no
// fixed point after Tasks.Create.
func (e *env) recordCtr(args ...string) (calls []string, stdout string) {
	e.t.Helper()
	return e.recordCtrIn("", args...)
}

// recordCtrIn is recordCtr with stdin as ctr's input.
func (e *env) recordCtrIn(stdin string, args ...string) (calls []string, stdout string) {
	e.t.Helper()
	if e.rec == nil {
		e.rec = startRecorder(e.t, e.address)
	}
	e.rec.reset()
	stdout, stderr, code := e.ctrAt(e.rec.address, stdin, args...)
	if code != 0 {
		e.t.Fatalf("ctr %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
	}
	calls, noNS := e.rec.take()
	if len(noNS) > 0 {
		e.t.Errorf("ctr %s: calls without the namespace header: %v", strings.Join(args, " "), noNS)
	}
	return calls, stdout
}

func startRecorder(t *testing.T, upstream string) *recorder {
	t.Helper()
	r := &recorder{address: filepath.Join(testutil.ShortTempDir(t), "proxy.sock")}
	conn, err := grpc.Dial("unix://"+upstream, grpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", r.address)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.CustomCodec(rawCodec{}),
		grpc.InTapHandle(func(ctx context.Context, info *tap.Info) (context.Context, error) {
			if m := abbreviate(info.FullMethodName); m != "T/CloseIO" {
				r.mu.Lock()
				r.calls = append(r.calls, m)
				r.mu.Unlock()
			}
			return ctx, nil
		}),
		grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error { return r.forward(conn, ss) }),
	)
	go srv.Serve(l)
	t.Cleanup(func() {
		srv.Stop()
		conn.Close()
	})
	return r
}

// forward relays one call to the daemon, message by message.
func (r *recorder) forward(conn *grpc.ClientConn, ss grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(ss)
	md, _ := metadata.FromIncomingContext(ss.Context())
	out := metadata.MD{}
	for _, k := range []string{"containerd-namespace", "containerd-lease"} {
		if v := md.Get(k); len(v) > 0 {
			out.Set(k, v...)
		}
	}
	if len(md.Get("containerd-namespace")) == 0 {
		r.mu.Lock()
		r.noNS = append(r.noNS, method)
		r.mu.Unlock()
	}
	ctx, cancel := context.WithCancel(metadata.NewOutgoingContext(ss.Context(), out))
	defer cancel()
	cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return err
	}
	go func() {
		for {
			var m []byte
			if err := ss.RecvMsg(&m); err != nil {
				cs.CloseSend()
				return
			}
			if err := cs.SendMsg(&m); err != nil {
				return
			}
		}
	}()
	for {
		var m []byte
		if err := cs.RecvMsg(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err // the daemon's status, passed on
		}
		if err := ss.SendMsg(&m); err != nil {
			return err
		}
	}
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls, r.noNS = nil, nil
}

func (r *recorder) take() (calls, noNS []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls, r.noNS
}

// abbreviate shortens a full method name to SERVICE-INITIAL/Method:
// C(ontainers), T(asks), E(vents), N(amespaces), V(ersion).
func abbreviate(full string) string {
	svc, method, _ := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	name := svc[strings.LastIndexByte(svc, '.')+1:]
	return name[:1] + "/" + method
}

// rawCodec passes messages through undecoded.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }

func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}

func (rawCodec) Name() string   { return "proto" }
func (rawCodec) String() string { return "proto" }
