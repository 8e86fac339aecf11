package shim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/seedrt/seed/sealedexe"
	"github.com/seedrt/seed/spawn"
)

// A spare shim is started before any task needs it, so that creating a
// task does not wait for a shim process to start: an exec and the Go
// runtime's start-up, about 3 ms of a `run --rm` on this project's machine.
//
// It is launched like any of our shims (listening socket on fd 3), with
// -spare instead of a task's flags, and the read end of a pipe, the
// lifeline, on fd 4; a sealed runc, if any, follows on fd 5. It waits on
// the lifeline. The daemon adopts it for a task by moving its socket to the
// task's path, writing the task (an adoption, as JSON) to the lifeline and
// closing it; the spare then serves exactly as a shim launched for that
// task would. A lifeline closed with nothing written (the daemon stopped,
// died, or no longer wants the spare) ends it.
const lifelineFD = 4

// adoption is what the daemon writes on a spare's lifeline.
type adoption struct {
	Namespace string `json:"namespace"`
	ID        string `json:"id"`
	Bundle    string `json:"bundle"`
	Socket    string `json:"socket"` // where the daemon moved our socket
}

// errNotAdopted ends a spare quietly.
var errNotAdopted = errors.New("spare shim not adopted")

// awaitAdoption blocks until the daemon adopts this spare or lets it go,
// and returns the flags of the task it serves. It faults the shim's code in
// first (a few hundred microseconds of an idle spare's time), so the task's
// first requests do not fault it in one page at a time; the trimmer drops
// it again once the shim is idle.
func awaitAdoption(f Flags) (Flags, error) {
	adviseOwnCode(unix.MADV_POPULATE_READ)
	lifeline := os.NewFile(lifelineFD, "lifeline")
	b, err := io.ReadAll(lifeline)
	lifeline.Close()
	if err != nil {
		return f, fmt.Errorf("read lifeline: %w", err)
	}
	if len(b) == 0 {
		return f, errNotAdopted
	}
	var a adoption
	if err := json.Unmarshal(b, &a); err != nil {
		return f, fmt.Errorf("adoption: %w", err)
	}
	if a.Namespace == "" || a.ID == "" || a.Bundle == "" || a.Socket == "" {
		return f, fmt.Errorf("adoption %q: namespace, id, bundle and socket are required", b)
	}
	// Be what Launch would have started: in the bundle, with NAMESPACE set.
	if err := os.Chdir(a.Bundle); err != nil {
		return f, fmt.Errorf("adoption: %w", err)
	}
	os.Setenv("NAMESPACE", a.Namespace)
	f.Namespace, f.ID, f.Bundle, f.movedSocket = a.Namespace, a.ID, a.Bundle, a.Socket
	return f, nil
}

// Spare is a spare shim as its launcher sees it.
type Spare struct {
	Process  *os.Process
	binary   string
	socket   string
	moved    bool     // the socket is a task's now
	lifeline *os.File // write end
}

// LaunchSpare starts a spare shim from binary, listening on socket
// (errShimRunning if a live process answers there). f gives the daemon's
// flags (Address, Debug); runc, if not nil, is handed over as Launch does.
// The caller must Wait for (or Release) the process.
func LaunchSpare(binary, socket string, f Flags, env []string, runc *sealedexe.Copy) (*Spare, error) {
	l, err := listenSocket(socket)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	sock, err := l.File()
	if err != nil {
		os.Remove(socket)
		return nil, fmt.Errorf("socket file: %w", err)
	}
	defer sock.Close()
	r, w, err := os.Pipe()
	if err != nil {
		os.Remove(socket)
		return nil, fmt.Errorf("lifeline: %w", err)
	}
	defer r.Close()

	args := []string{"-spare", "-address", f.Address}
	if f.Debug {
		args = append(args, "-debug")
	}
	args = append(args, "-argv-room", strings.Repeat(" ", argvRoom))
	attr := spawn.Attr{Dir: "/", Env: shimEnv(env), Files: []*os.File{sock, r}, Setsid: true}
	if runc != nil {
		attr.Files = append(attr.Files, runc.File)
		attr.Env = append(attr.Env, runc.Env(lifelineFD+1))
	}
	p, err := spawn.Start(binary, append([]string{binary}, args...), attr)
	if err != nil {
		w.Close()
		os.Remove(socket)
		return nil, fmt.Errorf("start spare shim: %w", err)
	}
	return &Spare{Process: p, binary: binary, socket: socket, lifeline: w}, nil
}

