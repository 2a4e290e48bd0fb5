package proxy

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"appl/proxy/accesslog"
	"appl/proxy/acl"
	"appl/proxy/config"
	"appl/proxy/httpmode"
	"appl/proxy/relay"
	"appl/proxy/tcprules"
)

// frontend is one frontend of one configuration generation.
type frontend struct {
	cfg    *config.Frontend
	name   string
	gen    *generation
	def    *backend
	rules  *tcprules.Rules
	limit  *limiter
	sinks  []*accesslog.Sink
	cur    atomic.Int64
	total  atomic.Int64
	proxyE atomic.Int64
	noBE   atomic.Int64
	// refused by tcp-request connection/session rules, and by content rules
	deniedConn, deniedReq atomic.Int64
	bytesI                atomic.Int64
	bytesO                atomic.Int64
	// failed TLS handshakes on ssl binds; tlsLogged is the last second one was logged
	tlsErrors, tlsLogged atomic.Int64
	// http is the engine's program for this frontend (mode http), nil in tcp mode.
	http *httpmode.Frontend
	h    httpCounters
	// relayPanic is p.relayPanic bound once: a method value taken per connection is
	// an allocation per connection.
	relayPanic func(any)
}

func (p *Proxy) buildFrontend(fc *config.Frontend, g *generation) (*frontend, error) {
	fe := &frontend{cfg: fc, name: fc.Name, gen: g, relayPanic: p.relayPanic}
	// The same frontend keeps its limiter across a reload, so the connections it already
	// holds still count against the limit; a changed maxconn resizes it at commit.
	if old := p.cur.Load(); old != nil {
		for _, of := range old.frontends {
			if of.name == fc.Name {
				fe.limit = of.limit
			}
		}
	}
	if fe.limit == nil {
		fe.limit = newLimiter(fc.MaxConn)
	}
	if fc.DefaultBackend != "" {
		fe.def = g.backends[fc.DefaultBackend]
		if fe.def == nil {
			return nil, fmt.Errorf("%s: frontend %s: default_backend %s does not exist", fc.Pos, fc.Name, fc.DefaultBackend)
		}
	}
	for _, ub := range fc.UseBackends {
		if ub.Expr == nil && g.backends[ub.Backend] == nil {
			return nil, fmt.Errorf("%s: frontend %s: use_backend %s: no such backend", ub.Pos, fc.Name, ub.Backend)
		}
	}
	var err error
	if fe.sinks, err = p.openSinks(fc.Log.Targets); err != nil {
		return nil, fmt.Errorf("%s: frontend %s: %v", fc.Pos, fc.Name, err)
	}
	return fe, nil
}

// chooseBackend applies use_backend rules in order, then default_backend.
func (fe *frontend) chooseBackend(t *acl.Txn) *backend {
	for _, ub := range fe.cfg.UseBackends {
		if ub.Cond != nil && !ub.Cond.Match(t) {
			continue
		}
		name := ub.Backend
		if ub.Expr != nil {
			s, ok := ub.Expr.String(t)
			if !ok {
				continue
			}
			name = s
		}
		// A dynamic name that matches no backend skips the rule, as in HAProxy.
		if be := fe.gen.backends[name]; be != nil {
			return be
		}
	}
	return fe.def
}

// limiter counts connections against a maxconn (0: unlimited). The limit can change
// while connections hold slots (runtime `set maxconn`, reload): holders keep theirs and
// new ones wait until the count is below the new limit.
type limiter struct {
	mu   sync.Mutex
	n    int
	max  int
	wake chan struct{} // closed when a slot frees or the limit changes
}

func newLimiter(n int) *limiter { return &limiter{max: max(n, 0)} }

func (l *limiter) acquire(quit <-chan struct{}) bool {
	for {
		l.mu.Lock()
		if l.max <= 0 || l.n < l.max {
			l.n++
			l.mu.Unlock()
			return true
		}
		if l.wake == nil {
			l.wake = make(chan struct{})
		}
		w := l.wake
		l.mu.Unlock()
		select {
		case <-w:
		case <-quit:
			return false
		}
	}
}

func (l *limiter) release() {
	l.mu.Lock()
	l.n--
	l.signalLocked()
	l.mu.Unlock()
}

func (l *limiter) signalLocked() {
	if l.wake != nil {
		close(l.wake)
		l.wake = nil
	}
}

