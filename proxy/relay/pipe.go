package relay

import (
	"sync"

	"golang.org/x/sys/unix"
)

// bufSize is the copy-mode buffer: reads that fill it switch a direction to splice.
const bufSize = 16 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// pipe is a kernel pipe used as the splice buffer. It is only pooled when empty.
type pipe struct {
	r, w int
}

// pipePool keeps drained pipes for reuse. Its size bounds the fds held while idle; beyond
// it, returned pipes are closed.
type pipePool struct {
	mu   sync.Mutex
	free []*pipe
	max  int
}

var pool = pipePool{max: 256}

// pipeSize is the capacity asked for each pipe (the default is 64 KiB).
const pipeSize = 1 << 20

func (p *pipePool) get() (*pipe, error) {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		pp := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return pp, nil
	}
	p.mu.Unlock()
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, err
	}
	// A larger pipe moves more per splice pair on bulk transfers. The kernel allocates
	// its pages only as data goes through, so an empty pooled pipe costs nothing more.
	unix.FcntlInt(uintptr(fds[1]), unix.F_SETPIPE_SZ, pipeSize)
	return &pipe{r: fds[0], w: fds[1]}, nil
}

// put returns an empty pipe; a pipe that may still hold bytes must be closed instead.
func (p *pipePool) put(pp *pipe) {
	p.mu.Lock()
	if len(p.free) < p.max {
		p.free = append(p.free, pp)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	pp.close()
}

func (pp *pipe) close() {
	unix.Close(pp.r)
	unix.Close(pp.w)
}

// PooledPipes reports how many idle pipes the pool holds (tests, status).
func PooledPipes() int {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	return len(pool.free)
}
