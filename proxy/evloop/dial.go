package evloop

import (
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// DialOptions shape an outgoing connection like net.Dialer with a Control function
// would, without going through Go's netpoller.
type DialOptions struct {
	// Local is bound before connecting when valid; a zero port lets connect pick it
	// (IP_BIND_ADDRESS_NO_PORT), so that the port is unique per 4-tuple only.
	Local netip.AddrPort
	// Transparent sets IP_TRANSPARENT, to bind an address this host does not hold
	// (source ... usesrc).
	Transparent bool
	// Timeout bounds the connection; 0: the kernel's.
	Timeout time.Duration
}

func sockaddr(ap netip.AddrPort) unix.Sockaddr {
	a := ap.Addr().Unmap()
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
}

func opErr(op string, remote netip.AddrPort, err error) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(remote), Err: os.NewSyscallError(op, err)}
}

// Dial connects a non-blocking TCP socket to remote and returns its descriptor, ready for
// Start. The calling goroutine waits; a connection that is not complete when connect
// returns (anything but loopback, usually) is watched by a loop, not by Go's netpoller.
// A timeout is reported as an error matching os.ErrDeadlineExceeded.
func Dial(remote netip.AddrPort, o DialOptions) (int, error) {
	if err := startLoops(); err != nil {
		return -1, err
	}
	family := unix.AF_INET6
	if remote.Addr().Unmap().Is4() {
		family = unix.AF_INET
	}
	fd, err := rawSocket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, opErr("socket", remote, err)
	}
	fail := func(op string, err error) (int, error) {
		unix.Close(fd)
		return -1, opErr(op, remote, err)
	}
	// As Go's net package: small writes go out at once.
	rawNoDelay(fd)
	if o.Local.IsValid() {
		if o.Transparent {
			// Bind to the client's address, which is not ours: the kernel's TPROXY
			// routing returns the replies to us.
			if err := unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_TRANSPARENT, 1); err != nil {
				return fail("setsockopt IP_TRANSPARENT", err)
			}
			unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_TRANSPARENT, 1)
		}
		if o.Local.Port() == 0 {
			unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
		}
		if err := unix.Bind(fd, sockaddr(o.Local)); err != nil {
			return fail("bind", err)
		}
	}
	for {
		err = rawConnect(fd, remote)
		if err != unix.EINTR {
			break
		}
	}
	switch err {
	case nil:
		return fd, nil
	case unix.EINPROGRESS:
	default:
		return fail("connect", err)
	}
	// On loopback the handshake is usually over by now: look without waiting.
	if n, rev := rawConnected(fd); n == 1 && rev == unix.POLLOUT {
		return fd, nil
	} else if n != 1 {
		if err := pickLoop().waitWritable(fd, o.Timeout); err != nil {
			unix.Close(fd)
			if err == os.ErrDeadlineExceeded {
				return -1, &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(remote), Err: err}
			}
			return -1, opErr("epoll_ctl", remote, err)
		}
	}
	soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return fail("getsockopt", err)
	}
	if soerr != 0 {
		return fail("connect", unix.Errno(soerr))
	}
	return fd, nil
}

// waitWritable waits until fd is writable (connected or failed) or the timeout passes.
// The socket is out of the epoll set again when it returns.
func (l *loop) waitWritable(fd int, timeout time.Duration) error {
	ch := make(chan struct{}, 1)
	l.mu.Lock()
	if l.dials == nil {
		l.dials = map[int32]chan struct{}{}
	}
	l.dialSeq++
	id := l.dialSeq & 0x7fffffff
	l.dials[id] = ch
	l.mu.Unlock()
	// Fd -1 marks a dial; Pad names it (a socket number could be reused meanwhile).
	ev := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLONESHOT, Fd: -1, Pad: id}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.forgetDial(id)
		return err
	}
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	var err error
	select {
	case <-ch:
	case <-tc:
		err = os.ErrDeadlineExceeded
	}
	l.forgetDial(id)
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	return err
}

func (l *loop) forgetDial(id int32) {
	l.mu.Lock()
	delete(l.dials, id)
	l.mu.Unlock()
}

// dialReady tells the dial id that its socket is writable.
func (l *loop) dialReady(id int32) {
	l.mu.Lock()
	ch := l.dials[id]
	l.mu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
