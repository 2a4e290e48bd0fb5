package httpmode

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"
)

// rawBackend answers every request head with a fixed response, without allocating
// per request (so that the benchmark's allocation count is the proxy's).
func rawBackend(tb testing.TB, resp string) net.Listener {
	ln := listenLoopback(tb)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				out := []byte(resp)
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
						if _, err := c.Write(out); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	tb.Cleanup(func() { ln.Close() })
	return ln
}

// BenchmarkKeepAliveRequest measures one request through the engine on loopback:
// a keep-alive client connection, use_backend on an ACL, forwardfor, a header rule,
// a keep-alive server connection, the response relayed back and the log entry built.
func BenchmarkKeepAliveRequest(b *testing.B) {
	for _, size := range []int{0, 1024} {
		b.Run(fmt.Sprintf("body=%d", size), func(b *testing.B) {
			resp := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: text/plain\r\n\r\n%s", size, bytes.Repeat([]byte("x"), size))
			ln := rawBackend(b, resp)
			cfg := loadConfig(b, oneBackendConfig(ln.Addr().String(),
				"    option forwardfor\n    acl api path_beg /api\n    http-request set-header X-Proto http\n    use_backend be if api", ""))
			h := newHarness(b, cfg, "fe", Options{})
			h.env.discard = true
			c, err := net.Dial("tcp", h.addr())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte("GET /api/items?id=42 HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\nCookie: session=abc\r\n\r\n")
			buf := make([]byte, 64<<10)
			want := len(resp)
			roundTrip := func() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				got := 0
				for got < want {
					n, err := c.Read(buf)
					if err != nil {
						b.Fatal(err)
					}
					got += n
				}
			}
			for range 100 { // warm the pools
				roundTrip()
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				roundTrip()
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}

// TestRequestPathAllocs asserts the steady state of a keep-alive request allocates
// nothing in the engine (the raw backend and client allocate nothing either).
func TestRequestPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	ln := rawBackend(t, resp)
	cfg := loadConfig(t, oneBackendConfig(ln.Addr().String(),
		"    option forwardfor\n    acl api path_beg /api\n    http-request set-header X-Proto http\n    use_backend be if api", ""))
	h := newHarness(t, cfg, "fe", Options{})
	h.env.discard = true
	c, err := net.Dial("tcp", h.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /api/items?id=42 HTTP/1.1\r\nHost: shop.example\r\n\r\n")
	buf := make([]byte, 4096)
	rt := func() {
		c.Write(req)
		got := 0
		for got < len(resp) {
			n, err := c.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	}
	for range 50 {
		rt()
	}
	if a := testing.AllocsPerRun(200, rt); a > 0.5 {
		t.Fatalf("%.2f allocations per keep-alive request, want 0", a)
	}
}
