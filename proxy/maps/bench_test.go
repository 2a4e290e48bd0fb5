package maps

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

func bigIPIndex(b *testing.B, n int) (*Index, []netip.Addr) {
	rng := rand.New(rand.NewPCG(7, 8))
	var m strings.Builder
	for i := 0; i < n; i++ {
		a := netip.AddrFrom4([4]byte{byte(rng.IntN(224)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		fmt.Fprintf(&m, "%s bk_%d\n", netip.PrefixFrom(a, 16+rng.IntN(17)).Masked(), i%50)
	}
	r := loadString(b, true, m.String())
	x := index(b, r, IP, false)
	addrs := make([]netip.Addr, 4096)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{byte(rng.IntN(224)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
	}
	return x, addrs
}

func BenchmarkLookupIP100k(b *testing.B) {
	x, addrs := bigIPIndex(b, 100000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x.LookupIP(addrs[i&4095])
	}
}

func BenchmarkLookupIP100kParallel(b *testing.B) {
	x, addrs := bigIPIndex(b, 100000)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			x.LookupIP(addrs[i&4095])
			i++
		}
	})
}

func BenchmarkLookupStrICase(b *testing.B) {
	r := loadString(b, true, "www.example.com a\napi.example.com b\n")
	x := index(b, r, Str, true)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, ok := x.Lookup("WWW.Example.com"); !ok {
			b.Fatal("miss")
		}
	}
}
