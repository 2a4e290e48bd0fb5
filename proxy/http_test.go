package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// webBackend is a net/http server that answers its name and the path, and counts the
// connections it accepted.
type webBackend struct {
	name  string
	srv   *httptest.Server
	conns atomic.Int64
	reqs  atomic.Int64
	held  atomic.Int64
	mu    sync.Mutex
	hdrs  []http.Header
}

func startWeb(t *testing.T, name string) *webBackend {
	t.Helper()
	w := &webBackend{name: name}
	w.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.reqs.Add(1)
		w.mu.Lock()
		w.hdrs = append(w.hdrs, r.Header.Clone())
		w.mu.Unlock()
		if r.URL.Path == "/hold" {
			w.held.Add(1)
			<-r.Context().Done()
			return
		}
		if r.URL.Path == "/big" {
			rw.Header().Set("Content-Length", "65536")
			rw.Write(bytes.Repeat([]byte{'x'}, 65536))
			return
		}
		fmt.Fprintf(rw, "%s %s", name, r.URL.Path)
	}))
	w.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			w.conns.Add(1)
		}
	}
	w.srv.Start()
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webBackend) addr() string { return w.srv.Listener.Addr().String() }

func (w *webBackend) lastHeader(k string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.hdrs) == 0 {
		return ""
	}
	return w.hdrs[len(w.hdrs)-1].Get(k)
}

// udpLog listens for syslog lines.
func udpLog(t testing.TB) (string, <-chan string) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	ch := make(chan string, 1024)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			select {
			case ch <- string(buf[:n]):
			default:
			}
		}
	}()
	return pc.LocalAddr().String(), ch
}

func client() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
}

