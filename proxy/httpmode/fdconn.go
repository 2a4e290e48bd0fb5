package httpmode

import (
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FDConn is a connected TCP socket held as its own non-blocking descriptor. It is what
// the data plane hands the engine for sockets it accepted (accept4) or dialed
// (evloop.Dial) with raw system calls: unlike net.FileConn it costs no dup, and none of
// package net's address look-ups (getsockname, getpeername) or per-socket bookkeeping.
//
// The socket enters Go's netpoller only when an operation would block (EAGAIN): it is
// then wrapped in an os.File (os.NewFile registers a non-blocking descriptor with the
// poller) and every later wait goes through it. A connection whose request is already
// there when it is accepted, and whose response fits in the socket buffer, never
// registers: no fcntl, no epoll_ctl ADD and DEL, no os.File, and its close is a raw
// system call. The engine reads and writes it through its RawConn (rawIO, spliceN).
//
// Deadlines, concurrent Close (it wakes a blocked Read or Write), io.EOF at the end of
// the stream behave as for a *net.TCPConn; errors are *net.OpError.
type FDConn struct {
	// mu guards fd, deadlines and the move to the poller while the socket is raw; once
	// state is fdPolled, f and frc are fixed and used without it.
	mu            sync.Mutex
	state         atomic.Uint32
	closed        atomic.Bool // Close was called (a poller error then means net.ErrClosed)
	fd            int
	f             *os.File
	frc           syscall.RawConn
	rdl, wdl      time.Time // deadlines set while raw, handed to f on the move
	raw           fdRawConn
	beforeClose   func()
	local, remote netip.AddrPort
}

const (
	fdRaw    = iota // not in the poller: operations are tried once, EAGAIN moves it
	fdPolled        // in the poller through f
	fdClosed        // closed while raw
)

// NewFDConn takes fd, a connected non-blocking TCP socket (SOCK_NONBLOCK): the FDConn
// owns it from then on. local and remote are reported by LocalAddr and RemoteAddr; an
// invalid local is asked from the kernel when LocalAddr needs it.
func NewFDConn(fd int, local, remote netip.AddrPort) *FDConn {
	c := &FDConn{fd: fd, local: local, remote: remote}
	c.raw.c = c
	return c
}

// polled returns the poller's RawConn once the socket moved there, else nil.
func (c *FDConn) polled() syscall.RawConn {
	if c.state.Load() == fdPolled {
		return c.frc
	}
	return nil
}

// toPollerLocked moves the raw socket to Go's netpoller; called with mu held and
// state fdRaw.
func (c *FDConn) toPollerLocked() error {
	f := os.NewFile(uintptr(c.fd), "tcp")
	if f == nil {
		return os.ErrInvalid
	}
	rc, err := f.SyscallConn()
	if err != nil {
		// Cannot happen for a new os.File; f owns the descriptor now either way.
		f.Close()
		c.fd = -1
		c.closed.Store(true)
		c.state.Store(fdClosed)
		return err
	}
	if !c.rdl.IsZero() {
		f.SetReadDeadline(c.rdl)
	}
	if !c.wdl.IsZero() {
		f.SetWriteDeadline(c.wdl)
	}
	c.f, c.frc = f, rc
	c.state.Store(fdPolled)
	return nil
}

// fdRawConn is the FDConn's syscall.RawConn: a callback runs on the raw descriptor
// while the socket is not in the poller; the first one that would block moves it there
// and waits.
type fdRawConn struct{ c *FDConn }

func (r *fdRawConn) Control(f func(fd uintptr)) error {
	c := r.c
	if rc := c.polled(); rc != nil {
		return rc.Control(f)
	}
	c.mu.Lock()
	switch c.state.Load() {
	case fdClosed:
		c.mu.Unlock()
		return net.ErrClosed
	case fdPolled:
		c.mu.Unlock()
		return c.frc.Control(f)
	}
	f(uintptr(c.fd))
	c.mu.Unlock()
	return nil
}

func (r *fdRawConn) Read(f func(fd uintptr) bool) error  { return r.c.rawOp(f, false) }
func (r *fdRawConn) Write(f func(fd uintptr) bool) error { return r.c.rawOp(f, true) }

// rawOp runs f once on the raw descriptor (under the deadline set for its direction);
// when f reports it would block, the socket moves to the poller, which runs f again
// until it is done.
func (c *FDConn) rawOp(f func(fd uintptr) bool, write bool) error {
	if rc := c.polled(); rc != nil {
		return c.polledOp(rc, f, write)
	}
	c.mu.Lock()
	switch c.state.Load() {
	case fdClosed:
		c.mu.Unlock()
		return net.ErrClosed
	case fdRaw:
		dl := c.rdl
		if write {
			dl = c.wdl
		}
		if !dl.IsZero() && !time.Now().Before(dl) {
			c.mu.Unlock()
			return os.ErrDeadlineExceeded
		}
		if f(uintptr(c.fd)) {
			c.mu.Unlock()
			return nil
		}
		if err := c.toPollerLocked(); err != nil {
			c.mu.Unlock()
			return err
		}
	}
	c.mu.Unlock()
	return c.polledOp(c.frc, f, write)
}

// polledOp runs f through the poller's RawConn; a wait ended by Close reports
// net.ErrClosed (the poller's own error for it is internal to package os).
func (c *FDConn) polledOp(rc syscall.RawConn, f func(fd uintptr) bool, write bool) error {
	var err error
	if write {
		err = rc.Write(f)
	} else {
		err = rc.Read(f)
	}
	if err != nil && c.closed.Load() {
		err = net.ErrClosed
	}
	return err
}

// opErr turns an error of the descriptor or of its os.File into what net.Conn methods
// return.
func (c *FDConn) opErr(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if pe, ok := err.(*os.PathError); ok {
		err = pe.Err
	}
	switch e := err.(type) {
	case syscall.Errno:
		err = os.NewSyscallError(op, e)
	default:
		if err == os.ErrClosed {
			err = net.ErrClosed
		}
	}
	return &net.OpError{Op: op, Net: "tcp", Addr: c.RemoteAddr(), Err: err}
}

// Read and Write are for the engine's rare paths (tunnels, buffered copies): its
// head path uses the RawConn.

func (c *FDConn) Read(p []byte) (int, error) {
	if c.polled() == nil {
		var n int
		var errno syscall.Errno
		err := c.raw.Read(func(fd uintptr) bool {
			n, errno = rawRW(unix.SYS_READ, fd, p)
			return errno != syscall.EAGAIN
		})
		switch {
		case err != nil:
			return 0, c.opErr("read", err)
		case errno != 0:
			return 0, c.opErr("read", errno)
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
	n, err := c.f.Read(p)
	return n, c.opErr("read", err)
}

func (c *FDConn) Write(p []byte) (int, error) {
	if c.polled() == nil {
		done := 0
		var errno syscall.Errno
		err := c.raw.Write(func(fd uintptr) bool {
			for done < len(p) {
				n, e := rawRW(unix.SYS_WRITE, fd, p[done:])
				if e == syscall.EAGAIN {
					return false
				}
				if e != 0 {
					errno = e
					return true
				}
				done += n
			}
			return true
		})
		switch {
		case err != nil:
			return done, c.opErr("write", err)
		case errno != 0:
			return done, c.opErr("write", errno)
		}
		return done, nil
	}
	n, err := c.f.Write(p)
	return n, c.opErr("write", err)
}

// rawRW is one read or write system call (EINTR retried).
func rawRW(trap uintptr, fd uintptr, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	for {
		n, _, e := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if e != syscall.EINTR {
			return int(n), e
		}
	}
}

// Close closes the socket; a second Close reports net.ErrClosed. Closing a raw socket
// is a RawSyscall (a loopback close runs the peer's TCP stack inline: through
// syscall.Syscall, sysmon would hand the P to another thread meanwhile).
func (c *FDConn) Close() error {
	c.mu.Lock()
	before := c.beforeClose
	c.beforeClose = nil
	c.mu.Unlock()
	if before != nil {
		before()
	}
	if c.polled() == nil {
		c.mu.Lock()
		switch c.state.Load() {
		case fdClosed:
			c.mu.Unlock()
			return c.opErr("close", net.ErrClosed)
		case fdRaw:
			fd := c.fd
			c.fd = -1
			c.state.Store(fdClosed)
			c.mu.Unlock()
			_, _, e := syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0)
			if e != 0 {
				return c.opErr("close", e)
			}
			return nil
		}
		c.mu.Unlock()
	}
	c.closed.Store(true)
	// The FIN leaves through a RawSyscall: the close that follows has little left to do.
	c.frc.Control(func(fd uintptr) { syscall.RawSyscall(syscall.SYS_SHUTDOWN, fd, syscall.SHUT_WR, 0) })
	return c.opErr("close", c.f.Close())
}

// SetBeforeClose makes the first Close call f before the descriptor is closed: the
// data plane forgets its own copy of the descriptor number there (a kill that shuts
// the socket down must never reach a number the kernel may have reused).
func (c *FDConn) SetBeforeClose(f func()) {
	c.mu.Lock()
	c.beforeClose = f
	c.mu.Unlock()
}

// CloseRead shuts the reading side down (a pending Read returns at once).
func (c *FDConn) CloseRead() error { return c.shutdown(unix.SHUT_RD) }

// CloseWrite sends a FIN; reads still work.
func (c *FDConn) CloseWrite() error { return c.shutdown(unix.SHUT_WR) }

func (c *FDConn) shutdown(how int) error {
	var serr error
	if err := c.raw.Control(func(fd uintptr) { serr = unix.Shutdown(int(fd), how) }); err != nil {
		return c.opErr("shutdown", err)
	}
	return c.opErr("shutdown", serr)
}

// SyscallConn gives the socket's RawConn: callbacks run on the raw descriptor until one
// would block, then through Go's netpoller.
func (c *FDConn) SyscallConn() (syscall.RawConn, error) { return &c.raw, nil }

func (c *FDConn) LocalAddr() net.Addr {
	a := c.local
	if !a.IsValid() {
		c.raw.Control(func(fd uintptr) {
			if sa, err := unix.Getsockname(int(fd)); err == nil {
				a = sockaddrAddrPort(sa)
			}
		})
	}
	return net.TCPAddrFromAddrPort(a)
}

func (c *FDConn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.remote) }

func (c *FDConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

func (c *FDConn) SetReadDeadline(t time.Time) error  { return c.setDeadline(t, false) }
func (c *FDConn) SetWriteDeadline(t time.Time) error { return c.setDeadline(t, true) }

// setDeadline only records the deadline while the socket is raw (no timer: an
// operation checks it before its one attempt, and the move to the poller arms it).
func (c *FDConn) setDeadline(t time.Time, write bool) error {
	if c.polled() == nil {
		c.mu.Lock()
		switch c.state.Load() {
		case fdClosed:
			c.mu.Unlock()
			return c.opErr("set", net.ErrClosed)
		case fdRaw:
			if write {
				c.wdl = t
			} else {
				c.rdl = t
			}
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
	}
	var err error
	if write {
		err = c.f.SetWriteDeadline(t)
	} else {
		err = c.f.SetReadDeadline(t)
	}
	return c.opErr("set", err)
}

func sockaddrAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port))
	}
	return netip.AddrPort{}
}

// socketRawConn is the RawConn of a connection the engine may read, write and splice
// with raw system calls: a *net.TCPConn or an *FDConn. nil for anything else (TLS,
// net.Pipe), which keeps its own Read and Write.
func socketRawConn(c net.Conn) syscall.RawConn {
	switch t := c.(type) {
	case *net.TCPConn:
		rc, err := t.SyscallConn()
		if err != nil {
			return nil
		}
		return rc
	case *FDConn:
		return &t.raw
	}
	return nil
}
