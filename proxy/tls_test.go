package proxy

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"appl/proxy/config"
	"appl/proxy/tlsconf/tlstest"
)

// loadCfg writes src as a config file in dir and decodes it (certificates included).
func loadTLSCfg(t *testing.T, dir, src string) *config.Config {
	t.Helper()
	p := filepath.Join(dir, "appl.cfg")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// recordingBackend keeps everything each connection sent until EOF, then answers
// "got N" and closes.
type recordingBackend struct {
	*testBackend
	mu   sync.Mutex
	got  []string
	sniF func(string)
}

func startRecording(t *testing.T) *recordingBackend {
	rb := &recordingBackend{testBackend: startBackend(t, "rec", "")}
	rb.handle(func(c net.Conn) bool {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c)
		rb.mu.Lock()
		rb.got = append(rb.got, string(b))
		rb.mu.Unlock()
		c.Write([]byte("got " + itoa(len(b)) + "\n"))
		return true
	})
	return rb
}

func (rb *recordingBackend) received() []string {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	return append([]string(nil), rb.got...)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

// tlsExchange connects with TLS, sends msg, half-closes and returns the reply line and
// the connection state.
func tlsExchange(addr string, cfg *tls.Config, msg string) (string, tls.ConnectionState, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return "", tls.ConnectionState{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", c.ConnectionState(), err
	}
	c.CloseWrite()
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSuffix(line, "\n"), c.ConnectionState(), err
}

func peerCN(cs tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 {
		return ""
	}
	return cs.PeerCertificates[0].Subject.CommonName
}

// A tcp frontend with ssl terminates TLS: SNI picks the certificate, ALPN is
// negotiated, the backend receives exactly the plaintext, ssl_fc_sni routes.
func TestTLSTerminationTCPMode(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "CA")
	ca.WriteBundle(t, dir, "a.pem", "a", "a.example.com")
	ca.WriteBundle(t, dir, "b.pem", "b", "b.example.com", "*.b.example.com")
	rec, other := startRecording(t), startRecording(t)
	fa := freeAddr(t)
	cfg := loadTLSCfg(t, dir, `
frontend fe
 mode tcp
 timeout client 10s
 bind `+fa+` ssl crt a.pem crt b.pem alpn h2,http/1.1
 use_backend other if { ssl_fc_sni -i x.b.example.com }
 use_backend rec if { ssl_fc }
backend rec
 timeout connect 2s
 timeout server 10s
 server r `+rec.addr+`
backend other
 timeout connect 2s
 timeout server 10s
 server o `+other.addr+`
`)
	startProxy(t, cfg)
	msg := strings.Repeat("plaintext through TLS ", 5000) // > one TLS record
	for _, tc := range []struct{ sni, cn string }{{"b.example.com", "b"}, {"a.example.com", "a"}, {"", "a"}, {"nobody.org", "a"}} {
		reply, cs, err := tlsExchange(fa, &tls.Config{InsecureSkipVerify: true, ServerName: tc.sni, NextProtos: []string{"h2", "http/1.1"}}, msg)
		if err != nil {
			t.Fatalf("sni %q: %v", tc.sni, err)
		}
		if peerCN(cs) != tc.cn || cs.NegotiatedProtocol != "h2" {
			t.Errorf("sni %q: certificate %q alpn %q, want %q h2", tc.sni, peerCN(cs), cs.NegotiatedProtocol, tc.cn)
		}
		if reply != "got "+itoa(len(msg)) {
			t.Errorf("sni %q: reply %q", tc.sni, reply)
		}
	}
	got := rec.received()
	if len(got) != 4 {
		t.Fatalf("backend saw %d connections, want 4", len(got))
	}
	for _, g := range got {
		if g != msg {
			t.Fatalf("backend received %d bytes, not the plaintext", len(g))
		}
	}
	if reply, cs, err := tlsExchange(fa, &tls.Config{InsecureSkipVerify: true, ServerName: "x.b.example.com"}, "wild"); err != nil || reply != "got 4" || peerCN(cs) != "b" {
		t.Errorf("wildcard: %q %q %v", reply, peerCN(cs), err)
	}
	if g := other.received(); len(g) != 1 || g[0] != "wild" {
		t.Errorf("ssl_fc_sni routing: other backend got %q", g)
	}
}

