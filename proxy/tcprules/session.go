package tcprules

import (
	"net/netip"

	"appl/proxy/acl"
	"appl/proxy/stick"
)

// MaxSC is the number of stick counters a session tracks (sc0, sc1, sc2), HAProxy's
// default (tune.stick-counters 3).
const MaxSC = 3

// maxStores is how many stick store rules (one per table) a session can hold, as
// HAProxy's s->store[8].
const maxStores = 8

// Verdict is what the rules decided about a connection.
type Verdict uint8

// Verdicts.
const (
	// Accept lets the connection go on.
	Accept Verdict = iota
	// Reject closes the connection: with an RST when Connection returned it, with a FIN
	// when Content did (haproxy 2.6's behaviour, see doc.go).
	Reject
	// SilentDrop closes the connection without telling the client: see doc.go for how
	// the data plane does that.
	SilentDrop
)

func (v Verdict) String() string {
	switch v {
	case Accept:
		return "accept"
	case Reject:
		return "reject"
	case SilentDrop:
		return "silent-drop"
	}
	return "verdict?"
}

// counter is one tracked stick counter (scN).
type counter struct {
	e *stick.Entry
	t *stick.Table
	// session: tracked by connection or session rules, counted as a session when the
	// session is accepted (HAProxy's session_count_new).
	session bool
	// request: tracked by an http-request rule, for one request (EndRequest).
	request bool
}

// store is a pending stick store: the key to record the chosen server under.
type store struct {
	t        *stick.Table
	k        stick.Key
	response bool
}

// Session is the per-connection state of the rules: the acl.Txn the conditions read,
// the tracked counters sc0..sc2, the pending stick stores and the entries counted for
// stickiness. One goroutine uses it at a time. Reuse Sessions (Reset) to avoid
// allocations; Close must run before Reset.
type Session struct {
	// Txn is what fetches read. Reset fills Src, Dst and Ext; the data plane fills the
	// rest (FrontendName, BackendName, Env, ClientHelloSNI, HTTP ...).
	Txn acl.Txn

	sc [MaxSC]counter
	// cur is the proxy whose rules run: src_* fetches without a table use its table.
	cur *Rules
	// front is the Rules that ran Connection (or the first Content); a backend half of
	// the same listen section does not run content rules again.
	front *Rules
	// contentRan is the last Rules whose content rules ran (the same Rules is not run
	// twice, e.g. a listen compiled once for both halves).
	contentRan [2]*Rules

	stores  [maxStores]store
	nstores int
	// stuck are entries counted by stick store rules (appl counts the connection on
	// them, see doc.go); released at Close.
	stuck  [maxStores]*stick.Entry
	nstuck int

	sessCounted bool
	closed      bool
}

// NewSession returns a session ready for Reset.
func NewSession() *Session { return &Session{closed: true} }

// Reset prepares s for a new connection from src to dst. The previous connection must
// have been closed (Close).
func (s *Session) Reset(src, dst netip.AddrPort) {
	if !s.closed {
		s.Close(0, 0)
	}
	*s = Session{}
	s.Txn.Src, s.Txn.Dst = src, dst
	s.Txn.Ext = s
}

// Tracked returns the entry tracked by counter n (0..2) and its table, nil when none.
func (s *Session) Tracked(n int) (*stick.Entry, *stick.Table) {
	if n < 0 || n >= MaxSC {
		return nil, nil
	}
	return s.sc[n].e, s.sc[n].t
}

// Track makes counter n track key k of table t, as track-scN does: the first tracking
// of a counter wins, later ones are ignored. It counts a connection on the entry
// (conn_cnt, conn_cur, conn_rate). It reports whether the counter now tracks k.
func (s *Session) Track(n int, t *stick.Table, k stick.Key) bool {
	return s.track(n, t, k, false)
}

func (s *Session) track(n int, t *stick.Table, k stick.Key, session bool) bool {
	if n < 0 || n >= MaxSC || s.sc[n].e != nil || t == nil {
		return false
	}
	e, err := t.Track(k)
	if err != nil {
		// Table full of entries in use (or nopurge): HAProxy does not track either.
		return false
	}
	e.CountConn()
	s.sc[n] = counter{e: e, t: t, session: session}
	return true
}

// tracks reports whether one of the counters already holds e.
func (s *Session) tracks(e *stick.Entry) bool {
	for i := range s.sc {
		if s.sc[i].e == e {
			return true
		}
	}
	return false
}

// AddBytes adds to bytes_in (client to server) and bytes_out of every tracked entry.
// Long connections may call it as they go; Close adds the rest.
func (s *Session) AddBytes(in, out uint64) {
	if in == 0 && out == 0 {
		return
	}
	for i := range s.sc {
		if e := s.sc[i].e; e != nil {
			e.AddBytes(in, out)
		}
	}
	for _, e := range s.stuck[:s.nstuck] {
		e.AddBytes(in, out)
	}
}

// CountHTTPReq counts an HTTP request on every tracked entry (http mode).
func (s *Session) CountHTTPReq() {
	for i := range s.sc {
		if e := s.sc[i].e; e != nil {
			e.CountHTTPReq()
		}
	}
}

// CountHTTPErr counts an HTTP error on every tracked entry (http mode).
func (s *Session) CountHTTPErr() {
	for i := range s.sc {
		if e := s.sc[i].e; e != nil {
			e.CountHTTPErr()
		}
	}
}

// countSession counts an accepted session on the counters tracked so far by connection
// and session rules, once.
func (s *Session) countSession() {
	if s.sessCounted {
		return
	}
	s.sessCounted = true
	for i := range s.sc {
		if c := &s.sc[i]; c.e != nil && c.session {
			c.e.CountSess()
		}
	}
}

// Close ends the connection: it adds the bytes not reported yet with AddBytes, counts
// conn_cur down and releases every tracked entry. It is safe to call twice.
func (s *Session) Close(bytesIn, bytesOut uint64) {
	if s.closed {
		return
	}
	s.closed = true
	for i := range s.sc {
		c := &s.sc[i]
		if c.e == nil {
			continue
		}
		c.e.AddBytes(bytesIn, bytesOut)
		if !c.request { // an http-request tracking counted no connection
			c.e.ConnClosed()
		}
		c.e.Release()
		*c = counter{}
	}
	for i, e := range s.stuck[:s.nstuck] {
		e.AddBytes(bytesIn, bytesOut)
		e.ConnClosed()
		e.Release()
		s.stuck[i] = nil
	}
	s.nstuck = 0
	s.nstores = 0
	s.cur, s.front, s.contentRan = nil, nil, [2]*Rules{}
}
