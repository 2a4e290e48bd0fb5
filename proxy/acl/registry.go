package acl

import (
	"fmt"
	"sort"
	"sync"

	"appl/proxy/maps"
)

// Arg is one argument of a fetch or converter, as written, plus what Prepare made of it.
type Arg struct {
	Str  string
	Int  int64
	Data any // set by Prepare (e.g. a compiled map index)
}

// FetchFunc returns a sample; ok is false when there is none (e.g. a missing header).
type FetchFunc func(t *Txn, args []Arg) (s Sample, ok bool)

// MultiFunc returns every value of a multi-valued fetch (all occurrences of a header),
// appending to buf. ACLs match any of them.
type MultiFunc func(t *Txn, args []Arg, buf []string) []string

// Fetch describes a sample fetch.
type Fetch struct {
	Name    string
	MinArgs int
	MaxArgs int
	Out     Type
	// Match is the match method ACLs use without -m (maps.Str for strings, IP, Int...).
	Match maps.Kind
	// L7 marks fetches that need the HTTP request (for diagnostics).
	L7      bool
	Fn      FetchFunc
	Multi   MultiFunc // optional
	Prepare func(args []Arg, opt *Options) error
	// MatchFn, when set, replaces pattern matching (http_auth_group matches groups).
	MatchFn func(t *Txn, args []Arg, s Sample, patterns []string) bool
}

// ConvFunc transforms a sample.
type ConvFunc func(t *Txn, args []Arg, in Sample) (Sample, bool)

// Converter describes a converter (`,lower`, `,map_ip(file,default)`).
type Converter struct {
	Name    string
	MinArgs int
	MaxArgs int
	In, Out Type
	Fn      ConvFunc
	Prepare func(args []Arg, opt *Options) error
}

// keyword is an ACL keyword that is a fetch with a preset match method (path_beg).
type keyword struct {
	fetch string
	match maps.Kind
}

var reg = struct {
	sync.RWMutex
	fetches  map[string]*Fetch
	convs    map[string]*Converter
	keywords map[string]keyword
}{fetches: map[string]*Fetch{}, convs: map[string]*Converter{}, keywords: map[string]keyword{}}

// RegisterFetch adds a fetch. Other packages call it from init (stick-table sc_* fetches).
// It panics on a duplicate name: that is a programming error.
func RegisterFetch(f Fetch) {
	reg.Lock()
	defer reg.Unlock()
	if _, dup := reg.fetches[f.Name]; dup || f.Fn == nil {
		panic(fmt.Sprintf("acl: fetch %q registered twice or without Fn", f.Name))
	}
	if f.Match == 0 {
		f.Match = defaultMatch(f.Out)
	}
	reg.fetches[f.Name] = &f
}

// RegisterConverter adds a converter; it panics on a duplicate name.
func RegisterConverter(c Converter) {
	reg.Lock()
	defer reg.Unlock()
	if _, dup := reg.convs[c.Name]; dup || c.Fn == nil {
		panic(fmt.Sprintf("acl: converter %q registered twice or without Fn", c.Name))
	}
	reg.convs[c.Name] = &c
}

// RegisterKeyword adds an ACL keyword that stands for a fetch with a match method,
// like path_beg = path -m beg.
func RegisterKeyword(name, fetch string, match maps.Kind) {
	reg.Lock()
	defer reg.Unlock()
	if _, dup := reg.keywords[name]; dup {
		panic(fmt.Sprintf("acl: keyword %q registered twice", name))
	}
	reg.keywords[name] = keyword{fetch, match}
}

func defaultMatch(t Type) maps.Kind {
	switch t {
	case TypeInt:
		return maps.Int
	case TypeIP:
		return maps.IP
	case TypeBool:
		return maps.Bool
	}
	return maps.Str
}

func lookupFetch(name string) (*Fetch, maps.Kind, bool) {
	reg.RLock()
	defer reg.RUnlock()
	if f := reg.fetches[name]; f != nil {
		return f, 0, true
	}
	if k, ok := reg.keywords[name]; ok {
		if f := reg.fetches[k.fetch]; f != nil {
			return f, k.match, true
		}
	}
	return nil, 0, false
}

func lookupConv(name string) *Converter {
	reg.RLock()
	defer reg.RUnlock()
	return reg.convs[name]
}

// FetchNames lists the fetches and ACL keywords, sorted (error messages, docs).
func FetchNames() []string {
	reg.RLock()
	defer reg.RUnlock()
	var out []string
	for n := range reg.fetches {
		out = append(out, n)
	}
	for n := range reg.keywords {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ConverterNames lists the converters, sorted.
func ConverterNames() []string {
	reg.RLock()
	defer reg.RUnlock()
	var out []string
	for n := range reg.convs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// NeedsHTTP says whether the expression reads the HTTP request (a configuration check
// warns when such a rule is used in a tcp-mode proxy, as HAProxy does).
func (e *Expr) NeedsHTTP() bool { return e.fetch.L7 }

// NeedsHTTP says whether any ACL of the condition reads the HTTP request.
func (c *Cond) NeedsHTTP() bool {
	for _, and := range c.or {
		for _, tm := range and {
			for _, a := range tm.acl.defs {
				if a.expr.NeedsHTTP() {
					return true
				}
			}
		}
	}
	return false
}
