package daemon

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"

	"github.com/seedrt/seed/coordinator/events"
	"github.com/seedrt/seed/coordinator/metadata"
	"github.com/seedrt/seed/coordinator/runtime"
	"github.com/seedrt/seed/coordinator/services/containers"
	eventsvc "github.com/seedrt/seed/coordinator/services/events"
	"github.com/seedrt/seed/coordinator/services/introspection"
	"github.com/seedrt/seed/coordinator/services/leases"
	"github.com/seedrt/seed/coordinator/services/namespaces"
	"github.com/seedrt/seed/coordinator/services/tasks"
	"github.com/seedrt/seed/coordinator/services/version"
)

// backlogGrace is how long after recovery a new subscriber still gets the
// events since the daemon started.
const backlogGrace = 10 * time.Second

// Daemon is a running coordinator.
type Daemon struct {
	cfg       *Config
	lock      *os.File
	db        *metadata.DB
	exchange  *events.Exchange
	runtime   *runtime.Manager
	grpc      *grpc.Server
	ttrpc     *ttrpc.Server
	grpcL     net.Listener
	ttrpcL    net.Listener
	stopOnce  sync.Once
	stopWatch context.CancelFunc
}

// New prepares a daemon: takes the state lock, opens the store, recovers
// the shims of a previous run and listens. Serve starts answering.
func New(cfg *Config) (_ *Daemon, retErr error) {
	if err := cfg.complete(); err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg}
	defer func() {
		if retErr != nil {
			d.close()
		}
	}()
	var err error
	if cfg.StateTmpfs == nil || *cfg.StateTmpfs {
		mounted, err := ensureTmpfs(cfg.State)
		if err != nil {
			return nil, err
		}
		if mounted {
			defer func() {
				if retErr != nil { // nothing of ours is in it yet
					unix.Unmount(cfg.State, unix.MNT_DETACH)
				}
			}()
		}
	}
	if d.lock, err = lockState(cfg.State); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Root, 0o711); err != nil {
		return nil, fmt.Errorf("create root dir: %w", err)
	}
	if d.db, err = metadata.Open(filepath.Join(cfg.Root, "meta.db")); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	d.exchange = events.NewExchange()
	d.runtime = runtime.NewManager(runtime.Config{
		State:         filepath.Join(cfg.State, "tasks"),
		SocketDir:     filepath.Join(cfg.State, "s"),
		Address:       cfg.GRPC.Address,
		TTRPCAddress:  cfg.TTRPC.Address,
		PublishBinary: self,
		ShimBinary:    cfg.Runtime.Shim,
		RuncRoot:      cfg.Runtime.RuncRoot,
		Root:          cfg.Root,
		Debug:         cfg.Debug.Level == "debug" || cfg.Debug.Level == "trace",
		SpareShim:     cfg.SpareShim == nil || *cfg.SpareShim,

		DefaultRuntime: cfg.Runtime.Default,
		Runtimes:       cfg.Runtime.Runtimes,
	}, d.exchange)

	// Listen on the events address before recovering (shims dial it as soon
	// as they are reconnected); serve it once recovery has registered tasks.
	if d.ttrpcL, err = listenUnix(cfg.TTRPC.Address); err != nil {
		return nil, err
	}
	if d.ttrpc, err = ttrpc.NewServer(ttrpc.WithUnaryServerInterceptor(recoverTTRPC)); err != nil {
		return nil, err
	}
	eventsvc.RegisterTTRPC(d.ttrpc, d.exchange, d.runtime.FilterForward)
	watchCtx, stopWatch := context.WithCancel(context.Background())
	d.stopWatch = stopWatch
	go d.runtime.WatchExits(watchCtx, d.exchange)

	if d.grpcL, err = listenUnix(cfg.GRPC.Address); err != nil {
		return nil, err
	}
	// Subscribers reconnecting after a restart must see the exits that
	// happened while the daemon was down: keep events for them until a
	// while after every shim has been found again.
	d.exchange.OpenBacklog()
	recoverStart := time.Now()
	recovered, err := d.runtime.Recover(d.db)
	if err != nil {
		return nil, err
	}
	registered := time.Since(recoverStart)
	// Shims forward events from here on: every task they may name is known
	// (registered by Recover) and the backlog is open.
	go d.ttrpc.Serve(context.Background(), d.ttrpcL)
	go func() {
		<-recovered
		d.runtime.FillSpare() // after recovery, which it would slow down
		fmt.Fprintf(os.Stderr, "recovery: tasks registered in %v, all shims found again in %v\n",
			registered.Round(time.Millisecond), time.Since(recoverStart).Round(time.Millisecond))
		time.AfterFunc(backlogGrace, d.exchange.CloseBacklog)
	}()
	d.grpc = grpc.NewServer(
		grpc.MaxRecvMsgSize(cfg.GRPC.MaxRecvMsgSize),
		grpc.MaxSendMsgSize(cfg.GRPC.MaxSendMsgSize),
		grpc.UnaryInterceptor(recoverUnary),
		grpc.StreamInterceptor(recoverStream),
	)
	if err := d.register(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Daemon) register() error {
	version.Register(d.grpc)
	tasks.Register(d.grpc, d.db, d.runtime, d.cfg.Concurrency)
	eventsvc.Register(d.grpc, d.exchange)
	for _, err := range []error{
		introspection.Register(d.grpc, introspection.Options{Root: d.cfg.Root}),
		namespaces.Register(d.grpc, namespaces.Options{DB: d.db, Events: d.exchange}),
		containers.Register(d.grpc, containers.Options{DB: d.db, Events: d.exchange,
			TaskExists: d.taskExists, ValidateRuntime: d.runtime.Validate}),
		leases.Register(d.grpc, leases.Options{DB: d.db}),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *Daemon) taskExists(_ context.Context, ns, id string) bool {
	return d.runtime.Exists(ns, id)
}

// Serve answers the client API until Stop.
func (d *Daemon) Serve() error {
	return d.grpc.Serve(d.grpcL)
}

// Stop shuts the daemon down and leaves every container running.
func (d *Daemon) Stop() {
	d.stopOnce.Do(func() {
		stopped := make(chan struct{})
		go func() { d.grpc.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			d.grpc.Stop() // a Wait or Subscribe would hold it forever
		}
		d.close()
	})
}

func (d *Daemon) close() {
	if d.stopWatch != nil {
		d.stopWatch()
	}
	if d.runtime != nil {
		d.runtime.Close()
	}
	if d.ttrpc != nil {
		d.ttrpc.Close()
	}
	if d.db != nil {
		d.db.Close()
	}
	if d.lock != nil {
		d.lock.Close()
	}
}
