package config

import (
	"net/netip"
	"time"

	"appl/internal/cfgfile"
	"appl/proxy/acl"
	"appl/proxy/tlsconf"
)

// Config is the decoded proxy part of a configuration file.
type Config struct {
	Global    Global
	Frontends []*Frontend // frontends and the frontend half of listens, file order
	Backends  []*Backend  // backends and the backend half of listens, file order
	Userlists []*Userlist
	// Warnings are non-fatal findings: unsupported directives, ignored legacy options.
	Warnings []*cfgfile.Error
}

// Backend returns the backend with that name, or nil.
func (c *Config) Backend(name string) *Backend {
	for _, b := range c.Backends {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// Global is the global section.
type Global struct {
	Pos            cfgfile.Pos
	MaxConn        int // 0: unlimited
	Daemon         bool
	PidFile        string
	User, Group    string
	Chroot         string
	NbThread       int
	HardStopAfter  time.Duration // 0: wait forever
	Logs           []LogTarget
	StatsSockets   []StatsSocket
	StatsTimeout   time.Duration // global `stats timeout`: idle runtime API connection; 0: 10 s
	StatsMaxConn   int           // global `stats maxconn`: runtime API connections at once; 0: 10
	TuneBufSize    int
	TuneMaxRewrite int
	UlimitN        int // ulimit-n, 0: not set (added by the config helper)

	// TLS defaults: ssl-default-bind-options/-ciphers/-ciphersuites/-curves and their
	// server twins, applied under each bind's and server's own options.
	SSLDefaultBind   tlsconf.Params
	SSLDefaultServer tlsconf.Params
	// SSLServerVerify is ssl-server-verify: "required" (HAProxy's default) or "none",
	// the verify of servers that do not set one.
	SSLServerVerify string
	// TuneSSLDefaultDHParam is tune.ssl.default-dh-param (Go has no DHE: kept, warned).
	TuneSSLDefaultDHParam int
	// CrtBase and CaBase prefix relative crt and ca-file paths (crt-base, ca-base).
	CrtBase, CaBase string
}

// LogTarget is a `log` line: stdout/stderr, a UDP syslog address, or a unix socket path.
type LogTarget struct {
	Pos      cfgfile.Pos
	Address  string // "stdout", "stderr", "udp:HOST:PORT", "unix:/dev/log"
	Facility string // "local0", ...
	Level    string // max level, "" for all
	MinLevel string
	Format   string // "rfc3164" (default), "rfc5424", "raw"
}

// StatsSocket is a `stats socket` line (runtime API, served by another issue).
type StatsSocket struct {
	Pos     cfgfile.Pos
	Address string // "/run/appl.sock" or "ipv4@127.0.0.1:9999"
	Mode    uint32 // file mode for unix sockets, 0 = default
	Level   string // admin|operator|user
	User    string // owner of a unix socket: a name or a numeric uid ("" keeps the process's)
	Group   string // group of a unix socket: a name or a numeric gid
}

// Mode is a proxy mode.
type Mode int

const (
	ModeTCP Mode = iota
	ModeHTTP
)

func (m Mode) String() string {
	if m == ModeHTTP {
		return "http"
	}
	return "tcp"
}

// Timeouts of a proxy; zero means not set (no timeout).
type Timeouts struct {
	Connect, Client, Server, Queue, Check, Tunnel, ClientFin, ServerFin time.Duration
	HTTPRequest, HTTPKeepAlive                                          time.Duration
	ClientHS                                                            time.Duration // TLS handshake on ssl binds; timeout client when 0
}

// Bind is one listening address with its options. A port range expands to several Binds.
type Bind struct {
	Pos          cfgfile.Pos
	Network      string // "tcp", "tcp4", "tcp6", "unix"
	Address      string // host:port as net.Listen wants it, or a unix path
	Transparent  bool
	AcceptProxy  bool
	Name         string
	V4V6, V6Only bool
	// TLS: `ssl` and its options. The files are read at decode time (so `appld -c`
	// checks them and a reload re-reads them): TLS is the loaded result when SSL is set.
	SSL       bool
	Crts      []string // crt FILE|DIR, resolved against crt-base / the config's dir
	ALPN      []string
	CAFile    string // ca-file for client certificates
	Verify    string // verify none|optional|required, "" = none
	SSLParams tlsconf.Params
	TLS       *tlsconf.Bind
	Options   map[string]string // other recognised per-bind options kept verbatim
}

// Frontend is a frontend or the frontend half of a listen.
type Frontend struct {
	Pos            cfgfile.Pos
	Name           string
	Mode           Mode
	Binds          []*Bind
	MaxConn        int
	Timeouts       Timeouts
	DefaultBackend string // may be "" when use_backend rules cover everything
	UseBackends    []UseBackend
	ACLs           *acl.Set
	Log            Logging
	Disabled       bool
	// TCPRequest rules are decoded by the stick/maps issue; kept raw until then.
	Options map[string]bool // recognised `option X` flags that the data plane reads by name
	// ForwardFor holds the words after `option forwardfor` (except NET, header NAME,
	// if-none; checked at decoding) when Options["forwardfor"] is on.
	ForwardFor []string

	// Added by the config helper:
	Description string
	// Rules are directives decoded by later issues, kept raw in file order (after
	// defaults' own): http-request, http-response, tcp-request, stick, stick-table,
	// cookie, errorfile, stats, redirect, capture... `appld -c` warns that they are
	// not served yet.
	Rules []cfgfile.Line
	// Stats is the frontend's stats page (`stats` lines), nil when none. A listen's page
	// is on its Backend half only.
	Stats *StatsConfig
	// Prometheus are the frontend's `http-request use-service prometheus-exporter`
	// rules (a listen's are on its Backend half).
	Prometheus []PrometheusRule
}

// UseBackend is `use_backend NAME|%[expr] [if|unless COND]`.
type UseBackend struct {
	Pos     cfgfile.Pos
	Backend string    // a literal name, "" when Expr is set
	Expr    *acl.Expr // `%[...]` dynamic name
	Cond    *acl.Cond // nil: always
}

// Logging is what a proxy logs.
type Logging struct {
	Targets     []LogTarget // resolved: `log global` copies global's targets
	TCPLog      bool
	HTTPLog     bool
	DontLogNull bool
	Format      string // log-format, "" for the mode's default
}

// Balance is a load-balancing algorithm with its parameters.
type Balance struct {
	Algo     string // roundrobin, static-rr, leastconn, first, source, uri, url_param, hdr, rdp-cookie, random
	Param    string // url_param name, hdr name, rdp-cookie name
	HashType string // map-based (default) or consistent
	Args     []string
}

// Backend is a backend or the backend half of a listen.
type Backend struct {
	Pos        cfgfile.Pos
	Name       string
	Mode       Mode
	Balance    Balance
	Servers    []*Server
	Timeouts   Timeouts
	Retries    int // HAProxy default 3
	Redispatch bool
	AllBackups bool
	Log        Logging
	Check      CheckSpec
	Source     *Source // `source` line, nil when absent
	FullConn   int
	Disabled   bool
	Options    map[string]bool
	ForwardFor []string // as Frontend.ForwardFor

	// Added by the config helper:
	Description string
	ACLs        *acl.Set       // the backend's own acl lines (shared with the frontend half of a listen)
	Rules       []cfgfile.Line // raw directives of later issues, as in Frontend.Rules
	Stats       *StatsConfig   // the stats page (`stats` lines, of a backend or listen), nil when none
	Prometheus  []PrometheusRule
}

// Source is `source ADDR[:PORT] [usesrc clientip|client|ADDR]`.
type Source struct {
	Pos    cfgfile.Pos
	Addr   netip.Addr // may be the unspecified address
	Port   uint16
	UseSrc string // "", "clientip", "client", or an address

	// Added by the config helper:
	PortMax   uint16 // `ADDR:LOW-HIGH` port range; 0 when a single port (or none)
	Interface string // `interface NAME` (SO_BINDTODEVICE), "" when absent
}

// CheckSpec is how a backend's servers are checked: plain TCP connect, a tcp-check
// sequence, or (L7 issue) an HTTP check.
type CheckSpec struct {
	Kind     string // "tcp" (connect only), "tcp-check", "httpchk"
	TCPSteps []TCPCheckStep
	HTTP     *HTTPCheck
}

// TCPCheckStep is one `tcp-check` line.
type TCPCheckStep struct {
	Pos    cfgfile.Pos
	Action string // connect, send, send-binary, expect
	// connect
	Port      int
	SendProxy bool
	SSL       bool   // `ssl`: TLS on this connection
	SNI       string // `sni NAME`
	Default   bool   // `default`: the server line's check settings (check-ssl, check-sni)
	// send / send-binary (decoded bytes)
	Data []byte
	// expect
	Negate  bool
	Match   string // string, rstring, binary
	Pattern string // string or regexp source; for binary the decoded bytes as a string
}

// HTTPCheck is `option httpchk` with its `http-check` lines. Headers and a body hidden in
// the version string of the old form (`HTTP/1.1\r\nHost:\ x`) are split out into
// Version, Headers and Body.
type HTTPCheck struct {
	Method, URI, Version string      // defaults OPTIONS, /, HTTP/1.0
	Headers              [][2]string // `http-check send hdr NAME VALUE`, in order
	Body                 string      // `http-check send body STRING`
	Expect               []HTTPExpect
	DisableOn404         bool // `http-check disable-on-404`
	SendState            bool // `http-check send-state`
	ConnectPort          int  // `http-check connect port N`, 0 keeps the check port
	ConnectSendProxy     bool // `http-check connect send-proxy`
	// Connect is set by an `http-check connect` line. Without one (or with `default`
	// on it) the check connects as the server line says (check-ssl, check-sni, an ssl
	// server's TLS); with one, over TLS only when it says `ssl` (HAProxy 2.6, measured).
	Connect        bool
	ConnectDefault bool   // `http-check connect default`
	ConnectSSL     bool   // `http-check connect ssl`
	ConnectSNI     string // `http-check connect sni NAME`
}

// ChecksOverTLS reports whether the server's checks connect over TLS by default, as
// HAProxy decides: check-ssl, or an ssl server whose checks go to its own address
// (no `port` or `addr`), unless no-check-ssl.
func (s *Server) ChecksOverTLS() bool {
	if s.CheckSSL {
		return true
	}
	return s.SSL && !s.NoCheckSSL && s.CheckPort == 0 && s.CheckAddr == ""
}

// HTTPExpect is one `http-check expect` line.
type HTTPExpect struct {
	Negate  bool
	Match   string // status, rstatus, string, rstring
	Pattern string // status: codes and ranges, "200", "200-399,404"; regexps in Go RE2 syntax
}

// Server is a `server` line after default-server was applied.
type Server struct {
	Pos        cfgfile.Pos
	Name       string
	Address    string // host or IP as written; resolved by the data plane at start/reload
	Port       int    // 0: same port as the client connected to (transparent / port ranges)
	PortOffset bool   // "+N"/"-N" port: Port is an offset from the destination port

	Weight      int // 1..256, default 1
	MaxConn     int // 0: unlimited
	MaxQueue    int // 0: unlimited
	Backup      bool
	Disabled    bool
	SendProxy   bool
	SendProxyV2 bool
	Cookie      string // L7 issue

	Check        bool
	CheckAddr    string        // `addr`
	CheckPort    int           // `port`
	Inter        time.Duration // default 2s
	FastInter    time.Duration // default = Inter
	DownInter    time.Duration // default = Inter
	Rise, Fall   int           // defaults 2, 3
	SlowStart    time.Duration
	OnMarkedDown string // "", "shutdown-sessions"
	OnMarkedUp   string // "", "shutdown-backup-sessions"
	Source       *Source

	// TLS towards the server: `ssl` and its options. TLS is loaded at decode time for
	// servers with SSL (nil otherwise).
	SSL        bool
	Verify     string // none|required; resolved: "" only when SSL is off
	CAFile     string
	Crt        string    // client certificate presented to the server
	SNI        *acl.Expr // sni EXPR, nil: no SNI sent
	ALPN       []string
	VerifyHost string
	CheckSSL   bool   // check-ssl: health checks over TLS
	NoCheckSSL bool   // no-check-ssl: not even by default (an ssl server's checks)
	CheckSNI   string // check-sni: the SNI of TLS health checks ("" sends none)
	NoSSLReuse bool   // no-ssl-reuse: no TLS session resumption
	SSLParams  tlsconf.Params
	TLS        *tlsconf.Client
	// CheckTLS is the TLS side of health checks: TLS itself for an ssl server, else one
	// built from the same options for check-ssl or an `http-check`/`tcp-check connect
	// ssl` (nil when no check can use TLS).
	CheckTLS *tlsconf.Client

	// Options keeps recognised per-server options that a later issue implements (ssl,
	// verify, ...), by name, so the data plane can refuse what it does not serve.
	Options map[string]string
}

// Userlist is a userlist section (used by stats auth and http_auth, L7 issue).
type Userlist struct {
	Pos    cfgfile.Pos
	Name   string
	Users  []User
	Groups map[string][]string // group -> user names
}

// User is a userlist user.
type User struct {
	Name     string
	Password string // plain (insecure-password) or crypt hash (password)
	Insecure bool
	Groups   []string
}