// Plaintext and garbage on an ssl bind are dropped and counted; the listener serves on.
func TestTLSBadClientDropped(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "CA")
	ca.WriteBundle(t, dir, "a.pem", "a", "a.example.com")
	rec := startRecording(t)
	fa := freeAddr(t)
	p, logs := startProxy(t, loadTLSCfg(t, dir, `
frontend fe
 timeout client 2s
 bind `+fa+` ssl crt a.pem
 default_backend rec
backend rec
 timeout connect 2s
 server r `+rec.addr+`
`))
	for _, junk := range []string{"GET / HTTP/1.0\r\n\r\n", "\x16\x03\x01\x00\x05hello", strings.Repeat("\x00", 300)} {
		c, err := net.Dial("tcp", fa)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte(junk))
		b, _ := io.ReadAll(c) // the proxy closes; an alert may come first
		c.Close()
		if strings.Contains(string(b), "got") {
			t.Errorf("junk %q reached the backend", junk)
		}
	}
	fe := p.cur.Load().frontends[0]
	eventually(t, 5*time.Second, "3 handshake failures counted", func() bool { return fe.tlsErrors.Load() == 3 })
	if n := logs.FilterMessage("SSL handshake failure").Len(); n < 1 {
		t.Errorf("handshake failures not logged")
	}
	if len(rec.received()) != 0 {
		t.Errorf("backend got connections: %q", rec.received())
	}
	if reply, _, err := tlsExchange(fa, &tls.Config{InsecureSkipVerify: true}, "still here"); err != nil || reply != "got 10" {
		t.Errorf("after junk: %q %v", reply, err)
	}
	// A client that never speaks is cut at timeout client.
	c, _ := net.Dial("tcp", fa)
	defer c.Close()
	eventually(t, 5*time.Second, "silent client timed out", func() bool { return fe.tlsErrors.Load() == 4 })
}

// tlsBackend is a TLS echo-ish server: it answers "NAME SNI\n".
func tlsBackend(t *testing.T, cert tls.Certificate, name string) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
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
				tc.Write([]byte(name + " " + tc.ConnectionState().ServerName + "\n"))
				io.Copy(io.Discard, tc)
			}()
		}
	}()
	return ln.Addr().String()
}

func certFrom(t *testing.T, ca *tlstest.CA, cn string, names ...string) tls.Certificate {
	c, k := ca.Issue(t, cn, names...)
	cert, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// Servers with ssl: verify required passes with the right CA and fails (connection
// error, logged) with the wrong one; verify none takes a self-signed server; sni sends
// the expression's value.
func TestServerTLS(t *testing.T) {
	dir := t.TempDir()
	good, bad := tlstest.NewCA(t, "good"), tlstest.NewCA(t, "bad")
	good.WriteCA(t, dir, "good.pem")
	bad.WriteCA(t, dir, "bad.pem")
	srvAddr := tlsBackend(t, certFrom(t, good, "srv", "srv.example.com"), "srv")
	selfSigned := tlstest.NewCA(t, "self")
	ssAddr := tlsBackend(t, certFrom(t, selfSigned, "self", "self.example.com"), "self")
	fOK, fBad, fNone := freeAddr(t), freeAddr(t), freeAddr(t)
	p, logs := startProxy(t, loadTLSCfg(t, dir, `
defaults
 timeout connect 2s
 timeout client 5s
 timeout server 5s
 retries 0
frontend ok
 bind `+fOK+`
 default_backend ok
frontend bad
 bind `+fBad+`
 default_backend bad
frontend none
 bind `+fNone+`
 default_backend none
backend ok
 server s `+srvAddr+` ssl verify required ca-file good.pem sni str(srv.example.com)
backend bad
 server s `+srvAddr+` ssl verify required ca-file bad.pem
backend none
 default-server ssl verify none
 server s `+ssAddr+`
`))
	if got, err := hello(fOK); err != nil || got != "srv srv.example.com" {
		t.Errorf("verify required, right CA: %q %v", got, err)
	}
	if got, err := hello(fNone); err != nil || got != "self " {
		t.Errorf("verify none, self-signed: %q %v", got, err)
	}
	if got, err := hello(fBad); err == nil {
		t.Errorf("verify required, wrong CA: got %q", got)
	}
	var beBad *backend
	for _, b := range p.cur.Load().order {
		if b.name == "bad" {
			beBad = b
		}
	}
	eventually(t, 5*time.Second, "connection error counted", func() bool { return beBad.connErrors.Load() == 1 })
	found := false
	for _, e := range logs.FilterMessage("SSL handshake with server failed").All() {
		found = found || strings.Contains(e.ContextMap()["error"].(string), "unknown authority")
	}
	if !found {
		t.Error("server handshake failure not logged with its cause")
	}
}

// A reload re-reads the certificates: new handshakes see the new one while a
// connection established before keeps working.
func TestTLSReloadSwapsCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "CA")
	ca.WriteBundle(t, dir, "site.pem", "one", "site.example.com")
	b := startBackend(t, "echo", "")
	fa := freeAddr(t)
	src := `
frontend fe
 timeout client 10s
 bind ` + fa + ` ssl crt site.pem
 default_backend be
backend be
 timeout connect 2s
 timeout server 10s
 server s ` + b.addr + `
`
	p, _ := startProxy(t, loadTLSCfg(t, dir, src))
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	cli := &tls.Config{RootCAs: pool, ServerName: "site.example.com"}
	held, err := tls.Dial("tcp", fa, cli)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	held.SetDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(held)
	if l, _ := rd.ReadString('\n'); l != "echo\n" || peerCN(held.ConnectionState()) != "one" {
		t.Fatalf("before reload: %q %q", l, peerCN(held.ConnectionState()))
	}
	ca.WriteBundle(t, dir, "site.pem", "two", "site.example.com")
	if err := p.Reload(loadTLSCfg(t, dir, src)); err != nil {
		t.Fatal(err)
	}
	c2, err := tls.Dial("tcp", fa, cli)
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
	if cn := peerCN(c2.ConnectionState()); cn != "two" {
		t.Errorf("after reload: certificate %q, want two", cn)
	}
	held.Write([]byte("ping\n"))
	if l, err := rd.ReadString('\n'); l != "ping\n" {
		t.Errorf("held connection after reload: %q %v", l, err)
	}
	// A broken certificate is refused by the reload; the old one keeps serving.
	os.WriteFile(filepath.Join(dir, "site.pem"), []byte("broken"), 0o600)
	if _, err := config.Load(filepath.Join(dir, "appl.cfg")); err == nil || !strings.Contains(err.Error(), "appl.cfg:4: bind: ssl: crt:") {
		t.Errorf("broken certificate: %v", err)
	}
	c3, err := tls.Dial("tcp", fa, cli)
	if err != nil {
		t.Fatal(err)
	}
	c3.Close()
	if cn := peerCN(c3.ConnectionState()); cn != "two" {
		t.Errorf("after refused reload: %q", cn)
	}
}

