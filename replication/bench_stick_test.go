package replication

import (
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	appcluster "appl/appliance/cluster"
	"appl/proxy/stick"
)

// BenchmarkStickLag50k is BenchmarkPublishLag50k with the appliance's own
// adapters (appliance/cluster StickStream and AttachStick's sink, 512
// deltas / 5 ms) around real stick tables: 50,000 new client entries per
// second are created on the leader's table for one second per iteration;
// a poller (every 0.5 ms) notes when each appears in the follower's table.
// Target: p99 ≤ 50 ms.
func BenchmarkStickLag50k(b *testing.B) {
	c, ld, other := newStickPair(b)
	var lags []time.Duration
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		lags = append(lags, stickLoad(b, ld, other, byte(10+it), 50000, time.Second)...)
	}
	b.StopTimer()
	cs := ld.n.Status(b.Context()).Counters
	b.Logf("%d updates, %d payloads, %d entries, %d dropped, %d resyncs; leader %s", len(lags), cs.PublishedRecords, cs.PublishedEntries, cs.PublishDropped, cs.Resyncs, c.waitLeader(time.Second).id)
	b.ReportMetric(float64(percentile(lags, .5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lags, .99).Microseconds())/1000, "p99-ms")
}

// BenchmarkStickCPU4k creates 4,000 new entries per second on the leader
// (about what one box's proxy reaches on this host when every connection
// is a new client) for two seconds per iteration and reports the CPU the
// whole process (both boxes) spent per update beyond the generator's own
// table work, and the Raft entries per second: the cost of replication
// per stick delta.
func BenchmarkStickCPU4k(b *testing.B)  { benchStickCPU(b, 4000) }
func BenchmarkStickCPU16k(b *testing.B) { benchStickCPU(b, 16000) }

func benchStickCPU(b *testing.B, rate int) {
	_, ld, other := newStickPair(b)
	const dur = 2 * time.Second
	var lags []time.Duration
	cpu0, e0 := processCPU(), ld.n.Status(b.Context()).Counters.PublishedEntries
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		lags = append(lags, stickLoad(b, ld, other, byte(10+it), rate, dur)...)
	}
	b.StopTimer()
	cpu, es := processCPU()-cpu0, ld.n.Status(b.Context()).Counters.PublishedEntries-e0
	b.ReportMetric(float64(cpu.Microseconds())/float64(len(lags)), "cpu-us/update")
	b.ReportMetric(float64(es)/(float64(b.N)*dur.Seconds()), "entries/s")
	b.ReportMetric(float64(percentile(lags, .99).Microseconds())/1000, "p99-ms")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// newStickPair is a pair whose boxes each replicate one real stick table
// through the appliance's adapters, with the appliance's Raft timings.
func newStickPair(b *testing.B) (c *cluster, ld, other *tnode) {
	tune := func(cfg *Config) {
		cfg.BatchEvery, cfg.CommitTimeout, cfg.NudgeCommits = appcluster.RaftBatchEvery, appcluster.RaftCommitTimeout, true
		cfg.NoDirect = os.Getenv("REPLICATION_BENCH_NO_DIRECT") != "" // with it, BatchEvery 5ms is the old setting
		if cfg.NoDirect {
			cfg.BatchEvery, cfg.CommitTimeout = 5*time.Millisecond, 5*time.Millisecond
		}
	}
	c = newClusterWith(b, 2, false, tune, func(tn *tnode) []Replicated {
		def, err := stick.ParseDef([]string{"type", "ip", "size", "1m", "expire", "30m", "store", "conn_cnt,server_id,server_key"})
		if err != nil {
			b.Fatal(err)
		}
		def.EnableServer()
		tbl := stick.New("web", def, stick.Options{})
		b.Cleanup(tbl.Close)
		tn.extra = tbl
		appcluster.AttachStick(tbl, func() appcluster.Publisher {
			if n := tn.ptr.Load(); n != nil {
				return n.Publish
			}
			return nil
		})
		return []Replicated{appcluster.StickStream{Table: "web", Find: func(string) *stick.Table { return tbl }}}
	})
	ld = c.waitLeader(10 * time.Second)
	for _, x := range c.boxes() {
		if x != ld {
			other = x
		}
	}
	return c, ld, other
}

