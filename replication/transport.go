package replication

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// The cluster listener carries three protocols over one mutual-TLS port.
// The first byte a client writes picks one: Raft's own RPC types (0..3,
// written by raft.NetworkTransport), a join request, or our request/
// response RPCs (forwarded writes, membership, status). Only join may come
// without a verified client certificate.
const (
	protoJoin byte = 'J'
	protoRPC  byte = 'R'
)

const handshakeTimeout = 5 * time.Second

// tlsLayer is a raft.StreamLayer: Accept hands Raft the connections whose
// first byte is a Raft RPC; the others are served here.
type tlsLayer struct {
	ln        net.Listener
	advertise net.Addr
	server    *tls.Config
	client    *tls.Config
	handle    func(proto byte, c *tls.Conn)

	raftConns chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup

	// Counted refusals: a peer without a valid certificate, a bad first
	// byte, a failed handshake.
	refused atomic.Int64
	conns   sync.Map // open conns, closed on Close so nothing outlives the node

	// cut names peers (by certificate name) this node cannot reach: fault
	// injection for partition tests, nil in service.
	cut atomic.Pointer[map[string]bool]
}

// setCut partitions this node from the named peers (none: heal) and drops
// the connections open to anyone.
func (l *tlsLayer) setCut(ids []string) {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	l.cut.Store(&m)
	l.conns.Range(func(k, _ any) bool {
		k.(net.Conn).Close()
		return true
	})
}

func (l *tlsLayer) isCut(cs tls.ConnectionState) bool {
	m := l.cut.Load()
	if m == nil || len(cs.PeerCertificates) == 0 {
		return false
	}
	return (*m)[cs.PeerCertificates[0].Subject.CommonName]
}

func newTLSLayer(ln net.Listener, advertise net.Addr, server, client *tls.Config, handle func(byte, *tls.Conn)) *tlsLayer {
	l := &tlsLayer{
		ln: ln, advertise: advertise, server: server, client: client, handle: handle,
		raftConns: make(chan net.Conn, 16),
		closed:    make(chan struct{}),
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

func (l *tlsLayer) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			select {
			case <-l.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			time.Sleep(10 * time.Millisecond) // e.g. EMFILE: do not spin
			continue
		}
		l.wg.Add(1)
		go l.serveConn(c)
	}
}

func (l *tlsLayer) track(c net.Conn) func() {
	l.conns.Store(c, struct{}{})
	return func() { l.conns.Delete(c) }
}

func (l *tlsLayer) serveConn(raw net.Conn) {
	defer l.wg.Done()
	tc := tls.Server(raw, l.server)
	untrack := l.track(tc)
	_ = tc.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := tc.Handshake(); err != nil {
		l.refused.Add(1)
		untrack()
		tc.Close()
		return
	}
	var b [1]byte
	if _, err := tc.Read(b[:]); err != nil {
		untrack()
		tc.Close()
		return
	}
	_ = tc.SetDeadline(time.Time{})
	verified := len(tc.ConnectionState().VerifiedChains) > 0
	if l.isCut(tc.ConnectionState()) {
		untrack()
		tc.Close()
		return
	}
	switch {
	case b[0] == protoJoin:
		defer untrack()
		l.handle(b[0], tc)
	case !verified:
		l.refused.Add(1)
		untrack()
		tc.Close()
	case b[0] == protoRPC:
		defer untrack()
		l.handle(b[0], tc)
	case b[0] < 16: // a raft RPC type (AppendEntries .. RequestPreVote, and room for more)
		pc := &prefixConn{Conn: tc, pre: b[0], has: true, untrack: untrack}
		select {
		case l.raftConns <- pc:
		case <-l.closed:
			pc.Close()
		}
	default:
		l.refused.Add(1)
		untrack()
		tc.Close()
	}
}

// Accept implements net.Listener for Raft.
func (l *tlsLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.raftConns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops accepting and closes every connection the layer opened or
// accepted.
func (l *tlsLayer) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.ln.Close()
		l.conns.Range(func(k, _ any) bool {
			k.(net.Conn).Close()
			return true
		})
	})
	return nil
}

// wait returns when every connection goroutine has ended.
func (l *tlsLayer) wait() { l.wg.Wait() }

func (l *tlsLayer) Addr() net.Addr { return l.advertise }

// Dial implements raft.StreamLayer.
func (l *tlsLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return l.dial(string(addr), timeout)
}

func (l *tlsLayer) dial(addr string, timeout time.Duration) (net.Conn, error) {
	select {
	case <-l.closed:
		return nil, net.ErrClosed
	default:
	}
	d := &net.Dialer{Timeout: timeout}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, l.client)
	_ = tc.SetDeadline(time.Now().Add(timeout))
	if err := tc.Handshake(); err != nil {
		tc.Close()
		return nil, err
	}
	_ = tc.SetDeadline(time.Time{})
	if l.isCut(tc.ConnectionState()) {
		tc.Close()
		return nil, errors.New("replication: peer unreachable (partitioned)")
	}
	untrack := l.track(tc)
	return &trackedConn{Conn: tc, untrack: untrack}, nil
}

// prefixConn gives back the byte read to pick the protocol.
type prefixConn struct {
	net.Conn
	pre     byte
	has     bool
	untrack func()
	once    sync.Once
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if c.has && len(p) > 0 {
		p[0] = c.pre
		c.has = false
		return 1, nil
	}
	return c.Conn.Read(p)
}

func (c *prefixConn) Close() error {
	c.once.Do(c.untrack)
	return c.Conn.Close()
}

type trackedConn struct {
	*tls.Conn
	untrack func()
	once    sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(c.untrack)
	return c.Conn.Close()
}
