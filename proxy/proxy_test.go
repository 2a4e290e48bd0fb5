package proxy

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/sys/unix"

	"appl/proxy/config"
)

func TestDistributionOverRealConnections(t *testing.T) {
	weights := []int{1, 2, 3}
	for _, algo := range []string{"roundrobin", "static-rr", "source", "random", "leastconn"} {
		t.Run(algo, func(t *testing.T) {
			var servers []*config.Server
			for i, w := range weights {
				b := startBackend(t, fmt.Sprintf("s%d", i), "")
				servers = append(servers, srv(fmt.Sprintf("s%d", i), b.addr, w))
			}
			be := tcpBackend("be", algo, servers...)
			fa := freeAddr(t)
			p, _ := startProxy(t, &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{be}})
			counts := map[string]int{}
			const n = 1200
			if algo == "leastconn" {
				// leastconn balances concurrent connections: hold them all open.
				var conns []net.Conn
				for k := 0; k < 600; k++ {
					c, err := net.Dial("tcp", fa)
					if err != nil {
						t.Fatal(err)
					}
					c.SetDeadline(time.Now().Add(10 * time.Second))
					line, err := bufio.NewReader(c).ReadString('\n')
					if err != nil {
						t.Fatal(err)
					}
					counts[strings.TrimSpace(line)]++
					conns = append(conns, c)
				}
				for _, c := range conns {
					c.Close()
				}
			} else {
				for k := 0; k < n; k++ {
					var name string
					var err error
					if algo == "source" {
						// Vary the client address over 127.0.0.0/8.
						name, err = helloFrom(fa, fmt.Sprintf("127.%d.%d.%d", 1+k/65536%250, k/256%256, 1+k%250))
					} else {
						name, err = hello(fa)
					}
					if algo == "random" {
						// random(2) prefers the less loaded of two draws: let the
						// previous connection end so that only the weights decide.
						waitNoConn(p)
					}
					if err != nil {
						t.Fatalf("connection %d: %v", k, err)
					}
					counts[name]++
				}
			}
			total := 0
			for _, c := range counts {
				total += c
			}
			tol := map[string]float64{"roundrobin": 0.02, "static-rr": 0.02, "leastconn": 0.02, "source": 0.15}[algo]
			for i, w := range weights {
				want := float64(total) * float64(w) / 6
				got := counts[fmt.Sprintf("s%d", i)]
				bound := tol*want + 1
				if algo == "random" {
					// Random picks: five binomial standard deviations (a fixed 15 %
					// was 2.3 of them for s0 and failed now and then).
					q := float64(w) / 6
					bound = 5*math.Sqrt(float64(total)*q*(1-q)) + 1
				}
				if math.Abs(float64(got)-want) > bound {
					t.Errorf("%s: s%d got %d of %d, want %.0f (counts %v)", algo, i, got, total, want, counts)
				}
			}
		})
	}
}

func helloFrom(addr, src string) (string, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func TestFirstFillsServersInOrder(t *testing.T) {
	var servers []*config.Server
	for i := 0; i < 3; i++ {
		b := startBackend(t, fmt.Sprintf("s%d", i), "")
		s := srv(fmt.Sprintf("s%d", i), b.addr, 1)
		s.MaxConn = 4
		servers = append(servers, s)
	}
	fa := freeAddr(t)
	startProxy(t, &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{tcpBackend("be", "first", servers...)}})
	counts := map[string]int{}
	for k := 0; k < 10; k++ {
		c, err := net.Dial("tcp", fa)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		counts[strings.TrimSpace(line)]++
	}
	if counts["s0"] != 4 || counts["s1"] != 4 || counts["s2"] != 2 {
		t.Fatalf("counts %v, want 4/4/2", counts)
	}
}

