package check

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"appl/proxy/proxyproto"
	"appl/proxy/tlsconf/tlstest"
)

// HAProxy sends the server's PROXY header on checks to its own address (measured on
// 2.6: v1 with the check connection's addresses, v2 as a LOCAL command), before the
// TLS handshake and the HTTP request.
func TestProbeProxyHeader(t *testing.T) {
	got := make(chan *proxyproto.Header, 4)
	a := listen(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		h, err := proxyproto.ReadConn(c)
		if err != nil {
			got <- nil
			return
		}
		got <- h
		line, _ := bufio.NewReader(c).ReadString('\n')
		if strings.HasPrefix(line, "GET /h ") {
			c.Write([]byte("HTTP/1.0 200 OK\r\n\r\n"))
		}
	})
	o := (&Probe{Addr: a, Timeout: time.Second, ProxyHeader: 1}).Run(context.Background())
	h := <-got
	if !o.OK || h == nil || h.Version != 1 || h.Dst.String() != a.String() || !h.Src.Addr().IsLoopback() {
		t.Fatalf("v1: %+v header %+v", o, h)
	}
	(&Probe{Addr: a, Timeout: time.Second, ProxyHeader: 2}).Run(context.Background())
	if h := <-got; h == nil || h.Version != 2 || h.Command != proxyproto.CommandLocal {
		t.Fatalf("v2: header %+v, want a LOCAL command", h)
	}
	hc, _ := CompileHTTP(HTTPCheck{Method: "GET", URI: "/h"})
	o = (&Probe{Addr: a, Timeout: time.Second, ProxyHeader: 1, HTTP: hc}).Run(context.Background())
	if h := <-got; !o.OK || h == nil || h.Version != 1 {
		t.Fatalf("httpchk after a PROXY header: %+v header %+v", o, h)
	}
}

// The PROXY header goes before the TLS ClientHello, as HAProxy sends it.
func TestProbeProxyHeaderThenTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "CA")
	c, k := ca.Issue(t, "srv", "srv.example")
	cert, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan bool, 1)
	a := listen(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		h, err := proxyproto.ReadConn(c)
		if err != nil || h.Version != 1 {
			got <- false
			return
		}
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
		got <- tc.Handshake() == nil
	})
	o := (&Probe{Addr: a, Timeout: time.Second, ProxyHeader: 1, TLS: clientTLS(t, "none", "", "")}).Run(context.Background())
	if ok := <-got; !ok || !o.OK || o.Status != StatusL6OK {
		t.Fatalf("PROXY then TLS: server saw both %v, outcome %+v", ok, o)
	}
}
