package replication

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// Errors a caller of Commit may see.
var (
	// ErrNoQuorum: no leader can be elected (a pair that lost a box). The
	// data plane keeps serving from its local tables; writes that must be
	// committed are refused until the peer returns or an operator forces
	// single-node mode. The write was not acknowledged; in the rare case
	// the old leader had already logged it, it may still apply later.
	ErrNoQuorum = errors.New("replication: no quorum: the cluster peer is unreachable; map and config writes are refused until it returns or an operator runs 'applctl cluster recover --force-single'")
	// ErrNotLeader is internal: the request went to a member that is not
	// (or no longer) the leader; Commit retries on the new leader.
	ErrNotLeader = errors.New("replication: not the leader")
	// ErrRemoved: this node was removed from the cluster.
	ErrRemoved = errors.New("replication: node was removed from the cluster")
	// ErrWitness: a witness holds no streams.
	ErrWitness = errors.New("replication: a witness node holds no streams")
	// ErrClosed: the node is shut down.
	ErrClosed = errors.New("replication: node is closed")
)

// Config of one node. Zero durations take the defaults noted.
type Config struct {
	NodeID  string // stable name of the node (its `node NAME`)
	DataDir string // cluster/ (CA, secret, node cert), raft/ (log), snapshots/

	BindAddr      string // host:port of the cluster TLS listener (Raft, join, forwarding)
	AdvertiseAddr string // what peers dial; default: the bound address

	GossipAddr      string // host:port of memberlist (UDP and TCP); "" = no gossip
	GossipAdvertise string // default: GossipAddr

	// Join lists members' cluster addresses to ask for admission (after
	// JoinCluster) and to ask again when this node finds itself out of the
	// configuration.
	Join []string
	// Witness: a voter with no streams, that hands leadership to a box.
	Witness bool

	// LocalStatus is gossiped to the other members (role, VRRP states,
	// health, config hash). Called every StatusEvery.
	LocalStatus func() MemberStatus
	Version     string

	LogOutput io.Writer // Raft and memberlist logs (warnings and errors); default stderr

	HeartbeatTimeout   time.Duration // 1s: a follower starts an election after this much silence
	ElectionTimeout    time.Duration // 1s
	LeaderLeaseTimeout time.Duration // 500ms: a leader without quorum steps down after this
	CommitTimeout      time.Duration // 5ms: followers learn commits at least this often
	// NudgeCommits appends a Raft barrier after each committed write so the
	// followers learn its commit at once (a follower's Commit: ~1 ms instead
	// of CommitTimeout); it would allow a longer CommitTimeout (20 ms: half
	// an idle pair's CPU). Off by default here; the appliance turns it on. (It
	// was off because raft-wal v0.4.0 failed restarts after log-suffix clears,
	// which these entries make more frequent; the log store is raft-boltdb now.)
	NudgeCommits      bool
	SnapshotInterval  time.Duration // 30s
	SnapshotThreshold uint64        // 8192 entries
	TrailingLogs      uint64        // 10240 entries kept after a snapshot

	// BatchEvery: published deltas go to Raft at least this often (5ms). The
	// other boxes get them at once anyway by the direct path (direct.go), so a
	// long one (the appliance: 100ms) only delays the durable copy and saves
	// Raft entries, each a bolt commit (two fsyncs) on every box.
	BatchEvery time.Duration
	// NoDirect turns the direct path off: published payloads then reach the
	// other boxes only by Raft, so BatchEvery bounds a standby's loss at a
	// master kill. For measurements and tests.
	NoDirect        bool
	BatchMaxRecords int // 256 published payloads make a batch at once
	BatchMaxBytes   int // 1 MiB makes a batch at once
	MaxPendingBytes int // 64 MiB waiting without a leader; beyond, drop and resync

	WriteTimeout time.Duration // 3s: Commit gives up with ErrNoQuorum after this
	RPCTimeout   time.Duration // 5s: one request between members
	StatusEvery  time.Duration // 1s
}

