package acl

import (
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"appl/proxy/maps"
)

func init() {
	RegisterConverter(Converter{Name: "lower", In: TypeStr, Out: TypeStr, Fn: func(_ *Txn, _ []Arg, s Sample) (Sample, bool) {
		return StrSample(strings.ToLower(s.Str)), true
	}})
	RegisterConverter(Converter{Name: "upper", In: TypeStr, Out: TypeStr, Fn: func(_ *Txn, _ []Arg, s Sample) (Sample, bool) {
		return StrSample(strings.ToUpper(s.Str)), true
	}})
	RegisterConverter(Converter{Name: "length", In: TypeStr, Out: TypeInt, Fn: func(_ *Txn, _ []Arg, s Sample) (Sample, bool) {
		return IntSample(int64(len(s.Str))), true
	}})
	RegisterConverter(Converter{Name: "base64", In: TypeStr, Out: TypeStr, Fn: func(_ *Txn, _ []Arg, s Sample) (Sample, bool) {
		return StrSample(base64.StdEncoding.EncodeToString([]byte(s.Str))), true
	}})
	RegisterConverter(Converter{Name: "b64dec", In: TypeStr, Out: TypeStr, Fn: func(_ *Txn, _ []Arg, s Sample) (Sample, bool) {
		b, err := base64.StdEncoding.DecodeString(s.Str)
		return StrSample(string(b)), err == nil
	}})
	RegisterConverter(Converter{Name: "ipmask", MinArgs: 1, MaxArgs: 2, In: TypeIP, Out: TypeIP,
		Prepare: prepareIPMask, Fn: func(_ *Txn, a []Arg, s Sample) (Sample, bool) {
			ip := s.IP.Unmap()
			n := int(a[0].Int)
			if ip.Is6() {
				if len(a) < 2 {
					return Sample{}, false // HAProxy: no IPv6 mask given, no result
				}
				n = int(a[1].Int)
			}
			p, err := ip.Prefix(n)
			return IPSample(p.Addr()), err == nil
		}})
	RegisterConverter(Converter{Name: "field", MinArgs: 2, MaxArgs: 3, In: TypeStr, Out: TypeStr,
		Prepare: prepareField, Fn: func(_ *Txn, a []Arg, s Sample) (Sample, bool) {
			count := int64(1)
			if len(a) > 2 {
				count = a[2].Int
			}
			v, ok := field(s.Str, int(a[0].Int), a[1].Str, int(count))
			return StrSample(v), ok
		}})
	mapConv := func(name string, k maps.Kind, in Type) {
		RegisterConverter(Converter{Name: name, MinArgs: 1, MaxArgs: 2, In: in, Out: TypeStr,
			Prepare: prepareMap(k), Fn: func(_ *Txn, a []Arg, s Sample) (Sample, bool) {
				x := a[0].Data.(*maps.Index)
				var e maps.Entry
				var ok bool
				switch k {
				case maps.IP:
					e, ok = x.LookupIP(s.IP)
				case maps.Int:
					e, ok = x.LookupInt(s.Int)
				default:
					e, ok = x.Lookup(s.Str)
				}
				if ok {
					return StrSample(e.Value), true
				}
				if len(a) > 1 {
					return StrSample(a[1].Str), true
				}
				return Sample{}, false
			}})
	}
	mapConv("map", maps.Str, TypeStr)
	for _, k := range []maps.Kind{maps.Str, maps.Beg, maps.Sub, maps.Dom, maps.End, maps.Dir, maps.Reg, maps.Len} {
		mapConv("map_"+k.String(), k, TypeStr)
	}
	mapConv("map_ip", maps.IP, TypeIP)
	mapConv("map_int", maps.Int, TypeInt)
}

func prepareIPMask(a []Arg, _ *Options) error {
	for i := range a {
		want := 32
		if i == 1 {
			want = 128
		}
		if n, err := strconv.Atoi(a[i].Str); err == nil && n >= 0 && n <= want {
			a[i].Int = int64(n)
			continue
		}
		if i == 0 {
			if p, err := maps.ParseIPPattern("0.0.0.0/" + a[i].Str); err == nil {
				a[i].Int = int64(p.Bits())
				continue
			}
		}
		return fmt.Errorf("bad mask %q (expected a prefix length 0..%d or a dotted mask)", a[i].Str, want)
	}
	return nil
}

func prepareField(a []Arg, _ *Options) error {
	if n, err := strconv.Atoi(a[0].Str); err != nil || n == 0 {
		return fmt.Errorf("bad field index %q (expected a non-zero integer, negative counts from the end)", a[0].Str)
	}
	if a[1].Str == "" {
		return fmt.Errorf("empty delimiter list")
	}
	if len(a) > 2 {
		if n, err := strconv.Atoi(a[2].Str); err != nil || n < 0 {
			return fmt.Errorf("bad field count %q (expected 0 for all, or a positive integer)", a[2].Str)
		}
	}
	return nil
}

// field returns count fields (0: the rest) starting at field idx (1-based; negative
// counts from the end), fields being separated by any byte of delims.
func field(s string, idx int, delims string, count int) (string, bool) {
	var starts, ends [64]int
	n := 0
	st := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || strings.IndexByte(delims, s[i]) >= 0 {
			if n == len(starts) {
				return "", false
			}
			starts[n], ends[n] = st, i
			n++
			st = i + 1
		}
	}
	var first, last int
	if idx > 0 {
		first = idx - 1
		if count == 0 {
			last = n - 1
		} else {
			last = first + count - 1
		}
	} else {
		last = n + idx
		if count == 0 {
			first = 0
		} else {
			first = last - count + 1
		}
	}
	if first < 0 || first >= n || last < first {
		return "", false
	}
	last = min(last, n-1)
	return s[starts[first]:ends[last]], true
}

func prepareMap(k maps.Kind) func([]Arg, *Options) error {
	return func(a []Arg, opt *Options) error {
		path := a[0].Str
		if !filepath.IsAbs(path) && opt.BaseDir != "" {
			path = filepath.Join(opt.BaseDir, path)
		}
		if opt.Maps == nil {
			opt.Maps = maps.NewStore()
		}
		r, err := opt.Maps.Load(path, path, true)
		if err != nil {
			return err
		}
		if opt.Where.File != "" {
			r.NoteUse("map", opt.Where.File, opt.Where.Line)
		}
		x, err := r.Index(k, false)
		if err != nil {
			return err
		}
		a[0].Data = x
		return nil
	}
}
