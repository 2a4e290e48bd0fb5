// Package proxy is appl's data plane: it runs a decoded configuration
// (proxy/config) as listeners, frontends, backends and servers. It owns the connection
// path (accept, accept-proxy, use_backend rules, balancing with health, weights, maxconn
// and queues, backup servers, connect with retries and redispatch, transparent source,
// send-proxy, forwarding, the access log line), health-check scheduling, server state
// and its events, seamless reload and draining shutdown.
//
// tcp-request rules, stick tables and stickiness run through proxy/tcprules in the order
// its doc gives (connection rules at accept, session rules after the PROXY header,
// content rules of the frontend then the backend, stick match before balancing, stick
// store after connect). One tcprules.Tables lives as long as the Proxy: each build
// Begins, the Commit happens with the generation's, so tables survive reloads and a
// refused reload leaves them untouched. Refusals look as in haproxy on the wire:
// connection/session reject = RST, content reject = FIN, silent-drop = nothing
// (TCP_REPAIR). The per-connection rule state is pooled and given back right after
// connect when nothing is tracked.
//
// For the runtime API (appliance adapts it) it offers Enable/DisableFrontend (listeners
// stop listening with shutdown(SHUT_RD) and listen again on the same socket, so a
// disabled frontend refuses connections), SetFrontendMaxConn / SetGlobalMaxConn
// (limiters resize in place; connections holding slots keep them), Sessions,
// ShutdownSession and Tables.
//
// Frontends in mode http hand their accepted connections (after the tcp-request
// connection, session and content rules) to the http engine (proxy/httpmode), compiled
// once per configuration generation; http.go implements the engine's Env, Backend and
// Server over the same backends and servers: per-request balancing (the L7 algorithms
// hash request bytes), persistence to a named server (up or draining, queued when full),
// maxconn slots held for one request, dialing with retries / source / send-proxy, one
// idle-connection pool per server for its lifetime, http counters and httplog lines.
// Shutdown cancels a drain context (idle keep-alive connections close) and a hard stop
// cancels each http session's context.
//
// The pieces that test without sockets live in subpackages: balance (algorithms), check
// (rise/fall machine and probes), accesslog (log lines, syslog) and relay (splice
// forwarding). It must not know about VRRP, replication, the admin API or the config file
// syntax: callers hand it a *config.Config and read Status and Subscribe.
package proxy
