package runtime

import (
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"appl/proxy/stick"
)

// BenchmarkSocketRoundTrip is one scripted query (`echo "show stat" |
// socat stdio SOCKET`): connect, send, read to EOF.
func BenchmarkSocketRoundTrip(b *testing.B) {
	ft := newFakeTarget(b)
	srv := NewServer(ft, nil)
	p := filepath.Join(b.TempDir(), "b.sock")
	l, err := Listen(p, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(l, LevelAdmin)
	defer srv.Close()
	for _, cmd := range []string{"show info", "show stat"} {
		b.Run(cmd, func(b *testing.B) {
			for b.Loop() {
				c, err := net.Dial("unix", p)
				if err != nil {
					b.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				io.WriteString(c, cmd+"\n")
				if _, err := io.Copy(io.Discard, c); err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

// BenchmarkShowTable dumps a 100,000-entry table through Exec (`show
// table NAME` on an operator socket).
func BenchmarkShowTable(b *testing.B) {
	ft := newFakeTarget(b)
	def, err := stick.ParseDef(strings.Fields("type ip size 200k expire 30m store conn_cnt,conn_rate(10s)"))
	if err != nil {
		b.Fatal(err)
	}
	big := stick.New("big", def, stick.Options{})
	defer big.Close()
	for i := range 100000 {
		k, ok := big.AddrKey(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		if !ok {
			b.Fatal("key")
		}
		e, err := big.GetOrCreate(k)
		if err != nil {
			b.Fatal(err)
		}
		e.CountConn()
	}
	ft.tables = append(ft.tables, big)
	srv := NewServer(ft, nil)
	for b.Loop() {
		out := srv.Exec(LevelOperator, "show table big")
		if n := strings.Count(out, "\n"); n != 100000+2 {
			b.Fatalf("%d lines", n)
		}
	}
}
