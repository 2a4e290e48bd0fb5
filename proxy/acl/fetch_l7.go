package acl

import (
	"encoding/base64"
	"strings"

	"appl/proxy/maps"
)

// Layer 7 fetches: they read the HTTP request through Txn.HTTP and find nothing in tcp
// mode.
func init() {
	str := func(name string, get func(HTTPView) (string, bool)) {
		RegisterFetch(Fetch{Name: name, Out: TypeStr, L7: true, Fn: func(t *Txn, _ []Arg) (Sample, bool) {
			if t.HTTP == nil {
				return Sample{}, false
			}
			s, ok := get(t.HTTP)
			return StrSample(s), ok
		}})
	}
	str("method", func(h HTTPView) (string, bool) { return h.Method(), true })
	str("path", func(h HTTPView) (string, bool) { return h.Path(), true })
	str("url", func(h HTTPView) (string, bool) { return h.URI(), true })
	str("query", func(h HTTPView) (string, bool) { q := h.Query(); return q, q != "" })
	str("base", func(h HTTPView) (string, bool) {
		host, _ := h.Header("host")
		return host + h.Path(), true
	})
	for _, k := range []maps.Kind{maps.Beg, maps.End, maps.Sub, maps.Reg, maps.Dir, maps.Dom, maps.Len} {
		RegisterKeyword("path_"+k.String(), "path", k)
		RegisterKeyword("url_"+k.String(), "url", k)
		RegisterKeyword("base_"+k.String(), "base", k)
	}
	RegisterFetch(Fetch{Name: "req.proto_http", Out: TypeBool, L7: true, Fn: func(t *Txn, _ []Arg) (Sample, bool) {
		return BoolSample(t.HTTP != nil), true
	}})

	param := func(t *Txn, a []Arg) (Sample, bool) {
		if t.HTTP == nil {
			return Sample{}, false
		}
		delim := "&"
		if len(a) > 1 && a[1].Str != "" {
			delim = a[1].Str
		}
		v, ok := urlParam(t.HTTP.Query(), a[0].Str, delim)
		return StrSample(v), ok
	}
	RegisterFetch(Fetch{Name: "url_param", MinArgs: 1, MaxArgs: 2, Out: TypeStr, L7: true, Fn: param})
	RegisterFetch(Fetch{Name: "urlp", MinArgs: 1, MaxArgs: 2, Out: TypeStr, L7: true, Fn: param})

	// hdr(name[,occ]) splits values at commas (HAProxy's req.hdr); fhdr keeps full lines.
	for _, n := range []string{"req.hdr", "hdr"} {
		RegisterFetch(Fetch{Name: n, MinArgs: 1, MaxArgs: 2, Out: TypeStr, L7: true,
			Fn: hdrFetch(true), Multi: hdrMulti(true)})
	}
	RegisterFetch(Fetch{Name: "req.fhdr", MinArgs: 1, MaxArgs: 2, Out: TypeStr, L7: true,
		Fn: hdrFetch(false), Multi: hdrMulti(false)})
	for _, k := range []maps.Kind{maps.Beg, maps.End, maps.Sub, maps.Reg, maps.Dir, maps.Dom, maps.Len} {
		RegisterKeyword("hdr_"+k.String(), "hdr", k)
	}
	RegisterKeyword("hdr_ip", "hdr", maps.IP)
	cnt := func(t *Txn, a []Arg) (Sample, bool) {
		if t.HTTP == nil {
			return Sample{}, false
		}
		n := 0
		for _, v := range t.HTTP.HeaderValues(a[0].Str) {
			n += strings.Count(v, ",") + 1
		}
		return IntSample(int64(n)), true
	}
	RegisterFetch(Fetch{Name: "hdr_cnt", MinArgs: 1, MaxArgs: 1, Out: TypeInt, L7: true, Fn: cnt})
	RegisterFetch(Fetch{Name: "req.hdr_cnt", MinArgs: 1, MaxArgs: 1, Out: TypeInt, L7: true, Fn: cnt})
	val := func(t *Txn, a []Arg) (Sample, bool) {
		s, ok := hdrFetch(true)(t, a)
		if !ok {
			return Sample{}, false
		}
		return s.convert(TypeInt)
	}
	RegisterFetch(Fetch{Name: "hdr_val", MinArgs: 1, MaxArgs: 2, Out: TypeInt, L7: true, Fn: val})
	RegisterFetch(Fetch{Name: "req.hdr_val", MinArgs: 1, MaxArgs: 2, Out: TypeInt, L7: true, Fn: val})

	for _, n := range []string{"req.cook", "cook"} {
		RegisterFetch(Fetch{Name: n, MinArgs: 1, MaxArgs: 1, Out: TypeStr, L7: true, Fn: cookFetch, Multi: cookMulti})
	}
	for _, k := range []maps.Kind{maps.Beg, maps.End, maps.Sub, maps.Reg, maps.Dir, maps.Dom, maps.Len} {
		RegisterKeyword("cook_"+k.String(), "cook", k)
	}
	ccnt := func(t *Txn, a []Arg) (Sample, bool) {
		if t.HTTP == nil {
			return Sample{}, false
		}
		vals := cookMulti(t, a, t.scratch[:0])
		n := len(vals)
		clear(vals)
		t.scratch = vals[:0]
		return IntSample(int64(n)), true
	}
	RegisterFetch(Fetch{Name: "cook_cnt", MinArgs: 1, MaxArgs: 1, Out: TypeInt, L7: true, Fn: ccnt})
	RegisterFetch(Fetch{Name: "req.cook_cnt", MinArgs: 1, MaxArgs: 1, Out: TypeInt, L7: true, Fn: ccnt})

	RegisterFetch(Fetch{Name: "http_auth", MinArgs: 1, MaxArgs: 1, Out: TypeBool, L7: true,
		Prepare: prepareName("userlist"),
		Fn: func(t *Txn, a []Arg) (Sample, bool) {
			_, ok := authUser(t, a[0].Str)
			return BoolSample(ok), true
		}})
	RegisterFetch(Fetch{Name: "http_auth_user", MinArgs: 1, MaxArgs: 1, Out: TypeStr, L7: true,
		Prepare: prepareName("userlist"),
		Fn: func(t *Txn, a []Arg) (Sample, bool) {
			u, ok := authUser(t, a[0].Str)
			return StrSample(u), ok
		}})
	// http_auth_group returns the authenticated user; its ACL patterns are group names.
	RegisterFetch(Fetch{Name: "http_auth_group", MinArgs: 1, MaxArgs: 1, Out: TypeStr, L7: true,
		Prepare: prepareName("userlist"),
		Fn: func(t *Txn, a []Arg) (Sample, bool) {
			u, ok := authUser(t, a[0].Str)
			return StrSample(u), ok
		},
		MatchFn: func(t *Txn, a []Arg, s Sample, groups []string) bool {
			ul := t.Env.Userlist(a[0].Str) // non-nil: the fetch succeeded
			for _, g := range groups {
				if ul.InGroup(s.Str, g) {
					return true
				}
			}
			return false
		}})
}

