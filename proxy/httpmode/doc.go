// Package httpmode is appl's HTTP/1.1 proxying engine: what the data plane runs on a
// client connection accepted by a `mode http` frontend. It reads requests with
// proxy/http1, applies the frontend's and backend's rules (proxy/acl conditions),
// chooses the backend, reads and writes the persistence cookie, computes the hash key
// of the balance algorithm, asks the data plane for a server, keeps server connections
// alive and pooled, streams bodies both ways, switches upgraded connections to a
// tunnel, answers errors, and reports one log entry per request.
//
// # What it owns, what it must not know
//
// It owns HTTP/1.1 proxy semantics: keep-alive on both sides (option http-keep-alive,
// the default; http-server-close; httpclose), the idle-connection pool per server
// (http-reuse safe: an idle connection of the pool only serves a request that is not
// the first of its client connection; a client's own server connection is kept for its
// next request), option forwardfor, timeouts http-request / http-keep-alive / client /
// server / tunnel, 100-continue, HEAD/1xx/204/304, pipelining, WebSocket / Upgrade,
// generated responses (400, 403, 408, 502, 503, 504, errorfile), http-request /
// http-response / redirect rules, use_backend, cookie persistence, hash keys for
// balance uri / url_param / hdr() / rdp-cookie / source / hash, and HAProxy's httplog
// line. It must not know about listeners, server state, health checks, balancing
// algorithms, queues, counters or log transport: those are the data plane's (package
// proxy), reached through the small interfaces of api.go. It must not import package
// proxy.
//
// # Wiring (what the data plane does)
//
//  1. At each configuration generation: prog, err := httpmode.Compile(cfg, opts) once
//     (errors are positioned cfgfile errors: refuse the configuration). opts.ACL gives
//     BaseDir and the node's map store; opts.BufSize is tune.bufsize; opts.ForwardFor
//     the `option forwardfor` arguments per proxy name (proxy/config keeps only the
//     flag for now; ParseForwardFor reads the words).
//  2. For every server of an http backend, keep a *Pool (httpmode.NewPool(0, 0)) for
//     the server's life (across reloads when the server stays), and Close it when the
//     server goes away.
//  3. Implement Env (per frontend or global): Backend(name) returns the running backend
//     by name; Log(e) receives every request's LogEntry: set e.ActConn, e.FeConn,
//     e.BeConn, e.SrvConn, then, when the frontend has option httplog,
//     line := e.AppendHTTPLog(buf[:0]) after the syslog header; count e.Status /
//     e.Denied / e.Term for the stats (dontlognull: skip entries with e.BytesIn == 0 and
//     e.Status == 0).
//  4. Implement Backend.Pick (preferred server for a persistence cookie, else the
//     balance algorithm with the HashKey: balance.KeyAddr(k.Addr) for source, a hash of
//     k.Data for uri / url_param / hdr / rdp-cookie / hash; round robin when
//     k.Valid is false; maxconn slots and queue as in tcp mode) and Server (Name, Dial
//     with timeout connect / retries / source / send-proxy, Release of the slot, Pool).
//     A Backend may also implement Responder to answer requests itself (stats page).
//  5. Stick tables: set opts.Stick to a func returning the *tcprules.Rules of a
//     section by name, compiled into the generation's tcprules.Build before
//     httpmode.Compile (commit the Build after both compiled). http-request
//     track-sc0|1|2 then works, and sc_* / src_* fetches of http-request rules find
//     their tables. To make counters tracked by tcp-request connection rules count the
//     HTTP requests of their connection, run the frontend's tcprules Connection /
//     Session / Content on a tcprules.Session and pass &session.Txn as the txn below
//     (the engine then uses that Session; the data plane still Closes it). Otherwise the
//     engine keeps a Session of its own per connection.
//  6. For each accepted connection of an http frontend:
//     st := prog.Frontend(name).Serve(ctx, conn, acceptTime, env, &acl.Txn{Src, Dst,
//     FrontendName, TLS, Env}); conn.Close(). ctx ends the session early (shutdown, kill:
//     the sockets are closed). st sums the connection for counters.
//     conn and the connections Server.Dial returns are read, written and spliced with
//     raw system calls when they are a *net.TCPConn or an *FDConn (a socket the data
//     plane opened itself: NewFDConn(fd, local, remote), in Go's netpoller only once
//     it has to wait); anything else (TLS) through its own Read and Write. A ctx with
//     an AfterFunc(f) (stop func() bool) method (what context.AfterFunc looks for)
//     is asked for the abort callback directly instead of through context.AfterFunc.
//
// Serve is safe for concurrent use; Frontend and Program are read-only after Compile.
// The caller recovers panics of Serve as for tcp sessions; the goroutines Serve starts
// itself (request body, tunnel) recover their own and end the session.
// The steady state of a keep-alive request allocates nothing.
//
// # Decisions a user sees
//
//   - Malformed requests (every http1 refusal, smuggling shapes included) get 400 and a
//     close, with the http1 error name in LogEntry.Error; nothing is forwarded. A
//     malformed chunked request body aborts both sides: the server has seen the head
//     and well-formed chunks only, never a complete request.
//   - Expect: 100-continue is answered by appl itself once a server connection is ready,
//     and not forwarded (the server sees the body right away).
//   - A request with a body whose response is generated by appl (deny, redirect,
//     return, errors) closes the client connection afterwards: the body is not drained.
//   - A response without length (read until close) closes the client connection too
//     (no re-chunking).
//   - timeout server counts from the end of the request body, not from the request
//     head, so slow uploads are not cut; a server that stops reading the body times out
//     as a write.
//   - Hop-by-hop fields (Connection and those it lists, Keep-Alive, Proxy-Connection) are
//     removed in both directions; appl writes its own Connection field when needed.
//   - An idle keep-alive connection that times out or closes is not logged (as HAProxy);
//     a connection closed before any request is logged as CR with <BADREQ>.
//   - cookie maxidle/maxlife dates are carried as "SRV|LAST|FIRST" (base-32 seconds),
//     not HAProxy's encoding: cookies issued by HAProxy are read as unknown servers.
//   - http-request set-query with an empty result removes the query and its '?'.
//   - Regular expressions (replace-header, del-header -m reg) use RE2 syntax.
package httpmode
