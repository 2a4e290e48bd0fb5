package replication

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// publishLoop publishes batches of keys on tn at about rate keys/s for
// dur (bounded), writing each key locally first like the data plane does.
// It returns when each key was published.
func publishLoop(tn *tnode, prefix string, rate int, dur time.Duration, stop <-chan struct{}) map[string]time.Time {
	const perBatch = 50
	node := tn.n
	at := map[string]time.Time{}
	interval := time.Duration(float64(time.Second) * perBatch / float64(rate))
	end := time.Now().Add(dur)
	next := time.Now()
	for i := 0; time.Now().Before(end); i++ {
		select {
		case <-stop:
			return at
		default:
		}
		var b []byte
		now := time.Now()
		for j := range perBatch {
			k := fmt.Sprintf("%s%d.%d", prefix, i, j)
			tn.kv.set(k, "1")
			b = fmt.Appendf(b, "%s=1\n", k)
			at[k] = now
		}
		node.Publish("kv", b)
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			time.Sleep(d) // pacing the load generator, not waiting for a result
		}
	}
	return at
}

func TestPublishedDeltasReachFollowers(t *testing.T) {
	for _, witness := range []bool{false, true} {
		t.Run(fmt.Sprintf("witness=%v", witness), func(t *testing.T) {
			c := newCluster(t, 2, witness, nil)
			ld := c.waitLeader(10 * time.Second)
			if ld.witness {
				ld = c.boxes()[0]
			}
			var other *tnode
			for _, b := range c.boxes() {
				if b != ld {
					other = b
				}
			}
			at := publishLoop(ld, "p", 20000, time.Second, nil)
			waitFor(t, 10*time.Second, "every published key on the other box", func() bool {
				return other.kv.len() == len(at)
			})
			var lags []time.Duration
			other.kv.mu.Lock()
			for k, t0 := range at {
				lags = append(lags, other.kv.arrived[k].Sub(t0))
			}
			other.kv.mu.Unlock()
			st := ld.n.Status(t.Context())
			if n := ld.kv.applyCount(); n != 0 {
				t.Fatalf("the publisher applied its own entries %d times", n)
			}
			t.Logf("%d keys published at 20k/s in %d entries: lag p50 %v p99 %v max %v",
				len(at), st.Counters.PublishedEntries, percentile(lags, .5), percentile(lags, .99), percentile(lags, 1))
			if other.kv.applyCount() == 0 || st.Counters.PublishedEntries >= st.Counters.PublishedRecords {
				t.Fatalf("not batched: %+v", st.Counters)
			}
			// A follower's updates (forwarded to the leader) reach the leader.
			back := publishLoop(other, "f", 5000, 200*time.Millisecond, nil)
			waitFor(t, 10*time.Second, "follower's published keys on the leader", func() bool {
				have := ld.kv.copyKV()
				for k := range back {
					if _, ok := have[k]; !ok {
						return false
					}
				}
				return true
			})
		})
	}
}

