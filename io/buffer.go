package stdio

import (
	"io"
	"sync"
)

// bufSize matches the pipe buffer, so one read empties a full pipe.
const bufSize = 32 << 10

var buffers = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// copyBuffer is io.CopyBuffer with a pooled buffer. The wrappers hide the
// source's WriteTo and the destination's ReadFrom: for our pipes, FIFOs and
// append-mode log files those end in io.Copy with a buffer of its own, so a
// stream held a second 32 KiB buffer for its whole life and the pooled one
// went unused.
func copyBuffer(dst io.Writer, src io.Reader) (int64, error) {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *bp)
}