// setMax changes the limit (0: unlimited).
func (l *limiter) setMax(n int) {
	l.mu.Lock()
	l.max = max(n, 0)
	l.signalLocked()
	l.mu.Unlock()
}

func (l *limiter) limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.max
}

// listener is one listening socket, kept across reloads while its address stays.
type listener struct {
	key string
	ln  *net.TCPListener
	// rf is a duplicate of ln's descriptor for accept4 (raw accept of tcp frontends),
	// rc its RawConn: a TCPListener's own RawConn cannot wait (Read is EINVAL), an
	// os.File of a non-blocking descriptor waits in Go's netpoller. Opened by attach
	// when the accept loop starts, closed with ln. local is ln's address, the local
	// address of every accepted socket unless ln is bound to a wildcard address or
	// transparent (then getsockname tells it).
	rf    *os.File
	rc    syscall.RawConn
	local netip.AddrPort
	bind  atomic.Pointer[config.Bind]
	fe    atomic.Pointer[frontend]
	quit  chan struct{}
	once  sync.Once
	done  chan struct{}

	// acc is acceptRaw's state, reused: one goroutine accepts on a listener at a time.
	acc struct {
		rsa  unix.RawSockaddrAny
		fd   int
		err  error
		try4 func(uintptr) bool // accept4 bound once: no closure per accept
	}

	// pause state (runtime `disable frontend`): the socket stays open but stops
	// listening (shutdown SHUT_RD), so new connections are refused; resume listens again.
	pmu    sync.Mutex
	paused bool
	resume chan struct{} // closed on resume
}

// pause stops accepting without closing the socket.
func (l *listener) pause() (bool, error) {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	if l.paused {
		return false, nil
	}
	rc, err := l.ln.SyscallConn()
	if err != nil {
		return false, err
	}
	var serr error
	l.paused = true
	l.resume = make(chan struct{})
	if err := rc.Control(func(fd uintptr) { serr = unix.Shutdown(int(fd), unix.SHUT_RD) }); err != nil {
		serr = err
	}
	if serr != nil {
		l.paused = false
		close(l.resume)
		return false, fmt.Errorf("pause %s: %v", l.key, serr)
	}
	return true, nil
}

// unpause listens again on the same socket.
func (l *listener) unpause() (bool, error) {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	if !l.paused {
		return false, nil
	}
	rc, err := l.ln.SyscallConn()
	if err != nil {
		return false, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Listen(int(fd), unix.SOMAXCONN) }); err != nil {
		serr = err
	}
	if serr != nil {
		return false, fmt.Errorf("resume %s: %v", l.key, serr)
	}
	l.paused = false
	close(l.resume)
	return true, nil
}

// pausedWait returns a channel closed on resume, or nil when not paused.
func (l *listener) pausedWait() <-chan struct{} {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	if !l.paused {
		return nil
	}
	return l.resume
}

func (l *listener) close() {
	l.once.Do(func() {
		close(l.quit)
		l.ln.Close()
		if l.rf != nil {
			l.rf.Close() // wakes acceptRaw; the socket closes with its last descriptor
		}
	})
}

func bindKey(b *config.Bind) string {
	n := b.Network
	if n == "" || n == "tcp4" || n == "tcp6" {
		n = "tcp"
	}
	return n + "|" + b.Address
}

// openListeners opens the sockets g needs that are not open yet. It returns them by key,
// or an error after closing those it opened.
func (p *Proxy) openListeners(g *generation) (map[string]*listener, error) {
	opened := map[string]*listener{}
	fail := func(err error) (map[string]*listener, error) {
		for _, l := range opened {
			l.ln.Close()
		}
		return nil, err
	}
	for _, fe := range g.frontends {
		for _, b := range fe.cfg.Binds {
			k := bindKey(b)
			if _, ok := p.listeners[k]; ok {
				continue
			}
			if _, ok := opened[k]; ok {
				return fail(fmt.Errorf("%s: frontend %s: bind %s: address used twice", b.Pos, fe.name, b.Address))
			}
			ln, err := listen(b)
			if err != nil {
				return fail(fmt.Errorf("%s: frontend %s: bind %s: %v", b.Pos, fe.name, b.Address, unwrapOp(err)))
			}
			opened[k] = &listener{key: k, ln: ln, quit: make(chan struct{}), done: make(chan struct{})}
		}
	}
	return opened, nil
}