func hdrFetch(split bool) FetchFunc {
	return func(t *Txn, a []Arg) (Sample, bool) {
		if t.HTTP == nil {
			return Sample{}, false
		}
		if !split && len(a) < 2 {
			if vs := t.HTTP.HeaderValues(a[0].Str); len(vs) > 0 {
				return StrSample(vs[len(vs)-1]), true
			}
			return Sample{}, false
		}
		vals := hdrMulti(split)(t, a[:1], t.scratch[:0])
		defer func() { clear(vals); t.scratch = vals[:0] }()
		if len(vals) == 0 {
			return Sample{}, false
		}
		occ := int64(-1) // HAProxy: the last occurrence by default
		if len(a) > 1 {
			occ = a[1].Int
		}
		switch {
		case occ > 0 && int(occ) <= len(vals):
			return StrSample(vals[occ-1]), true
		case occ < 0 && int(-occ) <= len(vals):
			return StrSample(vals[len(vals)+int(occ)]), true
		}
		return Sample{}, false
	}
}

func hdrMulti(split bool) MultiFunc {
	return func(t *Txn, a []Arg, buf []string) []string {
		if t.HTTP == nil {
			return buf
		}
		if len(a) > 1 { // an explicit occurrence: only that one
			if s, ok := hdrFetch(split)(t, a); ok {
				buf = append(buf, s.Str)
			}
			return buf
		}
		for _, v := range t.HTTP.HeaderValues(a[0].Str) {
			if !split {
				buf = append(buf, v)
				continue
			}
			for {
				part, rest, more := strings.Cut(v, ",")
				buf = append(buf, strings.TrimSpace(part))
				if !more {
					break
				}
				v = rest
			}
		}
		return buf
	}
}

func cookMulti(t *Txn, a []Arg, buf []string) []string {
	if t.HTTP == nil {
		return buf
	}
	name := a[0].Str
	for _, line := range t.HTTP.HeaderValues("cookie") {
		for line != "" {
			var c string
			c, line, _ = strings.Cut(line, ";")
			k, v, _ := strings.Cut(strings.TrimSpace(c), "=")
			if k == name {
				buf = append(buf, strings.TrimSpace(v))
			}
		}
	}
	return buf
}

// cookFetch returns the last occurrence of the cookie, as HAProxy's req.cook does.
func cookFetch(t *Txn, a []Arg) (Sample, bool) {
	vals := cookMulti(t, a, t.scratch[:0])
	defer func() { clear(vals); t.scratch = vals[:0] }()
	if len(vals) == 0 {
		return Sample{}, false
	}
	return StrSample(vals[len(vals)-1]), true
}

func urlParam(q, name, delim string) (string, bool) {
	for q != "" {
		var kv string
		if i := strings.IndexAny(q, delim); i >= 0 {
			kv, q = q[:i], q[i+1:]
		} else {
			kv, q = q, ""
		}
		k, v, _ := strings.Cut(kv, "=")
		if k == name {
			return v, true
		}
	}
	return "", false
}

// authUser checks the Authorization header against a userlist and returns the user.
func authUser(t *Txn, list string) (string, bool) {
	if t.HTTP == nil || t.Env == nil {
		return "", false
	}
	ul := t.Env.Userlist(list)
	if ul == nil {
		return "", false
	}
	h, ok := t.HTTP.Header("authorization")
	if !ok {
		return "", false
	}
	scheme, cred, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "basic") {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", false
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || !ul.Authenticate(user, pass) {
		return "", false
	}
	return user, true
}
