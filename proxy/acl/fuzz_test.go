package acl

import (
	"strings"
	"testing"

	"appl/internal/cfgfile"
)

// FuzzParseCond feeds arbitrary acl lines and conditions: errors are fine, panics are
// not, and whatever parses must evaluate without panicking on tcp and http transactions.
func FuzzParseCond(f *testing.F) {
	f.Add("src 10.0.0.0/8 ::1", "if a || ! { dst_port 1024:65535 } b")
	f.Add("hdr_beg(host) -i www.", "unless a b || c")
	f.Add("path_reg ^/v[0-9]+/", "if { req.hdr(host),lower -m str a } a")
	f.Add("dst_port gt 1024", "if !a or { always_true }")
	f.Add("url_param(id,;) -m int 1:5", "if { nbsrv(web) lt 1 } || a")
	f.Add("http_auth_group(L1) admins", "if a { src -m found }")
	f.Fuzz(func(t *testing.T, aclDef, cond string) {
		s := NewSet(Options{})
		words, err := cfgfile.SplitLine(aclDef, func(string) (string, bool) { return "", false })
		if err != nil {
			return
		}
		for _, n := range []string{"a", "b", "c"} {
			l := cfgfile.Line{Pos: cfgfile.Pos{File: "f", Line: 1}, Words: append([]string{"acl", n}, words...)}
			if err := s.Define(l); err != nil {
				if !strings.HasPrefix(err.Error(), "f:1: acl: ") {
					t.Fatalf("unpositioned error %q", err)
				}
				return
			}
		}
		cw, err := cfgfile.SplitLine(cond, func(string) (string, bool) { return "", false })
		if err != nil {
			return
		}
		l := cfgfile.Line{Pos: cfgfile.Pos{File: "f", Line: 2}, Words: append([]string{"use_backend", "x"}, cw...)}
		c, err := s.ParseCond(l, cw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:2: use_backend: ") {
				t.Fatalf("unpositioned error %q", err)
			}
			return
		}
		a := c.Match(tcpTxn("10.0.0.1:2000", "198.18.0.1:80"))
		b := c.Match(httpTxn("GET", "/v1/x?id=3", "Host: www.x", basic("admin", "secret")))
		_, _ = a, b
	})
}
