package evloop

import (
	"container/heap"
	"net"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Options are the timeouts of one relayed connection. Zero means none.
type Options struct {
	// Idle is the inactivity timeout of each side (timeout client, timeout server, or
	// timeout tunnel for both). Activity in either direction counts for both sides.
	Idle [2]time.Duration
	// Fin replaces the idle timeout once that side has shut its write (client-fin,
	// server-fin).
	Fin [2]time.Duration
	// OnPanic is told about a panic recovered while handling the connection (it is then
	// aborted with cause 'P').
	OnPanic func(v any)
}

// Result is what a finished connection reports.
type Result struct {
	// Bytes[Client] were read from the client and sent to the server; Bytes[Server] the
	// reverse.
	Bytes [2]int64
	// Cause is HAProxy's first termination letter: '-' both sides closed normally,
	// 'C'/'S' the client/server aborted, 'c'/'s' a client/server side timeout, or the
	// letter given to Kill.
	Cause byte
}

// Conn is one connection relayed by a loop.
type Conn struct {
	l       *loop
	fd      [2]int
	st      state
	reg     [2]uint32 // events registered per socket; 0: not in the epoll set
	flow    [2]flow   // per direction, by source side
	bytes   [2]atomic.Int64
	cause   atomic.Uint32
	started atomic.Bool
	done    func(Result)
	onPanic func(any)
	dead    bool
	hidx    int   // index in the loop's timer heap, -1 when not in it
	hat     int64 // when the loop looks at the connection again (unix ns)
}

// flow is what one direction read and has not written yet.
type flow struct {
	buf    *[]byte // copy mode: buffer holding buf[off:n]
	off, n int
	pp     *pipe // splice mode: pipe holding inPipe bytes
	inPipe int
	bulk   bool // the last reads filled the buffer: splice the next ones
}

// Detach takes the socket out of c for a loop: it duplicates the descriptor and closes
// c, which removes it from Go's netpoller without sending anything (the duplicate keeps
// the connection open). The caller owns the returned non-blocking descriptor.
func Detach(c *net.TCPConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) {
		nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, derr
	}
	c.Close()
	return nfd, nil
}

// Start relays between the non-blocking sockets client and server, whose ownership
// passes to the loop, and calls done once, from the loop, after both were closed.
// On error nothing was started and the caller still owns both sockets.
func Start(client, server int, opt Options, done func(Result)) (*Conn, error) {
	if err := startLoops(); err != nil {
		return nil, err
	}
	c := &Conn{fd: [2]int{client, server}, done: done, onPanic: opt.OnPanic, hidx: -1}
	for i := 0; i < 2; i++ {
		c.st.idle[i] = int64(opt.Idle[i])
		c.st.fin[i] = int64(opt.Fin[i])
	}
	c.st.last = time.Now().UnixNano()
	c.l = pickLoop()
	c.speculate()
	for i := 0; i < 2; i++ {
		want := c.st.interest(i)
		if want == 0 {
			continue // the client's FIN came with the first read: sync adds it if needed
		}
		ev := unix.EpollEvent{Events: want, Fd: int32(c.fd[i])}
		if err := rawEpollCtl(c.l.epfd, unix.EPOLL_CTL_ADD, c.fd[i], &ev); err != nil {
			if i == 1 && c.reg[0] != 0 {
				rawEpollCtl(c.l.epfd, unix.EPOLL_CTL_DEL, c.fd[0], nil)
			}
			if f := &c.flow[Client]; f.buf != nil {
				bufPool.Put(f.buf)
				f.buf = nil
			}
			return nil, err
		}
		c.reg[i] = want
	}
	active.Add(1)
	at, _ := c.st.deadline()
	c.l.add(c, at)
	// Kills go through the loop's queue after the connection itself: a Kill that came
	// before this point left only its cause, seen here.
	c.started.Store(true)
	if c.cause.Load() != 0 {
		c.l.kill(c)
	}
	return c, nil
}

