package shim

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/proto"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/sealedexe"
	"github.com/seedrt/seed/shimapi/task"
	"github.com/seedrt/seed/spawn"
)

// Flags are the command line containerd gives a v2 shim (and a v1 shim: the
// v1-only ones are parsed so either launcher can run this binary).
type Flags struct {
	Namespace     string
	ID            string
	Address       string // the daemon's gRPC address
	PublishBinary string
	Bundle        string
	Debug         bool
	Socket        string // serve on this path instead of the inherited fd 3
	SocketDir     string // Launch only: put the socket here (default: beside the daemon's, see SocketPath)
	Action        string // start, delete, or empty to serve
	Spare         bool   // start as a spare shim (see LaunchSpare) and serve the task it is given

	movedSocket string // an adopted spare's socket, which the daemon moved from where we bound it

	// v1 launch (io.containerd.runtime.v1.linux); see V1.
	WorkDir          string
	ContainerdBinary string // runs `BINARY --address ADDRESS publish` per event
	RuntimeRoot      string // runc's root is RuntimeRoot/NS
	Criu             string
	SystemdCgroup    bool
}

// V1 reports whether the daemon launched us as a v1 shim: it passes
// -workdir and -containerd-binary (and no -id), and no action.
func (f Flags) V1() bool {
	return f.Action == "" && (f.WorkDir != "" || f.ContainerdBinary != "")
}

// ParseFlags reads the shim's command line.
func ParseFlags(args []string) (Flags, error) {
	var f Flags
	fs := flag.NewFlagSet("containerd-shim", flag.ContinueOnError)
	fs.StringVar(&f.Namespace, "namespace", "", "namespace of the task")
	fs.StringVar(&f.ID, "id", "", "id of the task")
	fs.StringVar(&f.Address, "address", "", "gRPC address of the daemon")
	fs.StringVar(&f.PublishBinary, "publish-binary", "", "daemon binary (v2 launch protocol)")
	fs.StringVar(&f.Bundle, "bundle", "", "bundle directory (default: the working directory)")
	fs.BoolVar(&f.Debug, "debug", false, "log debug output")
	fs.BoolVar(&f.Spare, "spare", false, "start as a spare shim: wait on fd 4 for the task to serve")
	fs.String("argv-room", "", "spare: room (spaces) for the command line of the task it gets")
	fs.StringVar(&f.Socket, "socket", "", "serve on this unix socket path")
	fs.StringVar(&f.WorkDir, "workdir", "", "v1: the shim's work directory")
	fs.StringVar(&f.ContainerdBinary, "containerd-binary", "", "v1: daemon binary that publishes events")
	fs.StringVar(&f.RuntimeRoot, "runtime-root", "", "v1: root of runc's state (default "+defaultRuncRoot+")")
	fs.StringVar(&f.Criu, "criu", "", "v1: path to criu")
	fs.StringVar(&f.Criu, "criu-path", "", "v1: same as -criu (containerd 1.6 passes this name)")
	fs.BoolVar(&f.SystemdCgroup, "systemd-cgroup", false, "v1: let runc use systemd cgroups")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	f.Action = fs.Arg(0)
	if f.Spare {
		if f.Action != "" {
			return f, errors.New("-spare takes no action")
		}
		return f, nil // the task's flags come with the adoption
	}
	if f.Bundle == "" {
		wd, err := os.Getwd()
		if err != nil {
			return f, err
		}
		f.Bundle = wd
	}
	if f.Namespace == "" {
		f.Namespace = os.Getenv("NAMESPACE")
	}
	if f.V1() && f.ID == "" {
		f.ID = filepath.Base(f.Bundle) // v1: one task per shim, named by Create
	}
	if f.Namespace == "" || f.ID == "" {
		return f, errors.New("-namespace and -id are required")
	}
	return f, nil
}

