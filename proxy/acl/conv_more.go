package acl

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

func init() {
	RegisterConverter(Converter{Name: "word", MinArgs: 2, MaxArgs: 3, In: TypeStr, Out: TypeStr,
		Prepare: prepareField, Fn: func(_ *Txn, a []Arg, s Sample) (Sample, bool) {
			count := int64(1)
			if len(a) > 2 {
				count = a[2].Int
			}
			v, ok := word(s.Str, int(a[0].Int), a[1].Str, int(count))
			return StrSample(v), ok
		}})
	RegisterConverter(Converter{Name: "regsub", MinArgs: 2, MaxArgs: 3, In: TypeStr, Out: TypeStr,
		Prepare: func(a []Arg, _ *Options) error {
			src := a[0].Str
			global := false
			if len(a) > 2 {
				for _, f := range a[2].Str {
					switch f {
					case 'i':
						src = "(?i)" + src
					case 'g':
						global = true
					default:
						return fmt.Errorf("unknown flag %q (expected i or g)", f)
					}
				}
			}
			re, err := regexp.Compile(src)
			if err != nil {
				return fmt.Errorf("bad regex %q (RE2 syntax): %v", a[0].Str, err)
			}
			a[0].Data = re
			a[0].Int = map[bool]int64{true: 1}[global]
			// HAProxy writes back-references \1; RE2's Expand wants ${1}.
			a[1].Data = regexp.MustCompile(`\\([0-9])`).ReplaceAllString(strings.ReplaceAll(a[1].Str, "$", "$$"), "$${$1}")
			return nil
		},
		Fn: func(_ *Txn, a []Arg, s Sample) (Sample, bool) {
			re, tmpl := a[0].Data.(*regexp.Regexp), a[1].Data.(string)
			if a[0].Int == 1 {
				return StrSample(re.ReplaceAllString(s.Str, tmpl)), true
			}
			m := re.FindStringSubmatchIndex(s.Str)
			if m == nil {
				return s, true
			}
			out := re.ExpandString([]byte(s.Str[:m[0]]), tmpl, s.Str, m)
			return StrSample(string(out) + s.Str[m[1]:]), true
		}})
	arith := func(name string, op func(x, y int64) (int64, bool)) {
		RegisterConverter(Converter{Name: name, MinArgs: 1, MaxArgs: 1, In: TypeInt, Out: TypeInt,
			Prepare: intOrVar, Fn: func(t *Txn, a []Arg, s Sample) (Sample, bool) {
				y, ok := argInt(t, &a[0])
				if !ok {
					return Sample{}, false
				}
				v, ok := op(s.Int, y)
				return IntSample(v), ok
			}})
	}
	arith("add", func(x, y int64) (int64, bool) { return x + y, true })
	arith("sub", func(x, y int64) (int64, bool) { return x - y, true })
	arith("mul", func(x, y int64) (int64, bool) { return x * y, true })
	arith("div", func(x, y int64) (int64, bool) { return x / max(y, 1) * boolInt(y != 0), true })
	arith("mod", func(x, y int64) (int64, bool) {
		if y == 0 {
			return 0, true
		}
		return x % y, true
	})
	arith("and", func(x, y int64) (int64, bool) { return x & y, true })
	arith("or", func(x, y int64) (int64, bool) { return x | y, true })
	arith("xor", func(x, y int64) (int64, bool) { return x ^ y, true })
	RegisterConverter(Converter{Name: "neg", In: TypeInt, Out: TypeInt, Fn: func(_ *Txn, _ []Arg, s Sample) (Sample, bool) {
		return IntSample(-s.Int), true
	}})
	RegisterConverter(Converter{Name: "not", In: TypeInt, Out: TypeBool, Fn: func(_ *Txn, _ []Arg, s Sample) (Sample, bool) {
		return BoolSample(s.Int == 0), true
	}})
	RegisterConverter(Converter{Name: "bool", In: TypeInt, Out: TypeBool, Fn: func(_ *Txn, _ []Arg, s Sample) (Sample, bool) {
		return BoolSample(s.Int != 0), true
	}})
	RegisterConverter(Converter{Name: "hex", In: TypeStr, Out: TypeStr, Fn: func(_ *Txn, _ []Arg, s Sample) (Sample, bool) {
		return StrSample(strings.ToUpper(hex.EncodeToString([]byte(s.Str)))), true
	}})
	trim := func(name string, fn func(string, string) string) {
		RegisterConverter(Converter{Name: name, MinArgs: 1, MaxArgs: 1, In: TypeStr, Out: TypeStr,
			Fn: func(_ *Txn, a []Arg, s Sample) (Sample, bool) { return StrSample(fn(s.Str, a[0].Str)), true }})
	}
	trim("ltrim", strings.TrimLeft)
	trim("rtrim", strings.TrimRight)
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// intOrVar accepts an integer or a variable name (HAProxy's arithmetic converters).
func intOrVar(a []Arg, _ *Options) error {
	if _, err := strconv.ParseInt(a[0].Str, 10, 64); err == nil {
		return nil
	}
	if err := ValidVarName(a[0].Str); err != nil {
		return fmt.Errorf("%q is neither an integer nor a variable: %v", a[0].Str, err)
	}
	a[0].Data = a[0].Str
	return nil
}

func argInt(t *Txn, a *Arg) (int64, bool) {
	if name, ok := a.Data.(string); ok {
		s, ok := t.Var(name)
		if !ok {
			return 0, false
		}
		return s.AsInt()
	}
	return a.Int, true
}

// word is field without empty fields: runs of delimiters count as one.
func word(s string, idx int, delims string, count int) (string, bool) {
	var starts, ends [64]int
	n := 0
	for i := 0; i < len(s); {
		for i < len(s) && strings.IndexByte(delims, s[i]) >= 0 {
			i++
		}
		if i == len(s) {
			break
		}
		j := i
		for j < len(s) && strings.IndexByte(delims, s[j]) < 0 {
			j++
		}
		if n == len(starts) {
			return "", false
		}
		starts[n], ends[n] = i, j
		n++
		i = j
	}
	var first, last int
	if idx > 0 {
		first = idx - 1
		last = first + count - 1
		if count == 0 {
			last = n - 1
		}
	} else {
		last = n + idx
		first = last - count + 1
		if count == 0 {
			first = 0
		}
	}
	if first < 0 || first >= n || last < first {
		return "", false
	}
	last = min(last, n-1)
	return s[starts[first]:ends[last]], true
}