// Adopt gives the spare the task f names (Namespace, ID, Bundle, Address,
// SocketDir, as for Launch) and returns the address it serves it on. As
// with Launch, a shim already serving the task is kept, and the spare let
// go: adopted then says false. On error the spare is let go and its socket
// removed; the caller can Launch instead.
func (s *Spare) Adopt(f Flags) (address string, adopted bool, err error) {
	path := SocketPathIn(f.SocketDir, f.Address, f.Namespace, f.ID)
	address = "unix://" + path
	if _, err := os.Lstat(path); err == nil && socketAnswers(path) {
		s.Close()
		return address, false, nil
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	// The record first: should the daemon die from here on, recovery finds
	// the task's socket through it and removes it.
	if err := writeShimRecord(f.Bundle, s.binary, address, s.Process.Pid); err != nil {
		return "", false, err
	}
	if err := os.Rename(s.socket, path); err != nil {
		return "", false, fmt.Errorf("move spare's socket: %w", err)
	}
	s.moved = true
	msg, err := json.Marshal(adoption{Namespace: f.Namespace, ID: f.ID, Bundle: f.Bundle, Socket: path})
	if err != nil {
		os.Remove(path)
		return "", false, err
	}
	// One write below PIPE_BUF: whole, or not at all (EPIPE: the spare died).
	if _, err := s.lifeline.Write(msg); err != nil {
		os.Remove(path)
		return "", false, fmt.Errorf("adopt spare shim: %w", err)
	}
	s.lifeline.Close()
	return address, true, nil
}

// Socket is where the unadopted spare listens.
func (s *Spare) Socket() string { return s.socket }

// Close lets an unadopted spare go: it exits once it sees its lifeline
// closed (and removes its socket then; it goes now in case the spare is
// already dead).
func (s *Spare) Close() {
	s.lifeline.Close()
	if !s.moved {
		os.Remove(s.socket)
	}
}

// argvRoom is the length of the spaces a spare's command line ends with
// (the value of -argv-room): room for setCmdline to write the command line
// of the task the spare is adopted for.
const argvRoom = 1024

// setCmdline makes /proc/self/cmdline (what ps shows) read args: an adopted
// spare then shows the command line Launch would have given it (which task,
// which daemon) rather than "-spare". It overwrites the original argument
// strings, where the kernel reads the command line from, padding with NULs
// (which ps and most parsers drop at the end); args must fit in them (see
// argvRoom). os.Args points into that memory: Main clones it first.
func setCmdline(args []string) error {
	start, end, err := argArea()
	if err != nil {
		return err
	}
	var b []byte
	for _, a := range args {
		b = append(append(b, a...), 0)
	}
	if uintptr(len(b)) > end-start {
		return fmt.Errorf("set command line: %d bytes do not fit in %d", len(b), end-start)
	}
	b = append(b, make([]byte, int(end-start)-len(b))...)
	mem, err := os.OpenFile("/proc/self/mem", os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("set command line: %w", err)
	}
	defer mem.Close()
	if _, err := mem.WriteAt(b, int64(start)); err != nil {
		return fmt.Errorf("set command line: %w", err)
	}
	return nil
}

// argArea returns where the kernel reads our command line from
// (arg_start and arg_end, fields 48 and 49 of /proc/self/stat).
func argArea() (start, end uintptr, err error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, 0, err
	}
	// Fields counted after the command name, which may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("/proc/self/stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 47 {
		return 0, 0, errors.New("/proc/self/stat: too few fields")
	}
	s, err1 := strconv.ParseUint(f[45], 10, 64)
	e, err2 := strconv.ParseUint(f[46], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("/proc/self/stat: %w", err)
	}
	return uintptr(s), uintptr(e), nil
}
