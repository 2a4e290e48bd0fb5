package replication

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// MemberStatus is a node's live status as gossiped. The appliance fills
// Role, VRRP, Health and ConfigHash through Config.LocalStatus; the rest is
// filled here.
type MemberStatus struct {
	Node       string            `json:"node"`
	Role       string            `json:"role,omitempty"`   // appliance, witness
	VRRP       map[string]string `json:"vrrp,omitempty"`   // instance or VIP -> MASTER/BACKUP/FAULT
	Health     string            `json:"health,omitempty"` // e.g. "12/12 servers up"
	ConfigHash string            `json:"config_hash,omitempty"`
	Version    string            `json:"version,omitempty"`
	RaftAddr   string            `json:"raft_addr,omitempty"`
	GossipAddr string            `json:"gossip_addr,omitempty"`
	Witness    bool              `json:"witness,omitempty"`
	// WantsLeader: the appliance called OnLocalMaster (VRRP master).
	WantsLeader bool   `json:"wants_leader,omitempty"`
	Seq         uint64 `json:"seq"`
	// Alive is memberlist's view on the node asked; not gossiped.
	Alive bool `json:"alive"`
	// UpdatedAt is when the node asked last heard this status.
	UpdatedAt time.Time `json:"updated_at"`
}

type gossip struct {
	n   *Node
	ml  *memberlist.Memberlist // set once Create returns; delegate callbacks use mlp
	mlp atomic.Pointer[memberlist.Memberlist]
	q   *memberlist.TransmitLimitedQueue

	mu     sync.Mutex
	self   MemberStatus
	others map[string]MemberStatus

	stop chan struct{}
	wg   sync.WaitGroup
}

func startGossip(n *Node) (*gossip, error) {
	host, portS, err := net.SplitHostPort(n.cfg.GossipAddr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		return nil, err
	}
	g := &gossip{n: n, others: map[string]MemberStatus{}, stop: make(chan struct{})}
	c := memberlist.DefaultLANConfig()
	c.Name = n.cfg.NodeID
	c.BindAddr, c.BindPort = host, port
	c.AdvertiseAddr, c.AdvertisePort = host, port
	if n.cfg.GossipAdvertise != "" {
		ah, ap, err := net.SplitHostPort(n.cfg.GossipAdvertise)
		if err != nil {
			return nil, err
		}
		c.AdvertiseAddr = ah
		if c.AdvertisePort, err = strconv.Atoi(ap); err != nil {
			return nil, err
		}
	}
	c.SecretKey = n.mat.gossipKey()
	c.GossipVerifyIncoming, c.GossipVerifyOutgoing = true, true
	c.Delegate = g
	c.LogOutput = dropDebug{n.cfg.LogOutput} // memberlist logs every level
	// Faster than LAN defaults: two boxes on one segment, and the status
	// (VRRP state) is what an operator looks at during a failover.
	c.ProbeInterval = 500 * time.Millisecond
	c.ProbeTimeout = 250 * time.Millisecond
	c.GossipInterval = 100 * time.Millisecond
	c.PushPullInterval = 5 * time.Second
	g.self = g.localStatus()
	// The queue exists before memberlist starts calling the delegate.
	g.q = &memberlist.TransmitLimitedQueue{NumNodes: func() int {
		if ml := g.mlp.Load(); ml != nil {
			return ml.NumMembers()
		}
		return 1
	}, RetransmitMult: 3}
	ml, err := memberlist.Create(c)
	if err != nil {
		return nil, err
	}
	g.ml = ml
	g.mlp.Store(ml)
	g.wg.Add(1)
	go g.loop()
	return g, nil
}

// statusRefresh is how often an unchanged status is broadcast again.
const statusRefresh = 2 * time.Second

func (g *gossip) localStatus() MemberStatus {
	var s MemberStatus
	if g.n.cfg.LocalStatus != nil {
		s = g.n.cfg.LocalStatus()
	}
	s.Node = g.n.cfg.NodeID
	s.RaftAddr = g.n.cfg.AdvertiseAddr
	s.GossipAddr = g.n.cfg.GossipAddr
	if g.n.cfg.GossipAdvertise != "" {
		s.GossipAddr = g.n.cfg.GossipAdvertise
	}
	s.Witness = g.n.cfg.Witness
	s.WantsLeader = g.n.prefer.Load()
	if s.Role == "" {
		s.Role = "appliance"
		if s.Witness {
			s.Role = "witness"
		}
	}
	if s.Version == "" {
		s.Version = g.n.cfg.Version
	}
	return s
}

