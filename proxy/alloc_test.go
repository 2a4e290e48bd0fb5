package proxy

import (
	"net"
	"runtime"
	"testing"

	"appl/proxy/config"
	"appl/proxy/relay"
)

// A raw tcp connection costs the proxy 5 heap allocations from accept to the end of its
// relay (the session, the arguments of its goroutine, the relay, the loop's connection
// and the relay's done callback; there were 12):
// measured as the process's allocations per connection through the proxy minus those
// of the same client and backend connecting directly.
func TestRawConnectionAllocs(t *testing.T) {
	if relay.DefaultMode() != relay.ModeLoop {
		t.Skip("raw accept needs the event loops (APPL_EVLOOP=off)")
	}
	if raceEnabled {
		t.Skip("the race detector allocates (sync.Pool drops items at random)")
	}
	b := startBackend(t, "s0", "")
	fa := freeAddr(t)
	startProxy(t, &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{tcpBackend("be", "roundrobin", srv("s0", b.addr, 1))}})
	run := func(addr string, n int) float64 {
		var m0, m1 runtime.MemStats
		buf := make([]byte, 16)
		runtime.ReadMemStats(&m0)
		for i := 0; i < n; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			// The backend's greeting: the connection went all the way through.
			if _, err := c.Read(buf); err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
		runtime.ReadMemStats(&m1)
		return float64(m1.Mallocs-m0.Mallocs) / float64(n)
	}
	run(fa, 100) // warm up pools and caches
	run(b.addr, 100)
	best := 1e9
	for k := 0; k < 3; k++ {
		d := run(b.addr, 300)
		p := run(fa, 300)
		best = min(best, p-d)
	}
	t.Logf("%.1f allocations per proxied connection", best)
	if best > 5.5 {
		t.Fatalf("%.1f allocations per proxied connection, want at most 5", best)
	}
}
