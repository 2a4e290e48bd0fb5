package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"appl/proxy/acl"
	"appl/proxy/config"
	"appl/proxy/h2front"
	"appl/proxy/httpmode"
	"appl/proxy/relay"
)

// This file is the TLS wiring of the data plane: the handshake of an ssl bind (in the
// connection's goroutine, after the PROXY header, before the session rules), the
// handshake towards an ssl server, and the forwarding of tcp mode when one side is a
// *tls.Conn (splice needs two plain sockets). Certificates and tls.Configs come ready
// from proxy/tlsconf through the configuration (Bind.TLS, Server.TLS).

// tlsAccept runs the handshake of a connection accepted on an ssl bind, bounded by
// timeout client-hs, else timeout client, else the PROXY header timeout. A failure is counted on the frontend,
// logged (at most once a second per frontend, a scan must not flood the log) and ends
// the connection.
func (p *Proxy) tlsAccept(s *session, c *net.TCPConn, b *config.Bind) (*tls.Conn, bool) {
	to := s.fe.cfg.Timeouts.ClientHS
	if to <= 0 {
		to = s.fe.cfg.Timeouts.Client
	}
	if to <= 0 {
		to = p.opts.AcceptProxyTimeout
	}
	tc := tls.Server(c, b.TLS.Config)
	c.SetDeadline(time.Now().Add(to))
	err := tc.Handshake()
	c.SetDeadline(time.Time{})
	if err != nil {
		s.fe.tlsErrors.Add(1)
		s.term = [2]byte{'C', 'R'}
		if isTimeout(err) {
			s.term = [2]byte{'c', 'R'}
		}
		if now := time.Now().Unix(); s.fe.tlsLogged.Swap(now) != now {
			p.log.Info("SSL handshake failure", zap.String("frontend", s.fe.name), zap.String("bind", b.Address), zap.Stringer("client", s.src), zap.Error(err))
		}
		return nil, false
	}
	cs := tc.ConnectionState()
	s.rs.Txn.TLS = &acl.TLSInfo{SNI: cs.ServerName}
	return tc, true
}

// serverTLS runs the handshake towards an ssl server over sc (see serverHandshake) and
// sets the termination state on failure.
func (s *session) serverTLS(sc net.Conn, txn *acl.Txn) (net.Conn, error) {
	c, err := s.p.serverHandshake(s.srv, s.be.cfg.Timeouts.Connect, sc, txn)
	if err != nil {
		s.term = [2]byte{'S', 'C'}
		if isTimeout(err) {
			s.term = [2]byte{'s', 'C'}
		}
	}
	return c, err
}

// serverHandshake wraps sc, a connection just opened to srv, in TLS when srv has ssl
// (else it returns sc): the SNI is its sni expression evaluated on txn (nil: none),
// bounded by timeout (timeout connect). On failure sc is closed and the cause logged;
// callers count it as a connection error (HAProxy: 503 in http mode). Any mode's dial
// path calls it.
func (p *Proxy) serverHandshake(srv *server, timeout time.Duration, sc net.Conn, txn *acl.Txn) (net.Conn, error) {
	spec := srv.spec.Load().cfg
	if spec.TLS == nil {
		return sc, nil
	}
	sni := ""
	if spec.SNI != nil && txn != nil {
		sni, _ = spec.SNI.String(txn)
	}
	tc := tls.Client(sc, spec.TLS.Config(sni))
	if timeout > 0 {
		sc.SetDeadline(time.Now().Add(timeout))
	}
	err := tc.Handshake()
	sc.SetDeadline(time.Time{})
	if err != nil {
		sc.Close()
		p.log.Warn("SSL handshake with server failed", zap.String("backend", srv.bename), zap.String("server", srv.name), zap.Error(err))
		return nil, err
	}
	return tc, nil
}

// connRelay forwards between two net.Conns (a TLS side) with the relay's idle timeouts
// and result, by copying through a buffer in each direction. Fin timeouts are not
// applied: a half-closed side waits for the idle timeout.
type connRelay struct {
	conn  [2]net.Conn
	opt   relay.Options
	last  atomic.Int64
	bytes [2]atomic.Int64
	cause atomic.Uint32
	ended atomic.Int32
	once  sync.Once
	done  func(relay.Result)
}

// copyBufs hold one TLS record (16 KiB), the most a tls.Conn Read returns.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// newConnRelay prepares a relay between client and server; run starts it.
func newConnRelay(client, server net.Conn, opt relay.Options, done func(relay.Result)) *connRelay {
	r := &connRelay{conn: [2]net.Conn{client, server}, opt: opt, done: done}
	r.cause.Store('-')
	r.last.Store(time.Now().UnixNano())
	return r
}

// run forwards server-to-client in a new goroutine and client-to-server in the
// caller's, as relay.Run does; done is called once both ended and both are closed.
func (r *connRelay) run() {
	go r.copy(relay.Server)
	r.copy(relay.Client)
}

// Kill ends both directions; cause is the termination letter logged.
func (r *connRelay) Kill(cause byte) {
	r.cause.CompareAndSwap('-', uint32(cause))
	r.closeAll()
}

