package proxy

import (
	"fmt"
	"strings"
	"time"
)

// AdminState is the operator's setting of a server (runtime API `set server ... state`).
type AdminState int

const (
	AdminReady AdminState = iota // takes traffic when healthy
	AdminDrain                   // keeps its sessions, takes no new ones
	AdminMaint                   // out of service, checks stopped
)

func (a AdminState) String() string {
	switch a {
	case AdminDrain:
		return "drain"
	case AdminMaint:
		return "maint"
	}
	return "ready"
}

// ParseAdminState reads "ready", "drain" or "maint".
func ParseAdminState(s string) (AdminState, error) {
	switch strings.ToLower(s) {
	case "ready":
		return AdminReady, nil
	case "drain":
		return AdminDrain, nil
	case "maint":
		return AdminMaint, nil
	}
	return 0, fmt.Errorf("unknown server state %q (expected ready, drain or maint)", s)
}

// ServerState is what status pages show: UP, DOWN, MAINT or DRAIN.
type ServerState string

const (
	StateUp    ServerState = "UP"
	StateDown  ServerState = "DOWN"
	StateMaint ServerState = "MAINT"
	StateDrain ServerState = "DRAIN"
	StateNoLB  ServerState = "NOLB" // up, but its HTTP check answered 404 with disable-on-404
)

// Event is a server state change. VRRP tracks UpServers of a backend; replication and the
// stats page follow the rest.
type Event struct {
	Time     time.Time
	Backend  string
	Server   string
	From, To ServerState
	Reason   string // HAProxy's wording: "Layer4 connection problem", "changed from CLI", ...
	// ActiveUp and BackupUp count the backend's servers up (and not in maintenance or
	// drain) after the change.
	ActiveUp, BackupUp int
}

// Status is a snapshot of the data plane.
type Status struct {
	ActConn   int64 // connections open in the process
	Panics    int64 // connection goroutines that panicked (recovered)
	Frontends []FrontendStatus
	Backends  []BackendStatus
}

// FrontendStatus describes one frontend.
type FrontendStatus struct {
	Name         string
	Binds        []string
	Cur, Total   int64
	MaxConn      int
	ProxyErrors  int64 // connections refused for a bad or missing PROXY header
	NoBackend    int64 // connections closed because no rule chose an existing backend
	BytesIn      int64
	BytesOut     int64
	LastReloaded time.Time
	Mode         string    // "tcp" or "http"
	HTTP         HTTPStats // requests and responses (mode http)
	DeniedConn   int64     // refused by tcp-request connection/session rules
	DeniedReq    int64     // refused by tcp-request content rules (http-request denials are in HTTP.Denied)
}

// BackendStatus describes one backend.
type BackendStatus struct {
	Name          string
	Algo          string
	Cur, Total    int64
	Queue         int
	ActiveUp      int
	BackupUp      int
	ConnErrors    int64 // connects that failed after all retries
	QueueTimeouts int64
	QueueFull     int64
	Mode          string    // "tcp" or "http"
	HTTP          HTTPStats // requests and responses through this backend (mode http)
	BytesIn       int64     // bytes of http requests and responses (mode http)
	BytesOut      int64
	Servers       []ServerStatus
}

// ServerStatus describes one server.
type ServerStatus struct {
	Name        string
	Address     string
	State       ServerState
	Admin       AdminState
	Backup      bool
	CheckStatus string // "Layer4 check passed", "Layer4 connection problem: Connection refused", "" without check
	CheckCode   string // HAProxy's short status of the last check: "L4OK", "L4CON", "L7STS", ...; "" without check
	CheckHTTP   int    // response code of the last L7 check (L7OK, L7OKC, L7STS), else 0
	LastCheck   time.Time
	CheckTime   time.Duration
	LastChange  time.Time
	Health      int // HAProxy's status counter (cur/of)
	HealthOf    int
	Cur, Total  int64
	Queue       int
	Weight      int // effective weight now (slowstart, runtime changes)
	ConfWeight  int
	HTTP        HTTPStats // requests and responses through this server (mode http)
	BytesIn     int64     // bytes of http requests and responses (mode http)
	BytesOut    int64
	IdleConns   int // idle keep-alive connections in its pool (mode http)
}
