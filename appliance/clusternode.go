package appliance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"appl/appliance/admin"
	"appl/appliance/cluster"
	"appl/proxy/runtime"
	"appl/proxy/stick"
	"appl/replication"
	"appl/vrrp"
)

// repl is the node's replication side: the running replication.Node (nil until the
// cluster section's node has cluster material: `applctl cluster init` or `join`) and
// the streams it carries.
type repl struct {
	node    atomic.Pointer[replication.Node]
	startMu sync.Mutex // one start at a time (appld start, init, join)

	config  *replication.ConfigStream
	servers *replication.ServerStates
	stick   map[string]*stick.Table // tables whose sink is attached, by name
	stickMu sync.Mutex
}

// ErrNoCluster answers cluster commands on a node without a cluster section.
var ErrNoCluster = errors.New("this node has no cluster section in its configuration (see docs/replication.md)")

// errNotJoined refuses replicated writes on a box with a cluster section that is not in
// a cluster (yet, or again after its data dir was wiped): taken locally they would be
// acknowledged on this box alone and silently diverge from the cluster.
var errNotJoined = errors.New("not in a cluster yet: map and server writes are refused until `applctl cluster init` (first box) or `applctl cluster join ADDR --token T` (the others)")

// replNode is the running replication node, nil when none.
func (n *Node) replNode() *replication.Node { return n.repl.node.Load() }

func (n *Node) clusterConfig() *ClusterConfig { return n.Config().Cluster }

// hasMaterial says whether the data dir holds cluster material (init or join done).
func hasMaterial(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, "cluster", "ca.crt"))
	return err == nil
}

// startReplication starts replication when the cluster section asks for it and the node
// has its material; otherwise it says why not and returns nil: the node runs alone.
func (n *Node) startReplication(extraJoin ...string) error {
	cc := n.clusterConfig()
	if cc == nil {
		return nil
	}
	n.repl.startMu.Lock()
	defer n.repl.startMu.Unlock()
	if n.replNode() != nil {
		return nil
	}
	if !hasMaterial(cc.DataDir) {
		n.log.Warn("cluster section present but this node is not in a cluster yet: run `applctl cluster init` on the first box, `applctl cluster join ADDR --token T` on the others; until then it runs alone",
			zap.String("data_dir", cc.DataDir))
		return nil
	}
	var streams []replication.Replicated
	if !n.opts.Witness {
		streams = n.clusterStreams()
	}
	rc := replication.Config{
		NodeID: n.Config().NodeName(), DataDir: cc.DataDir,
		BindAddr: cc.Bind, AdvertiseAddr: cc.Advertise, GossipAddr: cc.Gossip,
		Join: append(append([]string(nil), cc.Join...), extraJoin...), Witness: n.opts.Witness,
		LocalStatus: n.memberStatus, Version: n.opts.Version, LogOutput: zapWriter{n.log.Named("raft")},
		// A map write taken on the follower is answered once the follower has applied
		// it: NudgeCommits makes the leader tell followers about the commit at once
		// (a barrier entry after each committed write) instead of with its next
		// message up to CommitTimeout (5 ms) later: follower acks p99 ~6 ms instead of
		// 15-100 ms. Writes on the master (the leader) take ~1 ms either way.
		NudgeCommits: true,
		// With the nudge, CommitTimeout only paces the leader's empty AppendEntries
		// (a TLS write, a decode and an answer on both boxes, 100-200 a second at
		// 5 ms): 20 ms cuts an idle pair's replication CPU by about half (measured
		// 47-52 + 38-42 ms/s → 31-36 + 27-36 ms/s per box, an unjoined appld ~30).
		// Stick batches do not wait for it: they reach the standby directly.
		CommitTimeout: cluster.RaftCommitTimeout,
		// Stick batches (a table flush every 10 ms) reach the standby's memory at
		// once by replication's direct path; Raft carries the durable copy in
		// entries of up to 100 ms of them: ~10 Raft entries a second under load
		// instead of ~100, each a bolt commit with two fsyncs on both boxes.
		BatchEvery: cluster.RaftBatchEvery,
	}
	rn, err := replication.Start(rc, streams...)
	if err != nil {
		return fmt.Errorf("replication: %w", err)
	}
	n.repl.node.Store(rn)
	if !n.opts.Witness {
		n.attachStickSinks()
		n.mu.Lock()
		sp := n.speaker
		n.mu.Unlock()
		if sp != nil {
			n.noteVRRP(sp)
		}
	}
	n.log.Info("replication running", zap.String("node", rc.NodeID), zap.String("bind", cc.Bind), zap.String("gossip", cc.Gossip),
		zap.Strings("join", rc.Join), zap.Bool("witness", n.opts.Witness))
	return nil
}

