package httpmode

// This file is the contract with the data plane (package proxy): what it implements
// (Env, Backend, Server), what it calls (Compile, Program.Frontend, Frontend.Serve,
// NewPool) and what it gets back (LogEntry, SessionStats).

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"appl/proxy/acl"
	"appl/proxy/http1"
)

// Env is what the data plane gives one frontend's sessions. Its methods are called from
// session goroutines concurrently.
type Env interface {
	// Backend returns the backend with that name (default_backend, use_backend, and
	// names computed by `use_backend %[...]`); ok is false when there is none.
	Backend(name string) (b Backend, ok bool)
	// Log is called once per request, also for requests appl answers itself (deny,
	// redirect, errors, 400 for a malformed request). The entry is reused after Log
	// returns: format it (AppendHTTPLog) or copy what is kept. It runs on the session's
	// goroutine: it must not block on the network.
	Log(e *LogEntry)
}

// Backend is one backend of the running configuration, as the data plane holds it.
type Backend interface {
	// Name is the backend's name (%b).
	Name() string
	// Pick chooses a server and takes one of its slots (maxconn): preferred, when not
	// "", is the name of the server a persistence cookie designates and must be chosen
	// when it is usable (up, or draining: HAProxy keeps persistent clients on a drained
	// server; not in maintenance, not down); a full preferred server queues. Otherwise the
	// backend's balance algorithm chooses, with key for the hashing ones (see HashKey).
	// Pick may wait in the backend queue (timeout queue, else timeout connect) and
	// returns ErrNoServer, ErrQueueFull or ErrQueueTimeout when it cannot give a server;
	// ctx ends the wait early (shutdown).
	Pick(ctx context.Context, key HashKey, preferred string) (Server, PickInfo, error)
}

// Server is one server slot taken by Pick.
type Server interface {
	// Name is the server's name (%s).
	Name() string
	// Dial opens a new connection to the server: timeout connect, retries, source /
	// usesrc, send-proxy are the data plane's. ctx is cancelled when the session ends.
	Dial(ctx context.Context) (net.Conn, error)
	// Release gives the slot back; called exactly once per successful Pick, when the
	// response is complete (or the request failed). The connection may stay idle in
	// the server's Pool after that: idle connections do not count against maxconn.
	Release()
	// Pool returns the server's idle-connection pool (NewPool, one per server, kept by
	// the data plane across reloads as long as the server lives). nil disables reuse.
	Pool() *Pool
}

// Errors Pick returns; the engine answers 503 for each, with termination flags SC, PQ
// and sQ.
var (
	ErrNoServer     = errors.New("httpmode: no server available")
	ErrQueueFull    = errors.New("httpmode: backend queue full")
	ErrQueueTimeout = errors.New("httpmode: queue timeout")
)

// PickInfo is what the log reports about a Pick.
type PickInfo struct {
	Queued            time.Duration // %Tw
	SrvQueue, BeQueue int           // %sq, %bq at the time of the pick
	Redispatched      bool          // %rc gets a '+'
}

// HashKey is the input of the backend's hashing balance algorithm for one request.
// For `balance source` Addr is the client address; for uri, url_param, hdr(), rdp-cookie
// and hash EXPR, Data holds the bytes to hash (valid only during Pick: hash them, do not
// keep them). Valid is false when the request holds nothing to hash: HAProxy then falls
// back to round robin. For the other algorithms Valid is false.
type HashKey struct {
	Addr  netip.Addr
	Data  []byte
	Valid bool
}

// SessionStats sums one client connection, returned by Serve.
type SessionStats struct {
	Requests         int   // requests read (including refused ones)
	BytesIn          int64 // bytes read from the client
	BytesOut         int64 // bytes written to the client
	Denied, Errors   int   // requests denied by rules, refused as malformed or failed
	LastTerm         [2]byte
	ServerConns      int // server connections opened
	ServerConnReused int // requests sent on an idle server connection from a pool
}

// Txn is acl.Txn, re-exported so the contract reads in one place.
type Txn = acl.Txn

// Responder may be implemented by a Backend that answers some requests itself, as
// HAProxy's stats page (`stats uri`) does. Respond is called after the backend's
// http-request rules; when handled, resp (a complete HTTP/1.1 response appended to
// dst, with its own framing) is sent instead of forwarding, and status is logged with
// server "<STATS>". req is valid only during the call.
type Responder interface {
	Respond(dst []byte, req *http1.Request, txn *acl.Txn) (resp []byte, status int, handled bool)
}

// BodyResponder is a Responder that needs a small request body to answer, as the stats
// page's admin form (a POST). When BodyLimit(req) > 0 and the request has a
// Content-Length body of at most that many bytes, the engine reads it and calls
// RespondBody instead of Respond; other requests go to Respond.
type BodyResponder interface {
	Responder
	BodyLimit(req *http1.Request) int
	RespondBody(dst []byte, req *http1.Request, body []byte, txn *acl.Txn) (resp []byte, status int, handled bool)
}
