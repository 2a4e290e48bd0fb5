package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"appl/internal/testbed"
	"appl/proxy/tlsconf/tlstest"
)

// curl against appld in mode http with TLS on both sides: `bind ... ssl crt` picks the
// certificate by SNI, `use_backend` routes on ssl_fc_sni, ssl_fc sets a header, the plain
// bind redirects to https, and the api backend is reached over TLS verified against a
// CA file (`ssl verify required ca-file`). The bind offers `alpn h2,http/1.1`, so curl
// negotiates HTTP/2 (served by proxy/h2front; servers still get HTTP/1.1); several
// requests share one connection.
func TestTLSHTTPModeThroughAppldWithCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "appl test CA")
	caFile := ca.WriteCA(t, dir, "ca.pem")
	tlstest.NewCA(t, "another CA").WriteCA(t, dir, "other-ca.pem")
	ca.WriteBundle(t, dir, "www.pem", "www", "www.example.com")
	ca.WriteBundle(t, dir, "api.pem", "api", "api.example.com")
	plainWeb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "www host=%s path=%s proto=%s xff=%s\n", r.Host, r.URL.Path, r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-For"))
	}))
	t.Cleanup(plainWeb.Close)
	// The api server speaks TLS with a certificate of the same CA.
	certPEM, keyPEM := ca.Issue(t, "api-server", "api.internal")
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	tlsWeb := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "api tls=%v path=%s proto=%s\n", r.TLS != nil, r.URL.Path, r.Header.Get("X-Forwarded-Proto"))
	}))
	tlsWeb.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	tlsWeb.Config.ErrorLog = log.New(io.Discard, "", 0) // the wrong-CA case's handshake error is expected
	tlsWeb.StartTLS()
	t.Cleanup(tlsWeb.Close)

	secure, plain := freePort(t), freePort(t)
	_, port, _ := net.SplitHostPort(secure)
	path := filepath.Join(dir, "appl.cfg")
	writeCfg(t, path, `defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend https
    bind `+secure+` ssl crt www.pem crt api.pem alpn h2,http/1.1
    bind `+plain+`
    option forwardfor
    http-request redirect scheme https code 301 unless { ssl_fc }
    http-request set-header X-Forwarded-Proto https if { ssl_fc }
    use_backend api_wrong_ca if { ssl_fc_sni -i api.example.com } { path_beg /wrong-ca }
    use_backend api if { ssl_fc_sni -i api.example.com }
    default_backend www
backend www
    server w `+plainWeb.Listener.Addr().String()+`
backend api
    server a `+tlsWeb.Listener.Addr().String()+` ssl verify required ca-file ca.pem sni str(api.internal)
backend api_wrong_ca
    retries 0
    server a `+tlsWeb.Listener.Addr().String()+` ssl verify required ca-file other-ca.pem sni str(api.internal)
`)
	startLocalAppld(t, path)
	run := func(args ...string) (string, error) {
		out, err := exec.Command(curl, append([]string{"-sS", "--max-time", "5"}, args...)...).CombinedOutput()
		return string(out), err
	}
	resolve := func(name string) []string {
		return []string{"--resolve", name + ":" + port + ":127.0.0.1", "--cacert", caFile}
	}
	testbed.Eventually(t, 10*time.Second, 50*time.Millisecond, "appld serving https", func() bool {
		out, err := run(append(resolve("www.example.com"), "https://www.example.com:"+port+"/")...)
		return err == nil && strings.HasPrefix(out, "www ")
	})

	// www: right certificate (curl verifies it against the CA and the name), HTTP/2 by
	// ALPN and HTTP/1.1 when curl offers only that, the ssl_fc header and
	// X-Forwarded-For; two URLs on one connection.
	for _, v := range []struct{ flag, version string }{{"--http2", "2"}, {"--http1.1", "1.1"}} {
		out, err := run(append(resolve("www.example.com"), v.flag, "-w", "|%{http_version}|%{num_connects}\n",
			"https://www.example.com:"+port+"/a", "https://www.example.com:"+port+"/b")...)
		want := "www host=www.example.com:" + port + " path=/a proto=https xff=127.0.0.1\n|" + v.version + "|1\n" +
			"www host=www.example.com:" + port + " path=/b proto=https xff=127.0.0.1\n|" + v.version + "|0\n"
		if err != nil || out != want {
			t.Fatalf("curl %s www: %v\n%q\nwant\n%q", v.flag, err, out, want)
		}
	}
	// api: routed by SNI, forwarded over verified TLS.
	out, err := run(append(resolve("api.example.com"), "https://api.example.com:"+port+"/v1")...)
	if err != nil || out != "api tls=true path=/v1 proto=https\n" {
		t.Fatalf("curl api: %q %v", out, err)
	}
	// The same server verified against another CA: the handshake fails, 503.
	out, err = run(append(resolve("api.example.com"), "-o", "/dev/null", "-w", "%{http_code}", "https://api.example.com:"+port+"/wrong-ca")...)
	if err != nil || out != "503" {
		t.Fatalf("curl api with the wrong CA: %q %v, want 503", out, err)
	}
	// The plain bind redirects to https.
	out, err = run("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "http://"+plain+"/x?y=1")
	if err != nil || out != "301 https://"+plain+"/x?y=1" {
		t.Fatalf("curl plain: %q %v", out, err)
	}
}
