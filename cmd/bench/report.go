package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// row is one line of a comparison table: a value per target.
type row struct {
	label string
	vals  []float64 // NaN: not measured
	fmt   string    // "" for a section heading
	ratio bool      // show ours/containerd
}

type table struct {
	title   string
	targets []string
	rows    []row
}

const labelWidth, colWidth = 44, 12

func (t *table) print(w io.Writer) {
	fmt.Fprintf(w, "\n== %s ==\n", t.title)
	showRatio := len(t.targets) == 2 && t.targets[0] == targetOurs && t.targets[1] == targetContainerd
	fmt.Fprintf(w, "%-*s", labelWidth, "")
	for _, tg := range t.targets {
		fmt.Fprintf(w, "%*s", colWidth, tg)
	}
	if showRatio {
		fmt.Fprintf(w, "%*s", colWidth, "ours/ctrd")
	}
	fmt.Fprintln(w)
	for _, r := range t.rows {
		if r.fmt == "" {
			fmt.Fprintln(w, r.label)
			continue
		}
		fmt.Fprintf(w, "%-*s", labelWidth, r.label)
		for _, v := range r.vals {
			s := "-"
			if !math.IsNaN(v) {
				s = fmt.Sprintf(r.fmt, v)
			}
			fmt.Fprintf(w, "%*s", colWidth, s)
		}
		if showRatio && r.ratio {
			a, b := r.vals[0], r.vals[1]
			s := "-"
			// A ratio of two near-zero times is noise, not information.
			if !math.IsNaN(a) && !math.IsNaN(b) && math.Abs(b) >= 0.05 {
				s = fmt.Sprintf("%.2f", a/b)
			}
			fmt.Fprintf(w, "%*s", colWidth, s)
		}
		fmt.Fprintln(w)
	}
}

// add appends a row whose value for each target is f(target) (ok=false:
// not measured).
func (t *table) add(label, format string, ratio bool, res []*TargetResult, f func(*TargetResult) (float64, bool)) {
	r := row{label: label, fmt: format, ratio: ratio}
	for _, tr := range res {
		v, ok := f(tr)
		if !ok {
			v = math.NaN()
		}
		r.vals = append(r.vals, v)
	}
	t.rows = append(t.rows, r)
}

func (t *table) heading(label string) { t.rows = append(t.rows, row{label: label}) }

// stats appends the percentile table of s(target).
func (t *table) stats(indent string, res []*TargetResult, s func(*TargetResult) *Stats) {
	t.add(indent+"count", "%.0f", false, res, func(r *TargetResult) (float64, bool) {
		if st := s(r); st != nil {
			return float64(st.Count), true
		}
		return 0, false
	})
	t.add(indent+"failures", "%.0f", false, res, func(r *TargetResult) (float64, bool) {
		if st := s(r); st != nil {
			return float64(st.Failures), true
		}
		return 0, false
	})
	for _, f := range []struct {
		name string
		get  func(*Stats) float64
	}{
		{"min", func(s *Stats) float64 { return s.Min }},
		{"max", func(s *Stats) float64 { return s.Max }},
		{"mean", func(s *Stats) float64 { return s.Mean }},
		{"stddev", func(s *Stats) float64 { return s.Stddev }},
		{"median", func(s *Stats) float64 { return s.Median }},
		{"75%", func(s *Stats) float64 { return s.P75 }},
		{"95%", func(s *Stats) float64 { return s.P95 }},
		{"99%", func(s *Stats) float64 { return s.P99 }},
		{"99.9%", func(s *Stats) float64 { return s.P999 }},
	} {
		get := f.get
		t.add(indent+f.name, "%.2f", true, res, func(r *TargetResult) (float64, bool) {
			st := s(r)
			if st == nil || st.Count == 0 {
				return 0, false
			}
			return get(st), true
		})
	}
}

// phases appends the median of each phase of phases(target).
func (t *table) phases(indent string, res []*TargetResult, phases func(*TargetResult) []Phase) {
	var names []string
	for _, r := range res {
		if p := phases(r); len(p) > len(names) {
			names = names[:0]
			for _, ph := range p {
				names = append(names, ph.Name)
			}
		}
	}
	for i, name := range names {
		i := i
		t.add(indent+name, "%.2f", true, res, func(r *TargetResult) (float64, bool) {
			p := phases(r)
			if i >= len(p) || p[i].Count == 0 {
				return 0, false
			}
			return p[i].Median, true
		})
	}
}

