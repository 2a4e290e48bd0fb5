package httpmode

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"appl/internal/cfgfile"
	"appl/proxy/acl"
)

const rulesFrontend = `
    http-request deny deny_status 429 if { path_beg /deny429 }
    http-request deny if { path_beg /deny }
    http-request allow if { path_beg /allowed }
    http-request deny if { path_beg /allowed }
    http-request auth realm Secret if { path_beg /auth } !{ http_auth(users) }
    http-request redirect code 301 location /new if { path /old }
    http-request redirect prefix /pfx drop-query if { path_beg /pre }
    http-request redirect scheme https if { path_beg /sch }
    http-request set-header X-Set %[src] if { path_beg /hdr }
    http-request add-header X-Add one if { path_beg /hdr }
    http-request add-header X-Add two if { path_beg /hdr }
    http-request del-header X-Remove if { path_beg /hdr }
    http-request replace-header X-Rep (.*)-old \1-new if { path_beg /hdr }
    http-request set-path /rewritten%[path] if { path_beg /setpath }
    http-request set-query a=1&b=%[req.hdr(x-b)] if { path_beg /setq }
    http-request set-var(txn.who) req.hdr(x-who)
    http-request set-header X-Who %[var(txn.who)] if { var(txn.who) -m found }
    http-request return status 200 content-type text/plain string hello if { path /ret }
    http-request return status 201 content-type text/plain lf-string "from-%[src]" hdr X-R yes if { path /retlf }
    http-response set-header X-Resp yes
    http-response add-header X-Resp2 a
    http-response del-header X-Server
    http-response deny if { path_beg /respdeny }
    use_backend %[req.hdr(x-be)] if { req.hdr(x-be) -m found }
`

func TestRequestAndResponseRules(t *testing.T) {
	b := newNamedBackend(t, "s1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Server", "s1")
		fmt.Fprintf(w, "%s?%s", r.URL.Path, r.URL.RawQuery)
	})
	b2 := newNamedBackend(t, "s2", nil)
	cfg := loadConfig(t, oneBackendConfig(b.hostPort(), rulesFrontend, "")+fmt.Sprintf(`
backend other
    server s2 %s
userlist users
    user bob insecure-password pw
`, b2.hostPort()))
	h := newHarness(t, cfg, "fe", Options{})
	c := dialClient(t, h.addr())
	auth := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("bob:pw")) + "\r\n"

	last := func() *http.Request { r := b.requests(); return r[len(r)-1] }
	for _, tc := range []struct {
		name, path, hdrs string
		status           int
		check            func(t *testing.T, resp *http.Response, body string)
	}{
		{"deny", "/deny", "", 403, nil},
		{"deny_status", "/deny429", "", 429, nil},
		{"allow stops the rules", "/allowed", "", 200, nil},
		{"auth asked", "/auth", "", 401, func(t *testing.T, r *http.Response, _ string) {
			if r.Header.Get("Www-Authenticate") != `Basic realm="Secret"` {
				t.Fatalf("WWW-Authenticate %q", r.Header.Get("Www-Authenticate"))
			}
		}},
		{"auth wrong password", "/auth", "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("bob:no")) + "\r\n", 401, nil},
		{"auth passed", "/auth", auth, 200, nil},
		{"redirect location", "/old", "", 301, func(t *testing.T, r *http.Response, _ string) {
			if r.Header.Get("Location") != "/new" {
				t.Fatalf("Location %q", r.Header.Get("Location"))
			}
		}},
		{"redirect prefix", "/pre/x?q=1", "", 302, func(t *testing.T, r *http.Response, _ string) {
			if r.Header.Get("Location") != "/pfx/pre/x" {
				t.Fatalf("Location %q", r.Header.Get("Location"))
			}
		}},
		{"redirect scheme", "/sch?z", "", 302, func(t *testing.T, r *http.Response, _ string) {
			if r.Header.Get("Location") != "https://t.example/sch?z" {
				t.Fatalf("Location %q", r.Header.Get("Location"))
			}
		}},
		{"headers", "/hdr", "X-Remove: x\r\nX-Rep: abc-old\r\nX-Set: old\r\n", 200, func(t *testing.T, _ *http.Response, _ string) {
			r := last()
			if r.Header.Get("X-Set") != "127.0.0.1" || strings.Join(r.Header.Values("X-Add"), ",") != "one,two" ||
				r.Header.Get("X-Remove") != "" || r.Header.Get("X-Rep") != "abc-new" {
				t.Fatalf("server saw %v", r.Header)
			}
		}},
		{"set-path", "/setpath/a?k=v", "", 200, func(t *testing.T, _ *http.Response, body string) {
			if body != "/rewritten/setpath/a?k=v" {
				t.Fatalf("server saw %q", body)
			}
		}},
		{"set-query", "/setq?old", "X-B: 2\r\n", 200, func(t *testing.T, _ *http.Response, body string) {
			if body != "/setq?a=1&b=2" {
				t.Fatalf("server saw %q", body)
			}
		}},
		{"set-var", "/var", "X-Who: alice\r\n", 200, func(t *testing.T, _ *http.Response, _ string) {
			if last().Header.Get("X-Who") != "alice" {
				t.Fatalf("X-Who %q", last().Header.Get("X-Who"))
			}
		}},
		{"set-var is per request", "/var2", "", 200, func(t *testing.T, _ *http.Response, _ string) {
			if v, ok := last().Header["X-Who"]; ok {
				t.Fatalf("variable leaked to the next request: %q", v)
			}
		}},
		{"return string", "/ret", "", 200, func(t *testing.T, r *http.Response, body string) {
			if body != "hello" || r.Header.Get("Content-Type") != "text/plain" {
				t.Fatalf("return: %q %v", body, r.Header)
			}
		}},
		{"return lf-string hdr", "/retlf", "", 201, func(t *testing.T, r *http.Response, body string) {
			if body != "from-127.0.0.1" || r.Header.Get("X-R") != "yes" {
				t.Fatalf("return: %q %v", body, r.Header)
			}
		}},
		{"response rules", "/plain", "", 200, func(t *testing.T, r *http.Response, _ string) {
			if r.Header.Get("X-Resp") != "yes" || r.Header.Get("X-Resp2") != "a" || r.Header.Get("X-Server") != "" {
				t.Fatalf("response headers %v", r.Header)
			}
		}},
		{"use_backend %[...]", "/dyn", "X-Be: other\r\n", 200, func(t *testing.T, _ *http.Response, body string) {
			if body != "s2" {
				t.Fatalf("dynamic backend served by %q", body)
			}
		}},
		{"use_backend %[...] unknown name falls back", "/dyn", "X-Be: nope\r\n", 200, func(t *testing.T, _ *http.Response, body string) {
			if body != "/dyn?" {
				t.Fatalf("served %q, want the default backend", body)
			}
		}},
	} {
		outer := t
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			defer func() { c.t = outer }()
			resp, body := c.do("GET " + tc.path + " HTTP/1.1\r\nHost: t.example\r\n" + tc.hdrs + "\r\n")
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%q)", resp.StatusCode, tc.status, body)
			}
			if tc.check != nil {
				tc.check(t, resp, body)
			}
			if tc.status >= 400 && tc.status != 401 {
				c = dialClient(outer, h.addr()) // errors close the connection
			}
		})
	}
	// http-response deny: 502 and a close; logged as denied.
	c = dialClient(t, h.addr())
	resp, _ := c.do(get("/respdeny"))
	if resp.StatusCode != 502 {
		t.Fatalf("http-response deny: %d", resp.StatusCode)
	}
	n := 0
	waitFor(t, "the denied log", func() bool {
		n = 0
		for _, l := range h.env.Logs() {
			if l.Denied && l.Status == 502 && l.Term == [2]byte{'P', 'H'} {
				n++
			}
		}
		return n > 0
	})
	c.closed() // the session has ended: every log entry is in
	n = 0
	for _, l := range h.env.Logs() {
		if string(l.RequestLine) == "GET /respdeny HTTP/1.1" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d log entries for the denied response, want 1", n)
	}
}

