package acl

import (
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"
)

// fakeReq implements HTTPView over a list of header lines.
type fakeReq struct {
	method, uri string
	hdrs        [][2]string
	vals        []string
}

func (r *fakeReq) Method() string { return r.method }
func (r *fakeReq) URI() string    { return r.uri }
func (r *fakeReq) Path() string {
	p, _, _ := strings.Cut(r.uri, "?")
	if i := strings.Index(p, "://"); i >= 0 {
		if j := strings.IndexByte(p[i+3:], '/'); j >= 0 {
			return p[i+3+j:]
		}
		return "/"
	}
	return p
}
func (r *fakeReq) Query() string { _, q, _ := strings.Cut(r.uri, "?"); return q }
func (r *fakeReq) Header(name string) (string, bool) {
	for _, h := range r.hdrs {
		if strings.EqualFold(h[0], name) {
			return h[1], true
		}
	}
	return "", false
}
func (r *fakeReq) HeaderValues(name string) []string {
	r.vals = r.vals[:0]
	for _, h := range r.hdrs {
		if strings.EqualFold(h[0], name) {
			r.vals = append(r.vals, h[1])
		}
	}
	return r.vals
}

type fakeEnv struct{}

func (fakeEnv) NbSrv(be string) (int, bool) {
	n, ok := map[string]int{"web": 2, "empty": 0}[be]
	return n, ok
}
func (fakeEnv) Userlist(name string) Userlist {
	if name == "L1" {
		return fakeUsers{}
	}
	return nil
}

type fakeUsers struct{}

func (fakeUsers) Authenticate(u, p string) bool {
	return u == "admin" && p == "secret" || u == "bob" && p == "pw"
}
func (fakeUsers) InGroup(u, g string) bool {
	return g == "admins" && u == "admin" || g == "users" && (u == "bob" || u == "admin")
}

func httpTxn(method, uri string, hdrs ...string) *Txn {
	r := &fakeReq{method: method, uri: uri}
	for _, h := range hdrs {
		k, v, _ := strings.Cut(h, ": ")
		r.hdrs = append(r.hdrs, [2]string{k, v})
	}
	return &Txn{
		Src:  netip.MustParseAddrPort("192.0.2.7:40000"),
		Dst:  netip.MustParseAddrPort("198.18.0.1:80"),
		HTTP: r, Env: fakeEnv{}, BackendName: "web", FrontendName: "fe",
	}
}

func basic(u, p string) string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p))
}

