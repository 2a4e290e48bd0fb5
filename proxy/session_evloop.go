package proxy

import (
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"appl/proxy/evloop"
	"appl/proxy/relay"
)

// The tcp-mode server side of the event-loop relay (relay.ModeLoop, the default): the
// server socket is dialed raw by evloop.Dial, never entering Go's netpoller, and handed
// to the loop with the client. Servers with a `source` keep Go's dialer (dialOnce, with
// its transparent and bind rules); relay.New then moves that socket to the loop too.

// upstream is a connected server socket: a net.TCPConn, or a raw descriptor dialed by
// evloop.Dial (tc nil).
type upstream struct {
	tc *net.TCPConn
	fd int
}

func (u upstream) close() {
	if u.tc != nil {
		u.tc.Close()
	} else {
		unix.Close(u.fd)
	}
}

// relay hands the client and the server socket to a relay; on error both are closed.
func (u upstream) relay(c *net.TCPConn, opt relay.Options, done func(relay.Result)) (*relay.Relay, error) {
	if u.tc == nil {
		return relay.NewFD(c, u.fd, opt, done)
	}
	r, err := relay.New(c, u.tc, opt, done)
	if err != nil {
		u.tc.Close()
	}
	return r, err
}

// relayRaw is relay for a raw client socket (serveRaw): cfd goes to the relay with the
// server socket; on error the server socket is closed, cfd stays the caller's.
func (u upstream) relayRaw(cfd int, opt relay.Options, done func(relay.Result)) (*relay.Relay, error) {
	sfd := u.fd
	if u.tc != nil {
		var err error
		if sfd, err = evloop.Detach(u.tc); err != nil {
			u.tc.Close()
			return nil, err
		}
	}
	return relay.NewFDs(cfd, sfd, opt, done), nil
}

// dialUpstream connects to s.srv once, raw when the event loops relay and the server
// has no source address.
func (s *session) dialUpstream(timeout time.Duration) (upstream, error) {
	if s.srv == nil || relay.DefaultMode() != relay.ModeLoop || s.tlsClient || s.srv.spec.Load().source != nil ||
		s.srv.spec.Load().cfg.TLS != nil {
		sc, err := s.dialOnce(timeout)
		if err == nil && s.be.serverKeepAlive() {
			keepAliveConn(sc)
		}
		return upstream{tc: sc}, err
	}
	addr, err := s.srv.addrFor(s.dst)
	if err != nil {
		return upstream{}, err
	}
	fd, err := evloop.Dial(addr, evloop.DialOptions{Timeout: timeout})
	if err == nil && s.be.serverKeepAlive() {
		keepAliveFD(fd)
	}
	return upstream{fd: fd}, err
}

// sendProxyUp writes the PROXY header srv asks for on either kind of server socket.
func (s *session) sendProxyUp(up upstream) error {
	if up.tc != nil {
		return writeProxyHeader(up.tc, s.srv, s.src, s.dst)
	}
	hdr, err := proxyHeader(s.srv, s.src, s.dst)
	if err != nil || hdr == nil {
		return err
	}
	// Right after connect the send buffer is empty: the header goes out in one write.
	n, err := unix.Write(up.fd, hdr)
	if err == nil && n < len(hdr) {
		err = unix.EAGAIN
	}
	if err != nil {
		return os.NewSyscallError("write", err)
	}
	return nil
}