func get(t *testing.T, c *http.Client, url string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func feStatus(p *Proxy, name string) FrontendStatus {
	for _, f := range p.Status().Frontends {
		if f.Name == name {
			return f
		}
	}
	return FrontendStatus{}
}

func beStatus(p *Proxy, name string) BackendStatus {
	for _, b := range p.Status().Backends {
		if b.Name == name {
			return b
		}
	}
	return BackendStatus{}
}

// An http frontend is served by the engine: path routing, keep-alive on both sides (one
// server connection for many requests), forwardfor with its arguments from the
// configuration, the httplog line with connection counts, and the http counters.
func TestHTTPModeRoutingKeepAliveLogAndCounters(t *testing.T) {
	api, web := startWeb(t, "api"), startWeb(t, "web")
	front := freeAddr(t)
	logAddr, lines := udpLog(t)
	p, _ := startProxy(t, loadCfg(t, `
defaults
    mode http
    option httplog
    option forwardfor header X-Client
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind `+front+`
    log `+logAddr+` local0
    acl is_api path_beg /api/
    use_backend api if is_api
    default_backend web
backend api
    server a1 `+api.addr()+`
backend web
    server w1 `+web.addr()+`
`))
	c := client()
	for i := 0; i < 20; i++ {
		code, body, _ := get(t, c, "http://"+front+"/api/x")
		if code != 200 || body != "api /api/x" {
			t.Fatalf("api request %d: %d %q", i, code, body)
		}
	}
	code, body, _ := get(t, c, "http://"+front+"/index.html")
	if code != 200 || body != "web /index.html" {
		t.Fatalf("default backend: %d %q", code, body)
	}
	if n := api.conns.Load(); n != 1 {
		t.Fatalf("api saw %d server connections for 20 keep-alive requests, want 1", n)
	}
	if got := api.lastHeader("X-Client"); got != "127.0.0.1" {
		t.Fatalf("X-Client = %q, want 127.0.0.1 (option forwardfor header X-Client)", got)
	}
	if got := api.lastHeader("X-Forwarded-For"); got != "" {
		t.Fatalf("X-Forwarded-For = %q, want none (header renamed)", got)
	}
	eventually(t, 5*time.Second, "21 requests counted", func() bool { return feStatus(p, "fe").HTTP.Requests == 21 })
	fs := feStatus(p, "fe")
	if fs.Mode != "http" || fs.HTTP.Requests != 21 || fs.HTTP.Hrsp[1] != 21 {
		t.Fatalf("frontend counters: mode %s, %+v", fs.Mode, fs.HTTP)
	}
	bs := beStatus(p, "api")
	if bs.HTTP.Requests != 20 || bs.HTTP.Hrsp[1] != 20 || bs.Total != 20 || bs.BytesOut == 0 {
		t.Fatalf("backend api counters: total %d, bytes out %d, %+v", bs.Total, bs.BytesOut, bs.HTTP)
	}
	if s := serverStatus(p, "api", "a1"); s.HTTP.Requests != 20 || s.Total != 20 || s.Cur != 0 {
		t.Fatalf("server a1: cur %d total %d %+v", s.Cur, s.Total, s.HTTP)
	}
	// One httplog line per request, with the backend, server, status and request line.
	deadline := time.After(5 * time.Second)
	seen := 0
	for seen < 21 {
		select {
		case l := <-lines:
			if !strings.Contains(l, " fe ") || !strings.Contains(l, " 200 ") || !strings.Contains(l, `"GET /`) {
				t.Fatalf("unexpected log line %q", l)
			}
			if strings.Contains(l, "/api/x") && !strings.Contains(l, "fe api/a1 ") {
				t.Fatalf("api request logged as %q", l)
			}
			if strings.Contains(l, " 1/1/0/0/0 ") || strings.Contains(l, " 0/0/0/0/0 ") {
				// %ac/%fc/%bc/%sc/%rc: the client connection is open (ac, fc = 1).
			} else if !strings.Contains(l, " 1/1/") {
				t.Fatalf("connection counts missing in %q", l)
			}
			seen++
		case <-deadline:
			t.Fatalf("got %d log lines, want 21", seen)
		}
	}
}

// 502 when the server answers garbage or closes, 503 when no server can be reached.
func TestHTTPModeErrors(t *testing.T) {
	bad := startBackend(t, "garbage", "")
	bad.handle(func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		c.Read(make([]byte, 4096))
		c.Write([]byte("NOT HTTP AT ALL\r\n\r\n"))
		return true
	})
	closer := startBackend(t, "closer", "")
	closer.handle(func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		c.Read(make([]byte, 4096))
		return true
	})
	front := freeAddr(t)
	p, _ := startProxy(t, loadCfg(t, `
defaults
    mode http
    retries 1
    timeout connect 500ms
    timeout client 5s
    timeout server 5s
frontend fe
    bind `+front+`
    use_backend bad if { path_beg /bad }
    use_backend closer if { path_beg /close }
    use_backend down if { path_beg /down }
    default_backend bad
backend bad
    server b `+bad.addr+`
backend closer
    server c `+closer.addr+`
backend down
    server d `+freeAddr(t)+`
`))
	c := client()
	for _, tc := range []struct {
		path string
		code int
	}{{"/bad", 502}, {"/close", 502}, {"/down", 503}} {
		if code, _, _ := get(t, c, "http://"+front+tc.path); code != tc.code {
			t.Fatalf("%s: status %d, want %d", tc.path, code, tc.code)
		}
	}
	// Requests are counted when logged, just after the response went out.
	eventually(t, 5*time.Second, "counters of the three requests", func() bool {
		return feStatus(p, "fe").HTTP.Hrsp[4] == 3
	})
	if bs := beStatus(p, "down"); bs.ConnErrors != 1 || bs.HTTP.Hrsp[4] != 1 {
		t.Fatalf("backend down: conn errors %d, %+v", bs.ConnErrors, bs.HTTP)
	}
	if bs := beStatus(p, "bad"); bs.HTTP.ErrResp != 1 || bs.HTTP.Hrsp[4] != 1 {
		t.Fatalf("backend bad: %+v", bs.HTTP)
	}
}

