package cfgfile

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Pos is a position in a configuration file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Line is one directive: its words after unquoting, escapes and expansion.
type Line struct {
	Pos   Pos
	Words []string
}

// Keyword is the first word of the line, or "".
func (l Line) Keyword() string {
	if len(l.Words) == 0 {
		return ""
	}
	return l.Words[0]
}

// Errorf builds an Error positioned at this line, naming its directive.
func (l Line) Errorf(format string, args ...any) *Error {
	return &Error{Pos: l.Pos, Directive: l.Keyword(), Msg: fmt.Sprintf(format, args...)}
}

// Section is a section header (kind, optional name and extra words) and its lines.
type Section struct {
	Kind  string   // "global", "frontend", "vrrp", ...
	Name  string   // "" when the section has none
	Args  []string // words after the name, e.g. "from NAME" or a legacy inline bind
	Pos   Pos
	Lines []Line
}

// File is a parsed configuration file.
type File struct {
	Name     string
	Sections []*Section
	// Notes are .notice/.warning/.alert/.diag lines, kept for the caller to print.
	Notes []Line
}

// SectionsOf returns the sections of one kind, in file order.
func (f *File) SectionsOf(kind string) []*Section {
	var out []*Section
	for _, s := range f.Sections {
		if s.Kind == kind {
			out = append(out, s)
		}
	}
	return out
}

// Error is a positioned configuration error: "file:line: directive: problem".
type Error struct {
	Pos       Pos
	Directive string
	Msg       string
}

func (e *Error) Error() string {
	if e.Directive == "" {
		return fmt.Sprintf("%s: %s", e.Pos, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.Pos, e.Directive, e.Msg)
}

// Errors is a list of configuration errors, reported together.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Err returns nil for an empty list so callers can `return errs.Err()`.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// AsErrors flattens an error into a list of positioned errors when it holds some.
func AsErrors(err error) Errors {
	var es Errors
	if errors.As(err, &es) {
		return es
	}
	var e *Error
	if errors.As(err, &e) {
		return Errors{e}
	}
	return nil
}

// SectionKinds are the keywords that open a section. HAProxy's own kinds come first; the
// rest are appl's (DESIGN.md "One configuration file").
var SectionKinds = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true,
	"userlist": true, "peers": true, "resolvers": true, "ring": true, "cache": true,
	"http-errors": true, "program": true, "mailers": true, "fcgi-app": true,
	"log-forward": true, "crt-store": true, "traces": true, "log-profile": true,
	"acme": true,
	"vrrp": true, "carp": true, "vrrp-group": true, "cluster": true, "sysctl": true,
	"network": true, "admin": true, "node": true,
}

// Options tune parsing.
type Options struct {
	// Lookup resolves ${VAR}; nil means os.LookupEnv.
	Lookup func(string) (string, bool)
	// Kinds overrides SectionKinds.
	Kinds map[string]bool
}

// ParseFile reads and parses a file.
func ParseFile(path string, opt Options) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, opt)
}

// Parse lexes data. All errors found are returned together as Errors.
func Parse(name string, data []byte, opt Options) (*File, error) {
	if opt.Lookup == nil {
		opt.Lookup = os.LookupEnv
	}
	kinds := opt.Kinds
	if kinds == nil {
		kinds = SectionKinds
	}
	f := &File{Name: name}
	var errs Errors
	var cur *Section
	cond := condStack{lookup: opt.Lookup}
	text := string(data)
	lineNo := 0
	for len(text) > 0 || lineNo == 0 {
		lineNo++
		var raw string
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			raw, text = text[:i], text[i+1:]
		} else {
			raw, text = text, ""
		}
		raw = strings.TrimSuffix(raw, "\r")
		pos := Pos{File: name, Line: lineNo}
		words, err := SplitLine(raw, opt.Lookup)
		if err != nil {
			errs = append(errs, &Error{Pos: pos, Msg: err.Error()})
			continue
		}
		if len(words) == 0 {
			if len(text) == 0 {
				break
			}
			continue
		}
		line := Line{Pos: pos, Words: words}
		if strings.HasPrefix(words[0], ".") {
			if e := cond.handle(line, f); e != nil {
				errs = append(errs, e)
			}
			continue
		}
		if cond.skipping() {
			continue
		}
		if kinds[words[0]] {
			cur = &Section{Kind: words[0], Pos: pos}
			if len(words) > 1 {
				cur.Name = words[1]
				cur.Args = words[2:]
			}
			f.Sections = append(f.Sections, cur)
			continue
		}
		if cur == nil {
			errs = append(errs, line.Errorf("directive outside of any section (expected a section keyword such as global, defaults, frontend, backend, listen first)"))
			continue
		}
		cur.Lines = append(cur.Lines, line)
	}
	if n := len(cond.frames); n > 0 {
		errs = append(errs, &Error{Pos: cond.frames[n-1].pos, Directive: ".if", Msg: "block not closed (expected .endif)"})
	}
	return f, errs.Err()
}

// SplitLine splits one line into words: quotes, escapes, comments and ${VAR} expansion.
// Like HAProxy, variables are expanded inside double quotes only; single quotes are literal.
func SplitLine(s string, lookup func(string) (string, bool)) ([]string, error) {
	var words []string
	var b strings.Builder
	inWord := false
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
				continue
			}
			b.WriteByte(c)
		case quote == '"' && c == '"':
			quote = 0
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("backslash at end of line (line continuation is not supported)")
			}
			i++
			switch n := s[i]; n {
			case '\\', ' ', '#', '\'', '"', '\t', '$':
				b.WriteByte(n)
			case 'r':
				b.WriteByte('\r')
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'x':
				if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
					return nil, fmt.Errorf("bad \\x escape at column %d (expected two hex digits)", i)
				}
				b.WriteByte(byte(unhex(s[i+1])<<4 | unhex(s[i+2])))
				i += 2
			default:
				// HAProxy keeps unknown escapes as written (e.g. regex "\." ).
				b.WriteByte('\\')
				b.WriteByte(n)
			}
			inWord = true
		case quote == '"' && c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unterminated ${ at column %d (expected })", i+1)
			}
			expr := s[i+2 : i+2+end]
			name, def, hasDef := strings.Cut(expr, "-")
			if name == "" {
				return nil, fmt.Errorf("empty variable name at column %d", i+1)
			}
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else if hasDef {
				b.WriteString(def)
			}
			i += 2 + end
		case quote == '"':
			b.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
			inWord = true
		case c == '#':
			i = len(s)
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
		default:
			if c == 0 {
				return nil, errors.New("NUL byte in line")
			}
			b.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, b.String())
	}
	return words, nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
