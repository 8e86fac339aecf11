// Command bench measures our containerd and containerd 1.6 through the same
// gRPC client API, with identical client behaviour: it starts a private
// daemon of each (temporary root, state and sockets; never the system
// ones), runs the chosen scenarios against it and tears everything down.
//
//	bench -target both -n 1000 -c 10 -json out.json
//
// Scenarios (-scenarios, in this order):
//
//	start    start N `sleep 300` containers, C at a time; then tear them down
//	runrm    `run --rm /bin/true` latency, sequential, R times
//	exec     exec /bin/true into a running container, R times
//	event    exited_at of /tasks/exit to a subscriber receiving it, R times
//	memory   daemon and per-shim RSS/PSS with M idle containers
//	restart  SIGKILL the daemon with K running containers, start it again,
//	         time until Tasks.List shows all K RUNNING
//
// Needs root, runc, a static busybox, and for -target containerd|both
// containerd 1.6 and containerd-shim-runc-v2 on PATH.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedrt/seed/oci"
)

var allScenarios = []string{"start", "runrm", "exec", "event", "memory", "restart"}

type options struct {
	targets         []string
	n, c, r, m, k   int
	rounds          int
	runcAlone       bool
	scenarios       map[string]bool
	binDir          string
	containerdBin   string
	busybox         string
	oursArgs        []string
	containerdArgs  []string
	jsonPath        string
	keep            bool
	containerdTmpfs bool
	rpcTimeout      time.Duration
	settle          time.Duration
}

// TargetResult is everything measured on one daemon.
type TargetResult struct {
	Target    string   `json:"target"`
	Binary    string   `json:"binary"`
	Args      []string `json:"args"`
	Version   string   `json:"version"`
	Revision  string   `json:"revision"`
	Namespace string   `json:"namespace"`
	// StateTmpfs: the daemon's state (and runc root) was on tmpfs.
	StateTmpfs bool           `json:"state_tmpfs"`
	Error      string         `json:"error,omitempty"` // why it stopped early
	Start      *StartResult   `json:"start,omitempty"`
	RunRm      *LatencyResult `json:"runrm,omitempty"`
	Exec       *LatencyResult `json:"exec,omitempty"`
	Event      *EventResult   `json:"event,omitempty"`
	Memory     *MemoryResult  `json:"memory,omitempty"`
	Restart    *RestartResult `json:"restart,omitempty"`
	// Problems found when the daemon was torn down (leftover processes,
	// mounts, cgroups, runc state; failed deletes).
	Teardown []string `json:"teardown_errors,omitempty"`
}

// Meta describes the run.
type Meta struct {
	Date        string   `json:"date"`
	Hostname    string   `json:"hostname"`
	Kernel      string   `json:"kernel"`
	CPUs        int      `json:"cpus"`
	CPUModel    string   `json:"cpu_model"`
	MemTotalKB  int      `json:"mem_total_kb"`
	Cgroup      string   `json:"cgroup"`
	GoVersion   string   `json:"go_version"`
	Runc        string   `json:"runc_version"`
	CommandLine []string `json:"command_line"`
	N           int      `json:"n"`
	C           int      `json:"c"`
	R           int      `json:"r"`
	M           int      `json:"m"`
	K           int      `json:"k"`
	Rounds      int      `json:"rounds"`
	Scenarios   []string `json:"scenarios"`
	OursArgs    []string `json:"ours_args"`
	RPCTimeout  string   `json:"rpc_timeout"`
	Settle      string   `json:"memory_settle"`
}

// Report is the JSON output.
type Report struct {
	Meta    Meta            `json:"meta"`
	Targets []*TargetResult `json:"targets"` // the first round
	// Rounds holds every round when there are several (-rounds).
	Rounds [][]*TargetResult `json:"rounds,omitempty"`
}

func main() {
	os.Exit(run())
}

