package config

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"appl/internal/cfgfile"
	"appl/proxy/acl"
	"appl/proxy/tlsconf/tlstest"
)

func decodeIn(t *testing.T, dir, src string) (*Config, error) {
	t.Helper()
	f, err := cfgfile.Parse("t.cfg", []byte(src), cfgfile.Options{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("lexer: %v", err)
	}
	return decode(f, Options{BaseDir: dir})
}

func TestTLSDecoding(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "CA")
	ca.WriteBundle(t, dir, "a.pem", "a", "a.example.com")
	os.Mkdir(filepath.Join(dir, "certs"), 0o755)
	ca.WriteBundle(t, dir, "certs/b.pem", "b", "b.example.com")
	ca.WriteCA(t, dir, "ca.pem")
	src := `global
 ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets
 ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:DHE-RSA-AES256-SHA
 ssl-default-server-options no-tlsv13
 tune.ssl.default-dh-param 2048
frontend f
 timeout client-hs 3s
 bind 127.0.0.1:8443,127.0.0.1:9443 ssl crt a.pem crt certs alpn h2,http/1.1 ca-file ca.pem verify optional ssl-max-ver TLSv1.3 strict-sni
 default_backend b
backend b
 default-server ssl verify none
 server s1 127.0.0.1:443 sni str(www.example.com) alpn http/1.1 check check-ssl
 server s2 127.0.0.1:443 verify required ca-file ca.pem sni req.hdr(host) verifyhost api.example.com
 server s3 127.0.0.1:443 no-ssl
`
	cfg, err := decodeIn(t, dir, src)
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.Frontends[0].Binds[0]
	if cfg.Frontends[0].Timeouts.ClientHS != 3*time.Second {
		t.Errorf("timeout client-hs = %v", cfg.Frontends[0].Timeouts.ClientHS)
	}
	if !b.SSL || b.TLS == nil || len(b.TLS.Certs) != 2 || b.Verify != "optional" || b.CAFile != filepath.Join(dir, "ca.pem") {
		t.Fatalf("bind = %+v", b)
	}
	if cfg.Frontends[0].Binds[1].TLS != b.TLS {
		t.Error("the addresses of one bind line load their files twice")
	}
	tc := b.TLS.Config
	if tc.MinVersion != tls.VersionTLS12 || !tc.SessionTicketsDisabled || len(tc.CipherSuites) != 1 ||
		tc.ClientAuth != tls.VerifyClientCertIfGiven || strings.Join(tc.NextProtos, ",") != "h2,http/1.1" {
		t.Errorf("bind tls.Config: min %x tickets off %v ciphers %v auth %v alpn %v", tc.MinVersion, tc.SessionTicketsDisabled, tc.CipherSuites, tc.ClientAuth, tc.NextProtos)
	}
	if c := b.TLS.Select(&tls.ClientHelloInfo{ServerName: "b.example.com"}); c == nil || c.Names[0] != "b.example.com" {
		t.Errorf("sni b: %v", c)
	}
	if c := b.TLS.Select(&tls.ClientHelloInfo{ServerName: "zz.org"}); c != nil {
		t.Errorf("strict-sni: %v", c)
	}
	ss := cfg.Backends[0].Servers
	if !ss[0].SSL || ss[0].Verify != "none" || ss[0].TLS == nil || !ss[0].CheckSSL || ss[0].ALPN[0] != "http/1.1" || ss[0].CheckTLS != ss[0].TLS {
		t.Errorf("s1 = %+v", ss[0])
	}
	if got, _ := ss[0].SNI.String(&acl.Txn{}); got != "www.example.com" {
		t.Errorf("s1 sni = %q", got)
	}
	if !ss[1].SSL || ss[1].Verify != "required" || ss[1].TLS == nil || !ss[1].TLS.Verifies() || ss[1].VerifyHost != "api.example.com" || ss[1].SNI.Source() != "req.hdr(host)" {
		t.Errorf("s2 = %+v", ss[1])
	}
	if ss[1].TLS.Config("x").MaxVersion != tls.VersionTLS12 {
		t.Errorf("ssl-default-server-options no-tlsv13 not applied")
	}
	if ss[2].SSL || ss[2].TLS != nil || ss[2].CheckTLS != nil {
		t.Errorf("s3 = %+v", ss[2])
	}
	var warns []string
	for _, w := range cfg.Warnings {
		warns = append(warns, w.Error())
	}
	all := strings.Join(warns, "\n")
	for _, want := range []string{
		"t.cfg:5: tune.ssl.default-dh-param: ignored",
		"t.cfg:8: bind: ssl: ciphers: not available in Go, ignored: DHE-RSA-AES256-SHA",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "check-ssl") {
		t.Errorf("check-ssl is served now, yet warned:\n%s", all)
	}
}

