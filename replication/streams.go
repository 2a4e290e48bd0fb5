package replication

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
)

// Two streams every appliance node has, ready made: the config file and
// the runtime server states. Their callbacks are the appliance's (validate
// and reload; set the server's state in the proxy); they are called from
// Raft's apply goroutine, on every node, the writer's included.

// StreamConfig and StreamServers are the names of the ready-made streams.
const (
	StreamConfig  = "@config"
	StreamServers = "@servers"
)

// ConfigStream replicates the configuration file. Push it with
// node.Commit(ctx, StreamConfig, file) after validating it locally: each
// node's Apply callback validates and reloads it; an error there is
// returned to the Commit caller on the node that pushed it.
type ConfigStream struct {
	// Apply validates and loads a committed configuration file.
	Apply func(file []byte) error

	mu   sync.Mutex
	file []byte
}

func (c *ConfigStream) Name() string { return StreamConfig }

func (c *ConfigStream) ApplyRemote(p []byte) error {
	c.mu.Lock()
	if string(p) == string(c.file) {
		c.mu.Unlock()
		return nil // a replay: already loaded
	}
	c.mu.Unlock()
	// A file the node refuses leaves the running one current (the pusher
	// validated it first, so this is a node-local problem: it is reported
	// to the pusher through Commit's error and logged by the appliance).
	if c.Apply != nil {
		if err := c.Apply(p); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.file = append([]byte(nil), p...)
	c.mu.Unlock()
	return nil
}

// Current returns the last committed file and its SHA-256 (the config
// hash the status gossips).
func (c *ConfigStream) Current() (file []byte, hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.file == nil {
		return nil, ""
	}
	s := sha256.Sum256(c.file)
	return append([]byte(nil), c.file...), hex.EncodeToString(s[:])
}

func (c *ConfigStream) Snapshot(w io.Writer) error {
	f, _ := c.Current()
	_, err := w.Write(f)
	return err
}

func (c *ConfigStream) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(b) == 0 {
		return nil
	}
	return c.ApplyRemote(b)
}

// ServerState is a runtime change of one server, named by backend and
// server name (never by a per-process number).
type ServerState struct {
	Backend string `json:"b"`
	Server  string `json:"s"`
	Admin   string `json:"a,omitempty"` // ready, drain, maint; "" = unchanged
	Weight  int    `json:"w"`           // -1 = unchanged
}

// ServerStates replicates `set server` changes. Encode one with
// EncodeServerState and Commit it; each node's Apply callback sets the
// server in its proxy. Snapshots carry the last state of every server.
type ServerStates struct {
	Apply func(ServerState) error

	mu    sync.Mutex
	state map[string]ServerState
}

func (s *ServerStates) Name() string { return StreamServers }

// EncodeServerState is the payload of a server state change.
func EncodeServerState(st ServerState) ([]byte, error) {
	if st.Backend == "" || st.Server == "" {
		return nil, errors.New("replication: server state needs backend and server names")
	}
	return json.Marshal(st)
}

func (s *ServerStates) ApplyRemote(p []byte) error {
	var st ServerState
	if err := json.Unmarshal(p, &st); err != nil || st.Backend == "" || st.Server == "" {
		return fmt.Errorf("replication: malformed server state")
	}
	k := st.Backend + "/" + st.Server
	s.mu.Lock()
	if s.state == nil {
		s.state = map[string]ServerState{}
	}
	merged := s.state[k]
	merged.Backend, merged.Server = st.Backend, st.Server
	if st.Admin != "" {
		merged.Admin = st.Admin
	}
	if st.Weight >= 0 {
		merged.Weight = st.Weight
	}
	s.state[k] = merged
	s.mu.Unlock()
	if s.Apply == nil {
		return nil
	}
	return s.Apply(st)
}

// All returns the last known state of every server changed at run time.
func (s *ServerStates) All() []ServerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ServerState, 0, len(s.state))
	for _, v := range s.state {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Backend+"/"+out[i].Server < out[j].Backend+"/"+out[j].Server
	})
	return out
}

func (s *ServerStates) Snapshot(w io.Writer) error {
	return json.NewEncoder(w).Encode(s.All())
}

func (s *ServerStates) Restore(r io.Reader) error {
	var all []ServerState
	if err := json.NewDecoder(r).Decode(&all); err != nil {
		return err
	}
	for _, st := range all {
		p, err := EncodeServerState(st)
		if err != nil {
			return err
		}
		if err := s.ApplyRemote(p); err != nil {
			return err
		}
	}
	return nil
}
