package check

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"appl/proxy/tlsconf"
	"appl/proxy/tlsconf/tlstest"
)

// tlsServer is a real TLS listener on loopback with a certificate for srv.example
// issued by ca. serve runs on each handshaken connection; seen records what arrived.
type tlsServer struct {
	addr netip.AddrPort
	mu   sync.Mutex
	snis []string
	reqs []string
}

func (s *tlsServer) sniList() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.snis...)
}

func (s *tlsServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reqs...)
}

func startTLS(t *testing.T, ca *tlstest.CA, serve func(s *tlsServer, c *tls.Conn)) *tlsServer {
	t.Helper()
	certPEM, keyPEM := ca.Issue(t, "srv.example", "srv.example")
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	s := &tlsServer{}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		s.mu.Lock()
		s.snis = append(s.snis, h.ServerName)
		s.mu.Unlock()
		return nil, nil
	}}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				tc.SetDeadline(time.Now().Add(5 * time.Second))
				if tc.Handshake() != nil {
					return
				}
				serve(s, tc)
			}()
		}
	}()
	s.addr = netip.MustParseAddrPort(ln.Addr().String())
	return s
}

// httpServe answers one HTTP request with status and records its request line.
func httpServe(status string) func(*tlsServer, *tls.Conn) {
	return func(s *tlsServer, c *tls.Conn) {
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, strings.TrimSpace(line))
		s.mu.Unlock()
		c.Write([]byte("HTTP/1.1 " + status + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
	}
}

// clientTLS builds the check's configuration as package proxy does: through
// proxy/tlsconf, with the server's verify and ca-file.
func clientTLS(t *testing.T, verify, caFile, sni string) *tls.Config {
	t.Helper()
	c, _, err := tlsconf.NewClient(tlsconf.ClientSpec{Verify: verify, CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	return c.Config(sni)
}

func TestTLSConnectCheck(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "check CA")
	other := tlstest.NewCA(t, "another CA")
	caFile, otherFile := ca.WriteCA(t, dir, "ca.pem"), other.WriteCA(t, dir, "other.pem")
	srv := startTLS(t, ca, func(*tlsServer, *tls.Conn) {})

	run := func(cfg *tls.Config) Outcome {
		return (&Probe{Addr: srv.addr, Timeout: 2 * time.Second, TLS: cfg}).Run(context.Background())
	}
	// Up over TLS: HAProxy reports a completed handshake as L6OK.
	if o := run(clientTLS(t, "none", "", "")); !o.OK || o.Status != StatusL6OK || o.Detail() != "Layer6 check passed" {
		t.Fatalf("verify none: %+v", o)
	}
	if o := run(clientTLS(t, "required", caFile, "")); !o.OK || o.Status != StatusL6OK {
		t.Fatalf("verify required, right CA: %+v", o)
	}
	if o := run(clientTLS(t, "required", caFile, "srv.example")); !o.OK || o.Status != StatusL6OK {
		t.Fatalf("verify required, matching check-sni: %+v", o)
	}
	// Down: a certificate the CA file does not vouch for.
	o := run(clientTLS(t, "required", otherFile, ""))
	if o.OK || o.Status != StatusL6RSP || o.Detail() != `Layer6 invalid response, info: "SSL handshake failure"` {
		t.Fatalf("verify required, wrong CA: %+v %q", o, o.Detail())
	}
	// Down: a name that is not the certificate's (haproxy 2.6's wording).
	o = run(clientTLS(t, "required", caFile, "other.example"))
	if o.OK || o.Status != StatusL6RSP || o.Info != "Server presented an SSL certificate different from the expected one" {
		t.Fatalf("verify required, wrong name: %+v", o)
	}
	// The SNI sent is the configuration's (check-sni), none without one.
	snis := srv.sniList()
	if len(snis) != 5 || snis[0] != "" || snis[2] != "srv.example" || snis[4] != "other.example" {
		t.Fatalf("SNIs seen by the server: %q", snis)
	}
}

func TestTLSCheckAgainstPlainServers(t *testing.T) {
	cfg := clientTLS(t, "none", "", "")
	garbage := listen(t, func(c net.Conn) {
		c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n"))
		c.Read(make([]byte, 1024))
	})
	o := (&Probe{Addr: garbage, Timeout: 2 * time.Second, TLS: cfg}).Run(context.Background())
	if o.OK || o.Status != StatusL6RSP || o.Info != "SSL handshake failure" {
		t.Fatalf("plain server answering garbage: %+v", o)
	}
	// A server that accepts and says nothing: the handshake times out at the connect
	// deadline (Timeout), not at the read timeout (HAProxy: L6TOUT after timeout connect).
	silent := listen(t, func(c net.Conn) { c.Read(make([]byte, 4096)); time.Sleep(3 * time.Second) })
	start := time.Now()
	o = (&Probe{Addr: silent, Timeout: 150 * time.Millisecond, ReadTimeout: 5 * time.Second, TLS: cfg}).Run(context.Background())
	if o.OK || o.Status != StatusL6TOUT || o.Info != "" || o.Detail() != "Layer6 timeout" {
		t.Fatalf("silent server: %+v", o)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("silent server: the handshake took %v, want about the 150ms connect timeout", d)
	}
	// Without TLS the same silent server passes a connect check: TLS is what tells.
	if o := (&Probe{Addr: silent, Timeout: time.Second}).Run(context.Background()); !o.OK || o.Status != StatusL4OK {
		t.Fatalf("plain connect: %+v", o)
	}
}

func TestHTTPCheckOverTLS(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "check CA")
	caFile := ca.WriteCA(t, dir, "ca.pem")
	ok := startTLS(t, ca, httpServe("200 OK"))
	bad := startTLS(t, ca, httpServe("503 Service Unavailable"))
	hc, err := CompileHTTP(HTTPCheck{Method: "GET", URI: "/health"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientTLS(t, "required", caFile, "srv.example")
	o := (&Probe{Addr: ok.addr, Timeout: 2 * time.Second, HTTP: hc, TLS: cfg}).Run(context.Background())
	if !o.OK || o.Status != StatusL7OK || o.Code != 200 {
		t.Fatalf("httpchk over TLS: %+v", o)
	}
	if r := ok.requests(); len(r) != 1 || r[0] != "GET /health HTTP/1.0" {
		t.Fatalf("request seen through TLS: %q", r)
	}
	o = (&Probe{Addr: bad.addr, Timeout: 2 * time.Second, HTTP: hc, TLS: cfg}).Run(context.Background())
	if o.OK || o.Status != StatusL7STS || o.Code != 503 {
		t.Fatalf("httpchk over TLS, 503: %+v", o)
	}
	// The same check without TLS gets no HTTP answer from a TLS server.
	o = (&Probe{Addr: ok.addr, Timeout: 2 * time.Second, HTTP: hc}).Run(context.Background())
	if o.OK {
		t.Fatalf("plain httpchk against a TLS server passed: %+v", o)
	}
	// verify required with the wrong CA: the HTTP check fails at layer 6.
	other := tlstest.NewCA(t, "another CA")
	o = (&Probe{Addr: ok.addr, Timeout: 2 * time.Second, HTTP: hc, TLS: clientTLS(t, "required", other.WriteCA(t, dir, "o.pem"), "")}).Run(context.Background())
	if o.OK || o.Status != StatusL6RSP || o.Detail() != `Layer6 invalid response, info: "SSL handshake failure"` {
		t.Fatalf("httpchk, wrong CA: %+v", o)
	}
}

func TestTCPCheckOverTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "check CA")
	srv := startTLS(t, ca, func(s *tlsServer, c *tls.Conn) {
		line, _ := bufio.NewReader(c).ReadString('\n')
		if line == "PING\r\n" {
			c.Write([]byte("+PONG\r\n"))
		}
	})
	steps, err := Compile([]Step{{Action: "send", Data: []byte("PING\r\n")}, {Action: "expect", Match: "string", Pattern: "+PONG"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientTLS(t, "none", "", "")
	// Implicit connect over TLS (check-ssl / an ssl server).
	if o := (&Probe{Addr: srv.addr, Timeout: 2 * time.Second, Steps: steps, TLS: cfg}).Run(context.Background()); !o.OK || o.Status != StatusL7OK {
		t.Fatalf("tcp-check over TLS: %+v", o)
	}
	// An explicit `tcp-check connect ssl` step.
	withConnect, _ := Compile(append([]Step{{Action: "connect", TLS: cfg}}, steps...))
	if o := (&Probe{Addr: srv.addr, Timeout: 2 * time.Second, Steps: withConnect}).Run(context.Background()); !o.OK {
		t.Fatalf("tcp-check connect ssl: %+v", o)
	}
	// haproxy 2.6's wording for handshake failures in sequences.
	garbage := listen(t, func(c net.Conn) { c.Write([]byte("NOT TLS\r\n")); c.Read(make([]byte, 1024)) })
	o := (&Probe{Addr: garbage, Timeout: 2 * time.Second, Steps: steps, TLS: cfg}).Run(context.Background())
	if o.Detail() != `Layer6 invalid response, info: "SSL handshake failure at initial connection step of tcp-check"` {
		t.Fatalf("implicit connect: %q", o.Detail())
	}
	o = (&Probe{Addr: garbage, Timeout: 2 * time.Second, Steps: withConnect}).Run(context.Background())
	if o.Detail() != `Layer6 invalid response, info: "SSL handshake failure at step 1 of tcp-check (connect)"` {
		t.Fatalf("connect step: %q", o.Detail())
	}
	silent := listen(t, func(c net.Conn) { c.Read(make([]byte, 4096)); time.Sleep(2 * time.Second) })
	o = (&Probe{Addr: silent, Timeout: 150 * time.Millisecond, Steps: withConnect}).Run(context.Background())
	if o.Detail() != `Layer6 timeout, info: " at step 1 of tcp-check (connect)"` {
		t.Fatalf("connect step timeout: %q", o.Detail())
	}
	o = (&Probe{Addr: silent, Timeout: 150 * time.Millisecond, Steps: steps, TLS: cfg}).Run(context.Background())
	if o.Detail() != `Layer6 timeout, info: " at initial connection step of tcp-check"` {
		t.Fatalf("implicit connect timeout: %q", o.Detail())
	}
}

// A stopped check (shutdown, reload) ends a hanging handshake at once.
func TestTLSCheckStopsWithContext(t *testing.T) {
	silent := listen(t, func(c net.Conn) { c.Read(make([]byte, 4096)); time.Sleep(3 * time.Second) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Outcome, 1)
	cfg := clientTLS(t, "none", "", "")
	go func() {
		done <- (&Probe{Addr: silent, Timeout: 10 * time.Second, TLS: cfg}).Run(ctx)
	}()
	time.AfterFunc(50*time.Millisecond, cancel)
	select {
	case o := <-done:
		if o.OK {
			t.Fatalf("%+v", o)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a cancelled check kept waiting for the handshake")
	}
}
