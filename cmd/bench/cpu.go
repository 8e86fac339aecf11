package main

// StartCPU is what a start batch cost in CPU time per container started,
// in ms, by who spent it. At C=10 on a small machine the start rate is
// bound by CPU, so these say where the rate goes, and they move far less
// with the machine's drift than the rate itself.
type StartCPU struct {
	Machine        float64 `json:"machine"`         // all busy CPU: every process and the kernel
	Daemon         float64 `json:"daemon"`          // the daemon's own threads
	DaemonChildren float64 `json:"daemon_children"` // processes the daemon waited for (containerd's `shim start`)
	Shims          float64 `json:"shims"`           // the shims' own threads (ours: the spare's too)
	Client         float64 `json:"client"`          // this tool
	// Rest: runc (create, start, init), the containers, kernel threads.
	// (The shims' children are not split out: the kernel rounds each
	// shim's waited-for total down to 10 ms.)
	Rest float64 `json:"rest"`
}

// cpuSnapshot holds the CPU counters a StartCPU is the difference of.
type cpuSnapshot struct {
	machine, daemon, daemonChildren, client float64
	shims                                   map[int]float64 // pid → own CPU
}

func (d *daemon) cpuSnapshot() cpuSnapshot {
	s := cpuSnapshot{machine: busyCPU(), client: selfCPU(), shims: map[int]float64{}}
	s.daemon = threadsCPU(d.pid())
	s.daemonChildren, _ = waitedCPU(d.pid())
	for _, p := range append(d.shims(), d.spares()...) {
		s.shims[p.pid] = threadsCPU(p.pid)
	}
	return s
}

// cpuPerContainer is the CPU spent since before, divided among n
// containers. A shim that was there before counts only what it spent since.
func (d *daemon) cpuPerContainer(before cpuSnapshot, n int) *StartCPU {
	if n == 0 {
		return nil
	}
	now := d.cpuSnapshot()
	per := func(v float64) float64 { return v / float64(n) }
	c := &StartCPU{
		Machine:        per(now.machine - before.machine),
		Daemon:         per(now.daemon - before.daemon),
		DaemonChildren: per(now.daemonChildren - before.daemonChildren),
		Client:         per(now.client - before.client),
	}
	for pid, t := range now.shims {
		c.Shims += per(t - before.shims[pid]) // before: zero for a shim started since
	}
	c.Rest = c.Machine - c.Daemon - c.DaemonChildren - c.Shims - c.Client
	return c
}
