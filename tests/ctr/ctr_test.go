package ctr

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seedrt/seed/tests/testutil"
)

// TestCtr drives our ctr binary against each daemon under test.
func TestCtr(t *testing.T) {
	forEachDaemon(t, func(t *testing.T, address string) {
		t.Run("run-rm", func(t *testing.T) { testRunRm(t, newEnv(t, address)) })
		t.Run("run-stdio", func(t *testing.T) { testRunStdio(t, newEnv(t, address)) })
		t.Run("run-signals", func(t *testing.T) { testRunSignals(t, newEnv(t, address)) })
		t.Run("run-tty", func(t *testing.T) { testRunTTY(t, newEnv(t, address)) })
		t.Run("detached-lifecycle", func(t *testing.T) { testDetachedLifecycle(t, newEnv(t, address)) })
		t.Run("attach", func(t *testing.T) { testAttach(t, newEnv(t, address)) })
		t.Run("create-start-info", func(t *testing.T) { testCreateStartInfo(t, newEnv(t, address)) })
		t.Run("events", func(t *testing.T) { testEvents(t, newEnv(t, address)) })
		t.Run("errors", func(t *testing.T) { testErrors(t, newEnv(t, address)) })
		t.Run("version-namespaces", func(t *testing.T) { testVersionNamespaces(t, newEnv(t, address)) })
	})
}

// ctr run --rm: output, exit code, nothing left; one RPC per step.
func testRunRm(t *testing.T, e *env) {
	calls, out := e.recordCtr(e.runArgs("--rm", "r1", "/bin/echo", "hi")...)
	if out != "hi\n" {
		t.Errorf("run echo hi: stdout %q, want %q", out, "hi\n")
	}
	wantCalls(t, "run --rm", calls, "C/Create", "T/Create", "T/Wait", "T/Start", "T/Delete", "C/Delete")

	stdout, stderr, code := e.ctr(e.runArgs("--rm", "r2", "/bin/sh", "-c", "echo out; echo err >&2; exit 3")...)
	if code != 3 || stdout != "out\n" || stderr != "err\n" {
		t.Errorf("run sh -c 'exit 3': exit %d, stdout %q, stderr %q; want 3, %q, %q", code, stdout, stderr, "out\n", "err\n")
	}
	if out := e.mustCtr("containers", "ls", "-q"); out != "" {
		t.Errorf("containers left after run --rm: %q", out)
	}
}

// Stdin reaches the process and its end closes the process's stdin; a log
// URI gets the output instead of ctr; null IO prints nothing.
func testRunStdio(t *testing.T, e *env) {
	stdout, stderr, code := e.ctrIn("hello\nworld\n", e.runArgs("--rm", "s1", "/bin/cat")...)
	if code != 0 || stdout != "hello\nworld\n" {
		t.Errorf("run cat: exit %d, stdout %q (stderr %q), want 0 and the input", code, stdout, stderr)
	}

	log := filepath.Join(t.TempDir(), "out.log")
	if out := e.mustCtr(e.runArgs("--rm", "--log-uri", "file://"+log, "s2", "/bin/echo", "logged")...); out != "" {
		t.Errorf("run --log-uri: ctr printed %q", out)
	}
	if b, err := os.ReadFile(log); err != nil || string(b) != "logged\n" {
		t.Errorf("log file: %q, %v; want %q", b, err, "logged\n")
	}

	if out := e.mustCtr(e.runArgs("--rm", "--null-io", "s3", "/bin/echo", "lost")...); out != "" {
		t.Errorf("run --null-io: ctr printed %q", out)
	}
}

// Signals to an attached ctr are forwarded to the task.
func testRunSignals(t *testing.T, e *env) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	args := append([]string{"--address", e.address, "-n", e.ns}, e.runArgs("--rm", "g1", "/bin/sh", "-c", `trap "echo got TERM; exit 9" TERM; echo ready; while :; do sleep 0.05; done`)...)
	cmd := exec.CommandContext(ctx, e.ctrPath, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	if line, err := r.ReadString('\n'); line != "ready\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	rest, _ := io.ReadAll(r)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 9 || string(rest) != "got TERM\n" {
		t.Errorf("after SIGTERM to ctr: %v, output %q; want exit 9 and %q", err, rest, "got TERM\n")
	}
}

