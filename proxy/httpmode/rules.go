package httpmode

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"appl/internal/cfgfile"
	"appl/proxy/acl"
	"appl/proxy/tcprules"
)

// action is what an http-request / http-response rule does.
type action uint8

const (
	actAllow action = iota + 1
	actDeny
	actAuth
	actRedirect
	actSetHeader
	actAddHeader
	actDelHeader
	actReplaceHeader
	actReplaceValue
	actSetPath
	actSetQuery
	actSetMethod
	actSetVar
	actSetVarFmt
	actUnsetVar
	actReturn
	actSetStatus
	actTrack
)

// redirect kinds.
const (
	redirLocation = iota
	redirPrefix
	redirScheme
)

// rule is one compiled http-request, http-response or redirect line.
type rule struct {
	pos    cfgfile.Pos
	act    action
	cond   *acl.Cond
	name   string         // header or variable name
	fmt    *acl.LogFormat // value, path, location, ...
	expr   *acl.Expr      // set-var
	re     *regexp.Regexp // replace-header/value
	match  string         // del-header -m: str (default), beg, end, sub, reg
	status int            // deny/return/redirect code, set-status
	reason string
	realm  string
	// redirect
	redir       int
	dropQuery   bool
	appendSlash bool
	setCookie   string
	// return / deny with a body
	ctype  string
	body   []byte
	lfBody *acl.LogFormat
	raw    []byte // errorfile: a complete response
	hdrs   []hdrFmt
	// track-scN
	track *tcprules.HTTPTrack
}

type hdrFmt struct {
	name string
	fmt  *acl.LogFormat
}

// ruleParser holds what parsing rules needs.
type ruleParser struct {
	set     *acl.Set
	opt     acl.Options
	proxy   string
	baseDir string
	stick   *tcprules.Rules // the section's stick tables and counters (Options.Stick)
}

// splitCond cuts a rule's words at the first `if` or `unless`.
func splitCond(words []string) (args, cond []string) {
	for i, w := range words {
		if w == "if" || w == "unless" {
			return words[:i], words[i:]
		}
	}
	return words, nil
}

