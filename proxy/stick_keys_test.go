package proxy

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// keySource is the source address of key i: 127.1.x.y.
func keySource(i int) string { return fmt.Sprintf("127.1.%d.%d", i/250, i%250+1) }

// helloAll connects once from each source of keys [from, to) with a few connections in
// parallel and returns the backend each reached.
func helloAll(t *testing.T, addr string, from, to int) []string {
	t.Helper()
	got := make([]string, to-from)
	errs := make([]error, to-from)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				got[i-from], errs[i-from] = helloFrom(addr, keySource(i))
			}
		}()
	}
	for i := from; i < to; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("key %d (%s): %v", from+i, keySource(from+i), err)
		}
	}
	return got
}

// Stickiness of 1,000 distinct clients survives a reload that adds servers: each
// client keeps its server, while new clients also reach the new servers.
func TestStickinessOf1000KeysSurvivesServerAdditions(t *testing.T) {
	const keys = 1000
	var bs []*testBackend
	for i := 1; i <= 5; i++ {
		bs = append(bs, startBackend(t, fmt.Sprintf("B%d", i), ""))
	}
	front := freeAddr(t)
	cfgText := func(n int) string {
		var sb strings.Builder
		fmt.Fprintf(&sb, `
frontend fe
    mode tcp
    bind %s
    default_backend be
backend be
    mode tcp
    balance roundrobin
    stick-table type ip size 5000 expire 10m store conn_cnt
    stick on src
`, front)
		for i := 0; i < n; i++ {
			fmt.Fprintf(&sb, "    server s%d %s\n", i+1, bs[i].addr)
		}
		return sb.String()
	}
	p, _ := startProxy(t, loadCfg(t, cfgText(3)))
	first := helloAll(t, front, 0, keys)
	spread := map[string]int{}
	for _, s := range first {
		spread[s]++
	}
	if len(spread) != 3 {
		t.Fatalf("first round reached %v, want the 3 servers", spread)
	}
	if n := p.Tables()[0].Len(); n != keys {
		t.Fatalf("table holds %d entries, want %d", n, keys)
	}
	for round, n := range []int{4, 5} {
		if err := p.Reload(loadCfg(t, cfgText(n))); err != nil {
			t.Fatal(err)
		}
		again := helloAll(t, front, 0, keys)
		moved := 0
		for i := range again {
			if again[i] != first[i] {
				if moved < 5 {
					t.Errorf("round %d: key %s moved from %s to %s", round, keySource(i), first[i], again[i])
				}
				moved++
			}
		}
		if moved > 0 {
			t.Fatalf("round %d (%d servers): %d of %d keys lost their server", round, n, moved, keys)
		}
	}
	// The added servers are in use: new clients reach them.
	fresh := helloAll(t, front, keys, keys+50)
	newSrv := 0
	for _, s := range fresh {
		if s == "B4" || s == "B5" {
			newSrv++
		}
	}
	if newSrv == 0 {
		t.Fatalf("50 new clients never reached the added servers: %v", fresh)
	}
	if n := p.Tables()[0].Len(); n != keys+50 {
		t.Fatalf("table holds %d entries, want %d", n, keys+50)
	}
}