// The L7 hashing algorithms: the same key always reaches the same server, different
// keys spread, and a request without the key is balanced round robin.
func TestHTTPModeHashBalancing(t *testing.T) {
	ws := []*webBackend{startWeb(t, "s1"), startWeb(t, "s2"), startWeb(t, "s3")}
	front := freeAddr(t)
	servers := ""
	for i, w := range ws {
		servers += fmt.Sprintf("    server s%d %s\n", i+1, w.addr())
	}
	startProxy(t, loadCfg(t, `
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind `+front+`
    use_backend byuri if { path_beg /u/ }
    use_backend byparam if { path_beg /p }
    default_backend byhdr
backend byuri
    balance uri
`+servers+`backend byparam
    balance url_param user
`+servers+`backend byhdr
    balance hdr(X-Tenant)
`+servers))
	c := client()
	who := func(path string, hdr ...string) string {
		_, body, _ := get(t, c, "http://"+front+path, hdr...)
		return strings.Fields(body)[0]
	}
	for _, tc := range []struct {
		name string
		req  func(k int) (string, []string)
	}{
		{"uri", func(k int) (string, []string) { return fmt.Sprintf("/u/item%d", k), nil }},
		{"url_param", func(k int) (string, []string) { return fmt.Sprintf("/p?user=u%d", k), nil }},
		{"hdr", func(k int) (string, []string) { return "/h", []string{"X-Tenant", fmt.Sprintf("t%d", k)} }},
	} {
		spread := map[string]bool{}
		for k := 0; k < 30; k++ {
			path, h := tc.req(k)
			first := who(path, h...)
			spread[first] = true
			for r := 0; r < 3; r++ {
				if got := who(path, h...); got != first {
					t.Fatalf("%s key %d moved from %s to %s", tc.name, k, first, got)
				}
			}
		}
		if len(spread) != 3 {
			t.Fatalf("%s: 30 keys reached %d servers, want 3", tc.name, len(spread))
		}
	}
	// No key: round robin over the three.
	got := map[string]int{}
	for i := 0; i < 9; i++ {
		got[who("/p")]++
	}
	if got["s1"] != 3 || got["s2"] != 3 || got["s3"] != 3 {
		t.Fatalf("requests without url_param spread %v, want round robin 3/3/3", got)
	}
}

// A persistence cookie keeps its server while it is draining, and rebalances once the
// server is in maintenance.
func TestHTTPModeCookiePersistenceAndDrain(t *testing.T) {
	a, b := startWeb(t, "a"), startWeb(t, "b")
	front := freeAddr(t)
	p, _ := startProxy(t, loadCfg(t, `
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen app
    bind `+front+`
    cookie SRV insert indirect nocache
    server a `+a.addr()+` cookie a
    server b `+b.addr()+` cookie b
`))
	c := client()
	_, body, h := get(t, c, "http://"+front+"/")
	name := strings.Fields(body)[0]
	ck := h.Get("Set-Cookie")
	if !strings.HasPrefix(ck, "SRV="+name) {
		t.Fatalf("Set-Cookie %q for server %s", ck, name)
	}
	cookie := "SRV=" + name
	for i := 0; i < 6; i++ {
		if _, body, _ := get(t, c, "http://"+front+"/", "Cookie", cookie); strings.Fields(body)[0] != name {
			t.Fatalf("request %d with cookie %s went to %q", i, cookie, body)
		}
	}
	if err := p.SetServerState("app", name, AdminDrain); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if _, body, _ := get(t, c, "http://"+front+"/", "Cookie", cookie); strings.Fields(body)[0] != name {
			t.Fatalf("draining server lost its persistent client: %q", body)
		}
		// New clients avoid the draining server.
		if _, body, _ := get(t, client(), "http://"+front+"/"); strings.Fields(body)[0] == name {
			t.Fatalf("new client sent to draining server %s", name)
		}
	}
	if err := p.SetServerState("app", name, AdminMaint); err != nil {
		t.Fatal(err)
	}
	if _, body, _ := get(t, c, "http://"+front+"/", "Cookie", cookie); strings.Fields(body)[0] == name {
		t.Fatalf("server in maintenance still got its cookie's request")
	}
}

