package stick

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func TestDataTypes(t *testing.T) {
	tests := []struct {
		store string
		op    func(e *Entry)
		dt    DataType
		want  uint64
	}{
		{"server_id", func(e *Entry) { e.SetServer(7, "s7") }, DataServerID, 7},
		{"gpt0", func(e *Entry) { e.SetGPT0(5); e.SetGPT0(9) }, DataGPT0, 9},
		{"gpc0", func(e *Entry) { e.IncGPC0(); e.IncGPC0() }, DataGPC0, 2},
		{"gpc0_rate(10s)", func(e *Entry) { e.IncGPC0(); e.IncGPC0(); e.IncGPC0() }, DataGPC0Rate, 3},
		{"gpc1", func(e *Entry) { e.IncGPC1() }, DataGPC1, 1},
		{"gpc1_rate(10s)", func(e *Entry) { e.IncGPC1(); e.IncGPC1() }, DataGPC1Rate, 2},
		{"conn_cnt", func(e *Entry) { e.CountConn(); e.CountConn(); e.ConnClosed() }, DataConnCnt, 2},
		{"conn_cur", func(e *Entry) { e.CountConn(); e.CountConn(); e.ConnClosed() }, DataConnCur, 1},
		{"conn_cur", func(e *Entry) { e.ConnClosed(); e.ConnClosed() }, DataConnCur, 0}, // never below zero
		{"conn_rate(10s)", func(e *Entry) { e.CountConn(); e.CountConn() }, DataConnRate, 2},
		{"sess_cnt", func(e *Entry) { e.CountSess() }, DataSessCnt, 1},
		{"sess_rate(1m)", func(e *Entry) { e.CountSess(); e.CountSess() }, DataSessRate, 2},
		{"http_req_cnt", func(e *Entry) { e.CountHTTPReq(); e.CountHTTPReq(); e.CountHTTPReq() }, DataHTTPReqCnt, 3},
		{"http_req_rate(10s)", func(e *Entry) { e.CountHTTPReq() }, DataHTTPReqRate, 1},
		{"http_err_cnt", func(e *Entry) { e.CountHTTPErr() }, DataHTTPErrCnt, 1},
		{"http_err_rate(10s)", func(e *Entry) { e.CountHTTPErr(); e.CountHTTPErr() }, DataHTTPErrRate, 2},
		{"http_fail_cnt", func(e *Entry) { e.CountHTTPFail() }, DataHTTPFailCnt, 1},
		{"http_fail_rate(10s)", func(e *Entry) { e.CountHTTPFail() }, DataHTTPFailRate, 1},
		{"bytes_in_cnt", func(e *Entry) { e.AddBytes(100, 7); e.AddBytes(1<<40, 0) }, DataBytesInCnt, 100 + 1<<40},
		{"bytes_out_cnt", func(e *Entry) { e.AddBytes(100, 7); e.AddBytes(1, 8) }, DataBytesOutCnt, 15},
		{"bytes_in_rate(1s)", func(e *Entry) { e.AddBytes(1000, 7) }, DataBytesInRate, 1000},
		{"bytes_out_rate(1s)", func(e *Entry) { e.AddBytes(1000, 7) }, DataBytesOutRate, 7},
		{"conn_cnt", func(e *Entry) { e.Add(DataConnCnt, 41); e.Add(DataConnCnt, 1) }, DataConnCnt, 42},
		{"conn_cnt", func(e *Entry) { e.Set(DataConnCnt, 99999999999) }, DataConnCnt, 99999999999 & 0xffffffff}, // 32-bit like HAProxy
		{"bytes_in_cnt", func(e *Entry) { e.Set(DataBytesInCnt, 99999999999) }, DataBytesInCnt, 99999999999},
		{"gpc0", func(e *Entry) { e.IncGPC0(); e.IncGPC0(); e.ClrGPC0() }, DataGPC0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.store, func(t *testing.T) {
			clk := newFakeClock()
			tb := newTable(t, "type ip size 10 store "+tc.store, clk)
			e, err := tb.GetOrCreate(ipKey(t, tb, "10.0.0.1"))
			if err != nil {
				t.Fatal(err)
			}
			tc.op(e)
			got, ok := e.Get(tc.dt)
			if !ok || got != tc.want {
				t.Errorf("%s = %d (stored %v), want %d", tc.dt, got, ok, tc.want)
			}
			// Data that is not stored is neither counted nor readable.
			other := DataGPC1
			if tc.dt == DataGPC1 {
				other = DataGPC0
			}
			if e.Add(other, 1) {
				t.Errorf("Add(%s) on a table without it reported success", other)
			}
			if _, ok := e.Get(other); ok {
				t.Errorf("Get(%s) on a table without it reported a value", other)
			}
		})
	}
}

