package httpmode

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// deadlineReader reads from a connection under either a fixed deadline (waiting for a
// head: timeout http-request / http-keep-alive) or an inactivity timeout refreshed as
// bytes arrive (bodies: timeout client / server). Refreshing costs a timer update, so it
// is done only once an eighth of the timeout has passed since the last one.
type deadlineReader struct {
	conn  net.Conn
	raw   *rawIO // conn's raw reads; nil: conn.Read
	idle  time.Duration
	fixed time.Time
	lazyDeadline
	n   int64
	err error // last read error
}

func (d *deadlineReader) setFixed(t time.Time) { d.fixed, d.dirty = t, true }

func (d *deadlineReader) setIdle(idle time.Duration) {
	d.fixed, d.idle, d.dirty = time.Time{}, idle, true
}

func (d *deadlineReader) arm() { d.rearm(d.fixed, d.idle, d.conn.SetReadDeadline) }

// lazyDeadline is the deadline last set on one direction of a connection. rearm sets a
// fixed deadline once, and moves an inactivity deadline only when an eighth of the
// timeout has passed since it last did (or the mode changed): otherwise every request
// would cost a timer update.
type lazyDeadline struct {
	armed time.Time // deadline last set on the connection
	dirty bool      // the mode changed, or the deadline was set behind our back
}

func (l *lazyDeadline) rearm(fixed time.Time, idle time.Duration, set func(time.Time) error) {
	switch {
	case !fixed.IsZero():
		if l.dirty || !l.armed.Equal(fixed) {
			set(fixed)
			l.armed = fixed
		}
	case idle > 0:
		dl := time.Now().Add(idle)
		if l.dirty || dl.Sub(l.armed) > idle/8 {
			set(dl)
			l.armed = dl
		}
	case l.dirty || !l.armed.IsZero():
		set(time.Time{})
		l.armed = time.Time{}
	}
	l.dirty = false
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	d.arm()
	var n int
	var err error
	if d.raw != nil {
		n, err = d.raw.read(p)
	} else {
		n, err = d.conn.Read(p)
	}
	d.n += int64(n)
	if err != nil {
		d.err = err
	}
	return n, err
}

// deadlineWriter writes with an inactivity timeout and counts bytes.
type deadlineWriter struct {
	conn net.Conn
	raw  *rawIO // conn's raw writes; nil: conn.Write
	idle time.Duration
	lazyDeadline
	n   int64
	err error // last write error
}

// setIdle changes the inactivity timeout; the same one again keeps the armed deadline
// (refreshed lazily by arm), so a keep-alive request costs no timer update for it.
func (d *deadlineWriter) setIdle(idle time.Duration) {
	if idle != d.idle {
		d.idle, d.dirty = idle, true
	}
}

func (d *deadlineWriter) arm() { d.rearm(time.Time{}, d.idle, d.conn.SetWriteDeadline) }

func (d *deadlineWriter) Write(p []byte) (int, error) {
	d.arm()
	var n int
	var err error
	if d.raw != nil {
		n, err = d.raw.write(p)
	} else {
		n, err = d.conn.Write(p)
	}
	d.n += int64(n)
	if err != nil {
		d.err = err
	}
	return n, err
}

// Chunk bounds of spliced copies: the write deadline is armed per chunk, so a chunk
// must drain well within the inactivity timeout; its size adapts to the reader's speed.
const (
	minSpliceChunk = 16 << 10
	maxSpliceChunk = 16 << 20
)

