package stick

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const replDef = "type ip size 200 expire 5s store server_id,server_key,conn_cnt,conn_cur,conn_rate(2s),http_req_cnt,http_req_rate(1s),bytes_in_cnt,bytes_out_rate(3s),gpc0,gpc0_rate(1s),gpt0"

// runWorkload drives tb with a random mix of every kind of change, flushing
// now and then, and returns when done.
func runWorkload(t *testing.T, rng *rand.Rand, tb *Table, clk *fakeClock, steps int) {
	var held []*Entry
	key := func() Key {
		return ipKey(t, tb, fmt.Sprintf("10.0.%d.%d", rng.IntN(2), rng.IntN(150))) // 300 keys, size 200
	}
	for i := 0; i < steps; i++ {
		switch r := rng.IntN(100); {
		case r < 40:
			e, err := tb.GetOrCreate(key())
			if err != nil {
				continue
			}
			switch rng.IntN(7) {
			case 0:
				e.CountConn()
			case 1:
				e.CountHTTPReq()
			case 2:
				e.AddBytes(uint64(rng.IntN(5000)), uint64(rng.IntN(5000)))
			case 3:
				e.IncGPC0()
			case 4:
				e.SetGPT0(rng.Uint32())
			case 5:
				e.SetServer(rng.IntN(5), fmt.Sprintf("srv%d", rng.IntN(5)))
			case 6:
				e.ConnClosed()
			}
		case r < 48:
			if e, err := tb.Track(key()); err == nil {
				e.CountConn()
				held = append(held, e)
			}
		case r < 55 && len(held) > 0:
			j := rng.IntN(len(held))
			held[j].ConnClosed()
			held[j].Release()
			held = append(held[:j], held[j+1:]...)
		case r < 60:
			tb.ExecSet([]string{"key", tb.FormatKey(key()), "data.conn_cnt", fmt.Sprint(rng.IntN(100)), "data.gpc0_rate", "3"})
		case r < 64:
			tb.Delete(key())
		case r < 65:
			tb.ExecClear([]string{"data.gpc0", "gt", fmt.Sprint(rng.IntN(3))})
		case r < 66 && rng.IntN(4) == 0:
			tb.Clear()
		case r < 80:
			clk.Advance(time.Duration(rng.IntN(700)) * time.Millisecond)
		case r < 85:
			tb.PurgeExpired()
		case r < 92:
			tb.Lookup(key())
		default:
			tb.Flush()
		}
	}
	for _, e := range held {
		e.Release()
	}
}

// The must-show: a consumer that replays the deltas into an empty
// table ends equal to the source table after a randomized workload.
func TestReplayEqualsSource(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			clk := newFakeClock()
			shards := 1 << rng.IntN(3)
			src := New("t", mustDef(t, replDef), Options{Now: clk.Now, Shards: shards})
			dst := New("t", mustDef(t, replDef), Options{Now: clk.Now, Shards: 1 << rng.IntN(3)})
			sink := &collectSink{}
			src.SetSink(sink, 1+rng.IntN(20), 0)
			defer src.Close()

			var batches int
			replay := func() {
				for _, b := range sink.take() {
					// Through the wire encoding, as replication will.
					wire, err := UnmarshalDeltas(MarshalDeltas(b))
					if err != nil {
						t.Fatal(err)
					}
					dst.Apply(wire)
					batches++
				}
			}
			for round := 0; round < 10; round++ {
				runWorkload(t, rng, src, clk, 300)
				src.Flush()
				replay() // the consumer keeps up at times, lags at others
			}
			src.Flush()
			replay()
			if batches == 0 {
				t.Fatal("no deltas emitted")
			}
			want, got := rawState(src), rawState(dst)
			if len(want) == 0 {
				t.Fatal("workload left the source empty")
			}
			diffState(t, src, want, got)
		})
	}
}

