package tcprules

import (
	"fmt"
	"strings"

	"appl/internal/cfgfile"
	"appl/proxy/acl"
)

// What the HTTP engine (proxy/httpmode) uses: it compiles `http-request track-scN`
// against the section's Rules, runs it on the connection's Session, and counts requests
// and errors on the tracked entries. The counting and the sc_*/src_* fetches are the
// same code as in tcp mode, so a counter tracked by `tcp-request connection track-sc0`
// also counts the HTTP requests of its connection.
//
// Lifetimes follow HAProxy: counters tracked by tcp-request rules last for the whole
// connection; a counter tracked by an http-request rule lasts for one request (one
// HAProxy stream) and is released by EndRequest, so the next request may track again.

// HTTPTrack is one compiled `http-request track-scN KEY [table NAME]` action.
type HTTPTrack struct {
	sc  int
	key *acl.Expr
	tab *slot
}

// SC returns the counter number N of track-scN.
func (t *HTTPTrack) SC() int { return t.sc }

// CompileHTTPTrack compiles the action words of an http-request track-scN line, from
// `track-scN` up to the condition (excluded), for the section r: without `table NAME`
// the section's own table is used. opt must be the acl options of the section's rules
// (BaseDir, maps). A table named here and declared nowhere makes Commit fail with the
// line's position; once r's Build is committed an unknown name is refused right away.
func (r *Rules) CompileHTTPTrack(l cfgfile.Line, words []string, opt acl.Options) (*HTTPTrack, error) {
	if len(words) == 0 || !strings.HasPrefix(words[0], "track-sc") {
		return nil, l.Errorf("%q is not a track-sc action (expected track-sc0, track-sc1 or track-sc2)", strings.Join(words[:min(len(words), 1)], ""))
	}
	if r.build.done && len(words) >= 4 && words[2] == "table" && r.build.lookup(words[3]) == nil {
		return nil, l.Errorf("%s: no stick-table named %q (expected the name of a section that declares one)", words[0], words[3])
	}
	c := compiler{r: r, b: r.build, opt: Options{ACL: opt}}
	ru, err := c.tcpRule(l, "http-request", words)
	if err != nil {
		return nil, err
	}
	return &HTTPTrack{sc: ru.sc, key: ru.key, tab: ru.table}, nil
}

// Enter makes r the section whose rules run on s: src_* fetches and table_avl /
// table_cnt without a table argument read r's table. The HTTP engine calls it before
// the frontend's http-request rules and again before the backend's.
func (r *Rules) Enter(s *Session) {
	s.cur = r
	if s.front == nil {
		s.front = r
	}
}

// Run tracks the key of t in counter N unless that counter already tracks something,
// and counts one HTTP request on the new entry (http_req_cnt, http_req_rate), as
// HAProxy does when an http-request rule starts tracking. txn is what the key
// expression reads (the request's). It reports whether the counter now tracks the key.
func (t *HTTPTrack) Run(s *Session, txn *acl.Txn) bool {
	if s.sc[t.sc].e != nil || t.tab == nil || t.tab.t == nil {
		return false
	}
	tb := t.tab.t
	k, ok := sampleKey(tb, t.tab.kt, t.key, txn)
	if !ok {
		return false
	}
	e, err := tb.Track(k)
	if err != nil {
		return false // full of entries in use (or nopurge): HAProxy does not track either
	}
	e.CountHTTPReq()
	s.sc[t.sc] = counter{e: e, t: tb, request: true}
	return true
}

// EndRequest ends the request-scoped counters (tracked by http-request rules): their
// entries are released (expiry refreshed) and the counters are free for the next
// request. Counters tracked by tcp-request rules stay.
func (s *Session) EndRequest() {
	for i := range s.sc {
		if c := &s.sc[i]; c.e != nil && c.request {
			c.e.Release()
			*c = counter{}
		}
	}
}

// Bind makes txn's fetches (sc_*, src_*, ...) read s: the HTTP engine's transaction
// is a different acl.Txn from s.Txn when the data plane did not give it s.Txn. It
// returns an error when txn.Ext already holds something else.
func (s *Session) Bind(txn *acl.Txn) error {
	switch x := txn.Ext.(type) {
	case nil:
		txn.Ext = s
	case *Session:
		if x != s {
			return fmt.Errorf("tcprules: transaction already bound to another session")
		}
	default:
		return fmt.Errorf("tcprules: transaction carries %T", x)
	}
	return nil
}

// SessionOf returns the Session a transaction's fetches read, nil when none.
func SessionOf(txn *acl.Txn) *Session {
	s, _ := txn.Ext.(*Session)
	return s
}
