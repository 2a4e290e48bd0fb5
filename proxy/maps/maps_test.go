package maps

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

func loadString(t testing.TB, isMap bool, text string) *Ref {
	t.Helper()
	r := NewRef("t", isMap)
	if err := r.LoadString("t.map", text); err != nil {
		t.Fatal(err)
	}
	return r
}

func index(t testing.TB, r *Ref, k Kind, icase bool) *Index {
	t.Helper()
	x, err := r.Index(k, icase)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestMapFileFormat(t *testing.T) {
	r := loadString(t, true, `
# comment
   www.example.com    bk_www   extra words  
api.example.com	bk_api

www.example.com bk_dup
lonely
`)
	got := r.Entries()
	want := []Entry{
		{1, "www.example.com", "bk_www   extra words"},
		{2, "api.example.com", "bk_api"},
		{3, "www.example.com", "bk_dup"},
		{4, "lonely", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("entries\n got %v\nwant %v", got, want)
	}
	x := index(t, r, Str, false)
	if e, ok := x.Lookup("www.example.com"); !ok || e.Value != "bk_www   extra words" {
		t.Errorf("duplicate keys: got %v,%v, want the first line's value", e, ok)
	}
	p := loadString(t, false, "  /api v1 \n#x\n")
	if e := p.Entries(); len(e) != 1 || e[0].Key != "/api v1" || e[0].Value != "" {
		t.Errorf("pattern file keeps the whole line: %v", e)
	}
}

func TestMatchKinds(t *testing.T) {
	cases := []struct {
		kind  Kind
		icase bool
		pats  string
		in    string
		want  string // value of the matched entry, "" for none
	}{
		{Str, false, "abc A\nabd B", "abd", "B"},
		{Str, false, "abc A", "ABC", ""},
		{Str, true, "abc A", "ABC", "A"},
		{Str, true, "ABC A", "abc", "A"},
		{Beg, false, "/api A\n/ B", "/api/x", "A"},
		{Beg, false, "/api A\n/ B", "/web", "B"},
		{Beg, true, "/API A", "/api/x", "A"},
		{Beg, false, "/api A", "/ap", ""},
		{End, false, ".jpg A\n.png B", "/x.png", "B"},
		{End, true, ".JPG A", "/x.jpg", "A"},
		{Sub, false, "adm A", "/x/admin/y", "A"},
		{Sub, true, "ADM A", "/x/admin/y", "A"},
		{Sub, false, "zzz A", "/x/admin/y", ""},
		{Dom, false, "example.com A", "www.example.com", "A"},
		{Dom, false, "example.com A", "example.com:8080", "A"},
		{Dom, false, "example.com A", "myexample.com", ""},
		{Dom, true, "EXAMPLE.com A", "www.example.COM", "A"},
		{Dir, false, "img A", "/static/img/a.png", "A"},
		{Dir, false, "img A", "/static/imgs/a.png", ""},
		{Reg, false, `^/v[0-9]+/ A`, "/v2/x", "A"},
		{Reg, false, `^/v[0-9]+/ A`, "/V2/x", ""},
		{Reg, true, `^/v[0-9]+/ A`, "/V2/x", "A"},
		{Int, false, "80 A\n1024:65535 B", "8080", "B"},
		{Int, false, "80 A\n1024:65535 B", "80", "A"},
		{Int, false, "80 A\n1024:65535 B", "81", ""},
		{Int, false, ":10 A", "-5", "A"},
		{Len, false, "3 A\n5: B", "abcdefg", "B"},
		{Len, false, "3 A", "ab", ""},
		{IP, false, "10.0.0.0/8 A\n10.1.0.0/16 B", "10.1.2.3", "B"},
		{IP, false, "10.0.0.0/8 A\n10.1.0.0/16 B", "10.2.2.3", "A"},
		{IP, false, "10.0.0.0/8 A", "11.2.2.3", ""},
		{IP, false, "0.0.0.0/0 A\n10.0.0.1 B", "10.0.0.1", "B"},
		{IP, false, "0.0.0.0/0 A\n10.0.0.1 B", "8.8.8.8", "A"},
		{IP, false, "::/0 A\n2001:db8::/32 B", "2001:db8::1", "B"},
		{IP, false, "::ffff:10.0.0.0/104 A", "10.0.0.1", "A"},
		{IP, false, "10.0.0.0/8 A", "::ffff:10.0.0.1", "A"},
		{IP, false, "10.0.0.0/8 A", "not-an-ip", ""},
	}
	for _, c := range cases {
		r := loadString(t, true, c.pats)
		x := index(t, r, c.kind, c.icase)
		e, ok := x.Lookup(c.in)
		if got := map[bool]string{true: e.Value}[ok]; got != c.want {
			t.Errorf("-m %s icase=%v %q against %q: got %q want %q", c.kind, c.icase, c.in, c.pats, got, c.want)
		}
	}
}

func TestIndexRejectsBadPatterns(t *testing.T) {
	for _, c := range []struct {
		kind Kind
		pat  string
	}{{IP, "10.0.0.300"}, {IP, "10.0.0.0/33"}, {IP, "10.0.0.0/255.0.255.0"}, {Int, "1x"}, {Int, "9:1"}, {Reg, "a("}, {Len, ":"}} {
		r := loadString(t, false, "ok\n"+c.pat)
		if c.kind == IP {
			r = loadString(t, false, "1.1.1.1\n"+c.pat)
		}
		if c.kind == Int || c.kind == Len {
			r = loadString(t, false, "1\n"+c.pat)
		}
		_, err := r.Index(c.kind, false)
		if err == nil {
			t.Errorf("-m %s %q: no error", c.kind, c.pat)
		} else if !bytes.Contains([]byte(err.Error()), []byte("t.map:2:")) {
			t.Errorf("-m %s %q: error %q does not name t.map:2", c.kind, c.pat, err)
		}
	}
	// A run-time add must also fit every index.
	r := loadString(t, true, "10.0.0.0/8 a")
	index(t, r, IP, false)
	if _, err := r.Add("web", "x"); err == nil {
		t.Error("adding a non-IP key to a map used by map_ip: no error")
	}
	if r.Len() != 1 {
		t.Errorf("a refused add changed the map: %v", r.Entries())
	}
}

func TestEdits(t *testing.T) {
	r := loadString(t, true, "a 1\nb 2\na 3\n10.0.0.1 x")
	x := index(t, r, Str, false)
	if n, err := r.SetKey("a", "9"); err != nil || n != 2 {
		t.Fatalf("SetKey: %d %v", n, err)
	}
	if e, _ := x.Lookup("a"); e.Value != "9" {
		t.Errorf("after set: %v", e)
	}
	if err := r.DelID(1); err != nil {
		t.Fatal(err)
	}
	if e, ok := x.Lookup("a"); !ok || e.ID != 3 {
		t.Errorf("after deleting the first a, the second one must answer: %v %v", e, ok)
	}
	if _, err := r.DelKey("a"); err != nil {
		t.Fatal(err)
	}
	if _, ok := x.Lookup("a"); ok {
		t.Error("a still found after DelKey")
	}
	if _, err := r.DelKey("zz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DelKey of a missing key: %v", err)
	}
	if err := r.SetID(99, "v"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetID of a missing id: %v", err)
	}
	e, err := r.Add("c", "3")
	if err != nil || e.ID != 5 || e.RefString() != "0x5" {
		t.Fatalf("Add: %v %v (ids keep counting)", e, err)
	}
	if id, ok := ParseRef("#0x5"); !ok || id != 5 {
		t.Errorf("ParseRef: %d %v", id, ok)
	}
	if _, err := r.Add("bad\nkey", ""); err == nil {
		t.Error("line break accepted in a key")
	}
	r.Clear()
	if _, ok := x.Lookup("c"); ok || r.Len() != 0 {
		t.Error("Clear left entries")
	}
	if e, _ := r.Add("d", "4"); e.ID != 6 {
		t.Errorf("ids restart after Clear: %v", e)
	}
}

func TestStoreLoadAndNames(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "hosts.map")
	if err := os.WriteFile(p, []byte("a 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := NewStore()
	r, err := s.Load(p, p, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Add("b", "2"); err != nil {
		t.Fatal(err)
	}
	r2, _ := s.Load(p, p, true)
	if r2 != r || r2.Len() != 2 {
		t.Fatal("a second Load (a reload) must keep the same Ref and its run-time edits")
	}
	if s.Ref("hosts.map") != r || s.Ref("#0") != r || s.Ref(p) != r || s.Ref("nope") != nil {
		t.Error("Ref by suffix, #uid, full name")
	}
	if _, err := s.Load("x", filepath.Join(dir, "missing"), true); err == nil {
		t.Error("missing file: no error")
	}
	if err := s.Reload(p, p); err != nil || r.Len() != 1 {
		t.Errorf("Reload re-reads the file: %v len %d", err, r.Len())
	}
	if got := s.Refs(true); len(got) != 1 || got[0] != r {
		t.Errorf("Refs(true) = %v", got)
	}
}

// TestLPMAgainstBruteForce checks longest-prefix matching on random prefixes, with
// deletions, against a linear scan.
func TestLPMAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, v6 := range []bool{false, true} {
		r := NewRef("lpm", true)
		x := index(t, r, IP, false)
		type pe struct {
			p  netip.Prefix
			id uint64
		}
		var live []pe
		randAddr := func() netip.Addr {
			if v6 {
				var b [16]byte
				b[0] = 0x20
				b[1] = byte(rng.IntN(4))
				for i := 2; i < 16; i++ {
					b[i] = byte(rng.IntN(256))
				}
				return netip.AddrFrom16(b)
			}
			return netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		}
		for i := 0; i < 3000; i++ {
			a := randAddr()
			bits := rng.IntN(a.BitLen() + 1)
			if v6 {
				bits = 8 + rng.IntN(121)
			} else {
				bits = 8 + rng.IntN(25)
			}
			p := netip.PrefixFrom(a, bits).Masked()
			e, err := r.Add(p.String(), fmt.Sprint(i))
			if err != nil {
				t.Fatal(err)
			}
			live = append(live, pe{p, e.ID})
			if i%5 == 4 { // delete a random one
				j := rng.IntN(len(live))
				if err := r.DelID(live[j].id); err != nil {
					t.Fatal(err)
				}
				live = append(live[:j], live[j+1:]...)
			}
		}
		for i := 0; i < 4000; i++ {
			a := randAddr()
			best, bestID := -1, uint64(0)
			for _, l := range live {
				if l.p.Contains(a) && (l.p.Bits() > best || l.p.Bits() == best && l.id < bestID) {
					best, bestID = l.p.Bits(), l.id
				}
			}
			e, ok := x.LookupIP(a)
			if ok != (best >= 0) || ok && e.ID != bestID {
				t.Fatalf("v6=%v %s: got %v,%v want id %d (len %d)", v6, a, e, ok, bestID, best)
			}
		}
	}
}

func TestConcurrentLookupsAndEdits(t *testing.T) {
	r := NewRef("c", true)
	x := index(t, r, IP, false)
	xs := index(t, r, Str, false)
	if _, err := r.Add("10.0.0.0/8", "net"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad sync.Map
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := netip.MustParseAddr("10.1.2.3")
			for n := 0; n < 200000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				e, ok := x.LookupIP(a)
				if !ok || (e.Value != "net" && e.Value != "host") {
					bad.Store(n, e)
				}
				xs.Lookup("10.1.2.3")
			}
		}()
	}
	deadline := time.Now().Add(2 * time.Second)
	for i := 0; i < 2000 && time.Now().Before(deadline); i++ {
		e, err := r.Add("10.1.2.3", "host")
		if err != nil {
			t.Fatal(err)
		}
		if err := r.DelID(e.ID); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	bad.Range(func(k, v any) bool { t.Errorf("lookup %v saw %v", k, v); return false })
}

type collect struct {
	mu sync.Mutex
	ds []Delta
}

func (c *collect) Deltas(b []Delta) {
	c.mu.Lock()
	c.ds = append(c.ds, b...)
	c.mu.Unlock()
}

func storeState(s *Store) map[string][]Entry {
	out := map[string][]Entry{}
	for _, r := range s.all() {
		out[r.Name()] = r.Entries()
	}
	return out
}

// TestDeltaReplay: a consumer replaying the delta stream into an empty store ends
// equal to the source after a random workload, with and without coalescing.
func TestDeltaReplay(t *testing.T) {
	for _, maxPending := range []int{1 << 20, 7} {
		src := NewStore()
		sink := &collect{}
		src.SetSink(sink, 16, 0)
		if maxPending < 1<<20 {
			src.SetMaxPending(maxPending)
		}
		rng := rand.New(rand.NewPCG(3, 4))
		refs := []*Ref{src.Create("m1", true), src.Create("m2", true), src.Create("p1", false)}
		for _, r := range refs {
			index(t, r, Str, false)
		}
		for i := 0; i < 3000; i++ {
			r := refs[rng.IntN(len(refs))]
			key := fmt.Sprint("k", rng.IntN(50))
			switch op := rng.IntN(100); {
			case op < 50:
				if _, err := r.Add(key, fmt.Sprint(i)); err != nil {
					t.Fatal(err)
				}
			case op < 70:
				r.SetKey(key, fmt.Sprint("s", i))
			case op < 85:
				r.DelKey(key)
			case op < 95:
				es := r.Entries()
				if len(es) > 0 {
					r.DelID(es[rng.IntN(len(es))].ID)
				}
			default:
				r.Clear()
			}
			if i%100 == 0 {
				src.Flush()
			}
		}
		src.Close()
		dst := NewStore()
		// Replay through the wire format, in batches, and a second time (idempotent).
		for pass := 0; pass < 2; pass++ {
			for i := 0; i < len(sink.ds); i += 10 {
				b, err := UnmarshalDeltas(MarshalDeltas(sink.ds[i:min(i+10, len(sink.ds))]))
				if err != nil {
					t.Fatal(err)
				}
				dst.Apply(b)
			}
		}
		if got, want := storeState(dst), storeState(src); !reflect.DeepEqual(got, want) {
			t.Fatalf("maxPending %d: replica differs\n got %v\nwant %v", maxPending, got, want)
		}
		coalesced := false
		for _, d := range sink.ds {
			coalesced = coalesced || d.Op == OpReplace
		}
		if coalesced != (maxPending < 1<<20) {
			t.Errorf("maxPending %d: coalesced=%v", maxPending, coalesced)
		}
	}
}

func TestSnapshotRestore(t *testing.T) {
	src := NewStore()
	r := src.Create("/etc/appl/hosts.map", true)
	r.Add("a", "1")
	r.Add("b", "two words")
	r.DelKey("a")
	p := src.Create("white", false)
	p.Add("10.0.0.0/8", "")
	var buf bytes.Buffer
	if err := src.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	dst := NewStore()
	old := dst.Create("white", false)
	old.Add("1.1.1.1", "")
	if err := dst.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if got, want := storeState(dst), storeState(src); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored\n got %v\nwant %v", got, want)
	}
	if e, _ := dst.Ref("/etc/appl/hosts.map").Add("c", "3"); e.ID != 3 {
		t.Errorf("ids continue after the restored ones: %v", e)
	}
	b := buf.Bytes()
	for i := 0; i < len(b); i++ {
		if err := NewStore().Restore(bytes.NewReader(b[:i])); err == nil {
			t.Fatalf("truncated snapshot (%d of %d bytes) accepted", i, len(b))
		}
	}
}