// maxconn 1 with persistence: the second client of the same server waits in the queue
// and is served when the first one's request completes.
func TestHTTPModePersistentQueue(t *testing.T) {
	release := make(chan struct{})
	var started atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if started.Add(1) == 1 {
			<-release
		}
		io.WriteString(rw, "slow")
	}))
	defer slow.Close()
	other := startWeb(t, "other")
	front := freeAddr(t)
	startProxy(t, loadCfg(t, `
defaults
    mode http
    timeout connect 2s
    timeout queue 5s
    timeout client 5s
    timeout server 5s
listen app
    bind `+front+`
    cookie SRV insert indirect
    server slow `+slow.Listener.Addr().String()+` cookie s maxconn 1
    server other `+other.addr()+` cookie o
`))
	done := make(chan string, 2)
	for i := 0; i < 2; i++ {
		go func() {
			req, _ := http.NewRequest("GET", "http://"+front+"/", nil)
			req.Header.Set("Cookie", "SRV=s")
			resp, err := client().Do(req)
			if err != nil {
				done <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			done <- string(b)
		}()
		if i == 0 {
			eventually(t, 5*time.Second, "first request at the server", func() bool { return started.Load() == 1 })
		}
	}
	select {
	case r := <-done:
		t.Fatalf("a request completed while the server's only slot was held: %q", r)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	for i := 0; i < 2; i++ {
		if r := <-done; r != "slow" {
			t.Fatalf("persistent request got %q, want slow", r)
		}
	}
}

// Hard stop cancels http sessions; a reload that removes a server closes its pool while
// the kept server keeps serving on the same listener.
func TestHTTPModeReloadAndHardStop(t *testing.T) {
	a, b := startWeb(t, "a"), startWeb(t, "b")
	front := freeAddr(t)
	text := func(servers string) string {
		return `
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
listen app
    bind ` + front + `
` + servers
	}
	p, _ := startProxy(t, loadCfg(t, text("    server a "+a.addr()+"\n    server b "+b.addr()+"\n")))
	c := client()
	for i := 0; i < 4; i++ {
		get(t, c, "http://"+front+"/")
	}
	// A second client: its first request may not take a pooled connection, so the
	// first client's server connections went back to their pools when it moved on.
	pb := p.servers["app/b"].httpPool()
	if pb == nil {
		t.Fatal("http server has no pool")
	}
	if err := p.Reload(loadCfg(t, text("    server a "+a.addr()+"\n"))); err != nil {
		t.Fatal(err)
	}
	if p.servers["app/b"] != nil {
		t.Fatal("removed server still known")
	}
	if pb.Idle() != 0 {
		t.Fatalf("removed server's pool holds %d idle connections", pb.Idle())
	}
	for i := 0; i < 4; i++ {
		if _, body, _ := get(t, client(), "http://"+front+"/"); body != "a /" {
			t.Fatalf("after reload: %q", body)
		}
	}
	// A keep-alive client whose request the server holds, then a hard stop: Shutdown
	// returns at its deadline and the client sees its connection closed.
	conn, err := net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"))
	eventually(t, 5*time.Second, "request held by the server", func() bool { return a.held.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown with a request in progress returned nil before its deadline")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("hard stop took %v", d)
	}
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.ReadAll(conn); err != nil && isTimeout(err) {
		t.Fatal("client connection still open after hard stop")
	}
	if n := p.Status().ActConn; n != 0 {
		t.Fatalf("%d connections left after hard stop", n)
	}
}

// A rule the engine refuses is an error positioned at its line: the configuration is
// refused (New here; at Reload the running one is kept, see TestHTTPModeReloadRefused).
func TestHTTPModeRefusesBadRule(t *testing.T) {
	cfg := loadCfg(t, `
frontend fe
    mode http
    bind `+freeAddr(t)+`
    http-request set-header
    default_backend be
backend be
    mode http
    server s 127.0.0.1:1
`)
	if _, err := New(cfg, nil, Options{}); err == nil || !strings.Contains(err.Error(), "t.cfg:5") {
		t.Fatalf("bad http-request rule: error %v", err)
	}
}

// Soft stop: an idle keep-alive connection is closed at once (Shutdown does not wait for
// timeout http-keep-alive), and a request in progress completes with Connection: close.
func TestHTTPModeDrainClosesIdleKeepAlive(t *testing.T) {
	release := make(chan struct{})
	var held atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			held.Add(1)
			<-release
		}
		io.WriteString(rw, "done")
	}))
	defer slow.Close()
	front := freeAddr(t)
	p, _ := startProxy(t, loadCfg(t, `
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
listen app
    bind `+front+`
    server s `+slow.Listener.Addr().String()+`
`))
	idle := client()
	if code, body, _ := get(t, idle, "http://"+front+"/"); code != 200 || body != "done" {
		t.Fatalf("%d %q", code, body)
	}
	busy := make(chan *http.Response, 1)
	go func() {
		resp, err := client().Get("http://" + front + "/slow")
		if err != nil {
			t.Error(err)
			busy <- nil
			return
		}
		busy <- resp
	}()
	eventually(t, 5*time.Second, "slow request at the server", func() bool { return held.Load() == 1 })
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() { done <- p.Shutdown(ctx) }()
	// The idle client connection goes away; the busy one stays.
	eventually(t, 5*time.Second, "idle keep-alive connection closed", func() bool { return p.Status().ActConn == 1 })
	close(release)
	resp := <-busy
	if resp == nil {
		t.Fatal("request in progress failed during drain")
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "done" || !resp.Close {
		t.Fatalf("response during drain: %q, Connection: close %v", b, resp.Close)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown still waiting after the last request ended")
	}
}

