package reaper

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var (
	once   sync.Once
	shared *Reaper
)

// testReaper returns the process-wide reaper: there can be only one owner of
// wait4 in a process.
func testReaper(t *testing.T) *Reaper {
	once.Do(func() {
		if err := SetSubreaper(); err != nil {
			t.Fatal(err)
		}
		shared = New()
	})
	return shared
}

func TestMonitorReportsExitStatus(t *testing.T) {
	m := testReaper(t).Monitor()
	for _, code := range []int{0, 3, 255} {
		cmd := exec.Command("/bin/sh", "-c", "exit "+strconv.Itoa(code))
		ch, err := m.Start(cmd)
		if err != nil {
			t.Fatal(err)
		}
		status, err := m.Wait(cmd, ch)
		if err != nil || status != code {
			t.Fatalf("exit %d: got status %d, err %v", code, status, err)
		}
	}
}

func TestMonitorKeepsOutput(t *testing.T) {
	m := testReaper(t).Monitor()
	var out strings.Builder
	cmd := exec.Command("/bin/echo", "hello")
	cmd.Stdout = &out
	ch, err := m.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Wait(cmd, ch); err != nil {
		t.Fatal(err)
	}
	if out.String() != "hello\n" {
		t.Fatalf("output %q", out.String())
	}
}

func TestSignalledExitIs128PlusSignal(t *testing.T) {
	m := testReaper(t).Monitor()
	cmd := exec.Command("/bin/sh", "-c", "kill -9 $$")
	ch, err := m.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := m.Wait(cmd, ch); status != 137 {
		t.Fatalf("status %d, want 137", status)
	}
}

// An orphan (like a container's init once runc exits) is reaped, and its exit
// waits for the first claim made by whoever learns its pid afterwards.
func TestOrphanExitIsKeptForClaim(t *testing.T) {
	r := testReaper(t)
	since := time.Now()
	pid, err := orphanOf(r.Monitor(), "(sleep 0.2; exit 7) & echo $!")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // let it exit before anyone claims it
	if e := claimExit(t, r, pid, since); e.Status != 7 || e.Pid != pid {
		t.Fatalf("exit %+v", e)
	}
	if isZombie(pid) {
		t.Fatal("orphan left as zombie")
	}
}

// An orphan nobody watches or claims is collected with the next watched
// exit, and its exit kept for a claim.
func TestOrphanCollectedWithTheNextWatchedExit(t *testing.T) {
	r := testReaper(t)
	since := time.Now()
	// The orphan outlives its parent (or that parent might reap it), and
	// exits well before the watched shell.
	pid, err := orphanOf(r.Monitor(), "(sh -c 'sleep 0.1; exit 5' & echo $!); sleep 0.5")
	if err != nil {
		t.Fatal(err)
	}
	if e := claimExit(t, r, pid, since); e.Status != 5 {
		t.Fatalf("exit %+v", e)
	}
	if unix.Kill(pid, 0) == nil {
		t.Fatalf("orphan %d still there", pid)
	}
}

// claimExit claims pid's exit and waits (bounded) for it.
func claimExit(t *testing.T, r *Reaper, pid int, since time.Time) Exit {
	t.Helper()
	select {
	case e := <-r.Claim(pid, since):
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("orphan exit never delivered")
		return Exit{}
	}
}

// With WatchAll, an orphan is reaped as it exits, with no claim and no
// other exit to set it off. In a process of its own: WatchAll is for good.
func TestWatchAllReapsOrphansAtOnce(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=watch-all")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
}

const helperEnv = "REAPER_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "watch-all" {
		if err := watchAllHelper(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func watchAllHelper() error {
	if err := SetSubreaper(); err != nil {
		return err
	}
	r := New()
	r.WatchAll()
	since := time.Now()
	pid, err := orphanOf(r.Monitor(), "(sleep 0.2; exit 3) & echo $!")
	if err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for unix.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("orphan %d not reaped (zombie: %v)", pid, isZombie(pid))
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case e := <-r.Claim(pid, since):
		if e.Status != 3 {
			return fmt.Errorf("orphan exit %+v, want status 3", e)
		}
	default:
		return errors.New("the reaped orphan's exit was not kept")
	}
	return nil
}

func TestClaimIgnoresExitsOlderThanTheProcess(t *testing.T) {
	r := New()
	old := time.Now().Add(-time.Second)
	r.dispatch(Exit{Pid: 4242, Status: 1, Timestamp: old})
	ch := r.Claim(4242, time.Now())
	select {
	case e := <-ch:
		t.Fatalf("stale exit delivered: %+v", e)
	default:
	}
	r.dispatch(Exit{Pid: 4242, Status: 2, Timestamp: time.Now()})
	if e := <-ch; e.Status != 2 {
		t.Fatalf("got %+v", e)
	}
}

func TestHandleSignalsAndReportsGone(t *testing.T) {
	r := testReaper(t)
	m := r.Monitor()
	cmd := exec.Command("/bin/sleep", "30")
	ch, err := m.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Open(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if status, _ := m.Wait(cmd, ch); status != 128+int(unix.SIGTERM) {
		t.Fatalf("status %d", status)
	}
	if err := h.Signal(unix.SIGTERM); err != ErrProcessGone {
		t.Fatalf("signal after exit: %v", err)
	}
}

// orphanOf runs a shell script through m that leaves an orphan behind and
// prints its pid, and returns that pid once the script has exited 0.
func orphanOf(m *Monitor, script string) (int, error) {
	var out strings.Builder
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Stdout = &out
	ch, err := m.Start(cmd)
	if err != nil {
		return 0, err
	}
	if status, _ := m.Wait(cmd, ch); status != 0 {
		return 0, fmt.Errorf("%q exited %d", script, status)
	}
	return strconv.Atoi(strings.TrimSpace(out.String()))
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}
