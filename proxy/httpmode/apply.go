package httpmode

import (
	"bytes"
	"strconv"
	"strings"

	"appl/proxy/acl"
	"appl/proxy/http1"
)

// ruleResult is what a rule set decided.
type ruleResult uint8

const (
	ruleContinue ruleResult = iota // go on with the next stage
	ruleRespond                    // the response is in s.out: send it, do not forward
)

// reqRules runs http-request (or redirect) rules on the current request. A response
// built by deny/auth/redirect/return is left in s.out with s.log filled.
func (s *session) reqRules(rules []*rule, be *backendProg) ruleResult {
	for _, r := range rules {
		if r.cond != nil && !r.cond.Match(s.txn) {
			continue
		}
		switch r.act {
		case actAllow:
			return ruleContinue
		case actDeny:
			s.respond(r.status, r, be, 'P')
			s.log.Denied = true
			return ruleRespond
		case actAuth:
			s.out = http1.AppendAuthRequired(s.out[:0], r.realm)
			s.log.Status, s.log.Term = 401, [2]byte{'P', 'R'}
			s.log.Denied = true
			return ruleRespond
		case actRedirect:
			s.redirect(r)
			return ruleRespond
		case actReturn:
			s.respond(r.status, r, be, 'L')
			return ruleRespond
		case actTrack:
			if s.ts != nil {
				r.track.Run(s.ts, s.txn)
			}
		default:
			s.edit(r, &s.req.Fields, true)
		}
	}
	return ruleContinue
}

// respRules runs http-response rules; true means the response was denied (502 or the
// rule's status, built in s.out).
func (s *session) respRules(rules []*rule, be *backendProg) bool {
	for _, r := range rules {
		if r.cond != nil && !r.cond.Match(s.txn) {
			continue
		}
		switch r.act {
		case actAllow:
			return false
		case actDeny:
			s.respond(r.status, r, be, 'P')
			s.log.Denied = true
			return true
		case actSetStatus:
			s.resp.SetStatus(r.status, r.reason)
		default:
			s.edit(r, &s.resp.Fields, false)
		}
	}
	return false
}

// edit applies a header / path / variable action to a head.
func (s *session) edit(r *rule, f *http1.Fields, isReq bool) {
	switch r.act {
	case actSetHeader, actAddHeader:
		s.lf = r.fmt.Append(s.lf[:0], s.txn)
		if r.act == actSetHeader {
			f.Set(r.name, bstr(s.lf))
		} else {
			f.Add(r.name, bstr(s.lf))
		}
	case actDelHeader:
		for i := 0; i < f.Len(); i++ {
			if nameMatch(r, f.At(i).Name) {
				f.DelAt(i)
				i--
			}
		}
	case actReplaceHeader, actReplaceValue:
		for i := 0; i < f.Len(); i++ {
			h := f.At(i)
			if !equalFold(h.Name, r.name) {
				continue
			}
			if r.act == actReplaceHeader {
				if out, ok := s.replace(r, h.Value, s.rep[:0]); ok {
					s.rep = out
					f.SetValueAt(i, out)
				}
				continue
			}
			out := s.rep[:0]
			changed := false
			for v, first := h.Value, true; ; first = false {
				var e []byte
				j := bytes.IndexByte(v, ',')
				if j >= 0 {
					e = v[:j]
				} else {
					e = v
				}
				e = bytes.TrimSpace(e)
				if !first {
					out = append(out, ',', ' ')
				}
				var ok bool
				n := len(out)
				if out, ok = s.replace(r, e, out); ok {
					changed = true
				} else {
					out = append(out[:n], e...)
				}
				if j < 0 {
					break
				}
				v = v[j+1:]
			}
			s.rep = out
			if changed {
				f.SetValueAt(i, out)
			}
		}
	case actSetPath:
		if isReq {
			s.lf = r.fmt.Append(s.lf[:0], s.txn)
			s.req.SetPath(s.lf)
		}
	case actSetQuery:
		if isReq {
			s.lf = r.fmt.Append(s.lf[:0], s.txn)
			s.req.SetQuery(s.lf, len(s.lf) == 0)
		}
	case actSetMethod:
		if isReq {
			s.lf = r.fmt.Append(s.lf[:0], s.txn)
			s.req.SetMethod(string(s.lf))
		}
	case actSetVar:
		if v, ok := r.expr.Eval(s.txn); ok {
			v.Str = strings.Clone(v.Str) // the sample may alias the request buffer
			s.txn.SetVar(r.name, v)
		}
	case actSetVarFmt:
		s.txn.SetVar(r.name, acl.StrSample(string(r.fmt.Append(s.lf[:0], s.txn))))
	case actUnsetVar:
		s.txn.UnsetVar(r.name)
	}
}

