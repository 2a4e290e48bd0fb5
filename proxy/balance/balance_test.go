package balance

import (
	"math"
	"net/netip"
	"testing"
)

type pool struct {
	w    []int
	up   []bool
	load []int
}

func newPool(w ...int) *pool {
	p := &pool{w: w, up: make([]bool, len(w)), load: make([]int, len(w))}
	for i := range p.up {
		p.up[i] = true
	}
	return p
}

func (p *pool) Len() int          { return len(p.w) }
func (p *pool) Usable(i int) bool { return p.up[i] }
func (p *pool) Weight(i int) int  { return p.w[i] }
func (p *pool) Load(i int) int    { return p.load[i] }

// checkShares asserts that counts follow the weights of the usable servers within tol
// (a fraction of each expected count).
// checkShares compares counts with the weights' shares within tol (relative); a
// negative tol is for random picks: five binomial standard deviations, so the check
// holds in all but ~1e-6 of runs instead of failing now and then.
func checkShares(t *testing.T, name string, p *pool, counts []int, tol float64) {
	t.Helper()
	total, wsum := 0, 0
	for i, c := range counts {
		total += c
		if p.up[i] {
			wsum += p.w[i]
		}
	}
	for i, c := range counts {
		want := 0.0
		if p.up[i] {
			want = float64(total) * float64(p.w[i]) / float64(wsum)
		}
		bound := tol*want + 0.5
		if tol < 0 {
			q := want / float64(total)
			bound = 5*math.Sqrt(float64(total)*q*(1-q)) + 0.5
		}
		if math.Abs(float64(c)-want) > bound {
			t.Errorf("%s: server %d got %d picks, want %.0f (weights %v, counts %v)", name, i, c, want, p.w, counts)
		}
	}
}

func run(t *testing.T, algo, ht string, p *pool, n int, key func(int) uint64) []int {
	t.Helper()
	pk, err := New(algo, ht, p.w)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, p.Len())
	for k := 0; k < n; k++ {
		i := pk.Pick(p, key(k))
		if i < 0 {
			t.Fatalf("%s: no pick", algo)
		}
		if !p.up[i] {
			t.Fatalf("%s: picked down server %d", algo, i)
		}
		counts[i]++
	}
	return counts
}

func addrKey(k int) uint64 {
	return KeyAddr(netip.AddrFrom4([4]byte{10, byte(k >> 16), byte(k >> 8), byte(k)}))
}

func TestDistributionFollowsWeights(t *testing.T) {
	cases := []struct {
		algo, ht string
		tol      float64
		key      func(int) uint64
	}{
		{"roundrobin", "", 0.01, addrKey},
		{"static-rr", "", 0.01, addrKey},
		{"source", "map-based", 0.10, addrKey},
		{"source", "consistent", 0.25, addrKey},
		{"random", "", -1, addrKey},
	}
	for _, c := range cases {
		p := newPool(1, 2, 3, 4)
		counts := run(t, c.algo, c.ht, p, 3000, c.key)
		checkShares(t, c.algo+"/"+c.ht, p, counts, c.tol)
		// A down server gets nothing and the others keep their proportions.
		p.up[1] = false
		counts = run(t, c.algo, c.ht, p, 3000, c.key)
		downTol := c.tol + 0.05
		if c.tol < 0 {
			downTol = c.tol
		}
		checkShares(t, c.algo+"/"+c.ht+" with one down", p, counts, downTol)
	}
}

func TestRoundRobinInterleaves(t *testing.T) {
	p := newPool(2, 1)
	pk, _ := New("roundrobin", "", p.w)
	var seq []int
	for k := 0; k < 6; k++ {
		seq = append(seq, pk.Pick(p, 0))
	}
	want := []int{0, 1, 0, 0, 1, 0}
	for i := range want {
		if seq[i] != want[i] {
			t.Fatalf("sequence %v, want %v", seq, want)
		}
	}
}

func TestRoundRobinDynamicWeight(t *testing.T) {
	p := newPool(10, 10)
	pk, _ := New("roundrobin", "", p.w)
	p.w[1] = 1 // slowstart begins
	c := [2]int{}
	for k := 0; k < 1100; k++ {
		c[pk.Pick(p, 0)]++
	}
	if c[1] < 90 || c[1] > 110 {
		t.Fatalf("weights 10:1 gave %v", c)
	}
}

