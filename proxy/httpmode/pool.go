package httpmode

import (
	"net"
	"sync"
	"syscall"
	"time"

	"appl/proxy/http1"
)

// Pool keeps idle keep-alive connections to one server for reuse by later requests
// (http-reuse safe: only a request that is not the first of its client connection takes
// one). The data plane creates one per server with NewPool and closes it when the
// server goes away.
type Pool struct {
	mu      sync.Mutex
	idle    []*srvConn // most recently used last
	max     int
	timeout time.Duration
	timer   *time.Timer
	closed  bool
}

// Pool defaults: HAProxy keeps idle server connections pool-purge-delay (5s).
const (
	DefaultPoolMax     = 64
	DefaultPoolTimeout = 5 * time.Second
)

// NewPool returns a pool holding at most maxIdle idle connections (0: DefaultPoolMax),
// each closed after idleTimeout unused (0: DefaultPoolTimeout).
func NewPool(maxIdle int, idleTimeout time.Duration) *Pool {
	if maxIdle <= 0 {
		maxIdle = DefaultPoolMax
	}
	if idleTimeout <= 0 {
		idleTimeout = DefaultPoolTimeout
	}
	return &Pool{max: maxIdle, timeout: idleTimeout}
}

// Idle returns the number of idle connections held.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Close closes every idle connection; later puts close theirs at once.
func (p *Pool) Close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	if p.timer != nil {
		p.timer.Stop()
	}
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

// get returns a live idle connection, or nil.
func (p *Pool) get() *srvConn {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if c.alive() {
			return c
		}
		c.close()
	}
}

// put offers an idle connection; it is closed when the pool is full or closed.
func (p *Pool) put(c *srvConn) {
	c.idleSince = time.Now()
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.max {
		p.mu.Unlock()
		c.close()
		return
	}
	p.idle = append(p.idle, c)
	if p.timer == nil {
		p.timer = time.AfterFunc(p.timeout, p.purge)
	} else if len(p.idle) == 1 {
		p.timer.Reset(p.timeout)
	}
	p.mu.Unlock()
}

// purge closes the connections idle for longer than the timeout.
func (p *Pool) purge() {
	now := time.Now()
	var old []*srvConn
	p.mu.Lock()
	keep := p.idle[:0]
	for _, c := range p.idle {
		if now.Sub(c.idleSince) >= p.timeout {
			old = append(old, c)
		} else {
			keep = append(keep, c)
		}
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	if len(keep) > 0 && !p.closed {
		p.timer.Reset(p.timeout - now.Sub(keep[0].idleSince))
	}
	p.mu.Unlock()
	for _, c := range old {
		c.close()
	}
}

// srvConn is one connection to a server with its read window.
type srvConn struct {
	conn      net.Conn
	rc        syscall.RawConn // nil when not a socket (TLS, tests over net.Pipe)
	dr        deadlineReader
	w         deadlineWriter // request writes; its deadline outlives one request
	rio, wio  rawIO
	r         *http1.Reader
	pool      *Pool
	idleSince time.Time
	uses      int
	buf       []byte
	bufp      *[]byte // buf's box for srvBufPool; nil once recycled
}

func newSrvConn(c net.Conn, pool *Pool, bufSize int) *srvConn {
	bp := getSrvBuf(bufSize)
	sc := &srvConn{conn: c, pool: pool, buf: *bp, bufp: bp}
	rc := socketRawConn(c)
	sc.rc = rc
	sc.dr.conn = c
	sc.dr.raw = sc.rio.bind(rc, false)
	sc.w = deadlineWriter{conn: c, raw: sc.wio.bind(rc, true)}
	sc.r = http1.NewReader(&sc.dr, sc.buf)
	return sc
}

// close closes the connection and recycles its read window. Only the connection's
// owner calls it, once it is done with the window: the session that uses it, or the
// pool while it is idle there (abort and the request body goroutine close sc.conn
// itself, which leaves the window alone). A second close does not recycle twice.
func (c *srvConn) close() {
	c.conn.Close()
	if c.bufp != nil {
		c.r.Reset(nil)
		srvBufPool.Put(c.bufp)
		c.bufp, c.buf = nil, nil
	}
}

// srvBufPool recycles server read windows: a connection per request (httpclose,
// http-server-close, reuse safe's first request) would otherwise allocate and clear
// one each time.
var srvBufPool sync.Pool // of *[]byte

func getSrvBuf(n int) *[]byte {
	if v := srvBufPool.Get(); v != nil {
		if b := v.(*[]byte); len(*b) == n {
			return b
		}
	}
	b := make([]byte, n)
	return &b
}

// alive peeks at an idle connection without blocking: a server that closed it (EOF) or
// sent unsolicited bytes makes it unusable. Non-TCP connections are assumed alive.
func (c *srvConn) alive() bool {
	if len(c.r.Buffered()) > 0 {
		return false
	}
	if c.rc == nil {
		return true
	}
	ok := false
	var b [1]byte
	rerr := c.rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true
	})
	return rerr == nil && ok
}