// Main runs the shim's command line and exits.
func Main() {
	// Go's strings for our arguments point at the process's argument
	// area, which an adopted spare overwrites (setCmdline).
	for i, a := range os.Args {
		os.Args[i] = strings.Clone(a)
	}
	restoreChildEnv()
	f, err := ParseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "containerd-shim: %v\n", err)
		os.Exit(2)
	}
	switch f.Action {
	case "start":
		err = start(f)
	case "delete":
		err = deleteDead(f)
	case "":
		if f.V1() {
			err = serveV1(f)
		} else if err = serve(f); errors.Is(err, errNotAdopted) {
			err = nil
		}
	default:
		err = fmt.Errorf("unknown action %q", f.Action)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "containerd-shim %s %s: %v\n", f.Action, f.ID, err)
		os.Exit(1)
	}
}

// start launches the long-lived shim for a task and prints its address,
// as containerd's v2 launch protocol wants.
func start(f Flags) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	address, p, err := Launch(self, f, os.Environ(), nil)
	if err != nil {
		return err
	}
	if p != nil {
		p.Release()
	}
	fmt.Print(address)
	return nil
}

// Launch starts the long-lived shim for a task from binary, in its own
// session, serving on the socket SocketPath derives for the task. The
// socket is created here and handed over as fd 3, so the caller can dial as
// soon as Launch returns. The address and a shimRecord go into the bundle.
// If a shim already serves the task, its address comes back with no process.
// The caller must Wait for (or Release) the process. A sealed copy of runc,
// if given, is handed over as fd 4.
func Launch(binary string, f Flags, env []string, runc *sealedexe.Copy) (address string, _ *os.Process, err error) {
	path := SocketPathIn(f.SocketDir, f.Address, f.Namespace, f.ID)
	address = "unix://" + path
	l, err := listenSocket(path)
	if errors.Is(err, errShimRunning) {
		return address, nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	defer l.Close()
	sock, err := l.File()
	if err != nil {
		return "", nil, fmt.Errorf("socket file: %w", err)
	}
	defer sock.Close()

	attr := spawn.Attr{Dir: f.Bundle, Env: shimEnv(env), Files: []*os.File{sock}, Setsid: true}
	if runc != nil {
		attr.Files = append(attr.Files, runc.File)
		attr.Env = append(attr.Env, runc.Env(4))
	}
	p, err := spawn.Start(binary, append([]string{binary}, taskArgs(f)...), attr)
	if err != nil {
		os.Remove(path)
		return "", nil, fmt.Errorf("start shim: %w", err)
	}
	if err := writeShimRecord(f.Bundle, binary, address, p.Pid); err != nil {
		p.Kill()
		return "", nil, err
	}
	return address, p, nil
}

// taskArgs is the command line of a shim launched for f's task.
func taskArgs(f Flags) []string {
	args := []string{"-namespace", f.Namespace, "-id", f.ID, "-address", f.Address, "-bundle", f.Bundle}
	if f.Debug {
		args = append(args, "-debug")
	}
	return args
}

// writeShimRecord puts a v2 shim's address and shimRecord in its bundle.
func writeShimRecord(bundle, binary, address string, pid int) error {
	if err := writeFileAtomic(filepath.Join(bundle, addressFile), []byte(address), 0o600); err != nil {
		return err
	}
	rec := shimRecord{Version: recordVersion, Binary: binary, Protocol: "v2", Address: address, Pid: pid}
	return writeJSON(filepath.Join(bundle, recordFile), rec)
}

// shimEnv keeps the long-lived shim small: one P is plenty for one
// container, and a lower GC target keeps its heap near the live set.
//
// Those settings are the shim's own. The Go runtime reads them from the
// environment, which every runc the shim starts inherits, and runc (a Go
// program too) is 3-6 ms slower per container with one P here. So the
// launcher's own values (or their absence) travel in childEnvVar, and the
// shim puts them back for its children once it has started
// (restoreChildEnv).
func shimEnv(env []string) []string {
	out := make([]string, 0, len(env)+3)
	var own []string
	for _, kv := range env {
		switch {
		case strings.HasPrefix(kv, childEnvVar+"="):
		case strings.HasPrefix(kv, "GOMAXPROCS="), strings.HasPrefix(kv, "GOGC="):
			own = append(own, kv)
		default:
			out = append(out, kv)
		}
	}
	return append(out, "GOMAXPROCS=1", "GOGC=50", childEnvVar+"="+strings.Join(own, ","))
}

// childEnvVar holds the GOMAXPROCS and GOGC entries the shim's launcher had
// ("K=V,K=V", possibly empty), for the shim's children.
const childEnvVar = "SEED_SHIM_CHILD_ENV"

// restoreChildEnv gives the processes the shim starts the Go runtime
// settings of the shim's launcher rather than the shim's own (shimEnv).
// This process's runtime has read its settings by now.
func restoreChildEnv() {
	v, ok := os.LookupEnv(childEnvVar)
	if !ok {
		return // not launched through shimEnv
	}
	os.Unsetenv(childEnvVar)
	os.Unsetenv("GOMAXPROCS")
	os.Unsetenv("GOGC")
	for _, kv := range strings.Split(v, ",") {
		if k, val, ok := strings.Cut(kv, "="); ok && (k == "GOMAXPROCS" || k == "GOGC") {
			os.Setenv(k, val)
		}
	}
}

// serve is the long-lived shim. A spare (f.Spare) gets everything that
// does not depend on the task ready, serving included, then waits to be
// adopted; requests wait for that too.
func serve(f Flags) error {
	if !f.Spare {
		redirectStderr(f.Bundle)
	}
	r, err := InstallReaper()
	if err != nil {
		return err
	}
	l, err := shimListener(f.Socket)
	if err != nil {
		return err
	}
	eventsAddress := os.Getenv("TTRPC_ADDRESS")
	if eventsAddress == "" && f.Address != "" {
		eventsAddress = f.Address + ".ttrpc"
	}
	pub := NewPublisher(eventsAddress, f.Namespace)
	var svc *Service
	adopted := make(chan struct{})
	server, err := ttrpc.NewServer(ttrpc.WithUnaryServerInterceptor(func(ctx context.Context, u ttrpc.Unmarshaler, info *ttrpc.UnaryServerInfo, m ttrpc.Method) (interface{}, error) {
		select {
		case <-adopted:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		svc.checkRunc()
		defer svc.trim.after(info.FullMethod)
		return translateErrors(ctx, u, info, m)
	}))
	if err != nil {
		return err
	}
	done := make(chan struct{})
	svc = NewService(shimConfig(f), r, pub, func() {
		pub.Flush(5 * time.Second)
		close(done)
	})
	task.RegisterTaskService(server, svc)

	// The daemon's terminal or session going away must not end us.
	signal.Ignore(unix.SIGHUP, unix.SIGINT, unix.SIGPIPE)
	go server.Serve(context.Background(), l)
	if f.Spare {
		if f, err = awaitAdoption(f); err != nil {
			// The name is this spare's alone; remove it while still
			// listening, so no one sees it free before it is gone.
			if addr, ok := l.Addr().(*net.UnixAddr); ok {
				os.Remove(addr.Name)
			}
			server.Close()
			return err
		}
		// Set before any request runs (they wait for adopted).
		svc.cfg.Namespace, svc.cfg.Bundle = f.Namespace, f.Bundle
		pub.namespace = f.Namespace
		redirectStderr(f.Bundle)
		if err := setCmdline(append([]string{os.Args[0]}, taskArgs(f)...)); err != nil {
			logf("ps will show this shim as a spare: %v", err)
		}
	}
	close(adopted)
	svc.trim.touch()
	<-done
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	server.Shutdown(ctx)
	cancel()
	if f.movedSocket != "" {
		os.Remove(f.movedSocket)
	} else if addr, ok := l.Addr().(*net.UnixAddr); ok {
		os.Remove(addr.Name)
	}
	return nil
}

func shimListener(path string) (net.Listener, error) {
	if path != "" {
		l, err := listenSocket(path)
		if err != nil {
			return nil, err
		}
		l.SetUnlinkOnClose(true)
		return l, nil
	}
	f := os.NewFile(3, "socket")
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("inherited socket (fd 3): %w", err)
	}
	return l, nil
}

// translateErrors turns our wrapped errors into status codes once, at the
// API boundary.
// A request that panics fails alone: the shim, and its container, go on.
func translateErrors(ctx context.Context, u ttrpc.Unmarshaler, info *ttrpc.UnaryServerInfo, m ttrpc.Method) (resp interface{}, err error) {
	defer func() {
		if p := recover(); p != nil {
			logf("panic serving %s: %v\n%s", info.FullMethod, p, debug.Stack())
			err = status.Errorf(codes.Internal, "%s: internal error", info.FullMethod)
		}
	}()
	resp, err = m(ctx, u)
	return resp, errdefs.ToGRPC(err)
}

// drainEnv sets how long an exited process's output is still copied while
// a background child holds it open (a Go duration; default DefaultDrain).
const drainEnv = "SEED_SHIM_IO_DRAIN"

// shimConfig is the task service's configuration for a launch.
func shimConfig(f Flags) Config {
	cfg := Config{Namespace: f.Namespace, Bundle: f.Bundle, Runc: sealedexe.TakeInherited()}
	if d, err := time.ParseDuration(os.Getenv(drainEnv)); err == nil && d > 0 {
		cfg.Drain = d
	}
	return cfg
}

// redirectStderr sends the shim's log (and any panic) to the bundle's "log"
// FIFO when the daemon reads one, as containerd does, else to shim.log.
func redirectStderr(bundle string) {
	var f *os.File
	logPath := filepath.Join(bundle, "log")
	if fi, err := os.Stat(logPath); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
		f, _ = os.OpenFile(logPath, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	}
	if f == nil {
		var err error
		if f, err = os.OpenFile(filepath.Join(bundle, "shim.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
			return
		}
	}
	unix.Dup3(int(f.Fd()), 2, 0)
	f.Close()
}

// deleteDead cleans up after a shim that is gone: force-deletes the runc
// container, unmounts the rootfs, and prints the task's exit as a
// DeleteResponse (the recorded one, else SIGKILL now, as containerd does).
func deleteDead(f Flags) error {
	ctx := context.Background()
	opts, err := loadOptions(f.Bundle)
	switch {
	case err == nil:
		c := &container{id: f.ID, bundle: f.Bundle, opts: opts, runc: newRunc(f.Bundle, opts, opts.Binary), mounted: true}
		if err := c.cleanup(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "delete %s: %v\n", f.ID, err)
		}
	case errors.Is(err, os.ErrNotExist):
		// Create never got as far as runc: only a mount may be left.
		unmountAll(filepath.Join(f.Bundle, rootfsDir))
	default:
		fmt.Fprintf(os.Stderr, "delete %s: %v\n", f.ID, err)
	}
	resp := &task.DeleteResponse{ExitStatus: 128 + uint32(unix.SIGKILL), ExitedAt: time.Now().UTC()}
	if pid, err := readPidFile(filepath.Join(f.Bundle, initPidFile)); err == nil {
		resp.Pid = uint32(pid)
	}
	if rec, ok, err := loadExit(f.Bundle, ""); err != nil {
		fmt.Fprintf(os.Stderr, "read exit record: %v\n", err)
	} else if ok {
		resp.Pid, resp.ExitStatus, resp.ExitedAt = uint32(rec.Pid), uint32(rec.Status), rec.ExitedAt
	}
	if b, err := os.ReadFile(filepath.Join(f.Bundle, addressFile)); err == nil {
		os.Remove(strings.TrimPrefix(string(b), "unix://"))
	}
	out, err := proto.Marshal(resp)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}