// Which checks go over TLS, as HAProxy 2.6 decides (measured against it: an ssl
// server's checks use TLS unless port/addr or no-check-ssl; check-ssl forces TLS; an
// explicit http-check connect uses TLS only with ssl, or with default on such a server).
func TestCheckTLSDecoding(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "CA")
	ca.WriteCA(t, dir, "ca.pem")
	src := `backend b
 default-server check-ssl verify none
 server s1 127.0.0.1:80 check
 server s2 127.0.0.1:80 check no-check-ssl
 server s3 127.0.0.1:443 check ssl check-sni chk.example no-check-ssl
backend c
 server s1 127.0.0.1:443 ssl verify none check
 server s2 127.0.0.1:443 ssl verify none check port 8080
 server s3 127.0.0.1:443 ssl verify none check addr 127.0.0.2
 server s4 127.0.0.1:443 ssl verify none check port 8080 check-ssl
 server s5 127.0.0.1:443 ssl verify required ca-file ca.pem check check-sni srv.example
backend d
 option httpchk GET /
 http-check connect ssl sni h.example port 8443
 server s1 127.0.0.1:80 check verify none
 server s2 127.0.0.1:80 verify none
backend e
 option tcp-check
 tcp-check connect port 25 ssl sni t.example
 tcp-check connect default
 tcp-check expect string OK
 server s1 127.0.0.1:80 check verify none
`
	cfg, err := decodeIn(t, dir, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		be, srv   string
		overTLS   bool
		checkTLS  bool
		trafficTL bool
		sni       string
	}{
		{"b", "s1", true, true, false, ""},
		{"b", "s2", false, false, false, ""},
		{"b", "s3", false, true, true, "chk.example"},
		{"c", "s1", true, true, true, ""},
		{"c", "s2", false, true, true, ""},
		{"c", "s3", false, true, true, ""},
		{"c", "s4", true, true, true, ""},
		{"c", "s5", true, true, true, "srv.example"},
		{"d", "s1", false, true, false, ""},
		{"d", "s2", false, false, false, ""},
		{"e", "s1", false, true, false, ""},
	} {
		var s *Server
		for _, x := range cfg.Backend(tc.be).Servers {
			if x.Name == tc.srv {
				s = x
			}
		}
		if s.ChecksOverTLS() != tc.overTLS || (s.CheckTLS != nil) != tc.checkTLS || (s.TLS != nil) != tc.trafficTL || s.CheckSNI != tc.sni {
			t.Errorf("%s/%s: ChecksOverTLS %v CheckTLS %v TLS %v check-sni %q, want %+v", tc.be, tc.srv, s.ChecksOverTLS(), s.CheckTLS != nil, s.TLS != nil, s.CheckSNI, tc)
		}
	}
	if s5 := cfg.Backend("c").Servers[4]; !s5.CheckTLS.Verifies() {
		t.Errorf("c/s5 checks do not verify")
	}
	h := cfg.Backend("d").Check.HTTP
	if !h.Connect || !h.ConnectSSL || h.ConnectSNI != "h.example" || h.ConnectPort != 8443 || h.ConnectDefault {
		t.Errorf("http-check connect = %+v", h)
	}
	st := cfg.Backend("e").Check.TCPSteps
	if len(st) != 3 || !st[0].SSL || st[0].SNI != "t.example" || st[0].Port != 25 || st[0].Default || !st[1].Default || st[1].SSL {
		t.Errorf("tcp-check steps = %+v", st)
	}
	for _, w := range cfg.Warnings {
		if strings.Contains(w.Error(), "ssl") || strings.Contains(w.Error(), "sni") || strings.Contains(w.Error(), "default") {
			t.Errorf("warning: %v", w)
		}
	}
	// A server without ssl checked over TLS verifies by default, so it needs a CA
	// file, as in HAProxy ("verify is enabled by default but no CA file specified").
	for _, bad := range []string{
		"backend e\n server s1 127.0.0.1:80 check check-ssl\n",
		"backend e\n option httpchk\n http-check connect ssl\n server s1 127.0.0.1:80 check\n",
	} {
		if _, err := decodeIn(t, dir, bad); err == nil || !strings.Contains(err.Error(), "verify required needs a ca-file") {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}

func TestTLSErrors(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "CA")
	ca.WriteBundle(t, dir, "good.pem", "good", "good.example.com")
	c1, _ := ca.Issue(t, "x", "x.example.com")
	_, k2 := ca.Issue(t, "y", "y.example.com")
	os.WriteFile(filepath.Join(dir, "mismatch.pem"), append(c1, k2...), 0o600)
	os.WriteFile(filepath.Join(dir, "nokey.pem"), c1, 0o600)
	fe := "frontend f\n"
	for _, tc := range []struct{ src, want string }{
		{fe + " bind :1 ssl crt missing.pem\n", "t.cfg:2: bind: ssl: crt: " + filepath.Join(dir, "missing.pem") + ": no such file or directory"},
		{fe + " bind :1 ssl crt mismatch.pem\n", "t.cfg:2: bind: ssl: crt: " + filepath.Join(dir, "mismatch.pem") + ": tls: private key does not match public key"},
		{fe + " bind :1 ssl crt nokey.pem\n", "no private key in the file"},
		{fe + " bind :1 ssl\n", "t.cfg:2: bind: ssl: ssl needs at least one crt"},
		{fe + " bind :1 ssl crt good.pem verify required\n", "verify required needs a ca-file"},
		{fe + " bind :1 ssl crt good.pem verify sometimes\n", "t.cfg:2: bind: verify: unknown value"},
		{fe + " bind :1 ssl crt good.pem ssl-min-ver TLSv1.4\n", "unknown TLS version \"TLSv1.4\""},
		{"backend b\n server s 127.0.0.1:1 ssl\n", "t.cfg:2: server: backend \"b\": ssl: verify required needs a ca-file"},
		{"backend b\n server s 127.0.0.1:1 ssl verify required ca-file nope.pem\n", "ca-file: " + filepath.Join(dir, "nope.pem") + ": no such file"},
		{"backend b\n server s 127.0.0.1:1 ssl verify maybe\n", "t.cfg:2: server: verify: unknown value \"maybe\""},
		{"backend b\n server s 127.0.0.1:1 ssl verify none sni nosuchfetch(x)\n", "t.cfg:2: server: sni:"},
		{"global\n ssl-default-bind-options no-such-thing\n", "t.cfg:2: ssl-default-bind-options: unknown option \"no-such-thing\""},
		{"global\n ssl-server-verify sometimes\n", "t.cfg:2: ssl-server-verify: unknown value"},
	} {
		_, err := decodeIn(t, dir, tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.src, err, tc.want)
		}
	}
	// ssl-server-verify none lifts the ca-file requirement, as in HAProxy; crt-base
	// prefixes relative names.
	cfg, err := decodeIn(t, dir, "global\n ssl-server-verify none\n crt-base "+dir+"\nbackend b\n server s 127.0.0.1:1 ssl\nfrontend f\n bind :1 ssl crt good.pem\n")
	if err != nil || cfg.Backends[0].Servers[0].Verify != "none" || cfg.Frontends[0].Binds[0].TLS == nil {
		t.Errorf("ssl-server-verify none / crt-base: %v", err)
	}
}

