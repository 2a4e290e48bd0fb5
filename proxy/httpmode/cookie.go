package httpmode

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"appl/internal/cfgfile"
	"appl/proxy/http1"
)

// Cookie persistence modes (`cookie NAME MODE`).
const (
	cookiePassive = iota // no mode word: the server sets the cookie itself
	cookieInsert
	cookieRewrite
	cookiePrefix
)

// cookieSpec is a backend's `cookie` line.
type cookieSpec struct {
	name     string
	mode     int
	indirect bool
	nocache  bool
	httponly bool
	secure   bool
	preserve bool
	postonly bool
	domains  []string
	attrs    []string
	maxidle  time.Duration
	maxlife  time.Duration
}

func parseCookie(l cfgfile.Line) (*cookieSpec, error) {
	w := l.Words[1:]
	if len(w) == 0 || !validToken(w[0]) {
		return nil, l.Errorf("missing or invalid cookie name (expected cookie NAME [insert|rewrite|prefix] [indirect] [nocache] ...)")
	}
	c := &cookieSpec{name: w[0]}
	dur := func(i int) (time.Duration, error) {
		if i >= len(w) {
			return 0, l.Errorf("%s needs a time", w[i-1])
		}
		s := w[i]
		mult := time.Millisecond
		for _, u := range []struct {
			suf string
			d   time.Duration
		}{{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}} {
			if strings.HasSuffix(s, u.suf) {
				s, mult = strings.TrimSuffix(s, u.suf), u.d
				break
			}
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, l.Errorf("%s: bad time %q", w[i-1], w[i])
		}
		if mult == time.Millisecond && !strings.HasSuffix(w[i], "ms") {
			mult = time.Second // HAProxy: cookie maxidle/maxlife default unit is seconds
		}
		return time.Duration(n) * mult, nil
	}
	for i := 1; i < len(w); i++ {
		var err error
		switch w[i] {
		case "insert":
			c.mode = cookieInsert
		case "rewrite":
			c.mode = cookieRewrite
		case "prefix":
			c.mode = cookiePrefix
		case "indirect":
			c.indirect = true
		case "nocache":
			c.nocache = true
		case "httponly":
			c.httponly = true
		case "secure":
			c.secure = true
		case "preserve":
			c.preserve = true
		case "postonly":
			c.postonly = true
		case "dynamic":
			return nil, l.Errorf("cookie dynamic is not supported by appl")
		case "domain", "attr":
			if i+1 >= len(w) || !validValue(w[i+1]) || strings.Contains(w[i+1], ";") {
				return nil, l.Errorf("%s needs a value without ';' or control characters", w[i])
			}
			if w[i] == "domain" {
				c.domains = append(c.domains, w[i+1])
			} else {
				c.attrs = append(c.attrs, w[i+1])
			}
			i++
		case "maxidle":
			i++
			c.maxidle, err = dur(i)
		case "maxlife":
			i++
			c.maxlife, err = dur(i)
		default:
			return nil, l.Errorf("unknown cookie option %q (expected insert, rewrite, prefix, indirect, nocache, httponly, secure, preserve, postonly, domain, attr, maxidle or maxlife)", w[i])
		}
		if err != nil {
			return nil, err
		}
	}
	if (c.maxidle > 0 || c.maxlife > 0) && c.mode != cookieInsert {
		return nil, l.Errorf("maxidle and maxlife need insert mode")
	}
	return c, nil
}

// Persistence cookie status letters for %tsc (client side, then server side).
const (
	ckNone     = 'N' // no cookie in the request
	ckInvalid  = 'I' // unknown value
	ckDown     = 'D' // its server could not be used
	ckValid    = 'V'
	ckExpired  = 'E' // maxidle / maxlife exceeded
	ckInserted = 'I'
	ckRewrote  = 'R'
	ckProvided = 'P'
	ckUpdated  = 'U'
)

// cookieState is the per-request result of reading the persistence cookie.
type cookieState struct {
	preferred string // server name designated by a valid cookie
	client    byte
	server    byte
	first     int64 // maxlife: first-seen date carried by the cookie (unix seconds)
}

// readCookie finds the persistence cookie in the request, designates its server, and
// strips it (insert indirect) or its prefix (prefix mode) from what the server sees.
func (b *backendProg) readCookie(req *http1.Request, now time.Time, scratch []byte) (cookieState, []byte) {
	c := b.cookie
	st := cookieState{client: ckNone, server: 'N'}
	v, ok := req.Cookie(c.name)
	if !ok {
		return st, scratch
	}
	val := v
	switch c.mode {
	case cookiePrefix:
		if i := bytes.IndexByte(v, '~'); i >= 0 {
			val = v[:i]
		} else {
			st.client = ckInvalid
			return st, scratch
		}
	case cookieInsert:
		if c.maxidle > 0 || c.maxlife > 0 {
			parts := bytes.SplitN(v, []byte{'|'}, 3)
			val = parts[0]
			if len(parts) == 3 {
				last, e1 := strconv.ParseInt(string(parts[1]), 32, 64)
				first, e2 := strconv.ParseInt(string(parts[2]), 32, 64)
				sec := now.Unix()
				if e1 != nil || e2 != nil ||
					(c.maxidle > 0 && time.Duration(sec-last)*time.Second > c.maxidle) ||
					(c.maxlife > 0 && time.Duration(sec-first)*time.Second > c.maxlife) {
					st.client = ckExpired
					scratch = b.stripCookie(req, scratch)
					return st, scratch
				}
				st.first = first
			}
		}
	}
	name, found := b.byCookie[string(val)]
	if !found {
		st.client = ckInvalid
	} else {
		st.client, st.preferred = ckValid, name
	}
	switch {
	case c.mode == cookieInsert && c.indirect:
		scratch = b.stripCookie(req, scratch)
	case c.mode == cookiePrefix:
		scratch = b.unprefixCookie(req, scratch)
	}
	return st, scratch
}

