package replication

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// kvStream is an in-test Replicated: payloads are lines "key=value";
// the last applied value wins. It records when each key arrived.
type kvStream struct {
	name string

	mu       sync.Mutex
	kv       map[string]string
	arrived  map[string]time.Time
	applies  int
	restores int
}

func newKV(name string) *kvStream {
	return &kvStream{name: name, kv: map[string]string{}, arrived: map[string]time.Time{}}
}

func (s *kvStream) Name() string { return s.name }

func (s *kvStream) ApplyRemote(p []byte) error {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applies++
	for _, line := range strings.Split(string(p), "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("bad line %q", line)
		}
		s.kv[k] = v
		if _, seen := s.arrived[k]; !seen {
			s.arrived[k] = now
		}
	}
	return nil
}

// applyCount is how many ApplyRemote calls the stream took (direct
// batches and Raft entries alike).
func (s *kvStream) applyCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applies
}

// set is the local write of the data plane (before Publish).
func (s *kvStream) set(k, v string) {
	s.mu.Lock()
	s.kv[k] = v
	s.mu.Unlock()
}

func (s *kvStream) get(k string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.kv[k]
	return v, ok
}

func (s *kvStream) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.kv)
}

func (s *kvStream) copyKV() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.kv))
	for k, v := range s.kv {
		out[k] = v
	}
	return out
}

func (s *kvStream) Snapshot(w io.Writer) error {
	m := s.copyKV()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	bw := bufio.NewWriter(w)
	for _, k := range keys {
		fmt.Fprintf(bw, "%s=%s\n", k, m[k])
	}
	return bw.Flush()
}

func (s *kvStream) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.restores++
	s.mu.Unlock()
	return s.ApplyRemote(b)
}

// freePort returns a loopback address whose port is free for TCP and UDP
// (memberlist needs both).
var (
	portsMu sync.Mutex
	ports   = map[string]bool{}
)

func freePort(t testing.TB) string {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 200 {
		// Below the ephemeral range, so outgoing connections do not take it.
		addr := fmt.Sprintf("127.0.0.1:%d", 12000+rand.IntN(18000))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		if ports[addr] {
			continue
		}
		ports[addr] = true
		return addr
	}
	t.Fatal("no free port")
	return ""
}

type tnode struct {
	ptr          atomic.Pointer[Node] // tn.n for goroutines the test does not join
	extra        any                  // test-specific per-node state
	id, dir      string
	addr, gaddr  string
	witness      bool
	n            *Node
	kv, maps     *kvStream
	startedFresh bool
}

type cluster struct {
	mu    sync.Mutex // guards tnode.n against the background writer
	t     testing.TB
	token string
	nodes []*tnode
	tune  func(*Config)
	mk    func(*tnode) []Replicated // streams of a box; default kv and maps
}

func (c *cluster) streamsFor(tn *tnode) []Replicated {
	if tn.witness {
		return nil
	}
	tn.kv, tn.maps = newKV("kv"), newKV("maps")
	if c.mk != nil {
		return c.mk(tn)
	}
	return []Replicated{tn.kv, tn.maps}
}

