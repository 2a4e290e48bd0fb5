package httpmode

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// seed004 is the L7 setup of seeds/004 (haproxy.cfg of the "HAProxy build L7 load
// balancer" section) with loopback servers.
func seed004(b map[string]*namedBackend) string {
	return fmt.Sprintf(`
defaults
    mode http
    option http-keep-alive
    option forwardfor
    option httplog
    timeout connect 5000ms
    timeout client 10000ms
    timeout server 50000ms
    timeout http-request 20000ms
    option httpchk GET /healthCheck.html

frontend http-in
    bind 127.0.0.1:19001
    acl url_ms1 path_beg -i /ms1/
    acl url_ms2 path_beg -i /ms2/
    use_backend ms1 if url_ms1
    use_backend ms2 if url_ms2
    default_backend default_servers

backend ms1
    balance roundrobin
    cookie HA_STICKY_ms1 insert indirect nocache
    server ms1.srv1 %s cookie ms1.srv1 maxconn 300 check inter 2000ms rise 2 fall 3
    server ms1.srv2 %s cookie ms1.srv2 maxconn 300 check

backend ms2
    balance roundrobin
    cookie HA_STICKY_ms2 insert indirect nocache
    server ms2.srv1 %s cookie ms2.srv1 maxconn 300 check
    server ms2.srv2 %s cookie ms2.srv2 maxconn 300 check

backend default_servers
    balance roundrobin
    cookie HA_STICKY_def insert indirect nocache
    server def.srv1 %s cookie def.srv1 maxconn 300 check
    server def.srv2 %s cookie def.srv2 maxconn 300 check
`, b["ms1.srv1"].hostPort(), b["ms1.srv2"].hostPort(), b["ms2.srv1"].hostPort(), b["ms2.srv2"].hostPort(),
		b["def.srv1"].hostPort(), b["def.srv2"].hostPort())
}

func seed004Backends(t *testing.T) map[string]*namedBackend {
	m := map[string]*namedBackend{}
	for _, n := range []string{"ms1.srv1", "ms1.srv2", "ms2.srv1", "ms2.srv2", "def.srv1", "def.srv2"} {
		m[n] = newNamedBackend(t, n, nil)
	}
	return m
}

func TestSeed004RoutingAndCookiePersistence(t *testing.T) {
	bk := seed004Backends(t)
	h := newHarness(t, loadConfig(t, seed004(bk)), "http-in", Options{})
	base := "http://" + h.addr()

	get := func(c *http.Client, path string) (string, *http.Response) {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: status %d", path, resp.StatusCode)
		}
		return string(b), resp
	}
	newClient := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar}
	}

	// Routing by path_beg (-i): each prefix reaches its backend's servers only.
	c := newClient()
	for path, prefix := range map[string]string{"/ms1/demo.html": "ms1.", "/MS1/demo.html": "ms1.", "/ms2/demo.html": "ms2.", "/m3/demo.html": "def.", "/": "def."} {
		got, _ := get(c, path)
		if !strings.HasPrefix(got, prefix) {
			t.Errorf("%s served by %q, want a %s* server", path, got, prefix)
		}
	}

	// Stickiness: the same client stays on its server; the cookie is set once
	// (indirect) and never reaches the servers; responses carrying it are private.
	c = newClient()
	first, resp := get(c, "/ms1/demo.html")
	sc := resp.Header.Values("Set-Cookie")
	if len(sc) != 1 || !strings.HasPrefix(sc[0], "HA_STICKY_ms1="+first+"; path=/") {
		t.Fatalf("first response Set-Cookie = %q, want HA_STICKY_ms1=%s; path=/", sc, first)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "private" {
		t.Errorf("nocache: Cache-Control = %q, want private", cc)
	}
	for i := 0; i < 30; i++ {
		got, resp := get(c, "/ms1/demo.html")
		if got != first {
			t.Fatalf("request %d went to %s, want sticky %s", i, got, first)
		}
		if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
			t.Fatalf("request %d: cookie re-inserted with indirect: %q", i, v)
		}
	}
	for _, n := range []string{"ms1.srv1", "ms1.srv2"} {
		for _, r := range bk[n].requests() {
			if _, err := r.Cookie("HA_STICKY_ms1"); err == nil {
				t.Fatalf("%s saw the persistence cookie (indirect must strip it)", n)
			}
		}
	}
	// option forwardfor from defaults applies to both halves: added once.
	for _, r := range bk[first].requests() {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) != 1 || xff[0] != "127.0.0.1" {
			t.Fatalf("X-Forwarded-For = %q, want one 127.0.0.1", xff)
		}
	}
	// Another cookie next to the persistence one survives the stripping.
	u, _ := url.Parse(base)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "app", Value: "42"}})
	get(c, "/ms1/demo.html")
	rs := bk[first].requests()
	if ck := rs[len(rs)-1].Header.Get("Cookie"); ck != "app=42" {
		t.Fatalf("server saw Cookie %q, want only app=42", ck)
	}

	// Deleting the cookie rebalances: round robin sends fresh clients to both
	// servers, each time with a new Set-Cookie.
	seen := map[string]bool{}
	for i := 0; i < 6; i++ {
		c := newClient()
		got, resp := get(c, "/ms1/demo.html")
		seen[got] = true
		if v := resp.Header.Values("Set-Cookie"); len(v) != 1 || !strings.Contains(v[0], "HA_STICKY_ms1="+got) {
			t.Fatalf("fresh client: Set-Cookie %q for server %s", v, got)
		}
	}
	if !seen["ms1.srv1"] || !seen["ms1.srv2"] {
		t.Fatalf("without cookie, requests went to %v, want both ms1 servers", seen)
	}

	// A cookie naming a server that is down is ignored: rebalanced, flagged D.
	h.server("ms1", first).up.Store(false)
	got, resp := get(c, "/ms1/demo.html")
	if got == first {
		t.Fatalf("request with a cookie for a down server went to it")
	}
	if v := resp.Header.Values("Set-Cookie"); len(v) != 1 || !strings.Contains(v[0], "HA_STICKY_ms1="+got) {
		t.Fatalf("after failover Set-Cookie = %q, want the new server %s", v, got)
	}
	waitFor(t, "the failover log entry with cookie flags DI", func() bool {
		for _, l := range h.env.Logs() {
			if l.Server == got && l.Cookie == [2]byte{'D', 'I'} {
				return true
			}
		}
		return false
	})
	h.server("ms1", first).up.Store(true)

	// Log lines in httplog format with persistence flags.
	var lines []string
	h.env.mu.Lock()
	lines = append(lines, h.env.lines...)
	h.env.mu.Unlock()
	var inserted, valid bool
	for _, l := range lines {
		if strings.Contains(l, " http-in ms1/ms1.srv") && strings.Contains(l, " 200 ") {
			inserted = inserted || strings.Contains(l, " --NI ")
			valid = valid || strings.Contains(l, " --VN ")
		}
	}
	if !inserted || !valid {
		t.Errorf("log lines lack --NI / --VN cookie flags:\n%s", strings.Join(lines[:min(len(lines), 8)], "\n"))
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, ` HTTP/1.1"`) || !strings.Contains(l, `"GET /`) {
			t.Errorf("log line %q does not end with the quoted request line", l)
		}
	}
}
