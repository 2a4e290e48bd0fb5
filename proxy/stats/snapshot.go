package stats

import (
	"errors"
	"time"
)

// Source is what the page reads and drives: the data plane implements it (package proxy's
// adapter). Methods are called from session goroutines concurrently.
type Source interface {
	// Snapshot returns the current state of every proxy, in configuration order.
	Snapshot() *Snapshot
	// SetServerState sets a server's admin state, as the runtime API's `set server
	// B/S state` does. Errors are shown to the operator.
	SetServerState(backend, server string, st AdminState) error
	// SetServerWeight sets a server's weight (0..256), as `set server B/S weight`.
	SetServerWeight(backend, server string, weight int) error
}

// AdminState is an operator's setting of a server.
type AdminState uint8

// Admin states the page can set.
const (
	AdminReady AdminState = iota + 1 // in service
	AdminDrain                       // keeps its sessions, takes no new ones
	AdminMaint                       // out of service, checks stopped
)

func (a AdminState) String() string {
	switch a {
	case AdminReady:
		return "ready"
	case AdminDrain:
		return "drain"
	case AdminMaint:
		return "maint"
	}
	return "invalid"
}

// Errors a Source returns for unknown names.
var (
	ErrNoBackend = errors.New("no such backend")
	ErrNoServer  = errors.New("no such server")
)

// Snapshot is the state of the process at one instant.
type Snapshot struct {
	Now         time.Time
	Started     time.Time // process start (uptime)
	PID         int
	Node        string // host name (or `stats show-node NAME`'s, applied by the page)
	Description string // global description, shown by `stats show-desc`
	Version     string // appl's version
	ReleaseDate string
	MaxConn     int   // process limit, 0: none
	CurConn     int64 // connections open in the process
	Proxies     []Proxy
}

// Proxy is a frontend, a backend, or the two halves of a listen: one HAProxy proxy.
type Proxy struct {
	Name     string
	ID       int    // iid; 0 lets Rows number proxies in order from 1
	Mode     string // "http" or "tcp"
	Frontend *Frontend
	Backend  *Backend
}

// Counters are the numbers frontends, backends and servers share. A counter the data
// plane does not keep stays 0; Unknown lists the ones to print empty instead.
type Counters struct {
	Cur, Max, Limit         int64 // sessions (limit 0: none)
	Total                   int64 // sessions since start
	Rate, RateMax, RateLim  int64 // sessions per second (last second, max seen, limit)
	BytesIn, BytesOut       int64
	DeniedReq, DeniedResp   int64
	ErrReq, ErrConn, ErrRsp int64
	Retries, Redispatches   int64
	HTTPResponses           [6]int64 // 1xx..5xx, other (http mode)
	Requests                int64    // HTTP requests (http mode)
	ReqRate, ReqRateMax     int64
	LastSession             time.Time // zero: never
}

// Frontend is the frontend half of a proxy.
type Frontend struct {
	Counters
	Disabled bool // listeners paused (`disable frontend`): status STOP
}

// Backend is the backend half of a proxy.
type Backend struct {
	Counters
	Queue, QueueMax int64
	Algo            string
	LastChange      time.Time     // last up/down transition of the backend
	Downtime        time.Duration // total time without a usable server
	Downs           int64         // chkdown: transitions to no usable server
	Servers         []Server
}

// Server is one server of a backend.
type Server struct {
	Name string
	ID   int // sid; 0 lets Rows number servers in order from 1
	Addr string
	Counters
	Queue, QueueMax, QueueLimit int64

	State      State
	Backup     bool
	Weight     int // effective weight now
	ConfWeight int // weight from the configuration (uweight)
	LastChange time.Time
	Downtime   time.Duration
	// Check is nil for a server without health check.
	Check *Check
}

// State is a server's operational state as pages print it.
type State string

// Server states.
const (
	StateUp    State = "UP"
	StateDown  State = "DOWN"
	StateMaint State = "MAINT"
	StateDrain State = "DRAIN"
	StateNoLB  State = "NOLB"
)

// Check is a server's health-check state.
type Check struct {
	Status   string // HAProxy's short code: L4OK, L4CON, L4TOUT, L7OK, L7STS, L7RSP, ... ("" before the first)
	Code     int    // L7 status code, 0 when none
	Duration time.Duration
	Desc     string // "Layer4 check passed", "Layer4 connection problem", ...
	Info     string // the detail HAProxy prints in last_chk: "Connection refused", ...
	Last     time.Time
	// Health and HealthOf are HAProxy's "status: cur/of" counter: while up, the failures
	// left before going down over fall; while down, the successes so far over rise.
	Health, HealthOf int
	Rise, Fall       int
	Failures         int64 // chkfail: failed checks
	Downs            int64 // chkdown: UP->DOWN transitions
}

// StatusText is the status column of a server: "UP", "DOWN 1/2" (coming up), "UP 2/3"
// (going down), "MAINT", "DRAIN", "no check".
func (s *Server) StatusText() string {
	switch s.State {
	case StateMaint, StateDrain, StateNoLB:
		return string(s.State)
	}
	if s.Check == nil {
		if s.State == StateUp {
			return "no check"
		}
		return string(s.State)
	}
	c := s.Check
	if s.State == StateUp && c.HealthOf > 0 && c.Health < c.HealthOf {
		return "UP " + itoa(c.Health) + "/" + itoa(c.HealthOf)
	}
	if s.State == StateDown && c.Health > 0 {
		return "DOWN " + itoa(c.Health) + "/" + itoa(c.HealthOf)
	}
	return string(s.State)
}

// usable says whether the server takes new traffic.
func (s *Server) usable() bool { return s.State == StateUp }

// Up counts the backend's usable active and backup servers.
func (b *Backend) Up() (active, backup int) {
	for i := range b.Servers {
		if b.Servers[i].usable() {
			if b.Servers[i].Backup {
				backup++
			} else {
				active++
			}
		}
	}
	return active, backup
}

// StatusText is a backend's status: UP while a server is usable (or when it has no
// server at all, as a stats-only listen, like HAProxy), else DOWN.
func (b *Backend) StatusText() string {
	a, bk := b.Up()
	if a+bk > 0 || len(b.Servers) == 0 {
		return "UP"
	}
	return "DOWN"
}

// weight sums the weights of usable servers (HAProxy counts active ones, or backups
// when no active one is up).
func (b *Backend) weight() (w, uw int64) {
	act, _ := b.Up()
	for i := range b.Servers {
		s := &b.Servers[i]
		if s.usable() && s.Backup == (act == 0) {
			w += int64(s.Weight)
			uw += int64(s.ConfWeight)
		}
	}
	return w, uw
}
