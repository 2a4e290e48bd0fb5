package proxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"appl/proxy/accesslog"
	"appl/proxy/config"
	"appl/proxy/proxyproto"
	"appl/proxy/relay"
	"appl/proxy/tcprules"
)

// rulesPool recycles tcprules sessions: the per-connection path stays allocation-free.
var rulesPool = sync.Pool{New: func() any { return tcprules.NewSession() }}

// sessionIDs numbers sessions for `show sess` / `shutdown session`.
var sessionIDs atomic.Uint64

// session is one proxied connection.
type session struct {
	p      *Proxy
	fe     *frontend
	be     *backend
	srv    *server
	gl, fl *limiter
	client *net.TCPConn
	// cfd is the client socket accepted raw (serveRaw), owned by the session until the
	// relay takes it (then -1); client is nil meanwhile. cmu guards cfd, ckill and the
	// change from cfd to client; ckill is the cause of a kill that came before the relay.
	cfd   int
	cmu   sync.Mutex
	ckill byte
	// peer is the client's address from accept (raw sessions), before any PROXY header.
	peer netip.AddrPort
	// tlsClient: the client side is a *tls.Conn (ssl bind)
	tlsClient bool
	src, dst  netip.AddrPort
	accept    time.Time
	tw, tc    time.Duration
	retries   int
	redisp    bool
	relay     atomic.Pointer[relay.Relay]
	crelay    atomic.Pointer[connRelay] // instead of relay when a side is TLS
	term      [2]byte
	bytesIn   int64
	bytesOut  int64
	id        uint64
	rs        *tcprules.Session // stick counters and rule state, back to rulesPool at end
	// http: served by the http engine (mode http); cancel ends it (hard stop), set
	// under p.sessMu.
	http   bool
	cancel context.CancelFunc
	// httpBE, httpSrv: the backend and server of the last request (tcplog line of an
	// http session without option httplog).
	httpBE, httpSrv string

	// intrusive lists: all sessions (Shutdown) and the server's (shutdown-sessions)
	gprev, gnext *session
	sprev, snext *session
}

type sessList struct{ head *session }

func (l *sessList) addG(s *session) {
	s.gnext = l.head
	if l.head != nil {
		l.head.gprev = s
	}
	l.head = s
}

func (l *sessList) delG(s *session) {
	if s.gprev != nil {
		s.gprev.gnext = s.gnext
	} else if l.head == s {
		l.head = s.gnext
	}
	if s.gnext != nil {
		s.gnext.gprev = s.gprev
	}
	s.gprev, s.gnext = nil, nil
}

func (l *sessList) addS(s *session) {
	s.snext = l.head
	if l.head != nil {
		l.head.sprev = s
	}
	l.head = s
}

func (l *sessList) delS(s *session) {
	if s.sprev != nil {
		s.sprev.snext = s.snext
	} else if l.head == s {
		l.head = s.snext
	}
	if s.snext != nil {
		s.snext.sprev = s.sprev
	}
	s.sprev, s.snext = nil, nil
}

func (s *server) killSessions(cause byte) int {
	s.sessMu.Lock()
	var rs []*relay.Relay
	var crs []*connRelay
	for x := s.sess.head; x != nil; x = x.snext {
		if r := x.relay.Load(); r != nil {
			rs = append(rs, r)
		} else if cr := x.crelay.Load(); cr != nil {
			crs = append(crs, cr)
		}
	}
	s.sessMu.Unlock()
	for _, r := range rs {
		r.Kill(cause)
	}
	for _, cr := range crs {
		cr.Kill(cause)
	}
	return len(rs) + len(crs)
}

func (p *Proxy) killAll(cause byte) int {
	p.sessMu.Lock()
	var rs []*relay.Relay
	var cs []*session
	var crs []*connRelay
	var hs []context.CancelFunc
	for x := p.sessions.head; x != nil; x = x.gnext {
		if r := x.relay.Load(); r != nil {
			rs = append(rs, r)
		} else if cr := x.crelay.Load(); cr != nil {
			crs = append(crs, cr)
		} else if x.cancel != nil {
			hs = append(hs, x.cancel)
		} else {
			cs = append(cs, x)
		}
	}
	p.sessMu.Unlock()
	for _, r := range rs {
		r.Kill(cause)
	}
	for _, x := range cs {
		x.killClient(cause)
	}
	for _, cr := range crs {
		cr.Kill(cause)
	}
	for _, cancel := range hs {
		cancel() // the engine closes both sockets of the session
	}
	return len(rs) + len(cs) + len(crs) + len(hs)
}

