package shim_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/seedrt/seed/oci"
	"github.com/seedrt/seed/tests/testutil"
)

// The shim is one process per container, so its memory is the product's
// per-container cost: an idle shim stays under 6 MiB resident, and 25 execs
// add less than 1 MiB.
func TestMemoryBudget(t *testing.T) {
	const (
		idleBudgetKiB   = 6 * 1024
		growthBudgetKiB = 1024
		// The shim trims its resident set once it has been quiet this long.
		settle = time.Second
	)
	d := newDaemon(t)
	st := d.startShim(oci.WithArgs("/bin/sleep", "300"))
	st.create(newIO(t, false, false))
	st.start("")
	pid := st.shimPid()
	time.Sleep(settle)
	idle := rss(t, pid)
	t.Logf("idle shim: RSS %d KiB, PSS %d KiB", idle, pss(t, pid))
	if idle > idleBudgetKiB {
		t.Fatalf("idle shim RSS %d KiB, budget %d KiB", idle, idleBudgetKiB)
	}

	runExec := func(id string) {
		cio := newIO(t, false, false)
		st.exec(id, cio, "/bin/echo", id)
		st.start(id)
		st.wait(id)
		cio.WaitOutput(t, id)
		st.deleteExec(id)
	}
	// The first execs pay one-time costs: code paths and type caches seen
	// for the first time, and the shim's first garbage collection, which
	// faults in the collector's bookkeeping (an idle shim that has only
	// started its task has not collected yet). Growth is counted from there.
	for i := 0; i < 25; i++ {
		runExec("warmup" + strconv.Itoa(i))
	}
	time.Sleep(settle)
	base := rss(t, pid)
	for i := 0; i < 25; i++ {
		runExec("m" + strconv.Itoa(i))
	}
	time.Sleep(settle)
	after := rss(t, pid)
	t.Logf("after the warm-up execs: RSS %d KiB; after 25 more: %d KiB (+%d KiB)", base, after, after-base)
	if after-base > growthBudgetKiB {
		t.Fatalf("RSS grew %d KiB over 25 execs, budget %d KiB", after-base, growthBudgetKiB)
	}
}

func rss(t *testing.T, pid int) int {
	kib, err := testutil.ProcRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	return kib
}

func pss(t *testing.T, pid int) int {
	kib, err := testutil.ProcPSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	return kib
}
