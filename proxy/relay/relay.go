package relay

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"appl/proxy/evloop"
)

// Sides of a relay.
const (
	Client = 0
	Server = 1
)

// Options are the timeouts of one relay. Zero means none.
type Options struct {
	// Idle is the inactivity timeout of each side (timeout client, timeout server; the
	// caller passes timeout tunnel for both when it is set). Activity in either direction
	// counts for both sides, as in HAProxy where a download refreshes the client side.
	Idle [2]time.Duration
	// Fin replaces the idle timeout once that side has shut its write (client-fin,
	// server-fin): a half-closed connection does not linger for the full idle timeout.
	Fin [2]time.Duration
	// ParkAfter is how long a direction waits for data in its own goroutine before it
	// parks in the shared epoll set (see park.go); 0 is DefaultParkAfter, negative never.
	ParkAfter time.Duration
	// OnPanic is told about a panic recovered in a forwarding goroutine (the relay is
	// then aborted with cause 'P').
	OnPanic func(v any)
	// Mode selects goroutines on Go's netpoller or package evloop's event loops.
	Mode Mode
}

// Result is what a finished relay reports: Bytes[Client] were read from the client and
// sent to the server, Bytes[Server] the reverse (HAProxy's %B is Bytes[Server]); Cause
// is HAProxy's first termination letter ('-' both sides closed normally, 'C'/'S' the
// client/server aborted, 'c'/'s' a side timed out, or the letter given to Kill). The
// same type as package evloop's, so that a loop reports to done without a wrapper.
type Result = evloop.Result

// Relay forwards between a client and a server connection.
type Relay struct {
	conn  [2]*net.TCPConn
	rc    [2]syscall.RawConn
	opt   Options
	last  atomic.Int64   // unix nanoseconds of the last transfer, either way
	fin   [2]atomic.Bool // side shut its write
	cause atomic.Uint32
	bytes [2]atomic.Int64
	ended atomic.Int32
	done  func(Result)

	flow [2]flow

	parked [2]atomic.Bool
	parkID [2]uint64
	timer  [2]*time.Timer

	lr *loopRelay // ModeLoop: everything happens in package evloop
}

var sideLetter = [2]byte{'C', 'S'}

// Start relays between client and server in two new goroutines and calls done once, from
// one of them, after both directions ended and both connections were closed.
func Start(client, server *net.TCPConn, opt Options, done func(Result)) (*Relay, error) {
	r, err := New(client, server, opt, done)
	if err != nil {
		return nil, err
	}
	if r.lr != nil {
		r.runLoop()
		return r, nil
	}
	go r.run(Client)
	go r.run(Server)
	return r, nil
}

// New prepares a relay; Run starts it.
func New(client, server *net.TCPConn, opt Options, done func(Result)) (*Relay, error) {
	if useLoop(opt.Mode) {
		return newLoop(client, server, opt, done)
	}
	if opt.ParkAfter == 0 {
		opt.ParkAfter = DefaultParkAfter
	}
	r := &Relay{conn: [2]*net.TCPConn{client, server}, opt: opt, done: done}
	for i := range r.flow {
		f := &r.flow[i]
		f.fillFn, f.drainFn = f.fill, f.drain
	}
	for i, c := range r.conn {
		rc, err := c.SyscallConn()
		if err != nil {
			return nil, err
		}
		r.rc[i] = rc
	}
	now := time.Now()
	r.last.Store(now.UnixNano())
	for i, c := range r.conn {
		if d := opt.Idle[i]; d > 0 {
			c.SetWriteDeadline(now.Add(d))
		}
	}
	return r, nil
}

// Run starts the server-to-client direction in a new goroutine and runs the
// client-to-server direction in the caller's, returning when that direction ends or
// parks. It saves a goroutine creation per connection over Start.
func (r *Relay) Run() {
	if r.lr != nil {
		// The loop takes over; this goroutine is free at once.
		r.runLoop()
		return
	}
	go r.run(Server)
	r.run(Client)
}

// readLimit is how long a read wait may last before the direction must look at the
// clock: the idle limit, or the park delay when shorter.
func (r *Relay) readLimit(i int) time.Duration {
	d, _ := r.idle(i)
	if p := r.opt.ParkAfter; p > 0 && (d == 0 || p < d) {
		d = p
	}
	return d
}

func (r *Relay) run(side int) {
	defer func() {
		if v := recover(); v != nil {
			// A bug in forwarding must cost one connection, never the process.
			r.abort('P')
			r.finish()
			if h := r.opt.OnPanic; h != nil {
				h(v)
			}
		}
	}()
	if !r.pump(side) {
		r.finish()
	}
}

// Kill ends the relay at once with the given cause letter (for example 'K' for an
// administrative kill, 'D' for on-marked-down shutdown-sessions). The first cause wins.
func (r *Relay) Kill(cause byte) {
	if lr := r.lr; lr != nil {
		lr.kill.CompareAndSwap(0, uint32(cause))
		if c := lr.conn.Load(); c != nil {
			c.Kill(cause)
		}
		return
	}
	r.abort(cause)
}