func TestServerDownAndBackWithChecks(t *testing.T) {
	b0 := startBackend(t, "s0", "")
	b1 := startBackend(t, "s1", "")
	inter := 100 * time.Millisecond
	s0, s1 := srv("s0", b0.addr, 1), srv("s1", b1.addr, 1)
	for _, s := range []*config.Server{s0, s1} {
		s.Check, s.Inter, s.FastInter, s.DownInter, s.Rise, s.Fall = true, inter, inter, inter, 2, 3
	}
	fa := freeAddr(t)
	p, logs := startProxy(t, &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{tcpBackend("be", "roundrobin", s0, s1)}})
	events, cancel := p.Subscribe()
	defer cancel()
	// Both up: both serve.
	seen := map[string]bool{}
	for k := 0; k < 4; k++ {
		n, err := hello(fa)
		if err != nil {
			t.Fatal(err)
		}
		seen[n] = true
	}
	if !seen["s0"] || !seen["s1"] {
		t.Fatalf("seen %v", seen)
	}
	// Wait until s1 was checked healthy at least once, so its counter is full.
	eventually(t, 5*time.Second, "s1 fully healthy", func() bool {
		st := serverStatus(p, "be", "s1")
		return st.Health == 3
	})
	b1.stop()
	stopped := time.Now()
	var ev Event
	select {
	case ev = <-events:
	case <-time.After(5 * time.Second):
		t.Fatal("no DOWN event")
	}
	took := time.Since(stopped)
	if ev.Server != "s1" || ev.To != StateDown || ev.ActiveUp != 1 {
		t.Fatalf("event %+v", ev)
	}
	// fall*inter plus one interval of phase and scheduling slack.
	if took > 4*inter+200*time.Millisecond {
		t.Fatalf("marked down after %v, want within about fall*inter = %v", took, 3*inter)
	}
	if logs.FilterMessageSnippet("Server be/s1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\"").Len() != 1 {
		t.Fatalf("missing DOWN log line; have: %v", messages(logs))
	}
	if logs.FilterMessageSnippet("Health check for server be/s1 failed, reason: Layer4 connection problem").Len() < 2 {
		t.Fatalf("missing check failure lines; have: %v", messages(logs))
	}
	for k := 0; k < 20; k++ {
		n, err := hello(fa)
		if err != nil || n != "s0" {
			t.Fatalf("while s1 down: %q %v", n, err)
		}
	}
	// Back on the same address: up after rise checks.
	b1 = startBackend(t, "s1", b1.addr)
	select {
	case ev = <-events:
	case <-time.After(5 * time.Second):
		t.Fatal("no UP event")
	}
	if ev.Server != "s1" || ev.To != StateUp || ev.ActiveUp != 2 {
		t.Fatalf("event %+v", ev)
	}
	if logs.FilterMessageSnippet("Server be/s1 is UP, reason: Layer4 check passed").Len() != 1 {
		t.Fatalf("missing UP line; have %v", messages(logs))
	}
	seen = map[string]bool{}
	for k := 0; k < 4; k++ {
		n, _ := hello(fa)
		seen[n] = true
	}
	if !seen["s1"] {
		t.Fatal("s1 gets no traffic after coming back")
	}
}

func messages(logs *observer.ObservedLogs) []string {
	var out []string
	for _, e := range logs.All() {
		out = append(out, e.Message)
	}
	return out
}

