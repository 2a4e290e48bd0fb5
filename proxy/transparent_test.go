package proxy

import (
	"bufio"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"appl/proxy/config"
)

// TestTransparentBindAndUseSrcClientIP runs seed 000's shape on loopback: a transparent
// bind, a server without a port (the client's destination port is used) and `source
// 0.0.0.0 usesrc clientip`, so the backend sees the client's own address as its peer.
// The TPROXY interception itself (nftables, policy routing) is netsetup's and is tested
// in namespaces there; on loopback every address of 127/8 is local, which lets the
// socket options and address plumbing be checked here.
func TestTransparentBindAndUseSrcClientIP(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("IP_TRANSPARENT needs CAP_NET_ADMIN (run as root)")
	}
	fa := freeAddr(t)
	_, port, _ := net.SplitHostPort(fa)
	// The backend listens on another loopback address, same port as the frontend.
	peer := make(chan string, 1)
	ln, err := net.Listen("tcp", "127.0.0.3:"+port)
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.3:%s: %v", port, err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		peer <- c.RemoteAddr().String()
		c.Write([]byte("ok\n"))
	}()
	fe := tcpFrontend("fe", fa, "be")
	fe.Binds[0].Transparent = true
	s := &config.Server{Name: "srv1", Address: "127.0.0.3", Weight: 1} // no port
	be := tcpBackend("be", "roundrobin", s)
	be.Source = &config.Source{UseSrc: "clientip"}
	startProxy(t, &config.Config{Frontends: []*config.Frontend{fe}, Backends: []*config.Backend{be}})
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", fa)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if l, err := bufio.NewReader(c).ReadString('\n'); err != nil || l != "ok\n" {
		t.Fatalf("%q %v", l, err)
	}
	select {
	case p := <-peer:
		if !strings.HasPrefix(p, "127.0.0.2:") {
			t.Fatalf("backend saw peer %s, want the client's address 127.0.0.2", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("backend saw nothing")
	}
}

func TestShutdownSessionsOnMarkedDown(t *testing.T) {
	b := startBackend(t, "s0", "")
	// The check port is a separate listener we can close to fail the checks while the
	// established session's server stays alive.
	chk, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := chk.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, cport, _ := net.SplitHostPort(chk.Addr().String())
	s := srv("s0", b.addr, 1)
	s.Check, s.Inter, s.Rise, s.Fall, s.OnMarkedDown = true, 50*time.Millisecond, 1, 1, "shutdown-sessions"
	for _, ch := range cport {
		s.CheckPort = s.CheckPort*10 + int(ch-'0')
	}
	fa := freeAddr(t)
	p, _ := startProxy(t, &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{tcpBackend("be", "roundrobin", s)}})
	eventually(t, 5*time.Second, "checked", func() bool { return !serverStatus(p, "be", "s0").LastCheck.IsZero() })
	c, err := net.Dial("tcp", fa)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	rd := bufio.NewReader(c)
	rd.ReadString('\n')
	chk.Close()
	// The session is killed when the server is marked down.
	if _, err := rd.ReadString('\n'); err == nil {
		t.Fatal("session survived its server going down")
	}
	if st := serverStatus(p, "be", "s0").State; st != StateDown {
		t.Fatalf("state %s", st)
	}
}

func TestTCPCheckSequenceMarksDown(t *testing.T) {
	b := startBackend(t, "s0", "") // sends "s0\n" and waits: the expect below never matches
	s := srv("s0", b.addr, 1)
	s.Check, s.Inter, s.Rise, s.Fall = true, 50*time.Millisecond, 1, 1
	be := tcpBackend("be", "roundrobin", s)
	be.Check = config.CheckSpec{Kind: "tcp-check", TCPSteps: []config.TCPCheckStep{{Action: "expect", Match: "string", Pattern: "+OK"}}}
	fa := freeAddr(t)
	p, logs := startProxy(t, &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{be}})
	eventually(t, 5*time.Second, "down by tcp-check", func() bool { return serverStatus(p, "be", "s0").State == StateDown })
	if logs.FilterMessageSnippet(`Server be/s0 is DOWN, reason: Layer7 timeout, info: "at step 1 of tcp-check (expect string '+OK')"`).Len() != 1 {
		t.Fatalf("log: %v", messages(logs))
	}
	if logs.FilterMessageSnippet("backend be has no server available!").Len() != 1 {
		t.Fatalf("log: %v", messages(logs))
	}
	// Runtime state changes are events too.
	ev, cancel := p.Subscribe()
	defer cancel()
	if err := p.SetServerState("be", "s0", AdminMaint); err != nil {
		t.Fatal(err)
	}
	if e := <-ev; e.To != StateMaint || e.From != StateDown {
		t.Fatalf("%+v", e)
	}
	if err := p.SetServerWeight("be", "nope", 3); err == nil {
		t.Fatal("unknown server accepted")
	}
}
