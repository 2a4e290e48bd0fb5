package admin

import (
	"context"
	"time"
)

// NodeStatus is one node as GET /v1/status reports it.
type NodeStatus struct {
	Node        string        `json:"node"`
	Hostname    string        `json:"hostname"`
	Version     string        `json:"version"`
	ConfigPath  string        `json:"config_path"`
	ConfigHash  string        `json:"config_hash"`
	Started     time.Time     `json:"started"`
	UptimeSec   float64       `json:"uptime_sec"`
	Ready       bool          `json:"ready"` // proxy and VRRP up
	Demoted     bool          `json:"demoted"`
	VRRP        []Instance    `json:"vrrp"`
	Backends    []Backend     `json:"backends"`
	Checks      []CheckStatus `json:"checks"`
	Replication Replication   `json:"replication"`
}

// Instance is one VRRP/CARP instance.
type Instance struct {
	Name              string    `json:"name"`
	Kind              string    `json:"kind"`
	Interface         string    `json:"interface"`
	VRID              int       `json:"vrid"`
	State             string    `json:"state"` // INIT, BACKUP, MASTER, FAULT
	Priority          int       `json:"priority"`
	EffectivePriority int       `json:"effective_priority"`
	Demoted           bool      `json:"demoted"`
	Since             time.Time `json:"since"`
	VIPs              []string  `json:"vips"`
	Master            string    `json:"master"` // address of the master last heard
}

// Backend is one backend and its servers.
type Backend struct {
	Name     string         `json:"name"`
	Up       int            `json:"up"` // servers up (active and backup)
	Servers  []ServerStatus `json:"servers"`
	ActiveUp int            `json:"active_up"`
	BackupUp int            `json:"backup_up"`
}

// ServerStatus is one server of a backend.
type ServerStatus struct {
	Name        string    `json:"name"`
	Address     string    `json:"address"`
	State       string    `json:"state"` // UP, DOWN, MAINT, DRAIN
	Admin       string    `json:"admin"` // ready, drain, maint
	Backup      bool      `json:"backup,omitempty"`
	CheckStatus string    `json:"check_status,omitempty"`
	LastCheck   time.Time `json:"last_check,omitzero"`
	LastChange  time.Time `json:"last_change,omitzero"`
}

// CheckStatus is a backend-health check that VRRP tracks (`track-check NAME`).
type CheckStatus struct {
	Name    string `json:"name"`
	Backend string `json:"backend"`
	MinUp   int    `json:"min_up"`
	Up      int    `json:"up"`
	OK      bool   `json:"ok"`
}

// Replication is the node's replication role: "none" without a cluster section, "not
// joined" before `applctl cluster init/join`, else its Raft state (leader, follower,
// candidate; "witness ..." on a witness).
type Replication struct {
	Role         string `json:"role"`
	Leader       string `json:"leader,omitempty"`
	Term         uint64 `json:"term,omitempty"`
	Quorum       bool   `json:"quorum,omitempty"`
	CommitIndex  uint64 `json:"commit_index,omitempty"`
	AppliedIndex uint64 `json:"applied_index,omitempty"`
}

// ClusterTarget is the replication side of a Target (optional: a Target without it
// answers the cluster endpoints with 501).
type ClusterTarget interface {
	// ClusterInit creates the cluster (CA, secret) on this node and returns the join token.
	ClusterInit() (token string, err error)
	// ClusterToken prints the join token again.
	ClusterToken() (string, error)
	// ClusterJoin joins the cluster a member at addr belongs to.
	ClusterJoin(ctx context.Context, addr, token string) error
	// ClusterStatus is the replication status (a JSON-encodable value).
	ClusterStatus(ctx context.Context) (any, error)
	// ClusterRemove removes a member for good.
	ClusterRemove(ctx context.Context, node string) error
	// ClusterRecover makes this node the only voter (forced single-node recovery).
	ClusterRecover() error
	// ConfigPush validates a configuration file and commits it; every node reloads it.
	// An invalid file comes back as a result with Errors (nothing committed); a refused
	// commit (no quorum) as an error.
	ConfigPush(ctx context.Context, data []byte) (ReloadResult, error)
}

// JoinRequest is POST /v1/cluster/join's body.
type JoinRequest struct {
	Addr  string `json:"addr"`
	Token string `json:"token"`
}

// TokenResult answers POST /v1/cluster/init and GET /v1/cluster/token.
type TokenResult struct {
	Token string `json:"token"`
}

// ClusterStatus is what GET /v1/status answers: this node and, when a peer admin
// address is configured, the peer as it answers for itself.
type ClusterStatus struct {
	Local     NodeStatus  `json:"local"`
	PeerAddr  string      `json:"peer_addr,omitempty"`
	Peer      *NodeStatus `json:"peer,omitempty"`
	PeerError string      `json:"peer_error,omitempty"`
}

// FailoverRequest is POST /v1/failover's body.
type FailoverRequest struct {
	To      string `json:"to,omitempty"` // node to make master; "" the peer
	Wait    bool   `json:"wait"`
	Force   bool   `json:"force,omitempty"`
	Timeout string `json:"timeout,omitempty"` // Go duration, default 10s
}

// FailoverResult says who is master after a failover and how long it took.
type FailoverResult struct {
	From      string   `json:"from"`
	Master    string   `json:"master"`    // node name, or the address heard when the peer is not reachable
	Waited    bool     `json:"waited"`    // false: demoted and returned without waiting
	TookMS    float64  `json:"took_ms"`   // demotion to the peer observed as master
	Instances []string `json:"instances"` // the instances handed over
	Forced    bool     `json:"forced,omitempty"`
	Note      string   `json:"note,omitempty"`
}

// ReloadResult is POST /v1/reload's and POST /v1/config/check's answer.
type ReloadResult struct {
	OK         bool     `json:"ok"`
	ConfigHash string   `json:"config_hash,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	Errors     []string `json:"errors,omitempty"`
}

// Event is one entry of GET /v1/events: a VRRP state change or a server state change.
type Event struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"` // "vrrp" or "server"
	// vrrp
	Instance string `json:"instance,omitempty"`
	Priority int    `json:"priority,omitempty"`
	// server
	Backend  string `json:"backend,omitempty"`
	Server   string `json:"server,omitempty"`
	Reason   string `json:"reason,omitempty"`
	ActiveUp int    `json:"active_up,omitempty"`
	// both
	From string `json:"from"`
	To   string `json:"to"`
}

// Target is the running node the API drives. appliance.Node implements it.
type Target interface {
	// Status is this node only, never the peer.
	Status() NodeStatus
	// Demote lowers every VRRP instance (on) or restores them (off).
	Demote(on bool) error
	// Reload re-reads the configuration file and applies it; an invalid file is refused
	// and the running configuration keeps serving.
	Reload() ReloadResult
	// CheckConfig validates configuration bytes (data nil: the running file re-read)
	// for this node, without applying them.
	CheckConfig(data []byte) ReloadResult
	// Runtime runs a runtime API command line at admin level and returns its answer.
	Runtime(line string) string
	// Subscribe streams VRRP and server events until cancel is called.
	Subscribe() (<-chan Event, func())
}

// waitFor polls cond every interval until it holds, ctx ends or d passes. It returns
// whether cond held. Used where a state change is observed through polling (the peer's
// status), never to pace a protocol.
func waitFor(ctx context.Context, d, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}