// Bytes returns the bytes relayed so far per direction.
func (r *Relay) Bytes() (fromClient, fromServer int64) {
	if lr := r.lr; lr != nil {
		if c := lr.conn.Load(); c != nil {
			return c.Bytes()
		}
		return 0, 0
	}
	return r.bytes[Client].Load(), r.bytes[Server].Load()
}

func (r *Relay) setCause(c byte) {
	r.cause.CompareAndSwap(0, uint32(c))
}

// abort ends both directions after an error.
func (r *Relay) abort(cause byte) {
	r.setCause(cause)
	r.conn[Client].Close()
	r.conn[Server].Close()
	// A parked direction has no goroutine to notice the close: end it here.
	for side := 0; side < 2; side++ {
		if r.unpark(side, false) {
			r.finish()
		}
	}
}

func (r *Relay) finish() {
	if r.ended.Add(1) != 2 {
		return
	}
	r.conn[Client].Close()
	r.conn[Server].Close()
	c := byte(r.cause.Load())
	if c == 0 {
		c = '-'
	}
	if r.done != nil {
		r.done(Result{Bytes: [2]int64{r.bytes[0].Load(), r.bytes[1].Load()}, Cause: c})
	}
}

// idle is the current inactivity limit for waiting on side i: its idle timeout, shortened
// by a fin timeout once either side shut its write.
func (r *Relay) idle(i int) (time.Duration, byte) {
	d, who := r.opt.Idle[i], sideLetter[i]|0x20
	for s := 0; s < 2; s++ {
		if f := r.opt.Fin[s]; f > 0 && r.fin[s].Load() && (d == 0 || f < d) {
			d, who = f, sideLetter[s]|0x20
		}
	}
	return d, who
}

// armRead sets side i's read deadline for a direction (re)starting: the park delay from
// now, or the end of the idle limit when sooner (already past: the wait fails at once and
// expiredRead reports the timeout).
func (r *Relay) armRead(i int) {
	var next time.Time
	if p := r.opt.ParkAfter; p > 0 {
		next = time.Now().Add(p)
	}
	if d, _ := r.idle(i); d > 0 {
		if end := time.Unix(0, r.last.Load()).Add(d); next.IsZero() || end.Before(next) {
			next = end
		}
	}
	r.conn[i].SetReadDeadline(next)
}

// expiredRead decides, after a read deadline fired on side i, whether the side was idle
// for its limit; if not it re-arms the deadline for the next look at the clock.
func (r *Relay) expiredRead(i int) (bool, byte) {
	d, who := r.idle(i)
	last := time.Unix(0, r.last.Load())
	if d > 0 && time.Since(last) >= d {
		return true, who
	}
	if lim := r.readLimit(i); lim > 0 {
		next := last.Add(lim)
		if time.Until(next) <= 0 {
			// Only the park delay passed: look again after another one.
			next = time.Now().Add(lim)
			if d > 0 && last.Add(d).Before(next) {
				next = last.Add(d)
			}
		}
		r.conn[i].SetReadDeadline(next)
	} else {
		r.conn[i].SetReadDeadline(time.Time{})
	}
	return false, 0
}

// expired decides, after a deadline fired while waiting on side i, whether the connection
// really was idle that long; if not it re-arms the deadline from the last activity.
func (r *Relay) expired(i int, write bool) (bool, byte) {
	d, who := r.idle(i)
	if d <= 0 {
		// The limit went away (cannot happen today): wait without deadline.
		r.setDeadline(i, write, time.Time{})
		return false, 0
	}
	next := time.Unix(0, r.last.Load()).Add(d)
	if time.Until(next) > 0 {
		r.setDeadline(i, write, next)
		return false, 0
	}
	return true, who
}

func (r *Relay) setDeadline(i int, write bool, t time.Time) {
	if write {
		r.conn[i].SetWriteDeadline(t)
	} else {
		r.conn[i].SetReadDeadline(t)
	}
}

// flow is the state of one direction between two system calls: what was read and not
// yet written. It lives in the Relay (not in pump's locals captured by closures) so that
// forwarding allocates nothing per direction start; fill and drain are bound once in New.
type flow struct {
	pp      *pipe   // splice mode: pipe holding inPipe bytes
	buf     *[]byte // copy mode: buffer holding buf[off:inBuf]
	inPipe  int
	inBuf   int
	off     int
	n       int
	rerr    error
	werr    error
	fillFn  func(uintptr) bool
	drainFn func(uintptr) bool
	bulk    bool // last reads filled the buffer: splice the next ones
	eof     bool
	waited  bool // a write found the socket full since the last read
}

