package runtime

import (
	"os"

	"golang.org/x/sys/unix"
)

// reapInBackground collects the exit of a child the daemon started (a shim
// launched directly) whenever it ends, so it never lingers as a zombie,
// without holding an OS thread per child as os.Process.Wait would: the
// wait parks on the poller until the pidfd says the child exited.
func reapInBackground(p *os.Process) {
	fd, err := unix.PidfdOpen(p.Pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		go p.Wait() // no pidfd: fall back to a thread
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		go p.Wait()
		return
	}
	go func() {
		defer p.Release()
		defer f.Close()
		rc.Read(func(fd uintptr) bool {
			var info unix.Siginfo
			err := unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOHANG, nil)
			return err != unix.EAGAIN && !(err == nil && info.Signo == 0)
		})
	}()
}
