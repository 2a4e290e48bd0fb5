package acl

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"appl/internal/cfgfile"
	"appl/proxy/maps"
)

// Set holds the named ACLs of one proxy section.
type Set struct {
	opt   Options
	named map[string]*named
	anon  int
}

// named is every definition of one ACL name; they are ORed. Conditions hold the
// pointer, so a definition added after a condition that uses it still counts.
type named struct {
	name string
	defs []*ACL
}

// ACL is one ACL definition: an expression, a match method and patterns.
type ACL struct {
	Name  string
	expr  *Expr
	kind  maps.Kind
	icase bool
	refs  []*maps.Ref
	idx   []*maps.Index
	pats  []string // inline values, for Fetch.MatchFn
}

// NewSet returns a set with HAProxy's predefined ACLs (TRUE, FALSE, LOCALHOST,
// METH_GET, ...).
func NewSet(opt Options) *Set {
	if opt.Maps == nil {
		opt.Maps = maps.NewStore()
	}
	s := &Set{opt: opt, named: map[string]*named{}}
	for _, d := range predefined {
		words := append([]string{"acl"}, strings.Fields(d)...)
		if err := s.Define(cfgfile.Line{Pos: cfgfile.Pos{File: "<predefined>"}, Words: words}); err != nil {
			panic(err) // a bug in the table below
		}
	}
	return s
}

var predefined = []string{
	"TRUE always_true",
	"FALSE always_false",
	"LOCALHOST src 127.0.0.1/8 ::1",
	"METH_CONNECT method CONNECT",
	"METH_DELETE method DELETE",
	"METH_GET method GET HEAD",
	"METH_HEAD method HEAD",
	"METH_OPTIONS method OPTIONS",
	"METH_POST method POST",
	"METH_PUT method PUT",
	"METH_TRACE method TRACE",
	"HTTP_URL_ABS url_reg ^[^/:]*://",
	"HTTP_URL_SLASH url_beg /",
	"HTTP_URL_STAR url *",
	"HTTP_CONTENT hdr_val(content-length) gt 0",
	"HTTP req.proto_http",
}

// Has reports whether an ACL name is defined.
func (s *Set) Has(name string) bool { return s.named[name] != nil }

// Define adds `acl NAME FETCH [flags] [operator] VALUES...` (the whole line, keyword first).
// Several lines with the same name are ORed, as in HAProxy.
func (s *Set) Define(l cfgfile.Line) error {
	if len(l.Words) < 3 {
		return l.Errorf("missing ACL name or fetch (expected acl NAME FETCH [flags] [values])")
	}
	name := l.Words[1]
	if !validACLName(name) {
		return l.Errorf("bad ACL name %q (expected letters, digits, '-', '_', '.' and ':')", name)
	}
	a, err := s.parseACL(l, name, l.Words[2:])
	if err != nil {
		return err
	}
	n := s.named[name]
	if n == nil {
		n = &named{name: name}
		s.named[name] = n
	}
	n.defs = append(n.defs, a)
	return nil
}

