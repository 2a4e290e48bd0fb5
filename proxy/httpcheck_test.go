package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"appl/proxy/config"
)

// healthServer is an HTTP server whose /healthCheck.html answers a settable code and
// counts the checks per code; other paths say which server answered.
type healthServer struct {
	*httptest.Server
	name string
	code atomic.Int32
	hits [600]atomic.Int32
}

func newHealthServer(t *testing.T, name string) *healthServer {
	h := &healthServer{name: name}
	h.code.Store(200)
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthCheck.html" {
			c := h.code.Load()
			h.hits[c].Add(1)
			w.WriteHeader(int(c))
			return
		}
		io.WriteString(w, h.name)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *healthServer) addr() string { return strings.TrimPrefix(h.URL, "http://") }

// loadSeed reads a seed fixture with the replacements applied, through config.Load.
func loadSeed(t *testing.T, name string, repl ...string) *config.Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("config/testdata/seeds", name))
	if err != nil {
		t.Fatal(err)
	}
	src := strings.NewReplacer(repl...).Replace(string(b))
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func viaProxy(t *testing.T, addr string) string {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Seed 004 (L4 block): `option httpchk GET /healthCheck.html` from the defaults. A server
// answering 404 goes down after fall checks with L7STS/404 in the log line, and comes
// back after rise checks once it answers 200.
func TestHTTPCheckSeed004DownOn404UpOn200(t *testing.T) {
	s1, s2 := newHealthServer(t, "srv1"), newHealthServer(t, "srv2")
	fa := freeAddr(t)
	// Loopback addresses, and a short inter (the seed uses the 2s default) to keep the
	// test short; rise 2 and fall 3 are the seed's defaults.
	cfg := loadSeed(t, "004-l4.cfg",
		"127.0.0.1:9002", fa,
		"198.18.8.111:8082 maxconn 300 check", s1.addr()+" maxconn 300 check inter 150ms",
		"198.18.8.112:8082 maxconn 300 check", s2.addr()+" maxconn 300 check inter 150ms",
		"log 127.0.0.1", "#log 127.0.0.1")
	p, logs := startProxy(t, cfg)
	events, cancel := p.Subscribe()
	defer cancel()
	eventually(t, 5*time.Second, "def.srv2 fully healthy", func() bool {
		st := serverStatus(p, "default_servers", "def.srv2")
		return st.Health == 3 && st.HealthOf == 3 && st.CheckCode == "L7OK" && st.CheckHTTP == 200
	})
	s2.code.Store(404)
	var ev Event
	select {
	case ev = <-events:
	case <-time.After(5 * time.Second):
		t.Fatal("no DOWN event")
	}
	if n := s2.hits[404].Load(); ev.Server != "def.srv2" || ev.To != StateDown || n != 3 {
		t.Fatalf("event %+v after %d checks answered 404 (fall 3)", ev, n)
	}
	want := `Server default_servers/def.srv2 is DOWN, reason: Layer7 wrong status, code: 404, info: "Not Found", check duration: `
	if logs.FilterMessageSnippet(want).Len() != 1 {
		t.Fatalf("missing %q; have %v", want, messages(logs))
	}
	if logs.FilterMessageSnippet(`Health check for server default_servers/def.srv2 failed, reason: Layer7 wrong status, code: 404, info: "Not Found"`).Len() != 2 {
		t.Fatalf("want 2 failure lines before the DOWN one; have %v", messages(logs))
	}
	st := serverStatus(p, "default_servers", "def.srv2")
	if st.State != StateDown || st.CheckCode != "L7STS" || st.CheckHTTP != 404 || st.CheckStatus != "Layer7 wrong status: Not Found" {
		t.Fatalf("status %+v", st)
	}
	for k := 0; k < 6; k++ {
		if got := viaProxy(t, fa); got != "srv1" {
			t.Fatalf("request %d while srv2 is down answered by %q", k, got)
		}
	}
	s2.code.Store(200)
	before := s2.hits[200].Load()
	select {
	case ev = <-events:
	case <-time.After(5 * time.Second):
		t.Fatal("no UP event")
	}
	if n := s2.hits[200].Load() - before; ev.Server != "def.srv2" || ev.To != StateUp || n != 2 {
		t.Fatalf("event %+v after %d checks answered 200 (rise 2)", ev, n)
	}
	if logs.FilterMessageSnippet("Server default_servers/def.srv2 is UP, reason: Layer7 check passed, code: 200, check duration: ").Len() != 1 {
		t.Fatalf("missing UP line; have %v", messages(logs))
	}
	seen := map[string]bool{}
	for k := 0; k < 6; k++ {
		seen[viaProxy(t, fa)] = true
	}
	if !seen["srv2"] {
		t.Fatalf("srv2 gets no traffic after coming back: %v", seen)
	}
}

// captureListener records the first request each connection sends and answers 200.
func captureListener(t *testing.T) (string, chan []byte) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan []byte, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(2 * time.Second))
				var b []byte
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					b = append(b, buf[:n]...)
					// Requests here end with their head or with a 4-byte body.
					if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 && (!bytes.Contains(b, []byte("content-length: 4")) || len(b) >= i+8) || err != nil {
						break
					}
				}
				select {
				case got <- b:
				default:
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			}()
		}
	}()
	return ln.Addr().String(), got
}