func TestSinkNeverBlocksEdits(t *testing.T) {
	s := NewStore()
	block := make(chan struct{})
	entered := make(chan struct{}, 1)
	s.SetSink(sinkFunc(func([]Delta) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-block
	}), 4, 0)
	s.SetMaxPending(64)
	r := s.Create("m", true)
	start := time.Now()
	for i := 0; i < 10000; i++ {
		r.Add(fmt.Sprint(i), "v")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("10000 edits with a stuck sink took %v", d)
	}
	if p := s.Pending(); p > 64+1 {
		t.Errorf("pending %d exceeds the bound", p)
	}
	close(block)
	s.Close()
}

type sinkFunc func([]Delta)

func (f sinkFunc) Deltas(b []Delta) { f(b) }

func FuzzMapLoad(f *testing.F) {
	f.Add([]byte("a 1\n# c\n  b   two words \n10.0.0.0/8 x\n"), uint8(IP))
	f.Add([]byte("^/v[0-9]+ a\n(x b\n"), uint8(Reg))
	f.Add([]byte("1:5 a\n:3\n9:\n"), uint8(Int))
	f.Fuzz(func(t *testing.T, data []byte, k uint8) {
		r := NewRef("f", true)
		if err := r.LoadString("f", string(data)); err != nil {
			return
		}
		kind := Kind(k%uint8(Bool)) + 1
		x, err := r.Index(kind, k&0x80 != 0)
		if err != nil || !kind.NeedsPatterns() {
			return
		}
		for _, e := range r.Entries() {
			if kind == Str || kind == Beg || kind == Sub || kind == End {
				if _, ok := x.Lookup(e.Key); !ok {
					t.Fatalf("-m %s: key %q does not match itself", kind, e.Key)
				}
			}
			x.Lookup(e.Value)
		}
		var buf bytes.Buffer
		s := NewStore()
		s.Create("f", true).LoadString("f", string(data))
		if err := s.Snapshot(&buf); err != nil {
			t.Fatal(err)
		}
		s2 := NewStore()
		if err := s2.Restore(&buf); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(storeState(s), storeState(s2)) {
			t.Fatal("snapshot round trip differs")
		}
	})
}

// TestCommittedWriteFlow is the consensus path: reserve an id where the command is
// accepted, then apply the same OpAdd on every node (the origin included).
func TestCommittedWriteFlow(t *testing.T) {
	a, b := NewStore(), NewStore()
	ra := a.Create("m", true)
	index(t, ra, IP, false)
	if err := ra.CheckKey("nonsense"); err == nil {
		t.Fatal("CheckKey accepted a non-IP key for an IP map")
	}
	if err := ra.CheckKey("10.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	d := Delta{Map: "m", IsMap: true, Op: OpAdd, ID: ra.ReserveID(), Key: "10.0.0.0/8", Value: "x"}
	for _, s := range []*Store{a, b, b} {
		s.Apply([]Delta{d})
	}
	if !reflect.DeepEqual(storeState(a), storeState(b)) || ra.Len() != 1 {
		t.Fatalf("nodes differ: %v vs %v", storeState(a), storeState(b))
	}
	if id := b.Ref("m").ReserveID(); id <= d.ID {
		t.Errorf("a follower that becomes leader reserves %d, not above the applied %d", id, d.ID)
	}
}
