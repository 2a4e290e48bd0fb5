package proxy

import (
	"bufio"
	"context"
	"errors"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"appl/proxy/config"
)

func TestReloadKeepsConnectionsAndListeners(t *testing.T) {
	b0 := startBackend(t, "s0", "")
	b1 := startBackend(t, "s1", "")
	fa, fb := freeAddr(t), freeAddr(t)
	cfg := func(addrs []string, s string) *config.Config {
		var srvs []*config.Server
		if strings.Contains(s, "0") {
			srvs = append(srvs, srv("s0", b0.addr, 1))
		}
		if strings.Contains(s, "1") {
			srvs = append(srvs, srv("s1", b1.addr, 1))
		}
		fe := tcpFrontend("fe", addrs[0], "be")
		for _, a := range addrs[1:] {
			fe.Binds = append(fe.Binds, &config.Bind{Network: "tcp", Address: a})
		}
		return &config.Config{Frontends: []*config.Frontend{fe}, Backends: []*config.Backend{tcpBackend("be", "roundrobin", srvs...)}}
	}
	p, _ := startProxy(t, cfg([]string{fa}, "0"))
	held, err := net.Dial("tcp", fa)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	rd := bufio.NewReader(held)
	held.SetDeadline(time.Now().Add(10 * time.Second))
	if l, _ := rd.ReadString('\n'); l != "s0\n" {
		t.Fatalf("got %q", l)
	}
	lnBefore := p.listeners["tcp|"+fa].ln
	// New bind, other server.
	if err := p.Reload(cfg([]string{fa, fb}, "1")); err != nil {
		t.Fatal(err)
	}
	if p.listeners["tcp|"+fa].ln != lnBefore {
		t.Fatal("unchanged bind got a new socket")
	}
	for _, a := range []string{fa, fb} {
		if n, err := hello(a); err != nil || n != "s1" {
			t.Fatalf("after reload via %s: %q %v", a, n, err)
		}
	}
	// The held connection still works, on the old server.
	held.Write([]byte("ping\n"))
	if l, err := rd.ReadString('\n'); err != nil || l != "ping\n" {
		t.Fatalf("held connection: %q %v", l, err)
	}
	// Removing a bind closes it.
	if err := p.Reload(cfg([]string{fb}, "1")); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", fa, time.Second); err == nil {
		t.Fatal("removed bind still accepts")
	}
	// A bad configuration is refused and the old one keeps serving.
	bad := cfg([]string{fb}, "1")
	bad.Frontends[0].DefaultBackend = "missing"
	if err := p.Reload(bad); err == nil || !strings.Contains(err.Error(), "default_backend missing does not exist") {
		t.Fatalf("bad reload: %v", err)
	}
	if n, err := hello(fb); err != nil || n != "s1" {
		t.Fatalf("after refused reload: %q %v", n, err)
	}
	busy, _ := net.Listen("tcp", "127.0.0.1:0")
	defer busy.Close()
	if err := p.Reload(cfg([]string{fb, busy.Addr().String()}, "1")); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("reload onto a busy port: %v", err)
	}
	if n, err := hello(fb); err != nil || n != "s1" {
		t.Fatalf("after failed reload: %q %v", n, err)
	}
}

func TestTenReloadsUnderLoadNoFailures(t *testing.T) {
	b0 := startBackend(t, "s0", "")
	b1 := startBackend(t, "s1", "")
	fa := freeAddr(t)
	mk := func(k int) *config.Config {
		w := 1 + k%3
		s0, s1 := srv("s0", b0.addr, w), srv("s1", b1.addr, 1)
		s0.Check, s0.Inter = true, 100*time.Millisecond
		return &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{tcpBackend("be", "roundrobin", s0, s1)}}
	}
	p, _ := startProxy(t, mk(0))
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 5000; k++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := hello(fa); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	for k := 1; k <= 10; k++ {
		before := ok.Load()
		if err := p.Reload(mk(k)); err != nil {
			t.Fatal(err)
		}
		// Each reload happens with connections flowing.
		eventually(t, 10*time.Second, "traffic between reloads", func() bool { return ok.Load() > before+20 })
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d connections failed across 10 reloads; first: %v", failed.Load(), ok.Load()+failed.Load(), firstErr.Load())
	}
	t.Logf("%d connections across 10 reloads, none failed", ok.Load())
}

