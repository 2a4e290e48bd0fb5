package stick

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func mustDef(t testing.TB, line string) Def {
	t.Helper()
	d, err := ParseDef(strings.Fields(line))
	if err != nil {
		t.Fatalf("ParseDef(%q): %v", line, err)
	}
	return d
}

func newTable(t testing.TB, line string, clk *fakeClock) *Table {
	t.Helper()
	return New("t", mustDef(t, line), Options{Now: clk.Now})
}

func ipKey(t testing.TB, tb *Table, s string) Key {
	t.Helper()
	k, ok := tb.AddrKey(netip.MustParseAddr(s))
	if !ok {
		t.Fatalf("no key for %s", s)
	}
	return k
}

// rawEntry is the replicated state of an entry, read without computing
// rates, for exact comparisons between tables.
type rawEntry struct {
	Vals    []uint64
	SrvKey  string
	Exp     int64
	Updated int64
}

func rawState(tb *Table) map[Key]rawEntry {
	ms, _ := tb.clock()
	out := make(map[Key]rawEntry)
	for i := range tb.shards {
		s := &tb.shards[i]
		s.mu.Lock()
		for e := s.lru.next; e != &s.lru; e = e.next {
			if tb.expired(e, ms) {
				continue
			}
			out[e.key] = rawEntry{Vals: append(slices.Clone(e.inline[:]), e.more...), SrvKey: e.srvKey, Exp: e.exp, Updated: e.updated}
		}
		s.mu.Unlock()
	}
	return out
}

func diffState(t *testing.T, tb *Table, want, got map[Key]rawEntry) {
	t.Helper()
	n := 0
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("key %s missing", tb.FormatKey(k))
		} else if !slices.Equal(w.Vals, g.Vals) || w.SrvKey != g.SrvKey || w.Exp != g.Exp || w.Updated != g.Updated {
			t.Errorf("key %s: want %+v, got %+v", tb.FormatKey(k), w, g)
		}
		if n++; t.Failed() && n > 10 {
			t.FailNow()
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected key %s", tb.FormatKey(k))
		}
	}
}

// collectSink records every batch.
type collectSink struct {
	mu      sync.Mutex
	batches [][]Delta
}

func (c *collectSink) Deltas(b []Delta) {
	c.mu.Lock()
	c.batches = append(c.batches, b)
	c.mu.Unlock()
}

func (c *collectSink) take() [][]Delta {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.batches
	c.batches = nil
	return b
}