// speculate reads what the client already sent and writes it to the server before the
// connection enters a loop, on the caller's goroutine (haproxy's speculative read): a
// client usually sends its request with the handshake, so the request is waiting when
// the server socket is ready, and passing it on here saves the loop a wake-up and a
// round through its poller. Nothing waiting costs one read (EAGAIN). What cannot be
// written at once stays in the direction's buffer for the loop (pending); a FIN is
// passed on; an error leaves its letter for Start's kill.
func (c *Conn) speculate() {
	bp := bufPool.Get().(*[]byte)
	m, err := rawRead(c.fd[Client], *bp)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		bufPool.Put(bp)
		return
	case err != nil:
		bufPool.Put(bp)
		c.cause.CompareAndSwap(0, uint32(sideLetter[Client]))
		return
	case m == 0:
		bufPool.Put(bp)
		c.st.eof(Client)
		rawShutdown(c.fd[Server], unix.SHUT_WR)
		return
	}
	c.bytes[Client].Add(int64(m))
	f := &c.flow[Client]
	f.buf, f.off, f.n = bp, 0, m
	if m == len(*bp) {
		f.bulk = true // as fill: more is coming, splice it
	}
	for f.off < f.n {
		k, err := rawWrite(c.fd[Server], (*bp)[f.off:f.n])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			c.st.pending[Client] = true
			return
		case err != nil:
			c.cause.CompareAndSwap(0, uint32(sideLetter[Server]))
			return
		}
		f.off += k
	}
	f.buf, f.off, f.n = nil, 0, 0
	bufPool.Put(bp)
}

// Kill ends the connection soon with the given cause letter (for example 'K' for an
// administrative kill, 'D' for on-marked-down shutdown-sessions). The first cause wins.
// It may be called from any goroutine, also before Start returned.
func (c *Conn) Kill(cause byte) {
	c.cause.CompareAndSwap(0, uint32(cause))
	if c.started.Load() {
		c.l.kill(c)
	}
}

// Bytes returns the bytes relayed so far per direction.
func (c *Conn) Bytes() (fromClient, fromServer int64) {
	return c.bytes[Client].Load(), c.bytes[Server].Load()
}

// arm files the connection in the timer heap at its deadline, or earlier than its
// current place when the deadline moved closer (a fin timeout, a wait on a side with a
// shorter limit). Later deadlines are found lazily when the heap entry comes due.
func (c *Conn) arm() {
	at, _ := c.st.deadline()
	if at == 0 {
		return
	}
	if c.hidx < 0 {
		c.hat = at
		heap.Push(&c.l.timers, c)
	} else if at < c.hat {
		c.hat = at
		heap.Fix(&c.l.timers, c.hidx)
	}
}

// event handles readiness of socket fd.
func (c *Conn) event(fd int, ev uint32) {
	defer func() {
		if v := recover(); v != nil {
			// A bug in forwarding must cost one connection, never the process.
			if !c.dead {
				c.abort('P')
			}
			if c.onPanic != nil {
				c.onPanic(v)
			}
		}
	}()
	if c.dead {
		return
	}
	side := Client
	if fd == c.fd[Server] {
		side = Server
	}
	if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 && c.st.pending[1-side] {
		c.flush(1 - side)
		if c.dead {
			return
		}
	}
	if ev&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP) != 0 && c.st.interest(side)&unix.EPOLLIN != 0 {
		c.pump(side)
		if c.dead {
			return
		}
	}
	c.sync()
}

// sync registers what each socket waits for now and moves the timer closer if needed.
func (c *Conn) sync() {
	for i := 0; i < 2; i++ {
		want := c.st.interest(i)
		if want == c.reg[i] {
			continue
		}
		// A socket waiting for nothing leaves the set, or hang-ups and errors (always
		// reported) would wake the loop for nothing until the state changes.
		op := unix.EPOLL_CTL_MOD
		switch {
		case want == 0:
			op = unix.EPOLL_CTL_DEL
		case c.reg[i] == 0:
			op = unix.EPOLL_CTL_ADD
		}
		ev := unix.EpollEvent{Events: want, Fd: int32(c.fd[i])}
		if err := rawEpollCtl(c.l.epfd, op, c.fd[i], &ev); err != nil {
			c.abort(sideLetter[i])
			return
		}
		c.reg[i] = want
	}
	c.arm()
}

// maxReads bounds the reads per wake-up of one direction, so that a bulk stream does
// not starve the loop's other connections.
const maxReads = 8

