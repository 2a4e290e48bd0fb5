package httpmode

// Stick counters in http mode: `http-request track-sc0|1|2 KEY [table T]`, the
// http_req_* / http_err_* counting on tracked entries, and the sc_* / src_* fetches of
// http-request rules. The tables, the tracking and the fetches are package tcprules'
// (the same code as tcp mode); this file only calls them at the right points of a
// request. The data plane gives the compiled tcprules.Rules of every section through
// Options.Stick (see api.go and doc.go).

import (
	"sync"

	"appl/internal/cfgfile"
	"appl/proxy/tcprules"
)

// parseTrack compiles `http-request track-scN KEY [table T]` (args without the
// condition) with the section's tcprules.Rules.
func (p *ruleParser) parseTrack(l cfgfile.Line, r *rule, args []string) error {
	if p.stick == nil {
		// "unsupported" keeps the rule skippable (Options.SkipUnsupported).
		return l.Errorf("unsupported http-request action %q without stick tables (the data plane gives them through httpmode.Options.Stick)", args[0])
	}
	t, err := p.stick.CompileHTTPTrack(l, args, p.opt)
	if err != nil {
		return err
	}
	r.act, r.track = actTrack, t
	return nil
}

// stickOf returns the section's compiled stick rules, nil without the hook.
func stickOf(opt Options, name string) *tcprules.Rules {
	if opt.Stick == nil {
		return nil
	}
	return opt.Stick(name)
}

var stickSessions = sync.Pool{New: func() any { return tcprules.NewSession() }}

// stickStart binds the connection's stick counters: the data plane's tcprules.Session
// when it gave one in txn.Ext (its tcp-request counters then count HTTP requests too),
// else one of our own when the frontend has stick rules.
func (s *session) stickStart() {
	s.ts, s.ownTS = tcprules.SessionOf(s.txn), false
	if s.ts != nil || s.f.stick == nil || s.txn.Ext != nil {
		return
	}
	ts := stickSessions.Get().(*tcprules.Session)
	ts.Reset(s.txn.Src, s.txn.Dst)
	if ts.Bind(s.txn) != nil {
		stickSessions.Put(ts)
		return
	}
	s.ts, s.ownTS = ts, true
}

// stickStop ends the connection's counters when they are ours.
func (s *session) stickStop() {
	if s.ts != nil {
		s.ts.EndRequest()
		if s.ownTS {
			s.ts.Close(0, 0)
			s.txn.Ext = nil
			stickSessions.Put(s.ts)
		}
	}
	s.ts, s.ownTS = nil, false
}

// stickRequest counts a new request on the counters tracked so far and makes the
// frontend the section whose table src_* fetches read.
func (s *session) stickRequest() {
	if s.ts == nil {
		return
	}
	s.ts.CountHTTPReq()
	if s.f.stick != nil {
		s.f.stick.Enter(s.ts)
	}
}

// stickBackend makes the backend the section whose table src_* fetches read, before
// its http-request rules run.
func (s *session) stickBackend(bp *backendProg) {
	if s.ts != nil && bp.stick != nil {
		bp.stick.Enter(s.ts)
	}
}

// stickEnd closes the request for the counters: an error status (4xx, including the
// 400 / 408 appl answers to bad requests, and denials) counts as an HTTP error on every
// tracked entry (http_err_cnt, http_err_rate), and the counters tracked by http-request
// rules are released.
func (s *session) stickEnd() {
	if s.ts == nil {
		return
	}
	if st := s.log.Status; st >= 400 && st < 500 {
		s.ts.CountHTTPErr()
	}
	s.ts.EndRequest()
}

// stickBadRequest counts a request head that could not be read: answered (400, 408)
// it is a request and an error, as in HAProxy; a client that left says nothing.
func (s *session) stickBadRequest() {
	if s.ts != nil && s.log.Status != 0 {
		s.ts.CountHTTPReq()
	}
	s.stickEnd()
}
