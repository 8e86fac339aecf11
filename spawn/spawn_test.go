package spawn

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary run a helper instead of the tests.
const helperEnv = "SPAWN_TEST_HELPER"

func TestMain(m *testing.M) {
	helpers := map[string]func() error{"closed-listener": closedListenerHelper, "describe": describeHelper}
	if h, ok := helpers[os.Getenv(helperEnv)]; ok {
		if err := h(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// description is what describeHelper reports of itself.
type description struct {
	FDs       []string          // open descriptors
	Links     map[string]string // descriptor -> what it is
	Dir       string
	Env       string // SPAWN_TEST_VAR
	SessionID int
	Pid       int
}

// describeHelper writes a description of its process to descriptor 3.
func describeHelper() error {
	d := description{Links: map[string]string{}, Env: os.Getenv("SPAWN_TEST_VAR"), Pid: os.Getpid()}
	dir, err := os.Open("/proc/self/fd")
	if err != nil {
		return err
	}
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return err
	}
	self := fmt.Sprint(dir.Fd())
	dir.Close()
	for _, n := range names {
		link, _ := os.Readlink("/proc/self/fd/" + n)
		if n == self || goRuntimeOwn(link) {
			continue
		}
		d.FDs = append(d.FDs, n)
		d.Links[n] = link
	}
	sort.Strings(d.FDs)
	d.Dir, _ = os.Getwd()
	sid, err := unix.Getsid(0)
	if err != nil {
		return err
	}
	d.SessionID = sid
	return json.NewEncoder(os.NewFile(3, "out")).Encode(d)
}

// goRuntimeOwn tells the Go runtime's own descriptors (its poller, the
// cgroup files it reads GOMAXPROCS from) from inherited ones.
func goRuntimeOwn(link string) bool {
	return strings.HasPrefix(link, "anon_inode:[event") || strings.HasPrefix(link, "/sys/fs/cgroup/")
}

// checkStart starts a helper through start with plenty of descriptors open
// in this process, and checks what the child got: only the files given, on
// 3 and up, /dev/null as stdio, the directory, the environment (the last
// of duplicate entries, as with os/exec) and a session of its own.
//
// inherited are descriptors the child may have besides: what this process
// itself inherited without close-on-exec, which os/exec passes on.
func checkStart(t *testing.T, start func(string, []string, Attr) (*os.Process, error), inherited ...string) {
	t.Helper()
	for i := 0; i < 50; i++ {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
	}
	extra, err := os.CreateTemp(t.TempDir(), "extra")
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dir := t.TempDir()
	p, err := start(os.Args[0], []string{os.Args[0], "-test.run=^$"}, Attr{
		Dir:    dir,
		Env:    []string{helperEnv + "=describe", "SPAWN_TEST_VAR=stale", "SPAWN_TEST_VAR=hello"},
		Files:  []*os.File{w, extra},
		Setsid: true,
	})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	var d description
	if err := json.NewDecoder(r).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if st, err := p.Wait(); err != nil || !st.Success() {
		t.Fatalf("helper: %v %v", st, err)
	}
	wantFDs := append([]string{"0", "1", "2", "3", "4"}, inherited...)
	sort.Strings(wantFDs)
	if got, want := strings.Join(d.FDs, " "), strings.Join(wantFDs, " "); got != want {
		t.Errorf("descriptors %q, want %q (%v)", got, want, d.Links)
	}
	if d.Links["0"] != os.DevNull || d.Links["2"] != os.DevNull || d.Links["4"] != extra.Name() {
		t.Errorf("descriptors are %v, want stdio on %s and 4 on %s", d.Links, os.DevNull, extra.Name())
	}
	if d.Dir != dir || d.Env != "hello" {
		t.Errorf("dir %q env %q, want %q and hello", d.Dir, d.Env, dir)
	}
	if d.SessionID != d.Pid {
		t.Errorf("session %d, want a session of its own (pid %d)", d.SessionID, d.Pid)
	}
}

// Where the spawner thread cannot be set up, os/exec gives the same.
func TestStartDirect(t *testing.T) { checkStart(t, startDirect, inheritable(t)...) }

// inheritable lists this process's descriptors from 3 up without
// close-on-exec (left open by whoever ran the tests).
func inheritable(t *testing.T) []string {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestStartFromThePrivateTable(t *testing.T) {
	if theSpawner() == nil {
		t.Fatal("no spawner thread on this kernel")
	}
	checkStart(t, Start) // the spawner's table holds none of them
	// The fork came from the spawner's table: one thread whose table holds
	// stdio, /dev/null, the pidfd and the runtime's poller, while the
	// process holds the 50 above and more.
	var small [][]string
	threads, _ := os.ReadDir("/proc/self/task")
	for _, th := range threads {
		fds, _ := os.ReadDir("/proc/self/task/" + th.Name() + "/fd")
		if len(fds) <= 7 {
			var links []string
			for _, fd := range fds {
				link, _ := os.Readlink("/proc/self/task/" + th.Name() + "/fd/" + fd.Name())
				links = append(links, link)
			}
			small = append(small, links)
		}
	}
	if len(small) != 1 || !slices.Contains(small[0], os.DevNull) || !slices.Contains(small[0], "anon_inode:[pidfd]") ||
		!slices.Contains(small[0], "anon_inode:[eventpoll]") {
		t.Errorf("threads with a small table: %q, want the spawner's alone", small)
	}
}

func TestStartMissingProgram(t *testing.T) {
	_, err := Start(filepath.Join(t.TempDir(), "nothing"), []string{"nothing"}, Attr{})
	if !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), "nothing") {
		t.Fatalf("got %v, want ENOENT naming the program", err)
	}
	if _, err := Start("no-such-program-here", []string{"x"}, Attr{}); !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("got %v, want not found in PATH", err)
	}
}

// The spawner's table starts as a copy of the process's: a file open then
// must not stay open there once the process closes it. Run in a fresh
// process so the spawner starts while the listener is open.
func TestSpawnerKeepsNoCopies(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=closed-listener", "SPAWN_TEST_SOCKET="+filepath.Join(t.TempDir(), "s"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
}

func closedListenerHelper() error {
	path := os.Getenv("SPAWN_TEST_SOCKET")
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	p, err := Start("true", []string{"true"}, Attr{}) // starts the spawner
	if err != nil {
		return err
	}
	if _, err := p.Wait(); err != nil {
		return err
	}
	if theSpawner() == nil {
		return errors.New("no spawner thread")
	}
	l.Close()
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return errors.New("the listener still accepts connections after Close: the spawner kept a copy")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("dial: %v, want ECONNREFUSED", err)
	}
	return nil
}

// The spawner thread runs Go code like any other: it allocates, and so
// may start a garbage collection, and restarting the world polls the
// network poller from that thread. Its table must hold the poller then.
func TestSpawnerSurvivesCollections(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(1))
	// A large environment: the spawner's copies of it are most of what
	// the process allocates, so the collections start there.
	env := make([]string, 64)
	for i := range env {
		env[i] = fmt.Sprintf("V%d=%s", i, strings.Repeat("x", 8<<10))
	}
	var before debug.GCStats
	debug.ReadGCStats(&before)
	for i := 0; i < 300; i++ {
		p, err := Start("true", []string{"true"}, Attr{Env: env})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	var after debug.GCStats
	debug.ReadGCStats(&after)
	if after.NumGC-before.NumGC < 10 {
		t.Fatalf("only %d collections: the test did not exercise them", after.NumGC-before.NumGC)
	}
}