// pump moves what side src has to the other side.
func (c *Conn) pump(src int) {
	dst := 1 - src
	f := &c.flow[src]
	for k := 0; k < maxReads; k++ {
		m, err := c.fill(f, c.fd[src])
		switch {
		case err == unix.EAGAIN:
			c.release(f)
			return
		case err != nil:
			c.abort(sideLetter[src])
			return
		case m == 0:
			c.release(f)
			if c.st.eof(src) {
				// Both sides sent their FIN: closing both sockets sends ours.
				c.abort('-')
				return
			}
			// Half-close: pass the FIN on, keep the other direction running.
			rawShutdown(c.fd[dst], unix.SHUT_WR)
			return
		}
		c.st.last = c.l.now
		c.bytes[src].Add(int64(m))
		if !c.drain(f, src) {
			return
		}
		if m < bufSize {
			// A short read almost surely emptied the socket; level triggering tells
			// if more (or the FIN) came meanwhile, without a read to find out.
			break
		}
	}
	c.release(f)
}

// fill reads into the direction's buffer, or its pipe once reads fill the buffer.
func (c *Conn) fill(f *flow, fd int) (int, error) {
	for {
		var m int
		var err error
		if f.bulk {
			if f.pp == nil {
				if f.pp, err = c.l.getPipe(); err != nil {
					return 0, err
				}
			}
			m, err = rawSplice(fd, f.pp.w, pipeSize)
			if err == nil && m > 0 {
				f.inPipe += m
				// Hysteresis: only clearly small reads go back to copying.
				if m < bufSize/4 {
					f.bulk = false
				}
			}
		} else {
			if f.buf == nil {
				f.buf = c.l.getBuf()
			}
			m, err = rawRead(fd, *f.buf)
			if err == nil && m > 0 {
				f.off, f.n = 0, m
				if m == len(*f.buf) {
					f.bulk = true
				}
			}
		}
		if err == unix.EINTR {
			continue
		}
		return m, err
	}
}

// drain writes what direction src holds to the other side. It returns false when the
// bytes must wait for the other side to become writable, or the connection ended.
func (c *Conn) drain(f *flow, src int) bool {
	fd := c.fd[1-src]
	for f.inPipe > 0 {
		m, err := rawSplice(f.pp.r, fd, f.inPipe)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			c.st.pending[src] = true
			return false
		case err != nil:
			c.abort(sideLetter[1-src])
			return false
		}
		f.inPipe -= m
	}
	for f.off < f.n {
		m, err := rawWrite(fd, (*f.buf)[f.off:f.n])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			c.st.pending[src] = true
			return false
		case err != nil:
			c.abort(sideLetter[1-src])
			return false
		}
		f.off += m
	}
	f.off, f.n = 0, 0
	return true
}

// flush goes on writing what direction src holds once the other side is writable, and
// reads again when all went out.
func (c *Conn) flush(src int) {
	f := &c.flow[src]
	c.st.pending[src] = false
	if !c.drain(f, src) {
		return
	}
	// The end of a write that had to wait is activity too.
	c.st.last = c.l.now
	c.pump(src)
}

// release gives back the direction's buffer and its pipe when empty.
func (c *Conn) release(f *flow) {
	if f.pp != nil && f.inPipe == 0 {
		c.l.putPipe(f.pp)
		f.pp = nil
	}
	if f.buf != nil && f.off == f.n {
		c.l.putBuf(f.buf)
		f.buf, f.off, f.n = nil, 0, 0
	}
}

// abort ends the connection: the first cause wins ('-' only when nothing else came).
func (c *Conn) abort(cause byte) {
	if c.dead {
		return
	}
	c.dead = true
	if cause != 0 {
		c.cause.CompareAndSwap(0, uint32(cause))
	}
	l := c.l
	for i := 0; i < 2; i++ {
		delete(l.conns, int32(c.fd[i]))
		// Closing the last descriptor of a socket also takes it out of the epoll set.
		rawClose(c.fd[i])
		f := &c.flow[i]
		if f.pp != nil {
			if f.inPipe == 0 {
				l.putPipe(f.pp)
			} else {
				f.pp.close()
			}
			f.pp, f.inPipe = nil, 0
		}
		if f.buf != nil {
			l.putBuf(f.buf)
			f.buf = nil
		}
	}
	if c.hidx >= 0 {
		heap.Remove(&l.timers, c.hidx)
	}
	active.Add(-1)
	r := Result{Bytes: [2]int64{c.bytes[0].Load(), c.bytes[1].Load()}, Cause: byte(c.cause.Load())}
	if r.Cause == 0 {
		r.Cause = '-'
	}
	if c.done != nil {
		c.report(r)
	}
}

// report calls done; a panic there costs the log line of one connection, not the loop.
func (c *Conn) report(r Result) {
	defer func() {
		if v := recover(); v != nil && c.onPanic != nil {
			c.onPanic(v)
		}
	}()
	c.done(r)
}