// Applying the same batch twice, or an older state after a newer one,
// changes nothing.
func TestApplyIdempotentLWW(t *testing.T) {
	clk := newFakeClock()
	src := newTable(t, replDef, clk)
	sink := &collectSink{}
	src.SetSink(sink, 1000, 0)
	for i := range 50 {
		e, _ := src.GetOrCreate(ipKey(t, src, fmt.Sprintf("10.1.0.%d", i)))
		e.CountConn()
		e.SetServer(i, fmt.Sprint("s", i))
	}
	src.Flush()
	first := sink.take()
	src.Lookup(ipKey(t, src, "10.1.0.1")).IncGPC0()
	clk.Advance(time.Millisecond)
	src.Lookup(ipKey(t, src, "10.1.0.2")).CountConn()
	src.Flush()
	second := sink.take()
	src.Delete(ipKey(t, src, "10.1.0.3"))
	src.Flush()
	third := sink.take()

	dst := newTable(t, replDef, clk)
	for _, b := range first {
		dst.Apply(b)
	}
	for _, b := range second {
		dst.Apply(b)
	}
	for _, b := range third {
		dst.Apply(b)
	}
	want := rawState(dst)
	diffState(t, src, rawState(src), want)

	for _, bs := range [][][]Delta{second, third} {
		for _, b := range bs {
			if st := dst.Apply(b); st.Applied != 0 {
				t.Errorf("second application changed %d entries", st.Applied)
			}
		}
	}
	// Older states of live entries arriving late change nothing either.
	// (A deletion is not remembered: an upsert older than it would
	// recreate the key; the Raft log's order rules that out.)
	for _, b := range first {
		var live []Delta
		for _, d := range b {
			if d.Key != ipKey(t, src, "10.1.0.3") {
				live = append(live, d)
			}
		}
		if st := dst.Apply(live); st.Applied != 0 {
			t.Errorf("stale batch changed %d entries", st.Applied)
		}
	}
	diffState(t, src, want, rawState(dst))
}

// Equal timestamps with different states resolve the same way on both
// sides, so two peers converge.
func TestApplyTieConverges(t *testing.T) {
	clk := newFakeClock()
	a := newTable(t, replDef, clk)
	b := newTable(t, replDef, clk)
	sa, sb := &collectSink{}, &collectSink{}
	a.SetSink(sa, 100, 0)
	b.SetSink(sb, 100, 0)
	k := ipKey(t, a, "10.0.0.1")
	ea, _ := a.GetOrCreate(k)
	ea.SetGPT0(1)
	eb, _ := b.GetOrCreate(k)
	eb.SetGPT0(2)
	a.Flush()
	b.Flush()
	for _, x := range sa.take() {
		b.Apply(x)
	}
	for _, x := range sb.take() {
		a.Apply(x)
	}
	diffState(t, a, rawState(a), rawState(b))
}

// Applied deltas are not emitted again (no echo between peers), and a
// pending local change that lost to a newer remote state is dropped.
func TestApplyNoEcho(t *testing.T) {
	clk := newFakeClock()
	src := newTable(t, replDef, clk)
	dst := newTable(t, replDef, clk)
	s1, s2 := &collectSink{}, &collectSink{}
	src.SetSink(s1, 100, 0)
	dst.SetSink(s2, 100, 0)
	k := ipKey(t, src, "10.0.0.9")
	e, _ := dst.GetOrCreate(k) // local change pending on dst
	e.SetGPT0(5)
	clk.Advance(time.Millisecond)
	es, _ := src.GetOrCreate(k)
	es.SetGPT0(6)
	src.Flush()
	for _, b := range s1.take() {
		dst.Apply(b)
	}
	if n := dst.Flush(); n != 0 {
		t.Errorf("dst emitted %d deltas after applying remote ones", n)
	}
	if v, _ := dst.Lookup(k).Get(DataGPT0); v != 6 {
		t.Errorf("gpt0 = %d, want the newer remote 6", v)
	}
}

// Pending changes are coalesced per key: a hot key updated many times
// between flushes yields one delta with its latest state.
func TestCoalescing(t *testing.T) {
	clk := newFakeClock()
	tb := newTable(t, replDef, clk)
	sink := &collectSink{}
	tb.SetSink(sink, 1000, 0)
	e, _ := tb.GetOrCreate(ipKey(t, tb, "10.0.0.1"))
	for range 10000 {
		e.CountConn()
	}
	if n := tb.Flush(); n != 1 {
		t.Fatalf("flush emitted %d deltas, want 1", n)
	}
	b := sink.take()
	var cnt uint64
	for _, f := range b[0][0].Fields {
		if f.Type == DataConnCnt {
			cnt = f.Value
		}
	}
	if cnt != 10000 {
		t.Errorf("delta conn_cnt = %d, want the latest state 10000", cnt)
	}
}

// slowSink blocks until released; the data plane must not notice.
type slowSink struct {
	release chan struct{}
	calls   atomic.Int64
	deltas  atomic.Int64
}

func (s *slowSink) Deltas(b []Delta) {
	s.calls.Add(1)
	s.deltas.Add(int64(len(b)))
	<-s.release
}

func TestSinkNeverBlocksDataPlane(t *testing.T) {
	tb := New("t", mustDef(t, "type integer size 1000 store conn_cnt"), Options{})
	sink := &slowSink{release: make(chan struct{})}
	tb.SetSink(sink, 10, time.Millisecond)
	// Keep updating while the sink is stuck: must finish, and the pending
	// set stays bounded by the number of keys.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200_000 {
			e, err := tb.GetOrCreate(tb.IntKey(uint32(i % 1000)))
			if err != nil {
				t.Error(err)
				return
			}
			e.CountConn()
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("updates blocked behind a stuck sink")
	}
	if sink.calls.Load() == 0 {
		deadline := time.Now().Add(5 * time.Second)
		for sink.calls.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	var dirty int
	for i := range tb.shards {
		s := &tb.shards[i]
		s.mu.Lock()
		dirty += len(s.dirty)
		s.mu.Unlock()
	}
	if dirty > 1000 {
		t.Errorf("%d pending entries for 1000 keys: not coalesced", dirty)
	}
	close(sink.release)
	tb.Close()
	if sink.deltas.Load() == 0 {
		t.Error("sink never got deltas")
	}
}