func TestRuleParseErrors(t *testing.T) {
	set := acl.NewSet(acl.Options{})
	for _, tc := range []struct{ line, want string }{
		{"http-request", "missing action"},
		{"http-request frobnicate", "unsupported http-request action"},
		{"http-request deny deny_status abc", "bad status"},
		{"http-request set-header", "takes 2 argument"},
		{"http-request set-header Bad:Name x", "not a valid header name"},
		{"http-request redirect location", "needs a value"},
		{"http-request redirect location /x code 200", "redirect code"},
		{"http-request redirect code 301", "needs location|prefix|scheme"},
		{"http-request redirect location /a prefix /b", "after location"},
		{"http-request set-var(nope) src", "needs a scope"},
		{"http-request replace-header X ( y", "bad regex"},
		{"http-request return string x", "needs content-type"},
		{"http-request deny if nosuchacl", "unknown ACL"},
		{"http-response auth", "unsupported http-response action"},
		{"http-request set-header X %[nosuchfetch]", "unknown fetch"},
	} {
		words, err := cfgfile.SplitLine(tc.line, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = ParseRule(cfgfile.Line{Pos: cfgfile.Pos{File: "f", Line: 3}, Words: words}, set, acl.Options{}, "fe")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "f:3") {
			t.Errorf("%q: error %v, want one at f:3 containing %q", tc.line, err, tc.want)
		}
	}
}

func TestSkipUnsupported(t *testing.T) {
	text := oneBackendConfig("127.0.0.1:1", "    http-request track-sc0 src\n    http-request deny if { path /x }", "")
	if _, err := Compile(loadConfig(t, text), Options{}); err == nil || !strings.Contains(err.Error(), `unsupported http-request action "track-sc0"`) {
		t.Fatalf("Compile = %v, want the unsupported action refused", err)
	}
	p, err := Compile(loadConfig(t, text), Options{SkipUnsupported: true})
	if err != nil || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0].Error(), "rule skipped") {
		t.Fatalf("SkipUnsupported: %v, warnings %v", err, p.Warnings)
	}
	if n := len(p.Frontend("fe").reqRules); n != 1 {
		t.Fatalf("%d rules kept, want the deny only", n)
	}
}