func TestShutdownDrains(t *testing.T) {
	b := startBackend(t, "s0", "")
	fa := freeAddr(t)
	log, _ := observed()
	p, err := New(&config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{tcpBackend("be", "roundrobin", srv("s0", b.addr, 1))}}, log, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", fa)
	if err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(c)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	rd.ReadString('\n')
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- p.Shutdown(ctx)
	}()
	// Listener closed, established connection still served.
	eventually(t, 5*time.Second, "listener closed", func() bool {
		x, err := net.DialTimeout("tcp", fa, time.Second)
		if err == nil {
			x.Close()
		}
		return err != nil
	})
	c.Write([]byte("still\n"))
	if l, err := rd.ReadString('\n'); err != nil || l != "still\n" {
		t.Fatalf("during drain: %q %v", l, err)
	}
	select {
	case err := <-done:
		t.Fatalf("shutdown returned (%v) with a connection open", err)
	default:
	}
	c.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown did not return after the last connection ended")
	}
}

func TestShutdownHardStop(t *testing.T) {
	b := startBackend(t, "s0", "")
	fa := freeAddr(t)
	p, _ := startProxy(t, &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{tcpBackend("be", "roundrobin", srv("s0", b.addr, 1))}})
	c, err := net.Dial("tcp", fa)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	bufio.NewReader(c).ReadString('\n')
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := p.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection survived the hard stop")
	}
}

func TestPanicInConnectionIsRecovered(t *testing.T) {
	b := startBackend(t, "s0", "")
	fa := freeAddr(t)
	p, logs := startProxy(t, &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{tcpBackend("be", "roundrobin", srv("s0", b.addr, 1))}})
	var n atomic.Int32
	hook := func() {
		if n.Add(1) == 1 {
			panic("injected")
		}
	}
	p.testHook.Store(&hook)
	if _, err := hello(fa); err == nil {
		t.Fatal("panicking connection was served")
	}
	if n, err := hello(fa); err != nil || n != "s0" {
		t.Fatalf("after panic: %q %v", n, err)
	}
	if p.Status().Panics != 1 || logs.FilterMessageSnippet("panic in connection handling").Len() != 1 {
		t.Fatalf("panics %d", p.Status().Panics)
	}
	eventually(t, 5*time.Second, "slots released", func() bool { return p.actconn.Load() == 0 })
}

func TestFrontendMaxConn(t *testing.T) {
	b := startBackend(t, "s0", "")
	fa := freeAddr(t)
	fe := tcpFrontend("fe", fa, "be")
	fe.MaxConn = 2
	p, _ := startProxy(t, &config.Config{Frontends: []*config.Frontend{fe}, Backends: []*config.Backend{tcpBackend("be", "roundrobin", srv("s0", b.addr, 1))}})
	var conns []net.Conn
	for k := 0; k < 2; k++ {
		c, err := net.Dial("tcp", fa)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		bufio.NewReader(c).ReadString('\n')
		conns = append(conns, c)
	}
	// The third connects (kernel backlog) but is not accepted until a slot frees.
	third, err := net.Dial("tcp", fa)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	got := make(chan string, 1)
	go func() {
		third.SetDeadline(time.Now().Add(10 * time.Second))
		l, _ := bufio.NewReader(third).ReadString('\n')
		got <- l
	}()
	select {
	case l := <-got:
		t.Fatalf("third connection served above maxconn: %q", l)
	case <-time.After(200 * time.Millisecond):
	}
	if c := p.Status().Frontends[0].Cur; c != 2 {
		t.Fatalf("frontend has %d connections", c)
	}
	conns[0].Close()
	if l := <-got; l != "s0\n" {
		t.Fatalf("third after a slot freed: %q", l)
	}
	conns[1].Close()
}

func TestAccessLogToSyslog(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	b := startBackend(t, "s0", "")
	fa := freeAddr(t)
	fe := tcpFrontend("fe", fa, "be")
	fe.Log = config.Logging{TCPLog: true, Targets: []config.LogTarget{{Address: "udp:" + pc.LocalAddr().String(), Facility: "local0"}}}
	startProxy(t, &config.Config{Frontends: []*config.Frontend{fe}, Backends: []*config.Backend{tcpBackend("be", "roundrobin", srv("s0", b.addr, 1))}})
	c, err := net.Dial("tcp", fa)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	bufio.NewReader(c).ReadString('\n')
	local := c.LocalAddr().String()
	c.Close()
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	line := string(buf[:n])
	re := regexp.MustCompile(`^<134>\w{3} [ \d]\d \d\d:\d\d:\d\d haproxy\[\d+\]: ` + regexp.QuoteMeta(local) +
		` \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\] fe be/s0 0/\d+/\d+ 3 -- \d+/\d+/\d+/\d+/0 0/0\n$`)
	if !re.MatchString(line) {
		t.Fatalf("log line %q", line)
	}
}