func TestL7Fetches(t *testing.T) {
	req := httpTxn("GET", "/api/v2/users/list.json?id=42&lang=en&x",
		"Host: WWW.Example.com:8080",
		"X-Forwarded-For: 10.0.0.1, 10.0.0.2",
		"X-Forwarded-For: 10.0.0.3",
		"Cookie: SRV=s1; theme=dark",
		"Cookie: SRV=s2",
		"Content-Length: 12",
		"Accept: text/html",
	)
	cases := []struct {
		acl  string
		want bool
	}{
		{"path /api/v2/users/list.json", true},
		{"path /api", false},
		{"path_beg /api/ /static/", true},
		{"path_beg /static/", false},
		{"path_beg -i /API/", true},
		{"path_end .json", true},
		{"path_end .html", false},
		{"path_sub users", true},
		{"path_reg ^/api/v[0-9]+/", true},
		{"path_reg ^/api/v[3-9]+/", false},
		{"path_dir users", true},
		{"path_dir user", false},
		{"path_len gt 10", true},
		{"url_beg /api/v2/users/list.json?id=", true},
		{"url_sub lang=en", true},
		{"url_param(id) 42", true},
		{"url_param(id) 4", false},
		{"url_param(lang) -m beg e", true},
		{"url_param(x) -m found", true},
		{"url_param(nope) -m found", false},
		{"urlp(id) -m int 40:50", true},
		{"query -m sub lang=en", true},
		{"method GET", true},
		{"method POST", false},
		{"req.hdr(host) -i www.example.com:8080", true},
		{"hdr(host) www.example.com:8080", false},
		{"hdr_beg(host) -i www.", true},
		{"hdr_end(host) :8080", true},
		{"hdr_sub(accept) html", true},
		{"hdr_reg(host) -i ^www\\.", true},
		{"hdr_dom(host) -i example.com", true},
		{"hdr_dom(host) -i ample.com", false},
		{"hdr_len(accept) 9", true},
		{"hdr_cnt(x-forwarded-for) 3", true},
		{"hdr_cnt(x-forwarded-for) 2", false},
		{"req.hdr_cnt(cookie) 2", true},
		{"hdr_cnt(nope) 0", true},
		{"hdr(x-forwarded-for) 10.0.0.2", true}, // ACLs match any occurrence
		{"hdr_ip(x-forwarded-for) 10.0.0.0/30", true},
		{"hdr_ip(x-forwarded-for) 10.0.0.4/30", false},
		{"hdr(x-forwarded-for,1) 10.0.0.1", true},
		{"hdr(x-forwarded-for,1) 10.0.0.2", false},
		{"hdr(x-forwarded-for,-1) 10.0.0.3", true},
		{"req.fhdr(x-forwarded-for,1) -m str 10.0.0.1,\\ 10.0.0.2", true},
		{"hdr(nope) -m found", false},
		{"hdr(accept) -m found", true},
		{"hdr_val(content-length) gt 10", true},
		{"hdr_val(content-length) gt 12", false},
		{"req.cook(SRV) s1", true}, // any occurrence
		{"req.cook(SRV) s2", true},
		{"cook(theme) dark", true},
		{"cook(nope) -m found", false},
		{"cook_cnt(SRV) 2", true},
		{"cook_beg(theme) da", true},
		{"base -i www.example.com:8080/api/v2/users/list.json", true},
		{"base_beg -i www.example.com:8080/api", true},
		{"src 192.0.2.0/24", true},
		{"dst_port 80", true},
		{"nbsrv(web) ge 1", true},
		{"nbsrv(empty) ge 1", false},
		{"nbsrv 2", true},
		{"fe_name fe", true},
		{"be_name web", true},
		{"ssl_fc", false},
		{"ssl_fc_sni -m found", false},
		{"req.proto_http", true},
	}
	for _, c := range cases {
		_, cond := build(t, Options{}, []string{"acl a " + c.acl}, "if a")
		if got := cond.Match(req); got != c.want {
			t.Errorf("acl a %s: got %v want %v", c.acl, got, c.want)
		}
	}
	// Predefined ACLs.
	for cond, want := range map[string]bool{
		"if METH_GET": true, "if METH_POST": false, "if HTTP": true, "if HTTP_URL_SLASH": true,
		"if HTTP_CONTENT": true, "if LOCALHOST": false, "if HTTP_URL_ABS": false, "if TRUE !FALSE": true,
	} {
		_, c := build(t, Options{}, nil, cond)
		if got := c.Match(req); got != want {
			t.Errorf("%s: got %v want %v", cond, got, want)
		}
	}
}

func TestTCPModeHasNoL7Samples(t *testing.T) {
	txn := tcpTxn("10.0.0.1:1000", "10.0.0.2:80")
	for _, a := range []string{"path -m found", "method GET", "hdr(host) -m found", "cook(a) -m found",
		"url_param(a) -m found", "http_auth(L1)", "nbsrv(web) ge 0", "req.proto_http"} {
		_, cond := build(t, Options{}, []string{"acl a " + a}, "if a")
		if cond.Match(txn) {
			t.Errorf("acl %s matched in tcp mode", a)
		}
	}
}

func TestTLSFetches(t *testing.T) {
	txn := tcpTxn("10.0.0.1:1000", "10.0.0.2:443")
	txn.TLS = &TLSInfo{SNI: "api.example.com"}
	txn.ClientHelloSNI = "peek.example.com"
	for a, want := range map[string]bool{
		"ssl_fc": true, "ssl_fc_sni api.example.com": true, "ssl_fc_sni_end .example.com": true,
		"req_ssl_sni peek.example.com": true, "req.ssl_sni -m end .com": true, "req.ssl_sni api.example.com": false,
	} {
		_, cond := build(t, Options{}, []string{"acl a " + a}, "if a")
		if got := cond.Match(txn); got != want {
			t.Errorf("acl a %s: got %v want %v", a, got, want)
		}
	}
}

func TestHTTPAuth(t *testing.T) {
	acls := []string{"acl auth http_auth(L1)", "acl adm http_auth_group(L1) admins", "acl usr http_auth_group(L1) users other"}
	cases := []struct {
		hdr            string
		auth, adm, usr bool
	}{
		{basic("admin", "secret"), true, true, true},
		{basic("bob", "pw"), true, false, true},
		{basic("bob", "wrong"), false, false, false},
		{"Authorization: Bearer xyz", false, false, false},
		{"Authorization: Basic !!!", false, false, false},
		{"X-None: 1", false, false, false},
	}
	for _, c := range cases {
		txn := httpTxn("GET", "/", c.hdr)
		for name, want := range map[string]bool{"auth": c.auth, "adm": c.adm, "usr": c.usr} {
			_, cond := build(t, Options{}, acls, "if "+name)
			if got := cond.Match(txn); got != want {
				t.Errorf("%q %s: got %v want %v", c.hdr, name, got, want)
			}
		}
	}
	known := func(kind, name string) bool { return kind == "userlist" && name == "L1" }
	s := NewSet(Options{Known: known})
	if err := s.Define(line(t, "acl a http_auth(L2)")); err == nil || !strings.Contains(err.Error(), `unknown userlist "L2"`) {
		t.Errorf("unknown userlist: %v", err)
	}
	if err := s.Define(line(t, "acl a nbsrv(nope) 1")); err == nil || !strings.Contains(err.Error(), `unknown backend "nope"`) {
		t.Errorf("unknown backend: %v", err)
	}
}

