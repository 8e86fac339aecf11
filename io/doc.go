// Package stdio connects a container process's stdio to its clients: the
// FIFOs (or log files) named in a create/exec request on one side, pipes or a
// pty master on the other. It lives in the directory io/ but is named stdio so
// it never shadows the standard library's io.
//
// Two promises shape it:
//   - a client that goes away never blocks the container: output to a FIFO
//     nobody reads is discarded, and the FIFO is reopened when a reader comes
//     back (a client re-attaching after a daemon restart);
//   - a process is finished when it exits: output still held open by a
//     background child is drained for a bounded time, then closed.
package stdio