// run -t gives the process a terminal even when ctr has none, sends the
// window size right after Start, and passes the exit code on.
func testRunTTY(t *testing.T, e *env) {
	calls, out := e.recordCtr(e.runArgs("--rm", "-t", "y1", "/bin/sh", "-c", "tty; echo $TERM")...)
	if !strings.HasPrefix(out, "/dev/pts/") || !strings.Contains(out, "xterm") {
		t.Errorf("run -t tty: %q, want a /dev/pts/ path and TERM=xterm", out)
	}
	// No terminal on ctr's side here, so no size to send.
	wantCalls(t, "run -t --rm", calls, "C/Create", "T/Create", "T/Wait", "T/Start", "T/Delete", "C/Delete")

	if _, _, code := e.ctr(e.runArgs("--rm", "-t", "y2", "/bin/sh", "-c", "exit 4")...); code != 4 {
		t.Errorf("run -t sh -c 'exit 4': exit %d, want 4", code)
	}

	// With a terminal (script's pty): raw mode, and its size sent after Start.
	script := testutil.RequireBinary(t, "script")
	if e.rec == nil {
		e.rec = startRecorder(t, e.address)
	}
	e.rec.reset()
	args := append([]string{e.ctrPath, "--address", e.rec.address, "-n", e.ns}, e.runArgs("--rm", "-t", "y3", "/bin/sh", "-c", "stty -a | grep -o -- -icanon; read line; echo got $line")...)
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "-qec", strings.Join(quoted, " "), "/dev/null")
	cmd.Stdin = strings.NewReader("typed\n")
	raw, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(raw), "got typed") {
		t.Errorf("run -t under script: %v, output %q", err, raw)
	}
	calls, _ = e.rec.take()
	wantCalls(t, "run -t --rm with a terminal", calls, "C/Create", "T/Create", "T/Wait", "T/Start", "T/ResizePty", "T/Delete", "C/Delete")
}

// run -d, then each tasks command on the running task.
func testDetachedLifecycle(t *testing.T, e *env) {
	const id = "d1"
	calls, out := e.recordCtr(e.runArgs("-d", id, "/bin/sleep", "300")...)
	if out != "" {
		t.Errorf("run -d printed %q", out)
	}
	wantCalls(t, "run -d", calls, "C/Create", "T/Create", "T/Start")
	state, pid := e.taskState(id)
	if state != "RUNNING" || pid == "" || pid == "0" {
		t.Fatalf("tasks ls: %s is %q with pid %q, want RUNNING with a pid", id, state, pid)
	}
	calls, _ = e.recordCtr("tasks", "ls")
	wantCalls(t, "tasks ls", calls, "T/List")
	calls, _ = e.recordCtr("containers", "ls")
	wantCalls(t, "containers ls", calls, "C/ListStream")

	calls, out = e.recordCtr("tasks", "exec", "--fifo-dir", e.fifoDir, "--exec-id", "e1", id, "/bin/sh", "-c", "echo $PATH")
	if !strings.Contains(out, "/bin") {
		t.Errorf("exec echo $PATH: %q, want the container's PATH", out)
	}
	wantCalls(t, "tasks exec", calls, "C/Get", "T/Exec", "T/Wait", "T/Start", "T/DeleteProcess")
	if _, _, code := e.ctr("tasks", "exec", "--fifo-dir", e.fifoDir, "--exec-id", "e2", id, "/bin/sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exec sh -c 'exit 7': exit %d, want 7", code)
	}

	e.mustCtr("tasks", "exec", "-d", "--exec-id", "e3", id, "/bin/sleep", "300")
	var ps string
	testutil.WaitFor(t, 10*time.Second, func() bool {
		ps = e.mustCtr("tasks", "ps", id)
		return strings.Contains(ps, "e3")
	}, "tasks ps to list exec e3")
	if lines := strings.Split(strings.TrimSpace(ps), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "PID") || !strings.HasPrefix(lines[1], pid) && !strings.HasPrefix(lines[2], pid) {
		t.Errorf("tasks ps: want a header, the init pid %s and exec e3, got:\n%s", pid, ps)
	}
	calls, _ = e.recordCtr("tasks", "ps", id)
	wantCalls(t, "tasks ps", calls, "T/ListPids")

	calls, _ = e.recordCtr("tasks", "pause", id)
	wantCalls(t, "tasks pause", calls, "T/Pause")
	if st, _ := e.taskState(id); st != "PAUSED" {
		t.Errorf("after pause: %s is %q, want PAUSED", id, st)
	}
	calls, _ = e.recordCtr("tasks", "resume", id)
	wantCalls(t, "tasks resume", calls, "T/Resume")
	if st, _ := e.taskState(id); st != "RUNNING" {
		t.Errorf("after resume: %s is %q, want RUNNING", id, st)
	}

	// A running task is neither deleted nor has its container removed.
	if _, stderr, code := e.ctr("tasks", "rm", id); code != 1 || !strings.Contains(stderr, "must be stopped") {
		t.Errorf("tasks rm of a running task: exit %d, stderr %q", code, stderr)
	}
	if _, stderr, code := e.ctr("containers", "rm", id); code != 1 || !strings.Contains(stderr, "must be stopped") {
		t.Errorf("containers rm of a running task: exit %d, stderr %q", code, stderr)
	}

	calls, _ = e.recordCtr("tasks", "kill", "-s", "SIGKILL", id)
	wantCalls(t, "tasks kill", calls, "T/Kill")
	e.waitState(id, "STOPPED")
	calls, _ = e.recordCtr("tasks", "rm", id)
	wantCalls(t, "tasks rm", calls, "T/Get", "T/Delete")
	if st, _ := e.taskState(id); st != "" {
		t.Errorf("after tasks rm: %s still listed as %q", id, st)
	}
	calls, _ = e.recordCtr("containers", "rm", id)
	wantCalls(t, "containers rm", calls, "T/Get", "C/Delete")
	if out := e.mustCtr("containers", "ls", "-q"); out != "" {
		t.Errorf("after containers rm: %q listed", out)
	}

	// tasks rm -f kills first; containers rm deletes a stopped task too.
	e.mustCtr(e.runArgs("-d", "d2", "/bin/sleep", "300")...)
	e.mustCtr("tasks", "rm", "-f", "d2")
	e.mustCtr("containers", "rm", "d2")
	e.mustCtr(e.runArgs("-d", "d3", "/bin/true")...)
	e.waitState("d3", "STOPPED")
	e.mustCtr("containers", "rm", "d3")
	if out := e.mustCtr("containers", "ls", "-q"); out != "" {
		t.Errorf("after rm -f: %q listed", out)
	}
}

