package stick

import (
	"net/netip"
	"runtime"
	"syscall"
	"testing"
)

// cpuTimer reports cpu-ns/op next to ns/op: the process's CPU time (user +
// system) per operation. On a machine shared with other tenants the wall
// clock also counts the time the benchmark waited for a CPU; this does not.
type cpuTimer struct{ start int64 }

func cpuNow() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// startCPU resets the benchmark timer and starts counting CPU time.
func startCPU(b *testing.B) *cpuTimer {
	b.ResetTimer()
	return &cpuTimer{start: cpuNow()}
}

func (c *cpuTimer) report(b *testing.B) {
	b.StopTimer()
	if b.N > 0 {
		b.ReportMetric(float64(cpuNow()-c.start)/float64(b.N), "cpu-ns/op")
	}
}

// benchKey builds key i the way the proxy does, from the client address
// (reading keys from a 32 MB slice would add a cache miss of its own).
func benchKey(t *Table, i int) Key {
	k, _ := t.AddrKey(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	return k
}

func benchTable(b *testing.B, n int) (*Table, []Key) {
	def, err := ParseDef([]string{"type", "ip", "size", "1m", "expire", "30m", "store", "conn_cnt,conn_cur,conn_rate(10s),server_id,server_key"})
	if err != nil {
		b.Fatal(err)
	}
	t := New("bench", def, Options{})
	keys := make([]Key, n)
	for i := range keys {
		k, _ := t.AddrKey(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		keys[i] = k
		if _, err := t.GetOrCreate(k); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC() // measure the steady state, not the setup's garbage
	return t, keys
}

// BenchmarkLookupUpdate1M is the target: lookup + counter update at
// 1,000,000 ip keys, keys visited in a scattered order.
func BenchmarkLookupUpdate1M(b *testing.B) {
	const n = 1_000_000
	t, _ := benchTable(b, n)
	b.ReportAllocs()
	cpu := startCPU(b)
	j := 0
	for i := 0; i < b.N; i++ {
		j += 7919 * 131 // stride co-prime with n: scattered, no cache locality
		if j >= n {
			j %= n
		}
		e := t.Lookup(benchKey(t, j))
		if e == nil {
			b.Fatal("missing key")
		}
		e.Add(DataConnCnt, 1)
	}
	cpu.report(b)
}

// BenchmarkTrackConn1M is the track-sc path of one connection: get the
// entry (refreshing it), count the connection, close it, release.
func BenchmarkTrackConn1M(b *testing.B) {
	const n = 1_000_000
	t, _ := benchTable(b, n)
	b.ReportAllocs()
	cpu := startCPU(b)
	j := 0
	for i := 0; i < b.N; i++ {
		j = (j + 7919*131) % n
		e, err := t.Track(benchKey(t, j))
		if err != nil {
			b.Fatal(err)
		}
		e.CountConn()
		e.ConnClosed()
		e.Release()
	}
	cpu.report(b)
}

func BenchmarkLookupUpdateParallel1M(b *testing.B) {
	const n = 1_000_000
	t, _ := benchTable(b, n)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		j := 0
		for pb.Next() {
			j = (j + 7919*131) % n
			if e := t.Lookup(benchKey(t, j)); e != nil {
				e.Add(DataConnCnt, 1)
			}
		}
	})
}

// BenchmarkLookupUpdate1MHot is the same with a realistic skew: 90% of the
// operations on 1% of the keys (the active clients), the rest spread over
// all of them.
func BenchmarkLookupUpdate1MHot(b *testing.B) {
	const n = 1_000_000
	t, _ := benchTable(b, n)
	b.ReportAllocs()
	cpu := startCPU(b)
	j := 0
	for i := 0; i < b.N; i++ {
		j = (j + 7919*131) % n
		k := j
		if i%10 != 0 {
			k = j % (n / 100)
		}
		e := t.Lookup(benchKey(t, k))
		if e == nil {
			b.Fatal("missing key")
		}
		e.Add(DataConnCnt, 1)
	}
	cpu.report(b)
}

// BenchmarkReferenceGoMap1M is not a table operation: a bare Go map of 1M
// entries, one lookup and one increment, no lock, no clock. It shows the
// memory latency floor of this machine next to the figures above.
func BenchmarkReferenceGoMap1M(b *testing.B) {
	const n = 1_000_000
	m := make(map[uint32]*Entry, n)
	for i := 0; i < n; i++ {
		m[uint32(i)] = &Entry{}
	}
	runtime.GC()
	cpu := startCPU(b)
	j := 0
	for i := 0; i < b.N; i++ {
		j = (j + 7919*131) % n
		m[uint32(j)].inline[0]++
	}
	cpu.report(b)
}