func validACLName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// parseACL parses FETCH [flags] [operator] VALUES.
func (s *Set) parseACL(l cfgfile.Line, name string, words []string) (*ACL, error) {
	opt := s.opt
	opt.Where = l.Pos
	e, err := parseExpr(words[0], &opt)
	if err != nil {
		return nil, l.Errorf("acl %s: %v", name, err)
	}
	a := &ACL{Name: name, expr: e, kind: e.match}
	if a.kind == 0 {
		a.kind = e.fetch.Match
		if len(e.convs) > 0 {
			a.kind = defaultMatch(e.OutType())
		}
	}
	var files []string
	var mapFiles bool
	i := 1
flags:
	for ; i < len(words); i++ {
		w := words[i]
		switch w {
		case "-i":
			a.icase = true
		case "-n":
			// no DNS resolution: appl never resolves patterns anyway
		case "-M":
			mapFiles = true
		case "--":
			i++
			break flags
		case "-f", "-m", "-u":
			if i+1 >= len(words) {
				return nil, l.Errorf("acl %s: %s needs an argument", name, w)
			}
			i++
			arg := words[i]
			switch w {
			case "-f":
				files = append(files, arg)
			case "-m":
				k, ok := maps.ParseKind(arg)
				if !ok {
					return nil, l.Errorf("acl %s: unknown match method %q after -m (expected one of: %s)",
						name, arg, strings.Join(maps.KindNames(), ", "))
				}
				a.kind = k
			case "-u":
				if _, err := strconv.Atoi(arg); err != nil {
					return nil, l.Errorf("acl %s: -u needs a number, got %q", name, arg)
				}
			}
		default:
			if strings.HasPrefix(w, "-") && len(w) > 1 && !isNumber(w) {
				return nil, l.Errorf("acl %s: unknown flag %q (expected -i, -f FILE, -m METHOD, -n, -M, -u ID or --)", name, w)
			}
			break flags
		}
	}
	values := words[i:]
	if a.kind == maps.Int || a.kind == maps.Len {
		if values, err = applyOperators(values); err != nil {
			return nil, l.Errorf("acl %s: %v", name, err)
		}
	}
	if !a.kind.NeedsPatterns() && (len(values) > 0 || len(files) > 0) {
		return nil, l.Errorf("acl %s: -m %s takes no values, got %q", name, a.kind, strings.Join(append(files, values...), " "))
	}
	a.pats = values
	if e.fetch.MatchFn != nil {
		if len(files) > 0 {
			return nil, l.Errorf("acl %s: %s does not take pattern files", name, e.fetch.Name)
		}
		return a, nil
	}
	if len(values) > 0 {
		r := maps.NewRef(fmt.Sprintf("acl %s at %s", name, l.Pos), false)
		for _, v := range values {
			if _, err := r.Add(v, ""); err != nil {
				return nil, l.Errorf("acl %s: %v", name, err)
			}
		}
		a.refs = append(a.refs, r)
	}
	for _, f := range files {
		path := f
		if !filepath.IsAbs(path) && s.opt.BaseDir != "" {
			path = filepath.Join(s.opt.BaseDir, path)
		}
		r, err := s.opt.Maps.Load(path, path, mapFiles)
		if err != nil {
			return nil, l.Errorf("acl %s: pattern file: %v", name, err)
		}
		r.NoteUse("acl", l.Pos.File, l.Pos.Line)
		a.refs = append(a.refs, r)
	}
	if a.kind.NeedsPatterns() {
		for _, r := range a.refs {
			x, err := r.Index(a.kind, a.icase)
			if err != nil {
				return nil, l.Errorf("acl %s: %v (expected patterns for -m %s)", name, err, a.kind)
			}
			a.idx = append(a.idx, x)
		}
	}
	return a, nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	if err == nil {
		return true
	}
	_, _, err = maps.ParseIntRange(s)
	return err == nil
}

// applyOperators turns `gt 1024` style values into ranges.
func applyOperators(values []string) ([]string, error) {
	if len(values) == 0 {
		return values, nil
	}
	op := values[0]
	switch op {
	case "eq", "ge", "gt", "le", "lt":
	default:
		return values, nil
	}
	if len(values) < 2 {
		return nil, fmt.Errorf("operator %s needs a value", op)
	}
	out := make([]string, 0, len(values)-1)
	for _, v := range values[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("operator %s needs an integer, got %q", op, v)
		}
		switch op {
		case "eq":
			out = append(out, v)
		case "ge":
			out = append(out, v+":")
		case "gt":
			out = append(out, strconv.FormatInt(n+1, 10)+":")
		case "le":
			out = append(out, ":"+v)
		case "lt":
			out = append(out, ":"+strconv.FormatInt(n-1, 10))
		}
	}
	return out, nil
}

// Match evaluates one ACL definition.
func (a *ACL) Match(t *Txn) bool {
	e := a.expr
	f := e.fetch
	if f.Multi != nil && len(e.convs) == 0 && a.kind.NeedsPatterns() && f.MatchFn == nil {
		vals := f.Multi(t, e.args, t.scratch[:0])
		t.scratch = vals[:0]
		for _, v := range vals {
			if a.matchSample(t, StrSample(v)) {
				clear(vals)
				return true
			}
		}
		clear(vals)
		return false
	}
	smp, ok := e.Eval(t)
	if !ok {
		return false
	}
	if f.MatchFn != nil {
		return f.MatchFn(t, e.args, smp, a.pats)
	}
	return a.matchSample(t, smp)
}