func run() int {
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 2
	}
	if err := checkEnvironment(o); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 2
	}

	top, err := os.MkdirTemp("/tmp", "sb-") // short: unix socket paths are limited
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	failed := false
	defer removeCreatedEmpty(peerRunDirs)()
	defer func() {
		if failed && o.keep {
			fmt.Fprintf(os.Stderr, "bench: -keep: leaving %s\n", top)
			return
		}
		os.RemoveAll(top)
	}()
	rootfs = filepath.Join(top, "rootfs")
	applets, err := oci.BusyboxApplets(o.busybox)
	if err == nil {
		err = oci.BuildBusyboxRootfs(rootfs, o.busybox, applets)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: build rootfs: %v\n", err)
		failed = true
		return 1
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "\nbench: interrupted; cleaning up (again to force exit)")
		cancel()
		<-sigs
		fmt.Fprintf(os.Stderr, "bench: forced exit; killing the daemon; temp dir %s is left behind\n", top)
		killCurrent()
		os.Exit(130)
	}()

	rep := &Report{Meta: collectMeta(o)}
	runID := randHex(4)
	for round := 1; round <= o.rounds && ctx.Err() == nil; round++ {
		results := make([]*TargetResult, len(o.targets))
		for j := range o.targets {
			// Every other round the other target goes first, so neither
			// always meets the machine in the same state.
			i := j
			if round%2 == 0 {
				i = len(o.targets) - 1 - j
			}
			t := o.targets[i]
			if ctx.Err() != nil {
				break
			}
			name := t
			if o.rounds > 1 {
				name = fmt.Sprintf("%s-%d", t, round)
				progress("round %d of %d: %s", round, o.rounds, t)
			}
			res := runTarget(ctx, t, filepath.Join(top, name), "seedbench-"+runID+"-"+name, o)
			results[i] = res
			if res.Error != "" || len(res.Teardown) > 0 || scenarioFailed(res) {
				failed = true
			}
		}
		complete := results[0] != nil && results[len(results)-1] != nil
		if round == 1 {
			// Interrupted or not, what the first round measured is reported.
			for _, r := range results {
				if r != nil {
					rep.Targets = append(rep.Targets, r)
				}
			}
		}
		if !complete {
			break // interrupted: the rounds table takes complete rounds only
		}
		rep.Rounds = append(rep.Rounds, results)
	}
	if len(rep.Rounds) < 2 {
		rep.Rounds = nil
	}
	printReport(os.Stdout, rep, o)
	printRounds(os.Stdout, rep)
	if o.jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			err = os.WriteFile(o.jsonPath, append(b, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: write %s: %v\n", o.jsonPath, err)
			failed = true
		} else {
			fmt.Printf("\nJSON written to %s\n", o.jsonPath)
		}
	}
	if ctx.Err() != nil {
		failed = true
		return 130
	}
	if failed {
		fmt.Fprintln(os.Stderr, "bench: FAILED (see errors above)")
		return 1
	}
	return 0
}

var current struct {
	sync.Mutex
	d *daemon
}

