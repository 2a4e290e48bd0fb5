package proxy

import (
	"bufio"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"appl/proxy/config"
	"appl/proxy/relay"
)

// acceptRaw gives a non-blocking socket with TCP_NODELAY (inherited from the listener,
// as Go sets it on its accepted sockets), the client's address, and the local address
// from the listener or, on a wildcard bind, from getsockname.
func TestAcceptRawAddressesAndNoDelay(t *testing.T) {
	for _, bindAddr := range []string{"127.0.0.1:0", "0.0.0.0:0", "[::1]:0"} {
		t.Run(bindAddr, func(t *testing.T) {
			b := &config.Bind{Network: "tcp", Address: bindAddr}
			ln, err := listen(b)
			if err != nil {
				t.Skipf("listen %s: %v", bindAddr, err)
			}
			defer ln.Close()
			l := &listener{ln: ln, quit: make(chan struct{})}
			if err := l.openRaw(); err != nil {
				t.Fatal(err)
			}
			defer l.close()
			port := addrPort(ln.Addr()).Port()
			host := "127.0.0.1"
			if bindAddr[0] == '[' {
				host = "::1"
			}
			target := netip.AddrPortFrom(netip.MustParseAddr(host), port)
			c, err := net.Dial("tcp", target.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ra, err := l.acceptRaw(b)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(ra.fd)
			if want := addrPort(c.LocalAddr()); ra.peer != want {
				t.Errorf("peer %v, want %v", ra.peer, want)
			}
			if ra.local != target {
				t.Errorf("local %v, want %v", ra.local, target)
			}
			nd, err := unix.GetsockoptInt(ra.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
			if err != nil || nd == 0 {
				t.Errorf("TCP_NODELAY %d, %v: not inherited", nd, err)
			}
			fl, err := unix.FcntlInt(uintptr(ra.fd), unix.F_GETFL, 0)
			if err != nil || fl&unix.O_NONBLOCK == 0 {
				t.Errorf("accepted socket is blocking (flags %#x, %v)", fl, err)
			}
			fdf, _ := unix.FcntlInt(uintptr(ra.fd), unix.F_GETFD, 0)
			if fdf&unix.FD_CLOEXEC == 0 {
				t.Errorf("accepted socket is not close-on-exec")
			}
		})
	}
}

// A closed listener ends acceptRaw with net.ErrClosed, as AcceptTCP, and its port is
// free again (the duplicate descriptor is closed too).
func TestAcceptRawClosed(t *testing.T) {
	b := &config.Bind{Network: "tcp", Address: "127.0.0.1:0"}
	ln, err := listen(b)
	if err != nil {
		t.Fatal(err)
	}
	l := &listener{ln: ln, quit: make(chan struct{})}
	if err := l.openRaw(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := l.acceptRaw(b)
		errc <- err
	}()
	l.close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("acceptRaw after close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("acceptRaw did not return after close")
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Fatal("closed listener still accepts connections")
	}
}

// A raw session waiting in the queue (no relay yet) is listed with its client address
// and ends at once when shut down: the client sees the close, the slot is released and
// the line is logged with the kill's cause.
func TestRawSessionKilledBeforeRelay(t *testing.T) {
	if relay.DefaultMode() != relay.ModeLoop {
		t.Skip("raw accept needs the event loops (APPL_EVLOOP=off)")
	}
	b := startBackend(t, "s0", "")
	s := srv("s0", b.addr, 1)
	s.MaxConn, s.MaxQueue = 1, 2
	be := tcpBackend("be", "roundrobin", s)
	be.Timeouts.Queue = 20 * time.Second
	fa := freeAddr(t)
	p, _ := startProxy(t, &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{be}})

	first, err := net.Dial("tcp", fa)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	first.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := bufio.NewReader(first).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	queued, err := net.Dial("tcp", fa)
	if err != nil {
		t.Fatal(err)
	}
	defer queued.Close()
	eventually(t, 5*time.Second, "one queued", func() bool { return p.Status().Backends[0].Queue == 1 })
	var id uint64
	want := addrPort(queued.LocalAddr())
	for _, si := range p.Sessions() {
		if si.Src == want.String() {
			id = si.ID
		}
	}
	if id == 0 {
		t.Fatalf("queued session from %v not listed: %+v", want, p.Sessions())
	}
	if err := p.ShutdownSession(id); err != nil {
		t.Fatal(err)
	}
	queued.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := queued.Read(make([]byte, 8)); err == nil {
		t.Fatalf("killed queued connection read %d bytes", n)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("killed queued connection still open")
	}
	// The first connection still works and the queued one never reached the server.
	if _, err := first.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(first).ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("first connection after the kill: %q, %v", line, err)
	}
	first.Close()
	eventually(t, 25*time.Second, "sessions ended", func() bool { return len(p.Sessions()) == 0 })
	if h := b.hits.Load(); h != 1 {
		t.Fatalf("backend saw %d connections, want 1 (the killed one must not be relayed)", h)
	}
}