// serve takes an accepted connection through the whole path up to the relay.
func (p *Proxy) serve(c *net.TCPConn, fe *frontend, b *config.Bind, gl, fl *limiter) {
	s := &session{p: p, fe: fe, client: c, cfd: -1, gl: gl, fl: fl, accept: time.Now(), tw: -1, tc: -1, term: [2]byte{'-', '-'}, id: sessionIDs.Add(1)}
	if fe.clientKeepAlive() {
		keepAliveConn(c)
	}
	p.serveSession(s, b)
}

// serveRaw is serve for a client socket accepted raw (listener.acceptRaw).
func (p *Proxy) serveRaw(ra rawAccepted, fe *frontend, b *config.Bind, gl, fl *limiter) {
	s := &session{p: p, fe: fe, cfd: ra.fd, peer: ra.peer, src: ra.peer, dst: ra.local, gl: gl, fl: fl, accept: time.Now(), tw: -1, tc: -1, term: [2]byte{'-', '-'}, id: sessionIDs.Add(1)}
	if fe.clientKeepAlive() {
		keepAliveFD(ra.fd)
	}
	p.serveSession(s, b)
}

func (p *Proxy) serveSession(s *session, b *config.Bind) {
	fe := s.fe
	fe.cur.Add(1)
	fe.total.Add(1)
	p.sessMu.Lock()
	p.sessions.addG(s)
	p.sessMu.Unlock()
	handedOff := false
	defer func() {
		if r := recover(); r != nil {
			p.panics.Add(1)
			p.log.Error("panic in connection handling (recovered)", zap.String("frontend", fe.name), zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
			s.term = [2]byte{'P', 'D'}
			if handedOff {
				return
			}
		}
		if !handedOff {
			s.closeClient()
			if s.srv != nil {
				s.be.release(s.srv)
				s.srv = nil
			}
			s.end()
		}
	}()
	if h := p.testHook.Load(); h != nil {
		(*h)()
	}
	// The frontend or bind may have changed since a raw accept decided the path (reload):
	// a path that reads the client before the relay gets a net.Conn.
	if s.cfd >= 0 && !rawPath(fe, b) {
		if err := s.toConn(); err != nil {
			return
		}
	}
	c := s.client
	if c != nil {
		s.src = addrPort(c.RemoteAddr())
		// With a transparent bind, the local address of the accepted socket is the
		// client's original destination (TPROXY); otherwise it is our own address.
		// Either way it is what dst fetches see. (Raw sessions got both from accept.)
		s.dst = addrPort(c.LocalAddr())
	}
	rs := rulesPool.Get().(*tcprules.Session)
	rs.Reset(s.src, s.dst)
	rs.Txn.FrontendName = fe.name
	s.rs = rs
	if v := fe.rules.Connection(rs); v != tcprules.Accept {
		s.refuse(v, true)
		return
	}
	if b.AcceptProxy {
		to := fe.cfg.Timeouts.Client
		if to <= 0 {
			to = p.opts.AcceptProxyTimeout
		}
		c.SetReadDeadline(time.Now().Add(to))
		h, err := proxyproto.ReadConn(c)
		if err != nil {
			fe.proxyE.Add(1)
			s.term = [2]byte{'P', 'R'}
			if isTimeout(err) {
				s.term = [2]byte{'c', 'R'}
			}
			p.log.Debug("refused connection: bad PROXY header", zap.String("frontend", fe.name), zap.Stringer("client", s.src), zap.Error(err))
			return
		}
		c.SetReadDeadline(time.Time{})
		if h.Proxied() && h.Src.IsValid() {
			s.src, s.dst = h.Src, h.Dst
		}
	}
	rs.Txn.Src, rs.Txn.Dst = s.src, s.dst
	var cc net.Conn // the client side as forwarded: a *tls.Conn on ssl binds
	if c != nil {
		cc = c
	}
	if b.TLS != nil {
		tc, ok := p.tlsAccept(s, c, b)
		if !ok {
			return
		}
		cc = tc
		s.tlsClient = true
	}
	if v := fe.rules.Session(rs); v != tcprules.Accept {
		s.refuse(v, true)
		return
	}
	if fe.rules.NeedsData() {
		waitData(c, fe.rules.InspectDelay())
	}
	if v := fe.rules.Content(rs); v != tcprules.Accept {
		s.refuse(v, false)
		return
	}
	if fe.http != nil {
		p.serveHTTP(s, cc)
		return
	}
	be := fe.chooseBackend(&rs.Txn)
	if be == nil {
		fe.noBE.Add(1)
		s.term = [2]byte{'P', 'R'}
		return
	}
	rs.Txn.BackendName = be.name
	if v := be.rules.Content(rs); v != tcprules.Accept {
		s.be = be
		be.cur.Add(1)
		be.total.Add(1)
		s.refuse(v, false)
		return
	}
	s.be = be
	be.cur.Add(1)
	be.total.Add(1)
	key := uint64(0)
	if be.cfg.Balance.Algo == "source" {
		key = balanceKey(s.src)
	}
	to := be.cfg.Timeouts
	qto := to.Queue
	if qto <= 0 {
		qto = to.Connect // HAProxy: timeout queue defaults to timeout connect
	}
	var srv *server
	var tw time.Duration
	var err error
	if name, _, ok := be.rules.StickServer(rs, be.usable); ok {
		srv = be.acquireNamed(name)
	}
	if srv == nil {
		srv, tw, err = be.acquire(key, nil, qto, p.quit)
	}
	s.tw = tw
	if err != nil {
		s.term = [2]byte{'s', 'Q'}
		switch err {
		case errNoServer:
			s.term = [2]byte{'S', 'C'}
		case errQueueFull:
			s.term = [2]byte{'P', 'Q'}
		}
		return
	}
	s.srv = srv
	// Killed while queued (hard stop, shutdown session): no point dialing.
	s.cmu.Lock()
	k := s.ckill
	s.cmu.Unlock()
	if k != 0 {
		s.term = [2]byte{k, 'Q'}
		return
	}
	up, err := s.connect(key)
	if err != nil {
		be.connErrors.Add(1)
		return
	}
	// A side in TLS is relayed by connRelay over net.Conns: dialUpstream then dials
	// with Go's dialer (up.tc), never a raw descriptor.
	var scc net.Conn
	if up.tc != nil {
		scc = up.tc
	}
	if s.srv.spec.Load().cfg.TLS != nil {
		// connRelay forwards net.Conns: a raw client socket becomes one.
		if s.client == nil {
			if err := s.toConn(); err != nil {
				up.close()
				return
			}
			c, cc = s.client, s.client
		}
		if scc, err = s.serverTLS(up.tc, &rs.Txn); err != nil {
			be.connErrors.Add(1)
			return
		}
	}
	be.rules.StickStore(rs, be.serverID(s.srv), s.srv.name)
	if !be.rules.HasStick() && !tracking(rs) {
		// Nothing to count at Close: give the rule state back now rather than hold it
		// for the life of a (possibly idle) connection.
		s.releaseRules()
	}
	s.srv.sessMu.Lock()
	s.srv.sess.addS(s)
	s.srv.sessMu.Unlock()

	opt := relay.Options{
		Idle:      [2]time.Duration{fe.cfg.Timeouts.Client, to.Server},
		Fin:       [2]time.Duration{fe.cfg.Timeouts.ClientFin, to.ServerFin},
		ParkAfter: p.opts.ParkAfter,
		OnPanic:   fe.relayPanic,
	}
	if opt.OnPanic == nil {
		opt.OnPanic = p.relayPanic
	}
	if t := to.Tunnel; t > 0 {
		opt.Idle = [2]time.Duration{t, t}
	} else if t := fe.cfg.Timeouts.Tunnel; t > 0 {
		opt.Idle = [2]time.Duration{t, t}
	}
	s.term = [2]byte{'-', '-'}
	if s.tlsClient || (up.tc != nil && scc != net.Conn(up.tc)) {
		cr := newConnRelay(cc, scc, opt, s.relayDone)
		s.crelay.Store(cr)
		handedOff = true
		cr.run()
		return
	}
	var r *relay.Relay
	if c != nil {
		r, err = up.relay(c, opt, s.relayDone)
	} else {
		r, err = up.relayRaw(s.cfd, opt, s.relayDone)
	}
	if err != nil {
		s.srv.sessMu.Lock()
		s.srv.sess.delS(s)
		s.srv.sessMu.Unlock()
		return
	}
	s.relay.Store(r)
	handedOff = true
	if c == nil {
		// The relay owns the raw socket now; a kill that came before it was stored is
		// passed on (killClient sees the relay from here on).
		s.cmu.Lock()
		s.cfd = -1
		k := s.ckill
		s.cmu.Unlock()
		if k != 0 {
			r.Kill(k)
		}
	}
	// This goroutine becomes the client-to-server direction.
	r.Run()
}

func (s *session) releaseRules() {
	if rs := s.rs; rs != nil {
		s.rs = nil
		rs.Close(uint64(s.bytesIn), uint64(s.bytesOut))
		rulesPool.Put(rs)
	}
}

// tracking reports whether a stick counter of rs tracks an entry.
func tracking(rs *tcprules.Session) bool {
	for n := 0; n < tcprules.MaxSC; n++ {
		if e, _ := rs.Tracked(n); e != nil {
			return true
		}
	}
	return false
}

// refuse ends a connection a tcp-request rule refused, the way haproxy does it on the
// wire: a connection-level reject is an RST, a content-level one an orderly close, and
// silent-drop sends nothing at all (the caller closes the socket).
func (s *session) refuse(v tcprules.Verdict, early bool) {
	s.term = [2]byte{'P', 'R'}
	if early {
		s.fe.deniedConn.Add(1)
	} else {
		s.fe.deniedReq.Add(1)
	}
	if s.client == nil {
		switch {
		case v == tcprules.SilentDrop:
			if !silentDropFD(s.cfd) {
				lingerZero(s.cfd)
			}
		case early:
			lingerZero(s.cfd)
		}
		return
	}
	switch {
	case v == tcprules.SilentDrop:
		silentDrop(s.client)
	case early:
		s.client.SetLinger(0)
	}
}

// lingerZero makes the close of fd send an RST (SetLinger(0) of a raw socket).
func lingerZero(fd int) {
	unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
}

// closeClient closes the client socket unless a relay took it.
func (s *session) closeClient() {
	s.cmu.Lock()
	fd, c := s.cfd, s.client
	s.cfd = -1
	s.cmu.Unlock()
	if fd >= 0 {
		unix.Close(fd)
	}
	if c != nil {
		c.Close()
	}
}

// killClient ends a session that had no relay when the killer looked (hard stop,
// shutdown session): its relay if it got one since, else its client socket (a raw one
// is shut down, closed later by its goroutine, which passes the cause to the relay).
func (s *session) killClient(cause byte) {
	s.cmu.Lock()
	if r := s.relay.Load(); r != nil {
		s.cmu.Unlock()
		r.Kill(cause)
		return
	}
	s.ckill = cause
	c := s.client
	if s.cfd >= 0 {
		unix.Shutdown(s.cfd, unix.SHUT_RDWR)
	}
	s.cmu.Unlock()
	if c != nil {
		c.Close()
	}
}

// clientAddr is the client's address as accepted (Sessions); called under p.sessMu.
func (s *session) clientAddr() netip.AddrPort {
	if s.client != nil {
		return addrPort(s.client.RemoteAddr())
	}
	return s.peer
}

// toConn turns the raw client socket into s.client, for the paths that need a net.Conn.
func (s *session) toConn() error {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	f := os.NewFile(uintptr(s.cfd), "client")
	nc, err := net.FileConn(f) // a duplicate in Go's netpoller
	f.Close()
	s.cfd = -1
	if err != nil {
		return err
	}
	s.p.sessMu.Lock()
	s.client = nc.(*net.TCPConn)
	s.p.sessMu.Unlock()
	if s.ckill != 0 {
		s.client.Close()
	}
	return nil
}

// silentDrop makes the following close send nothing: TCP_REPAIR lets the kernel drop
// the socket without FIN or RST. Without it (no CAP_NET_ADMIN), a TTL of 1 keeps the
// RST from leaving the first router.
func silentDrop(c *net.TCPConn) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	repaired := false
	rc.Control(func(fd uintptr) { repaired = silentDropFD(int(fd)) })
	if !repaired {
		c.SetLinger(0)
	}
}

