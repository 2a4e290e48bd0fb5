package acl

import (
	"os"
	"strings"
	"testing"
)

// TestEveryFetchAndConverter evaluates each registered fetch, ACL keyword and converter
// at least once with a known answer, and fails when one is registered without a row
// here, so a new fetch cannot land untested.
func TestEveryFetchAndConverter(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "m", "/a str\n")
	writeFile(t, dir, "ip", "198.18.0.0/15 net\n")
	writeFile(t, dir, "int", "1:100 low\n")
	os.Setenv("APPL_ACL_TEST", "yes")
	txn := httpTxn("POST", "/a/b.txt?k=v", "Host: h.example", "Cookie: c=1; d=2", "X-N: 5", basic("bob", "pw"))
	txn.TLS = &TLSInfo{SNI: "s.example"}
	txn.ClientHelloSNI = "p.example"
	txn.SetVar("txn.v", StrSample("val"))
	// expression -> expected string result ("" with ok=false written as "<none>")
	exprs := map[string]string{
		"src": "192.0.2.7", "dst": "198.18.0.1", "src_port": "40000", "dst_port": "80",
		"always_true": "1", "always_false": "0", "fe_name": "fe", "be_name": "web",
		"nbsrv": "2", "nbsrv(empty)": "0", "ssl_fc": "1", "ssl_fc_sni": "s.example",
		"req.ssl_sni": "p.example", "req_ssl_sni": "p.example",
		"method": "POST", "path": "/a/b.txt", "url": "/a/b.txt?k=v", "query": "k=v",
		"base": "h.example/a/b.txt", "req.proto_http": "1", "url_param(k)": "v", "urlp(k)": "v",
		"req.hdr(host)": "h.example", "hdr(host)": "h.example", "req.fhdr(cookie)": "c=1; d=2",
		"hdr_cnt(host)": "1", "req.hdr_cnt(x-n)": "1", "hdr_val(x-n)": "5", "req.hdr_val(x-n)": "5",
		"req.cook(d)": "2", "cook(c)": "1", "cook_cnt(c)": "1", "req.cook_cnt(d)": "1",
		"http_auth(L1)": "1", "http_auth_user(L1)": "bob", "http_auth_group(L1)": "bob",
		"var(txn.v)": "val", "str(x)": "x", "int(3)": "3", "bool(0)": "0",
		"ipv4(1.2.3.4)": "1.2.3.4", "ipv6(::1)": "::1", "env(APPL_ACL_TEST)": "yes",
		"str(AbC),lower": "abc", "str(AbC),upper": "ABC", "str(abc),length": "3",
		"str(hi),base64": "aGk=", "str(aGk=),b64dec": "hi", "src,ipmask(16)": "192.0.0.0",
		"str(a.b.c),field(2,.)": "b", "str(a..c),word(2,.)": "c", "str(aa),regsub(a,b)": "ba",
		"int(5),add(1)": "6", "int(5),sub(1)": "4", "int(5),mul(2)": "10", "int(5),div(2)": "2",
		"int(5),mod(2)": "1", "int(6),and(3)": "2", "int(6),or(3)": "7", "int(6),xor(3)": "5",
		"int(5),neg": "-5", "int(5),not": "0", "int(5),bool": "1", "str(A),hex": "41",
		"str(xa),ltrim(x)": "a", "str(ax),rtrim(x)": "a",
		"path,map(m,d)": "d", "path,map_str(m,d)": "d", "path,map_beg(m,d)": "str",
		"path,map_sub(m,d)": "str", "path,map_dom(m,d)": "str", "path,map_end(m,d)": "d",
		"path,map_dir(m,d)": "str", "path,map_reg(m,d)": "str", "path,map_len(int,d)": "low",
		"dst,map_ip(ip,d)": "net", "src,map_ip(ip,d)": "d", "dst_port,map_int(int,d)": "low",
	}
	keywords := map[string]bool{ // keyword ACL -> expected match
		"path_beg /a/": true, "path_end .txt": true, "path_sub b.t": true, "path_reg ^/a": true,
		"path_dir a": true, "path_dom b": true, "path_dom a/b": true, "path_dom x": false, "path_len 8": true,
		"url_beg /a": true, "url_end =v": true, "url_sub k=": true, "url_reg \\?k=": true,
		"url_dir b.txt": true, "url_dir b": false, "url_dom a": true, "url_len 12": true,
		"base_beg h.": true, "base_end .txt": true, "base_sub example/a": true, "base_reg ^h": true,
		"base_dir a": true, "base_dom h": true, "base_len 17": true,
		"hdr_beg(host) h.": true, "hdr_end(host) .example": true, "hdr_sub(host) exa": true,
		"hdr_reg(host) ^h": true, "hdr_dir(host) h.example": true, "hdr_dom(host) example": true,
		"hdr_len(host) 9": true, "hdr_ip(x-n) 5.0.0.0/8": false,
		"cook_beg(c) 1": true, "cook_end(d) 2": true, "cook_sub(c) 1": true, "cook_reg(c) ^1$": true,
		"cook_dir(c) 1": true, "cook_dom(c) 1": true, "cook_len(c) 1": true,
		"ssl_fc_sni_end .example": true, "ssl_fc_sni_reg ^s": true,
	}
	covered := map[string]bool{}
	for src, want := range exprs {
		e, err := ParseExpr(src, Options{BaseDir: dir})
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		got, ok := e.String(txn)
		if !ok {
			got = "<none>"
		}
		if got != want {
			t.Errorf("%s: got %q want %q", src, got, want)
		}
		parts, _ := splitTop(src, ',')
		for i, p := range parts {
			n, _, _ := splitCall(p)
			covered[map[bool]string{true: "f:", false: "c:"}[i == 0]+n] = true
		}
	}
	for def, want := range keywords {
		_, c := build(t, Options{}, []string{"acl a " + def}, "if a")
		if got := c.Match(txn); got != want {
			t.Errorf("acl %s: got %v want %v", def, got, want)
		}
		n, _, _ := splitCall(strings.Fields(def)[0])
		covered["f:"+n] = true
	}
	for _, n := range FetchNames() {
		if !covered["f:"+n] {
			t.Errorf("fetch or keyword %s has no row in this test", n)
		}
	}
	for _, n := range ConverterNames() {
		if !covered["c:"+n] {
			t.Errorf("converter %s has no row in this test", n)
		}
	}
}