func TestConverters(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "hosts.map", "www.example.com bk_www\nexample.com bk_dom\n")
	writeFile(t, dir, "paths.map", "/api bk_api\n/ bk_root\n^/v[0-9]/ bk_reg\n")
	writeFile(t, dir, "ports.map", "80 http\n1024:65535 high\n")
	writeFile(t, dir, "dom.map", "example.com bk_dom\n")
	txn := httpTxn("GET", "/api/x?a=b", "Host: WWW.EXAMPLE.COM", "X-Path: a/b/c/d", "X-Enc: aGVsbG8=")
	txn.Src = netip.MustParseAddrPort("[2001:db8:1:2:3::1]:4000")
	cases := []struct {
		expr, want string
		ok         bool
	}{
		{"req.hdr(host),lower", "www.example.com", true},
		{"req.hdr(host),lower,upper", "WWW.EXAMPLE.COM", true},
		{"req.hdr(host),lower,map(hosts.map,default)", "bk_www", true},
		{"req.hdr(host),map(hosts.map,default)", "default", true},
		{"req.hdr(host),map_str(hosts.map)", "", false},
		{"req.hdr(host),lower,map_dom(dom.map,none)", "bk_dom", true},
		{"req.hdr(host),lower,map_end(hosts.map,none)", "bk_www", true},
		{"req.hdr(host),lower,map_sub(hosts.map,none)", "bk_www", true},
		{"path,map_beg(paths.map,none)", "bk_api", true},
		{"url,map_beg(paths.map,none)", "bk_api", true},
		{"dst_port,map_int(ports.map,none)", "http", true},
		{"src_port,map_int(ports.map,none)", "high", true},
		{"src,ipmask(24,64)", "2001:db8:1:2::", true},
		{"src,ipmask(24)", "", false},
		{"dst,ipmask(255.255.0.0)", "198.18.0.0", true},
		{"req.hdr(x-path),field(2,/)", "b", true},
		{"req.hdr(x-path),field(-1,/)", "d", true},
		{"req.hdr(x-path),field(2,/,2)", "b/c", true},
		{"req.hdr(x-path),field(2,/,0)", "b/c/d", true},
		{"req.hdr(x-path),field(9,/)", "", false},
		{"req.hdr(x-enc),b64dec", "hello", true},
		{"req.hdr(x-enc),b64dec,base64", "aGVsbG8=", true},
		{"req.hdr(x-path),length", "7", true},
		{"src", "2001:db8:1:2:3::1", true},
		{"dst_port", "80", true},
		{"url_param(a)", "b", true},
	}
	for _, c := range cases {
		e, err := ParseExpr(c.expr, Options{BaseDir: dir})
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", c.expr, err)
			continue
		}
		got, ok := e.String(txn)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: got %q,%v want %q,%v", c.expr, got, ok, c.want, c.ok)
		}
	}
	for _, bad := range []string{"src,ipmask(33)", "src,ipmask(1.2.3)", "path,field(0,/)", "path,field(1,)",
		"path,field(1,/,x)", "path,lower(1)", "hdr", "hdr(a,1,2)", "path,map_reg(nofile)"} {
		if _, err := ParseExpr(bad, Options{BaseDir: dir}); err == nil {
			t.Errorf("ParseExpr(%q): no error", bad)
		}
	}
}

// TestSharedStoreRuntimeEdit: a map edited through the store (as the runtime API does)
// changes the next evaluation, and an ACL -f file is the same Ref.
func TestSharedStoreRuntimeEdit(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "map", "")
	writeFile(t, dir, "white_ip_list", "10.0.0.1\n")
	st := NewSet(Options{BaseDir: dir}).opt.Maps
	opt := Options{BaseDir: dir, Maps: st}
	e, err := ParseExpr("dst,map_ip(./map,not_found)", opt)
	if err != nil {
		t.Fatal(err)
	}
	_, cond := build(t, opt, []string{"acl white src -f ./white_ip_list"}, "if white")
	txn := tcpTxn("10.0.0.2:1", "198.18.0.10:5000")
	if got, _ := e.String(txn); got != "not_found" {
		t.Fatalf("empty map: %q", got)
	}
	r := st.Ref("map")
	if r == nil {
		t.Fatalf("map not in the shared store; have %v", st.Refs(true))
	}
	if _, err := r.Add("198.18.0.10", "bk_vm10"); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.String(txn); got != "bk_vm10" {
		t.Fatalf("after add map: %q", got)
	}
	if _, err := r.Add("nonsense", "x"); err == nil {
		t.Error("add map of a non-IP key to a map_ip map: no error")
	}
	if cond.Match(txn) {
		t.Fatal("10.0.0.2 whitelisted before add acl")
	}
	if _, err := st.Ref("white_ip_list").Add("10.0.0.2", ""); err != nil {
		t.Fatal(err)
	}
	if !cond.Match(txn) {
		t.Fatal("add acl not seen by the condition")
	}
}