func TestServerAndGPCReturns(t *testing.T) {
	clk := newFakeClock()
	tb := newTable(t, "type ip size 10 store gpc0,server_id,server_key", clk)
	e, _ := tb.GetOrCreate(ipKey(t, tb, "10.0.0.1"))
	if v := e.IncGPC0(); v != 1 {
		t.Errorf("IncGPC0 = %d, want 1", v)
	}
	if v := e.IncGPC0(); v != 2 {
		t.Errorf("IncGPC0 = %d, want 2", v)
	}
	if v := e.ClrGPC0(); v != 2 {
		t.Errorf("ClrGPC0 returned %d, want the previous value 2", v)
	}
	e.SetServer(3, "web3")
	if id, name := e.Server(); id != 3 || name != "web3" {
		t.Errorf("Server() = %d %q", id, name)
	}
}

// Rates follow HAProxy's freq_ctr: the current period's count plus the
// previous period's count weighted by what is left of the window.
func TestRateSlidingWindow(t *testing.T) {
	clk := newFakeClock()
	tb := newTable(t, "type ip size 10 store http_req_rate(10s)", clk)
	e, _ := tb.GetOrCreate(ipKey(t, tb, "10.0.0.1"))
	rate := func() uint64 { v, _ := e.Get(DataHTTPReqRate); return v }

	for range 10 {
		e.CountHTTPReq()
	}
	if r := rate(); r != 10 {
		t.Fatalf("rate = %d, want 10", r)
	}
	clk.Advance(5 * time.Second)
	if r := rate(); r != 10 {
		t.Errorf("within the period: rate = %d, want 10", r)
	}
	clk.Advance(5 * time.Second) // a new period starts: previous = 10
	if r := rate(); r != 10 {
		t.Errorf("at the period boundary: rate = %d, want 10 (all of the previous period)", r)
	}
	clk.Advance(2500 * time.Millisecond) // 75% of the previous period still counts
	if r := rate(); r != 7 {
		t.Errorf("a quarter into the next period: rate = %d, want 7 (10*0.75 rounded down)", r)
	}
	for range 4 {
		e.CountHTTPReq()
	}
	if r := rate(); r != 4+7 {
		t.Errorf("rate = %d, want 11", r)
	}
	clk.Advance(7500 * time.Millisecond) // next period: previous = 4
	if r := rate(); r != 4 {
		t.Errorf("rate = %d, want 4", r)
	}
	clk.Advance(20 * time.Second) // two idle periods: nothing left
	if r := rate(); r != 0 {
		t.Errorf("after two idle periods rate = %d, want 0", r)
	}
	e.CountHTTPReq()
	if r := rate(); r != 1 {
		t.Errorf("restart after idle: rate = %d, want 1", r)
	}
}

// Set on a rate restarts it at the value, like `set table ... data.X V`.
func TestRateSet(t *testing.T) {
	clk := newFakeClock()
	tb := newTable(t, "type ip size 10 store conn_rate(30s)", clk)
	e, _ := tb.GetOrCreate(ipKey(t, tb, "10.0.0.1"))
	e.Set(DataConnRate, 7)
	if v, _ := e.Get(DataConnRate); v != 7 {
		t.Errorf("rate = %d, want 7", v)
	}
}

func TestExpiry(t *testing.T) {
	clk := newFakeClock()
	tb := newTable(t, "type ip size 10 expire 10s store conn_cnt", clk)
	a := ipKey(t, tb, "10.0.0.1")
	b := ipKey(t, tb, "10.0.0.2")
	ea, _ := tb.GetOrCreate(a)
	tb.GetOrCreate(b)
	clk.Advance(6 * time.Second)
	ea.CountConn() // an update pushes the expiry back
	clk.Advance(5 * time.Second)
	if tb.Lookup(b) != nil {
		t.Error("b should have expired 10s after its last update")
	}
	if tb.Lookup(a) == nil {
		t.Fatal("a expired although updated 5s ago")
	}
	if got := ea.Expires(); !got.Equal(clk.Now().Add(5 * time.Second)) {
		t.Errorf("a expires at %v, want %v", got, clk.Now().Add(5*time.Second))
	}
	clk.Advance(5 * time.Second)
	if tb.Lookup(a) != nil {
		t.Error("a should have expired")
	}
	if ea.Add(DataConnCnt, 1) {
		t.Error("update through the handle of an expired entry reported success")
	}
	if tb.Len() != 0 {
		t.Errorf("Len = %d after expiry, want 0", tb.Len())
	}
}