// copyRaw copies n bytes (n < 0: until EOF) from src's connection to dst's connection.
// Between two sockets (*net.TCPConn or *FDConn) the kernel splices (spliceN): copyRaw
// waits (under src's inactivity timeout) until bytes are readable, then moves exactly
// what is there, so the spliced copy never blocks on its read side and the write
// deadline only measures the writer.
// Other connections are copied through buf with per-operation deadlines. It returns
// the bytes copied and, when n >= 0, io.ErrUnexpectedEOF if src ended early; the
// failing side's err field is set.
func copyRaw(dst *deadlineWriter, src *deadlineReader, n int64, buf []byte) (int64, error) {
	rc, wc := socketRawConn(src.conn), socketRawConn(dst.conn)
	if rc == nil || wc == nil {
		return copyUser(dst, src, n, buf)
	}
	src.dirty, dst.dirty = true, true // deadlines are set directly below
	var total int64
	chunk := int64(256 << 10)
	for n < 0 || total < n {
		// Wait for bytes (or EOF) under the reader's inactivity timeout.
		src.conn.SetReadDeadline(deadline(time.Now(), src.idle))
		avail, eof := 0, false
		var peek [1]byte
		werr := rc.Read(func(fd uintptr) bool {
			k, _, e := syscall.Recvfrom(int(fd), peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if e == syscall.EAGAIN || e == syscall.EWOULDBLOCK {
				return false
			}
			if e != nil || k == 0 {
				eof = true // EOF, or an error the read below reports
				return true
			}
			v, e := unix.IoctlGetInt(int(fd), unix.SIOCINQ)
			if e != nil || v <= 0 {
				v = 1
			}
			avail = v
			return true
		})
		if werr != nil {
			src.err = werr
			return total, werr
		}
		if eof {
			// Let a plain read report EOF or the error (and any byte that raced in).
			k, rerr := src.conn.Read(peek[:])
			if k > 0 {
				dst.conn.SetWriteDeadline(deadline(time.Now(), dst.idle))
				if _, e := dst.conn.Write(peek[:k]); e != nil {
					dst.err = e
					return total, e
				}
				total += int64(k)
				src.n += int64(k)
				dst.n += int64(k)
				continue
			}
			if rerr == io.EOF || rerr == nil {
				if n < 0 {
					return total, nil
				}
				src.err = io.ErrUnexpectedEOF
				return total, io.ErrUnexpectedEOF
			}
			src.err = rerr
			return total, rerr
		}
		c := min(int64(avail), chunk)
		if n >= 0 {
			c = min(c, n-total)
		}
		start := time.Now()
		dst.conn.SetWriteDeadline(deadline(start, dst.idle))
		m, rerr, werr := spliceN(wc, rc, c)
		total += m
		src.n += m
		dst.n += m
		switch {
		case rerr == io.EOF:
			continue // the next wait reports it
		case rerr != nil:
			src.err = rerr
			return total, rerr
		case werr != nil:
			dst.err = werr
			return total, werr
		case m == 0:
			// No pipe to splice through: copy the rest through user space.
			k, err := copyUser(dst, src, max(n-total, -1), buf)
			return total + k, err
		}
		// A chunk that drained in under a 64th of the timeout doubles the next; one
		// that took a quarter halves it.
		el := time.Since(start)
		lim := nonZero(dst.idle)
		switch {
		case el < lim/64 && chunk < maxSpliceChunk:
			chunk *= 2
		case el > lim/4 && chunk > minSpliceChunk:
			chunk /= 2
		}
	}
	return total, nil
}

// copyUser is copyRaw through a buffer, for connections that cannot splice.
func copyUser(dst *deadlineWriter, src *deadlineReader, n int64, buf []byte) (int64, error) {
	var total int64
	for n < 0 || total < n {
		p := buf
		if n >= 0 && int64(len(p)) > n-total {
			p = p[:n-total]
		}
		k, err := src.Read(p)
		if k > 0 {
			if _, werr := dst.Write(p[:k]); werr != nil {
				return total, werr
			}
			total += int64(k)
		}
		if err == io.EOF {
			if n < 0 {
				return total, nil
			}
			src.err = io.ErrUnexpectedEOF
			return total, io.ErrUnexpectedEOF
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func nonZero(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Hour
	}
	return d
}

// isTimeout reports a deadline expiry.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// rawIO reads or writes a *net.TCPConn through its RawConn with RawSyscall: the socket is
// non-blocking, so read and write return at once (EAGAIN parks the goroutine in the
// netpoller as net.Conn does, deadlines included). Skipping entersyscall matters for
// loopback writes, which run the peer's TCP receive path inline and often last longer
// than sysmon's 20 µs tick: a plain syscall then hands the P to another thread (futex
// wake-ups, a queue for a P on return) and keeps sysmon ticking at its fastest rate.
// One rawIO serves one direction of one connection (reads and writes can run at the
// same time in different goroutines); its callback is bound once, so a call allocates
// nothing.
type rawIO struct {
	rc    syscall.RawConn
	p     []byte
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

// bind binds r to a connection's RawConn for reads (write false) or writes; one RawConn
// serves both directions. It returns nil for a nil rc (TLS, net.Pipe): callers then use
// the connection's own Read and Write.
func (r *rawIO) bind(rc syscall.RawConn, write bool) *rawIO {
	r.rc, r.p = rc, nil
	if rc == nil {
		return nil
	}
	if r.fn == nil {
		if write {
			r.fn = r.writeFD
		} else {
			r.fn = r.readFD
		}
	}
	return r
}

func (r *rawIO) readFD(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&r.p[0])), uintptr(len(r.p)))
		switch e {
		case 0:
			r.n = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		r.errno = e
		return true
	}
}

func (r *rawIO) writeFD(fd uintptr) bool {
	for r.n < len(r.p) {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&r.p[r.n])), uintptr(len(r.p)-r.n))
		switch e {
		case 0:
			r.n += int(n)
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		r.errno = e
		return true
	}
	return true
}

// read has net.Conn.Read's results: io.EOF at end of stream, *net.OpError otherwise.
func (r *rawIO) read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.p, r.n, r.errno = p, 0, 0
	err := r.rc.Read(r.fn)
	n, e := r.n, r.errno
	r.p = nil
	switch {
	case err != nil:
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: err}
	case e != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", e)}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// write has net.Conn.Write's results: all of p, or an *net.OpError.
func (r *rawIO) write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.p, r.n, r.errno = p, 0, 0
	err := r.rc.Write(r.fn)
	n, e := r.n, r.errno
	r.p = nil
	switch {
	case err != nil:
		return n, &net.OpError{Op: "write", Net: "tcp", Err: err}
	case e != 0:
		return n, &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", e)}
	}
	return n, nil
}
