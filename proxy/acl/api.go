package acl

// This file is the contract between proxy/acl and its callers (proxy/config decodes with
// it, the data plane evaluates with it).

import (
	"net/netip"

	"appl/internal/cfgfile"
	"appl/proxy/maps"
)

// Txn is what fetches read: the connection, the HTTP request in http mode, and opaque
// state other packages attach for their own fetches. A Txn is used by one goroutine at a
// time; reuse it across requests of a connection to avoid allocations.
type Txn struct {
	Src, Dst     netip.AddrPort
	FrontendName string
	BackendName  string
	// HTTP is nil in tcp mode. Filled by the http mode (L7 issue).
	HTTP HTTPView
	// TLS describes a TLS connection terminated by appl (ssl_fc, ssl_fc_sni); nil otherwise.
	TLS *TLSInfo
	// ClientHelloSNI is the server name of a ClientHello peeked in tcp mode
	// (req_ssl_sni / req.ssl_sni), "" when none was seen.
	ClientHelloSNI string
	// Env answers questions about the running proxy (nbsrv, userlists); may be nil.
	Env Env
	// Ext carries per-transaction state of fetches registered by other packages (for
	// example the stick-table trackers of sc_* fetches). acl never looks inside.
	Ext any

	scratch []string   // reused by multi-valued fetches
	vars    []variable // set-var / var(), see vars.go
}

// TLSInfo is what TLS fetches read.
type TLSInfo struct {
	SNI string
}

// HTTPView is the request as HTTP fetches see it (implemented by the http mode).
type HTTPView interface {
	Method() string
	Path() string
	Query() string
	URI() string
	Header(name string) (string, bool)
	HeaderValues(name string) []string
}

// Env is what the data plane tells fetches about itself.
type Env interface {
	// NbSrv returns the number of usable servers of a backend; ok is false when the
	// backend does not exist.
	NbSrv(backend string) (n int, ok bool)
	// Userlist returns a userlist by name, nil when there is none.
	Userlist(name string) Userlist
}

// Userlist checks credentials (implemented by the userlist section's decoder).
type Userlist interface {
	// Authenticate says whether the password is the user's.
	Authenticate(user, password string) bool
	// InGroup says whether user belongs to group.
	InGroup(user, group string) bool
}

// Options tune parsing.
type Options struct {
	// BaseDir resolves relative `-f FILE` and map paths (HAProxy resolves them against
	// the current directory; appl uses the directory of the configuration file).
	BaseDir string
	// Maps holds the map and pattern files; the same store is given to the runtime API
	// and kept across reloads. Nil means a store private to this Set or expression.
	Maps *maps.Store
	// Known, when set, validates names given to fetches at parse time: kind is
	// "backend" (nbsrv) or "userlist" (http_auth). Unknown names are then errors.
	Known func(kind, name string) bool
	// Where is the configuration line using the expression, shown by `show map`
	// (optional for ParseExpr; Set fills it from the line it parses).
	Where cfgfile.Pos
}
