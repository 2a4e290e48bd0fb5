package acl

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Variables (`http-request set-var(txn.x)`, fetch `var(txn.x)`) live in the Txn.
// Scopes: sess.* survive Reset (one connection), txn.*, req.* and res.* do not.
// proc.* is treated like sess.* (appl keeps no process-wide variables yet).

type variable struct {
	name string
	s    Sample
}

// SetVar stores a variable. The name includes its scope ("txn.backend").
func (t *Txn) SetVar(name string, s Sample) {
	for i := range t.vars {
		if t.vars[i].name == name {
			t.vars[i].s = s
			return
		}
	}
	t.vars = append(t.vars, variable{name, s})
}

// UnsetVar removes a variable.
func (t *Txn) UnsetVar(name string) {
	for i := range t.vars {
		if t.vars[i].name == name {
			t.vars = append(t.vars[:i], t.vars[i+1:]...)
			return
		}
	}
}

// Var returns a variable.
func (t *Txn) Var(name string) (Sample, bool) {
	for i := range t.vars {
		if t.vars[i].name == name {
			return t.vars[i].s, true
		}
	}
	return Sample{}, false
}

// Reset prepares the Txn for the next request of the same connection: HTTP, TLS and
// connection fields are kept, transaction variables dropped, sess.* variables kept.
func (t *Txn) Reset() {
	keep := t.vars[:0]
	for _, v := range t.vars {
		if strings.HasPrefix(v.name, "sess.") || strings.HasPrefix(v.name, "proc.") {
			keep = append(keep, v)
		}
	}
	clear(t.vars[len(keep):])
	t.vars = keep
}

// ValidVarName checks a variable name with its scope, for set-var decoders.
func ValidVarName(name string) error {
	scope, rest, ok := strings.Cut(name, ".")
	switch {
	case !ok || rest == "":
		return fmt.Errorf("variable %q needs a scope (expected proc.NAME, sess.NAME, txn.NAME, req.NAME or res.NAME)", name)
	case scope != "proc" && scope != "sess" && scope != "txn" && scope != "req" && scope != "res":
		return fmt.Errorf("variable %q: unknown scope %q (expected proc, sess, txn, req or res)", name, scope)
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.') {
			return fmt.Errorf("variable %q: bad character %q (expected letters, digits, '_' and '.')", name, c)
		}
	}
	return nil
}

func init() {
	RegisterFetch(Fetch{Name: "var", MinArgs: 1, MaxArgs: 2, Out: TypeStr,
		Prepare: func(a []Arg, _ *Options) error { return ValidVarName(a[0].Str) },
		Fn: func(t *Txn, a []Arg) (Sample, bool) {
			if s, ok := t.Var(a[0].Str); ok {
				return s, true
			}
			if len(a) > 1 {
				return StrSample(a[1].Str), true
			}
			return Sample{}, false
		}})
	// Constants.
	RegisterFetch(Fetch{Name: "str", MinArgs: 1, MaxArgs: 1, Out: TypeStr, Fn: func(_ *Txn, a []Arg) (Sample, bool) {
		return StrSample(a[0].Str), true
	}})
	RegisterFetch(Fetch{Name: "int", MinArgs: 1, MaxArgs: 1, Out: TypeInt, Prepare: intArgs(0),
		Fn: func(_ *Txn, a []Arg) (Sample, bool) { return IntSample(a[0].Int), true }})
	RegisterFetch(Fetch{Name: "bool", MinArgs: 1, MaxArgs: 1, Out: TypeBool, Prepare: intArgs(0),
		Fn: func(_ *Txn, a []Arg) (Sample, bool) { return BoolSample(a[0].Int != 0), true }})
	ipConst := func(v6 bool) func([]Arg, *Options) error {
		return func(a []Arg, _ *Options) error {
			ip, err := netip.ParseAddr(a[0].Str)
			if err != nil || ip.Is6() != v6 {
				return fmt.Errorf("bad address %q", a[0].Str)
			}
			a[0].Data = ip
			return nil
		}
	}
	ipFn := func(_ *Txn, a []Arg) (Sample, bool) { return IPSample(a[0].Data.(netip.Addr)), true }
	RegisterFetch(Fetch{Name: "ipv4", MinArgs: 1, MaxArgs: 1, Out: TypeIP, Prepare: ipConst(false), Fn: ipFn})
	RegisterFetch(Fetch{Name: "ipv6", MinArgs: 1, MaxArgs: 1, Out: TypeIP, Prepare: ipConst(true), Fn: ipFn})
	RegisterFetch(Fetch{Name: "env", MinArgs: 1, MaxArgs: 1, Out: TypeStr, Fn: func(_ *Txn, a []Arg) (Sample, bool) {
		v, ok := os.LookupEnv(a[0].Str)
		return StrSample(v), ok
	}})
}

// intArgs checks that the arguments from i on are integers.
func intArgs(from int) func([]Arg, *Options) error {
	return func(a []Arg, _ *Options) error {
		for _, x := range a[from:] {
			if _, err := strconv.ParseInt(x.Str, 10, 64); err != nil {
				return fmt.Errorf("%q is not an integer", x.Str)
			}
		}
		return nil
	}
}