func TestPurgeExpired(t *testing.T) {
	clk := newFakeClock()
	tb := New("t", mustDef(t, "type integer size 100000 expire 10s"), Options{Now: clk.Now, Shards: 4})
	for i := range 1000 {
		tb.GetOrCreate(tb.IntKey(uint32(i)))
		if i == 499 {
			clk.Advance(5 * time.Second)
		}
	}
	held, _ := tb.Track(tb.IntKey(7)) // in use: never expires
	clk.Advance(6 * time.Second)
	if n := tb.PurgeExpired(); n != 499 {
		t.Errorf("purged %d, want the 499 old entries not in use", n)
	}
	if tb.Len() != 501 {
		t.Errorf("Len = %d, want 501", tb.Len())
	}
	clk.Advance(10 * time.Second)
	if n := tb.PurgeExpired(); n != 500 {
		t.Errorf("purged %d, want 500", n)
	}
	if tb.Lookup(tb.IntKey(7)) != held {
		t.Error("the entry in use was purged")
	}
	held.Release() // refreshes the expiry
	clk.Advance(9 * time.Second)
	if tb.PurgeExpired() != 0 || tb.Lookup(tb.IntKey(7)) == nil {
		t.Error("a released entry must live `expire` after its release")
	}
}

func TestLRUEviction(t *testing.T) {
	clk := newFakeClock()
	tb := newTable(t, "type integer size 3 store gpc0", clk)
	for i := 1; i <= 3; i++ {
		tb.GetOrCreate(tb.IntKey(uint32(i)))
		clk.Advance(11 * time.Second) // beyond the LRU granularity (10s without expire)
	}
	tb.Lookup(tb.IntKey(1)).IncGPC0() // 1 becomes the most recent: 2 is now the oldest
	clk.Advance(11 * time.Second)
	if _, err := tb.GetOrCreate(tb.IntKey(4)); err != nil {
		t.Fatal(err)
	}
	if tb.Lookup(tb.IntKey(2)) != nil {
		t.Error("the least recently used entry (2) was not evicted")
	}
	for _, k := range []uint32{1, 3, 4} {
		if tb.Lookup(tb.IntKey(k)) == nil {
			t.Errorf("entry %d evicted", k)
		}
	}
	if tb.Len() != 3 {
		t.Errorf("Len = %d, want 3", tb.Len())
	}
}

func TestInUseNotEvicted(t *testing.T) {
	clk := newFakeClock()
	tb := New("t", mustDef(t, "type integer size 2"), Options{Now: clk.Now, LRUGranularity: -1})
	e1, _ := tb.Track(tb.IntKey(1))
	clk.Advance(time.Millisecond)
	e2, _ := tb.Track(tb.IntKey(2))
	clk.Advance(time.Millisecond)
	if _, err := tb.GetOrCreate(tb.IntKey(3)); !errors.Is(err, ErrFull) {
		t.Fatalf("full table of entries in use: err = %v, want ErrFull", err)
	}
	if e1.Use() != 1 {
		t.Errorf("use = %d, want 1", e1.Use())
	}
	if tb.Delete(tb.IntKey(1)) {
		t.Error("Delete removed an entry in use")
	}
	e2.Release()
	if _, err := tb.GetOrCreate(tb.IntKey(3)); err != nil {
		t.Fatalf("after release: %v", err)
	}
	if tb.Lookup(tb.IntKey(2)) != nil || tb.Lookup(tb.IntKey(1)) != e1 {
		t.Error("the released entry should have been evicted, the one in use kept")
	}
}

func TestNoPurge(t *testing.T) {
	clk := newFakeClock()
	tb := newTable(t, "type integer size 2 expire 10s nopurge", clk)
	tb.GetOrCreate(tb.IntKey(1))
	clk.Advance(5 * time.Second)
	tb.GetOrCreate(tb.IntKey(2))
	if _, err := tb.GetOrCreate(tb.IntKey(3)); !errors.Is(err, ErrFull) {
		t.Fatalf("nopurge table full: err = %v, want ErrFull", err)
	}
	if tb.Lookup(tb.IntKey(1)) == nil || tb.Lookup(tb.IntKey(2)) == nil {
		t.Fatal("nopurge evicted an entry")
	}
	if err := tb.ExecSet([]string{"key", "3"}); err == nil || err.Error() != "Unable to allocate a new entry" {
		t.Errorf("set table on a full nopurge table: %v", err)
	}
	clk.Advance(6 * time.Second) // entry 1 expires: its slot is free again
	if _, err := tb.GetOrCreate(tb.IntKey(3)); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if tb.Lookup(tb.IntKey(2)) == nil {
		t.Error("the live entry 2 was removed")
	}
}