func (c *Config) defaults() error {
	if c.NodeID == "" || c.DataDir == "" || c.BindAddr == "" {
		return errors.New("replication: NodeID, DataDir and BindAddr are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	// Raft's own defaults: traffic failover is VRRP's job, so Raft can
	// afford to ride out a loaded box (GC, a big snapshot) without a
	// leadership flap.
	def(&c.HeartbeatTimeout, time.Second)
	def(&c.ElectionTimeout, time.Second)
	def(&c.LeaderLeaseTimeout, 500*time.Millisecond)
	def(&c.CommitTimeout, 5*time.Millisecond)
	def(&c.SnapshotInterval, 30*time.Second)
	def(&c.BatchEvery, 5*time.Millisecond)
	def(&c.WriteTimeout, 3*time.Second)
	def(&c.RPCTimeout, 5*time.Second)
	def(&c.StatusEvery, time.Second)
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = 8192
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = 10240
	}
	if c.BatchMaxRecords == 0 {
		c.BatchMaxRecords = 256
	}
	if c.BatchMaxBytes == 0 {
		c.BatchMaxBytes = 1 << 20
	}
	if c.MaxPendingBytes == 0 {
		c.MaxPendingBytes = 64 << 20
	}
	if c.LogOutput == nil {
		c.LogOutput = os.Stderr
	}
	return nil
}

// Node is one member of the replication cluster.
type Node struct {
	cfg       Config
	mat       *material
	fsm       *fsm
	w         atomic.Pointer[wire]
	boundAddr string
	wal       *raftboltdb.BoltStore
	snaps     *raft.FileSnapshotStore
	rconf     *raft.Config
	r         atomic.Pointer[raft.Raft]
	raMu      sync.Mutex // serializes raft replacement (force-single)
	pool      rpcPool

	pub       publisher
	direct    direct
	gossip    *gossip
	prefer    atomic.Bool // the appliance says this box is VRRP master
	fresh     bool        // started with no Raft state: a (re)joining node
	removedMu sync.Mutex
	removed   map[string]bool

	stop      chan struct{}
	stopOnce  sync.Once
	wg        sync.WaitGroup
	closed    atomic.Bool
	lastLdrAt atomic.Int64 // unix ns when a leader was last known

	tailDone    uint64 // maintain goroutine only: last log index applyLogTail looked at
	tailApplied atomic.Int64

	badJoins     atomic.Int64
	malformedRPC atomic.Int64

	// nudge asks the leader to append a barrier right after a forwarded
	// write committed, so the forwarding follower learns the commit index
	// now instead of at the next CommitTimeout tick (see nudger).
	nudge chan struct{}
}

// Start opens (or creates) the node's Raft state under cfg.DataDir and
// joins the cluster. The cluster material must be there (InitCluster or
// JoinCluster). streams are the replicated things of this node (none on a
// witness); they must be registered before Start so a snapshot restores
// into them.
func Start(cfg Config, streams ...Replicated) (*Node, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if cfg.Witness && len(streams) > 0 {
		return nil, ErrWitness
	}
	mat, err := loadMaterial(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	var incb [8]byte
	if _, err := rand.Read(incb[:]); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:     cfg,
		mat:     mat,
		fsm:     newFSM(binary.BigEndian.Uint64(incb[:])),
		stop:    make(chan struct{}),
		removed: map[string]bool{},
		nudge:   make(chan struct{}, 1),
	}
	for _, s := range streams {
		if err := n.fsm.register(s); err != nil {
			return nil, err
		}
	}
	if err := n.openRaft(); err != nil {
		n.closeStores()
		return nil, err
	}
	n.pub.init(n)
	n.direct.init(n)
	if cfg.GossipAddr != "" {
		g, err := startGossip(n)
		if err != nil {
			n.kill()
			return nil, fmt.Errorf("replication: gossip on %s: %w", cfg.GossipAddr, err)
		}
		n.gossip = g
	}
	n.wg.Add(4)
	go n.pub.run()
	go n.direct.run()
	go n.maintain()
	go n.nudger()
	return n, nil
}

// nudger appends a Raft barrier (a log entry the FSM never sees) after a
// write (Commit, resync) committed on this leader when Config.NudgeCommits
// is set. A follower learns a commit index only from the next
// AppendEntries, which hashicorp/raft sends when a new entry is appended
// or, idle, after a random 1–2 × CommitTimeout; a follower's Commit waits
// for its own apply (read-your-writes), so without the barrier it takes
// the leader's commit plus that tick. At most one barrier is in flight
// and one more queued: a burst of writes costs two entries, not one each.
func (n *Node) nudger() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case <-n.nudge:
		}
		r := n.raft()
		if r.State() != raft.Leader {
			continue
		}
		_ = n.awaitFuture(r.Barrier(n.cfg.WriteTimeout), n.cfg.WriteTimeout+time.Second)
	}
}

func (n *Node) logger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Warn, Output: n.cfg.LogOutput})
}