// The flusher sends on its own when maxBatch changes are waiting, and on
// its timer.
func TestFlusherTriggers(t *testing.T) {
	tb := New("t", mustDef(t, "type integer size 1000 store conn_cnt"), Options{})
	sink := &collectSink{}
	tb.SetSink(sink, 50, 0) // no timer: the batch size triggers
	for i := range 50 {
		e, _ := tb.GetOrCreate(tb.IntKey(uint32(i)))
		e.CountConn()
	}
	waitFor(t, func() bool { return countDeltas(sink) >= 50 })
	tb.SetSink(sink, 1000, 2*time.Millisecond) // timer only
	e, _ := tb.GetOrCreate(tb.IntKey(999))
	e.CountConn()
	waitFor(t, func() bool { return countDeltas(sink) >= 51 })
	tb.Close()
}

func countDeltas(c *collectSink) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, b := range c.batches {
		n += len(b)
	}
	return n
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSnapshotRestore(t *testing.T) {
	for _, def := range []string{
		replDef,
		"type ipv6 size 100 store conn_cnt",
		"type integer size 100 store gpc0,http_req_rate(10s)",
		"type string len 12 size 100 store server_key",
		"type binary len 5 size 100 store bytes_in_cnt",
	} {
		t.Run(strings.Fields(def)[1], func(t *testing.T) {
			clk := newFakeClock()
			src := New("tbl", mustDef(t, def), Options{Now: clk.Now, Shards: 4})
			rng := rand.New(rand.NewPCG(7, 7))
			for i := range 100 {
				var k Key
				switch src.def.Type {
				case TypeIP:
					k, _ = src.AddrKey(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}))
				case TypeIPv6:
					k, _ = src.AddrKey(netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i)))
				case TypeInteger:
					k = src.IntKey(uint32(i * 7919))
				case TypeString:
					k = src.StringKey(fmt.Sprintf("user-%d", i))
				case TypeBinary:
					k = src.BinaryKey([]byte{byte(i), 1, 2})
				}
				e, err := src.GetOrCreate(k)
				if err != nil {
					t.Fatal(err)
				}
				e.CountConn()
				e.CountHTTPReq()
				e.IncGPC0()
				e.AddBytes(uint64(rng.IntN(1e6)), 1)
				e.SetServer(i, fmt.Sprint("srv-", i))
				clk.Advance(time.Millisecond)
			}
			var buf bytes.Buffer
			if err := src.Snapshot(&buf); err != nil {
				t.Fatal(err)
			}
			dst := New("tbl", mustDef(t, def), Options{Now: clk.Now})
			if err := dst.Restore(bytes.NewReader(buf.Bytes())); err != nil {
				t.Fatal(err)
			}
			diffState(t, src, rawState(src), rawState(dst))
			if dst.Len() != 100 {
				t.Errorf("Len = %d", dst.Len())
			}
			// Restoring again changes nothing; truncated input is refused.
			if err := dst.Restore(bytes.NewReader(buf.Bytes())); err != nil {
				t.Fatal(err)
			}
			diffState(t, src, rawState(src), rawState(dst))
			for _, cut := range []int{0, 3, 10, buf.Len() / 2, buf.Len() - 1} {
				if err := New("tbl", mustDef(t, def), Options{Now: clk.Now}).Restore(bytes.NewReader(buf.Bytes()[:cut])); err == nil {
					t.Errorf("truncated snapshot (%d of %d bytes) accepted", cut, buf.Len())
				}
			}
		})
	}
}

func TestRestoreWrongType(t *testing.T) {
	clk := newFakeClock()
	src := newTable(t, "type ip size 10", clk)
	src.GetOrCreate(ipKey(t, src, "1.2.3.4"))
	var buf bytes.Buffer
	src.Snapshot(&buf)
	err := newTable(t, "type ipv6 size 10", clk).Restore(&buf)
	if err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("restore into another key type: %v", err)
	}
}

