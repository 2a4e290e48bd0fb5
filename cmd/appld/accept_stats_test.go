package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"appl/internal/testbed"
)

// fixture reads testdata/NAME and replaces its @KEY@ placeholders (each rewrite is
// commented in the file itself); a placeholder left unreplaced fails the test.
func fixture(t *testing.T, name string, vars map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for k, v := range vars {
		s = strings.ReplaceAll(s, "@"+k+"@", v)
	}
	if m := regexp.MustCompile(`@[A-Z0-9_]+@`).FindString(s); m != "" {
		t.Fatalf("%s: placeholder %s not replaced", name, m)
	}
	return s
}

// fromSource is a client whose connections leave from src (any 127/8 address), one
// connection per request.
func fromSource(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	return &http.Client{
		Timeout:       5 * time.Second,
		Transport:     &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// statsReq sends one request to the stats page; user "" sends no credentials.
func statsReq(t *testing.T, method, u, user, pass, body string, hdr map[string]string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := fromSource("127.0.0.1").Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// csvRow finds the ;csv (or `show stat`) row of proxy/server and returns its columns by
// header name.
func csvRow(t *testing.T, text, proxy, server string) map[string]string {
	t.Helper()
	text = strings.TrimPrefix(text, "# ")
	recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("stats csv (%v):\n%s", err, text)
	}
	for _, r := range recs[1:] {
		if len(r) > 1 && r[0] == proxy && r[1] == server {
			m := map[string]string{}
			for i, name := range recs[0] {
				if i < len(r) {
					m[name] = r[i]
				}
			}
			return m
		}
	}
	t.Fatalf("no row %s/%s in:\n%s", proxy, server, text)
	return nil
}

// spread sends one request from each of n source addresses (balance source spreads
// them) and returns how many each server answered.
func spread(t *testing.T, vip string, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i := 0; i < n; i++ {
		src := fmt.Sprintf("127.0.0.%d", 2+i)
		code, body, _, err := httpGet(fromSource(src), "http://"+vip+"/")
		if err != nil || code != 200 {
			t.Fatalf("GET from %s: %d %v", src, code, err)
		}
		got[strings.Fields(body)[0]]++
	}
	return got
}

// Seed 002's stats listen through appld: authentication with its userlist, admin
// actions from the page's form as a browser posts it (only for the admin group), the
// effect on the proxied listen measured at the backends, ;csv, `show stat` and the
// Prometheus exporter.
func TestSeed002StatsAdminThroughAppld(t *testing.T) {
	s1, s2 := startNamedWeb(t, "http_srv-1"), startNamedWeb(t, "http_srv-2")
	vip, statsAddr, metrics := freePort(t), freePort(t), freePort(t)
	dir := t.TempDir()
	sockPath := filepath.Join(dir, "appl.sock")
	path := filepath.Join(dir, "appl.cfg")
	writeCfg(t, path, fixture(t, "seed002-stats.cfg", map[string]string{
		"SOCK": sockPath, "VIP": vip, "SRV1": s1.addr(), "SRV2": s2.addr(), "STATS": statsAddr, "METRICS": metrics,
	}))
	startLocalAppld(t, path)
	page := "http://" + statsAddr + "/haproxy_stats"
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "appld serving the listen", func() bool {
		code, _, _, err := httpGet(fromSource("127.0.0.1"), "http://"+vip+"/")
		return err == nil && code == 200
	})
	before := spread(t, vip, 40)
	if before["http_srv-1"] < 5 || before["http_srv-2"] < 5 {
		t.Fatalf("40 sources before maint: %v, want both servers", before)
	}

	// Authentication: none, a wrong password, an unknown user: 401 with the realm.
	for _, c := range []struct{ user, pass string }{{"", ""}, {"admin", "wrong"}, {"lbuser", "AdminPasswd"}, {"nobody", "lbuser"}} {
		code, _, h := statsReq(t, "GET", page, c.user, c.pass, "", nil)
		if code != 401 || h.Get("WWW-Authenticate") != `Basic realm="HAProxy Statistics"` {
			t.Fatalf("user %q pass %q: %d %q, want 401 with the realm", c.user, c.pass, code, h.Get("WWW-Authenticate"))
		}
	}
	// The read-only user sees the page without the admin form; the admin sees the form.
	code, html, _ := statsReq(t, "GET", page, "lbuser", "lbuser", "", nil)
	if code != 200 || !strings.Contains(html, "http_srv-1") || strings.Contains(html, "<form") {
		t.Fatalf("lbuser page: %d, form shown %v", code, strings.Contains(html, "<form"))
	}
	if host, _ := os.Hostname(); !strings.Contains(html, `<meta http-equiv="refresh" content="10">`) || !strings.Contains(html, host) {
		t.Fatalf("lbuser page: no `stats refresh 10s` or no `stats show-node` (%s)", host)
	}
	code, html, _ = statsReq(t, "GET", page, "admin", "AdminPasswd", "", nil)
	m := regexp.MustCompile(`<form method="post" action="([^"]+)">(?s:.*?)name="b" value="(#[0-9]+)"`).FindStringSubmatch(html)
	if code != 200 || m == nil || !strings.Contains(html, `value="http_srv-1"`) {
		t.Fatalf("admin page: %d, no admin form for the servers", code)
	}
	action, backend := m[1], m[2]

	// The form as a browser posts it: urlencoded body, Origin of the page.
	browser := map[string]string{
		"Content-Type": "application/x-www-form-urlencoded",
		"Origin":       "http://" + statsAddr,
		"Referer":      page,
	}
	form := url.Values{"s": {"http_srv-1"}, "action": {"maint"}, "b": {backend}}.Encode()
	target := "http://" + statsAddr + action

	// Read-only group: 403, and http_srv-1 keeps its share.
	if code, _, _ := statsReq(t, "POST", target, "lbuser", "lbuser", form, browser); code != 403 {
		t.Fatalf("lbuser POST maint: %d, want 403", code)
	}
	if got := spread(t, vip, 40); got["http_srv-1"] != before["http_srv-1"] {
		t.Fatalf("after lbuser's refused POST: %v, before %v", got, before)
	}
	// A cross-site page cannot make the admin's browser post it either.
	evil := map[string]string{"Content-Type": browser["Content-Type"], "Origin": "http://evil.example"}
	if code, _, _ := statsReq(t, "POST", target, "admin", "AdminPasswd", form, evil); code != 403 {
		t.Fatalf("cross-site POST: %d, want 403", code)
	}

	// Admin group: 303 to ;st=DONE, and http_srv-1 stops receiving requests.
	code, _, h := statsReq(t, "POST", target, "admin", "AdminPasswd", form, browser)
	if code != 303 || !strings.HasSuffix(h.Get("Location"), ";st=DONE") {
		t.Fatalf("admin POST maint: %d Location %q, want 303 ;st=DONE", code, h.Get("Location"))
	}
	n1 := s1.reqs.Load()
	if got := spread(t, vip, 40); got["http_srv-2"] != 40 {
		t.Fatalf("http_srv-1 in maint but 40 sources went %v", got)
	}
	if d := s1.reqs.Load() - n1; d != 0 {
		t.Fatalf("http_srv-1 in maint received %d requests", d)
	}
	row := csvRow(t, statsBody(t, page+";csv"), "haproxy_10.2.2.5_80", "http_srv-1")
	if row["status"] != "MAINT" {
		t.Fatalf(";csv status of http_srv-1: %q, want MAINT", row["status"])
	}
	if r := csvRow(t, statsBody(t, page+";csv"), "haproxy_10.2.2.5_80", "http_srv-2"); !strings.HasPrefix(r["status"], "UP") {
		// "UP 1/3" until the checks bring health to the top, as HAProxy shows it.
		t.Fatalf(";csv status of http_srv-2: %q, want UP", r["status"])
	}
	if r := csvRow(t, sock(t, sockPath, "show stat"), "haproxy_10.2.2.5_80", "http_srv-1"); r["status"] != "MAINT" {
		t.Fatalf("show stat status of http_srv-1: %q, want MAINT", r["status"])
	}

	// Ready again from the page: http_srv-1 gets its share back.
	ready := url.Values{"s": {"http_srv-1"}, "action": {"ready"}, "b": {backend}}.Encode()
	if code, _, _ := statsReq(t, "POST", target, "admin", "AdminPasswd", ready, browser); code != 303 {
		t.Fatalf("admin POST ready: %d", code)
	}
	if got := spread(t, vip, 40); got["http_srv-1"] != before["http_srv-1"] {
		t.Fatalf("after ready: %v, before maint %v", got, before)
	}

	// Prometheus exporter (the added listen): server states and the listen's counters.
	code, body, _, err := httpGet(fromSource("127.0.0.1"), "http://"+metrics+"/metrics")
	if err != nil || code != 200 {
		t.Fatalf("/metrics: %d %v", code, err)
	}
	for _, want := range []string{
		`haproxy_server_status{proxy="haproxy_10.2.2.5_80",server="http_srv-1",state="UP"} 1`,
		`haproxy_backend_status{proxy="haproxy_10.2.2.5_80",state="UP"} 1`,
		`# TYPE haproxy_frontend_sessions_total counter`,
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("/metrics lacks %q:\n%s", want, body)
		}
	}
	if !regexp.MustCompile(`haproxy_frontend_sessions_total\{proxy="haproxy_10.2.2.5_80"\} ([1-9][0-9]+)`).MatchString(body) {
		t.Fatalf("/metrics: the listen's session count is not at least 10:\n%s", grepLines(body, "sessions_total"))
	}
	if code, _, _, _ := httpGet(fromSource("127.0.0.1"), "http://"+metrics+"/other"); code == 200 {
		t.Fatalf("the exporter answered outside its path")
	}
}

func statsBody(t *testing.T, u string) string {
	t.Helper()
	code, body, _ := statsReq(t, "GET", u, "lbuser", "lbuser", "", nil)
	if code != 200 {
		t.Fatalf("GET %s: %d", u, code)
	}
	return body
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
