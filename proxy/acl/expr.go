package acl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"appl/proxy/maps"
)

// Expr is a sample expression: a fetch followed by converters, as in `%[dst,map_ip(f,d)]`.
type Expr struct {
	src   string
	fetch *Fetch
	match maps.Kind // preset by an ACL keyword like path_beg, else 0
	args  []Arg
	convs []convCall
}

type convCall struct {
	c    *Converter
	args []Arg
}

// ParseExpr parses the inside of `%[...]` (without the brackets).
func ParseExpr(src string, opt Options) (*Expr, error) {
	if opt.Maps == nil {
		opt.Maps = maps.NewStore()
	}
	return parseExpr(src, &opt)
}

// Source returns the expression as written.
func (e *Expr) Source() string { return e.src }

// Fetch returns the fetch the expression starts with.
func (e *Expr) Fetch() *Fetch { return e.fetch }

// String evaluates the expression to a string; ok is false when the fetch found nothing.
func (e *Expr) String(t *Txn) (s string, ok bool) {
	smp, ok := e.Eval(t)
	if !ok {
		return "", false
	}
	return smp.String(), true
}

// Eval evaluates the expression to a typed sample.
func (e *Expr) Eval(t *Txn) (Sample, bool) {
	s, ok := e.fetch.Fn(t, e.args)
	if !ok {
		return Sample{}, false
	}
	return e.convert(t, s)
}

func (e *Expr) convert(t *Txn, s Sample) (Sample, bool) {
	var ok bool
	for i := range e.convs {
		c := &e.convs[i]
		if s, ok = s.convert(c.c.In); !ok {
			return Sample{}, false
		}
		if s, ok = c.c.Fn(t, c.args, s); !ok {
			return Sample{}, false
		}
	}
	return s, true
}

// OutType is the type the expression produces.
func (e *Expr) OutType() Type {
	if n := len(e.convs); n > 0 {
		return e.convs[n-1].c.Out
	}
	return e.fetch.Out
}

func parseExpr(src string, opt *Options) (*Expr, error) {
	parts, err := splitTop(src, ',')
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 || strings.TrimSpace(parts[0]) == "" {
		return nil, errors.New("empty sample expression (expected a fetch such as src or req.hdr(host))")
	}
	name, args, err := splitCall(parts[0])
	if err != nil {
		return nil, err
	}
	f, match, ok := lookupFetch(name)
	if !ok {
		return nil, fmt.Errorf("unknown fetch %q (expected one of: %s)", name, strings.Join(FetchNames(), ", "))
	}
	e := &Expr{src: src, fetch: f, match: match}
	if e.args, err = makeArgs("fetch", name, args, f.MinArgs, f.MaxArgs); err != nil {
		return nil, err
	}
	if f.Prepare != nil {
		if err := f.Prepare(e.args, opt); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
	}
	for _, p := range parts[1:] {
		cname, cargs, err := splitCall(p)
		if err != nil {
			return nil, err
		}
		c := lookupConv(cname)
		if c == nil {
			return nil, fmt.Errorf("unknown converter %q (expected one of: %s)", cname, strings.Join(ConverterNames(), ", "))
		}
		call := convCall{c: c}
		if call.args, err = makeArgs("converter", cname, cargs, c.MinArgs, c.MaxArgs); err != nil {
			return nil, err
		}
		if c.Prepare != nil {
			if err := c.Prepare(call.args, opt); err != nil {
				return nil, fmt.Errorf("%s: %v", cname, err)
			}
		}
		e.convs = append(e.convs, call)
	}
	return e, nil
}

func makeArgs(what, name string, raw []string, lo, hi int) ([]Arg, error) {
	if len(raw) < lo || len(raw) > hi {
		want := strconv.Itoa(lo)
		if hi != lo {
			want = fmt.Sprintf("%d to %d", lo, hi)
		}
		return nil, fmt.Errorf("%s %s takes %s argument(s), got %d", what, name, want, len(raw))
	}
	args := make([]Arg, len(raw))
	for i, r := range raw {
		args[i].Str = r
		args[i].Int, _ = strconv.ParseInt(r, 10, 64)
	}
	return args, nil
}

// splitCall splits `name(a,b)` into name and args.
func splitCall(s string) (string, []string, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexByte(s, '(')
	if i < 0 {
		if strings.ContainsAny(s, ") \t") {
			return "", nil, fmt.Errorf("bad word %q in sample expression", s)
		}
		return s, nil, nil
	}
	if !strings.HasSuffix(s, ")") {
		return "", nil, fmt.Errorf("%q: missing closing parenthesis", s)
	}
	name, inner := s[:i], s[i+1:len(s)-1]
	if name == "" {
		return "", nil, fmt.Errorf("%q: missing name before (", s)
	}
	if inner == "" {
		return name, nil, nil
	}
	args, err := splitTop(inner, ',')
	if err != nil {
		return "", nil, err
	}
	for i, a := range args {
		args[i] = unquote(a)
	}
	return name, args, nil
}

// splitTop splits at sep outside parentheses and quotes; backslash escapes a byte.
func splitTop(s string, sep byte) ([]string, error) {
	var out []string
	depth, start := 0, 0
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			i++
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("%q: unbalanced parenthesis", s)
			}
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if depth != 0 || q != 0 {
		return nil, fmt.Errorf("%q: unbalanced parenthesis or quote", s)
	}
	return append(out, s[start:]), nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		s = s[1 : len(s)-1]
	}
	if !strings.Contains(s, "\\") {
		return s
	}
	// Only the characters that would end an argument (, ) and quotes) are unescaped; others
	// keep their backslash (regex escapes such as \. or \1 reach the regex engine).
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`,)"'`, s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