// stickLoad creates rate×dur new entries (keys prefix.x.y.z) on ld's
// table at rate per second and returns, for each, how long it took to
// appear in other's table (a poller looks every 0.5 ms, in creation order).
func stickLoad(b *testing.B, ld, other *tnode, prefix byte, rate int, dur time.Duration) []time.Duration {
	perTick := max(rate/1000, 1) // one tick per millisecond
	mt, ft := ld.extra.(*stick.Table), other.extra.(*stick.Table)
	keys := make([]stick.Key, int(float64(rate)*dur.Seconds()))
	for i := range keys {
		keys[i], _ = mt.AddrKey(netip.AddrFrom4([4]byte{prefix, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	t0 := make([]time.Time, len(keys))
	got := make([]time.Duration, len(keys))
	var made atomic.Int64
	done := make(chan struct{})
	go func() { // follower-side poller
		defer close(done)
		seen := 0
		deadline := time.Now().Add(dur + 30*time.Second)
		for seen < len(keys) && time.Now().Before(deadline) {
			upto := int(made.Load())
			now := time.Now()
			for seen < upto && ft.Lookup(keys[seen]) != nil {
				got[seen] = now.Sub(t0[seen])
				seen++
			}
			time.Sleep(500 * time.Microsecond) // poll period
		}
	}()
	start := time.Now()
	for i := 0; i < len(keys); i += perTick {
		next := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
		if d := time.Until(next); d > 0 {
			time.Sleep(d) // pacing the load generator
		}
		now := time.Now()
		for j := i; j < i+perTick && j < len(keys); j++ {
			e, err := mt.GetOrCreate(keys[j])
			if err != nil {
				b.Fatal(err)
			}
			e.SetServer(j%7+1, "srv")
			e.CountConn()
			t0[j] = now
		}
		made.Store(int64(min(i+perTick, len(keys))))
	}
	<-done
	for i, g := range got {
		if g == 0 {
			b.Fatalf("key %d never reached the follower", i)
		}
	}
	return got
}

// BenchmarkCommitLatencyFollower is BenchmarkCommitLatency on the
// follower: forwarded to the leader, then waits for its own apply
// (read-your-writes), which needs the follower to learn the commit index.
func BenchmarkCommitLatencyFollower(b *testing.B) { benchFollowerCommit(b, false) }

// BenchmarkCommitLatencyFollowerNudged is the appliance's setting (NudgeCommits on).
func BenchmarkCommitLatencyFollowerNudged(b *testing.B) { benchFollowerCommit(b, true) }

func benchFollowerCommit(b *testing.B, nudge bool) {
	c := newCluster(b, 2, false, func(cfg *Config) { cfg.NudgeCommits = nudge })
	ld := c.waitLeader(10 * time.Second)
	var fo *tnode
	for _, x := range c.boxes() {
		if x != ld {
			fo = x
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := fo.n.Commit(b.Context(), "maps", []byte("k=v")); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(lat, .5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, .99).Microseconds())/1000, "p99-ms")
}

// BenchmarkIdlePairCPU reports the CPU a formed, idle pair (both boxes in
// this process) spends per second: heartbeats, CommitTimeout appends,
// gossip, status. It is part of every connection's cost on a loaded box.
func BenchmarkIdlePairCPU(b *testing.B) {
	newCluster(b, 2, false, nil).waitLeader(10 * time.Second)
	time.Sleep(time.Second) // let the join's catch-up settle before measuring
	cpu0 := processCPU()
	b.ResetTimer()
	for range b.N {
		time.Sleep(time.Second) // the measured interval: nothing to wait for
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/s")
}

// BenchmarkStickReplCPU3k is the proxy benchmark's replication load without
// the proxy: 3,000 new entries per second (what appld reaches per box in
// bench/cluster.sh on this host, each connection a new client) on the
// leader's real stick table, generated in 10 ms steps, 3 s per iteration,
// then until the follower holds the last key. It reports the CPU of the
// whole process (both boxes) per update while replicating ("cpu-us/update")
// and, measured the same way right after, with the same load on a table
// that is not replicated while the pair stays formed ("ref-cpu-us/update":
// the generator plus an idle pair). The difference is what replication
// costs per stick update on a one-host pair; its idle cost is in both.
func BenchmarkStickReplCPU3k(b *testing.B) {
	_, ld, other := newStickPair(b)
	const rate, dur, step = 3000, 3 * time.Second, 10 * time.Millisecond
	def, err := stick.ParseDef([]string{"type", "ip", "size", "1m", "expire", "30m", "store", "conn_cnt,server_id,server_key"})
	if err != nil {
		b.Fatal(err)
	}
	def.EnableServer()
	plain := stick.New("plain", def, stick.Options{})
	mt, ft := ld.extra.(*stick.Table), other.extra.(*stick.Table)
	gen := func(t *stick.Table, prefix byte) stick.Key {
		n := int(rate * dur.Seconds())
		per := int(rate * step.Seconds())
		start := time.Now()
		var last stick.Key
		for i := 0; i < n; i += per {
			if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
				time.Sleep(d) // pacing the load generator
			}
			for j := i; j < i+per && j < n; j++ {
				k, _ := t.AddrKey(netip.AddrFrom4([4]byte{prefix, byte(j >> 16), byte(j >> 8), byte(j)}))
				e, err := t.GetOrCreate(k)
				if err != nil {
					b.Fatal(err)
				}
				e.SetServer(j%7+1, "srv")
				e.CountConn()
				last = k
			}
		}
		return last
	}
	var repl, ref time.Duration
	e0 := ld.n.Status(b.Context()).Counters.PublishedEntries
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		c0 := processCPU()
		last := gen(mt, byte(10+it))
		deadline := time.Now().Add(30 * time.Second)
		for ft.Lookup(last) == nil {
			if time.Now().After(deadline) {
				b.Fatal("the last key never reached the follower")
			}
			time.Sleep(5 * time.Millisecond)
		}
		c1 := processCPU()
		gen(plain, byte(10+it))
		c2 := processCPU()
		repl, ref = repl+c1-c0, ref+c2-c1
	}
	b.StopTimer()
	n := float64(b.N) * rate * dur.Seconds()
	es := ld.n.Status(b.Context()).Counters.PublishedEntries - e0
	b.ReportMetric(float64(repl.Microseconds())/n, "cpu-us/update")
	b.ReportMetric(float64(ref.Microseconds())/n, "ref-cpu-us/update")
	b.ReportMetric(float64(es)/(float64(b.N)*dur.Seconds()), "entries/s")
}
