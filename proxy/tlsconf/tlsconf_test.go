package tlsconf

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"appl/proxy/tlsconf/tlstest"
)

// handshake runs both sides over a pipe and returns the client's view and both errors.
func handshake(t *testing.T, srv, cli *tls.Config) (tls.ConnectionState, error, error) {
	t.Helper()
	a, b := tcpPair(t)
	defer a.Close()
	defer b.Close()
	deadline := time.Now().Add(5 * time.Second)
	a.SetDeadline(deadline)
	b.SetDeadline(deadline)
	se := make(chan error, 1)
	go func() {
		s := tls.Server(a, srv)
		err := s.Handshake()
		if err != nil {
			a.Close()
		}
		se <- err
	}()
	c := tls.Client(b, cli)
	cerr := c.Handshake()
	if cerr != nil {
		b.Close()
	}
	serr := <-se
	return c.ConnectionState(), cerr, serr
}

// tcpPair is a loopback connection: unlike net.Pipe it buffers, as TLS 1.3's
// post-handshake messages need.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	b, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a := <-ch
	if a == nil {
		t.Fatal("accept failed")
	}
	return a, b
}

func leafCN(cs tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 {
		return ""
	}
	return cs.PeerCertificates[0].Subject.CommonName
}

func TestBindSNISelection(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "test CA")
	a := ca.WriteBundle(t, dir, "a.pem", "a", "a.example.com")
	w := ca.WriteBundle(t, dir, "w.pem", "wild", "*.b.example.com")
	cn := ca.WriteBundle(t, dir, "cn.pem", "cn-only.example.com")
	b, warns, err := NewBind(BindSpec{Crts: []string{a, w, cn}, ALPN: []string{"h2", "http/1.1"}})
	if err != nil || len(warns) != 0 {
		t.Fatalf("NewBind: %v %v", err, warns)
	}
	for _, tc := range []struct{ sni, want string }{
		{"a.example.com", "a"},
		{"A.Example.COM", "a"},
		{"x.b.example.com", "wild"},
		{"y.x.b.example.com", "a"}, // a wildcard covers one label only: default
		{"cn-only.example.com", "cn-only.example.com"},
		{"", "a"},
		{"unknown.org", "a"},
	} {
		cs, cerr, serr := handshake(t, b.Config, &tls.Config{InsecureSkipVerify: true, ServerName: tc.sni, NextProtos: []string{"http/1.1"}})
		if cerr != nil || serr != nil {
			t.Fatalf("sni %q: %v / %v", tc.sni, cerr, serr)
		}
		if got := leafCN(cs); got != tc.want {
			t.Errorf("sni %q: served %q, want %q", tc.sni, got, tc.want)
		}
		if cs.NegotiatedProtocol != "http/1.1" {
			t.Errorf("sni %q: alpn %q", tc.sni, cs.NegotiatedProtocol)
		}
	}
	// ALPN: the client's first protocol the bind offers.
	cs, _, _ := handshake(t, b.Config, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
	if cs.NegotiatedProtocol != "h2" {
		t.Errorf("alpn %q, want h2", cs.NegotiatedProtocol)
	}
	// strict-sni refuses a name no certificate has.
	sb, _, err := NewBind(BindSpec{Crts: []string{a}, Params: Params{Options: []string{"strict-sni"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, cerr, _ := handshake(t, sb.Config, &tls.Config{InsecureSkipVerify: true, ServerName: "other.org"}); cerr == nil {
		t.Error("strict-sni: handshake for an unknown name succeeded")
	}
	if _, cerr, _ := handshake(t, sb.Config, &tls.Config{InsecureSkipVerify: true, ServerName: "a.example.com"}); cerr != nil {
		t.Errorf("strict-sni, known name: %v", cerr)
	}
}

func TestCertFiles(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "test CA")
	// Separate key next to the certificate: FILE.key, and name.crt + name.key.
	c, k := ca.Issue(t, "sep", "sep.example.com")
	os.WriteFile(filepath.Join(dir, "sep.pem"), c, 0o600)
	os.WriteFile(filepath.Join(dir, "sep.pem.key"), k, 0o600)
	os.WriteFile(filepath.Join(dir, "other.crt"), c, 0o600)
	os.WriteFile(filepath.Join(dir, "other.key"), k, 0o600)
	for _, f := range []string{"sep.pem", "other.crt"} {
		cert, err := LoadCertFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if cert.Names[0] != "sep.example.com" {
			t.Errorf("%s: names %v", f, cert.Names)
		}
	}
	// A directory loads every certificate in name order, companions skipped.
	certs, err := LoadCerts([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || filepath.Base(certs[0].File) != "other.crt" || filepath.Base(certs[1].File) != "sep.pem" {
		t.Errorf("dir: %d certs, first %s", len(certs), certs[0].File)
	}

	// Errors name the file and the problem.
	c2, k2 := ca.Issue(t, "x", "x.example.com")
	os.WriteFile(filepath.Join(dir, "mismatch.pem"), append(c, k2...), 0o600)
	os.WriteFile(filepath.Join(dir, "nokey.pem"), c2, 0o600)
	os.WriteFile(filepath.Join(dir, "garbage.pem"), []byte("hello\n"), 0o600)
	unreadable := filepath.Join(dir, "unreadable.pem")
	os.WriteFile(unreadable, append(c2, k2...), 0o000)
	cases := map[string]string{
		"missing.pem":  "no such file",
		"mismatch.pem": "private key does not match",
		"nokey.pem":    "no private key",
		"garbage.pem":  "no PEM certificate",
	}
	if os.Geteuid() != 0 { // root reads anything
		cases["unreadable.pem"] = "permission denied"
	}
	for f, want := range cases {
		_, err := LoadCerts([]string{filepath.Join(dir, f)})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), f) {
			t.Errorf("%s: error %v, want one naming the file and %q", f, err, want)
		}
	}
	empty := t.TempDir()
	if _, err := LoadCerts([]string{empty}); err == nil || !strings.Contains(err.Error(), "no certificate file") {
		t.Errorf("empty dir: %v", err)
	}
	if _, _, err := NewBind(BindSpec{}); err == nil {
		t.Error("ssl without crt accepted")
	}
}

func TestClientVerify(t *testing.T) {
	dir := t.TempDir()
	good := tlstest.NewCA(t, "good CA")
	bad := tlstest.NewCA(t, "bad CA")
	srvCert := good.WriteBundle(t, dir, "srv.pem", "srv", "srv.example.com")
	b, _, err := NewBind(BindSpec{Crts: []string{srvCert}})
	if err != nil {
		t.Fatal(err)
	}
	goodCA, badCA := good.WriteCA(t, dir, "good.pem"), bad.WriteCA(t, dir, "bad.pem")

	mk := func(s ClientSpec) *Client {
		c, _, err := NewClient(s)
		if err != nil {
			t.Fatalf("NewClient(%+v): %v", s, err)
		}
		return c
	}
	// Chain checked, no host name to check (no SNI): passes with the right CA.
	if _, cerr, _ := handshake(t, b.Config, mk(ClientSpec{Verify: "required", CAFile: goodCA}).Config("")); cerr != nil {
		t.Errorf("right CA: %v", cerr)
	}
	if _, cerr, _ := handshake(t, b.Config, mk(ClientSpec{CAFile: badCA}).Config("")); cerr == nil {
		t.Error("wrong CA: handshake succeeded")
	}
	// With SNI the name is checked too; verifyhost overrides it.
	if _, cerr, _ := handshake(t, b.Config, mk(ClientSpec{CAFile: goodCA}).Config("srv.example.com")); cerr != nil {
		t.Errorf("right CA and name: %v", cerr)
	}
	if _, cerr, _ := handshake(t, b.Config, mk(ClientSpec{CAFile: goodCA}).Config("other.example.com")); cerr == nil {
		t.Error("wrong SNI name accepted")
	}
	if _, cerr, _ := handshake(t, b.Config, mk(ClientSpec{CAFile: goodCA, VerifyHost: "srv.example.com"}).Config("other.example.com")); cerr != nil {
		t.Errorf("verifyhost: %v", cerr)
	}
	// verify none accepts anything, a self-signed server included.
	if _, cerr, _ := handshake(t, b.Config, mk(ClientSpec{Verify: "none"}).Config("x")); cerr != nil {
		t.Errorf("verify none: %v", cerr)
	}
	if _, _, err := NewClient(ClientSpec{Verify: "required"}); err == nil || !strings.Contains(err.Error(), "ca-file") {
		t.Errorf("verify required without ca-file: %v", err)
	}
	if _, _, err := NewClient(ClientSpec{Verify: "maybe", CAFile: goodCA}); err == nil {
		t.Error("verify maybe accepted")
	}
	// A client certificate verified by a bind with verify required.
	cliCert := good.WriteBundle(t, dir, "cli.pem", "client")
	mb, _, err := NewBind(BindSpec{Crts: []string{srvCert}, CAFile: goodCA, Verify: "required"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, serr := handshake(t, mb.Config, mk(ClientSpec{Verify: "none", Crt: cliCert}).Config("")); serr != nil {
		t.Errorf("client cert: %v", serr)
	}
	if _, _, serr := handshake(t, mb.Config, mk(ClientSpec{Verify: "none"}).Config("")); serr == nil {
		t.Error("verify required bind accepted a client without certificate")
	}
	if _, _, err := NewBind(BindSpec{Crts: []string{srvCert}, Verify: "required"}); err == nil {
		t.Error("bind verify required without ca-file accepted")
	}
}

func TestParams(t *testing.T) {
	c := &tls.Config{}
	w, err := (&Params{Options: []string{"no-tlsv10", "no-tlsv11", "no-tls-tickets", "prefer-client-ciphers"},
		Ciphers:      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:!aNULL",
		CipherSuites: "TLS_AES_128_GCM_SHA256", Curves: "X25519:prime256v1:brainpoolP512r1"}).apply(c, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.MinVersion != tls.VersionTLS12 || c.MaxVersion != tls.VersionTLS13 || !c.SessionTicketsDisabled {
		t.Errorf("versions %x-%x tickets off %v", c.MinVersion, c.MaxVersion, c.SessionTicketsDisabled)
	}
	if len(c.CipherSuites) != 2 || c.CipherSuites[0] != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 {
		t.Errorf("ciphers %v", c.CipherSuites)
	}
	if len(c.CurvePreferences) != 2 {
		t.Errorf("curves %v", c.CurvePreferences)
	}
	all := strings.Join(w, "\n")
	for _, want := range []string{"DHE-RSA-AES128-GCM-SHA256", "ciphersuites", "prefer-client-ciphers", "brainpoolP512r1"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings %q lack %q", all, want)
		}
	}
	c = &tls.Config{}
	if _, err := (&Params{MinVer: "TLSv1.3", MaxVer: "TLSv1.2"}).apply(c, true); err == nil {
		t.Error("empty version range accepted")
	}
	if _, err := (&Params{MinVer: "TLSv9"}).apply(c, true); err == nil {
		t.Error("bad version accepted")
	}
	c = &tls.Config{}
	if _, err := (&Params{Options: []string{"force-tlsv12"}}).apply(c, true); err != nil || c.MinVersion != tls.VersionTLS12 || c.MaxVersion != tls.VersionTLS12 {
		t.Errorf("force-tlsv12: %v %x-%x", err, c.MinVersion, c.MaxVersion)
	}
	c = &tls.Config{}
	w, _ = (&Params{Options: []string{"no-tlsv11"}, MinVer: "TLSv1.0"}).apply(c, true)
	if len(w) != 1 || !strings.Contains(w[0], "contiguous") || c.MinVersion != tls.VersionTLS10 {
		t.Errorf("hole: %v %x", w, c.MinVersion)
	}
}

// Sessions resume across two Binds built from the same files, as after a reload.
func TestResumptionAcrossRebuild(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "CA")
	a := ca.WriteBundle(t, dir, "a.pem", "a", "a.example.com")
	b1, _, err := NewBind(BindSpec{Crts: []string{a}})
	if err != nil {
		t.Fatal(err)
	}
	b2, _, _ := NewBind(BindSpec{Crts: []string{a}})
	cache := tls.NewLRUClientSessionCache(4)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cli := &tls.Config{InsecureSkipVerify: true, ServerName: "a.example.com", ClientSessionCache: cache, MaxVersion: v}
		if cs, cerr, serr := handshakeRead(t, b1.Config, cli); cerr != nil || serr != nil || cs.DidResume {
			t.Fatalf("first: %v %v resumed %v", cerr, serr, cs.DidResume)
		}
		if cs, cerr, serr := handshakeRead(t, b2.Config, cli); cerr != nil || serr != nil || !cs.DidResume {
			t.Errorf("version %x: after rebuild: %v %v resumed %v", v, cerr, serr, cs.DidResume)
		}
	}
	nb, _, _ := NewBind(BindSpec{Crts: []string{a}, Params: Params{Options: []string{"no-tls-tickets"}}})
	cli := &tls.Config{InsecureSkipVerify: true, ServerName: "a.example.com", ClientSessionCache: tls.NewLRUClientSessionCache(4), MaxVersion: tls.VersionTLS12}
	handshakeRead(t, nb.Config, cli)
	if cs, _, _ := handshakeRead(t, nb.Config, cli); cs.DidResume {
		t.Error("no-tls-tickets: session resumed")
	}
}

// handshakeRead is handshake plus one byte from the server, so that TLS 1.3 tickets
// (sent after the handshake) reach the client's cache.
func handshakeRead(t *testing.T, srv, cli *tls.Config) (tls.ConnectionState, error, error) {
	t.Helper()
	a, b := tcpPair(t)
	defer a.Close()
	defer b.Close()
	a.SetDeadline(time.Now().Add(5 * time.Second))
	b.SetDeadline(time.Now().Add(5 * time.Second))
	se := make(chan error, 1)
	go func() {
		s := tls.Server(a, srv)
		_, err := s.Write([]byte("x"))
		se <- err
	}()
	c := tls.Client(b, cli)
	var one [1]byte
	_, cerr := c.Read(one[:])
	return c.ConnectionState(), cerr, <-se
}