// In mode http, a bind offers h2 (served by proxy/h2front) but not h3 (QUIC), with a
// warning; servers are reached over HTTP/1.1 (h2 dropped); in mode tcp the list is
// kept as written.
func TestTLSALPNModeHTTP(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "CA")
	ca.WriteBundle(t, dir, "a.pem", "a", "a.example.com")
	cfg, err := decodeIn(t, dir, `frontend h
 mode http
 bind :1 ssl crt a.pem alpn h3,h2,http/1.1
 default_backend b
frontend t
 mode tcp
 bind :2 ssl crt a.pem alpn h2,http/1.1
 default_backend b
backend b
 mode http
 server s 127.0.0.1:1 ssl verify none alpn h2
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Frontends[0].Binds[0].TLS.Config.NextProtos, ","); got != "h2,http/1.1" {
		t.Errorf("mode http alpn = %q", got)
	}
	if got := strings.Join(cfg.Frontends[1].Binds[0].TLS.Config.NextProtos, ","); got != "h2,http/1.1" {
		t.Errorf("mode tcp alpn = %q", got)
	}
	if got := strings.Join(cfg.Backends[0].Servers[0].TLS.Config("").NextProtos, ","); got != "http/1.1" {
		t.Errorf("server alpn = %q", got)
	}
	found := false
	for _, w := range cfg.Warnings {
		found = found || strings.Contains(w.Error(), "t.cfg:3: bind: alpn h3,h2,http/1.1: HTTP/3 is not served")
	}
	if !found {
		t.Errorf("no warning: %v", cfg.Warnings)
	}
}