func printReport(w io.Writer, rep *Report, o *options) {
	m := rep.Meta
	fmt.Fprintf(w, "\nbench %s: %s, kernel %s, %d CPUs (%s), cgroup %s\n", m.Date, m.Hostname,
		strings.Fields(m.Kernel + " ")[0], m.CPUs, m.CPUModel, m.Cgroup)
	fmt.Fprintf(w, "runc: %s\n", m.Runc)
	var targets []string
	for _, r := range rep.Targets {
		targets = append(targets, r.Target)
		args := ""
		if r.Target == targetOurs && len(o.oursArgs) > 0 {
			args = " (extra args: " + strings.Join(o.oursArgs, " ") + ")"
		}
		fmt.Fprintf(w, "%s: %s version %s revision %s%s\n", r.Target, r.Binary, r.Version, r.Revision, args)
	}
	res := rep.Targets
	// has reports whether any target got as far as measuring a scenario.
	has := func(f func(*TargetResult) bool) bool {
		for _, r := range res {
			if f(r) {
				return true
			}
		}
		return false
	}
	newTable := func(title string) *table { return &table{title: title, targets: targets} }

	if has(func(r *TargetResult) bool { return r.Start != nil }) {
		t := newTable(fmt.Sprintf("1. start %d containers (sleep 300), concurrency %d; then teardown", o.n, o.c))
		get := func(f func(*StartResult) float64) func(*TargetResult) (float64, bool) {
			return func(r *TargetResult) (float64, bool) {
				if r.Start == nil {
					return 0, false
				}
				return f(r.Start), true
			}
		}
		t.add("started", "%.0f", false, res, get(func(s *StartResult) float64 { return float64(s.Started) }))
		t.add("errors", "%.0f", false, res, get(func(s *StartResult) float64 { return float64(s.Errors) }))
		t.add("batch: first create to last running (s)", "%.2f", true, res, get(func(s *StartResult) float64 { return s.BatchSeconds }))
		t.add("containers/s", "%.1f", true, res, get(func(s *StartResult) float64 { return s.PerSecond }))
		t.add("host CPU steal during the starts (%)", "%.1f", false, res, get(func(s *StartResult) float64 { return s.HostStealPercent }))
		if has(func(r *TargetResult) bool { return r.Start != nil && r.Start.CPU != nil }) {
			cpu := func(f func(*StartCPU) float64) func(*TargetResult) (float64, bool) {
				return func(r *TargetResult) (float64, bool) {
					if r.Start == nil || r.Start.CPU == nil {
						return 0, false
					}
					return f(r.Start.CPU), true
				}
			}
			t.heading("CPU per container started (ms), by who spent it")
			t.add("  whole machine", "%.1f", false, res, cpu(func(c *StartCPU) float64 { return c.Machine }))
			t.add("  daemon", "%.2f", false, res, cpu(func(c *StartCPU) float64 { return c.Daemon }))
			t.add("  daemon's children (shim launchers)", "%.2f", false, res, cpu(func(c *StartCPU) float64 { return c.DaemonChildren }))
			t.add("  shims", "%.2f", false, res, cpu(func(c *StartCPU) float64 { return c.Shims }))
			t.add("  this client", "%.2f", false, res, cpu(func(c *StartCPU) float64 { return c.Client }))
			t.add("  rest (runc, containers, kernel)", "%.2f", false, res, cpu(func(c *StartCPU) float64 { return c.Rest }))
		}
		if has(func(r *TargetResult) bool { return r.Start != nil && r.Start.RuncAlone != nil }) {
			alone := func(r *TargetResult) (float64, bool) {
				if r.Start == nil || r.Start.RuncAlone == nil || r.Start.RuncAlone.Started == 0 {
					return 0, false
				}
				return r.Start.RuncAlone.PerSecond, true
			}
			t.add("runc alone (runc run -d, same N and C), /s", "%.1f", false, res, alone)
			t.add("runc alone: CPU per container (ms)", "%.1f", false, res, func(r *TargetResult) (float64, bool) {
				if _, ok := alone(r); !ok {
					return 0, false
				}
				return r.Start.RuncAlone.CPUPerContainer, true
			})
			t.add("containers/s as a share of runc alone", "%.2f", false, res, func(r *TargetResult) (float64, bool) {
				a, ok := alone(r)
				if !ok || a == 0 {
					return 0, false
				}
				return r.Start.PerSecond / a, true
			})
		}
		t.heading("start latency (ms): Containers.Create+Tasks.Create+Tasks.Start")
		t.stats("  ", res, func(r *TargetResult) *Stats {
			if r.Start == nil {
				return nil
			}
			return &r.Start.Latency
		})
		t.heading("  median per RPC (ms)")
		t.phases("    ", res, func(r *TargetResult) []Phase {
			if r.Start == nil {
				return nil
			}
			return r.Start.Phases
		})
		t.add("teardown: removed", "%.0f", false, res, get(func(s *StartResult) float64 { return float64(s.Removed) }))
		t.add("teardown: batch (s)", "%.2f", true, res, get(func(s *StartResult) float64 { return s.TeardownSeconds }))
		t.add("teardown: containers/s", "%.1f", true, res, get(func(s *StartResult) float64 { return s.TeardownPerSecond }))
		t.heading("teardown latency (ms): Kill+Wait+Tasks.Delete+Containers.Delete")
		t.stats("  ", res, func(r *TargetResult) *Stats {
			if r.Start == nil {
				return nil
			}
			return &r.Start.TeardownLatency
		})
		t.print(w)
	}
	latencyTable := func(title string, pick func(*TargetResult) *LatencyResult) {
		t := newTable(title)
		t.heading("latency (ms)")
		t.stats("  ", res, func(r *TargetResult) *Stats {
			if l := pick(r); l != nil {
				return &l.Latency
			}
			return nil
		})
		t.heading("  median per step (ms)")
		t.phases("    ", res, func(r *TargetResult) []Phase {
			if l := pick(r); l != nil {
				return l.Phases
			}
			return nil
		})
		if has(func(r *TargetResult) bool { l := pick(r); return l != nil && l.BareRunc != nil }) {
			t.heading("bare `runc run` of the same spec, one after each run")
			t.add("  median (ms)", "%.2f", true, res, func(r *TargetResult) (float64, bool) {
				if l := pick(r); l != nil && l.BareRunc != nil {
					return l.BareRunc.Median, true
				}
				return 0, false
			})
			t.add("  run --rm / bare runc (medians)", "%.2f", false, res, func(r *TargetResult) (float64, bool) {
				if l := pick(r); l != nil && l.BareRunc != nil && l.BareRunc.Median > 0 {
					return l.Latency.Median / l.BareRunc.Median, true
				}
				return 0, false
			})
		}
		t.print(w)
	}
	if has(func(r *TargetResult) bool { return r.RunRm != nil }) {
		latencyTable(fmt.Sprintf("2. run --rm /bin/true, sequential, %d runs (create+start+wait+delete)", o.r),
			func(r *TargetResult) *LatencyResult { return r.RunRm })
	}
	if has(func(r *TargetResult) bool { return r.Exec != nil }) {
		latencyTable(fmt.Sprintf("3. exec /bin/true into a running container, %d runs (Exec+Wait+Start+DeleteProcess)", o.r),
			func(r *TargetResult) *LatencyResult { return r.Exec })
	}
	if has(func(r *TargetResult) bool { return r.Event != nil }) {
		t := newTable(fmt.Sprintf("4. /tasks/exit event latency, %d runs (exited_at to subscriber receiving it)", o.r))
		t.heading("event latency (ms)")
		t.stats("  ", res, func(r *TargetResult) *Stats {
			if r.Event == nil {
				return nil
			}
			return &r.Event.Event
		})
		t.heading("for comparison: exited_at to Tasks.Wait returning (ms)")
		t.add("  median", "%.2f", true, res, func(r *TargetResult) (float64, bool) {
			if r.Event == nil || r.Event.Wait.Count == 0 {
				return 0, false
			}
			return r.Event.Wait.Median, true
		})
		t.add("  95%", "%.2f", true, res, func(r *TargetResult) (float64, bool) {
			if r.Event == nil || r.Event.Wait.Count == 0 {
				return 0, false
			}
			return r.Event.Wait.P95, true
		})
		t.print(w)
	}
	if has(func(r *TargetResult) bool { return r.Memory != nil }) {
		t := newTable(fmt.Sprintf("5. memory with %d idle containers, after %v (KiB)", o.m, o.settle))
		get := func(f func(*MemoryResult) float64) func(*TargetResult) (float64, bool) {
			return func(r *TargetResult) (float64, bool) {
				if r.Memory == nil {
					return 0, false
				}
				return f(r.Memory), true
			}
		}
		t.add("shim processes", "%.0f", false, res, get(func(m *MemoryResult) float64 { return float64(m.Shims) }))
		t.add("daemon RSS", "%.0f", true, res, get(func(m *MemoryResult) float64 { return float64(m.DaemonRSS) }))
		t.add("daemon PSS", "%.0f", true, res, get(func(m *MemoryResult) float64 { return float64(m.DaemonPSS) }))
		t.add("shim RSS, median", "%.0f", true, res, get(func(m *MemoryResult) float64 { return m.ShimRSSMedian }))
		t.add("shim PSS, median", "%.0f", true, res, get(func(m *MemoryResult) float64 { return m.ShimPSSMedian }))
		t.add("shims RSS, total", "%.0f", true, res, get(func(m *MemoryResult) float64 { return float64(m.ShimRSSTotal) }))
		t.add("shims PSS, total", "%.0f", true, res, get(func(m *MemoryResult) float64 { return float64(m.ShimPSSTotal) }))
		t.add("spare shim PSS", "%.0f", false, res, get(func(m *MemoryResult) float64 { return float64(m.SparePSS) }))
		t.add("daemon + shims + spare RSS", "%.0f", true, res, get(func(m *MemoryResult) float64 { return float64(m.TotalRSS) }))
		t.add("daemon + shims + spare PSS", "%.0f", true, res, get(func(m *MemoryResult) float64 { return float64(m.TotalPSS) }))
		t.print(w)
	}
	if has(func(r *TargetResult) bool { return r.Restart != nil }) {
		t := newTable(fmt.Sprintf("6. restart recovery: SIGKILL the daemon with %d running containers, start it again (ms from exec)", o.k))
		get := func(f func(*RestartResult) float64) func(*TargetResult) (float64, bool) {
			return func(r *TargetResult) (float64, bool) {
				if r.Restart == nil {
					return 0, false
				}
				v := f(r.Restart)
				return v, !math.IsNaN(v)
			}
		}
		ms := func(v float64) float64 {
			if v == 0 {
				return math.NaN()
			}
			return v
		}
		t.add("socket accepts", "%.1f", true, res, get(func(r *RestartResult) float64 { return ms(r.SocketMs) }))
		t.add("first Tasks.List answered", "%.1f", true, res, get(func(r *RestartResult) float64 { return ms(r.FirstListMs) }))
		t.add("all tasks RUNNING", "%.1f", true, res, get(func(r *RestartResult) float64 { return ms(r.AllRunningMs) }))
		t.add("Tasks.List polls", "%.0f", false, res, get(func(r *RestartResult) float64 { return float64(r.Polls) }))
		t.add("containers died", "%.0f", false, res, get(func(r *RestartResult) float64 { return float64(r.Died) }))
		t.add("shims before", "%.0f", false, res, get(func(r *RestartResult) float64 { return float64(r.ShimsBefore) }))
		t.add("shims after", "%.0f", false, res, get(func(r *RestartResult) float64 { return float64(r.ShimsAfter) }))
		t.print(w)
	}

	// Problems, per target.
	found := false
	for _, r := range res {
		var lines []string
		if r.Error != "" {
			lines = append(lines, "stopped: "+r.Error)
		}
		for _, s := range []struct {
			name string
			o    *Outcome
		}{{"start", outcomeOf(r.Start)}, {"runrm", outcomeOf(r.RunRm)}, {"exec", outcomeOf(r.Exec)},
			{"event", outcomeOf(r.Event)}, {"memory", outcomeOf(r.Memory)}, {"restart", outcomeOf(r.Restart)}} {
			if s.o == nil {
				continue
			}
			if s.o.Errors > 0 {
				lines = append(lines, fmt.Sprintf("%s: %d errors; first:", s.name, s.o.Errors))
				for _, m := range s.o.ErrorMessages {
					lines = append(lines, "    "+m)
				}
			}
			for _, m := range s.o.Cleanup {
				lines = append(lines, s.name+": cleanup: "+m)
			}
			for _, m := range s.o.Notes {
				lines = append(lines, s.name+": note: "+m)
			}
		}
		for _, m := range r.Teardown {
			lines = append(lines, "teardown: "+m)
		}
		if len(lines) == 0 {
			continue
		}
		if !found {
			fmt.Fprintf(w, "\n== problems and notes ==\n")
			found = true
		}
		fmt.Fprintf(w, "%s:\n  %s\n", r.Target, strings.Join(lines, "\n  "))
	}
	if !found {
		fmt.Fprintf(w, "\nno errors; nothing left behind\n")
	}
}

