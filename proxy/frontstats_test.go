package proxy

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"appl/proxy/config"
)

// countingServer is an HTTP backend that names itself and counts the requests it got
// per path.
type countingServer struct {
	*httptest.Server
	hits  atomic.Int64
	stats atomic.Int64 // requests for the stats or metrics paths: must stay 0
}

func newCountingServer(t *testing.T, name string) *countingServer {
	c := &countingServer{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		if strings.HasPrefix(r.URL.Path, "/stats") || r.URL.Path == "/metrics" {
			c.stats.Add(1)
		}
		io.WriteString(w, name+" "+r.URL.Path)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *countingServer) addr() string { return strings.TrimPrefix(c.URL, "http://") }

func fsLoadCfg(t *testing.T, src string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "appl.cfg")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range cfg.Warnings {
		if strings.Contains(w.Error(), "not served") {
			t.Errorf("warning: %v", w)
		}
	}
	return cfg
}

type fsReply struct {
	code int
	body string
	hdr  http.Header
}

func fsGet(t *testing.T, addr, path string, hdr ...string) fsReply {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fsReply{resp.StatusCode, string(b), resp.Header}
}

func fsBasic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// A plain frontend's `stats uri` with `stats auth` is served by the frontend itself,
// before use_backend (a rule that would send the URI elsewhere never sees it), next to
// normal traffic; a frontend with only stats lines and no backend at all serves its page
// too (the common `frontend stats` form of the corpus).
func TestFrontendStatsPage(t *testing.T) {
	app, trap := newCountingServer(t, "app"), newCountingServer(t, "trap")
	web, statsOnly := freeAddr(t), freeAddr(t)
	p, _ := startProxy(t, fsLoadCfg(t, `
defaults
 mode http
 timeout connect 2s
 timeout client 5s
 timeout server 5s
frontend web
 bind `+web+`
 stats enable
 stats uri /stats
 stats realm Front\ Stats
 stats auth admin:s3cret
 stats refresh 7s
 use_backend trap if { path_beg /stats }
 default_backend app
frontend stats
 bind `+statsOnly+`
 stats enable
 stats uri /
 stats refresh 5s
backend app
 server a1 `+app.addr()+`
backend trap
 server t1 `+trap.addr()+`
`))
	_ = p
	// Authentication: asked, a wrong password refused, the right one shows the page.
	r := fsGet(t, web, "/stats")
	if r.code != 401 || r.hdr.Get("WWW-Authenticate") != `Basic realm="Front Stats"` {
		t.Fatalf("no credentials: %d %q", r.code, r.hdr.Get("WWW-Authenticate"))
	}
	if r := fsGet(t, web, "/stats", "Authorization", fsBasic("admin", "wrong")); r.code != 401 {
		t.Fatalf("wrong password: %d", r.code)
	}
	if r := fsGet(t, web, "/stats", "Authorization", fsBasic("nobody", "s3cret")); r.code != 401 {
		t.Fatalf("unknown user: %d", r.code)
	}
	r = fsGet(t, web, "/stats", "Authorization", fsBasic("admin", "s3cret"))
	if r.code != 200 || !strings.Contains(r.hdr.Get("Content-Type"), "text/html") || !strings.Contains(r.body, `<meta http-equiv="refresh" content="7">`) {
		t.Fatalf("page: %d %q %q", r.code, r.hdr.Get("Content-Type"), r.body)
	}
	for _, want := range []string{">web<", ">app<", ">trap<", ">a1<"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	r = fsGet(t, web, "/stats;csv", "Authorization", fsBasic("admin", "s3cret"))
	if r.code != 200 || !strings.HasPrefix(r.body, "# pxname,svname,") || !strings.Contains(r.body, "\napp,a1,") || !strings.Contains(r.body, "\nweb,FRONTEND,") {
		t.Fatalf("csv: %d %q", r.code, r.body)
	}
	// Normal traffic of the same frontend goes to its backend.
	for i := 0; i < 3; i++ {
		if r := fsGet(t, web, "/x"); r.code != 200 || r.body != "app /x" {
			t.Fatalf("traffic: %d %q", r.code, r.body)
		}
	}
	// use_backend trap if { path_beg /stats } never saw the page's requests.
	if n := trap.hits.Load(); n != 0 {
		t.Fatalf("the trap backend received %d requests: the frontend's page did not intercept", n)
	}
	if n := app.stats.Load(); n != 0 {
		t.Fatalf("app received %d stats requests", n)
	}
	// `frontend stats` with no backend: the page at /, no auth.
	r = fsGet(t, statsOnly, "/")
	if r.code != 200 || !strings.Contains(r.body, ">stats<") || !strings.Contains(r.body, `content="5"`) {
		t.Fatalf("stats-only frontend: %d %q", r.code, r.body)
	}
	if r := fsGet(t, statsOnly, "/;csv;norefresh"); r.code != 200 || !strings.Contains(r.body, "\nstats,FRONTEND,") {
		t.Fatalf("stats-only csv: %d %q", r.code, r.body)
	}
	// The frontend counted the stats requests as its own sessions.
	eventually(t, 5*time.Second, "web counted its requests", func() bool {
		for _, f := range p.Status().Frontends {
			if f.Name == "web" {
				return f.Total >= 8
			}
		}
		return false
	})
}

// `http-request use-service prometheus-exporter if { path /metrics }` in a plain
// frontend, next to use_backend rules: /metrics is answered by the exporter (valid
// Prometheus text with the proxy's own counters), the rest is routed as configured.
func TestFrontendPrometheusExporter(t *testing.T) {
	api, site := newCountingServer(t, "api"), newCountingServer(t, "site")
	fe := freeAddr(t)
	logAddr, lines := udpLog(t)
	startProxy(t, fsLoadCfg(t, `
defaults
 mode http
 option httplog
 timeout connect 2s
 timeout client 5s
 timeout server 5s
frontend main
 bind `+fe+`
 log `+logAddr+` local0
 stats uri /st
 http-request use-service prometheus-exporter if { path /metrics }
 use_backend api if { path_beg /api }
 default_backend site
backend api
 server api1 `+api.addr()+`
backend site
 server site1 `+site.addr()+`
`))
	if r := fsGet(t, fe, "/api/users"); r.code != 200 || r.body != "api /api/users" {
		t.Fatalf("/api: %d %q", r.code, r.body)
	}
	if r := fsGet(t, fe, "/index.html"); r.code != 200 || r.body != "site /index.html" {
		t.Fatalf("/: %d %q", r.code, r.body)
	}
	r := fsGet(t, fe, "/metrics")
	if r.code != 200 || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %q", r.code, r.hdr.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(r.body))
	if err != nil {
		t.Fatalf("exporter output does not parse: %v", err)
	}
	// The two requests forwarded above are in the backend counters of the scrape.
	total := func(fam, proxy string) float64 {
		f := fams[fam]
		if f == nil {
			t.Fatalf("scrape lacks %s", fam)
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "proxy" && l.GetValue() == proxy {
					switch {
					case m.Counter != nil:
						return m.Counter.GetValue()
					case m.Gauge != nil:
						return m.Gauge.GetValue()
					}
				}
			}
		}
		t.Fatalf("%s has no proxy=%q", fam, proxy)
		return 0
	}
	if n := total("haproxy_backend_sessions_total", "api"); n != 1 {
		t.Errorf("api sessions in the scrape: %v, want 1", n)
	}
	if n := total("haproxy_backend_sessions_total", "site"); n != 1 {
		t.Errorf("site sessions in the scrape: %v, want 1", n)
	}
	if total("haproxy_frontend_sessions_total", "main") < 3 {
		t.Errorf("frontend sessions in the scrape below 3")
	}
	// Neither backend saw the scrape; a path that only starts with /metrics is traffic.
	if api.stats.Load()+site.stats.Load() != 0 {
		t.Fatalf("a backend received /metrics")
	}
	if r := fsGet(t, fe, "/metrics/x"); r.code != 200 || r.body != "site /metrics/x" {
		t.Fatalf("/metrics/x: %d %q", r.code, r.body)
	}
	if r := fsGet(t, fe, "/st"); r.code != 200 {
		t.Fatalf("/st: %d", r.code)
	}
	// haproxy 2.6 logs these requests as `main main/<PROMEX> ... 200 ... LR--` and
	// `main main/<STATS> ...` (measured): the frontend is the backend, no server.
	want := map[string]string{`"GET /metrics HTTP/1.1"`: " main main/<PROMEX> ", `"GET /st HTTP/1.1"`: " main main/<STATS> "}
	deadline := time.After(5 * time.Second)
	for len(want) > 0 {
		select {
		case l := <-lines:
			for req, who := range want {
				if strings.Contains(l, req) {
					if !strings.Contains(l, who) || !strings.Contains(l, " 200 ") || !strings.Contains(l, " LR-- ") {
						t.Errorf("log line %q, want %q, 200 and LR--", l, who)
					}
					delete(want, req)
				}
			}
		case <-deadline:
			t.Fatalf("no log line for %v", want)
		}
	}
}