// fill reads what is there. Small reads (request/response traffic) go through a
// pooled buffer with read/write, which costs less in the kernel than splice for a
// few hundred bytes; once a read fills the buffer the direction switches to splice
// through a pooled pipe, and back when reads get small again. Either way nothing is
// held while the socket has nothing to read.
func (f *flow) fill(fd uintptr) bool {
	for {
		var m int
		var err error
		if f.bulk {
			if f.pp == nil {
				if f.pp, err = pool.get(); err != nil {
					f.rerr = err
					return true
				}
			}
			var m64 int64
			m64, err = unix.Splice(int(fd), nil, f.pp.w, nil, pipeSize, unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
			m = int(m64)
		} else {
			if f.buf == nil {
				f.buf = bufPool.Get().(*[]byte)
			}
			m, err = unix.Read(int(fd), *f.buf)
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			if f.pp != nil && f.inPipe == 0 {
				// Nothing there: give the pipe or buffer back before waiting, so
				// an idle connection holds none.
				pool.put(f.pp)
				f.pp = nil
			}
			if f.buf != nil {
				bufPool.Put(f.buf)
				f.buf = nil
			}
			return false
		case err != nil:
			f.rerr = err
		case m == 0:
			f.eof = true
		default:
			f.n = m
			if f.bulk {
				f.inPipe += m
				// Hysteresis: a bulk stream often returns a little less than
				// a buffer; only clearly small reads go back to copying.
				if m < bufSize/4 {
					f.bulk = false
				}
			} else {
				f.inBuf, f.off = m, 0
				if m == len(*f.buf) {
					f.bulk = true
				}
			}
		}
		return true
	}
}

func (f *flow) drain(fd uintptr) bool {
	for f.inPipe > 0 {
		m, err := unix.Splice(f.pp.r, nil, int(fd), nil, f.inPipe, unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			f.waited = true
			return false
		case err != nil:
			f.werr = err
			return true
		}
		f.inPipe -= int(m)
	}
	for f.off < f.inBuf {
		m, err := unix.Write(int(fd), (*f.buf)[f.off:f.inBuf])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			f.waited = true
			return false
		case err != nil:
			f.werr = err
			return true
		}
		f.off += m
	}
	return true
}

// release gives back the pipe and buffer; a pipe still holding bytes is closed.
func (f *flow) release() {
	if f.pp != nil {
		if f.inPipe == 0 {
			pool.put(f.pp)
		} else {
			f.pp.close()
		}
		f.pp, f.inPipe = nil, 0
	}
	if f.buf != nil {
		bufPool.Put(f.buf)
		f.buf, f.inBuf, f.off = nil, 0, 0
	}
}

// pump moves bytes from side src to the other side until src ends or an error. It
// returns true when the direction parked (its goroutine ends, the relay goes on).
func (r *Relay) pump(src int) bool {
	dst := 1 - src
	f := &r.flow[src]
	f.bulk = false
	r.armRead(src)
	for {
		f.n, f.rerr, f.eof = 0, nil, false
		err := r.rc[src].Read(f.fillFn)
		if err != nil {
			f.release()
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if exp, who := r.expiredRead(src); exp {
					r.abort(who)
					return false
				}
				if r.opt.ParkAfter > 0 && time.Since(time.Unix(0, r.last.Load())) >= r.opt.ParkAfter && r.park(src) {
					return true
				}
				continue
			}
			// Closed by Kill/abort: the cause is already set.
			r.abort(sideLetter[src])
			return false
		}
		if f.rerr != nil {
			f.release()
			r.abort(sideLetter[src])
			return false
		}
		if f.eof {
			f.release()
			r.fin[src].Store(true)
			if r.fin[dst].Load() {
				// The other direction already ended with a FIN: both are done and
				// finish closes both sockets, which sends our FIN. A shutdown first
				// would only cost a system call (measured: about 7 % of the CPU of
				// a connection-per-request load).
				return false
			}
			// Half-close: pass the FIN on, keep the other direction running.
			r.conn[dst].CloseWrite()
			if f := r.opt.Fin[src]; f > 0 {
				// Wake the other direction so that it applies the shorter limit.
				r.conn[dst].SetReadDeadline(time.Now().Add(f))
				r.unpark(dst, true)
			}
			return false
		}
		r.last.Store(time.Now().UnixNano())
		r.bytes[src].Add(int64(f.n))
		f.waited = false
		for f.inPipe > 0 || f.off < f.inBuf {
			f.werr = nil
			err := r.rc[dst].Write(f.drainFn)
			if err == nil && f.werr == nil {
				continue
			}
			if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
				if exp, who := r.expired(dst, true); !exp {
					continue
				} else {
					f.release()
					r.abort(who)
					return false
				}
			}
			f.release()
			r.abort(sideLetter[dst])
			return false
		}
		f.inBuf, f.off = 0, 0
		if f.waited {
			// The write had to wait: its end is activity too. Otherwise the read's
			// timestamp is recent enough and a second clock read is saved.
			r.last.Store(time.Now().UnixNano())
		}
	}
}