// killCurrent kills the running daemon and its shims on a forced exit.
func killCurrent() {
	current.Lock()
	defer current.Unlock()
	if d := current.d; d != nil {
		if d.running() {
			d.cmd.Process.Kill()
		}
		for _, p := range append(d.shims(), d.spares()...) {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
}

// runTarget starts a private daemon of kind, runs the scenarios and tears
// it down.
func runTarget(ctx context.Context, kind, dir, ns string, o *options) (res *TargetResult) {
	res = &TargetResult{Target: kind, Namespace: ns}
	d, err := newDaemon(kind, dir, ns, o)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Binary, res.Args = d.binary, d.args
	res.StateTmpfs = d.stateTmpfs
	current.Lock()
	current.d = d
	current.Unlock()
	progress("%s: starting %s (dir %s, namespace %s)", kind, d.binary, dir, ns)
	defer func() {
		progress("%s: tearing down", kind)
		res.Teardown = d.teardown(o.c)
		for _, e := range res.Teardown {
			progress("%s: teardown: %s", kind, e)
		}
		current.Lock()
		current.d = nil
		current.Unlock()
	}()
	if err := d.startReady(ctx); err != nil {
		res.Error = err.Error()
		progress("%s: %v", kind, err)
		return res
	}
	res.Version, res.Revision = d.Version, d.Revision

	for _, s := range allScenarios {
		if !o.scenarios[s] {
			continue
		}
		if ctx.Err() != nil {
			res.Error = "interrupted"
			return res
		}
		if !d.running() {
			progress("%s: daemon is not running (%v); restarting it for %s; log:\n%s", kind, d.cmd.ProcessState, s, d.logTail(20))
			if err := d.startReady(ctx); err != nil {
				res.Error = fmt.Sprintf("daemon died and could not be restarted before %s: %v", s, err)
				return res
			}
		}
		began := time.Now()
		progress("%s: scenario %s", kind, s)
		var out *Outcome
		switch s {
		case "start":
			res.Start = runStart(ctx, d, o)
			out = &res.Start.Outcome
		case "runrm":
			res.RunRm = runRunRm(ctx, d, o)
			out = &res.RunRm.Outcome
		case "exec":
			res.Exec = runExec(ctx, d, o)
			out = &res.Exec.Outcome
		case "event":
			res.Event = runEvent(ctx, d, o)
			out = &res.Event.Outcome
		case "memory":
			res.Memory = runMemory(ctx, d, o)
			out = &res.Memory.Outcome
		case "restart":
			res.Restart = runRestart(ctx, d, o)
			out = &res.Restart.Outcome
		}
		progress("%s: scenario %s done in %v, %d errors", kind, s, time.Since(began).Round(time.Millisecond), out.Errors)
		for _, m := range out.ErrorMessages {
			progress("%s: %s: %s", kind, s, m)
		}
		for _, m := range out.Cleanup {
			progress("%s: %s: cleanup: %s", kind, s, m)
		}
		for _, m := range out.Notes {
			progress("%s: %s: note: %s", kind, s, m)
		}
		if !d.running() {
			progress("%s: daemon exited during %s (%v); log:\n%s", kind, s, d.cmd.ProcessState, d.logTail(20))
		}
	}
	return res
}

func scenarioFailed(r *TargetResult) bool {
	for _, o := range []*Outcome{outcomeOf(r.Start), outcomeOf(r.RunRm), outcomeOf(r.Exec),
		outcomeOf(r.Event), outcomeOf(r.Memory), outcomeOf(r.Restart)} {
		if o != nil && (o.Errors > 0 || len(o.Cleanup) > 0) {
			return true
		}
	}
	return false
}

func outcomeOf(v interface{}) *Outcome {
	switch r := v.(type) {
	case *StartResult:
		if r != nil {
			return &r.Outcome
		}
	case *LatencyResult:
		if r != nil {
			return &r.Outcome
		}
	case *EventResult:
		if r != nil {
			return &r.Outcome
		}
	case *MemoryResult:
		if r != nil {
			return &r.Outcome
		}
	case *RestartResult:
		if r != nil {
			return &r.Outcome
		}
	}
	return nil
}

func progress(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
}

func parseFlags() (*options, error) {
	o := &options{}
	target := flag.String("target", "both", "ours, containerd or both")
	scen := flag.String("scenarios", strings.Join(allScenarios, ","), "comma-separated scenarios: "+strings.Join(allScenarios, ","))
	flag.IntVar(&o.n, "n", 100, "start: number of containers")
	flag.IntVar(&o.c, "c", 10, "concurrency of starts and teardowns")
	flag.IntVar(&o.r, "r", 20, "runrm, exec, event: repetitions")
	flag.IntVar(&o.m, "m", 0, "memory: idle containers (default 10, or N if smaller)")
	flag.IntVar(&o.k, "k", 0, "restart: running containers (default min(N, 100))")
	flag.BoolVar(&o.runcAlone, "runc-alone", false, "start: also start the N containers with `runc run -d` alone (no daemon), for the ceiling")
	flag.IntVar(&o.rounds, "rounds", 1, "run everything this many times, alternating the targets; prints each round's key figures and their medians")
	flag.StringVar(&o.binDir, "bin", "./bin", "directory with our containerd and containerd-shim")
	flag.StringVar(&o.containerdBin, "containerd", "", "containerd 1.6 binary (default: containerd on PATH)")
	flag.StringVar(&o.busybox, "busybox", "", "static busybox for the rootfs (default: busybox on PATH)")
	oursArgs := flag.String("ours-args", "", "extra arguments for our daemon, e.g. \"--concurrency 4\"")
	ctrdArgs := flag.String("containerd-args", "", "extra arguments for containerd")
	flag.StringVar(&o.jsonPath, "json", "", "write all results as JSON to this file")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dirs (daemon logs, state) when something failed")
	flag.BoolVar(&o.containerdTmpfs, "containerd-tmpfs", false,
		"give containerd its state and runc root on tmpfs, as /run is on most systems (ours mounts one itself)")
	flag.DurationVar(&o.rpcTimeout, "rpc-timeout", 30*time.Second, "timeout of every RPC")
	flag.DurationVar(&o.settle, "settle", 2*time.Second, "memory: how long containers idle before measuring")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: bench [flags]\n\nStarts a private daemon per target and compares them through the gRPC client API.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	switch *target {
	case "ours":
		o.targets = []string{targetOurs}
	case "containerd":
		o.targets = []string{targetContainerd}
	case "both":
		o.targets = []string{targetOurs, targetContainerd}
	default:
		return nil, fmt.Errorf("-target must be ours, containerd or both, not %q", *target)
	}
	o.scenarios = map[string]bool{}
	for _, s := range strings.Split(*scen, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		known := false
		for _, a := range allScenarios {
			known = known || a == s
		}
		if !known {
			return nil, fmt.Errorf("unknown scenario %q (want some of %s)", s, strings.Join(allScenarios, ","))
		}
		o.scenarios[s] = true
	}
	if len(o.scenarios) == 0 {
		return nil, fmt.Errorf("no scenarios")
	}
	if o.n < 1 || o.c < 1 || o.r < 1 || o.rounds < 1 || o.m < 0 || o.k < 0 {
		return nil, fmt.Errorf("-n, -c, -r and -rounds must be positive, -m and -k not negative")
	}
	if o.m == 0 {
		o.m = min(10, o.n)
	}
	if o.k == 0 {
		o.k = min(o.n, 100)
	}
	if o.rpcTimeout <= 0 {
		return nil, fmt.Errorf("-rpc-timeout must be positive")
	}
	o.oursArgs = strings.Fields(*oursArgs)
	o.containerdArgs = strings.Fields(*ctrdArgs)
	return o, nil
}

// checkEnvironment resolves the binaries and refuses to run where it would
// fail half-way.
func checkEnvironment(o *options) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("must run as root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return fmt.Errorf("runc not found on PATH")
	}
	if o.busybox == "" {
		p, err := exec.LookPath("busybox")
		if err != nil {
			return fmt.Errorf("busybox not found on PATH (install busybox-static or pass -busybox)")
		}
		o.busybox = p
	}
	for _, t := range o.targets {
		switch t {
		case targetOurs:
			abs, err := filepath.Abs(o.binDir)
			if err != nil {
				return err
			}
			o.binDir = abs
			for _, b := range []string{"containerd", "containerd-shim"} {
				if fi, err := os.Stat(filepath.Join(abs, b)); err != nil || fi.IsDir() {
					return fmt.Errorf("-bin %s: no %s binary there (run make build)", abs, b)
				}
			}
		case targetContainerd:
			if o.containerdBin == "" {
				p, err := exec.LookPath("containerd")
				if err != nil {
					return fmt.Errorf("containerd not found on PATH (or pass -containerd)")
				}
				o.containerdBin = p
			}
			abs, err := filepath.Abs(o.containerdBin)
			if err != nil {
				return err
			}
			o.containerdBin = abs
			out, err := exec.Command(abs, "--version").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "github.com/containerd/containerd") {
				return fmt.Errorf("%s is not containerd (--version: %q, %v); pass -containerd", abs, strings.TrimSpace(string(out)), err)
			}
			if _, err := exec.LookPath("containerd-shim-runc-v2"); err != nil {
				return fmt.Errorf("containerd-shim-runc-v2 not found on PATH")
			}
		}
	}
	return nil
}

func collectMeta(o *options) Meta {
	m := Meta{
		Date:        time.Now().Format(time.RFC3339),
		CPUs:        runtime.NumCPU(),
		GoVersion:   runtime.Version(),
		CommandLine: os.Args,
		N:           o.n, C: o.c, R: o.r, M: o.m, K: o.k, Rounds: o.rounds,
		OursArgs:   o.oursArgs,
		RPCTimeout: o.rpcTimeout.String(),
		Settle:     o.settle.String(),
	}
	for _, s := range allScenarios {
		if o.scenarios[s] {
			m.Scenarios = append(m.Scenarios, s)
		}
	}
	m.Hostname, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Version[:])
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	m.MemTotalKB, _ = procField("/proc/meminfo", "MemTotal:")
	m.Cgroup = "v1"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		m.Cgroup = "v2"
	}
	if out, err := exec.Command("runc", "--version").Output(); err == nil {
		m.Runc = strings.Join(strings.Fields(strings.ReplaceAll(string(out), "\n", "; ")), " ")
	}
	return m
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