func testLogOutput() io.Writer {
	if os.Getenv("APPL_REPL_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}

func (c *cluster) config(tn *tnode) Config {
	cfg := Config{
		NodeID: tn.id, DataDir: tn.dir, BindAddr: tn.addr, GossipAddr: tn.gaddr,
		Witness: tn.witness, LogOutput: testLogOutput(), Version: "test",
	}
	for _, o := range c.nodes {
		if o != tn {
			cfg.Join = append(cfg.Join, o.addr)
		}
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	return cfg
}

// newCluster starts boxes (and a witness) on loopback; node 0 bootstraps,
// the others join with the token.
func newCluster(t testing.TB, boxes int, witness bool, tune func(*Config)) *cluster {
	t.Helper()
	return newClusterWith(t, boxes, witness, tune, nil)
}

func newClusterWith(t testing.TB, boxes int, witness bool, tune func(*Config), mk func(*tnode) []Replicated) *cluster {
	t.Helper()
	c := &cluster{t: t, tune: tune, mk: mk}
	total := boxes
	if witness {
		total++
	}
	for i := range total {
		tn := &tnode{id: fmt.Sprintf("n%d", i), dir: t.TempDir(), addr: freePort(t), gaddr: freePort(t)}
		if witness && i == total-1 {
			tn.id, tn.witness = "witness", true
		}
		c.nodes = append(c.nodes, tn)
	}
	tok, err := InitCluster(c.nodes[0].dir)
	if err != nil {
		t.Fatal(err)
	}
	c.token = tok
	t.Cleanup(c.closeAll)
	c.start(c.nodes[0])
	c.waitLeader(10 * time.Second)
	for _, tn := range c.nodes[1:] {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := JoinCluster(ctx, tn.dir, tn.id, c.nodes[0].addr, tok); err != nil {
			cancel()
			t.Fatalf("join %s: %v", tn.id, err)
		}
		cancel()
		c.start(tn)
	}
	c.waitVoters(total, 20*time.Second)
	c.waitConverged(10 * time.Second)
	return c
}

func (c *cluster) start(tn *tnode) {
	c.t.Helper()
	n, err := Start(c.config(tn), c.streamsFor(tn)...)
	if err != nil {
		c.t.Fatalf("start %s: %v", tn.id, err)
	}
	c.mu.Lock()
	tn.n = n
	c.mu.Unlock()
	tn.ptr.Store(n)
}

// restart starts a killed node again, with its data dir or, when wipe,
// with an empty one (joined again with the token through a live member).
func (c *cluster) restart(tn *tnode, wipe bool) {
	c.t.Helper()
	if wipe {
		tn.dir = c.t.TempDir()
		var via string
		for _, o := range c.live() {
			via = o.addr
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := JoinCluster(ctx, tn.dir, tn.id, via, c.token); err != nil {
			c.t.Fatalf("rejoin %s: %v", tn.id, err)
		}
	}
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The killed node's ports may take a moment to be free again.
		var n *Node
		n, err = Start(c.config(tn), c.streamsFor(tn)...)
		if err == nil {
			c.mu.Lock()
			tn.n = n
			c.mu.Unlock()
			tn.ptr.Store(n)
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		c.t.Fatalf("restart %s: %v", tn.id, err)
	}
}

func (c *cluster) closeAll() {
	for _, tn := range c.nodes {
		c.kill(tn)
	}
}

func (c *cluster) kill(tn *tnode) {
	c.mu.Lock()
	n := tn.n
	tn.n = nil
	c.mu.Unlock()
	tn.ptr.Store(nil)
	if n != nil {
		n.kill()
	}
}

func (c *cluster) live() []*tnode {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*tnode
	for _, tn := range c.nodes {
		if tn.n != nil {
			out = append(out, tn)
		}
	}
	return out
}

func (c *cluster) boxes() []*tnode {
	var out []*tnode
	for _, tn := range c.live() {
		if !tn.witness {
			out = append(out, tn)
		}
	}
	return out
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// leaders returns the live nodes that consider themselves leader.
func (c *cluster) leaders() []*tnode {
	var out []*tnode
	for _, tn := range c.live() {
		if tn.n.IsLeader() {
			out = append(out, tn)
		}
	}
	return out
}

// waitLeader waits until exactly one live node leads and every live node
// names it.
func (c *cluster) waitLeader(timeout time.Duration) *tnode {
	c.t.Helper()
	var ld *tnode
	defer func() {
		if ld == nil {
			c.dump()
		}
	}()
	waitFor(c.t, timeout, "exactly one leader known to all", func() bool {
		ls := c.leaders()
		if len(ls) != 1 {
			return false
		}
		for _, tn := range c.live() {
			if _, id := tn.n.leader(); id != ls[0].id {
				return false
			}
		}
		ld = ls[0]
		return true
	})
	return ld
}

func (c *cluster) waitVoters(k int, timeout time.Duration) {
	c.t.Helper()
	waitFor(c.t, timeout, fmt.Sprintf("%d voters", k), func() bool {
		for _, tn := range c.live() {
			if len(tn.n.Voters()) != k {
				return false
			}
		}
		return true
	})
}

// waitConverged waits until every live node applied the leader's commit
// index and the boxes hold equal streams.
func (c *cluster) waitConverged(timeout time.Duration) {
	c.t.Helper()
	ld := c.waitLeader(timeout)
	waitFor(c.t, timeout, "applied indexes converge", func() bool {
		ci := ld.n.localStats().CommitIndex
		for _, tn := range c.live() {
			if tn.n.AppliedIndex() < ci {
				return false
			}
		}
		return true
	})
}

func (c *cluster) byID(id string) *tnode {
	for _, tn := range c.nodes {
		if tn.id == id {
			return tn
		}
	}
	return nil
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p)
	return s[i]
}

func (c *cluster) dump() {
	for _, tn := range c.live() {
		a, id := tn.n.leader()
		c.t.Logf("%s: state %s leader %s (%s) voters %v applied %d", tn.id, tn.n.raft().State(), id, a, tn.n.Voters(), tn.n.AppliedIndex())
	}
}