// Snapshot while other goroutines keep writing (run with -race): every
// entry in the snapshot is a consistent state of that entry.
func TestSnapshotWhileServing(t *testing.T) {
	tb := New("t", mustDef(t, "type integer size 10000 store conn_cnt,conn_cur"), Options{})
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load() && i < 1_000_000; i++ {
				e, err := tb.Track(tb.IntKey(uint32((i * (w + 1)) % 5000)))
				if err != nil {
					t.Error(err)
					return
				}
				e.CountConn()
				e.ConnClosed()
				e.Release()
			}
		}()
	}
	for range 5 {
		var buf bytes.Buffer
		if err := tb.Snapshot(&buf); err != nil {
			t.Fatal(err)
		}
		dst := New("t", mustDef(t, "type integer size 10000 store conn_cnt,conn_cur"), Options{})
		if err := dst.Restore(&buf); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
}

func TestMarshalDeltas(t *testing.T) {
	k4 := keyOf4(0x01020304)
	k16 := keyOf16([16]byte{0x20, 1, 0xd, 0xb8, 15: 1})
	batch := []Delta{
		{Table: "a", Op: OpSet, Key: k4, UpdatedAt: 1<<62 + 5, ExpiresAt: 123, Fields: []Field{
			{Type: DataConnCnt, Value: 7}, {Type: DataConnRate, Value: 3, Prev: 9, Tick: -5}, {Type: DataServerKey, Str: "web 1"}}},
		{Table: "a", Op: OpDelete, Key: k16, UpdatedAt: 9},
		{Table: "b", Op: OpClear, UpdatedAt: 10},
		{Table: "b", Op: OpSet, Key: Key{str: "x\x00y"}, UpdatedAt: 11},
	}
	b := MarshalDeltas(batch)
	got, err := UnmarshalDeltas(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, batch) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, batch)
	}
	for i := range b {
		if _, err := UnmarshalDeltas(b[:i]); err == nil {
			t.Errorf("truncated batch (%d of %d bytes) accepted", i, len(b))
		}
	}
	bad := append([]byte(nil), b...)
	bad[3] = 9
	if _, err := UnmarshalDeltas(bad); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Errorf("unknown version: %v", err)
	}
}

// Deltas for another table, malformed keys or unknown ops are skipped.
func TestApplySkipsForeign(t *testing.T) {
	clk := newFakeClock()
	tb := newTable(t, "type ip size 10 store conn_cnt", clk)
	st := tb.Apply([]Delta{
		{Table: "other", Op: OpSet, UpdatedAt: 1},
		{Table: "t", Op: OpSet, Key: Key{str: "nope"}, UpdatedAt: 1},
		{Table: "t", Op: OpSet, Key: keyOf16([16]byte{1, 2, 3, 4, 5}), UpdatedAt: 1},
		{Table: "t", Op: 77, UpdatedAt: 1},
		{Table: "t", Op: OpSet, Key: ipKey(t, tb, "1.2.3.4"), UpdatedAt: 1, Fields: []Field{{Type: DataGPC0, Value: 1}, {Type: DataConnCnt, Value: 5}}},
	})
	if st.Skipped != 4 || st.Applied != 1 || tb.Len() != 1 {
		t.Errorf("stats %+v, len %d", st, tb.Len())
	}
	if v, _ := tb.Lookup(ipKey(t, tb, "1.2.3.4")).Get(DataConnCnt); v != 5 {
		t.Errorf("conn_cnt = %d", v)
	}
}

func FuzzUnmarshalDeltas(f *testing.F) {
	f.Add(MarshalDeltas([]Delta{{Table: "a", Op: OpSet, Key: Key{str: "k"}, UpdatedAt: 3, Fields: []Field{{Type: DataConnRate, Value: 1}}}}))
	f.Add([]byte("APD\x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		batch, err := UnmarshalDeltas(b)
		if err != nil {
			return
		}
		// Whatever decodes survives a re-encoding unchanged and applies
		// safely. (Encodings are not unique: an empty key has two.)
		again, err := UnmarshalDeltas(MarshalDeltas(batch))
		if err != nil || !reflect.DeepEqual(again, batch) {
			t.Fatalf("re-encoding changed the batch: %v", err)
		}
		tb := New("a", mustDef(t, "type string len 4 size 4 store conn_rate(1s),server_key,gpc0"), Options{Shards: 1})
		tb.Apply(batch)
	})
}

func FuzzRestore(f *testing.F) {
	clk := newFakeClock()
	src := New("a", mustDef(f, "type string len 4 size 4 store conn_rate(1s),server_key,gpc0"), Options{Now: clk.Now})
	e, _ := src.GetOrCreate(src.StringKey("ab"))
	e.SetServer(1, "x")
	var buf bytes.Buffer
	src.Snapshot(&buf)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		tb := New("a", mustDef(t, "type string len 4 size 4 store conn_rate(1s),server_key,gpc0"), Options{Now: clk.Now, Shards: 1})
		if err := tb.Restore(bytes.NewReader(b)); err == nil && tb.Len() > 4 {
			t.Fatalf("restore overfilled the table: %d", tb.Len())
		}
	})
}