// After an abrupt kill of the leader, the surviving box holds every key
// published more than batchBound before the kill. With a Raft batch of
// 5 ms the bound is that batch plus commit and propagation; with a Raft
// batch of 1 s (the appliance batches Raft over 100 ms) it is the direct
// path's delivery alone: the payloads since the last Raft entry (which goes
// after 1 s or 256 payloads) are not in the survivor's log, only in its
// memory. (REPLICATION_TEST_NO_DIRECT=1 makes the 1 s cases fail: the
// survivor lacks the keys of the payloads still waiting for Raft.)
func TestLeaderKilledSurvivorHoldsAcknowledged(t *testing.T) {
	for _, tc := range []struct {
		witness   bool
		raftBatch time.Duration
	}{{false, 5 * time.Millisecond}, {true, 5 * time.Millisecond}, {false, time.Second}, {true, time.Second}} {
		batchBound := 5*time.Millisecond + 50*time.Millisecond // a publish batch + delivery (direct or committed)
		if raceEnabled {
			batchBound = 5*time.Millisecond + 250*time.Millisecond // the race detector slows everything several times
		}
		witness := tc.witness
		t.Run(fmt.Sprintf("witness=%v,raftBatch=%v", witness, tc.raftBatch), func(t *testing.T) {
			c := newCluster(t, 2, witness, func(cfg *Config) {
				cfg.BatchEvery = tc.raftBatch
				cfg.NoDirect = os.Getenv("REPLICATION_TEST_NO_DIRECT") != ""
			})
			ld := c.boxes()[0]
			if err := c.boxes()[1].n.TransferLeadershipTo(t.Context(), ld.id); err != nil && !ld.n.IsLeader() {
				t.Fatal(err)
			}
			c.waitLeader(5 * time.Second)
			if !ld.n.IsLeader() {
				t.Fatalf("leader is %v, want %s", c.leaders()[0].id, ld.id)
			}
			surv := c.boxes()[1]
			stop := make(chan struct{})
			var at map[string]time.Time
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				at = publishLoop(ld, "x", 20000, 3*time.Second, stop)
			}()
			time.Sleep(700 * time.Millisecond) // let some load pass before the fault
			killAt := time.Now()
			c.kill(ld)
			close(stop)
			wg.Wait()
			// The survivor applies what it learned committed.
			want := 0
			for _, t0 := range at {
				if killAt.Sub(t0) > batchBound {
					want++
				}
			}
			if want < 1000 {
				t.Fatalf("only %d keys old enough; load too slow", want)
			}
			defer func() {
				if t.Failed() {
					have := surv.kv.copyKV()
					missing, first := 0, time.Time{}
					for k, t0 := range at {
						if _, ok := have[k]; !ok && killAt.Sub(t0) > batchBound {
							missing++
							if first.IsZero() || t0.Before(first) {
								first = t0
							}
						}
					}
					t.Logf("missing %d keys, the oldest published %v before the kill; survivor counters %+v", missing, killAt.Sub(first), surv.n.Status(t.Context()).Counters)
				}
			}()
			waitFor(t, 10*time.Second, "survivor has every acknowledged key", func() bool {
				have := surv.kv.copyKV()
				for k, t0 := range at {
					if killAt.Sub(t0) > batchBound {
						if _, ok := have[k]; !ok {
							return false
						}
					}
				}
				return true
			})
			t.Logf("survivor holds all %d keys published > %v before the kill (%d published in all, %d held; %d records applied directly)",
				want, batchBound, len(at), surv.kv.len(), surv.n.Status(t.Context()).Counters.DirectApplied)
		})
	}
}

// A graceful Close hands every published payload to Raft and waits
// (bounded) for it to commit: nothing published before Close is lost.
func TestGracefulCloseFlushesPublished(t *testing.T) {
	c := newCluster(t, 2, true, nil)
	ld := c.waitLeader(10 * time.Second)
	if ld.witness {
		ld = c.boxes()[0]
		ld.n.OnLocalMaster()
		waitFor(t, 10*time.Second, "a box leads", func() bool { return ld.n.IsLeader() })
	}
	var other *tnode
	for _, b := range c.boxes() {
		if b != ld {
			other = b
		}
	}
	at := publishLoop(ld, "g", 20000, 300*time.Millisecond, nil)
	c.mu.Lock()
	n := ld.n
	ld.n = nil
	c.mu.Unlock()
	ld.ptr.Store(nil)
	if err := n.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	waitFor(t, 10*time.Second, "every key published before Close on the other box", func() bool {
		return other.kv.len() == len(at)
	})
}

// The publisher spaces entries by BatchEvery without a free-running
// ticker: a payload after a quiet interval goes at once (the stick tables
// batched it already), payloads right after it wait for the interval and
// share one entry.
func TestPublishSpacing(t *testing.T) {
	const every = 2 * time.Second
	// Arrival on the other box stands for the Raft entry: no direct path.
	c := newCluster(t, 2, false, func(cfg *Config) { cfg.BatchEvery = every; cfg.NoDirect = true })
	ld := c.waitLeader(10 * time.Second)
	var other *tnode
	for _, x := range c.boxes() {
		if x != ld {
			other = x
		}
	}
	entries := func() int64 { return ld.n.Status(t.Context()).Counters.PublishedEntries }
	// Nothing was published yet: the first payload may go at once.
	e0, t0 := entries(), time.Now()
	ld.n.Publish("kv", []byte("first=1\n"))
	waitFor(t, 10*time.Second, "first payload on the other box", func() bool { _, ok := other.kv.get("first"); return ok })
	if d := time.Since(t0); d > every/2 {
		t.Fatalf("a payload after a quiet interval took %v (interval %v)", d, every)
	}
	for i := range 5 {
		ld.n.Publish("kv", fmt.Appendf(nil, "next%d=1\n", i))
	}
	waitFor(t, 10*time.Second, "the next payloads on the other box", func() bool { _, ok := other.kv.get("next4"); return ok })
	if d := time.Since(t0); d < every-100*time.Millisecond {
		t.Fatalf("the next entry left %v after the first (interval %v)", d, every)
	}
	if n := entries() - e0; n != 2 {
		t.Fatalf("%d entries for 1 + 5 payloads, want 2", n)
	}
}