// silentDropFD is silentDrop's socket work; false: no TCP_REPAIR, the caller lingers 0.
func silentDropFD(fd int) bool {
	if unix.SetsockoptInt(fd, unix.SOL_TCP, unix.TCP_REPAIR, 1) == nil {
		return true
	}
	unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_TTL, 1)
	unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_UNICAST_HOPS, 1)
	return false
}

// waitData waits until the client sent something or d passed (tcp-request
// inspect-delay), without consuming the data.
func waitData(c *net.TCPConn, d time.Duration) {
	if d <= 0 {
		return
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	c.SetReadDeadline(time.Now().Add(d))
	var b [1]byte
	rc.Read(func(fd uintptr) bool {
		_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return err != unix.EAGAIN
	})
	c.SetReadDeadline(time.Time{})
}

func (p *Proxy) relayPanic(v any) {
	p.panics.Add(1)
	p.log.Error("panic in forwarding (recovered)", zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
}

// relayDone runs in a relay goroutine once both directions ended.
func (s *session) relayDone(r relay.Result) {
	defer func() {
		if v := recover(); v != nil {
			s.p.panics.Add(1)
			s.p.log.Error("panic after relay (recovered)", zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
		}
	}()
	s.bytesIn, s.bytesOut = r.Bytes[relay.Client], r.Bytes[relay.Server]
	s.term = [2]byte{r.Cause, 'D'}
	if r.Cause == '-' {
		s.term[1] = '-'
	}
	s.fe.bytesI.Add(s.bytesIn)
	s.fe.bytesO.Add(s.bytesOut)
	s.srv.sessMu.Lock()
	s.srv.sess.delS(s)
	s.srv.sessMu.Unlock()
	s.be.release(s.srv)
	s.end()
}

// end logs and releases the frontend and process slots.
func (s *session) end() {
	p := s.p
	p.sessMu.Lock()
	p.sessions.delG(s)
	p.sessMu.Unlock()
	s.releaseRules()
	s.log()
	if s.be != nil {
		s.be.cur.Add(-1)
	}
	s.fe.cur.Add(-1)
	s.fl.release()
	s.gl.release()
	if p.actconn.Add(-1) == 0 {
		select {
		case p.drained <- struct{}{}:
		default:
		}
	}
}

func (s *session) log() {
	fe := s.fe
	if len(fe.sinks) == 0 || (s.http && fe.cfg.Log.HTTPLog) {
		return // http requests were logged one by one
	}
	if fe.cfg.Log.DontLogNull && s.bytesIn == 0 && s.bytesOut == 0 {
		return
	}
	e := accesslog.Entry{
		Client: s.src, Accept: s.accept, Frontend: fe.name, Backend: "<NOSRV>", Server: "<NOSRV>",
		Tw: s.tw, Tc: s.tc, Tt: time.Since(s.accept), Bytes: s.bytesOut, Term: s.term,
		ActConn: int(s.p.actconn.Load()), FeConn: int(fe.cur.Load()),
		Retries: s.retries, Redisp: s.redisp,
	}
	if s.be != nil {
		e.Backend = s.be.name
		e.BeConn = int(s.be.cur.Load())
		e.BeQueue = s.be.queueLen()
	}
	if s.srv != nil {
		e.Server = s.srv.name
		e.SrvConn = int(s.srv.cur.Load())
	}
	if s.httpBE != "" {
		e.Backend, e.Server = s.httpBE, s.httpSrv
	}
	line := accesslog.AppendTCPLog(make([]byte, 0, 160), &e)
	now := time.Now()
	for _, sk := range fe.sinks {
		sk.Send(accesslog.Info, now, line)
	}
}

// connect dials the server with retries; with redispatch the last retry goes to another
// server. It sends the PROXY header when the server asks for one.
func (s *session) connect(key uint64) (upstream, error) {
	be := s.be
	to := be.cfg.Timeouts
	retries := be.cfg.Retries
	if retries < 0 {
		retries = 0
	}
	start := time.Now()
	var lastErr error
	for attempt := 0; ; attempt++ {
		up, err := s.dialUpstream(to.Connect)
		if err == nil {
			s.tc = time.Since(start)
			if err := s.sendProxyUp(up); err != nil {
				up.close()
				s.term = [2]byte{'S', 'C'}
				return upstream{}, err
			}
			return up, nil
		}
		lastErr = err
		if attempt >= retries {
			break
		}
		s.retries++
		// HAProxy waits min(timeout connect, 1s) before retrying an immediate failure.
		if !isTimeout(err) {
			wait := time.Second
			if to.Connect > 0 && to.Connect < wait {
				wait = to.Connect
			}
			select {
			case <-time.After(wait):
			case <-s.p.quit:
				attempt = retries
			}
		}
		if be.cfg.Redispatch && attempt+1 == retries {
			old := s.srv
			be.release(old)
			s.srv = nil
			ns, _, err := be.acquire(key, old, to.Connect, s.p.quit)
			if err != nil {
				lastErr = err
				break
			}
			s.srv = ns
			s.redisp = ns != old
		}
	}
	s.term = [2]byte{'S', 'C'}
	if isTimeout(lastErr) {
		s.term = [2]byte{'s', 'C'}
	}
	s.p.log.Debug("connect to server failed", zap.String("backend", be.name), zap.String("server", serverName(s.srv)), zap.Error(lastErr))
	return upstream{}, lastErr
}

func serverName(s *server) string {
	if s == nil {
		return "<NOSRV>"
	}
	return s.name
}

func (s *session) dialOnce(timeout time.Duration) (*net.TCPConn, error) {
	if s.srv == nil {
		return nil, errNoServer
	}
	return dialServer(context.Background(), s.srv, s.src, s.dst, timeout)
}

// dialServer connects to srv for a client src whose original destination was dst
// (transparent `server *`, `source ... usesrc client[ip]`).
func dialServer(ctx context.Context, srv *server, src0, dst netip.AddrPort, timeout time.Duration) (*net.TCPConn, error) {
	addr, err := srv.addrFor(dst)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: timeout, KeepAlive: -1}
	var laddr netip.AddrPort
	if src := srv.spec.Load().source; src != nil {
		transparent := false
		switch src.UseSrc {
		case "clientip":
			laddr, transparent = netip.AddrPortFrom(src0.Addr(), 0), true
		case "client":
			laddr, transparent = src0, true
		case "":
			a := src.Addr
			if !a.IsValid() || a.IsUnspecified() {
				a = netip.IPv4Unspecified()
				if addr.Addr().Is6() {
					a = netip.IPv6Unspecified()
				}
			}
			if !src.Addr.IsUnspecified() || src.Port != 0 {
				laddr = netip.AddrPortFrom(a, src.Port)
			}
		default:
			a, _ := netip.ParseAddr(src.UseSrc)
			laddr, transparent = netip.AddrPortFrom(a, 0), true
		}
		noPort := laddr.Port() == 0
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				if transparent {
					// Bind to the client's address, which is not ours: IP_TRANSPARENT,
					// and the kernel's TPROXY routing returns the replies to us.
					if e := unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_TRANSPARENT, 1); e != nil {
						serr = os.NewSyscallError("setsockopt IP_TRANSPARENT", e)
					}
					unix.SetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_TRANSPARENT, 1)
				}
				if noPort {
					// Let connect() pick the port for the whole 4-tuple, as HAProxy does:
					// bind() alone would need a port unique across all destinations and
					// run out under connection churn.
					unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
				}
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	if !laddr.IsValid() {
		c, err := d.DialContext(ctx, "tcp", addr.String())
		if err != nil {
			return nil, err
		}
		return c.(*net.TCPConn), nil
	}
	// With a source address: DialTCP takes it parsed (Dial would bind it as well).
	return d.DialTCP(ctx, "tcp", laddr, addr)
}

// proxyHeader is the PROXY header srv asks for (send-proxy, send-proxy-v2), nil
// when it asks for none.
func proxyHeader(srv *server, src, dst netip.AddrPort) ([]byte, error) {
	sp := srv.spec.Load().cfg
	switch {
	case sp.SendProxyV2:
		return proxyproto.AppendV2(nil, src, dst)
	case sp.SendProxy:
		return proxyproto.AppendV1(nil, src, dst), nil
	}
	return nil, nil
}

// writeProxyHeader writes srv's PROXY header, if any, on c.
func writeProxyHeader(c net.Conn, srv *server, src, dst netip.AddrPort) error {
	hdr, err := proxyHeader(srv, src, dst)
	if err != nil || hdr == nil {
		return err
	}
	_, err = c.Write(hdr)
	return err
}

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