func TestBackupTakesOverWhenAllPrimariesDown(t *testing.T) {
	p0 := startBackend(t, "p0", "")
	k0 := startBackend(t, "b0", "")
	k1 := startBackend(t, "b1", "")
	inter := 50 * time.Millisecond
	mk := func(name, addr string, backup bool) *config.Server {
		s := srv(name, addr, 1)
		s.Check, s.Inter, s.FastInter, s.DownInter, s.Rise, s.Fall, s.Backup = true, inter, inter, inter, 1, 1, backup
		return s
	}
	be := tcpBackend("be", "roundrobin", mk("p0", p0.addr, false), mk("b0", k0.addr, true), mk("b1", k1.addr, true))
	fa := freeAddr(t)
	p, _ := startProxy(t, &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{be}})
	for k := 0; k < 6; k++ {
		if n, err := hello(fa); err != nil || n != "p0" {
			t.Fatalf("primary up: got %q %v", n, err)
		}
	}
	p0.stop()
	eventually(t, 5*time.Second, "p0 down", func() bool { return serverStatus(p, "be", "p0").State == StateDown })
	// Without allbackups only the first backup serves.
	for k := 0; k < 6; k++ {
		if n, err := hello(fa); err != nil || n != "b0" {
			t.Fatalf("backup: got %q %v", n, err)
		}
	}
	// With allbackups, every backup serves.
	be2 := tcpBackend("be", "roundrobin", mk("p0", p0.addr, false), mk("b0", k0.addr, true), mk("b1", k1.addr, true))
	be2.AllBackups = true
	if err := p.Reload(&config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{be2}}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for k := 0; k < 10; k++ {
		n, err := hello(fa)
		if err != nil {
			t.Fatal(err)
		}
		seen[n]++
	}
	if seen["b0"] != 5 || seen["b1"] != 5 {
		t.Fatalf("allbackups: %v", seen)
	}
}

func TestMaxConnQueueSerialisesAndFullQueueRefused(t *testing.T) {
	b := startBackend(t, "s0", "")
	s := srv("s0", b.addr, 1)
	s.MaxConn, s.MaxQueue = 1, 2
	be := tcpBackend("be", "roundrobin", s)
	be.Timeouts.Queue = 5 * time.Second
	fa := freeAddr(t)
	p, _ := startProxy(t, &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{be}})

	first, err := net.Dial("tcp", fa)
	if err != nil {
		t.Fatal(err)
	}
	first.SetDeadline(time.Now().Add(5 * time.Second))
	r1 := bufio.NewReader(first)
	if _, err := r1.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	// Two more wait in the queue; a fourth finds the queue full and is closed.
	var queued []net.Conn
	for k := 0; k < 2; k++ {
		c, err := net.Dial("tcp", fa)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		queued = append(queued, c)
	}
	eventually(t, 5*time.Second, "two queued", func() bool { return p.Status().Backends[0].Queue == 2 })
	if b.hits.Load() != 1 {
		t.Fatalf("backend saw %d connections with maxconn 1", b.hits.Load())
	}
	over, err := net.Dial("tcp", fa)
	if err != nil {
		t.Fatal(err)
	}
	over.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := over.Read(make([]byte, 8)); err == nil {
		t.Fatalf("connection beyond the queue got %d bytes", n)
	}
	if got := p.Status().Backends[0].QueueFull; got != 1 {
		t.Fatalf("queue full count %d", got)
	}
	// Releasing the slot serves the queue one at a time (in the order the proxy queued
	// them, which need not be the dial order).
	served := make(chan net.Conn, 2)
	for _, c := range queued {
		go func(c net.Conn) {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
				served <- c
			} else {
				served <- nil
			}
		}(c)
	}
	first.Close()
	for i := 0; i < 2; i++ {
		c := <-served
		if c == nil {
			t.Fatalf("queued connection %d was not served", i)
		}
		if cur := serverStatus(p, "be", "s0").Cur; cur != 1 {
			t.Fatalf("server has %d connections with maxconn 1", cur)
		}
		select {
		case other := <-served:
			t.Fatalf("second queued connection served while the first holds the slot (%v)", other != nil)
		default:
		}
		c.Close()
	}
}

func TestQueueTimeout(t *testing.T) {
	b := startBackend(t, "s0", "")
	s := srv("s0", b.addr, 1)
	s.MaxConn = 1
	be := tcpBackend("be", "roundrobin", s)
	be.Timeouts.Queue = 100 * time.Millisecond
	fa := freeAddr(t)
	p, _ := startProxy(t, &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{be}})
	hold, err := net.Dial("tcp", fa)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	hold.SetDeadline(time.Now().Add(5 * time.Second))
	bufio.NewReader(hold).ReadString('\n')
	c, err := net.Dial("tcp", fa)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("queued connection: %v", err)
	}
	if time.Since(start) < 90*time.Millisecond {
		t.Fatalf("closed after %v, before timeout queue", time.Since(start))
	}
	if p.Status().Backends[0].QueueTimeouts != 1 {
		t.Fatal("queue timeout not counted")
	}
}

