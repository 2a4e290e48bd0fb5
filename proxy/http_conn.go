package proxy

// Raw sockets for `mode http` (docs/dev/http.md, "Performance"): a server connection is
// dialed with evloop.Dial (socket, connect, poll(0) on loopback; no getsockname,
// getpeername, SO_ERROR or goroutine hand-off as in package net's dialer) and handed to
// the engine as an httpmode.FDConn, which enters Go's netpoller (without a dup) only
// when it has to wait.
// APPL_HTTP_RAW=off in appld's environment keeps package net's dialer (A/B benches).

import (
	"context"
	"net"
	"net/netip"
	"os"
	"time"

	"appl/proxy/evloop"
	"appl/proxy/httpmode"
)

// httpRaw: dial (and accept) http sockets raw; APPL_HTTP_RAW=off (or 0) turns it off.
var httpRaw = os.Getenv("APPL_HTTP_RAW") != "off" && os.Getenv("APPL_HTTP_RAW") != "0"

// dialHTTP connects to srv for a client src whose original destination was dst, once.
// Servers with ssl or a `source` (bind, usesrc, port ranges, interface: dialServer's
// rules), and dials without a connect timeout (which then follow ctx, as package net
// does), go through package net; the others are dialed raw. Errors are *net.OpError
// either way (a timeout matches os.ErrDeadlineExceeded), so retries and the sC / SC
// letters are unchanged.
func dialHTTP(ctx context.Context, srv *server, src, dst netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	sp := srv.spec.Load()
	if !httpRaw || sp.cfg.TLS != nil || sp.source != nil || timeout <= 0 {
		c, err := dialServer(ctx, srv, src, dst, timeout)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	addr, err := srv.addrFor(dst)
	if err != nil {
		return nil, err
	}
	fd, err := evloop.Dial(addr, evloop.DialOptions{Timeout: timeout})
	if err != nil {
		return nil, err
	}
	return httpmode.NewFDConn(fd, netip.AddrPort{}, addr), nil
}

// takeRawClient wraps the session's raw client socket (accepted with accept4, s.cfd)
// in an httpmode.FDConn the caller closes; nil when there is none. s.cfd keeps the
// descriptor until that Close, so that a kill (killClient: hard stop, `shutdown
// session`) shuts the socket down and the engine's I/O ends; the Close forgets it
// first (under s.cmu), so a kill never reaches a reused descriptor number, and
// closeClient leaves it to the FDConn.
func (s *session) takeRawClient() *httpmode.FDConn {
	s.cmu.Lock()
	fd := s.cfd
	s.cmu.Unlock()
	if fd < 0 {
		return nil
	}
	c := httpmode.NewFDConn(fd, s.dst, s.peer)
	c.SetBeforeClose(s.forgetRawClient)
	return c
}

func (s *session) forgetRawClient() {
	s.cmu.Lock()
	s.cfd = -1
	s.cmu.Unlock()
}

// killedRaw reports whether a kill reached the session before it could see s.cancel
// (the kill also shut the socket down: this only saves the engine a failed read).
func (s *session) killedRaw() bool {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return s.ckill != 0
}

// httpStackReserve makes an http session's goroutine grow its stack once, to 16 KiB,
// while the stack is still shallow (frame + what is in use rounds up to 16 KiB), instead
// of several times by doubling once deep in the engine: each copy walks every frame
// (runtime.copystack was 12-16 % of appld's user CPU with a connection per request,
// 5-7 % with this). Larger (a 32 KiB stack) costs more: stacks from 32 KiB up are not
// in the per-P cache.
const httpStackReserve = 8 << 10

// reserveStack makes the goroutine's stack at least httpStackReserve deep: the
// function's frame is that large, so its prologue grows the stack at once; the body
// touches nothing when use is false.
//
//go:noinline
func reserveStack(use bool, i int) byte {
	if !use {
		return 0
	}
	var b [httpStackReserve]byte
	b[i%len(b)] = 1
	return b[(i*7)%len(b)]
}

// httpRawAccept reports whether connections of an http frontend can be accepted raw
// (listener.acceptRaw: accept4, no net.TCPConn, no getsockname or TCP_NODELAY call per
// connection; serveHTTP then wraps the socket in an httpmode.FDConn, see
// takeRawClient). rawPath (listener.go) still checks the bind: no ssl, no
// accept-proxy, no tcp-request inspect-delay.
func httpRawAccept(fe *frontend) bool { return fe.http != nil && httpRaw }
