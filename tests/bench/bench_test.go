// Package bench runs the benchmark tool (cmd/bench) at a small size against
// our daemon and containerd 1.6, so the tool keeps working; the figures it
// prints are not checked, only that every scenario ran and left nothing.
package bench

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seedrt/seed/tests/testutil"
)

// outcome is what every scenario reports besides its figures.
type outcome struct {
	Errors   int      `json:"errors"`
	Messages []string `json:"error_messages"`
	Cleanup  []string `json:"cleanup_errors"`
}

func (o outcome) failed() bool { return o.Errors > 0 || len(o.Cleanup) > 0 }

type stats struct {
	Count    int     `json:"count"`
	Failures int     `json:"failures"`
	Median   float64 `json:"median_ms"`
}

// report is the part of the tool's JSON this test checks.
type report struct {
	Targets []struct {
		Target   string   `json:"target"`
		Error    string   `json:"error"`
		Teardown []string `json:"teardown_errors"`
		Start    *struct {
			outcome
			Started int     `json:"started"`
			Removed int     `json:"removed"`
			PerSec  float64 `json:"containers_per_second"`
			Latency stats   `json:"latency"`
			CPU     *struct {
				Machine float64 `json:"machine"`
				Daemon  float64 `json:"daemon"`
				Shims   float64 `json:"shims"`
			} `json:"cpu_ms_per_container"`
		} `json:"start"`
		RunRm *struct {
			outcome
			Latency  stats  `json:"latency"`
			BareRunc *stats `json:"bare_runc_run"`
		} `json:"runrm"`
		Exec *struct {
			outcome
			Latency stats `json:"latency"`
		} `json:"exec"`
		Event *struct {
			outcome
			Event stats `json:"event_latency"`
		} `json:"event"`
		Memory *struct {
			outcome
			Shims     int     `json:"shims"`
			ShimPSSKB float64 `json:"shim_pss_median_kb"`
		} `json:"memory"`
		Restart *struct {
			outcome
			Died       int     `json:"died"`
			AllRunning float64 `json:"all_running_ms"`
		} `json:"restart"`
	} `json:"targets"`
}

// runBench runs the tool against both daemons with args and returns what
// it printed and the JSON it wrote.
func runBench(t *testing.T, args ...string) (log, result []byte) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "runc")
	testutil.RequireBinary(t, "containerd")
	testutil.RequireBinary(t, "containerd-shim-runc-v2")
	bins := testutil.BuildBinaries(t)
	out := filepath.Join(t.TempDir(), "bench.json")
	cmd := exec.Command(filepath.Join(bins, "bench"), append([]string{"-bin", bins, "-target", "both", "-json", out}, args...)...)
	log, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, log)
	}
	if result, err = os.ReadFile(out); err != nil {
		t.Fatal(err)
	}
	return log, result
}

func TestBenchSmall(t *testing.T) {
	const n, runs = 20, 3
	log, b := runBench(t, "-n", "20", "-c", "5", "-r", "3", "-m", "3", "-k", "5", "-settle", "1s")
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("bench JSON: %v", err)
	}
	if len(r.Targets) != 2 {
		t.Fatalf("%d targets in the JSON, want ours and containerd", len(r.Targets))
	}
	for _, tr := range r.Targets {
		fail := func(format string, a ...any) {
			t.Helper()
			t.Errorf(tr.Target+": "+format, a...)
		}
		if tr.Error != "" || len(tr.Teardown) > 0 {
			fail("error %q, teardown %v", tr.Error, tr.Teardown)
		}
		switch {
		case tr.Start == nil || tr.RunRm == nil || tr.Exec == nil || tr.Event == nil || tr.Memory == nil || tr.Restart == nil:
			fail("a scenario is missing")
			continue
		}
		if s := tr.Start; s.failed() || s.Started != n || s.Removed != n || s.PerSec <= 0 || s.Latency.Count != n {
			fail("start: %+v", s)
		}
		if c := tr.Start.CPU; c == nil || c.Daemon <= 0 || c.Shims <= 0 || c.Daemon+c.Shims >= c.Machine {
			fail("start: CPU per container missing or inconsistent: %+v", c)
		}
		if s := tr.RunRm; s.failed() || s.Latency.Count != runs || s.BareRunc == nil || s.BareRunc.Count != runs {
			fail("run --rm: %+v", s)
		}
		if s := tr.Exec; s.failed() || s.Latency.Count != runs {
			fail("exec: %+v", s)
		}
		if s := tr.Event; s.failed() || s.Event.Count != runs {
			fail("event: %+v", s)
		}
		if s := tr.Memory; s.failed() || s.Shims != 3 || s.ShimPSSKB <= 0 {
			fail("memory: %+v", s)
		}
		if s := tr.Restart; s.failed() || s.Died != 0 || s.AllRunning <= 0 {
			fail("restart: %+v", s)
		}
	}
	if t.Failed() {
		t.Logf("bench output:\n%s", log)
	}
}

// -rounds repeats the run, alternating which target goes first, and prints
// each round's key figures with their medians; -runc-alone adds runc's own
// start rate.
func TestBenchRounds(t *testing.T) {
	log, b := runBench(t, "-n", "4", "-c", "2", "-rounds", "2", "-scenarios", "start", "-runc-alone")
	var r struct {
		Rounds [][]struct {
			Target string `json:"target"`
			Start  *struct {
				Started   int     `json:"started"`
				PerSec    float64 `json:"containers_per_second"`
				RuncAlone *struct {
					Started int     `json:"started"`
					PerSec  float64 `json:"containers_per_second"`
				} `json:"runc_alone"`
			} `json:"start"`
		} `json:"rounds"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("bench JSON: %v", err)
	}
	if len(r.Rounds) != 2 {
		t.Fatalf("%d rounds in the JSON, want 2", len(r.Rounds))
	}
	for i, round := range r.Rounds {
		if len(round) != 2 || round[0].Target != "ours" || round[1].Target != "containerd" {
			t.Fatalf("round %d: targets %+v, want ours then containerd", i+1, round)
		}
		for _, tr := range round {
			if tr.Start == nil || tr.Start.Started != 4 || tr.Start.PerSec <= 0 {
				t.Errorf("round %d, %s: start %+v", i+1, tr.Target, tr.Start)
				continue
			}
			if a := tr.Start.RuncAlone; a == nil || a.Started != 4 || a.PerSec <= 0 {
				t.Errorf("round %d, %s: runc alone %+v", i+1, tr.Target, a)
			}
		}
	}
	if !strings.Contains(string(log), "== 2 rounds, alternating targets") ||
		!strings.Contains(string(log), "containers/s, ours/ctrd") {
		t.Errorf("no rounds table in the output:\n%s", log)
	}
	// The second round ran containerd first.
	if i, j := strings.Index(string(log), "round 2 of 2: containerd"), strings.Index(string(log), "round 2 of 2: ours"); i < 0 || j < i {
		t.Errorf("round 2 did not start with containerd:\n%s", log)
	}
}
