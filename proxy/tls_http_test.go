package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"appl/proxy/tlsconf/tlstest"
)

// mode http behind an ssl bind and towards ssl servers: SNI picks the certificate,
// ssl_fc_sni routes, keep-alive holds over TLS on both sides, the server's chain is
// verified (a wrong CA is a 503, not a plaintext fallback).
func TestHTTPOverTLSBothSides(t *testing.T) {
	dir := t.TempDir()
	front, back, wrong := tlstest.NewCA(t, "front"), tlstest.NewCA(t, "back"), tlstest.NewCA(t, "wrong")
	front.WriteBundle(t, dir, "a.pem", "a", "a.example.com")
	front.WriteBundle(t, dir, "b.pem", "b", "b.example.com")
	back.WriteCA(t, dir, "back-ca.pem")
	wrong.WriteCA(t, dir, "wrong-ca.pem")

	var conns atomic.Int64
	httpsServer := func(name string) string {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s tls=%v", name, r.URL.Path, r.TLS != nil)
		}))
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{certFrom(t, back, name, name+".internal")}}
		srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				conns.Add(1)
			}
		}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	aAddr, bAddr := httpsServer("srva"), httpsServer("srvb")
	fe := freeAddr(t)
	startProxy(t, loadTLSCfg(t, dir, `
defaults
 mode http
 timeout connect 2s
 timeout client 5s
 timeout server 5s
 retries 0
frontend web
 bind `+fe+` ssl crt a.pem crt b.pem alpn http/1.1
 use_backend b if { ssl_fc_sni -i b.example.com }
 use_backend bad if { path_beg /bad }
 default_backend a
backend a
 server s `+aAddr+` ssl verify required ca-file back-ca.pem sni str(srva.internal)
backend b
 server s `+bAddr+` ssl verify required ca-file back-ca.pem sni str(srvb.internal)
backend bad
 server s `+aAddr+` ssl verify required ca-file wrong-ca.pem sni str(srva.internal)
`))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(front.CertPEM)
	client := func(sni string) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: sni},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, fe)
			},
		}}
	}
	get := func(c *http.Client, host, path string) (int, string, *tls.ConnectionState) {
		t.Helper()
		resp, err := c.Get("https://" + host + path)
		if err != nil {
			t.Fatalf("GET https://%s%s: %v", host, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.TLS
	}

	ca := client("a.example.com")
	for i := 0; i < 10; i++ {
		code, body, st := get(ca, "a.example.com", "/x")
		if code != 200 || body != "srva /x tls=true" {
			t.Fatalf("a: %d %q", code, body)
		}
		if cn := peerCN(*st); cn != "a" {
			t.Fatalf("certificate for a.example.com: CN %q", cn)
		}
	}
	// Ten requests on one client connection: one TLS connection to the server.
	if n := conns.Load(); n != 1 {
		t.Errorf("server connections for 10 keep-alive requests: %d, want 1", n)
	}
	cb := client("b.example.com")
	if code, body, st := get(cb, "b.example.com", "/y"); code != 200 || body != "srvb /y tls=true" || peerCN(*st) != "b" {
		t.Errorf("b: %d %q CN %q", code, body, peerCN(*st))
	}
	if code, body, _ := get(ca, "a.example.com", "/bad"); code != 503 || strings.Contains(body, "srva") {
		t.Errorf("server with a wrong CA: %d %q, want 503", code, body)
	}
}
