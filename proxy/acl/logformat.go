package acl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// LogFormat is a format string of literal text and `%[expr]` samples, as used by
// `http-request set-header X %[src]` and log-format. HAProxy's `%` log variables
// (%ci, %T...) are not handled here; `%%` is a literal percent sign.
type LogFormat struct {
	src   string
	parts []lfPart
}

type lfPart struct {
	lit  string
	expr *Expr
}

// ParseLogFormat parses src.
func ParseLogFormat(src string, opt Options) (*LogFormat, error) {
	f := &LogFormat{src: src}
	var lit strings.Builder
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		if i+1 < len(src) && src[i+1] == '%' {
			lit.WriteByte('%')
			i++
			continue
		}
		if i+1 >= len(src) || src[i+1] != '[' {
			return nil, fmt.Errorf("%q: '%%' at column %d is not followed by '[' (expected %%[EXPR], or %%%% for a percent sign)", src, i+1)
		}
		end := closingBracket(src, i+2)
		if end < 0 {
			return nil, fmt.Errorf("%q: unterminated %%[ at column %d (expected ])", src, i+1)
		}
		e, err := ParseExpr(src[i+2:end], opt)
		if err != nil {
			return nil, err
		}
		if lit.Len() > 0 {
			f.parts = append(f.parts, lfPart{lit: lit.String()})
			lit.Reset()
		}
		f.parts = append(f.parts, lfPart{expr: e})
		i = end
	}
	if lit.Len() > 0 {
		f.parts = append(f.parts, lfPart{lit: lit.String()})
	}
	if len(f.parts) == 0 {
		return nil, errors.New("empty format")
	}
	return f, nil
}

// closingBracket finds the ] that ends an expression starting at i, skipping brackets
// inside parentheses (regex arguments).
func closingBracket(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
		case ']':
			if depth <= 0 {
				return i
			}
		}
	}
	return -1
}

// Source returns the format as written.
func (f *LogFormat) Source() string { return f.src }

// IsConstant says whether the format has no expression.
func (f *LogFormat) IsConstant() bool {
	for _, p := range f.parts {
		if p.expr != nil {
			return false
		}
	}
	return true
}

// Append evaluates the format onto dst; a sample that is not found adds nothing
// (HAProxy prints "-" in logs, nothing in headers: callers wanting "-" use AppendOr).
func (f *LogFormat) Append(dst []byte, t *Txn) []byte { return f.AppendOr(dst, t, "") }

// AppendOr is Append with missing samples written as missing.
func (f *LogFormat) AppendOr(dst []byte, t *Txn, missing string) []byte {
	for _, p := range f.parts {
		if p.expr == nil {
			dst = append(dst, p.lit...)
			continue
		}
		s, ok := p.expr.Eval(t)
		if !ok {
			dst = append(dst, missing...)
			continue
		}
		switch s.Type {
		case TypeStr:
			dst = append(dst, s.Str...)
		case TypeIP:
			dst = s.IP.AppendTo(dst)
		default:
			dst = strconv.AppendInt(dst, s.Int, 10)
		}
	}
	return dst
}

// String evaluates the format to a string.
func (f *LogFormat) String(t *Txn) string { return string(f.Append(nil, t)) }