// TLS on both sides: the client's SNI is passed on with `sni ssl_fc_sni`, the session
// is listed with its backend and server, and data flows both ways.
func TestTLSBothSides(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "CA")
	ca.WriteBundle(t, dir, "front.pem", "front", "*.example.com")
	ca.WriteCA(t, dir, "ca.pem")
	up := tlsBackend(t, certFrom(t, ca, "up", "app.example.com"), "up")
	fa := freeAddr(t)
	p, _ := startProxy(t, loadTLSCfg(t, dir, `
defaults
 timeout connect 2s
 timeout client 5s
 timeout server 5s
frontend fe
 bind `+fa+` ssl crt front.pem
 default_backend be
backend be
 server s `+up+` ssl ca-file ca.pem sni ssl_fc_sni
`))
	c, err := tls.Dial("tcp", fa, &tls.Config{InsecureSkipVerify: true, ServerName: "app.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "up app.example.com\n" {
		t.Fatalf("through two TLS hops: %q %v", line, err)
	}
	c.Write([]byte("some bytes"))
	eventually(t, 5*time.Second, "session listed with its server", func() bool {
		for _, si := range p.Sessions() {
			if si.Backend == "be" && si.Server == "s" && si.BytesIn == 10 {
				return true
			}
		}
		return false
	})
	if n := p.killAll('K'); n != 1 {
		t.Errorf("killAll reached %d sessions", n)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("killed session still open")
	}
}

// An idle TLS session is cut at timeout client, and activity in either direction keeps
// it alive (as with the splice relay).
func TestTLSIdleTimeout(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "CA")
	ca.WriteBundle(t, dir, "a.pem", "a", "a.example.com")
	b := startBackend(t, "echo", "")
	fa := freeAddr(t)
	startProxy(t, loadTLSCfg(t, dir, `
frontend fe
 timeout client 400ms
 bind `+fa+` ssl crt a.pem
 default_backend be
backend be
 timeout connect 2s
 timeout server 400ms
 server s `+b.addr+`
`))
	c, err := tls.Dial("tcp", fa, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(c)
	if l, _ := rd.ReadString('\n'); l != "echo\n" {
		t.Fatalf("got %q", l)
	}
	// Keep talking for longer than the timeout: the session stays.
	start := time.Now()
	var quiet time.Time
	for time.Since(start) < time.Second {
		time.Sleep(100 * time.Millisecond) // pacing the client, not waiting for a condition
		c.Write([]byte("x\n"))
		if l, err := rd.ReadString('\n'); err != nil || l != "x\n" {
			t.Fatalf("active session cut after %v: %q %v", time.Since(start), l, err)
		}
		quiet = time.Now()
	}
	// Then silence: closed about 400ms after the last exchange.
	_, err = rd.ReadString('\n')
	if err == nil {
		t.Fatal("idle session not closed")
	}
	if d := time.Since(quiet); d < 350*time.Millisecond || d > 3*time.Second {
		t.Errorf("idle session closed after %v, want about 400ms", d)
	}
}