func (a *ACL) matchSample(t *Txn, s Sample) bool {
	switch a.kind {
	case maps.Found:
		return true
	case maps.Bool:
		v, ok := s.AsInt()
		return ok && v != 0
	case maps.IP:
		ip, ok := s.AsIP()
		if !ok {
			return false
		}
		for _, x := range a.idx {
			if _, ok := x.LookupIP(ip); ok {
				return true
			}
		}
		return false
	case maps.Int:
		v, ok := s.AsInt()
		if !ok {
			return false
		}
		for _, x := range a.idx {
			if _, ok := x.LookupInt(v); ok {
				return true
			}
		}
		return false
	}
	var str string
	switch s.Type {
	case TypeStr:
		str = s.Str
	default:
		str = s.String()
	}
	if a.kind == maps.Len {
		for _, x := range a.idx {
			if _, ok := x.LookupInt(int64(len(str))); ok {
				return true
			}
		}
		return false
	}
	for _, x := range a.idx {
		if _, ok := x.Lookup(str); ok {
			return true
		}
	}
	return false
}

// Cond is a parsed condition: `if|unless` terms, implicitly ANDed, `||`-separated.
type Cond struct {
	unless bool
	or     [][]term
	src    string
}

type term struct {
	neg bool
	acl *named
}

// String returns the condition as written.
func (c *Cond) String() string { return c.src }

// ParseCond parses a condition from words that start with "if" or "unless"
// (e.g. the tail of a use_backend line). Anonymous ACLs `{ ... }` are allowed.
func (s *Set) ParseCond(l cfgfile.Line, words []string) (*Cond, error) {
	if len(words) == 0 || (words[0] != "if" && words[0] != "unless") {
		got := "nothing"
		if len(words) > 0 {
			got = strconv.Quote(words[0])
		}
		return nil, l.Errorf("expected if or unless before the condition, got %s", got)
	}
	c := &Cond{unless: words[0] == "unless", src: strings.Join(words, " ")}
	words = words[1:]
	if len(words) == 0 {
		return nil, l.Errorf("%s: missing condition (expected ACL names, '!', '||' or '{ FETCH VALUES }')", c.src)
	}
	var cur []term
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "||" || w == "or":
			if len(cur) == 0 {
				return nil, l.Errorf("%q without a condition before it", w)
			}
			c.or = append(c.or, cur)
			cur = nil
			continue
		case w == "}":
			return nil, l.Errorf("'}' without '{'")
		}
		neg := false
		if w == "!" {
			neg = true
			i++
			if i >= len(words) {
				return nil, l.Errorf("'!' at the end of the condition (expected an ACL name after it)")
			}
			w = words[i]
		} else if len(w) > 1 && w[0] == '!' {
			neg, w = true, w[1:]
		}
		if w == "{" || strings.HasPrefix(w, "{") {
			j := i + 1
			var inner []string
			if w != "{" {
				inner = append(inner, w[1:])
			}
			for ; j < len(words) && words[j] != "}"; j++ {
				if words[j] == "{" {
					return nil, l.Errorf("nested '{' in anonymous ACL")
				}
				inner = append(inner, words[j])
			}
			if j >= len(words) {
				return nil, l.Errorf("anonymous ACL not closed (expected '}' as a separate word)")
			}
			if len(inner) == 0 {
				return nil, l.Errorf("empty anonymous ACL '{ }' (expected a fetch inside)")
			}
			s.anon++
			name := fmt.Sprintf("anonymous-%d", s.anon)
			a, err := s.parseACL(l, name, inner)
			if err != nil {
				return nil, err
			}
			cur = append(cur, term{neg: neg, acl: &named{name: name, defs: []*ACL{a}}})
			i = j
			continue
		}
		n := s.named[w]
		if n == nil {
			return nil, l.Errorf("unknown ACL %q in condition (define it first with 'acl %s FETCH VALUES', or use '{ FETCH VALUES }')", w, w)
		}
		cur = append(cur, term{neg: neg, acl: n})
	}
	if len(cur) == 0 {
		return nil, l.Errorf("condition ends with '||' (expected a condition after it)")
	}
	c.or = append(c.or, cur)
	return c, nil
}

// Match evaluates the condition.
func (c *Cond) Match(t *Txn) bool {
	r := c.eval(t)
	if c.unless {
		return !r
	}
	return r
}

func (c *Cond) eval(t *Txn) bool {
	for _, and := range c.or {
		ok := true
		for _, tm := range and {
			if tm.acl.match(t) == tm.neg {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (n *named) match(t *Txn) bool {
	for _, a := range n.defs {
		if a.Match(t) {
			return true
		}
	}
	return false
}

// Options returns the options the Set parses with (BaseDir, maps store, name checks), so
// that other rule parsers of the same section (tcprules) load files the same way.
func (s *Set) Options() Options { return s.opt }
