package shim

import "golang.org/x/sys/unix"

func sysSignal(sig int) unix.Signal { return unix.Signal(sig) }
