package proxy

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"appl/proxy/config"
)

// benchStickConns measures a whole proxied connection (connect, backend hello, close)
// through a listen section with or without `stick on src` + `tcp-request connection
// track-sc0 src`: what bench/stick.sh measures with wrk, in process so that
// -cpuprofile shows where the difference goes.
func benchStickConns(b *testing.B, withStick bool) {
	bk := startBackendB(b, "B")
	front := freeAddrB(b)
	rules := ""
	if withStick {
		rules = `    stick-table type ip size 1m expire 30m store conn_cnt,conn_cur,conn_rate(10s)
    tcp-request connection track-sc0 src
    stick on src
`
	}
	cfg := loadCfgB(b, fmt.Sprintf(`
listen li
    mode tcp
    bind %s
    balance roundrobin
%s    server s1 %s
    server s2 %s
`, front, rules, bk.addr, bk.addr))
	startProxyB(b, cfg)
	b.ReportAllocs()
	b.SetParallelism(16) // 32 clients on 2 CPUs, as wrk -c64 keeps the proxy busy
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if s, err := hello(front); err != nil || s != "B" {
				b.Errorf("hello: %q %v", s, err)
				return
			}
		}
	})
}

func BenchmarkConnPlain(b *testing.B) { benchStickConns(b, false) }
func BenchmarkConnStick(b *testing.B) { benchStickConns(b, true) }

func startBackendB(b *testing.B, name string) *testBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	tb := &testBackend{name: name, ln: ln, addr: ln.Addr().String(), conns: map[net.Conn]bool{}}
	tb.wg.Add(1)
	go tb.loop()
	b.Cleanup(tb.stop)
	return tb
}

func freeAddrB(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func loadCfgB(b *testing.B, text string) *config.Config {
	path := filepath.Join(b.TempDir(), "t.cfg")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

func startProxyB(b *testing.B, cfg *config.Config) *Proxy {
	p, err := New(cfg, zap.NewNop(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx)
	})
	return p
}
