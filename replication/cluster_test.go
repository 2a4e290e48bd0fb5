package replication

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// commitAndRead commits key=value on from and measures until to has it.
func commitAndRead(t *testing.T, from, to *tnode, key, val string) (ack, visible time.Duration) {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := from.n.Commit(ctx, "maps", []byte(key+"="+val)); err != nil {
		t.Fatalf("commit on %s: %v", from.id, err)
	}
	ack = time.Since(start)
	if v, ok := from.maps.get(key); !ok || v != val {
		t.Fatalf("%s acknowledged %s but has %q", from.id, key, v)
	}
	waitFor(t, 5*time.Second, key+" on "+to.id, func() bool {
		v, ok := to.maps.get(key)
		return ok && v == val
	})
	return ack, time.Since(start)
}

func testCommitBothWays(t *testing.T, c *cluster, rounds int) {
	boxes := c.boxes()
	var acks, vis []time.Duration
	for i := range rounds {
		from, to := boxes[i%2], boxes[(i+1)%2]
		a, v := commitAndRead(t, from, to, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
		acks = append(acks, a)
		vis = append(vis, v)
	}
	t.Logf("%d commits alternating nodes: ack p50 %v p99 %v; visible on the other node p50 %v p99 %v",
		rounds, percentile(acks, .5), percentile(acks, .99), percentile(vis, .5), percentile(vis, .99))
	// A loose bound (CI runs with -race on a shared 2-core box); the
	// benchmarks measure the real figures.
	if p := percentile(vis, .99); p > time.Second {
		t.Fatalf("p99 until visible on the other node %v > 1s", p)
	}
}

func TestPairCommitVisibleOnBoth(t *testing.T) {
	c := newCluster(t, 2, false, nil)
	testCommitBothWays(t, c, 200)
	if n := len(c.leaders()); n != 1 {
		t.Fatalf("%d leaders", n)
	}
}

func TestTrioWithWitnessCommitVisibleOnBoth(t *testing.T) {
	c := newCluster(t, 2, true, nil)
	w := c.byID("witness")
	waitFor(t, 10*time.Second, "witness hands leadership to a box", func() bool { return !w.n.IsLeader() })
	testCommitBothWays(t, c, 200)
	if err := w.n.Commit(context.Background(), "maps", []byte("a=b")); err != ErrWitness {
		t.Fatalf("commit on witness: %v, want ErrWitness", err)
	}
	if _, err := Start(Config{NodeID: "w2", DataDir: t.TempDir(), BindAddr: "127.0.0.1:0", Witness: true}, newKV("kv")); err != ErrWitness {
		t.Fatalf("witness with streams: %v", err)
	}
}

// With NudgeCommits, a write through the follower returns once the
// follower applied it without waiting for the leader's CommitTimeout tick:
// the leader's barrier after the write tells the follower the commit index
// at once. With CommitTimeout at 3 s (the only other way a follower learns
// it on an idle pair), each Commit would take 3–6 s without it.
func TestFollowerCommitDoesNotWaitForCommitTimeout(t *testing.T) {
	c := newCluster(t, 2, false, func(cfg *Config) { cfg.CommitTimeout, cfg.NudgeCommits = 3*time.Second, true })
	ld := c.waitLeader(10 * time.Second)
	var fo *tnode
	for _, x := range c.boxes() {
		if x != ld {
			fo = x
		}
	}
	for i := range 5 {
		t0 := time.Now()
		k := fmt.Sprintf("nudge%d", i)
		if err := fo.n.Commit(t.Context(), "maps", fmt.Appendf(nil, "%s=v", k)); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Fatalf("follower commit %d took %v", i, d)
		}
		if _, ok := fo.maps.get(k); !ok {
			t.Fatalf("%s acknowledged on the follower but not applied there", k)
		}
	}
}