// tasks attach reconnects to the FIFOs of a detached task, feeds it ctr's
// stdin until the task exits, then deletes it and its FIFOs.
func testAttach(t *testing.T, e *env) {
	e.mustCtr(e.runArgs("-d", "a1", "/bin/sh")...)
	calls, out := e.recordCtrIn("echo attached; exit 0\n", "tasks", "attach", "a1")
	if out != "attached\n" {
		t.Errorf("tasks attach: stdout %q, want %q", out, "attached\n")
	}
	wantCalls(t, "tasks attach", calls, "T/Get", "T/Wait", "T/Delete")

	e.mustCtr(e.runArgs("-d", "a2", "/bin/sh")...)
	if _, _, code := e.ctrIn("exit 3\n", "tasks", "attach", "a2"); code != 3 {
		t.Errorf("tasks attach to sh, exit 3: ctr exited %d", code)
	}
	e.mustCtr("containers", "rm", "a1", "a2")
}

// containers create + info, then tasks start attached and detached.
func testCreateStartInfo(t *testing.T, e *env) {
	const id = "c1"
	calls, _ := e.recordCtr("containers", "create", "--rootfs", e.rootfs, "--env", "GREETING=hello", "--cwd", "/tmp", id, "/bin/sh", "-c", "echo $GREETING from $(pwd)")
	wantCalls(t, "containers create", calls, "C/Create")

	calls, out := e.recordCtr("containers", "info", id)
	wantCalls(t, "containers info", calls, "C/Get")
	var info struct {
		ID      string
		Runtime struct{ Name string }
		Spec    struct {
			Process struct {
				Args []string
				Env  []string
				Cwd  string
			}
			Linux struct{ CgroupsPath string }
		}
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("containers info: %v\n%s", err, out)
	}
	if info.ID != id || info.Runtime.Name != "io.containerd.runc.v2" || info.Spec.Process.Cwd != "/tmp" ||
		!reflect.DeepEqual(info.Spec.Process.Args, []string{"/bin/sh", "-c", "echo $GREETING from $(pwd)"}) ||
		info.Spec.Linux.CgroupsPath != "/"+e.ns+"/"+id {
		t.Errorf("containers info: unexpected record:\n%s", out)
	}

	stdout, stderr, code := e.ctr("tasks", "start", "--fifo-dir", e.fifoDir, id)
	if code != 0 || stdout != "hello from /tmp\n" {
		t.Errorf("tasks start: exit %d, stdout %q (stderr %q)", code, stdout, stderr)
	}
	// The task was deleted after it exited; the container stays.
	if st, _ := e.taskState(id); st != "" {
		t.Errorf("after attached tasks start: task listed as %q", st)
	}
	e.mustCtr("tasks", "start", "-d", "--fifo-dir", e.fifoDir, id)
	e.waitState(id, "STOPPED")
	e.mustCtr("tasks", "rm", id)
	e.mustCtr("containers", "rm", id)
}

