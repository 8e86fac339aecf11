package stdio

import (
	"io"
	"sync"
)

// bufSize matches the pipe buffer, so one read empties a full pipe.
const bufSize = 32 << 10

var buffers = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// copyBuffer is io.CopyBuffer with a pooled buffer.
func copyBuffer(dst io.Writer, src io.Reader) (int64, error) {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	return io.CopyBuffer(dst, src, *bp)
}