func (g *gossip) loop() {
	defer g.wg.Done()
	t := time.NewTicker(g.n.cfg.StatusEvery)
	defer t.Stop()
	// An unchanged status is still re-broadcast now and then: a broadcast
	// is UDP and retransmitted a few times only, so a member that missed
	// it (joined later, lost packets) would otherwise wait for the next
	// push/pull to learn it.
	var lastSent time.Time
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		s := g.localStatus()
		g.mu.Lock()
		s.Seq = g.self.Seq
		changed := !reflect.DeepEqual(s, g.self)
		if changed {
			s.Seq++
			g.self = s
		}
		g.mu.Unlock()
		if changed || time.Since(lastSent) >= statusRefresh {
			lastSent = time.Now()
			g.mu.Lock()
			s = g.self
			g.mu.Unlock()
			b, _ := json.Marshal(s)
			g.q.QueueBroadcast(&statusBroadcast{node: s.Node, msg: b})
		}
	}
}

// joinVia asks the voters for their gossip addresses and joins them.
func (g *gossip) joinVia(n *Node, servers []raft.Server) {
	var addrs []string
	for _, s := range servers {
		if string(s.ID) == n.cfg.NodeID {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		out, err := n.call(ctx, string(s.Address), opStatus, nil)
		cancel()
		var ps peerStats
		if err == nil && json.Unmarshal(out, &ps) == nil && ps.GossipAddr != "" {
			addrs = append(addrs, ps.GossipAddr)
		}
	}
	if len(addrs) > 0 {
		_, _ = g.ml.Join(addrs)
	}
}

func (g *gossip) statuses() []MemberStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := []MemberStatus{g.self}
	for _, s := range g.others {
		out = append(out, s)
	}
	return out
}

// members merges memberlist's liveness with the gossiped statuses.
func (g *gossip) members() []MemberStatus {
	alive := map[string]bool{}
	for _, m := range g.ml.Members() {
		alive[m.Name] = m.State == memberlist.StateAlive
	}
	all := g.statuses()
	for i := range all {
		all[i].Alive = alive[all[i].Node]
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Node < all[j].Node })
	return all
}

func (g *gossip) close(leave bool) {
	close(g.stop)
	g.wg.Wait()
	if leave {
		_ = g.ml.Leave(500 * time.Millisecond)
	}
	_ = g.ml.Shutdown()
}

func (g *gossip) merge(b []byte) {
	var s MemberStatus
	if json.Unmarshal(b, &s) != nil || s.Node == "" || s.Node == g.n.cfg.NodeID {
		return
	}
	s.Alive = false
	s.UpdatedAt = time.Now()
	g.mu.Lock()
	if old, ok := g.others[s.Node]; !ok || s.Seq >= old.Seq || s.Seq == 1 {
		g.others[s.Node] = s
	}
	g.mu.Unlock()
}

// memberlist.Delegate

func (g *gossip) NodeMeta(limit int) []byte { return nil }

func (g *gossip) NotifyMsg(b []byte) { g.merge(b) }

func (g *gossip) GetBroadcasts(overhead, limit int) [][]byte {
	return g.q.GetBroadcasts(overhead, limit)
}

func (g *gossip) LocalState(join bool) []byte {
	g.mu.Lock()
	b, _ := json.Marshal(g.self)
	g.mu.Unlock()
	return b
}

func (g *gossip) MergeRemoteState(buf []byte, join bool) { g.merge(buf) }

type statusBroadcast struct {
	node string
	msg  []byte
}

func (b *statusBroadcast) Invalidates(o memberlist.Broadcast) bool {
	ob, ok := o.(*statusBroadcast)
	return ok && ob.node == b.node
}

func (b *statusBroadcast) Message() []byte { return b.msg }

func (b *statusBroadcast) Finished() {}

// dropDebug drops memberlist's [DEBUG] lines (one Write per line).
type dropDebug struct{ w io.Writer }

func (d dropDebug) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("[DEBUG]")) {
		return len(p), nil
	}
	return d.w.Write(p)
}