// Bytes returns what was forwarded so far each way, as relay.Relay.Bytes.
func (r *connRelay) Bytes() (fromClient, fromServer int64) {
	return r.bytes[relay.Client].Load(), r.bytes[relay.Server].Load()
}

func (r *connRelay) closeAll() {
	r.once.Do(func() {
		r.conn[0].Close()
		r.conn[1].Close()
	})
}

// closeWrite half-closes c: close_notify then FIN for a TLS side (tls.Conn.CloseWrite
// leaves the socket open), FIN for a plain one.
func closeWrite(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		tc.CloseWrite()
		c = tc.NetConn()
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

var sideLetters = [2]byte{'C', 'S'}
var timeoutLetters = [2]byte{'c', 's'}

// copy moves data read on side i to the other side until EOF (then half-closes the
// other side), an error or the idle timeout of side i.
func (r *connRelay) copy(i int) {
	defer func() {
		if v := recover(); v != nil {
			if r.opt.OnPanic != nil {
				r.opt.OnPanic(v)
			}
			r.cause.CompareAndSwap('-', 'P')
			r.closeAll()
		}
		if r.ended.Add(1) == 2 {
			r.closeAll()
			r.done(relay.Result{Bytes: [2]int64{r.bytes[0].Load(), r.bytes[1].Load()}, Cause: byte(r.cause.Load())})
		}
	}()
	src, dst := r.conn[i], r.conn[1-i]
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	idle := r.opt.Idle[i]
	for {
		if idle > 0 {
			src.SetReadDeadline(time.Unix(0, r.last.Load()).Add(idle))
		}
		n, err := src.Read(buf)
		if n > 0 {
			r.last.Store(time.Now().UnixNano())
			if w := r.opt.Idle[1-i]; w > 0 {
				dst.SetWriteDeadline(time.Now().Add(w))
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				letter := sideLetters[1-i]
				if isTimeout(werr) {
					letter = timeoutLetters[1-i]
				}
				r.cause.CompareAndSwap('-', uint32(letter))
				r.closeAll()
				return
			}
			r.bytes[i].Add(int64(n))
		}
		if err == nil {
			continue
		}
		if isTimeout(err) {
			// Activity the other way counts for both sides, as in the splice relay.
			if time.Since(time.Unix(0, r.last.Load())) < idle {
				continue
			}
			r.cause.CompareAndSwap('-', uint32(timeoutLetters[i]))
			r.closeAll()
			return
		}
		if errors.Is(err, io.EOF) {
			closeWrite(dst)
			return
		}
		if !errors.Is(err, net.ErrClosed) {
			r.cause.CompareAndSwap('-', uint32(sideLetters[i]))
		}
		r.closeAll()
		return
	}
}

// serveEngine runs the http engine on a client connection: directly for HTTP/1.x, and
// through the HTTP/2 gateway (proxy/h2front: each stream becomes a request of the same
// engine) for a TLS client that negotiated h2 by ALPN.
func (p *Proxy) serveEngine(ctx context.Context, s *session, cc net.Conn, hs *httpSession, txn *acl.Txn) httpmode.SessionStats {
	fe := s.fe
	if tc, ok := cc.(*tls.Conn); (!ok || tc.ConnectionState().NegotiatedProtocol != "h2") && !protoH2(fe.cfg, cc) {
		return fe.http.Serve(ctx, cc, s.accept, hs, txn)
	}
	to := fe.cfg.Timeouts
	req := to.HTTPRequest
	if req <= 0 {
		req = to.Client
	}
	idle := to.HTTPKeepAlive
	if idle <= 0 {
		idle = req
	}
	gen := fe.gen
	r := h2front.Serve(ctx, cc, s.accept, fe.http, hs, txn, h2front.Options{
		BufSize: gen.cfg.Global.TuneBufSize, RequestTimeout: req, IdleTimeout: idle, ClientTimeout: to.Client,
		Stale: func() bool { return p.cur.Load() != gen },
		OnPanic: func(v any) {
			p.panics.Add(1)
			p.log.Error("panic in HTTP/2 connection (recovered)", zap.String("frontend", fe.name), zap.Any("panic", v))
		},
		OnProtocolError: func() { fe.h.errReq.Add(1) },
	})
	return r.SessionStats
}

// protoH2 reports whether c was accepted on a `proto h2` bind of fc (HTTP/2 with prior
// knowledge, as HAProxy's proto h2: no HTTP/1 on that bind). The bind is found by the
// socket's local address (a PROXY header does not change it). Without such binds it
// costs one map lookup per bind.
func protoH2(fc *config.Frontend, c net.Conn) bool {
	var local netip.AddrPort
	for _, b := range fc.Binds {
		if b.Options["proto"] != "h2" {
			continue
		}
		if !local.IsValid() {
			la, ok := c.LocalAddr().(*net.TCPAddr)
			if !ok {
				return false
			}
			local = la.AddrPort()
			local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
		}
		host, port, err := net.SplitHostPort(b.Address)
		if err != nil || port != strconv.Itoa(int(local.Port())) {
			continue
		}
		if host == "" || host == "*" {
			return true
		}
		if ip, err := netip.ParseAddr(host); err == nil && (ip.IsUnspecified() || ip.Unmap() == local.Addr()) {
			return true
		}
	}
	return false
}