// What the check sends arrives at the server byte for byte as HAProxy 2.6 sends it
// (captured from haproxy for the same lines): the old version-string header hack, and
// http-check send with headers, a body and send-state.
func TestHTTPCheckRequestsArriveExactly(t *testing.T) {
	a1, got1 := captureListener(t)
	a2, got2 := captureListener(t)
	src := fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
backend hack
    option httpchk GET /x HTTP/1.1\r\nHost:\ www.example.com\r\nUser-Agent:\ foo
    server s1 %s check inter 100ms
backend send
    option httpchk
    http-check send-state
    http-check send meth POST uri /p?q=1 ver HTTP/1.1 hdr Host h.example hdr X-A "b c" body "ping"
    http-check expect status 200
    server s2 %s check inter 100ms rise 1 fall 1
`, a1, a2)
	path := filepath.Join(t.TempDir(), "h.cfg")
	os.WriteFile(path, []byte(src), 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	startProxy(t, cfg)
	for _, c := range []chan []byte{got1, got2} {
		select {
		case <-c:
		case <-time.After(5 * time.Second):
			t.Fatal("no check arrived")
		}
	}
	// The second check of each: send-state then reports a settled state.
	var b1, b2 []byte
	select {
	case b1 = <-got1:
	case <-time.After(5 * time.Second):
		t.Fatal("no second check")
	}
	if want := "GET /x HTTP/1.1\r\nhost: www.example.com\r\nuser-agent: foo\r\nconnection: close\r\n\r\n"; string(b1) != want {
		t.Fatalf("hack: server got\n%q\nwant\n%q", b1, want)
	}
	select {
	case b2 = <-got2:
	case <-time.After(5 * time.Second):
		t.Fatal("no second check")
	}
	host, port, _ := net.SplitHostPort(a2)
	node, _ := os.Hostname()
	want := "POST /p?q=1 HTTP/1.1\r\nhost: h.example\r\nx-a: b c\r\n" +
		"x-haproxy-server-state: UP; address=" + host + "; port=" + port + "; name=send/s2; node=" + node + "; weight=1/1; scur=0/0; qcur=0\r\n" +
		"content-length: 4\r\nconnection: close\r\n\r\nping"
	if string(b2) != want {
		t.Fatalf("send: server got\n%q\nwant\n%q", b2, want)
	}
}

// http-check disable-on-404: a 404 puts the server in NOLB (up, no new traffic), a 200
// brings it back at once.
func TestHTTPCheckDisableOn404(t *testing.T) {
	s1, s2 := newHealthServer(t, "srv1"), newHealthServer(t, "srv2")
	fa := freeAddr(t)
	src := fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind %s
    option httpchk GET /healthCheck.html
    http-check disable-on-404
    server s1 %s check inter 100ms
    server s2 %s check inter 100ms
`, fa, s1.addr(), s2.addr())
	path := filepath.Join(t.TempDir(), "h.cfg")
	os.WriteFile(path, []byte(src), 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p, logs := startProxy(t, cfg)
	eventually(t, 5*time.Second, "s2 checked", func() bool { return serverStatus(p, "l", "s2").CheckCode == "L7OK" })
	s2.code.Store(404)
	eventually(t, 5*time.Second, "s2 NOLB", func() bool { return serverStatus(p, "l", "s2").State == StateNoLB })
	if logs.FilterMessageSnippet("Server l/s2 is stopping, reason: Layer7 check conditionally passed, code: 404, check duration: ").Len() != 1 {
		t.Fatalf("missing stopping line; have %v", messages(logs))
	}
	if st := serverStatus(p, "l", "s2"); st.CheckCode != "L7OKC" || st.CheckHTTP != 404 {
		t.Fatalf("%+v", st)
	}
	for k := 0; k < 6; k++ {
		if got := viaProxy(t, fa); got != "srv1" {
			t.Fatalf("request %d to a NOLB server: %q", k, got)
		}
	}
	s2.code.Store(200)
	eventually(t, 5*time.Second, "s2 UP", func() bool { return serverStatus(p, "l", "s2").State == StateUp })
	seen := map[string]bool{}
	for k := 0; k < 6; k++ {
		seen[viaProxy(t, fa)] = true
	}
	if !seen["srv2"] {
		t.Fatalf("s2 gets no traffic after 200: %v", seen)
	}
}
