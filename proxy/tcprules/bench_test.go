package tcprules

import (
	"net/netip"
	"testing"

	"appl/proxy/stick"
)

// BenchmarkConnection is the per-connection cost of the rules with rate limiting by
// source and stick on src: Connection + Session + Content + StickServer + StickStore +
// Close, over 1024 sources, with a pooled Session.
func BenchmarkConnection(b *testing.B) {
	ts := NewTables(stick.Options{})
	e := mustCompile(b, ts, b.TempDir(), `
frontend fe
    bind :1
    stick-table type ip size 100k expire 30s store conn_rate(10s),conn_cur
    tcp-request connection track-sc0 src
    tcp-request connection reject if { sc_conn_rate(0) gt 100000000 }
backend be
    stick-table type ip size 100k expire 30m store conn_cnt
    stick on src
`)
	fe, be := e.rules["fe"], e.rules["be"]
	var srcs [1024]netip.AddrPort
	for i := range srcs {
		srcs[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), 40000)
	}
	dst := netip.MustParseAddrPort("198.18.255.1:80")
	usable := func(string, int) bool { return true }
	s := NewSession()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Reset(srcs[i&1023], dst)
		if fe.Connection(s) != Accept || fe.Session(s) != Accept || fe.Content(s) != Accept || be.Content(s) != Accept {
			b.Fatal("refused")
		}
		if _, _, ok := be.StickServer(s, usable); !ok {
			be.StickStore(s, 1, "web1")
		} else {
			be.StickStore(s, 1, "web1")
		}
		s.Close(100, 1000)
	}
}
