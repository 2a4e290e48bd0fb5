package evloop

import (
	"sync"

	"golang.org/x/sys/unix"
)

// bufSize is the copy buffer: a read that fills it switches the direction to splice.
const bufSize = 16 << 10

// pipeSize is the capacity asked for each splice pipe (the default is 64 KiB).
const pipeSize = 1 << 20

// pipe is a kernel pipe used as the splice buffer.
type pipe struct{ r, w int }

func (pp *pipe) close() {
	unix.Close(pp.r)
	unix.Close(pp.w)
}

// Buffers and pipes are cached per loop (no lock: only the loop touches its cache) up
// to these counts; beyond, buffers go to the garbage collector and pipes are closed.
const (
	maxFreeBufs  = 64
	maxFreePipes = 64
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

func (l *loop) getBuf() *[]byte {
	if n := len(l.bufs); n > 0 {
		b := l.bufs[n-1]
		l.bufs = l.bufs[:n-1]
		return b
	}
	return bufPool.Get().(*[]byte)
}

func (l *loop) putBuf(b *[]byte) {
	if len(l.bufs) < maxFreeBufs {
		l.bufs = append(l.bufs, b)
		return
	}
	bufPool.Put(b)
}

func (l *loop) getPipe() (*pipe, error) {
	if n := len(l.pipes); n > 0 {
		pp := l.pipes[n-1]
		l.pipes = l.pipes[:n-1]
		return pp, nil
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, err
	}
	// A larger pipe moves more per splice pair; its pages are only allocated while data
	// goes through, so an empty cached pipe costs nothing more.
	unix.FcntlInt(uintptr(fds[1]), unix.F_SETPIPE_SZ, pipeSize)
	return &pipe{r: fds[0], w: fds[1]}, nil
}

// putPipe takes back an empty pipe.
func (l *loop) putPipe(pp *pipe) {
	if len(l.pipes) < maxFreePipes {
		l.pipes = append(l.pipes, pp)
		return
	}
	pp.close()
}