func TestSendProxyHeadersByteExact(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		got := make(chan []byte, 1)
		b := startBackend(t, "cap", "")
		// The server keeps what arrives until the payload "hi" that follows the header.
		b.handle(func(c net.Conn) bool {
			var buf []byte
			one := make([]byte, 1)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			for !strings.HasSuffix(string(buf), "hi") && len(buf) < 300 {
				if _, err := c.Read(one); err != nil {
					break
				}
				buf = append(buf, one[0])
			}
			got <- buf
			return true
		})
		fa := freeAddr(t)
		s := srv("s0", b.addr, 1)
		s.SendProxy, s.SendProxyV2 = !v2, v2
		startProxy(t, &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{tcpBackend("be", "roundrobin", s)}})
		c, err := net.Dial("tcp", fa)
		if err != nil {
			t.Fatal(err)
		}
		local := c.LocalAddr().(*net.TCPAddr)
		_, fport, _ := net.SplitHostPort(fa)
		var fp int
		fmt.Sscan(fport, &fp)
		var want []byte
		if v2 {
			// signature, v2 PROXY, TCP over IPv4, 12 address bytes, src, dst, ports
			want = []byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c")
			want = append(want, 127, 0, 0, 1, 127, 0, 0, 1, byte(local.Port>>8), byte(local.Port), byte(fp>>8), byte(fp))
		} else {
			want = []byte(fmt.Sprintf("PROXY TCP4 127.0.0.1 127.0.0.1 %d %d\r\n", local.Port, fp))
		}
		want = append(want, "hi"...)
		c.Write([]byte("hi"))
		select {
		case g := <-got:
			if string(g) != string(want) {
				t.Fatalf("v2=%v: server got %q, want %q", v2, g, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("nothing arrived")
		}
		c.Close()
	}
}

func TestAcceptProxy(t *testing.T) {
	b := startBackend(t, "s0", "")
	fa := freeAddr(t)
	fe := tcpFrontend("fe", fa, "be")
	fe.Binds[0].AcceptProxy = true
	s := srv("s0", b.addr, 1)
	s.SendProxy = true
	out := make(chan string, 1)
	b.handle(func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		out <- line
		return true
	})
	p, _ := startProxy(t, &config.Config{Frontends: []*config.Frontend{fe}, Backends: []*config.Backend{tcpBackend("be", "roundrobin", s)}})
	// Garbage instead of a header: refused, counted.
	c, err := net.Dial("tcp", fa)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("garbage header was not refused")
	}
	c.Close()
	if p.Status().Frontends[0].ProxyErrors != 1 {
		t.Fatal("bad header not counted")
	}
	if b.hits.Load() != 0 {
		t.Fatal("garbage reached the server")
	}
	// A good header: the client address it carries is passed on.
	c, err = net.Dial("tcp", fa)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("PROXY TCP4 192.0.2.9 198.51.100.1 40000 25\r\n"))
	select {
	case line := <-out:
		if line != "PROXY TCP4 192.0.2.9 198.51.100.1 40000 25\r\n" {
			t.Fatalf("server got %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing reached the server")
	}
}

func TestStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	b := startBackend(t, "s0", "")
	cfg := &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", busy.Addr().String(), "be")}, Backends: []*config.Backend{tcpBackend("be", "roundrobin", srv("s0", b.addr, 1))}}
	p, err := New(cfg, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Start()
	if err == nil || !strings.Contains(err.Error(), "frontend fe: bind "+busy.Addr().String()) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("port in use: %v", err)
	}
	// Unresolvable server.
	bad := srv("s0", "127.0.0.1:80", 1)
	bad.Address = "no-such-host.invalid"
	_, err = New(&config.Config{Backends: []*config.Backend{tcpBackend("be", "roundrobin", bad)}}, nil, Options{ResolveTimeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "backend be: server s0: cannot resolve \"no-such-host.invalid\"") {
		t.Fatalf("unresolvable: %v", err)
	}
	// Bad bind address.
	_, err = New(&config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", "127.0.0.1:99999", "")}}, nil, Options{})
	if err == nil {
		p, _ := New(&config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", "127.0.0.1:99999", "")}}, nil, Options{})
		if err = p.Start(); err == nil || !strings.Contains(err.Error(), "bind 127.0.0.1:99999") {
			t.Fatalf("bad address: %v", err)
		}
	}
}

func TestRefusedBackendRetriesAndRedispatch(t *testing.T) {
	good := startBackend(t, "good", "")
	dead := freeAddr(t)
	be := tcpBackend("be", "roundrobin", srv("dead", dead, 1), srv("good", good.addr, 1))
	be.Timeouts.Connect = 20 * time.Millisecond
	be.Retries = 2
	fa := freeAddr(t)
	p, _ := startProxy(t, &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{be}})
	// Without redispatch, a connection sent to the dead server fails after its retries.
	fails := 0
	for k := 0; k < 4; k++ {
		if _, err := hello(fa); err != nil {
			fails++
		}
	}
	if fails != 2 || p.Status().Backends[0].ConnErrors != 2 {
		t.Fatalf("%d failures, %d counted; want 2", fails, p.Status().Backends[0].ConnErrors)
	}
	be2 := tcpBackend("be", "roundrobin", srv("dead", dead, 1), srv("good", good.addr, 1))
	be2.Timeouts.Connect, be2.Retries, be2.Redispatch = 20*time.Millisecond, 2, true
	if err := p.Reload(&config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{be2}}); err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 4; k++ {
		if n, err := hello(fa); err != nil || n != "good" {
			t.Fatalf("with redispatch: %q %v", n, err)
		}
	}
}

func TestHalfCloseThroughProxy(t *testing.T) {
	b := startBackend(t, "s0", "")
	// The server reads everything until the client's FIN, then answers.
	b.handle(func(c net.Conn) bool {
		data, _ := io.ReadAll(c)
		c.Write([]byte(fmt.Sprintf("got %d bytes", len(data))))
		return true
	})
	fa := freeAddr(t)
	startProxy(t, &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{tcpBackend("be", "roundrobin", srv("s0", b.addr, 1))}})
	c, err := net.Dial("tcp", fa)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write(make([]byte, 100000))
	c.(*net.TCPConn).CloseWrite()
	reply, err := io.ReadAll(c)
	if err != nil || string(reply) != "got 100000 bytes" {
		t.Fatalf("reply %q %v", reply, err)
	}
}

func TestTimeouts(t *testing.T) {
	b := startBackend(t, "s0", "")
	silent := startBackend(t, "silent", "")
	silent.handle(func(c net.Conn) bool { io.Copy(io.Discard, c); return true })
	fa := freeAddr(t)
	fe := tcpFrontend("fe", fa, "be")
	fe.Timeouts.Client = 150 * time.Millisecond
	be := tcpBackend("be", "roundrobin", srv("s0", b.addr, 1))
	be.Timeouts.Server = time.Hour
	fb := freeAddr(t)
	fe2 := tcpFrontend("fe2", fb, "be2")
	fe2.Timeouts.Client = time.Hour
	be2 := tcpBackend("be2", "roundrobin", srv("silent", silent.addr, 1))
	be2.Timeouts.Server = 150 * time.Millisecond
	ft := freeAddr(t)
	fe3 := tcpFrontend("fe3", ft, "be3")
	fe3.Timeouts.Client = time.Hour
	be3 := tcpBackend("be3", "roundrobin", srv("silent", silent.addr, 1))
	be3.Timeouts.Server = time.Hour
	be3.Timeouts.Tunnel = 150 * time.Millisecond
	startProxy(t, &config.Config{Frontends: []*config.Frontend{fe, fe2, fe3}, Backends: []*config.Backend{be, be2, be3}})
	for _, a := range []string{fa, fb, ft} {
		c, err := net.Dial("tcp", a)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadAll(c) // s0 sends its name; all three are then idle
		c.Close()
		if err != nil || time.Since(start) < 140*time.Millisecond || time.Since(start) > 3*time.Second {
			t.Fatalf("%s: closed after %v (%v)", a, time.Since(start), err)
		}
	}
}

