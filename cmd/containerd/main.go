// Command containerd is the coordinator daemon: it keeps container records,
// starts one shim per task and serves containerd's client API.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/seedrt/seed/coordinator/daemon"
	"github.com/seedrt/seed/coordinator/version"
)

func main() {
	var (
		configPath  = flag.String("config", "", "path to the TOML configuration file")
		address     = flag.String("address", "", "gRPC socket path (default "+daemon.DefaultAddress+")")
		root        = flag.String("root", "", "persistent state directory (default "+daemon.DefaultRoot+")")
		state       = flag.String("state", "", "runtime state directory (default "+daemon.DefaultState+")")
		logLevel    = flag.String("log-level", "", "log level: debug, info, warn, error")
		showVer     = flag.Bool("version", false, "print the version and exit")
		concurrency = flag.Int("concurrency", -1, "task creates/starts/deletes at once, 0 for no bound (default: config, else 0)")
		stateTmpfs  = flag.String("state-tmpfs", "", "true or false: mount a tmpfs on an empty state directory not on one (default: config, else true)")
		spareShim   = flag.String("spare-shim", "", "true or false: keep a shim started ahead of the next task (default: config, else true)")
	)
	flag.StringVar(configPath, "c", "", "shorthand for --config")
	flag.StringVar(logLevel, "l", "", "shorthand for --log-level")
	flag.Parse()
	// `containerd --address A publish --topic T --namespace NS`: how v1 shims
	// publish events (flag.Parse stops at the subcommand).
	if flag.Arg(0) == "publish" {
		os.Exit(runPublish(*address, flag.Args()[1:], os.Stdin, os.Stderr))
	}
	if *showVer {
		fmt.Printf("containerd %s %s\n", version.Version, version.Revision)
		return
	}
	cfg, err := daemon.LoadConfig(*configPath)
	if err != nil {
		fail(err)
	}
	for flagValue, field := range map[*string]*string{address: &cfg.GRPC.Address, root: &cfg.Root, state: &cfg.State, logLevel: &cfg.Debug.Level} {
		if *flagValue != "" {
			*field = *flagValue
		}
	}
	if *concurrency >= 0 {
		cfg.Concurrency = *concurrency
	}
	for name, b := range map[string]struct {
		flag  *string
		field **bool
	}{"state-tmpfs": {stateTmpfs, &cfg.StateTmpfs}, "spare-shim": {spareShim, &cfg.SpareShim}} {
		if *b.flag == "" {
			continue
		}
		v, err := strconv.ParseBool(*b.flag)
		if err != nil {
			fail(fmt.Errorf("--%s: %w", name, err))
		}
		*b.field = &v
	}
	d, err := daemon.New(cfg)
	if err != nil {
		fail(err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT)
	go func() {
		<-sigs
		d.Stop()
	}()
	err = d.Serve()
	// Serve returns as soon as a signal's Stop has stopped the gRPC server;
	// Stop (once) returns only when that Stop is done: deleted tasks torn
	// down, shim connections closed.
	d.Stop()
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "containerd: %v\n", err)
	os.Exit(1)
}
