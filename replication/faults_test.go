package replication

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// history records Commit acknowledgements made by a background writer.
type history struct {
	mu      sync.Mutex
	acked   map[string]string
	failed  atomic.Int64
	attempt atomic.Int64
}

// writer commits unique keys on the live boxes in turn until stop.
func (h *history) writer(c *cluster, nodes func() []*Node, stop <-chan struct{}, done *sync.WaitGroup) {
	defer done.Done()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		ns := nodes()
		if len(ns) == 0 {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		n := ns[i%len(ns)]
		k, v := fmt.Sprintf("h%d", i), fmt.Sprintf("%s@%d", n.ID(), i)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		h.attempt.Add(1)
		err := n.Commit(ctx, "maps", []byte(k+"="+v))
		cancel()
		if err == nil {
			h.mu.Lock()
			h.acked[k] = v
			h.mu.Unlock()
		} else {
			h.failed.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// check asserts that every acknowledged write is on every live box and
// that there is exactly one leader.
func (h *history) check(t *testing.T, c *cluster) {
	t.Helper()
	c.waitConverged(20 * time.Second)
	h.mu.Lock()
	acked := make(map[string]string, len(h.acked))
	for k, v := range h.acked {
		acked[k] = v
	}
	h.mu.Unlock()
	for _, b := range c.boxes() {
		waitFor(t, 10*time.Second, "acknowledged writes on "+b.id, func() bool {
			have := b.maps.copyKV()
			for k, v := range acked {
				if have[k] != v {
					return false
				}
			}
			return true
		})
	}
	// Split brain is two leaders in one term. A converged cluster may still hold a
	// new election (a heartbeat missed on a loaded machine): zero leaders for a
	// moment is not a fault, so wait for the one leader again instead of sampling.
	terms := map[uint64]string{}
	for _, ld := range c.leaders() {
		term := ld.n.localStats().Term
		if other, dup := terms[term]; dup {
			t.Fatalf("two leaders in term %d: %s and %s", term, other, ld.id)
		}
		terms[term] = ld.id
	}
	c.waitLeader(20 * time.Second)
}

func (c *cluster) liveNodes() func() []*Node {
	return func() []*Node {
		c.mu.Lock()
		defer c.mu.Unlock()
		var out []*Node
		for _, tn := range c.nodes {
			if tn.n != nil && !tn.witness {
				out = append(out, tn.n)
			}
		}
		return out
	}
}

func TestFaultsWithWitness(t *testing.T) {
	c := newCluster(t, 2, true, nil)
	h := &history{acked: map[string]string{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go h.writer(c, c.liveNodes(), stop, &wg)
	defer func() { close(stop); wg.Wait() }()

	leaderBox := func() *tnode {
		ld := c.waitLeader(10 * time.Second)
		if ld.witness {
			waitFor(t, 10*time.Second, "a box leads", func() bool { return !ld.n.IsLeader() })
			ld = c.waitLeader(10 * time.Second)
		}
		return ld
	}
	followerBox := func() *tnode {
		ld := leaderBox()
		for _, b := range c.boxes() {
			if b != ld {
				return b
			}
		}
		t.Fatal("no follower box")
		return nil
	}
	steps := []struct {
		name string
		run  func()
	}{
		{"leader killed, restarted with its data dir", func() {
			ld := leaderBox()
			c.kill(ld)
			c.waitLeader(10 * time.Second)
			h.waitMore(t, 20)
			c.restart(ld, false)
		}},
		{"follower killed, restarted with its data dir", func() {
			f := followerBox()
			c.kill(f)
			h.waitMore(t, 20)
			c.restart(f, false)
		}},
		{"follower restarted with an empty data dir", func() {
			f := followerBox()
			c.kill(f)
			h.waitMore(t, 20)
			c.restart(f, true)
		}},
		{"witness killed and restarted", func() {
			w := c.byID("witness")
			c.kill(w)
			h.waitMore(t, 20)
			c.restart(w, false)
		}},
	}
	for _, s := range steps {
		s.run()
		h.waitMore(t, 20)
		h.check(t, c)
		t.Logf("%s: ok (%d acknowledged, %d refused of %d)", s.name, h.count(), h.failed.Load(), h.attempt.Load())
	}
}

func (h *history) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.acked)
}

// waitMore waits until k more writes were acknowledged.
func (h *history) waitMore(t *testing.T, k int) {
	t.Helper()
	h.mu.Lock()
	base := len(h.acked)
	h.mu.Unlock()
	waitFor(t, 20*time.Second, fmt.Sprintf("%d more acknowledged writes", k), func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.acked) >= base+k
	})
}

// TestRandomFaults repeats random faults for a bounded time and checks,
// after each, one leader, convergence and no lost acknowledged write.
func TestRandomFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("random fault loop skipped in -short")
	}
	c := newCluster(t, 2, true, nil)
	h := &history{acked: map[string]string{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go h.writer(c, c.liveNodes(), stop, &wg)
	defer func() { close(stop); wg.Wait() }()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	t.Logf("seed-free loop; faults chosen at random")
	end := time.Now().Add(25 * time.Second)
	faults := 0
	for faults < 12 && time.Now().Before(end) {
		victim := c.nodes[rng.IntN(len(c.nodes))]
		wipe := !victim.witness && rng.IntN(3) == 0
		wasLeader := victim.n.IsLeader()
		c.kill(victim)
		if rng.IntN(2) == 0 {
			h.waitMore(t, 5)
		}
		c.restart(victim, wipe)
		h.waitMore(t, 5)
		h.check(t, c)
		faults++
		t.Logf("fault %d: %s killed (leader=%v, wiped=%v); %d acknowledged so far", faults, victim.id, wasLeader, wipe, h.count())
	}
	if faults < 3 {
		t.Fatalf("only %d faults in the time bound", faults)
	}
}

func TestPairNoQuorumThenForceSingle(t *testing.T) {
	c := newCluster(t, 2, false, nil)
	a, b := c.boxes()[0], c.boxes()[1]
	if _, v := commitAndRead(t, a, b, "before", "1"); v <= 0 {
		t.Fatal("no commit")
	}
	c.kill(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err := a.n.Commit(ctx, "maps", []byte("alone=1"))
	if !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("commit without quorum: %v, want ErrNoQuorum", err)
	}
	t.Logf("refused after %v: %v", time.Since(start).Round(time.Millisecond), err)
	// The data plane keeps publishing while alone.
	a.kv.set("sticky", "1")
	a.n.Publish("kv", []byte("sticky=1\n"))

	if err := a.n.RecoverForceSingle(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "survivor leads alone", func() bool { return a.n.IsLeader() })
	if err := a.n.Commit(ctx, "maps", []byte("alone=2")); err != nil {
		t.Fatalf("commit after force-single: %v", err)
	}
	if v, _ := a.maps.get("alone"); v != "2" {
		t.Fatalf("alone=%q", v)
	}
	// The peer returns with its data dir: it rejoins and follows.
	c.restart(b, false)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if n := len(c.leaders()); n > 1 {
			t.Fatalf("%d leaders while the peer returns", n)
		}
		if v, ok := b.maps.get("alone"); ok && v == "2" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.waitVoters(2, 10*time.Second)
	c.waitConverged(10 * time.Second)
	if v, _ := b.maps.get("alone"); v != "2" {
		t.Fatalf("returning peer has alone=%q", v)
	}
	if v, _ := b.kv.get("sticky"); v != "1" {
		t.Fatal("update published while alone did not reach the returning peer")
	}
	if v, _ := b.maps.get("before"); v != "1" {
		t.Fatal("lost the write made before the fault")
	}
	if ld := c.waitLeader(5 * time.Second); ld != a {
		t.Logf("leader is now %s", ld.id)
	}
	commitAndRead(t, b, a, "after", "1")
}

// TestPartitionLeaderIsolated cuts the leader box off from the other box
// and the witness (Raft and requests; gossip stays up): the majority side
// elects a leader and keeps committing, the isolated box refuses writes,
// and after healing there is one leader and every acknowledged write is
// on both boxes.
func TestPartitionLeaderIsolated(t *testing.T) {
	c := newCluster(t, 2, true, nil)
	a := c.boxes()[0]
	a.n.OnLocalMaster()
	waitFor(t, 10*time.Second, "box a leads", func() bool { return a.n.IsLeader() })
	a.n.OnLocalBackup()
	b, w := c.boxes()[1], c.byID("witness")
	h := &history{acked: map[string]string{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go h.writer(c, c.liveNodes(), stop, &wg)
	h.waitMore(t, 10)

	a.n.layer().setCut([]string{b.id, w.id})
	b.n.layer().setCut([]string{a.id})
	w.n.layer().setCut([]string{a.id})
	waitFor(t, 15*time.Second, "majority side elects a leader, isolated box steps down", func() bool {
		return !a.n.IsLeader() && (b.n.IsLeader() || w.n.IsLeader())
	})
	h.waitMore(t, 5) // the writer alternates boxes: b's writes go on
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.n.Commit(ctx, "maps", []byte("isolated=1")); err == nil {
		t.Fatal("the isolated box acknowledged a write")
	} else {
		t.Logf("isolated box: %v", err)
	}
	for _, x := range []*tnode{a, b, w} {
		x.n.layer().setCut(nil)
	}
	h.waitMore(t, 5)
	close(stop)
	wg.Wait()
	h.check(t, c)
	if _, ok := b.maps.get("isolated"); ok {
		// A refused write may still have been logged on the old leader and
		// lost at the heal; it must never appear only on one side.
		waitFor(t, 5*time.Second, "same value on both", func() bool { _, ok := a.maps.get("isolated"); return ok })
	}
	t.Logf("%d acknowledged, %d refused of %d", h.count(), h.failed.Load(), h.attempt.Load())
}