// stripCookie removes the persistence cookie from every Cookie field, deleting fields
// left empty.
func (b *backendProg) stripCookie(req *http1.Request, scratch []byte) []byte {
	return b.editCookies(req, scratch, false)
}

// unprefixCookie turns NAME=SRV~VALUE back into NAME=VALUE.
func (b *backendProg) unprefixCookie(req *http1.Request, scratch []byte) []byte {
	return b.editCookies(req, scratch, true)
}

func (b *backendProg) editCookies(req *http1.Request, scratch []byte, unprefix bool) []byte {
	name := b.cookie.name
	for i := 0; i < req.Len(); i++ {
		h := req.At(i)
		if !equalFold(h.Name, "cookie") || !bytes.Contains(h.Value, []byte(name)) {
			continue
		}
		out := scratch[:0]
		changed := false
		for rest := h.Value; len(rest) > 0; {
			var pair []byte
			if j := bytes.IndexByte(rest, ';'); j >= 0 {
				pair, rest = rest[:j], rest[j+1:]
			} else {
				pair, rest = rest, nil
			}
			pair = bytes.TrimSpace(pair)
			k, v, _ := bytes.Cut(pair, []byte{'='})
			if string(bytes.TrimSpace(k)) == name {
				changed = true
				if !unprefix {
					continue
				}
				if j := bytes.IndexByte(v, '~'); j >= 0 {
					if len(out) > 0 {
						out = append(out, ';', ' ')
					}
					out = append(out, k...)
					out = append(out, '=')
					out = append(out, v[j+1:]...)
					continue
				}
			}
			if len(pair) == 0 {
				continue
			}
			if len(out) > 0 {
				out = append(out, ';', ' ')
			}
			out = append(out, pair...)
		}
		scratch = out
		if !changed {
			continue
		}
		if len(out) == 0 {
			req.DelAt(i)
			i--
			continue
		}
		req.SetValueAt(i, out)
	}
	return scratch
}

// writeCookie applies the persistence cookie to the response of a request served by
// server srv: insert a Set-Cookie, rewrite or prefix the server's own.
func (b *backendProg) writeCookie(resp *http1.Response, st *cookieState, srv string, post bool, now time.Time, scratch []byte) []byte {
	c := b.cookie
	val, ok := b.cookieOf[srv]
	if !ok || (c.postonly && !post) {
		return scratch
	}
	switch c.mode {
	case cookieInsert:
		// The server's own cookie of that name would fight ours.
		if !c.preserve {
			scratch = b.dropSetCookie(resp, scratch)
		}
		dated := c.maxidle > 0 || c.maxlife > 0
		if c.indirect && st.client == ckValid && st.preferred == srv && !dated {
			return scratch
		}
		out := append(scratch[:0], c.name...)
		out = append(out, '=')
		out = append(out, val...)
		if dated {
			sec := now.Unix()
			first := st.first
			if first == 0 || st.preferred != srv {
				first = sec
			}
			out = append(out, '|')
			out = strconv.AppendInt(out, sec, 32)
			out = append(out, '|')
			out = strconv.AppendInt(out, first, 32)
		}
		out = append(out, "; path=/"...)
		for _, d := range c.domains {
			out = append(out, "; domain="...)
			out = append(out, d...)
		}
		if c.httponly {
			out = append(out, "; HttpOnly"...)
		}
		if c.secure {
			out = append(out, "; Secure"...)
		}
		for _, a := range c.attrs {
			out = append(out, "; "...)
			out = append(out, a...)
		}
		resp.AddBytes([]byte("Set-Cookie"), out)
		if c.nocache {
			addNoCache(resp)
		}
		st.server = ckInserted
		if st.client == ckValid && st.preferred == srv {
			st.server = ckUpdated
		}
		return out
	case cookieRewrite, cookiePrefix:
		for i := 0; i < resp.Len(); i++ {
			h := resp.At(i)
			if !equalFold(h.Name, "set-cookie") {
				continue
			}
			k, v, ok := bytes.Cut(h.Value, []byte{'='})
			if !ok || string(bytes.TrimSpace(k)) != c.name {
				continue
			}
			out := append(scratch[:0], k...)
			out = append(out, '=')
			out = append(out, val...)
			if c.mode == cookiePrefix {
				out = append(out, '~')
				out = append(out, v...)
				st.server = ckProvided
			} else {
				if j := bytes.IndexByte(v, ';'); j >= 0 {
					out = append(out, v[j:]...)
				}
				st.server = ckRewrote
			}
			resp.SetValueAt(i, out)
			scratch = out
			if c.nocache {
				addNoCache(resp)
			}
		}
	}
	return scratch
}

// dropSetCookie removes Set-Cookie fields that set the persistence cookie.
func (b *backendProg) dropSetCookie(resp *http1.Response, scratch []byte) []byte {
	for i := 0; i < resp.Len(); i++ {
		h := resp.At(i)
		if !equalFold(h.Name, "set-cookie") {
			continue
		}
		k, _, _ := bytes.Cut(h.Value, []byte{'='})
		if string(bytes.TrimSpace(k)) == b.cookie.name {
			resp.DelAt(i)
			i--
		}
	}
	return scratch
}

// addNoCache marks a response carrying a persistence cookie private, so that shared
// caches do not hand one client's server to others (cookie ... nocache).
func addNoCache(resp *http1.Response) {
	if v, ok := resp.Header("cache-control"); ok && bytes.Contains(bytes.ToLower(v), []byte("private")) {
		return
	}
	resp.Add("Cache-Control", "private")
}