// A listen's page answers on its own frontend half even when a use_backend of the
// listen would route the URI elsewhere (HAProxy checks the stats URI in the frontend
// part of the proxy).
func TestListenStatsBeforeUseBackend(t *testing.T) {
	other := newCountingServer(t, "other")
	l := freeAddr(t)
	startProxy(t, fsLoadCfg(t, `
listen lb
 mode http
 bind `+l+`
 timeout connect 2s
 timeout client 5s
 timeout server 5s
 stats uri /stats
 use_backend other if { path_beg /stats }
 server self `+freeAddr(t)+`
backend other
 mode http
 timeout connect 2s
 timeout server 5s
 server o1 `+other.addr()+`
`))
	if r := fsGet(t, l, "/stats"); r.code != 200 || !strings.Contains(r.body, ">lb<") {
		t.Fatalf("listen page: %d", r.code)
	}
	if other.hits.Load() != 0 {
		t.Fatalf("use_backend took the listen's stats URI")
	}
}

// The admin form of a frontend's page, as a browser posts it (urlencoded body, Origin of
// the page): the engine reads the body for the frontend's page too, the server goes to
// maintenance, and the frontend's own traffic then finds no server.
func TestFrontendStatsAdminForm(t *testing.T) {
	app := newCountingServer(t, "app")
	fe := freeAddr(t)
	p, _ := startProxy(t, fsLoadCfg(t, `
defaults
 mode http
 timeout connect 2s
 timeout client 5s
 timeout server 5s
frontend web
 bind `+fe+`
 stats uri /adm
 stats auth a:b
 stats admin if TRUE
 default_backend app
backend app
 server a1 `+app.addr()+`
`))
	if r := fsGet(t, fe, "/"); r.code != 200 {
		t.Fatalf("before: %d", r.code)
	}
	form := url.Values{"b": {"app"}, "s": {"a1"}, "action": {"maint"}}.Encode()
	req, _ := http.NewRequest("POST", "http://"+fe+"/adm", strings.NewReader(form))
	req.SetBasicAuth("a", "b")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://"+fe)
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || !strings.HasSuffix(resp.Header.Get("Location"), "/adm;st=DONE") {
		t.Fatalf("form POST: %d %q, want 303 to /adm;st=DONE", resp.StatusCode, resp.Header.Get("Location"))
	}
	if st := serverStatus(p, "app", "a1").State; st != StateMaint {
		t.Fatalf("a1 is %v after the form, want MAINT", st)
	}
	if r := fsGet(t, fe, "/"); r.code != 503 {
		t.Fatalf("traffic with its only server in maintenance: %d, want 503", r.code)
	}
	if n := app.hits.Load(); n != 1 {
		t.Fatalf("app received %d requests, want 1 (the page's requests are not forwarded)", n)
	}
}

// A frontend's page sees every request of the frontend: the requests it does not answer
// (the traffic) still allocate nothing in the steady state.
func TestFrontendStatsTrafficAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	back := rawHTTPBackend(t, resp)
	front := freeAddr(t)
	startProxy(t, loadCfg(t, `
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind `+front+`
    stats uri /haproxy?stats
    stats auth admin:pw
    http-request use-service prometheus-exporter if { path /metrics }
    default_backend be
backend be
    server s1 `+back+` maxconn 100
`))
	rt := newRoundTripper(t, front, len(resp))
	for range 50 {
		rt.do(t)
	}
	if a := testing.AllocsPerRun(300, func() { rt.do(t) }); a > 0.5 {
		t.Fatalf("%.2f allocations per keep-alive request through a frontend with a stats page, want 0", a)
	}
}