// unwrapOp shortens "listen tcp 127.0.0.1:80: bind: address already in use" to its cause.
func unwrapOp(err error) error {
	var se *net.OpError
	if errors.As(err, &se) && se.Err != nil {
		return se.Err
	}
	return err
}

func listen(b *config.Bind) (*net.TCPListener, error) {
	network := b.Network
	switch network {
	case "", "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("network %q not supported in tcp mode yet", network)
	}
	if network == "" {
		network = "tcp"
	}
	lc := net.ListenConfig{
		KeepAlive: -1,
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				if b.Transparent {
					// Accept connections to non-local addresses (TPROXY) and bind to
					// addresses this host does not hold.
					if e := unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_TRANSPARENT, 1); e != nil {
						serr = fmt.Errorf("transparent: setting IP_TRANSPARENT: %v (needs CAP_NET_ADMIN)", e)
						return
					}
					unix.SetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_TRANSPARENT, 1)
				}
				if b.V6Only {
					unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
				}
				// Accepted sockets inherit TCP_NODELAY from the listener (Linux clones
				// the listener's socket): raw accepts need no setsockopt of their own.
				unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
	ln, err := lc.Listen(context.Background(), network, b.Address)
	if err != nil {
		return nil, err
	}
	return ln.(*net.TCPListener), nil
}

// attach points every listener of g at its frontend, starts accept loops of new ones
// and closes the listeners g no longer has.
func (p *Proxy) attach(g *generation, opened map[string]*listener) {
	want := map[string]bool{}
	for _, fe := range g.frontends {
		for _, b := range fe.cfg.Binds {
			k := bindKey(b)
			want[k] = true
			l := p.listeners[k]
			if l == nil {
				l = opened[k]
				p.listeners[k] = l
				l.bind.Store(b)
				l.fe.Store(fe)
				if err := l.openRaw(); err != nil {
					// Accepts then all go through Go's listener (rawPath sees no rc).
					p.log.Warn("raw accept unavailable", zap.String("bind", b.Address), zap.Error(err))
				}
				go p.acceptLoop(l)
				continue
			}
			if b.Transparent != l.bind.Load().Transparent {
				setTransparent(l.ln, b.Transparent)
			}
			l.bind.Store(b)
			l.fe.Store(fe)
		}
	}
	for k, l := range p.listeners {
		if !want[k] {
			l.close()
			delete(p.listeners, k)
		}
	}
}

func setTransparent(ln *net.TCPListener, on bool) {
	rc, err := ln.SyscallConn()
	if err != nil {
		return
	}
	v := 0
	if on {
		v = 1
	}
	rc.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_TRANSPARENT, v)
		unix.SetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_TRANSPARENT, v)
	})
}

// acceptLoop accepts while below the global and frontend maxconn; at the limit it stops
// calling accept, so new connections wait in the kernel's backlog, as in HAProxy.
func (p *Proxy) acceptLoop(l *listener) {
	defer close(l.done)
	backoff := time.Duration(0)
	for {
		fe := l.fe.Load()
		gl := p.global.Load()
		if !gl.acquire(l.quit) {
			return
		}
		fl := fe.limit
		if !fl.acquire(l.quit) {
			gl.release()
			return
		}
		// A tcp frontend whose path never reads the client before the relay takes the
		// socket raw (accept4, no net.TCPConn): it goes to an event loop without
		// entering Go's netpoller (docs/dev/l4perf.md, "Raw accept").
		fe = l.fe.Load()
		b := l.bind.Load()
		var c *net.TCPConn
		var ra rawAccepted
		var err error
		if l.rc != nil && rawPath(fe, b) {
			ra, err = l.acceptRaw(b)
		} else {
			c, err = l.ln.AcceptTCP()
		}
		if err != nil {
			fl.release()
			gl.release()
			select {
			case <-l.quit:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if w := l.pausedWait(); w != nil {
				select {
				case <-w:
				case <-l.quit:
					return
				}
				continue
			}
			// EMFILE and friends: back off instead of spinning, as HAProxy pauses its
			// listeners when out of resources.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff < time.Second {
				backoff *= 2
			}
			p.log.Warn("accept failed", zap.String("bind", l.bind.Load().Address), zap.Error(err))
			select {
			case <-time.After(backoff):
			case <-l.quit:
				return
			}
			continue
		}
		backoff = 0
		// The frontend may have changed while waiting for a slot: the connection belongs
		// to the one current now, with the slots it took.
		p.actconn.Add(1)
		if c == nil {
			go p.serveRaw(ra, l.fe.Load(), l.bind.Load(), gl, fl)
			continue
		}
		go p.serve(c, l.fe.Load(), l.bind.Load(), gl, fl)
	}
}