// ctr events with a filter prints matching events only.
func testEvents(t *testing.T, e *env) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	// The namespace condition keeps out events a daemon replays to late
	// subscribers (ours does, for a while after it starts).
	filter := fmt.Sprintf(`topic=="/tasks/exit",namespace==%q`, e.ns)
	cmd := exec.CommandContext(ctx, e.ctrPath, "--address", e.address, "-n", e.ns, "events", filter)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		wg.Wait()
		if err := cmd.Wait(); err != nil {
			t.Errorf("ctr events after SIGINT: %v", err)
		}
	}()

	// The subscription is live some time after ctr starts: run containers
	// until one's exit is seen.
	for i := 0; ; i++ {
		id := "ev" + string(rune('a'+i))
		if _, stderr, code := e.ctr(e.runArgs("--rm", id, "/bin/sh", "-c", "exit 5")...); code != 5 {
			t.Fatalf("run sh -c 'exit 5': exit %d, stderr %q", code, stderr)
		}
		select {
		case line := <-lines:
			f := strings.SplitN(line, " ", 7) // date time zone zone-name ns topic event
			if len(f) != 7 || f[4] != e.ns || f[5] != "/tasks/exit" {
				t.Fatalf("events line %q: want TIME %s /tasks/exit EVENT", line, e.ns)
			}
			var ev struct {
				ContainerID string `json:"container_id"`
				ExitStatus  int    `json:"exit_status"`
			}
			if err := json.Unmarshal([]byte(f[6]), &ev); err != nil || ev.ExitStatus != 5 || !strings.HasPrefix(ev.ContainerID, "ev") {
				t.Fatalf("events line %q: event %+v, %v", line, ev, err)
			}
			select {
			case line := <-lines:
				t.Errorf("events: unexpected second line %q", line)
			case <-time.After(300 * time.Millisecond):
			}
			return
		case <-time.After(500 * time.Millisecond):
			if i == 10 {
				t.Fatal("ctr events printed no /tasks/exit event")
			}
		}
	}
}

// Errors: clear messages, exit 1, nothing created.
func testErrors(t *testing.T, e *env) {
	for _, args := range [][]string{
		{"tasks", "kill", "nope"},
		{"tasks", "pause", "nope"},
		{"tasks", "ps", "nope"},
		{"tasks", "rm", "nope"},
		{"tasks", "start", "nope"},
		{"tasks", "exec", "--exec-id", "x", "nope", "/bin/true"},
		{"containers", "info", "nope"},
		{"containers", "rm", "nope"},
	} {
		if _, stderr, code := e.ctr(args...); code != 1 || stderr != "ctr: container \"nope\": not found\n" {
			t.Errorf("ctr %s: exit %d, stderr %q; want 1, container \"nope\": not found", strings.Join(args, " "), code, stderr)
		}
	}

	e.mustCtr("containers", "create", "--rootfs", e.rootfs, "dup", "/bin/true")
	if _, stderr, code := e.ctr(e.runArgs("--rm", "dup", "/bin/true")...); code != 1 || !strings.Contains(stderr, `container "dup": already exists`) {
		t.Errorf("run with a duplicate id: exit %d, stderr %q", code, stderr)
	}
	if _, stderr, code := e.ctr("tasks", "kill", "dup"); code != 1 || !strings.Contains(stderr, `task "dup": not found`) {
		t.Errorf("kill of a container without task: exit %d, stderr %q", code, stderr)
	}
	e.mustCtr("containers", "rm", "dup")

	missing := filepath.Join(t.TempDir(), "missing")
	if _, stderr, code := e.ctr("run", "--rm", "--rootfs", missing, "m1", "/bin/true"); code != 1 || stderr != "ctr: rootfs "+missing+": no such directory\n" {
		t.Errorf("run with a missing rootfs: exit %d, stderr %q", code, stderr)
	}
	if out := e.mustCtr("containers", "ls", "-q"); out != "" {
		t.Errorf("containers left after failed runs: %q", out)
	}

	dead := filepath.Join(t.TempDir(), "none.sock")
	if _, stderr, code := e.ctrAt(dead, "", "tasks", "ls"); code != 1 || stderr != "ctr: cannot connect to daemon at "+dead+": is it running?\n" {
		t.Errorf("ctr against no daemon: exit %d, stderr %q", code, stderr)
	}
	if _, stderr, code := e.ctr("frobnicate"); code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, stderr)
	}
}

func testVersionNamespaces(t *testing.T, e *env) {
	calls, out := e.recordCtr("version")
	wantCalls(t, "version", calls, "V/Version")
	if !strings.Contains(out, "Server:") || !strings.Contains(out, "Version:") {
		t.Errorf("version: %q", out)
	}
	e.mustCtr("namespaces", "create", e.ns, "team=seed")
	calls, out = e.recordCtr("namespaces", "ls")
	wantCalls(t, "namespaces ls", calls, "N/List")
	if !strings.Contains(out, e.ns) || !strings.Contains(out, "team=seed") {
		t.Errorf("namespaces ls: %s not listed with its label:\n%s", e.ns, out)
	}
	e.mustCtr("ns", "rm", e.ns)
	if out := e.mustCtr("ns", "ls", "-q"); strings.Contains(out, e.ns) {
		t.Errorf("namespaces ls after rm still lists %s", e.ns)
	}
}

func wantCalls(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s called %v, want %v", what, got, want)
	}
}
