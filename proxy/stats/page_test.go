package stats

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"appl/proxy/config"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func loadSeed(t *testing.T, name string) *config.Config {
	t.Helper()
	cfg, err := config.Load("../config/testdata/seeds/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func loadString(t *testing.T, src string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.cfg")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func get(uri, extra string) string {
	return "GET " + uri + " HTTP/1.1\r\nHost: lb:9000\r\n" + extra + "\r\n"
}

func post(uri, extra string, body string) string {
	return "POST " + uri + " HTTP/1.1\r\nHost: lb:9000\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
		itoa(len(body)) + "\r\n" + extra + "\r\n"
}

// Seed 002: userlist stats-auth with an admin group (admin) and a readonly one (lbuser),
// `stats http-request auth unless AUTH`, `stats admin if AUTH_ADMIN`.
func TestSeed002AuthAndAdmin(t *testing.T) {
	cfg := loadSeed(t, "002-http-stats.cfg")
	src := seedSource()
	p := New("stats", cfg.Backend("stats").Stats, nil, src)

	if r := do(t, p, cfg, get("/other", ""), nil); r.handled {
		t.Fatalf("a request outside the stats URI was answered: %+v", r)
	}
	r := do(t, p, cfg, get("/haproxy_stats", ""), nil)
	if r.status != 401 || r.header("WWW-Authenticate") != `Basic realm="HAProxy Statistics"` {
		t.Fatalf("no credentials: %d %q", r.status, r.head)
	}
	if r := do(t, p, cfg, get("/haproxy_stats", basic("admin", "wrong")), nil); r.status != 401 {
		t.Fatalf("wrong password: %d", r.status)
	}
	if r := do(t, p, cfg, get("/haproxy_stats", basic("nobody", "AdminPasswd")), nil); r.status != 401 {
		t.Fatalf("unknown user: %d", r.status)
	}

	// The read-only user sees the page without action controls and cannot post.
	r = do(t, p, cfg, get("/haproxy_stats", basic("lbuser", "lbuser")), nil)
	if r.status != 200 || !strings.Contains(r.body, "http_srv-1") || strings.Contains(r.body, `name="action"`) || strings.Contains(r.body, `type="checkbox"`) {
		t.Fatalf("read-only page: %d\n%s", r.status, r.body)
	}
	if !strings.Contains(r.body, `<meta http-equiv="refresh" content="10">`) || !strings.Contains(r.body, "on lb1") {
		t.Errorf("refresh 10s / show-node missing")
	}
	form := "s=http_srv-1&action=maint&b=%231"
	r = do(t, p, cfg, post("/haproxy_stats", basic("lbuser", "lbuser")+"Origin: http://lb:9000\r\n", form), []byte(form))
	if r.status != 403 || len(src.Calls()) != 0 {
		t.Fatalf("read-only POST: %d, calls %v", r.status, src.Calls())
	}

	// The admin user gets the form and sets a server to maintenance.
	r = do(t, p, cfg, get("/haproxy_stats", basic("admin", "AdminPasswd")), nil)
	if r.status != 200 || !strings.Contains(r.body, `name="action"`) || !strings.Contains(r.body, `<input type="checkbox" name="s" value="http_srv-1">`) ||
		!strings.Contains(r.body, `<input type="hidden" name="b" value="#1">`) {
		t.Fatalf("admin page: %d\n%s", r.status, r.body)
	}
	r = do(t, p, cfg, post("/haproxy_stats", basic("admin", "AdminPasswd")+"Origin: http://lb:9000\r\n", form), []byte(form))
	if r.status != 303 || r.header("Location") != "/haproxy_stats;st=DONE" {
		t.Fatalf("admin POST: %d %q", r.status, r.head)
	}
	if c := src.Calls(); len(c) != 1 || c[0] != "state haproxy_10.2.2.5_80/http_srv-1 maint" {
		t.Fatalf("calls %v", c)
	}
	r = do(t, p, cfg, get("/haproxy_stats;st=DONE", basic("admin", "AdminPasswd")), nil)
	if !strings.Contains(r.body, "Action processed successfully.") || !strings.Contains(r.body, `<tr class="maintain">`) {
		t.Errorf("page after the action:\n%s", r.body)
	}

	// Cross-site form posts are refused even for the admin.
	for _, h := range []string{"Origin: http://evil.example\r\n", "Referer: http://evil.example/x\r\n", "Origin: null\r\n", "Sec-Fetch-Site: cross-site\r\n"} {
		r = do(t, p, cfg, post("/haproxy_stats", basic("admin", "AdminPasswd")+h, form), []byte(form))
		if r.status != 403 {
			t.Errorf("cross-site POST with %q: %d", h, r.status)
		}
	}
	if len(src.Calls()) != 1 {
		t.Fatalf("a refused POST acted: %v", src.Calls())
	}
	// Referer of the page itself, weight action, by backend name in the query string
	// (no body passed by the engine).
	r = do(t, p, cfg, "POST /haproxy_stats?b=haproxy_10.2.2.5_80&s=http_srv-2&action=weight&w=7 HTTP/1.1\r\nHost: lb:9000\r\n"+
		basic("admin", "AdminPasswd")+"Referer: http://lb:9000/haproxy_stats\r\n\r\n", nil)
	if r.status != 303 || r.header("Location") != "/haproxy_stats;st=DONE" {
		t.Fatalf("query-string POST: %d %q", r.status, r.head)
	}
	// A body the engine did not pass is not silently ignored.
	r = do(t, p, cfg, post("/haproxy_stats", basic("admin", "AdminPasswd"), form), nil)
	if r.status != 501 {
		t.Errorf("form body without RespondBody: %d", r.status)
	}
	// Outcome codes: unknown server, unknown backend, bad action, nothing selected.
	for form, st := range map[string]string{
		"s=nope&action=ready&b=%231":                   "ERRP",
		"s=http_srv-1&s=nope&action=ready&b=%231":      "PART",
		"s=http_srv-1&action=ready&b=%239":             "UNKN",
		"s=http_srv-1&action=shutdown&b=%231":          "ERRP",
		"action=ready&b=%231":                          "NONE",
		"s=http_srv-1&action=weight&w=999&b=%231":      "ERRP",
		"s=http_srv-1&action=ready&b=haproxy_10.2.2.5": "UNKN",
	} {
		r = do(t, p, cfg, post("/haproxy_stats", basic("admin", "AdminPasswd"), form), []byte(form))
		if r.status != 303 || r.header("Location") != "/haproxy_stats;st="+st {
			t.Errorf("form %q: %d %q, want st=%s", form, r.status, r.header("Location"), st)
		}
	}
	want := []string{"state haproxy_10.2.2.5_80/http_srv-1 maint", "weight haproxy_10.2.2.5_80/http_srv-2 7",
		"state haproxy_10.2.2.5_80/http_srv-1 ready"}
	if c := src.Calls(); strings.Join(c, "|") != strings.Join(want, "|") {
		t.Errorf("calls %v\nwant  %v", c, want)
	}
}

// Seed 004: `stats auth admin:admin`, `stats realm HAProxy\ Stats`, no admin.
func TestSeed004StatsAuth(t *testing.T) {
	cfg := loadSeed(t, "004-l7.cfg")
	src := seedSource()
	p := New("stats", cfg.Backend("stats").Stats, nil, src)
	r := do(t, p, cfg, get("/stats", ""), nil)
	if r.status != 401 || r.header("WWW-Authenticate") != `Basic realm="HAProxy Stats"` || !strings.Contains(r.body, "401 Unauthorized") {
		t.Fatalf("no credentials: %d %q", r.status, r.head)
	}
	if r := do(t, p, cfg, get("/stats", basic("admin", "admin2")), nil); r.status != 401 {
		t.Fatalf("wrong password: %d", r.status)
	}
	if r := do(t, p, cfg, get("/stats", "Authorization: Bearer x\r\n"), nil); r.status != 401 {
		t.Fatalf("bearer: %d", r.status)
	}
	r = do(t, p, cfg, get("/stats", basic("admin", "admin")), nil)
	if r.status != 200 || !strings.Contains(r.body, "haproxy_10.2.2.5_80") || strings.Contains(r.body, `name="action"`) ||
		!strings.Contains(r.body, `content="30"`) || r.header("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("page: %d %q", r.status, r.head)
	}
	form := "s=http_srv-1&action=maint&b=%231"
	if r := do(t, p, cfg, post("/stats", basic("admin", "admin"), form), []byte(form)); r.status != 403 || len(src.Calls()) != 0 {
		t.Fatalf("POST without stats admin: %d %v", r.status, src.Calls())
	}
	// HEAD: the page's head without its body.
	r = do(t, p, cfg, "HEAD /stats HTTP/1.1\r\nHost: x\r\n"+basic("admin", "admin")+"\r\n", nil)
	if r.status != 200 || r.body != "" || r.header("Content-Length") == "0" {
		t.Fatalf("HEAD: %d %q body %d", r.status, r.head, len(r.body))
	}
}

func TestStatsHTTPRequestRules(t *testing.T) {
	cfg := loadString(t, `userlist L
 user u insecure-password p
listen s
 mode http
 bind 127.0.0.1:1
 acl local hdr(x-local) 1
 acl auth http_auth(L)
 stats uri /s
 stats realm Top
 stats auth a:b
 stats http-request deny if { hdr(x-deny) 1 }
 stats http-request allow if local
 stats http-request auth realm Inner unless auth
`)
	p := New("s", cfg.Backend("s").Stats, nil, seedSource())
	cases := []struct {
		hdr    string
		status int
		realm  string
	}{
		{"X-Deny: 1\r\nX-Local: 1\r\n", 403, ""},
		{"X-Local: 1\r\n", 200, ""},                   // allow stops the rules, stats auth included
		{"", 401, `Basic realm="Inner"`},              // explicit auth rule with its realm
		{basic("u", "p"), 401, `Basic realm="Top"`},   // userlist ok, then the implicit `stats auth` rule
		{basic("a", "b"), 401, `Basic realm="Inner"`}, // stats auth user is not in L
		{basic("u", "p") + "X-Deny: 0\r\n", 401, `Basic realm="Top"`},
	}
	for _, c := range cases {
		r := do(t, p, cfg, get("/s", c.hdr), nil)
		if r.status != c.status || r.header("WWW-Authenticate") != c.realm {
			t.Errorf("%q: %d %q, want %d %q", c.hdr, r.status, r.header("WWW-Authenticate"), c.status, c.realm)
		}
	}
}

func TestPageHeaderOptions(t *testing.T) {
	cfg := loadString(t, `listen stats
 mode http
 bind 127.0.0.1:1
 stats uri /s
 stats show-node nodeA
 stats show-desc primary <box>
 stats show-legends
 stats scope haproxy_10.2.2.5_80
`)
	p := New("stats", cfg.Backend("stats").Stats, nil, seedSource())
	r := do(t, p, cfg, get("/s", ""), nil)
	for _, want := range []string{"version 0.9", "on nodeA", "primary &lt;box&gt;", `class="legend"`, "pid = 4242", "uptime = 0d 0h01m05s",
		"maxconn = 20000", `id="haproxy_10.2.2.5_80"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(r.body, `id="stats"`) || strings.Contains(r.body, "<box>") || strings.Contains(r.body, "http-equiv") {
		t.Errorf("scope, escaping or refresh wrong:\n%s", r.body)
	}
	cfg = loadString(t, "listen stats\n mode http\n bind 127.0.0.1:1\n stats uri /s\n stats hide-version\n stats scope .\n")
	p = New("stats", cfg.Backend("stats").Stats, nil, seedSource())
	r = do(t, p, cfg, get("/s", ""), nil)
	if strings.Contains(r.body, "0.9") || strings.Contains(r.body, "lb1") || !strings.Contains(r.body, `id="stats"`) || strings.Contains(r.body, `id="haproxy_10.2.2.5_80"`) {
		t.Errorf("hide-version / no show-node / scope . wrong:\n%s", r.body)
	}
	// The default URI is HAProxy's.
	cfg = loadString(t, "listen stats\n mode http\n bind 127.0.0.1:1\n stats enable\n")
	p = New("stats", cfg.Backend("stats").Stats, nil, seedSource())
	if r := do(t, p, cfg, get("/haproxy?stats", ""), nil); r.status != 200 {
		t.Errorf("default uri: %d", r.status)
	}
	if r := do(t, p, cfg, get("/haproxy", ""), nil); r.handled {
		t.Errorf("/haproxy answered")
	}
}

// Check texts come from servers (an L7 check can quote a response): they are escaped.
func TestPageEscapesServerTexts(t *testing.T) {
	cfg := loadString(t, "listen stats\n mode http\n bind 127.0.0.1:1\n stats uri /s\n stats admin if TRUE\n")
	src := seedSource()
	src.snap.Proxies[0].Backend.Servers[1].Check.Info = `<script>alert("x")</script>`
	src.snap.Proxies[0].Backend.Servers[1].Name = `a"b<c`
	p := New("stats", cfg.Backend("stats").Stats, nil, src)
	r := do(t, p, cfg, get("/s", ""), nil)
	if strings.Contains(r.body, "<script>") || strings.Contains(r.body, `a"b<c`) ||
		!strings.Contains(r.body, "&lt;script&gt;") || !strings.Contains(r.body, `value="a&#34;b&lt;c"`) {
		t.Fatalf("unescaped server texts:\n%s", r.body)
	}
}

// The URI prefix check runs on every request of a frontend with a page: it must agree
// with the string comparison and not allocate.
func TestURIHasPrefix(t *testing.T) {
	for _, tc := range []struct {
		target, prefix string
		want           bool
	}{
		{"/stats", "/stats", true},
		{"/stats;csv", "/stats", true},
		{"/statsx", "/stats", true}, // HAProxy compares a prefix, nothing more
		{"/stat", "/stats", false},
		{"/", "/stats", false},
		{"/haproxy?stats", "/haproxy?stats", true},
		{"/haproxy?stats;csv", "/haproxy?stats", true},
		{"/haproxy?stat", "/haproxy?stats", false},
		{"/haproxy", "/haproxy?stats", false},
		{"/haproxyx?stats", "/haproxy?stats", false},
		{"/haproxy?", "/haproxy?", true},
		{"/", "/", true},
		{"/metrics?x=1", "/metrics", true},
	} {
		req := parseReq(t, "GET "+tc.target+" HTTP/1.1\r\nHost: a\r\n\r\n")
		if got := uriHasPrefix(req, tc.prefix); got != tc.want {
			t.Errorf("%q has prefix %q: %v, want %v", tc.target, tc.prefix, got, tc.want)
		}
		if n := testing.AllocsPerRun(10, func() { uriHasPrefix(req, tc.prefix) }); n != 0 {
			t.Errorf("%q: %v allocations", tc.target, n)
		}
	}
}
