package httpmode

import (
	"bytes"
	"fmt"
	"strconv"

	"appl/proxy/acl"
	"appl/proxy/config"
	"appl/proxy/http1"
)

// hashSpec says what a backend's balance algorithm hashes in a request.
type hashSpec struct {
	algo       string
	param      string // url_param name, header name, rdp-cookie name
	whole      bool   // uri whole: include the query
	pathOnly   bool   // uri path-only
	depth      int    // uri depth N: directories kept, 0: all
	length     int    // uri len N: characters kept, 0: all
	domainOnly bool   // hdr(...) use_domain_only
	expr       *acl.Expr
}

func parseHash(b config.Balance, opt acl.Options) (hashSpec, error) {
	h := hashSpec{algo: b.Algo, param: b.Param}
	a := b.Args
	switch b.Algo {
	case "uri":
		for i := 0; i < len(a); i++ {
			switch a[i] {
			case "whole":
				h.whole = true
			case "path-only":
				h.pathOnly = true
			case "depth", "len":
				if i+1 >= len(a) {
					return h, fmt.Errorf("balance uri %s needs a number", a[i])
				}
				n, err := strconv.Atoi(a[i+1])
				if err != nil || n < 0 {
					return h, fmt.Errorf("balance uri %s: bad number %q", a[i], a[i+1])
				}
				if a[i] == "depth" {
					h.depth = n
				} else {
					h.length = n
				}
				i++
			default:
				return h, fmt.Errorf("balance uri: unknown option %q (expected whole, path-only, depth N or len N)", a[i])
			}
		}
	case "url_param":
		for i := 0; i < len(a); i++ {
			switch a[i] {
			case "check_post":
				return h, fmt.Errorf("balance url_param check_post is not supported by appl")
			case "max_wait":
				i++
			default:
				return h, fmt.Errorf("balance url_param: unknown option %q", a[i])
			}
		}
	case "hdr":
		for _, w := range a {
			if w != "use_domain_only" {
				return h, fmt.Errorf("balance hdr: unknown option %q (expected use_domain_only)", w)
			}
			h.domainOnly = true
		}
	case "rdp-cookie":
		if h.param == "" {
			h.param = "mstshash"
		}
	case "hash":
		e, err := acl.ParseExpr(b.Param, opt)
		if err != nil {
			return h, fmt.Errorf("balance hash: %v", err)
		}
		h.expr = e
	}
	return h, nil
}

// key extracts the hash input of one request (see HashKey).
func (h *hashSpec) key(req *http1.Request, txn *acl.Txn) HashKey {
	switch h.algo {
	case "source":
		return HashKey{Addr: txn.Src.Addr().Unmap(), Valid: txn.Src.IsValid()}
	case "uri":
		var d []byte
		if h.pathOnly {
			d = req.Path()
		} else {
			d = req.Target()
			if !h.whole {
				if i := bytes.IndexByte(d, '?'); i >= 0 {
					d = d[:i]
				}
			}
		}
		if h.depth > 0 {
			slashes := 0
			for i, c := range d {
				if c == '/' {
					if slashes == h.depth {
						d = d[:i]
						break
					}
					slashes++
				}
			}
		}
		if h.length > 0 && len(d) > h.length {
			d = d[:h.length]
		}
		return HashKey{Data: d, Valid: true}
	case "url_param":
		q, _ := req.Query()
		for len(q) > 0 {
			var kv []byte
			if i := bytes.IndexByte(q, '&'); i >= 0 {
				kv, q = q[:i], q[i+1:]
			} else {
				kv, q = q, nil
			}
			k, v, _ := bytes.Cut(kv, []byte{'='})
			if string(k) == h.param {
				return HashKey{Data: v, Valid: len(v) > 0}
			}
		}
	case "hdr":
		v, ok := req.Header(h.param)
		if !ok || len(v) == 0 {
			return HashKey{}
		}
		if h.domainOnly {
			v = domainPart(v)
		}
		return HashKey{Data: v, Valid: len(v) > 0}
	case "rdp-cookie":
		if v, ok := req.Cookie(h.param); ok && len(v) > 0 {
			return HashKey{Data: v, Valid: true}
		}
	case "hash":
		if s, ok := h.expr.String(txn); ok {
			return HashKey{Data: []byte(s), Valid: true}
		}
	}
	return HashKey{}
}

// domainPart keeps the label before the top-level domain of a host name, as HAProxy's
// use_domain_only does ("www.haproxy.org:80" -> "haproxy").
func domainPart(v []byte) []byte {
	if i := bytes.LastIndexByte(v, ':'); i >= 0 && bytes.IndexByte(v, ']') < i {
		v = v[:i]
	}
	last := bytes.LastIndexByte(v, '.')
	if last < 0 {
		return v
	}
	start := bytes.LastIndexByte(v[:last], '.') + 1
	return v[start:last]
}
