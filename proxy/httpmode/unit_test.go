package httpmode

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"appl/internal/cfgfile"
	"appl/proxy/acl"
	"appl/proxy/config"
	"appl/proxy/http1"
)

func parseReq(t *testing.T, s string) *http1.Request {
	t.Helper()
	var r http1.Request
	if _, err := r.Parse([]byte(s), http1.Limits{}); err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return &r
}

func TestHashKeys(t *testing.T) {
	req := "GET /a/b/c/d?x=1&user=42&z HTTP/1.1\r\nHost: www.haproxy.org:8080\r\nX-Tenant: acme\r\nCookie: mstshash=bob; o=1\r\n\r\n"
	txn := &acl.Txn{Src: netip.MustParseAddrPort("[::ffff:10.1.2.3]:5555")}
	for _, tc := range []struct {
		bal  config.Balance
		want string
		ok   bool
	}{
		{config.Balance{Algo: "uri"}, "/a/b/c/d", true},
		{config.Balance{Algo: "uri", Args: []string{"whole"}}, "/a/b/c/d?x=1&user=42&z", true},
		{config.Balance{Algo: "uri", Args: []string{"depth", "2"}}, "/a/b", true},
		{config.Balance{Algo: "uri", Args: []string{"len", "4"}}, "/a/b", true},
		{config.Balance{Algo: "uri", Args: []string{"path-only"}}, "/a/b/c/d", true},
		{config.Balance{Algo: "url_param", Param: "user"}, "42", true},
		{config.Balance{Algo: "url_param", Param: "nope"}, "", false},
		{config.Balance{Algo: "hdr", Param: "X-Tenant"}, "acme", true},
		{config.Balance{Algo: "hdr", Param: "host", Args: []string{"use_domain_only"}}, "haproxy", true},
		{config.Balance{Algo: "hdr", Param: "X-None"}, "", false},
		{config.Balance{Algo: "rdp-cookie"}, "bob", true},
		{config.Balance{Algo: "hash", Param: "req.hdr(x-tenant),upper"}, "ACME", true},
		{config.Balance{Algo: "roundrobin"}, "", false},
	} {
		h, err := parseHash(tc.bal, acl.Options{})
		if err != nil {
			t.Fatalf("%+v: %v", tc.bal, err)
		}
		r := parseReq(t, req)
		txn.HTTP = &reqView{req: r}
		k := h.key(r, txn)
		if k.Valid != tc.ok || string(k.Data) != tc.want {
			t.Errorf("%s %v: key %q valid=%v, want %q %v", tc.bal.Algo, tc.bal.Args, k.Data, k.Valid, tc.want, tc.ok)
		}
	}
	h, _ := parseHash(config.Balance{Algo: "source"}, acl.Options{})
	if k := h.key(parseReq(t, req), txn); !k.Valid || k.Addr != netip.MustParseAddr("10.1.2.3") {
		t.Errorf("source key %+v", k)
	}
	if _, err := parseHash(config.Balance{Algo: "uri", Args: []string{"depth"}}, acl.Options{}); err == nil {
		t.Error("uri depth without a number accepted")
	}
}

func cookieBackend(t *testing.T, line string) *backendProg {
	t.Helper()
	words, _ := cfgfile.SplitLine(line, nil)
	c, err := parseCookie(cfgfile.Line{Words: words})
	if err != nil {
		t.Fatal(err)
	}
	return &backendProg{cookie: c, byCookie: map[string]string{"a1": "srvA", "b1": "srvB"}, cookieOf: map[string]string{"srvA": "a1", "srvB": "b1"}}
}

