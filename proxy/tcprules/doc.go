// Package tcprules turns a proxy section's `stick-table`, `tcp-request` and `stick`
// directives into behaviour the data plane runs per connection (and http mode reuses):
// tracked stick counters, accept/reject/silent-drop verdicts, and stickiness to a
// server. It also registers the stick-counter fetches into proxy/acl.
//
// It owns the rule semantics (HAProxy's) and the registry of tables that survives
// reloads. It must not know sockets, the data plane (appl/proxy) or the decoder
// (appl/proxy/config): it takes the raw cfgfile.Line values the decoder keeps and gives
// back verdicts; the data plane does the I/O.
//
// # Configuration
//
//	tables := tcprules.NewTables(stick.Options{})       // once per process
//	b := tables.Begin()                                  // per (re)load
//	fe, err := tcprules.Compile("fe", tcprules.Frontend, feLines, feACLs, b, opt)
//	be, err := tcprules.Compile("be", tcprules.Backend, beLines, beACLs, b, opt)
//	ch, err := b.Commit()    // on any error: drop b, the running config is untouched
//
// Every frontend and backend gets a *Rules, also with no lines. A listen section is
// either compiled once with Listen (use the same *Rules for both halves) or once per
// half with Frontend and Backend: both work, tables are shared and content rules run
// once. Lines Compile does not own are skipped. Errors are positioned
// ("file:line: tcp-request: ...") and name the bad word and what was expected.
// opt.ACL must carry the BaseDir and maps store of the section's acl.Set (key
// expressions such as `dst,map_ip(./map)` load through it).
//
// Commit keeps a table whose definition did not change (the same *stick.Table, with
// all its entries), rebuilds a table whose definition changed but whose key type and
// length did not (Snapshot of the old one restored into the new one; changes made
// between the snapshot and the switch to the new rules are lost), starts empty when
// the key type changed, and closes dropped tables. Changes lists what happened, so the
// caller can attach replication sinks (stick.Table.SetSink) to new tables.
// A stick rule naming a table adds server_id and server_key to it (HAProxy does the
// same). `table NAME` may name a table declared anywhere in the file: Commit checks.
//
// # Per connection (order)
//
//	s.Reset(src, dst)                    // pooled *Session; set s.Txn.FrontendName, Env...
//	v := fe.Connection(s)                // at accept, before reading; always called
//	(PROXY header, TLS handshake)        // then update s.Txn.Src/Dst if they changed
//	v = fe.Session(s)                    // always: counts sess_cnt/sess_rate
//	if fe.NeedsData() { wait for data or fe.InspectDelay() }
//	v = fe.Content(s)                    // else right away
//	(use_backend ...)                    // s.Txn.BackendName = be
//	v = be.Content(s)                    // backend content rules (skips a listen's own)
//	name, id, ok := be.StickServer(s, usable) // before balancing; prefer name if ok
//	(balance, connect)
//	be.StickStore(s, srvID, srvName)     // after the server connection is up
//	be.StickStoreResponse(s, ...)        // when the server first answers (store-response)
//	s.AddBytes(in, out)                  // optional, for long connections
//	s.Close(bytesIn, bytesOut)           // always, also after Reject: releases sc0..sc2
//
// A verdict other than Accept ends the connection there: call Close and drop it. What
// the client sees, as haproxy 2.6 does it (checked on loopback):
//   - Reject from Connection: an RST: set SO_LINGER {on, 0} and close. (Session: the
//     same is recommended; not compared with haproxy.)
//   - Reject from Content: an orderly close (FIN).
//   - SilentDrop: nothing at all. Set TCP_REPAIR (setsockopt SOL_TCP, 19, 1; needs
//     CAP_NET_ADMIN, which appld has) and close: the kernel discards the socket
//     without FIN or RST and the client times out. If TCP_REPAIR fails, set IP_TTL
//     (IPV6_UNICAST_HOPS) to 1 and close with SO_LINGER 0: the RST dies at the first
//     router (on the same LAN it still reaches the client).
//
// Content rules: HAProxy waits for data only when a rule's fetch needs it. acl does
// not say which fetches a named ACL uses, so NeedsData is true when inspect-delay is set
// and a content rule uses a data fetch (req.*, payload, HTTP) or a named ACL. Rules that
// read only the connection (src, dst, sc_*) never wait.
//
// # Rule semantics (HAProxy 2.6)
//
// tcp-request connection|session|content: accept, reject, silent-drop end the ruleset;
// track-sc0|1|2 KEY [table T], sc-inc-gpc0(N), sc-inc-gpc1(N), sc-set-gpt0(N) VALUE,
// set-var(NAME) EXPR, unset-var(NAME) go on; all take [if|unless COND]. Without a final
// action the verdict is Accept (seed 000's `tcp-request content reject` after its
// `accept if { src -f ./white_ip_list }` is what refuses the others). Tracking a counter
// counts conn_cnt, conn_cur and conn_rate; the first tracking of a counter wins.
// Entries tracked by connection and session rules count sess_cnt/sess_rate when the
// session is accepted. Close counts conn_cur down and releases the entries. Other
// HAProxy actions (capture, expect-proxy, set-src ...) are refused as not supported
// (never silently ignored). Connection and session rules in a backend-only section
// and stick rules in a frontend-only section are skipped (the decoder warns).
//
// stick match|on|store-request|store-response KEY [table T] [if|unless COND]: match
// rules are tried in order and the first entry found whose server usable() accepts
// wins (touching the entry); store rules note their key, only the first per table;
// StickStore writes server_id and server_key (appl identifies servers by name across
// the two boxes). Stickiness therefore holds as long as the stored server exists and
// is up, also when servers are added.
//
// appl extension (user visible): entries written by stick store rules also count the
// connection (conn_cnt, conn_cur, conn_rate, sess_cnt, sess_rate, bytes at Close) when
// the table stores them and the session does not already track the same entry, and
// they are held in use until Close (an open connection's stickiness is not evicted).
// HAProxy 2.6 leaves conn_cnt at 0 for seed 000's `stick on src` + `store conn_cnt`
// (checked against haproxy); appl shows the count, which is what that configuration
// asks for. Options.HAProxyStickCounts restores HAProxy's behaviour.
//
// # Fetches
//
// Registered from init into acl: sc_X(N[,table]), sc0_X..sc2_X([table]) and
// src_X([table]) for X in conn_cnt, conn_cur, conn_rate, sess_cnt, sess_rate,
// http_req_cnt, http_req_rate, http_err_cnt, http_err_rate, http_fail_cnt,
// http_fail_rate, bytes_in_rate, bytes_out_rate, kbytes_in, kbytes_out, get_gpc0,
// get_gpc1, gpc0_rate, gpc1_rate, get_gpt0, inc_gpc0, inc_gpc1, clr_gpc0, clr_gpc1,
// trackers; src_updt_conn_cnt, sc_tracked(N), scN_tracked, table_avl([table]),
// table_cnt([table]); converters in_table(table) and table_X(table). As in HAProxy: an
// untracked counter or a table that does not store X gives no sample (the ACL is
// false); an absent key gives 0; src_inc_*/src_clr_* create the entry. Without a table
// argument src_* and table_* use the table of the proxy whose rules run (the frontend's
// until a backend's Content or StickServer runs). The Session travels in acl.Txn.Ext;
// a table argument is checked at parse time through acl.Options.Known("table", name)
// when the decoder answers that kind, and at run time a missing table finds nothing.
// A binary that parses configurations must import this package for the fetches to
// exist.
//
// # HTTP mode (http.go)
//
// The HTTP engine (proxy/httpmode) gets each section's *Rules from the data plane
// (httpmode.Options.Stick) and uses:
//
//	t, err := r.CompileHTTPTrack(line, words, aclOpt) // http-request track-scN KEY [table T]
//	ts := tcprules.SessionOf(txn)      // the data plane's Session, if it gave txn = &s.Txn
//	ts.Bind(txn)                       // else its own (NewSession, Reset): txn.Ext = ts
//	ts.CountHTTPReq(); r.Enter(ts)     // each request: connection counters count it;
//	                                   // src_* read r's table (backend: Enter again)
//	t.Run(ts, txn)                     // the action: tracks for this request, counts it
//	ts.CountHTTPErr()                  // the request ended with a 4xx
//	ts.EndRequest()                    // releases the counters tracked for the request
//
// Counters tracked by tcp-request rules last for the connection (Close releases them);
// those tracked by http-request rules last for one request (HAProxy's stream) and count
// no connection (conn_*), only requests.
package tcprules