func (n *Node) openRaft() error {
	cfg := n.cfg
	raftDir := filepath.Join(cfg.DataDir, "raft")
	if err := os.MkdirAll(raftDir, 0o700); err != nil {
		return err
	}
	// raft-boltdb, not raft-wal: raft-wal v0.4.0 (the last release) seals a segment
	// without its index when Raft clears a log suffix (a deposed leader rejoining), and
	// the next restart panics ("sealed segment has no index block", raft-wal#31, fixed
	// only after that release). Log and stable store in one fsynced bolt file.
	//
	// NoFreelistSync: bolt need not write its freelist page with every commit (one
	// commit per Raft append on every box); it
	// rebuilds the list by scanning the file when it opens. Same durability: the
	// pages and meta page are fsynced as before. The map freelist is the one bolt
	// recommends with it (etcd runs the same pair).
	wal, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(raftDir, "raft.db"),
		BoltOptions: &bbolt.Options{NoFreelistSync: true, FreelistType: bbolt.FreelistMapType}})
	if err != nil {
		return fmt.Errorf("replication: raft log in %s: %w", raftDir, err)
	}
	n.wal = wal
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, 2, n.logger("snapshots"))
	if err != nil {
		return err
	}
	n.snaps = snaps

	ln, err := net.Listen("tcp", cfg.BindAddr)
	if err != nil {
		return fmt.Errorf("replication: listen %s: %w", cfg.BindAddr, err)
	}
	adv := ln.Addr()
	if cfg.AdvertiseAddr != "" {
		a, err := net.ResolveTCPAddr("tcp", cfg.AdvertiseAddr)
		if err != nil {
			ln.Close()
			return err
		}
		adv = a
	} else if ta := ln.Addr().(*net.TCPAddr); ta.IP.IsUnspecified() {
		ln.Close()
		return errors.New("replication: AdvertiseAddr is required when BindAddr is a wildcard")
	}
	n.cfg.AdvertiseAddr = adv.String()
	n.boundAddr = ln.Addr().String()
	w, err := n.openWire(ln)
	if err != nil {
		return err
	}
	n.w.Store(w)

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.TrailingLogs = cfg.TrailingLogs
	rc.Logger = n.logger("raft")
	n.rconf = rc

	has, err := raft.HasExistingState(wal, wal, snaps)
	if err != nil {
		return err
	}
	n.fresh = !has
	r, err := raft.NewRaft(rc, n.fsm, newLogCache(wal), wal, snaps, w.trans)
	if err != nil {
		return err
	}
	n.r.Store(r)
	// Only the node that ran InitCluster bootstraps, once: a node restarted
	// with an empty data dir and joined again must not found a second cluster.
	marker := filepath.Join(clusterDir(cfg.DataDir), bootstrapFile)
	_, merr := os.Stat(marker)
	if !has && merr == nil {
		f := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
			ID: rc.LocalID, Address: raft.ServerAddress(n.cfg.AdvertiseAddr), Suffrage: raft.Voter,
		}}})
		if err := f.Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return err
		}
	}
	if merr == nil {
		if err := os.Remove(marker); err != nil {
			return err
		}
	}
	return nil
}

// wire is the cluster listener and Raft's transport over it. Raft closes
// the transport when it shuts down, so a forced recovery opens a new one.
type wire struct {
	layer *tlsLayer
	trans *raft.NetworkTransport
}

func (n *Node) openWire(ln net.Listener) (*wire, error) {
	cert, err := n.mat.nodeCert(n.cfg.DataDir, n.cfg.NodeID)
	if err != nil {
		ln.Close()
		return nil, err
	}
	adv, err := net.ResolveTCPAddr("tcp", n.cfg.AdvertiseAddr)
	if err != nil {
		ln.Close()
		return nil, err
	}
	srv, cli := n.mat.tlsConfigs(cert)
	layer := newTLSLayer(ln, adv, srv, cli, func(proto byte, c *tls.Conn) {
		switch proto {
		case protoJoin:
			n.serveJoin(c)
		case protoRPC:
			if n.r.Load() == nil { // still starting: the caller retries
				c.Close()
				return
			}
			n.serveRPC(c)
		}
	})
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  layer,
		MaxPool: 4,
		Timeout: 10 * time.Second,
		Logger:  n.logger("raft-net"),
	})
	return &wire{layer: layer, trans: trans}, nil
}

func (n *Node) layer() *tlsLayer { return n.w.Load().layer }

func (n *Node) raft() *raft.Raft { return n.r.Load() }

// ID is the node's name.
func (n *Node) ID() string { return n.cfg.NodeID }

// Addr is the advertised cluster address.
func (n *Node) Addr() string { return n.cfg.AdvertiseAddr }

// IsLeader says whether this node is the Raft leader.
func (n *Node) IsLeader() bool { return n.raft().State() == raft.Leader }

// AppliedIndex is the index of the last entry applied here.
func (n *Node) AppliedIndex() uint64 { return n.raft().AppliedIndex() }

func (n *Node) leader() (addr, id string) {
	a, i := n.raft().LeaderWithID()
	return string(a), string(i)
}

