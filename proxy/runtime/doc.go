// Package runtime is appl's HAProxy-compatible runtime API: the `stats
// socket` text protocol that operators script with
// `echo "show stat" | socat stdio /run/appl.sock`, with HAProxy 2.6's
// command syntax, output formats and error texts (checked against a real
// haproxy 2.6 on its stats socket), so existing scripts work unchanged.
//
// It owns the socket (Listen: a path, unix@PATH, ipv4@ADDR:PORT,
// ipv6@[ADDR]:PORT; unix sockets get their mode before they are reachable
// and a stale file is replaced), the protocol, the command table and the
// levels. It does not know the data plane: the proxy implements Target.
// It prints stick tables through proxy/stick's own formatting and edits
// maps through proxy/maps' Ref. It must not import appl/proxy or
// appl/proxy/config.
//
// # Wiring
//
//	l, err := runtime.Listen("/run/appl.sock", 0o600)  // `stats socket PATH mode 600`
//	lvl, err := runtime.ParseLevel("admin")             // `level admin`; none given: runtime.DefaultLevel
//	srv := runtime.NewServer(target, log)               // one per process; Serve per socket
//	go srv.Serve(l, lvl)
//	...
//	srv.Close()                                          // closes listeners and connections
//
// ListenWith adds the socket's owner (`user`/`group`). Server.Timeout is
// `stats timeout` (default 10s), Server.MaxConns `stats maxconn` (10).
// srv.Exec(level, line) runs a command line without a socket and returns
// the exact answer (for the admin API and tests).
//
// # Protocol
//
// As HAProxy's: a connection reads one line, answers, and closes (lines
// that arrived together are all answered). Commands on a line are
// separated by ';'; a backslash makes the next byte literal (`\;`, `\ `).
// Every answer ends with an empty line; no answer contains one. `prompt`
// toggles interactive mode: the connection stays open and "> " is printed
// after each answer; `quit` closes. A line is at most MaxLine bytes, a
// command at most MaxArgs words; a connection idle for Server.Timeout is
// closed. Unknown commands get HAProxy's "Unknown command..." text with
// the closest commands; a handler panic is answered and logged, never
// fatal. Not supported: payloads (`<<`), map/acl versions (@ver).
//
// # Levels
//
// user reads: help, show info|stat|servers state|map|acl|table (table
// headers only), get map|acl|weight. operator adds: table contents, set
// table, clear table, show sess, add/set/del/clear map and acl. admin adds:
// set server, enable|disable server|frontend, set weight, set maxconn,
// shutdown session. A refused command answers "Permission denied". One
// difference from HAProxy 2.6: it lets level user edit maps and ACLs;
// appl requires operator, so a user-level socket never changes state.
//
// Other deliberate differences: `set maxconn ... abc` is an error (HAProxy
// silently sets 0); `show sess` prints only what appl knows (proto, src,
// fe, be, srv, age, bytes), not HAProxy's internal buffer flags; help lists
// appl's commands only; `set server` supports state and weight (addr,
// health, agent, ssl, ... answer "not supported by appl yet").
//
// # Target
//
// Target (target.go) is the data plane's side: Info, Stats (StatRow with
// the Col* columns of HAProxy's CSV header; both are proxy/stats' Row and
// columns under their runtime names, so `show stat` and the stats page's
// `;csv` print the same way), ServersState, the server,
// frontend and maxconn setters, Sessions/ShutdownSession, Tables (the
// *stick.Table list) and Maps (a *maps.Store satisfies MapStore). Its
// errors are printed as they are; ErrNoBackend, ErrNoServer and the other
// sentinels carry HAProxy's texts.
package runtime
