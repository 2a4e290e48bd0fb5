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

// BenchmarkConnectionOneSourceParallel is bench/stick.sh's case: every connection from
// one source (one entry, one shard lock), from all Ps at once.
func BenchmarkConnectionOneSourceParallel(b *testing.B) {
	ts := NewTables(stick.Options{})
	e := mustCompile(b, ts, b.TempDir(), `
listen li
    bind :1
    stick-table type ip size 1m expire 30m store conn_cnt,conn_cur,conn_rate(10s)
    tcp-request connection track-sc0 src
    stick on src
`)
	li := e.rules["li"]
	src := netip.MustParseAddrPort("127.0.0.1:40000")
	dst := netip.MustParseAddrPort("127.0.0.1:80")
	usable := func(string, int) bool { return true }
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		s := NewSession()
		for pb.Next() {
			s.Reset(src, dst)
			if li.Connection(s) != Accept || li.Session(s) != Accept || li.Content(s) != Accept {
				b.Fatal("refused")
			}
			li.StickServer(s, usable)
			li.StickStore(s, 1, "s1")
			s.Close(100, 1000)
		}
	})
}
