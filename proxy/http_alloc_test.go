package proxy

import (
	"bytes"
	"net"
	"testing"
)

// rawHTTPBackend answers every request head it reads with resp, on keep-alive
// connections, without allocating per request (so that it does not blur the
// measurement of the proxy's own path).
func rawHTTPBackend(tb testing.TB, resp []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				have := 0
				for {
					n, err := c.Read(buf[have:])
					if err != nil {
						return
					}
					have += n
					for {
						i := bytes.Index(buf[:have], []byte("\r\n\r\n"))
						if i < 0 {
							break
						}
						copy(buf, buf[i+4:have])
						have -= i + 4
						if _, err := c.Write(resp); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// udpDiscard reads and drops syslog datagrams without allocating.
func udpDiscard(tb testing.TB) string {
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := pc.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	return pc.LocalAddr().String()
}

// httpBenchProxy starts a proxy in front of a raw backend with what a typical http
// frontend has: an ACL use_backend, forwardfor, a header rule, httplog to syslog.
func httpBenchProxy(tb testing.TB, resp []byte) (front string) {
	back := rawHTTPBackend(tb, resp)
	logAddr := udpDiscard(tb)
	front = freeAddr(tb)
	cfg := loadCfg(tb, `
global
    maxconn 1000
defaults
    mode http
    option httplog
    option forwardfor
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind `+front+`
    log `+logAddr+` local0
    acl api path_beg /api
    http-request set-header X-Proto http
    use_backend be if api
    default_backend be
backend be
    balance roundrobin
    server s1 `+back+` maxconn 100
`)
	startProxy(tb, cfg)
	return front
}

// roundTripper sends one keep-alive request and reads the whole response (its length is
// known) with buffers allocated once.
type roundTripper struct {
	c    net.Conn
	req  []byte
	want int
	buf  []byte
}

func (r *roundTripper) do(tb testing.TB) {
	if _, err := r.c.Write(r.req); err != nil {
		tb.Fatal(err)
	}
	for got := 0; got < r.want; {
		n, err := r.c.Read(r.buf)
		if err != nil {
			tb.Fatal(err)
		}
		got += n
	}
}

func newRoundTripper(tb testing.TB, front string, respLen int) *roundTripper {
	c, err := net.Dial("tcp", front)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return &roundTripper{c: c, req: []byte("GET /api/items?id=42 HTTP/1.1\r\nHost: shop.example\r\n\r\n"), want: respLen, buf: make([]byte, 64<<10)}
}

// The steady state of a keep-alive request through the whole data plane (accepted
// connection, engine, Backend/Server adapters, balancing, maxconn slot, counters,
// httplog line to a syslog socket) allocates nothing.
func TestHTTPKeepAliveRequestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	front := httpBenchProxy(t, resp)
	rt := newRoundTripper(t, front, len(resp))
	for range 50 {
		rt.do(t)
	}
	if a := testing.AllocsPerRun(300, func() { rt.do(t) }); a > 0.5 {
		t.Fatalf("%.2f allocations per keep-alive request through the proxy, want 0", a)
	}
}

// BenchmarkHTTPKeepAliveRequest: one keep-alive request through the proxy on loopback.
func BenchmarkHTTPKeepAliveRequest(b *testing.B) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	front := httpBenchProxy(b, resp)
	rt := newRoundTripper(b, front, len(resp))
	for range 50 {
		rt.do(b)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rt.do(b)
	}
}

// BenchmarkHTTPConnPerRequest: a new client connection per request (and so a new
// server connection: http-reuse safe never gives a pooled one to a first request).
func BenchmarkHTTPConnPerRequest(b *testing.B) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	front := httpBenchProxy(b, resp)
	req := []byte("GET /api/items?id=42 HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n")
	buf := make([]byte, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := net.Dial("tcp", front)
		if err != nil {
			b.Fatal(err)
		}
		c.Write(req)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
	}
}