// A full table with many shards evicts from another shard when the key's
// shard has nothing to evict.
func TestEvictAcrossShards(t *testing.T) {
	clk := newFakeClock()
	tb := New("t", mustDef(t, "type integer size 64"), Options{Now: clk.Now, Shards: 16})
	for i := range 64 {
		if _, err := tb.GetOrCreate(tb.IntKey(uint32(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := 64; i < 1000; i++ {
		if _, err := tb.GetOrCreate(tb.IntKey(uint32(i))); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
		if tb.Len() > 64 {
			t.Fatalf("Len = %d > size", tb.Len())
		}
	}
	if tb.Lookup(tb.IntKey(999)) == nil {
		t.Error("the newest key is missing")
	}
}

func TestDeleteAndClear(t *testing.T) {
	clk := newFakeClock()
	tb := newTable(t, "type ip size 100 store conn_cnt", clk)
	for i := range 10 {
		tb.GetOrCreate(ipKey(t, tb, fmt.Sprintf("10.0.0.%d", i)))
	}
	held, _ := tb.Track(ipKey(t, tb, "10.0.0.3"))
	if !tb.Delete(ipKey(t, tb, "10.0.0.1")) || tb.Delete(ipKey(t, tb, "10.0.0.1")) {
		t.Error("Delete should report true once")
	}
	if n := tb.Clear(); n != 8 {
		t.Errorf("Clear removed %d, want 8 (the entry in use stays)", n)
	}
	if tb.Len() != 1 || tb.Lookup(ipKey(t, tb, "10.0.0.3")) != held {
		t.Errorf("after Clear: Len = %d", tb.Len())
	}
}

// Many goroutines on a few hot keys and many cold ones; run with -race.
func TestConcurrentUse(t *testing.T) {
	tb := New("t", mustDef(t, "type ip size 5000 expire 1m store conn_cnt,conn_cur,conn_rate(10s),http_req_cnt,bytes_in_cnt,gpc0,server_id,server_key"), Options{})
	sink := &collectSink{}
	tb.SetSink(sink, 128, time.Millisecond)
	defer tb.Close()
	const workers, iters = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range iters {
				ip := netip.AddrFrom4([4]byte{10, 0, byte(i % 4), byte((i * (w + 1)) % 250)})
				k, _ := tb.AddrKey(ip)
				e, err := tb.Track(k)
				if err != nil {
					t.Error(err)
					return
				}
				e.CountConn()
				e.CountHTTPReq()
				e.AddBytes(10, 20)
				e.IncGPC0()
				e.SetServer(1, "s1")
				e.ConnClosed()
				e.Release()
				if i%500 == 0 {
					tb.Dump(Filter{})
					tb.PurgeExpired()
				}
			}
		}()
	}
	wg.Wait()
	var total uint64
	for _, v := range tb.Dump(Filter{}) {
		for _, x := range v.Data {
			switch x.Type {
			case DataConnCnt:
				total += x.Value
			case DataConnCur:
				if x.Value != 0 {
					t.Errorf("%s: conn_cur = %d after all connections closed", v.KeyText, x.Value)
				}
			}
		}
		if v.Use != 0 {
			t.Errorf("%s: use = %d after release", v.KeyText, v.Use)
		}
	}
	if total != workers*iters {
		t.Errorf("sum of conn_cnt = %d, want %d (lost updates)", total, workers*iters)
	}
}

// A hand-made Def with unknown or repeated data types does not break New.
func TestHandMadeDef(t *testing.T) {
	tb := New("t", Def{Type: TypeIP, Size: 10, Store: []Store{{Type: 200}, {Type: DataConnCnt}, {Type: DataConnCnt}, {Type: DataConnRate}, {Type: DataConnRate, Period: time.Second}}}, Options{})
	e, err := tb.GetOrCreate(ipKey(t, tb, "10.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	e.CountConn()
	if v, _ := e.Get(DataConnCnt); v != 1 {
		t.Errorf("conn_cnt = %d", v)
	}
	if v, ok := e.Get(DataConnRate); !ok || v != 1 {
		t.Errorf("conn_rate = %d, %v", v, ok)
	}
}