// parse compiles one line. kw is "http-request", "http-response" or "redirect".
func (p *ruleParser) parse(l cfgfile.Line) (*rule, error) {
	kw := l.Keyword()
	words := l.Words[1:]
	if kw == "redirect" {
		words = append([]string{"redirect"}, words...)
	}
	args, condWords := splitCond(words)
	if len(args) == 0 {
		return nil, l.Errorf("missing action (expected %s ACTION ...)", kw)
	}
	r := &rule{pos: l.Pos}
	if condWords != nil {
		if p.set == nil {
			return nil, l.Errorf("condition without an ACL set")
		}
		c, err := p.set.ParseCond(l, condWords)
		if err != nil {
			return nil, err
		}
		r.cond = c
	}
	resp := kw == "http-response"
	act, rest := args[0], args[1:]
	lf := func(s string) (*acl.LogFormat, error) {
		f, err := acl.ParseLogFormat(s, p.opt)
		if err != nil {
			return nil, l.Errorf("%s: %v", act, err)
		}
		return f, nil
	}
	need := func(n int, usage string) error {
		if len(rest) != n {
			return l.Errorf("%s takes %d argument(s), got %d (expected %s %s)", act, n, len(rest), act, usage)
		}
		return nil
	}
	var err error
	switch {
	case act == "allow":
		r.act = actAllow
		if len(rest) > 0 {
			return nil, l.Errorf("allow takes no argument, got %q", strings.Join(rest, " "))
		}
	case act == "deny":
		r.act, r.status = actDeny, 403
		if resp {
			r.status = 502
		}
		if err := p.parseReturnArgs(l, r, rest, true); err != nil {
			return nil, err
		}
	case act == "auth" && !resp:
		r.act, r.realm = actAuth, p.proxy
		switch {
		case len(rest) == 0:
		case len(rest) == 2 && rest[0] == "realm":
			r.realm = rest[1]
		default:
			return nil, l.Errorf("auth: unexpected %q (expected auth [realm REALM])", strings.Join(rest, " "))
		}
	case act == "redirect" && !resp:
		r.act = actRedirect
		if err := p.parseRedirect(l, r, rest); err != nil {
			return nil, err
		}
	case act == "set-header" || act == "add-header":
		r.act = actSetHeader
		if act == "add-header" {
			r.act = actAddHeader
		}
		if err := need(2, "NAME FORMAT"); err != nil {
			return nil, err
		}
		if !validToken(rest[0]) {
			return nil, l.Errorf("%s: %q is not a valid header name", act, rest[0])
		}
		r.name = rest[0]
		if r.fmt, err = lf(rest[1]); err != nil {
			return nil, err
		}
	case act == "del-header":
		r.act, r.match = actDelHeader, "str"
		switch {
		case len(rest) == 1:
		case len(rest) == 3 && rest[1] == "-m":
			switch rest[2] {
			case "str", "beg", "end", "sub":
			case "reg":
				if r.re, err = regexp.Compile(rest[0]); err != nil {
					return nil, l.Errorf("del-header: bad regex %q: %v", rest[0], err)
				}
			default:
				return nil, l.Errorf("del-header: unknown match %q (expected str, beg, end, sub or reg)", rest[2])
			}
			r.match = rest[2]
		default:
			return nil, l.Errorf("del-header takes NAME [-m str|beg|end|sub|reg], got %q", strings.Join(rest, " "))
		}
		r.name = rest[0]
	case act == "replace-header" || act == "replace-value":
		r.act = actReplaceHeader
		if act == "replace-value" {
			r.act = actReplaceValue
		}
		if err := need(3, "NAME REGEX FORMAT"); err != nil {
			return nil, err
		}
		r.name = rest[0]
		if r.re, err = regexp.Compile(rest[1]); err != nil {
			return nil, l.Errorf("%s: bad regex %q: %v (RE2 syntax)", act, rest[1], err)
		}
		if r.fmt, err = lf(rest[2]); err != nil {
			return nil, err
		}
	case (act == "set-path" || act == "set-query" || act == "set-method") && !resp:
		r.act = map[string]action{"set-path": actSetPath, "set-query": actSetQuery, "set-method": actSetMethod}[act]
		if err := need(1, "FORMAT"); err != nil {
			return nil, err
		}
		if r.fmt, err = lf(rest[0]); err != nil {
			return nil, err
		}
	case act == "set-status" && resp:
		r.act = actSetStatus
		if len(rest) != 1 && !(len(rest) == 3 && rest[1] == "reason") {
			return nil, l.Errorf("set-status takes CODE [reason TEXT]")
		}
		if r.status, err = strconv.Atoi(rest[0]); err != nil || r.status < 100 || r.status > 599 {
			return nil, l.Errorf("set-status: bad status %q (expected 100..599)", rest[0])
		}
		if len(rest) == 3 {
			r.reason = rest[2]
		}
	case strings.HasPrefix(act, "set-var(") || strings.HasPrefix(act, "set-var-fmt(") || strings.HasPrefix(act, "unset-var("):
		open := strings.IndexByte(act, '(')
		if !strings.HasSuffix(act, ")") {
			return nil, l.Errorf("%s: missing ')'", act)
		}
		r.name = act[open+1 : len(act)-1]
		if err := acl.ValidVarName(r.name); err != nil {
			return nil, l.Errorf("%v", err)
		}
		switch act[:open] {
		case "set-var":
			r.act = actSetVar
			if len(rest) != 1 {
				return nil, l.Errorf("set-var(%s) takes one expression", r.name)
			}
			if r.expr, err = acl.ParseExpr(rest[0], p.opt); err != nil {
				return nil, l.Errorf("set-var(%s): %v", r.name, err)
			}
		case "set-var-fmt":
			r.act = actSetVarFmt
			if len(rest) != 1 {
				return nil, l.Errorf("set-var-fmt(%s) takes one format", r.name)
			}
			if r.fmt, err = lf(rest[0]); err != nil {
				return nil, err
			}
		default:
			r.act = actUnsetVar
			if len(rest) != 0 {
				return nil, l.Errorf("unset-var(%s) takes no argument", r.name)
			}
		}
	case strings.HasPrefix(act, "track-sc") && !resp:
		if err := p.parseTrack(l, r, args); err != nil {
			return nil, err
		}
	case act == "return" && !resp:
		r.act, r.status = actReturn, 200
		if err := p.parseReturnArgs(l, r, rest, false); err != nil {
			return nil, err
		}
	default:
		return nil, l.Errorf("unsupported %s action %q (appl serves allow, deny, auth, redirect, set-header, add-header, del-header, replace-header, replace-value, set-path, set-query, set-method, set-var, set-var-fmt, unset-var, return, track-sc0, track-sc1, track-sc2; http-response: allow, deny, set-header, add-header, del-header, replace-header, replace-value, set-status, set-var)", kw, act)
	}
	return r, nil
}