func parseResp(t *testing.T, s string) *http1.Response {
	t.Helper()
	var r http1.Response
	if _, err := r.Parse([]byte(s), http1.Limits{}); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestCookieModes(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	// prefix: the server's own cookie gets the server id in front, and loses it on the
	// way back.
	bp := cookieBackend(t, "cookie JSESSIONID prefix")
	resp := parseResp(t, "HTTP/1.1 200 OK\r\nSet-Cookie: JSESSIONID=xyz; Path=/\r\nContent-Length: 0\r\n\r\n")
	st := cookieState{client: ckNone, server: 'N'}
	bp.writeCookie(resp, &st, "srvB", false, now, nil)
	if v, _ := resp.Header("set-cookie"); string(v) != "JSESSIONID=b1~xyz; Path=/" || st.server != ckProvided {
		t.Fatalf("prefix response cookie %q (%c)", v, st.server)
	}
	req := parseReq(t, "GET / HTTP/1.1\r\nHost: a\r\nCookie: x=1; JSESSIONID=b1~xyz; y=2\r\n\r\n")
	st, _ = bp.readCookie(req, now, nil)
	if c, _ := req.Header("cookie"); st.preferred != "srvB" || string(c) != "x=1; JSESSIONID=xyz; y=2" {
		t.Fatalf("prefix request: preferred %q cookie %q", st.preferred, c)
	}

	// rewrite: the server's cookie value becomes the server id.
	bp = cookieBackend(t, "cookie SRV rewrite")
	resp = parseResp(t, "HTTP/1.1 200 OK\r\nSet-Cookie: SRV=placeholder; HttpOnly\r\nContent-Length: 0\r\n\r\n")
	bp.writeCookie(resp, &st, "srvA", false, now, nil)
	if v, _ := resp.Header("set-cookie"); string(v) != "SRV=a1; HttpOnly" {
		t.Fatalf("rewrite response cookie %q", v)
	}

	// insert with attributes; the server's own cookie of that name is dropped.
	bp = cookieBackend(t, "cookie SRV insert indirect nocache httponly secure domain .example.com")
	resp = parseResp(t, "HTTP/1.1 200 OK\r\nSet-Cookie: SRV=mine\r\nCache-Control: public\r\nContent-Length: 0\r\n\r\n")
	st = cookieState{client: ckNone, server: 'N'}
	bp.writeCookie(resp, &st, "srvA", false, now, nil)
	if resp.HeaderCount("set-cookie") != 1 {
		t.Fatalf("server's own SRV cookie kept")
	}
	if v, _ := resp.Header("set-cookie"); string(v) != "SRV=a1; path=/; domain=.example.com; HttpOnly; Secure" {
		t.Fatalf("insert cookie %q", v)
	}
	if resp.HeaderCount("cache-control") != 2 {
		t.Fatalf("nocache did not add Cache-Control: private")
	}
	// Unknown value: invalid, no preference.
	st, _ = bp.readCookie(parseReq(t, "GET / HTTP/1.1\r\nHost: a\r\nCookie: SRV=zz\r\n\r\n"), now, nil)
	if st.client != ckInvalid || st.preferred != "" {
		t.Fatalf("unknown cookie: %+v", st)
	}

	// maxidle: a fresh dated cookie is valid, an old one expired.
	bp = cookieBackend(t, "cookie SRV insert indirect maxidle 30m maxlife 8h")
	resp = parseResp(t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	st = cookieState{client: ckNone, server: 'N'}
	bp.writeCookie(resp, &st, "srvB", false, now, nil)
	v, _ := resp.Header("set-cookie")
	val, _, _ := strings.Cut(string(v), ";")
	st, _ = bp.readCookie(parseReq(t, "GET / HTTP/1.1\r\nHost: a\r\nCookie: "+val+"\r\n\r\n"), now.Add(10*time.Minute), nil)
	if st.client != ckValid || st.preferred != "srvB" {
		t.Fatalf("dated cookie %q 10 min later: %+v", val, st)
	}
	st, _ = bp.readCookie(parseReq(t, "GET / HTTP/1.1\r\nHost: a\r\nCookie: "+val+"\r\n\r\n"), now.Add(31*time.Minute), nil)
	if st.client != ckExpired || st.preferred != "" {
		t.Fatalf("dated cookie 31 min later: %+v", st)
	}

	for _, bad := range []string{"cookie", "cookie X bogus", "cookie X rewrite maxidle 10", "cookie X insert maxidle"} {
		words, _ := cfgfile.SplitLine(bad, nil)
		if _, err := parseCookie(cfgfile.Line{Words: words}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestHTTPLogLine(t *testing.T) {
	e := LogEntry{
		Client: netip.MustParseAddrPort("[::ffff:192.0.2.7]:41234"), RequestDate: time.Date(2026, 11, 23, 9, 5, 7, 123e6, time.Local),
		Frontend: "http-in", Backend: "ms1", Server: "ms1.srv1",
		TR: 2 * time.Millisecond, Tw: 0, Tc: time.Millisecond, Tr: 15 * time.Millisecond, Ta: 19 * time.Millisecond,
		Status: 200, Bytes: 1234, Term: [2]byte{'-', '-'}, Cookie: [2]byte{'N', 'I'},
		ActConn: 5, FeConn: 4, BeConn: 3, SrvConn: 2, Retries: 1, Redispatched: true, SrvQueue: 0, BeQueue: 1,
		RequestLine: []byte(`GET /a"b HTTP/1.1`),
	}
	want := `192.0.2.7:41234 [23/Nov/2026:09:05:07.123] http-in ms1/ms1.srv1 2/0/1/15/19 200 1234 - - --NI 5/4/3/2/+1 0/1 "GET /a\"b HTTP/1.1"`
	if got := string(e.AppendHTTPLog(nil)); got != want {
		t.Fatalf("httplog line\n got %s\nwant %s", got, want)
	}
	e = LogEntry{Frontend: "fe", TLS: true, Backend: "fe", Server: "<NOSRV>", TR: -1, Tw: -1, Tc: -1, Tr: -1, Ta: 0,
		Term: [2]byte{'C', 'R'}, Cookie: [2]byte{'-', '-'}, RequestLine: []byte("<BADREQ>"), RequestDate: time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)}
	want = `unix:1 [02/Jan/2026:03:04:05.000] fe~ fe/<NOSRV> -1/-1/-1/-1/0 -1 0 - - CR-- 0/0/0/0/0 0/0 "<BADREQ>"`
	if got := string(e.AppendHTTPLog(nil)); got != want {
		t.Fatalf("httplog line\n got %s\nwant %s", got, want)
	}
}

// statsBackend answers /stats itself (Responder) and forwards the rest.
type statsBackend struct{ *tBackend }

func (s statsBackend) Respond(dst []byte, req *http1.Request, _ *acl.Txn) ([]byte, int, bool) {
	if string(req.Path()) != "/stats" {
		return dst, 0, false
	}
	return append(dst, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstats"...), 200, true
}

func TestResponder(t *testing.T) {
	b := newNamedBackend(t, "s1", nil)
	h := newHarness(t, loadConfig(t, oneBackendConfig(b.hostPort(), "", "")), "fe", Options{})
	env := &respEnv{tEnv: h.env}
	h2prog := h.prog
	fe := h2prog.Frontend("fe")
	ln := listenLoopback(t)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		fe.Serve(context.Background(), c, time.Now(), env, &acl.Txn{})
		c.Close()
	}()
	c := dialClient(t, ln.Addr().String())
	if resp, body := c.do(get("/stats")); resp.StatusCode != 200 || body != "stats" {
		t.Fatalf("stats: %d %q", resp.StatusCode, body)
	}
	if resp, body := c.do(get("/x")); resp.StatusCode != 200 || body != "s1" {
		t.Fatalf("forwarded: %d %q", resp.StatusCode, body)
	}
	if l := h.env.Logs(); len(l) < 1 || l[0].Server != "<STATS>" {
		t.Fatalf("stats log %+v", l)
	}
}

type respEnv struct{ *tEnv }

func (e *respEnv) Backend(name string) (Backend, bool) {
	b, ok := e.tEnv.backends[name]
	if !ok {
		return nil, false
	}
	return statsBackend{b}, true
}