// rawPath reports whether connections of fe on bind b can be accepted raw: the event
// loops relay (not APPL_EVLOOP=off), and nothing before the relay needs a net.Conn
// (TLS, a PROXY header to read, inspect-delay, the http engine).
func rawPath(fe *frontend, b *config.Bind) bool {
	return (relay.DefaultMode() == relay.ModeLoop && fe.http == nil || httpRawAccept(fe)) && b.TLS == nil && !b.AcceptProxy &&
		!fe.rules.NeedsData()
}

// openRaw prepares l for acceptRaw: a duplicate of the listening descriptor (already
// non-blocking) as an os.File in Go's netpoller.
func (l *listener) openRaw() error {
	rc, err := l.ln.SyscallConn()
	if err != nil {
		return err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) { nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return err
	}
	if derr != nil {
		return os.NewSyscallError("fcntl", derr)
	}
	f := os.NewFile(uintptr(nfd), "listener "+l.key)
	l.acc.try4 = l.accept4
	if l.rc, err = f.SyscallConn(); err != nil {
		f.Close()
		return err
	}
	l.rf = f
	if a := addrPort(l.ln.Addr()); !a.Addr().IsUnspecified() {
		l.local = a
	}
	return nil
}

// rawAccepted is a client socket accepted by acceptRaw.
type rawAccepted struct {
	fd          int
	peer, local netip.AddrPort
}

// acceptRaw accepts one connection with accept4 on the listener's socket, waiting in
// Go's netpoller when none is pending. The socket is non-blocking and close-on-exec.
func (l *listener) acceptRaw(b *config.Bind) (rawAccepted, error) {
	var ra rawAccepted
	err := l.rc.Read(l.acc.try4)
	ra.fd = l.acc.fd
	if err == nil {
		err = l.acc.err
	} else {
		select {
		case <-l.quit:
			err = net.ErrClosed // rf closed by l.close ("use of closed file")
		default:
		}
	}
	if err != nil {
		if _, ok := err.(unix.Errno); ok {
			err = &net.OpError{Op: "accept", Net: "tcp", Addr: l.ln.Addr(), Err: os.NewSyscallError("accept4", err)}
		}
		return rawAccepted{}, err
	}
	ra.peer = rawAddrPort(&l.acc.rsa)
	ra.local = l.local
	// With a transparent bind the local address is the client's original destination.
	if !ra.local.IsValid() || b.Transparent {
		if la, err := unix.Getsockname(ra.fd); err == nil {
			ra.local = sockaddrPort(la)
		}
	}
	return ra, nil
}

// accept4 is acceptRaw's try at the listening descriptor fd: false when nothing is
// pending (wait), true with the result in l.acc.
func (l *listener) accept4(fd uintptr) bool {
	a := &l.acc
	for {
		// The system call itself: unix.Accept4 adds a getsockopt(SO_PROTOCOL) per
		// accept (to tell L2TP sockets apart) and allocates the address.
		n := uint32(unix.SizeofSockaddrAny)
		r, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, fd, uintptr(unsafe.Pointer(&a.rsa)), uintptr(unsafe.Pointer(&n)),
			unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		a.fd, a.err = int(r), nil
		if e != 0 {
			a.err = e
		}
		// As Go's accept: a connection reset while queued is skipped.
		if a.err != unix.ECONNABORTED && a.err != unix.EINTR {
			return a.err != unix.EAGAIN
		}
	}
}

// rawAddrPort reads an IPv4 or IPv6 address (IPv4-mapped ones unmapped) from accept.
func rawAddrPort(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&a.Port))[:]))
	case unix.AF_INET6:
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&a.Port))[:]))
	}
	return netip.AddrPort{}
}

func sockaddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port))
	}
	return netip.AddrPort{}
}