// applyLocal appends an entry on this node, which must be the leader, and
// returns its index once committed and applied here.
func (n *Node) applyLocal(entry []byte, timeout time.Duration) (uint64, error) {
	if n.closed.Load() {
		return 0, ErrClosed
	}
	r := n.raft()
	if r.State() != raft.Leader {
		return 0, ErrNotLeader
	}
	f := r.Apply(entry, timeout)
	if err := n.awaitFuture(f, timeout+time.Second); err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
			errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.Is(err, raft.ErrRaftShutdown):
			return 0, ErrNotLeader
		case errors.Is(err, raft.ErrEnqueueTimeout):
			return 0, ErrNoQuorum
		}
		return 0, err
	}
	if n.cfg.NudgeCommits && len(entry) > 0 && entry[0] != entryPublish {
		// A write someone waits for (the forwarding follower waits for its
		// own apply; a reader on the other box expects it there): tell
		// the followers the commit index now. Published batches follow
		// each other closely enough to carry it.
		select {
		case n.nudge <- struct{}{}:
		default:
		}
	}
	return f.Index(), nil
}

// submit appends entry through the current leader, following leadership
// changes, until the deadline.
func (n *Node) submit(ctx context.Context, entry []byte) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.WriteTimeout)
	defer cancel()
	var last error
	for {
		if n.closed.Load() {
			return 0, ErrClosed
		}
		addr, id := n.leader()
		var idx uint64
		var err error
		switch {
		case id == n.cfg.NodeID:
			left := time.Until(deadlineOf(ctx))
			idx, err = n.applyLocal(entry, max(left, time.Millisecond))
		case addr == "":
			err = ErrNoQuorum
			if !n.quorumReachable() {
				return 0, ErrNoQuorum // gossip says a majority is down: do not wait
			}
		default:
			var out []byte
			out, err = n.call(ctx, addr, opApply, entry)
			if err == nil && len(out) == 8 {
				idx = binary.BigEndian.Uint64(out)
			}
		}
		if err == nil {
			return idx, nil
		}
		last = err
		var re *rpcError
		if errors.As(err, &re) {
			return 0, err // the leader refused it: not retryable
		}
		select {
		case <-ctx.Done():
			if errors.Is(last, ErrNotLeader) || errors.Is(last, ErrNoQuorum) || errors.Is(last, context.DeadlineExceeded) || isNetErr(last) {
				if !n.quorumReachable() || n.raft().State() == raft.Candidate || addr == "" {
					return 0, ErrNoQuorum
				}
			}
			return 0, fmt.Errorf("replication: write not committed: %w", last)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed)
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// Commit replicates a write that must be committed before it is
// acknowledged (a map edit, a server state change, a config file). It
// returns once the entry is committed by a quorum and applied on this
// node, with this node's ApplyRemote result; the other nodes apply it
// within a few CommitTimeouts. Any node may call it: a follower forwards
// to the leader.
func (n *Node) Commit(ctx context.Context, stream string, payload []byte) error {
	if n.cfg.Witness {
		return ErrWitness
	}
	if _, id := n.leader(); id == "" && !n.quorumReachable() {
		return ErrNoQuorum
	}
	entry := encodeCommit(entryCommit, n.fsm.incarnation, stream, payload)
	idx, err := n.submit(ctx, entry)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, n.cfg.WriteTimeout)
	defer cancel()
	return n.fsm.waitApplied(wctx, idx)
}

// quorumReachable says whether a majority of the voters is alive, by
// gossip (without gossip, by Raft's own view: a known leader).
func (n *Node) quorumReachable() bool {
	cf := n.raft().GetConfiguration()
	if cf.Error() != nil {
		return false
	}
	voters, alive := 0, 0
	live := map[string]bool{n.cfg.NodeID: true}
	if n.gossip != nil {
		for _, m := range n.gossip.ml.Members() {
			if m.State == memberlist.StateAlive {
				live[m.Name] = true
			}
		}
	} else if _, id := n.leader(); id != "" {
		return true
	}
	for _, s := range cf.Configuration().Servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		voters++
		if live[string(s.ID)] {
			alive++
		}
	}
	return voters > 0 && alive > voters/2
}

// Publish hands a batch of deltas of a last-writer-wins stream (stick
// tables) to replication. It never blocks: payloads are batched into one
// Raft entry every BatchEvery; while there is no leader they wait, up to
// MaxPendingBytes, beyond which they are dropped and the stream is resent
// whole (Snapshot) once a leader is back. The payload is the caller's no
// more: do not reuse it.
func (n *Node) Publish(stream string, payload []byte) {
	if !n.cfg.NoDirect && !n.closed.Load() {
		n.direct.add(stream, payload)
	}
	n.pub.publish(stream, payload)
}

// Settled says whether every payload published so far is committed by a
// quorum (nothing waits in the batcher or in flight). The appliance can
// wait for it (bounded) before releasing its VIPs on a graceful handover.
func (n *Node) Settled() bool { return n.pub.settled() }