// stopReplication closes replication (flushing stick updates) before the proxy stops.
func (n *Node) stopReplication() {
	if rn := n.repl.node.Swap(nil); rn != nil {
		if err := rn.Close(); err != nil {
			n.log.Warn("replication close", zap.Error(err))
		}
	}
}

// clusterStreams are an appliance's replicated streams: the map store, the config
// file, runtime server states and one stream per stick table known at start (a table
// added by a later reload is replicated from the next start).
func (n *Node) clusterStreams() []replication.Replicated {
	n.repl.config = &replication.ConfigStream{Apply: n.applyPushedConfig}
	n.repl.servers = &replication.ServerStates{Apply: n.applyServerState}
	out := []replication.Replicated{cluster.MapsStream{Store: n.opts.Maps}, n.repl.config, n.repl.servers}
	n.mu.Lock()
	p := n.proxy
	n.mu.Unlock()
	if p != nil {
		for _, t := range p.Tables() {
			out = append(out, cluster.StickStream{Table: t.Name(), Find: n.findTable})
		}
	}
	return out
}

func (n *Node) findTable(name string) *stick.Table {
	n.mu.Lock()
	p := n.proxy
	n.mu.Unlock()
	if p == nil {
		return nil
	}
	for _, t := range p.Tables() {
		if t.Name() == name {
			return t
		}
	}
	return nil
}

func (n *Node) publisher() cluster.Publisher {
	if rn := n.replNode(); rn != nil {
		return rn.Publish
	}
	return nil
}

// attachStickSinks makes every stick table publish its changes; after a reload, only
// tables that are new objects are attached.
func (n *Node) attachStickSinks() {
	n.mu.Lock()
	p := n.proxy
	n.mu.Unlock()
	if p == nil || n.replNode() == nil {
		return
	}
	n.repl.stickMu.Lock()
	defer n.repl.stickMu.Unlock()
	if n.repl.stick == nil {
		n.repl.stick = map[string]*stick.Table{}
	}
	for _, t := range p.Tables() {
		if n.repl.stick[t.Name()] == t {
			continue
		}
		cluster.AttachStick(t, n.publisher)
		n.repl.stick[t.Name()] = t
	}
}

// applyPushedConfig is the config stream's callback on every node: validate the file
// for this node, write it over the running file and reload. A file equal to the running
// one (a replay) changes nothing.
func (n *Node) applyPushedConfig(file []byte) error {
	cur := n.Config()
	sum := sha256.Sum256(file)
	if hex.EncodeToString(sum[:]) == cur.Hash {
		return nil
	}
	cfg, err := n.decodeForNode(file, true)
	if err != nil {
		n.log.Error("pushed configuration refused by this node; the running one keeps serving", zap.Error(err))
		return err
	}
	if fileBacked(cur.Path) {
		if err := writeFileAtomic(cur.Path, file); err != nil {
			return fmt.Errorf("cannot write the pushed configuration to %s: %w", cur.Path, err)
		}
	}
	if err := n.Reload(cfg); err != nil {
		n.log.Error("pushed configuration not applied", zap.Error(err))
		return err
	}
	n.feedChecks()
	n.attachStickSinks()
	n.log.Info("pushed configuration applied", zap.String("hash", cfg.Hash[:12]))
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp := path + ".push.tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// applyServerState is the server-state stream's callback on every node.
func (n *Node) applyServerState(st replication.ServerState) error {
	t := n.runtimeTarget()
	if st.Admin != "" {
		var a runtime.AdminState
		switch st.Admin {
		case "ready":
			a = runtime.StateReady
		case "drain":
			a = runtime.StateDrain
		case "maint":
			a = runtime.StateMaint
		default:
			return fmt.Errorf("unknown server state %q", st.Admin)
		}
		if err := t.SetServerState(st.Backend, st.Server, a); err != nil {
			return err
		}
	}
	if st.Weight >= 0 {
		return t.SetServerWeight(st.Backend, st.Server, st.Weight)
	}
	return nil
}

func (n *Node) runtimeTarget() *runtimeTarget {
	return &runtimeTarget{node: n, store: n.opts.Maps, started: n.started}
}

// writes is the runtime API's replicated-write handler for this node.
func (n *Node) writes() *cluster.Writes {
	t := n.runtimeTarget()
	return &cluster.Writes{
		Maps: n.opts.Maps,
		Commit: func(ctx context.Context, stream string, p []byte) error {
			rn := n.replNode()
			if rn == nil {
				return errNotJoined
			}
			return rn.Commit(ctx, stream, p)
		},
		Server: func(ctx context.Context, be, srv, adminState string, weight int) error {
			rn := n.replNode()
			if rn == nil {
				return errNotJoined
			}
			p, err := replication.EncodeServerState(replication.ServerState{Backend: be, Server: srv, Admin: adminState, Weight: weight})
			if err != nil {
				return err
			}
			return rn.Commit(ctx, replication.StreamServers, p)
		},
		ServerExists: func(be, srv string) error {
			rows, err := t.ServersState(be)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if r.Server == srv {
					return nil
				}
			}
			return runtime.ErrNoServer
		},
	}
}

