package runtime

import (
	"errors"
	"time"

	"appl/proxy/maps"
	"appl/proxy/stats"
	"appl/proxy/stick"
)

// Target is what the runtime API drives: the data plane implements it. All
// methods are called from connection goroutines concurrently and must be
// safe for that. Errors are printed to the operator as they are (one line,
// no trailing newline), so the sentinel errors below carry HAProxy's texts.
type Target interface {
	// Info is `show info`: name/value pairs in HAProxy's order.
	Info() []InfoField
	// Stats is `show stat`: frontends, backends and servers in config
	// order (each proxy's FRONTEND, its servers, then its BACKEND row).
	Stats() []StatRow
	// ServersState is `show servers state [backend]` ("" = every backend)
	// and feeds `get weight`. Unknown backend: ErrNoBackend.
	ServersState(backend string) ([]ServerState, error)

	// SetServerState is `set server B/S state ready|drain|maint`, and
	// `enable server` (ready) / `disable server` (maint).
	SetServerState(backend, server string, st AdminState) error
	// SetServerWeight is `set server B/S weight W` and `set weight`: W is
	// absolute, 0..256 (a percentage was already applied to the initial
	// weight).
	SetServerWeight(backend, server string, weight int) error
	// EnableFrontend / DisableFrontend resume / pause a frontend's
	// listeners (ErrNoFrontend, ErrFrontendEnabled, ErrFrontendDisabled).
	EnableFrontend(name string) error
	DisableFrontend(name string) error
	// SetFrontendMaxConn is `set maxconn frontend F N` (N >= 0, 0 = no limit).
	SetFrontendMaxConn(name string, n int) error
	// SetGlobalMaxConn is `set maxconn global N`; a value above the hard
	// limit returns ErrOutOfRange.
	SetGlobalMaxConn(n int) error

	// Sessions is `show sess`: the client sessions in progress.
	Sessions() []Session
	// ShutdownSession is `shutdown session ID` (ErrNoSession).
	ShutdownSession(id uint64) error

	// Tables lists the stick tables by name (config order) for the table
	// commands. May return nil.
	Tables() []*stick.Table
	// Maps is the map and pattern file store for the map and acl
	// commands. May return nil (no maps: every map name is unknown).
	Maps() MapStore
}

// MapStore is the part of *maps.Store the map and acl commands use.
type MapStore interface {
	// Ref finds a map or pattern file by file name or "#ID".
	Ref(name string) *maps.Ref
	// Refs lists maps (true) or pattern files (false) in ID order.
	Refs(maps bool) []*maps.Ref
}

// Errors a Target returns; their texts are HAProxy's answers.
var (
	ErrNoBackend        = errors.New("No such backend.")
	ErrNoServer         = errors.New("No such server.")
	ErrNoFrontend       = errors.New("No such frontend.")
	ErrFrontendEnabled  = errors.New("All sockets are already enabled.")
	ErrFrontendDisabled = errors.New("All sockets are already disabled.")
	ErrNoSession        = errors.New("No such session (use 'show sess').")
	ErrOutOfRange       = errors.New("Value out of range.")
)

// InfoField is one `show info` line, "Name: Value".
type InfoField struct {
	Name  string
	Value string
}

// AdminState is the administrative state set by `set server ... state`.
type AdminState uint8

// Administrative states.
const (
	StateReady AdminState = iota + 1 // in service
	StateDrain                       // no new traffic except persistent, health checks continue
	StateMaint                       // out of service, checks stopped
)

func (s AdminState) String() string {
	switch s {
	case StateReady:
		return "ready"
	case StateDrain:
		return "drain"
	case StateMaint:
		return "maint"
	}
	return "invalid"
}

// StatType is the `type` column of `show stat` and its filter bits.
type StatType = stats.Type

// Row types, numbered as HAProxy's `type` column.
const (
	TypeFrontend = stats.TypeFrontend
	TypeBackend  = stats.TypeBackend
	TypeServer   = stats.TypeServer
	TypeListener = stats.TypeListener
)

// StatCol indexes a `show stat` column (see the Col constants).
type StatCol = stats.Col

// StatRow is one `show stat` line (proxy/stats renders the same rows for the stats
// page's CSV). Build it with NewStatRow so that the identifying columns agree with the
// filters.
type StatRow = stats.Row

// NewStatRow starts a row: pxname, svname (FRONTEND/BACKEND for those rows), type,
// iid, sid and pid are filled.
func NewStatRow(proxy, server string, typ StatType, iid, sid int) StatRow {
	return stats.NewRow(proxy, server, typ, iid, sid)
}

// Server operational states of `show servers state` (srv_op_state).
const (
	OpStopped  = 0
	OpStarting = 1
	OpRunning  = 2
	OpStopping = 3
)

// Server admin state bits of `show servers state` (srv_admin_state).
const (
	AdminForcedMaint = 0x01 // set server state maint / disable server
	AdminForcedDrain = 0x08 // set server state drain
)

// ServerState is one `show servers state` line (the format HAProxy's
// server-state-file loads, version 1).
type ServerState struct {
	BackendID   int
	Backend     string
	ServerID    int
	Server      string
	Addr        string // IP only
	OpState     int    // OpStopped..OpStopping
	AdminState  int    // AdminForced* bits
	UWeight     int    // current (user) weight
	IWeight     int    // initial weight from the configuration
	LastChange  time.Duration
	CheckStatus int // HAProxy's HCHK_STATUS_* number; 0 when unknown
	CheckResult int // 0 unknown, 1 neutral, 2 failed, 3 passed, 4 condpass
	CheckHealth int
	CheckState  int
	AgentState  int
	FQDN        string // "-" when empty
	Port        int
	UseSSL      bool
	CheckPort   int
	CheckAddr   string // "-" when empty
	AgentAddr   string // "-" when empty
	AgentPort   int
}

// Session is one `show sess` line.
type Session struct {
	ID       uint64 // printed as 0x%x, the handle of `shutdown session`
	Proto    string // "tcpv4", "tcpv6", "unix_stream"
	Src      string // client address:port
	Frontend string
	Backend  string // "<NONE>" when not chosen yet
	Server   string // "<none>" when not connected yet
	Age      time.Duration
	BytesIn  uint64
	BytesOut uint64
}