func nameMatch(r *rule, name []byte) bool {
	switch r.match {
	case "beg":
		return len(name) >= len(r.name) && equalFold(name[:len(r.name)], r.name)
	case "end":
		return len(name) >= len(r.name) && equalFold(name[len(name)-len(r.name):], r.name)
	case "sub":
		return bytes.Contains(bytes.ToLower(name), []byte(strings.ToLower(r.name)))
	case "reg":
		return r.re.Match(name)
	}
	return equalFold(name, r.name)
}

// replace matches r.re against v and, when it matches, appends to dst the rule's format
// with \0..\9 replaced by the submatches (HAProxy replace-header semantics: the whole
// value is replaced).
func (s *session) replace(r *rule, v, dst []byte) ([]byte, bool) {
	m := r.re.FindSubmatchIndex(v)
	if m == nil {
		return dst, false
	}
	s.lf = r.fmt.Append(s.lf[:0], s.txn)
	f := s.lf
	for i := 0; i < len(f); i++ {
		if f[i] == '\\' && i+1 < len(f) && f[i+1] >= '0' && f[i+1] <= '9' {
			k := int(f[i+1] - '0')
			if 2*k+1 < len(m) && m[2*k] >= 0 {
				dst = append(dst, v[m[2*k]:m[2*k+1]]...)
			}
			i++
			continue
		}
		dst = append(dst, f[i])
	}
	return dst, true
}

// respond builds a generated response for deny/return: the rule's own body, an
// errorfile, or the built-in page.
func (s *session) respond(status int, r *rule, be *backendProg, cause byte) {
	s.log.Status, s.log.Term = status, [2]byte{cause, 'R'}
	if s.respPhase && r != nil && r.act == actDeny {
		s.log.Term[1] = 'H'
	}
	switch {
	case r != nil && r.raw != nil:
		s.out = append(s.out[:0], r.raw...)
	case r != nil && (r.body != nil || r.lfBody != nil || len(r.hdrs) > 0 || r.act == actReturn):
		body := r.body
		if r.lfBody != nil {
			s.lf = r.lfBody.Append(s.lf[:0], s.txn)
			body = s.lf
		}
		o := append(s.out[:0], "HTTP/1.1 "...)
		o = strconv.AppendInt(o, int64(status), 10)
		o = append(o, ' ')
		o = append(o, http1.StatusText(status)...)
		o = append(o, "\r\ncontent-length: "...)
		o = strconv.AppendInt(o, int64(len(body)), 10)
		o = append(o, "\r\n"...)
		if r.ctype != "" {
			o = append(o, "content-type: "...)
			o = append(o, r.ctype...)
			o = append(o, "\r\n"...)
		}
		for _, h := range r.hdrs {
			n := len(o)
			o = append(o, h.name...)
			o = append(o, ": "...)
			o = h.fmt.Append(o, s.txn)
			if !validValue(bstr(o[n+len(h.name)+2:])) {
				o = o[:n] // a value that would split the head is dropped
				continue
			}
			o = append(o, "\r\n"...)
		}
		o = append(o, "\r\n"...)
		s.out = append(o, body...)
	default:
		s.out = s.errorPage(s.out[:0], status, be)
	}
}

// errorPage appends the response for a generated status: the backend's errorfile, the
// frontend's, or the built-in page.
func (s *session) errorPage(dst []byte, status int, be *backendProg) []byte {
	if be != nil {
		if b, ok := be.errorfiles[status]; ok {
			return append(dst, b...)
		}
	}
	if b, ok := s.f.errorfiles[status]; ok {
		return append(dst, b...)
	}
	return http1.AppendError(dst, status)
}

// redirect builds a redirect response in s.out.
func (s *session) redirect(r *rule) {
	loc := r.fmt.Append(s.lf[:0], s.txn)
	switch r.redir {
	case redirPrefix, redirScheme:
		if r.redir == redirScheme {
			loc = append(loc, "://"...)
			if h, ok := s.req.Header("host"); ok {
				loc = append(loc, h...)
			}
		} else if len(loc) == 1 && loc[0] == '/' {
			loc = loc[:0] // prefix / keeps the URI as is
		}
		path := s.req.Path()
		loc = append(loc, path...)
		if r.appendSlash && (len(path) == 0 || path[len(path)-1] != '/') {
			loc = append(loc, '/')
		}
		if q, ok := s.req.Query(); ok && !r.dropQuery {
			loc = append(loc, '?')
			loc = append(loc, q...)
		}
	}
	s.lf = loc
	out, ok := http1.AppendRedirect(s.out[:0], r.status, loc, []byte(r.setCookie), !s.clientKeep)
	if !ok {
		s.out = http1.AppendError(s.out[:0], 500)
		s.log.Status, s.log.Term = 500, [2]byte{'P', 'R'}
		return
	}
	s.out = out
	s.log.Status, s.log.Term = r.status, [2]byte{'L', 'R'}
}
