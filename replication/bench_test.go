package replication

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkCommitLatency measures Commit on the leader of a pair on
// loopback (durable log fsync included). Target: p99 ≤ 10 ms.
func BenchmarkCommitLatency(b *testing.B) {
	c := newCluster(b, 2, false, nil)
	ld := c.waitLeader(10 * time.Second)
	lat := make([]time.Duration, 0, b.N)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := ld.n.Commit(ctx, "maps", fmt.Appendf(nil, "k%d=v", i)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(lat, .5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, .99).Microseconds())/1000, "p99-ms")
}

// BenchmarkPublishLag50k publishes 50,000 updates/s on the leader of a
// pair for one second per iteration and measures when each update is
// applied on the follower. Target: p99 ≤ 50 ms.
func BenchmarkPublishLag50k(b *testing.B) {
	c := newCluster(b, 2, false, nil)
	ld := c.waitLeader(10 * time.Second)
	var other *tnode
	for _, x := range c.boxes() {
		if x != ld {
			other = x
		}
	}
	var lags []time.Duration
	total := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		at := publishLoop(ld, fmt.Sprintf("b%d.", i), 50000, time.Second, nil)
		total += len(at)
		waitFor(b, 20*time.Second, "follower caught up", func() bool { return other.kv.len() >= total })
		other.kv.mu.Lock()
		for k, t0 := range at {
			lags = append(lags, other.kv.arrived[k].Sub(t0))
		}
		other.kv.mu.Unlock()
	}
	b.StopTimer()
	cs := ld.n.Status(context.Background()).Counters
	b.Logf("%d updates, %d entries, %d dropped, %d resyncs; leader %s", total, cs.PublishedEntries, cs.PublishDropped, cs.Resyncs, c.waitLeader(10*time.Second).id)
	b.ReportMetric(float64(percentile(lags, .5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lags, .99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(total)/float64(b.N), "updates/iter")
}