// followVRRP makes Raft leadership follow this box's VRRP mastership: master of any
// instance asks for leadership, backup everywhere gives the preference up. States come
// from the events themselves (a Status read right after an event can still show the
// state before it), and are re-read from Status every few seconds as a safety net.
func (n *Node) followVRRP() {
	n.mu.Lock()
	sp := n.speaker
	n.mu.Unlock()
	if sp == nil {
		return
	}
	ch, cancel := sp.Subscribe()
	go func() {
		defer cancel()
		states := vrrpStates(sp)
		n.applyVRRP(states)
		tick := time.NewTicker(3 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-n.stopped:
				return
			case <-tick.C:
				states = vrrpStates(sp)
			case e, ok := <-ch:
				if !ok {
					return
				}
				states[e.Instance] = e.To
			}
			n.applyVRRP(states)
		}
	}()
}

func vrrpStates(sp *vrrp.Speaker) map[string]string {
	m := map[string]string{}
	for _, in := range sp.Status() {
		m[in.Name] = in.State
	}
	return m
}

// noteVRRP tells a just-started replication node where mastership is now.
func (n *Node) noteVRRP(sp *vrrp.Speaker) { n.applyVRRP(vrrpStates(sp)) }

func (n *Node) applyVRRP(states map[string]string) {
	rn := n.replNode()
	if rn == nil {
		return
	}
	master := false
	for _, st := range states {
		if st == "MASTER" {
			master = true
		}
	}
	if master {
		rn.OnLocalMaster()
	} else {
		rn.OnLocalBackup()
	}
}

// memberStatus is what this node gossips: role, VRRP states, health, config hash.
func (n *Node) memberStatus() replication.MemberStatus {
	n.mu.Lock()
	cfg, p, sp := n.cfg, n.proxy, n.speaker
	n.mu.Unlock()
	ms := replication.MemberStatus{Node: cfg.NodeName(), Role: "appliance", ConfigHash: cfg.Hash, Version: n.opts.Version}
	if n.opts.Witness {
		ms.Role, ms.Witness = "witness", true
		return ms
	}
	if sp != nil {
		ms.VRRP = map[string]string{}
		for _, in := range sp.Status() {
			ms.VRRP[in.Name] = in.State
		}
	}
	if p != nil {
		up, all := 0, 0
		for _, be := range p.Status().Backends {
			all += len(be.Servers)
			up += be.ActiveUp + be.BackupUp
		}
		ms.Health = fmt.Sprintf("%d/%d servers up", up, all)
	}
	return ms
}

// replicationStatus is the short form `applctl status` shows.
func (n *Node) replicationStatus() admin.Replication {
	if n.clusterConfig() == nil {
		return admin.Replication{Role: "none"}
	}
	rn := n.replNode()
	if rn == nil {
		return admin.Replication{Role: "not joined"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st := rn.Status(ctx)
	role := strings.ToLower(st.State)
	if st.Witness {
		role = "witness " + role
	}
	return admin.Replication{Role: role, Leader: st.Leader, Term: st.Term, Quorum: st.Quorum, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex}
}

// zapWriter turns Raft's and memberlist's log lines into zap entries.
type zapWriter struct{ l *zap.Logger }

func (z zapWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			z.l.Info(line)
		}
	}
	return len(p), nil
}

var _ admin.ClusterTarget = adminTarget{}