// Without option httplog an http connection is logged once, at its end, in tcplog
// format with the backend and server of its last request; dontlognull skips a
// connection that sent nothing.
func TestHTTPModeTCPLogLine(t *testing.T) {
	w := startWeb(t, "w")
	front := freeAddr(t)
	logAddr, lines := udpLog(t)
	startProxy(t, loadCfg(t, `
defaults
    mode http
    option dontlognull
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen app
    bind `+front+`
    log `+logAddr+` local0
    server s1 `+w.addr()+`
`))
	if c, err := net.Dial("tcp", front); err == nil {
		c.Close() // nothing sent: not logged
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if code, _, _ := get(t, c, "http://"+front+"/"); code != 200 {
		t.Fatal(code)
	}
	select {
	case l := <-lines:
		if !strings.Contains(l, " app app/s1 ") {
			t.Fatalf("tcplog line %q, want backend/server app/s1", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no log line")
	}
	select {
	case l := <-lines:
		t.Fatalf("unexpected second line %q", l)
	case <-time.After(200 * time.Millisecond):
	}
}

// A reload whose http rules do not compile is refused with the line, and the running
// configuration keeps serving.
func TestHTTPModeReloadRefused(t *testing.T) {
	w := startWeb(t, "w")
	front := freeAddr(t)
	text := func(rule string) string {
		return `
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen app
    bind ` + front + `
    ` + rule + `
    server s1 ` + w.addr() + `
`
	}
	p, _ := startProxy(t, loadCfg(t, text("http-request set-header X-A b")))
	c := client()
	if code, _, _ := get(t, c, "http://"+front+"/"); code != 200 || w.lastHeader("X-A") != "b" {
		t.Fatalf("first configuration: %d, X-A %q", code, w.lastHeader("X-A"))
	}
	err := p.Reload(loadCfg(t, text("http-request frobnicate")))
	if err == nil || !strings.Contains(err.Error(), "t.cfg:9: http-request") {
		t.Fatalf("reload with a bad rule: %v", err)
	}
	if code, _, _ := get(t, client(), "http://"+front+"/"); code != 200 || w.lastHeader("X-A") != "b" {
		t.Fatalf("after the refused reload: %d, X-A %q", code, w.lastHeader("X-A"))
	}
}