func TestConnectTimeout(t *testing.T) {
	// A listener whose accept queue is full drops SYNs: connects hang until the timeout.
	// Backlog 0 keeps that queue tiny; it counts as full once three probes in a row
	// time out (one timeout alone can be the loaded machine).
	ln := fullListener(t)
	defer ln.Close()
	be := tcpBackend("be", "roundrobin", srv("s0", ln.Addr().String(), 1))
	be.Timeouts.Connect, be.Retries = 100*time.Millisecond, 1
	fa := freeAddr(t)
	p, _ := startProxy(t, &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{be}})
	c, err := net.Dial("tcp", fa)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("%v", err)
	}
	if d := time.Since(start); d < 190*time.Millisecond {
		t.Fatalf("gave up after %v, want two attempts of 100ms", d)
	}
	if p.Status().Backends[0].ConnErrors != 1 {
		t.Fatal("not counted")
	}
}

// fullListener returns a listener (never accepting) whose accept queue is full.
func fullListener(t *testing.T) net.Listener {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "full-listener")
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var fill []net.Conn
	t.Cleanup(func() {
		for _, c := range fill {
			c.Close()
		}
	})
	for timeouts := 0; timeouts < 3; {
		if len(fill) > 1000 {
			ln.Close()
			t.Skip("could not fill the accept queue")
		}
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 100*time.Millisecond)
		if err != nil {
			timeouts++
			continue
		}
		timeouts = 0
		fill = append(fill, c)
	}
	return ln
}

func waitNoConn(p *Proxy) {
	deadline := time.Now().Add(5 * time.Second)
	for p.actconn.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Microsecond)
	}
}

func TestStatusAddresses(t *testing.T) {
	b := startBackend(t, "s0", "")
	s6 := &config.Server{Name: "v6", Address: "::1", Port: 8080, Weight: 1}
	so := &config.Server{Name: "off", Address: "127.0.0.1", Port: 1000, PortOffset: true, Weight: 1}
	sa := &config.Server{Name: "any", Address: "*", Weight: 1}
	p, err := New(&config.Config{Backends: []*config.Backend{tcpBackend("be", "roundrobin", srv("s0", b.addr, 2), s6, so, sa)}}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"s0": b.addr, "v6": "[::1]:8080", "off": "127.0.0.1:+1000", "any": "*"}
	for _, s := range p.Status().Backends[0].Servers {
		if s.Address != want[s.Name] || s.State != StateUp {
			t.Errorf("%s: address %q state %s, want %q UP", s.Name, s.Address, s.State, want[s.Name])
		}
	}
	if w := serverStatus(p, "be", "s0").Weight; w != 2 {
		t.Fatalf("weight %d", w)
	}
	if err := p.SetServerWeight("be", "s0", 7); err != nil || serverStatus(p, "be", "s0").Weight != 7 {
		t.Fatalf("set weight: %v", err)
	}
	if err := p.SetServerState("be", "s0", AdminDrain); err != nil || serverStatus(p, "be", "s0").State != StateDrain || serverStatus(p, "be", "s0").Weight != 0 {
		t.Fatalf("drain: %v %+v", err, serverStatus(p, "be", "s0"))
	}
}
