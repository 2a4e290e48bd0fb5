package acl

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

// BenchmarkCondTypical evaluates a typical http frontend condition set: a whitelist
// file by source, host header with -i, path prefixes and a negation.
func BenchmarkCondTypical(b *testing.B) {
	dir := b.TempDir()
	var wl strings.Builder
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&wl, "10.%d.%d.0/24\n", i/256, i%256)
	}
	writeFile(b, dir, "white", wl.String())
	_, cond := build(b, Options{BaseDir: dir}, []string{
		"acl white src -f white",
		"acl host_www hdr(host) -i www.example.com",
		"acl api path_beg /api/ /v2/",
		"acl static path_end .css .js .png",
	}, "if white host_www api !static || { dst_port 8443 }")
	txn := httpTxn("GET", "/api/users?id=1", "Host: WWW.example.com", "Accept: */*")
	txn.Src = netip.MustParseAddrPort("10.3.200.9:5555")
	if !cond.Match(txn) {
		b.Fatal("condition should match")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !cond.Match(txn) {
			b.Fatal("no match")
		}
	}
}

// BenchmarkCondTCP is the L4 use_backend case: src against a pattern file and a port range.
func BenchmarkCondTCP(b *testing.B) {
	_, cond := build(b, Options{}, []string{"acl net src 10.0.0.0/8 192.168.0.0/16", "acl hi dst_port 1024:65535"}, "if net hi")
	txn := tcpTxn("192.168.1.1:40000", "198.18.0.1:5000")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !cond.Match(txn) {
			b.Fatal("no match")
		}
	}
}

// BenchmarkMapIP100k is `%[dst,map_ip(./map,not_found)]` over 100,000 prefixes of
// mixed lengths.
func BenchmarkMapIP100k(b *testing.B) {
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(7, 8))
	var m strings.Builder
	for i := 0; i < 100000; i++ {
		a := netip.AddrFrom4([4]byte{byte(rng.IntN(224)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		fmt.Fprintf(&m, "%s bk_%d\n", netip.PrefixFrom(a, 16+rng.IntN(17)).Masked(), i%50)
	}
	writeFile(b, dir, "map", m.String())
	e, err := ParseExpr("dst,map_ip(./map,not_found)", Options{BaseDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	txns := make([]*Txn, 1024)
	for i := range txns {
		a := netip.AddrFrom4([4]byte{byte(rng.IntN(224)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		txns[i] = &Txn{Dst: netip.AddrPortFrom(a, 80)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := e.String(txns[i&1023]); !ok {
			b.Fatal("no result")
		}
	}
}