// printRounds prints, when there were several rounds, each round's key
// figures per target and their medians: the spread between rounds is the
// machine's noise, and the median is the figure to quote.
func printRounds(w io.Writer, rep *Report) {
	if len(rep.Rounds) < 2 {
		return
	}
	type figure struct {
		label   string
		fmt     string
		get     func(*TargetResult) (float64, bool)
		noRatio bool
	}
	figures := []figure{
		{"containers/s", "%.1f", func(r *TargetResult) (float64, bool) {
			return valueIf(r.Start != nil && r.Start.Started > 0, func() float64 { return r.Start.PerSecond })
		}, false},
		{"runc alone containers/s", "%.1f", func(r *TargetResult) (float64, bool) {
			return valueIf(r.Start != nil && r.Start.RuncAlone != nil && r.Start.RuncAlone.Started > 0,
				func() float64 { return r.Start.RuncAlone.PerSecond })
		}, true},
		{"start CPU per container (ms)", "%.1f", func(r *TargetResult) (float64, bool) {
			return valueIf(r.Start != nil && r.Start.CPU != nil, func() float64 { return r.Start.CPU.Machine })
		}, false},
		{"start CPU: daemon + shims + launchers (ms)", "%.2f", func(r *TargetResult) (float64, bool) {
			return valueIf(r.Start != nil && r.Start.CPU != nil, func() float64 {
				c := r.Start.CPU
				return c.Daemon + c.DaemonChildren + c.Shims
			})
		}, false},
		{"start p99 (ms)", "%.0f", func(r *TargetResult) (float64, bool) {
			return valueIf(r.Start != nil && r.Start.Latency.Count > 0, func() float64 { return r.Start.Latency.P99 })
		}, false},
		{"host steal during starts (%)", "%.1f", func(r *TargetResult) (float64, bool) {
			return valueIf(r.Start != nil, func() float64 { return r.Start.HostStealPercent })
		}, true},
		{"teardown containers/s", "%.1f", func(r *TargetResult) (float64, bool) {
			return valueIf(r.Start != nil && r.Start.Removed > 0, func() float64 { return r.Start.TeardownPerSecond })
		}, false},
		{"run --rm median (ms)", "%.1f", func(r *TargetResult) (float64, bool) {
			return valueIf(r.RunRm != nil && r.RunRm.Latency.Count > 0, func() float64 { return r.RunRm.Latency.Median })
		}, false},
		{"run --rm / bare runc run", "%.2f", func(r *TargetResult) (float64, bool) {
			return valueIf(r.RunRm != nil && r.RunRm.BareRunc != nil && r.RunRm.BareRunc.Median > 0,
				func() float64 { return r.RunRm.Latency.Median / r.RunRm.BareRunc.Median })
		}, false},
		{"shim PSS median (KiB)", "%.0f", func(r *TargetResult) (float64, bool) {
			return valueIf(r.Memory != nil && r.Memory.Shims > 0, func() float64 { return r.Memory.ShimPSSMedian })
		}, false},
		{"restart: all RUNNING (ms)", "%.0f", func(r *TargetResult) (float64, bool) {
			return valueIf(r.Restart != nil && r.Restart.AllRunningMs > 0, func() float64 { return r.Restart.AllRunningMs })
		}, false},
	}
	fmt.Fprintf(w, "\n== %d rounds, alternating targets (the tables above are round 1) ==\n", len(rep.Rounds))
	fmt.Fprintf(w, "%-*s", labelWidth, "")
	for i := range rep.Rounds {
		fmt.Fprintf(w, "%*s", 9, fmt.Sprintf("round %d", i+1))
	}
	fmt.Fprintf(w, "%*s\n", 9, "median")
	for _, f := range figures {
		for ti, tr := range rep.Rounds[0] {
			var vals []float64
			line := fmt.Sprintf("%-*s", labelWidth, f.label+", "+tr.Target)
			for _, round := range rep.Rounds {
				v, ok := f.get(round[ti])
				s := "-"
				if ok {
					s = fmt.Sprintf(f.fmt, v)
					vals = append(vals, v)
				}
				line += fmt.Sprintf("%*s", 9, s)
			}
			if len(vals) == 0 {
				continue
			}
			fmt.Fprintf(w, "%s%*s\n", line, 9, fmt.Sprintf(f.fmt, median(vals)))
		}
		if !f.noRatio && len(rep.Rounds[0]) == 2 && rep.Rounds[0][0].Target == targetOurs {
			var ratios []float64
			line := fmt.Sprintf("%-*s", labelWidth, f.label+", ours/ctrd")
			for _, round := range rep.Rounds {
				a, okA := f.get(round[0])
				b, okB := f.get(round[1])
				s := "-"
				if okA && okB && b != 0 {
					s = fmt.Sprintf("%.2f", a/b)
					ratios = append(ratios, a/b)
				}
				line += fmt.Sprintf("%*s", 9, s)
			}
			if len(ratios) > 0 {
				fmt.Fprintf(w, "%s%*s\n", line, 9, fmt.Sprintf("%.2f", median(ratios)))
			}
		}
	}
}

func valueIf(ok bool, v func() float64) (float64, bool) {
	if !ok {
		return 0, false
	}
	return v(), true
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
