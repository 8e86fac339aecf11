package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
	"golang.org/x/sys/unix"

	"github.com/seedrt/seed/coordinator/failpoint"
	"github.com/seedrt/seed/coordinator/metadata"
	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/shim"
	shimevents "github.com/seedrt/seed/shimapi/events"
	"github.com/seedrt/seed/shimapi/shimv1"
	"github.com/seedrt/seed/shimapi/task"
)

const shimPidFile = "shim.pid"

// createV1 starts a v1 shim the way containerd 1.6 does (the daemon makes the
// socket and hands it over as fd 3) and creates the task through it.
func (m *Manager) createV1(ctx context.Context, t *Task, rt runtime, c metadata.Container, o CreateOpts) error {
	address, err := m.startV1(rt, t)
	if err != nil {
		return err
	}
	failpoint.Hit("create-after-shim-start")
	if t.shim, err = dialV1(m, t, address); err != nil {
		return err
	}
	v := t.shim.task.(*v1Task)
	runc := rt.Runc
	if runc == "" {
		runc = "runc"
	}
	resp, err := v.svc.Create(ctx, &shimv1.CreateTaskRequest{
		ID: t.ID, Bundle: t.Bundle, Runtime: runc, Rootfs: o.Rootfs, Terminal: o.Terminal,
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr,
	})
	if err != nil {
		return errdefs.FromGRPC(err)
	}
	t.pid = resp.Pid
	m.publish(t.Namespace, "/tasks/create", &shimevents.TaskCreate{
		ContainerID: t.ID, Bundle: t.Bundle, Rootfs: o.Rootfs, Pid: resp.Pid,
		IO: &shimevents.TaskIO{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Terminal: o.Terminal},
	})
	return nil
}

// startV1 launches the shim on a socket the daemon listens on, and records
// its address and pid in the bundle.
func (m *Manager) startV1(rt runtime, t *Task) (string, error) {
	path := shim.SocketPathIn(m.cfg.SocketDir, m.cfg.Address, t.Namespace, t.ID)
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return "", fmt.Errorf("v1 shim socket dir: %w", err)
	}
	os.Remove(path) // a stale socket of a dead shim
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return "", fmt.Errorf("v1 shim socket: %w", err)
	}
	l.SetUnlinkOnClose(false) // the shim owns it from now on
	defer l.Close()
	sock, err := l.File()
	if err != nil {
		return "", err
	}
	defer sock.Close()

	workdir := filepath.Join(m.cfg.Root, "v1", t.Namespace, t.ID)
	if err := os.MkdirAll(workdir, 0o711); err != nil {
		return "", fmt.Errorf("v1 shim workdir: %w", err)
	}
	args := []string{"-namespace", t.Namespace, "-workdir", workdir, "-address", m.cfg.Address,
		"-containerd-binary", m.cfg.PublishBinary, "-runtime-root", rt.RuncRoot}
	if rt.SystemdCgroup {
		args = append(args, "-systemd-cgroup")
	}
	if m.cfg.Debug {
		args = append(args, "-debug")
	}
	cmd := exec.Command(rt.Shim, args...)
	cmd.Dir = t.Bundle
	cmd.ExtraFiles = []*os.File{sock}
	cmd.Env = append(os.Environ(), "GOMAXPROCS=2")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if log, err := os.OpenFile(filepath.Join(t.Bundle, "log"), os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		cmd.Stdout, cmd.Stderr = log, log
		defer log.Close()
	}
	if err := cmd.Start(); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("start v1 shim %s: %w", rt.Shim, err)
	}
	address := "unix://" + path
	err = os.WriteFile(filepath.Join(t.Bundle, addressFile), []byte(address), 0o600)
	if err == nil {
		err = os.WriteFile(filepath.Join(t.Bundle, shimPidFile), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600)
	}
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return "", err
	}
	reapInBackground(cmd.Process)
	return address, nil
}

// dialV1 connects to a v1 shim and wraps it in the v2 task interface.
func dialV1(m *Manager, t *Task, address string) (*shimConn, error) {
	conn, err := net.DialTimeout("unix", strings.TrimPrefix(address, "unix://"), shimStartTimeout)
	if err != nil {
		return nil, fmt.Errorf("dial v1 shim %s: %w", address, err)
	}
	client := ttrpc.NewClient(conn, ttrpc.WithOnClose(t.onShimClosed))
	v := &v1Task{m: m, ns: t.Namespace, id: t.ID, svc: shimv1.NewShimClient(client)}
	if b, err := os.ReadFile(filepath.Join(t.Bundle, shimPidFile)); err == nil {
		v.pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	return &shimConn{client: client, task: v}, nil
}

// cleanupShim undoes what a task's shim left when the shim is gone. Our
// shim (either protocol) does it itself with `delete`; for a foreign v1
// shim the daemon force-deletes the runc container and unmounts the rootfs.
func (m *Manager) cleanupShim(rec bundleRecord, ns, id, bundle string) (*task.DeleteResponse, error) {
	defer os.RemoveAll(filepath.Join(m.cfg.Root, "v1", ns, id))
	if rec.Protocol != ProtocolV1 || isOurShim(bundle) {
		binary := rec.Binary
		if binary == "" || rec.Protocol == ProtocolV1 {
			binary = m.cfg.ShimBinary
		}
		return m.deleteShim(binary, ns, id, bundle)
	}
	resp := &task.DeleteResponse{ExitStatus: 128 + uint32(unix.SIGKILL), ExitedAt: time.Now().UTC()}
	if b, err := os.ReadFile(filepath.Join(bundle, "init.pid")); err == nil {
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		resp.Pid = uint32(pid)
	}
	runc := rec.Runc
	if runc == "" {
		runc = "runc"
	}
	ctx, cancel := context.WithTimeout(context.Background(), shimDeleteTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, runc, "--root", filepath.Join(rec.RuncRoot, ns), "delete", "--force", id).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "does not exist") {
		err = fmt.Errorf("runc delete %s: %v: %s", id, err, out)
	} else {
		err = nil
	}
	rootfs := filepath.Join(bundle, "rootfs")
	for unix.Unmount(rootfs, unix.MNT_DETACH) == nil {
	}
	return resp, errors.Join(err)
}