func (a adminTarget) ClusterInit() (string, error) {
	n := a.n
	cc := n.clusterConfig()
	if cc == nil {
		return "", ErrNoCluster
	}
	if n.replNode() != nil {
		return "", errors.New("this node is already in a cluster (`applctl cluster token` prints its join token)")
	}
	tok, err := replication.InitCluster(cc.DataDir)
	if err != nil {
		return "", err
	}
	if err := n.startReplication(); err != nil {
		return "", err
	}
	return tok, nil
}

func (a adminTarget) ClusterToken() (string, error) {
	cc := a.n.clusterConfig()
	if cc == nil {
		return "", ErrNoCluster
	}
	return replication.ReadToken(cc.DataDir)
}

func (a adminTarget) ClusterJoin(ctx context.Context, addr, token string) error {
	n := a.n
	cc := n.clusterConfig()
	if cc == nil {
		return ErrNoCluster
	}
	if n.replNode() != nil {
		return errors.New("this node is already in a cluster (remove it with `applctl cluster remove` on a member and wipe its data dir to join another)")
	}
	if err := replication.ParseToken(token); err != nil {
		return err
	}
	if err := checkHostPort(addr); err != nil {
		return fmt.Errorf("%v (expected the cluster address of a member, ADDR:PORT)", err)
	}
	if err := replication.JoinCluster(ctx, cc.DataDir, n.Config().NodeName(), addr, token); err != nil {
		return err
	}
	return n.startReplication(addr)
}

func (a adminTarget) ClusterStatus(ctx context.Context) (any, error) {
	if a.n.clusterConfig() == nil {
		return nil, ErrNoCluster
	}
	rn := a.n.replNode()
	if rn == nil {
		return nil, errors.New("this node is not in a cluster yet (applctl cluster init, or cluster join ADDR --token T)")
	}
	st := rn.Status(ctx)
	sort.Slice(st.Members, func(i, j int) bool { return st.Members[i].Node < st.Members[j].Node })
	return st, nil
}

func (a adminTarget) running() (*replication.Node, error) {
	if a.n.clusterConfig() == nil {
		return nil, ErrNoCluster
	}
	rn := a.n.replNode()
	if rn == nil {
		return nil, errors.New("this node is not in a cluster yet (applctl cluster init, or cluster join ADDR --token T)")
	}
	return rn, nil
}

func (a adminTarget) ClusterRemove(ctx context.Context, node string) error {
	rn, err := a.running()
	if err != nil {
		return err
	}
	return rn.RemoveNode(ctx, node)
}

func (a adminTarget) ClusterRecover() error {
	rn, err := a.running()
	if err != nil {
		return err
	}
	a.n.log.Warn("forced single-node recovery requested: this node becomes the only voter")
	return rn.RecoverForceSingle()
}

// ConfigPush validates the file for this node (like appld -c) and commits it; every
// node then writes and reloads it. An invalid file is refused and nothing is committed.
func (a adminTarget) ConfigPush(ctx context.Context, data []byte) (admin.ReloadResult, error) {
	rn, err := a.running()
	if err != nil {
		return admin.ReloadResult{}, err
	}
	if a.n.opts.Witness {
		return admin.ReloadResult{}, errors.New("a witness holds no configuration: push from an appliance")
	}
	cfg, err := a.n.decodeForNode(data, false)
	if err != nil {
		return reloadResult(nil, err), nil
	}
	if err := rn.Commit(ctx, replication.StreamConfig, data); err != nil {
		return admin.ReloadResult{}, errors.New(cluster.ErrorLine(err))
	}
	return admin.ReloadResult{OK: true, ConfigHash: cfg.Hash, Warnings: cfg.Warnings}, nil
}

// runWitness runs a replication witness: the admin API and a Raft voter, nothing else
// (no proxy, no VIPs, no tables).
func (n *Node) runWitness(ctx context.Context, ready func()) error {
	if n.cfg.Cluster == nil {
		return fmt.Errorf("%s: --witness needs a cluster section (expected `cluster` with `bind` or a node block with `cluster-addr`)", n.cfg.Path)
	}
	n.mu.Lock()
	n.started = time.Now()
	n.mu.Unlock()
	if err := n.startReplication(); err != nil {
		return err
	}
	defer n.stopReplication()
	adm := n.startAdmin()
	defer adm.Close()
	n.mu.Lock()
	n.ready = true
	n.mu.Unlock()
	if ready != nil {
		ready()
	}
	n.log.Info("witness running", zap.String("node", n.cfg.NodeName()), zap.String("cluster", n.cfg.Cluster.Bind))
	<-ctx.Done()
	return nil
}