// parseReturnArgs reads [status|deny_status N] [content-type T] [string S | lf-string F |
// file F | lf-file F | errorfile F] [hdr NAME FMT]* for return and deny.
func (p *ruleParser) parseReturnArgs(l cfgfile.Line, r *rule, a []string, deny bool) error {
	for i := 0; i < len(a); i++ {
		k := a[i]
		val := func() (string, error) {
			if i+1 >= len(a) {
				return "", l.Errorf("%s needs a value", k)
			}
			i++
			return a[i], nil
		}
		v, err := val()
		if err != nil {
			return err
		}
		switch k {
		case "status", "deny_status":
			if k == "deny_status" && !deny {
				return l.Errorf("deny_status is for deny (expected status N)")
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 200 || n > 599 {
				return l.Errorf("%s: bad status %q (expected 200..599)", k, v)
			}
			r.status = n
		case "content-type":
			if !validValue(v) {
				return l.Errorf("content-type: invalid characters")
			}
			r.ctype = v
		case "string":
			r.body = []byte(v)
		case "lf-string":
			f, err := acl.ParseLogFormat(v, p.opt)
			if err != nil {
				return l.Errorf("lf-string: %v", err)
			}
			r.lfBody = f
		case "file", "lf-file", "errorfile":
			b, err := os.ReadFile(p.path(v))
			if err != nil {
				return l.Errorf("%s: %v", k, err)
			}
			switch k {
			case "file":
				r.body = b
			case "lf-file":
				f, err := acl.ParseLogFormat(string(b), p.opt)
				if err != nil {
					return l.Errorf("lf-file %s: %v", v, err)
				}
				r.lfBody = f
			default:
				if err := checkRawResponse(b); err != nil {
					return l.Errorf("errorfile %s: %v", v, err)
				}
				r.raw = b
			}
		case "hdr":
			if i+1 >= len(a) {
				return l.Errorf("hdr needs NAME FORMAT")
			}
			if !validToken(v) {
				return l.Errorf("hdr: %q is not a valid header name", v)
			}
			i++
			f, err := acl.ParseLogFormat(a[i], p.opt)
			if err != nil {
				return l.Errorf("hdr %s: %v", v, err)
			}
			r.hdrs = append(r.hdrs, hdrFmt{name: v, fmt: f})
		default:
			return l.Errorf("unexpected %q (expected status, content-type, string, lf-string, file, lf-file, errorfile or hdr)", k)
		}
	}
	if (r.body != nil || r.lfBody != nil) && r.ctype == "" {
		return l.Errorf("a body needs content-type TYPE")
	}
	return nil
}

func (p *ruleParser) path(f string) string {
	if filepath.IsAbs(f) || p.baseDir == "" {
		return f
	}
	return filepath.Join(p.baseDir, f)
}

// parseRedirect reads location|prefix|scheme FMT [code N] [drop-query] [append-slash]
// [set-cookie NAME[=VALUE]] [clear-cookie NAME[=]], options in any order (as HAProxy).
func (p *ruleParser) parseRedirect(l cfgfile.Line, r *rule, a []string) error {
	r.status = 302
	kind := ""
	for i := 0; i < len(a); i++ {
		switch a[i] {
		case "location", "prefix", "scheme":
			if kind != "" {
				return l.Errorf("redirect: %s after %s (expected only one of location, prefix or scheme)", a[i], kind)
			}
			if i+1 >= len(a) {
				return l.Errorf("redirect %s needs a value", a[i])
			}
			kind = a[i]
			r.redir = map[string]int{"location": redirLocation, "prefix": redirPrefix, "scheme": redirScheme}[kind]
			i++
			f, err := acl.ParseLogFormat(a[i], p.opt)
			if err != nil {
				return l.Errorf("redirect %s: %v", kind, err)
			}
			r.fmt = f
		case "code":
			if i+1 >= len(a) {
				return l.Errorf("code needs a value")
			}
			i++
			n, err := strconv.Atoi(a[i])
			switch n {
			case 301, 302, 303, 307, 308:
			default:
				err = fmt.Errorf("bad code")
			}
			if err != nil {
				return l.Errorf("redirect code %q (expected 301, 302, 303, 307 or 308)", a[i])
			}
			r.status = n
		case "drop-query":
			r.dropQuery = true
		case "append-slash":
			r.appendSlash = true
		case "set-cookie", "clear-cookie":
			if i+1 >= len(a) {
				return l.Errorf("%s needs NAME[=VALUE]", a[i])
			}
			i++
			c := a[i]
			if !validValue(c) || strings.ContainsAny(c, ";") {
				return l.Errorf("%s: invalid cookie %q", a[i-1], c)
			}
			if a[i-1] == "clear-cookie" {
				name, _, _ := strings.Cut(c, "=")
				c = name + "=; Expires=Thu, 01-Jan-1970 00:00:01 GMT"
			} else if !strings.Contains(c, "=") {
				c += "="
			}
			r.setCookie = c + "; path=/"
		default:
			return l.Errorf("redirect: unexpected %q (expected location, prefix, scheme, code, drop-query, append-slash, set-cookie or clear-cookie)", a[i])
		}
	}
	if kind == "" {
		return l.Errorf("redirect needs location|prefix|scheme VALUE")
	}
	return nil
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// checkRawResponse checks that an errorfile holds a complete HTTP/1.x response head.
func checkRawResponse(b []byte) error {
	if !strings.HasPrefix(string(b), "HTTP/1.") {
		return fmt.Errorf("does not start with an HTTP/1.x status line")
	}
	if !strings.Contains(string(b), "\r\n\r\n") && !strings.Contains(string(b), "\n\n") {
		return fmt.Errorf("no end of head (empty line)")
	}
	return nil
}

// ParseRule compiles one http-request, http-response or redirect line against an ACL
// set; it is what Compile does for every such line (exported for checks and fuzzing).
func ParseRule(l cfgfile.Line, set *acl.Set, opt acl.Options, proxyName string) error {
	p := ruleParser{set: set, opt: opt, proxy: proxyName, baseDir: opt.BaseDir}
	_, err := p.parse(l)
	return err
}