// OnLocalMaster tells replication this box became VRRP master: Raft
// leadership follows (the leader hands it over), so writes originate where
// traffic is. OnLocalBackup ends the preference.
func (n *Node) OnLocalMaster() {
	n.prefer.Store(true)
	n.kickLeadership()
}

// OnLocalBackup clears the OnLocalMaster preference.
func (n *Node) OnLocalBackup() { n.prefer.Store(false) }

func (n *Node) kickLeadership() {
	if n.IsLeader() {
		return
	}
	addr, id := n.leader()
	if addr == "" || id == n.cfg.NodeID {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.RPCTimeout)
	defer cancel()
	_, _ = n.call(ctx, addr, opTransfer, []byte(n.cfg.NodeID))
}

// TransferLeadershipTo hands Raft leadership to the named node (through
// the current leader) and returns once that node leads.
func (n *Node) TransferLeadershipTo(ctx context.Context, node string) error {
	deadline := time.Now().Add(n.cfg.WriteTimeout)
	for {
		addr, id := n.leader()
		if id == node {
			return nil
		}
		var err error
		switch {
		case id == n.cfg.NodeID:
			err = n.transferLocal(node)
		case addr == "":
			err = ErrNoQuorum
		default:
			_, err = n.call(ctx, addr, opTransfer, []byte(node))
		}
		var re *rpcError
		if errors.As(err, &re) {
			return err
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("replication: leadership did not move in time")
			}
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (n *Node) transferLocal(node string) error {
	r := n.raft()
	if r.State() != raft.Leader {
		return ErrNotLeader
	}
	if node == n.cfg.NodeID {
		return nil
	}
	for _, s := range r.GetConfiguration().Configuration().Servers {
		if string(s.ID) == node && s.Suffrage == raft.Voter {
			err := n.awaitFuture(r.LeadershipTransferToServer(s.ID, s.Address), 2*n.cfg.ElectionTimeout+time.Second)
			if errors.Is(err, raft.ErrLeadershipTransferInProgress) {
				return nil
			}
			return err
		}
	}
	return &rpcError{status: stErr, msg: fmt.Sprintf("replication: %q is not a voter", node)}
}

// awaitFuture waits for a Raft future, but not past the node's shutdown
// or timeout: a future cut short by a shutdown may never answer.
func (n *Node) awaitFuture(f raft.Future, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-n.stop:
		return ErrClosed
	case <-time.After(timeout):
		return errors.New("replication: raft operation timed out")
	}
}

func (n *Node) addVoterLocal(req addVoterReq) error {
	r := n.raft()
	if r.State() != raft.Leader {
		return ErrNotLeader
	}
	n.removedMu.Lock()
	gone := n.removed[req.ID]
	n.removedMu.Unlock()
	if gone {
		return ErrRemoved
	}
	for _, s := range r.GetConfiguration().Configuration().Servers {
		if string(s.ID) == req.ID && string(s.Address) == req.Addr && s.Suffrage == raft.Voter {
			return nil
		}
	}
	return r.AddVoter(raft.ServerID(req.ID), raft.ServerAddress(req.Addr), 0, n.cfg.WriteTimeout).Error()
}

func (n *Node) removeLocal(id string) error {
	r := n.raft()
	if r.State() != raft.Leader {
		return ErrNotLeader
	}
	n.removedMu.Lock()
	n.removed[id] = true
	n.removedMu.Unlock()
	return r.RemoveServer(raft.ServerID(id), 0, n.cfg.WriteTimeout).Error()
}

// RemoveNode removes a member from the voters (`applctl cluster remove`).
// A removed node that keeps running is not re-admitted by its own
// requests; one wiped and joined again with the token is.
func (n *Node) RemoveNode(ctx context.Context, id string) error {
	for {
		addr, lid := n.leader()
		var err error
		switch {
		case lid == n.cfg.NodeID:
			err = n.removeLocal(id)
		case addr == "":
			err = ErrNoQuorum
		default:
			_, err = n.call(ctx, addr, opRemove, []byte(id))
		}
		if err == nil || !errors.Is(err, ErrNotLeader) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// RecoverForceSingle makes this node the only voter, so that a survivor
// of a pair can commit again (`applctl cluster recover --force-single`,
// like Consul's peers.json outage recovery). Run it on one box only, and
// only when the other is really down: two boxes forced single are a split
// brain. When the other box returns it asks to be re-admitted and follows
// this one.
func (n *Node) RecoverForceSingle() error {
	if n.closed.Load() {
		return ErrClosed
	}
	n.raMu.Lock()
	defer n.raMu.Unlock()
	old := n.raft()
	ow := n.w.Load()
	ow.layer.Close() // first: see shutdown
	if err := old.Shutdown().Error(); err != nil {
		return err
	}
	ow.trans.Close()
	ow.layer.wait()
	n.pool.closeAll()
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		if ln, err = net.Listen("tcp", n.boundAddr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("replication: force-single: listen again: %w", err)
	}
	w, err := n.openWire(ln)
	if err != nil {
		return err
	}
	n.w.Store(w)
	conf := raft.Configuration{Servers: []raft.Server{{
		ID: raft.ServerID(n.cfg.NodeID), Address: raft.ServerAddress(n.cfg.AdvertiseAddr), Suffrage: raft.Voter,
	}}}
	if err := raft.RecoverCluster(n.rconf, n.fsm, n.wal, n.wal, n.snaps, w.trans, conf); err != nil {
		return fmt.Errorf("replication: force-single recovery: %w", err)
	}
	// The FSM already holds everything (RecoverCluster applied the whole
	// log): do not restore the snapshot it made over the live tables.
	rc := *n.rconf
	rc.NoSnapshotRestoreOnStart = true
	r, err := raft.NewRaft(&rc, n.fsm, n.wal, n.wal, n.snaps, w.trans)
	if err != nil {
		return err
	}
	n.r.Store(r)
	return nil
}

// maintain runs the background duties: a witness hands leadership to a
// box, the VRRP master pulls leadership, a node out of the configuration
// asks to be admitted, gossip joins known members.
func (n *Node) maintain() {
	defer n.wg.Done()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var lastAsk, lastPull, lastGossip time.Time
	for {
		select {
		case <-n.stop:
			return
		case <-tick.C:
		}
		r := n.raft()
		addr, id := n.leader()
		if id != "" {
			n.lastLdrAt.Store(time.Now().UnixNano())
		}
		cf := r.GetConfiguration()
		var servers []raft.Server
		if cf.Error() == nil {
			servers = cf.Configuration().Servers
		}
		member := false
		for _, s := range servers {
			if string(s.ID) == n.cfg.NodeID {
				member = true
			}
		}
		if n.cfg.Witness && r.State() == raft.Leader && len(servers) > 1 {
			if target := n.pickBox(servers); target != "" {
				_ = n.transferLocal(target)
			}
		}
		if n.prefer.Load() && id != "" && id != n.cfg.NodeID && time.Since(lastPull) > time.Second {
			lastPull = time.Now()
			go n.kickLeadership()
		}
		noLeaderFor := time.Since(time.Unix(0, n.lastLdrAt.Load()))
		if id == "" && noLeaderFor > n.cfg.HeartbeatTimeout && !n.cfg.Witness {
			n.applyLogTail()
		}
		if (!member || (id == "" && noLeaderFor > 3*n.cfg.ElectionTimeout)) && time.Since(lastAsk) > time.Second {
			lastAsk = time.Now()
			n.askAdmission(servers)
		}
		if n.gossip != nil && n.gossip.ml.NumMembers() < len(servers) && time.Since(lastGossip) > 2*time.Second {
			lastGossip = time.Now()
			n.gossip.joinVia(n, servers)
		}
		_ = addr
	}
}

// applyLogTail applies the published (last-writer-wins) entries this node
// holds in its log beyond what it knows is committed, when it has lost the
// leader. A follower learns that an entry is committed only with the next
// message from the leader, so a box whose peer died keeps the stick updates
// of the last few milliseconds this way. In a pair an entry the follower
// holds is on both voters, so any future leader has it; applying it again
// once committed is harmless (idempotent). Map and config writes are not
// touched: they apply only when committed.
func (n *Node) applyLogTail() {
	from := max(n.raft().AppliedIndex(), n.tailDone) + 1
	last, err := n.wal.LastIndex()
	if err != nil {
		return
	}
	for i := from; i <= last; i++ {
		var l raft.Log
		if n.wal.GetLog(i, &l) != nil {
			return
		}
		n.tailDone = i
		if l.Type != raft.LogCommand || len(l.Data) == 0 || (l.Data[0] != entryPublish && l.Data[0] != entryResync) {
			continue
		}
		_ = n.fsm.applyEntry(i, l.Data)
		n.tailApplied.Add(1)
	}
}

// pickBox chooses the voter a witness hands leadership to: a box that
// answers over the cluster port now (gossip alone can see a peer Raft
// cannot reach), the VRRP master if gossip names one.
func (n *Node) pickBox(servers []raft.Server) string {
	st := map[string]MemberStatus{}
	if n.gossip != nil {
		for _, m := range n.gossip.statuses() {
			st[m.Node] = m
		}
	}
	var cands []string
	wants := ""
	for _, s := range servers {
		id := string(s.ID)
		if id == n.cfg.NodeID || s.Suffrage != raft.Voter || st[id].Witness {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := n.call(ctx, string(s.Address), opStatus, nil)
		cancel()
		if err != nil {
			continue
		}
		cands = append(cands, id)
		if st[id].WantsLeader {
			wants = id
		}
	}
	if wants != "" {
		return wants
	}
	if len(cands) > 0 {
		return cands[0]
	}
	return ""
}

// askAdmission asks the known members (config Join, the last Raft
// configuration, gossip) to add this node as a voter.
func (n *Node) askAdmission(servers []raft.Server) {
	seen := map[string]bool{n.cfg.AdvertiseAddr: true}
	var targets []string
	add := func(a string) {
		if a != "" && !seen[a] {
			seen[a] = true
			targets = append(targets, a)
		}
	}
	for _, a := range n.cfg.Join {
		add(a)
	}
	for _, s := range servers {
		add(string(s.Address))
	}
	if n.gossip != nil {
		for _, st := range n.gossip.statuses() {
			add(st.RaftAddr)
		}
	}
	body, _ := json.Marshal(addVoterReq{ID: n.cfg.NodeID, Addr: n.cfg.AdvertiseAddr, Witness: n.cfg.Witness})
	for _, a := range targets {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := n.call(ctx, a, opAddVoter, body)
		cancel()
		if errors.Is(err, ErrNotLeader) {
			// The answer names the leader: ask it directly.
			if l, _ := n.leaderFromErr(err); l != "" && !seen[l] {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, err = n.call(ctx, l, opAddVoter, body)
				cancel()
			}
		}
		if err == nil {
			return
		}
	}
}

func (n *Node) leaderFromErr(err error) (string, bool) {
	var s string
	if _, e := fmt.Sscanf(err.Error(), ErrNotLeader.Error()+" (leader %q)", &s); e == nil {
		return s, true
	}
	return "", false
}

// Close leaves gossip, stops Raft and closes the stores. Leadership is not
// handed over (the appliance releases its VIPs first; the peer then takes
// over leadership through OnLocalMaster).
func (n *Node) Close() error {
	return n.shutdown(true)
}

// kill stops the node like a crash: no gossip leave, no flush of pending
// publishes. For fault tests.
func (n *Node) kill() error {
	return n.shutdown(false)
}

func (n *Node) shutdown(graceful bool) error {
	if !n.closed.CompareAndSwap(false, true) {
		return nil
	}
	if graceful {
		// Hand what was published to Raft and give it a moment to commit.
		n.pub.flushNow()
		for end := time.Now().Add(2 * time.Second); !n.pub.settled() && time.Now().Before(end); {
			time.Sleep(5 * time.Millisecond)
		}
	}
	n.stopOnce.Do(func() { close(n.stop) })
	if n.gossip != nil {
		n.gossip.close(graceful)
	}
	// Close the connections before stopping Raft: a replication goroutine
	// blocked on a peer that does not answer would otherwise hold Raft's
	// shutdown forever.
	w := n.w.Load()
	if w != nil {
		w.layer.Close()
	}
	var err error
	if r := n.raft(); r != nil {
		n.raMu.Lock()
		err = r.Shutdown().Error()
		n.raMu.Unlock()
	}
	if w != nil {
		w.trans.Close()
	}
	n.pool.closeAll()
	n.wg.Wait()
	if w != nil {
		w.layer.wait()
	}
	n.closeStores()
	return err
}

func (n *Node) closeStores() {
	if n.wal != nil {
		n.wal.Close()
	}
}

// Status is what `applctl cluster status` shows.
type Status struct {
	Node         string         `json:"node"`
	Witness      bool           `json:"witness"`
	State        string         `json:"state"` // Leader, Follower, Candidate, Shutdown
	Leader       string         `json:"leader"`
	LeaderAddr   string         `json:"leader_addr"`
	Term         uint64         `json:"term"`
	LastIndex    uint64         `json:"last_index"`
	CommitIndex  uint64         `json:"commit_index"`
	AppliedIndex uint64         `json:"applied_index"`
	Quorum       bool           `json:"quorum"`
	Voters       []VoterStatus  `json:"voters"`
	Members      []MemberStatus `json:"members"`
	Counters     Counters       `json:"counters"`
}

// VoterStatus is one voter as seen from the node asked.
type VoterStatus struct {
	ID           string `json:"id"`
	Addr         string `json:"addr"`
	Suffrage     string `json:"suffrage"`
	Reachable    bool   `json:"reachable"`
	State        string `json:"state,omitempty"`
	AppliedIndex uint64 `json:"applied_index"`
	Lag          uint64 `json:"lag"` // entries behind this node's commit index
	Error        string `json:"error,omitempty"`
}

// Counters are the node's replication counters (also for metrics).
type Counters struct {
	PublishedRecords  int64 `json:"published_records"`
	PublishedEntries  int64 `json:"published_entries"`
	PublishDropped    int64 `json:"publish_dropped"`
	Resyncs           int64 `json:"resyncs"`
	AppliedRecords    int64 `json:"applied_records"`
	UnknownStreams    int64 `json:"unknown_stream_records"`
	MalformedEntries  int64 `json:"malformed_entries"`
	ApplyErrors       int64 `json:"apply_errors"`
	RefusedConns      int64 `json:"refused_conns"`
	BadJoinTokens     int64 `json:"bad_join_tokens"`
	MalformedRequests int64 `json:"malformed_requests"`
	DirectSent        int64 `json:"direct_sent"`       // direct batches a peer took
	DirectFailed      int64 `json:"direct_failed"`     // direct batches a peer did not answer (Raft delivers them)
	DirectDropped     int64 `json:"direct_dropped"`    // payloads not sent directly, a peer too slow (Raft delivers them)
	DirectApplied     int64 `json:"direct_applied"`    // records applied here from other boxes' direct batches
	DirectDuplicates  int64 `json:"direct_duplicates"` // their Raft copies, not applied again
}

func (n *Node) localStats() peerStats {
	r := n.raft()
	st := r.Stats()
	return peerStats{
		ID:           n.cfg.NodeID,
		State:        r.State().String(),
		Term:         parseU(st["term"]),
		LastIndex:    r.LastIndex(),
		CommitIndex:  parseU(st["commit_index"]),
		AppliedIndex: r.AppliedIndex(),
		GossipAddr:   n.gossipAddr(),
	}
}

func (n *Node) gossipAddr() string {
	if n.cfg.GossipAdvertise != "" {
		return n.cfg.GossipAdvertise
	}
	return n.cfg.GossipAddr
}

func parseU(s string) uint64 {
	var v uint64
	fmt.Sscan(s, &v)
	return v
}

// Status gathers the cluster's state, asking each voter for its indexes.
func (n *Node) Status(ctx context.Context) Status {
	ls := n.localStats()
	addr, id := n.leader()
	s := Status{
		Node: n.cfg.NodeID, Witness: n.cfg.Witness, State: ls.State, Leader: id, LeaderAddr: addr,
		Term: ls.Term, LastIndex: ls.LastIndex, CommitIndex: ls.CommitIndex, AppliedIndex: ls.AppliedIndex,
		Quorum: id != "" || n.quorumReachable(),
	}
	cf := n.raft().GetConfiguration()
	if cf.Error() == nil {
		servers := cf.Configuration().Servers
		s.Voters = make([]VoterStatus, len(servers))
		var wg sync.WaitGroup
		for i, sv := range servers {
			v := &s.Voters[i]
			v.ID, v.Addr, v.Suffrage = string(sv.ID), string(sv.Address), sv.Suffrage.String()
			if v.ID == n.cfg.NodeID {
				v.Reachable, v.State, v.AppliedIndex = true, ls.State, ls.AppliedIndex
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				defer cancel()
				out, err := n.call(cctx, v.Addr, opStatus, nil)
				var ps peerStats
				if err == nil {
					err = json.Unmarshal(out, &ps)
				}
				if err != nil {
					v.Error = err.Error()
					return
				}
				v.Reachable, v.State, v.AppliedIndex = true, ps.State, ps.AppliedIndex
			}()
		}
		wg.Wait()
		for i := range s.Voters {
			if v := &s.Voters[i]; v.Reachable && s.CommitIndex > v.AppliedIndex {
				v.Lag = s.CommitIndex - v.AppliedIndex
			}
		}
	}
	if n.gossip != nil {
		s.Members = n.gossip.members()
	}
	s.Counters = n.counters()
	return s
}

func (n *Node) counters() Counters {
	return Counters{
		PublishedRecords:  n.pub.records.Load(),
		PublishedEntries:  n.pub.entries.Load(),
		PublishDropped:    n.pub.dropped.Load(),
		Resyncs:           n.pub.resyncs.Load(),
		AppliedRecords:    n.fsm.records.Load(),
		UnknownStreams:    n.fsm.unknown.Load(),
		MalformedEntries:  n.fsm.malformed.Load(),
		ApplyErrors:       n.fsm.applyErrs.Load(),
		RefusedConns:      n.layer().refused.Load(),
		BadJoinTokens:     n.badJoins.Load(),
		MalformedRequests: n.malformedRPC.Load(),
		DirectSent:        n.direct.sent.Load(),
		DirectFailed:      n.direct.failed.Load(),
		DirectDropped:     n.direct.dropped.Load(),
		DirectApplied:     n.direct.applied.Load(),
		DirectDuplicates:  n.fsm.directDups.Load(),
	}
}

// Voters lists the IDs of the current voters, sorted.
func (n *Node) Voters() []string {
	var out []string
	cf := n.raft().GetConfiguration()
	if cf.Error() != nil {
		return nil
	}
	for _, s := range cf.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			out = append(out, string(s.ID))
		}
	}
	sort.Strings(out)
	return out
}