func TestLeastConnWeighted(t *testing.T) {
	p := newPool(1, 3)
	pk, _ := New("leastconn", "", p.w)
	// Connections that never end: loads must settle at the 1:3 ratio.
	for k := 0; k < 1000; k++ {
		i := pk.Pick(p, 0)
		p.load[i]++
	}
	checkShares(t, "leastconn", p, p.load, 0.01)
	// The least loaded wins regardless of order.
	p.load[0], p.load[1] = 10, 0
	if i := pk.Pick(p, 0); i != 1 {
		t.Fatalf("picked %d, want the idle server 1", i)
	}
}

func TestFirstFillsInOrder(t *testing.T) {
	p := newPool(1, 1, 1)
	pk, _ := New("first", "", p.w)
	if i := pk.Pick(p, 0); i != 0 {
		t.Fatalf("picked %d", i)
	}
	p.up[0] = false // full
	if i := pk.Pick(p, 0); i != 1 {
		t.Fatalf("picked %d", i)
	}
}

func TestSourceIsSticky(t *testing.T) {
	for _, ht := range []string{"map-based", "consistent"} {
		p := newPool(1, 1, 1)
		pk, _ := New("source", ht, p.w)
		a := KeyAddr(netip.MustParseAddr("192.0.2.7"))
		first := pk.Pick(p, a)
		for k := 0; k < 10; k++ {
			if pk.Pick(p, a) != first {
				t.Fatalf("%s: same client moved", ht)
			}
		}
	}
}

func TestConsistentMovesOnlyTheDownServersKeys(t *testing.T) {
	p := newPool(1, 1, 1, 1)
	pk, _ := New("source", "consistent", p.w)
	before := make([]int, 2000)
	for k := range before {
		before[k] = pk.Pick(p, addrKey(k))
	}
	p.up[2] = false
	for k := range before {
		now := pk.Pick(p, addrKey(k))
		if before[k] != 2 && now != before[k] {
			t.Fatalf("key %d moved from %d to %d though its server stayed up", k, before[k], now)
		}
	}
}

func TestNoneUsable(t *testing.T) {
	for _, a := range []string{"roundrobin", "static-rr", "leastconn", "first", "source", "random"} {
		p := newPool(1, 1)
		p.up[0], p.up[1] = false, false
		pk, err := New(a, "", p.w)
		if err != nil {
			t.Fatal(err)
		}
		if i := pk.Pick(p, 42); i != -1 {
			t.Fatalf("%s picked %d with nothing usable", a, i)
		}
	}
	if _, err := New("leastrequests", "", nil); err == nil {
		t.Fatal("unknown algorithm accepted")
	}
}

// The L7 algorithms hash request bytes: the same bytes stick, different ones spread by
// weight, and consistent hashing moves only the keys of a server that leaves.
func TestKeyBytesHashing(t *testing.T) {
	for _, algo := range []string{"uri", "url_param", "hdr", "rdp-cookie", "hash"} {
		if !Hashed(algo) {
			t.Fatalf("%s not hashed", algo)
		}
		for _, ht := range []string{"map-based", "consistent"} {
			p := newPool(1, 2, 3)
			key := func(k int) uint64 {
				return KeyBytes([]byte("/static/img" + string(rune('a'+k%26)) + string(rune('a'+k/26%26)) + string(rune('a'+k/676))))
			}
			tol := 0.1
			if ht == "consistent" {
				tol = 0.3 // 64 ring points per weight unit: shares are coarser
			}
			checkShares(t, algo+"/"+ht, p, run(t, algo, ht, p, 6000, key), tol)
			pk, _ := New(algo, ht, p.w)
			a := KeyBytes([]byte("/index.html"))
			first := pk.Pick(p, a)
			for k := 0; k < 10; k++ {
				if pk.Pick(p, a) != first {
					t.Fatalf("%s/%s: same key moved", algo, ht)
				}
			}
		}
	}
	if Hashed("roundrobin") || Hashed("random") {
		t.Fatal("roundrobin/random reported as hashed")
	}
	if KeyBytes([]byte("a")) == KeyBytes([]byte("b")) {
		t.Fatal("KeyBytes collides on one byte")
	}
	if n := testing.AllocsPerRun(100, func() { KeyBytes([]byte("/some/path?x=1")) }); n != 0 {
		t.Fatalf("KeyBytes allocates %v", n)
	}
}
