package runtime

import (
	"os"

	"golang.org/x/sys/unix"
)

// reapInBackground collects the exit of a child the daemon started (a shim
// launched directly) whenever it ends, so it never lingers as a zombie,
// without holding an OS thread per child as os.Process.Wait would: the
// wait parks on the poller until the pidfd says the child exited. The
// channel closes once the child is reaped.
func reapInBackground(p *os.Process) <-chan struct{} {
	reaped := make(chan struct{})
	fd, err := unix.PidfdOpen(p.Pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		go func() { p.Wait(); close(reaped) }() // no pidfd: fall back to a thread
		return reaped
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		go func() { p.Wait(); close(reaped) }()
		return reaped
	}
	go func() {
		defer close(reaped)
		defer p.Release()
		defer f.Close()
		rc.Read(func(fd uintptr) bool {
			var info unix.Siginfo
			err := unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOHANG, nil)
			return err != unix.EAGAIN && !(err == nil && info.Signo == 0)
		})
	}()
	return reaped
}