func TestLogFormat(t *testing.T) {
	txn := httpTxn("GET", "/x", "Host: a.example")
	cases := map[string]string{
		"%[src]":                       "192.0.2.7",
		"for=%[src]:%[src_port] 100%%": "for=192.0.2.7:40000 100%",
		"%[req.hdr(host),upper]/x":     "A.EXAMPLE/x",
		"plain":                        "plain",
		"[%[hdr(nope)]]":               "[]",
	}
	for src, want := range cases {
		f, err := ParseLogFormat(src, Options{})
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if got := f.String(txn); got != want {
			t.Errorf("%q: got %q want %q", src, got, want)
		}
	}
	if f, _ := ParseLogFormat("[%[hdr(nope)]]", Options{}); string(f.AppendOr(nil, txn, "-")) != "[-]" {
		t.Error("AppendOr does not write the placeholder")
	}
	for _, bad := range []string{"%[src", "%x", "%[nosuch]", "", "50%"} {
		if _, err := ParseLogFormat(bad, Options{}); err == nil {
			t.Errorf("ParseLogFormat(%q): no error", bad)
		}
	}
}

func TestMoreConvertersAndVars(t *testing.T) {
	txn := httpTxn("GET", "/a//b/c?x=1", "X-Num: 40", "X-Path: /img/a.png")
	txn.SetVar("txn.two", IntSample(2))
	txn.SetVar("sess.user", StrSample("bob"))
	cases := []struct {
		expr, want string
		ok         bool
	}{
		{"path,word(2,/)", "b", true},
		{"path,word(-1,/)", "c", true},
		{"path,field(2,/)", "a", true},
		{"req.hdr(x-path),regsub(^/img/,/static/)", "/static/a.png", true},
		{"req.hdr(x-path),regsub(([a-z]+)\\.png,\\1.webp)", "/img/a.webp", true},
		{"path,regsub(/,_,g)", "_a__b_c", true},
		{"path,regsub(/,_)", "_a//b/c", true},
		{"req.hdr(x-num),add(2)", "42", true},
		{"req.hdr(x-num),sub(txn.two)", "38", true},
		{"req.hdr(x-num),mul(txn.two)", "80", true},
		{"req.hdr(x-num),div(3)", "13", true},
		{"req.hdr(x-num),div(0)", "0", true},
		{"req.hdr(x-num),mod(7)", "5", true},
		{"req.hdr(x-num),add(txn.nope)", "", false},
		{"req.hdr(x-num),neg", "-40", true},
		{"req.hdr(x-num),not", "0", true},
		{"req.hdr(x-num),bool", "1", true},
		{"str(ab),hex", "6162", true},
		{"str(xxabxx),ltrim(x),rtrim(x)", "ab", true},
		{"var(txn.two)", "2", true},
		{"var(sess.user)", "bob", true},
		{"var(txn.none,dflt)", "dflt", true},
		{"var(txn.none)", "", false},
		{"int(7),add(1)", "8", true},
		{"ipv4(10.1.2.3),ipmask(8)", "10.0.0.0", true},
		{"bool(1)", "1", true},
	}
	for _, c := range cases {
		e, err := ParseExpr(c.expr, Options{})
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", c.expr, err)
			continue
		}
		got, ok := e.String(txn)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: got %q,%v want %q,%v", c.expr, got, ok, c.want, c.ok)
		}
	}
	txn.Reset()
	if _, ok := txn.Var("txn.two"); ok {
		t.Error("txn var survived Reset")
	}
	if _, ok := txn.Var("sess.user"); !ok {
		t.Error("sess var lost by Reset")
	}
	for _, bad := range []string{"var(two)", "var(foo.x)", "str(a),add(x y)", "int(x)", "ipv4(::1)", "path,regsub(a(,b)", "path,regsub(a,b,z)"} {
		if _, err := ParseExpr(bad, Options{}); err == nil {
			t.Errorf("ParseExpr(%q): no error", bad)
		}
	}
}
