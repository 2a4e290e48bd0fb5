package httpmode

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func oneBackendConfig(addr, feExtra, beExtra string) string {
	return fmt.Sprintf(`
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s

frontend fe
    bind 127.0.0.1:19002
%s
    default_backend be

backend be
%s
    server s1 %s
`, feExtra, beExtra, addr)
}

// client is a raw keep-alive client connection.
type client struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialClient(t testing.TB, addr string) *client {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *client) do(req string) (*http.Response, string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, req); err != nil {
		c.t.Fatal(err)
	}
	method, _, _ := strings.Cut(req, " ")
	return readResponse(c.t, c.br, method)
}

// closed reports whether the proxy closed the connection (EOF within 3 s).
func (c *client) closed() bool {
	c.c.SetReadDeadline(time.Now().Add(3 * time.Second))
	b, err := c.br.ReadByte()
	if err != io.EOF {
		rest, _ := c.br.ReadString(0)
		c.t.Logf("closed: read %q%q, %v", b, rest, err)
	}
	return err == io.EOF
}

func get(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: t.example\r\n\r\n"
}

func TestKeepAliveBothSides(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opt        string
		srvConns   int64
		clientKeep bool
	}{
		{"http-keep-alive", "    option http-keep-alive", 1, true},
		{"http-server-close", "    option http-server-close", 10, true},
		{"httpclose", "    option httpclose", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newNamedBackend(t, "s1", nil)
			h := newHarness(t, loadConfig(t, oneBackendConfig(b.hostPort(), tc.opt, "")), "fe", Options{})
			c := dialClient(t, h.addr())
			n := 10
			if !tc.clientKeep {
				n = 1
			}
			for i := 0; i < n; i++ {
				resp, body := c.do(get(fmt.Sprintf("/r%d", i)))
				if resp.StatusCode != 200 || body != "s1" {
					t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
				}
				if resp.Close == tc.clientKeep {
					t.Fatalf("request %d: response Close=%v, want %v", i, resp.Close, !tc.clientKeep)
				}
			}
			if !tc.clientKeep && !c.closed() {
				t.Fatal("httpclose: client connection not closed")
			}
			if got := b.conns.Load(); got != tc.srvConns {
				t.Fatalf("server connections = %d, want %d", got, tc.srvConns)
			}
			// Server side saw no hop-by-hop leftovers but the close it was asked for.
			for _, r := range b.requests() {
				if r.Close != (tc.name != "http-keep-alive") {
					t.Fatalf("server request Close=%v in mode %s", r.Close, tc.name)
				}
			}
		})
	}
}

func TestPipelinedRequests(t *testing.T) {
	b := newNamedBackend(t, "s1", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) })
	h := newHarness(t, loadConfig(t, oneBackendConfig(b.hostPort(), "", "")), "fe", Options{})
	c := dialClient(t, h.addr())
	var all string
	for i := 0; i < 5; i++ {
		all += get(fmt.Sprintf("/p%d", i))
	}
	all += "HEAD /head HTTP/1.1\r\nHost: t.example\r\n\r\n"
	io.WriteString(c.c, all)
	for i := 0; i < 5; i++ {
		resp, body := readResponse(t, c.br, "GET")
		if want := fmt.Sprintf("/p%d", i); resp.StatusCode != 200 || body != want {
			t.Fatalf("pipelined %d: %d %q, want %q", i, resp.StatusCode, body, want)
		}
	}
	resp, body := readResponse(t, c.br, "HEAD")
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != 5 {
		t.Fatalf("HEAD: %d len=%d body %q", resp.StatusCode, resp.ContentLength, body)
	}
	// The connection still works after the HEAD (no body was expected).
	if resp, body := c.do(get("/after")); resp.StatusCode != 200 || body != "/after" {
		t.Fatalf("after HEAD: %d %q", resp.StatusCode, body)
	}
}

func TestNoBodyStatuses(t *testing.T) {
	b := newNamedBackend(t, "s1", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.WriteHeader(304)
		}
	})
	h := newHarness(t, loadConfig(t, oneBackendConfig(b.hostPort(), "", "")), "fe", Options{})
	c := dialClient(t, h.addr())
	for _, p := range []string{"/204", "/304", "/204"} {
		resp, body := c.do(get(p))
		if fmt.Sprint(resp.StatusCode) != p[1:] || body != "" {
			t.Fatalf("%s: %d %q", p, resp.StatusCode, body)
		}
	}
}

func TestServerPoolReuseSafe(t *testing.T) {
	a := newNamedBackend(t, "a", nil)
	b := newNamedBackend(t, "b", nil)
	cfg := loadConfig(t, fmt.Sprintf(`
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:19003
    use_backend be_b if { path_beg /b }
    default_backend be_a
backend be_a
    server a %s
backend be_b
    server b %s
`, a.hostPort(), b.hostPort()))
	h := newHarness(t, cfg, "fe", Options{})
	// Client 1 leaves an idle connection to a in the pool.
	c1 := dialClient(t, h.addr())
	c1.do(get("/a"))
	c1.c.Close()
	waitFor(t, "the idle connection in a's pool", func() bool { return h.server("be_a", "a").pool.Idle() == 1 })
	// Client 2's first request must not take it (http-reuse safe) ...
	c2 := dialClient(t, h.addr())
	if _, body := c2.do(get("/a")); body != "a" {
		t.Fatalf("got %q", body)
	}
	if a.conns.Load() != 2 {
		t.Fatalf("first request of a connection reused a pooled connection: a has %d connections, want 2", a.conns.Load())
	}
	// ... its later ones may: /b puts its own connection to a back in a's pool,
	// the next /a takes it from there.
	c2.do(get("/b"))
	c2.do(get("/a"))
	c2.do(get("/a"))
	if a.conns.Load() != 2 || b.conns.Load() != 1 {
		t.Fatalf("connections a=%d b=%d, want 2 and 1", a.conns.Load(), b.conns.Load())
	}
	c2.c.Close()
	waitFor(t, "session end", func() bool { h.mu.Lock(); defer h.mu.Unlock(); return len(h.st) == 2 })
	h.mu.Lock()
	st := h.st[0]
	if st.Requests == 1 {
		st = h.st[1]
	}
	h.mu.Unlock()
	if st.Requests != 4 || st.ServerConnReused != 1 || st.ServerConns != 2 {
		t.Fatalf("session stats %+v, want 4 requests, 2 dials, 1 pool reuse", st)
	}
}

func TestForwardFor(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
		args string
		hdr  string
		want string
	}{
		{"default", Options{}, "", "X-Forwarded-For", "127.0.0.1"},
		{"header", Options{ForwardFor: map[string]ForwardFor{"fe": {Header: "X-Client"}}}, "", "X-Client", "127.0.0.1"},
		{"except", Options{ForwardFor: map[string]ForwardFor{"fe": {Except: netip.MustParsePrefix("127.0.0.0/8")}}}, "", "X-Forwarded-For", ""},
		{"appended", Options{}, "X-Forwarded-For: 10.0.0.9\r\n", "X-Forwarded-For", "10.0.0.9,127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newNamedBackend(t, "s1", nil)
			h := newHarness(t, loadConfig(t, oneBackendConfig(b.hostPort(), "    option forwardfor", "")), "fe", tc.opt)
			c := dialClient(t, h.addr())
			c.do("GET / HTTP/1.1\r\nHost: t\r\n" + tc.args + "\r\n")
			r := b.requests()[0]
			if got := strings.Join(r.Header.Values(tc.hdr), ","); got != tc.want {
				t.Fatalf("%s = %q, want %q", tc.hdr, got, tc.want)
			}
		})
	}
	if f, err := ParseForwardFor([]string{"except", "10.0.0.0/255.0.0.0", "header", "X-Real-IP", "if-none"}); err != nil ||
		f.Header != "X-Real-IP" || f.Except != netip.MustParsePrefix("10.0.0.0/8") || !f.IfNone {
		t.Fatalf("ParseForwardFor = %+v, %v", f, err)
	}
	if _, err := ParseForwardFor([]string{"bogus"}); err == nil {
		t.Fatal("ParseForwardFor accepted a bogus argument")
	}
}

func TestErrors502503504(t *testing.T) {
	// 502: the server closes without answering.
	ln := listenLoopback(t)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				br := bufio.NewReader(c)
				http.ReadRequest(br)
				c.Close()
			}()
		}
	}()
	defer ln.Close()
	h := newHarness(t, loadConfig(t, oneBackendConfig(ln.Addr().String(), "", "")), "fe", Options{})
	resp, _ := dialClient(t, h.addr()).do(get("/"))
	if resp.StatusCode != 502 {
		t.Fatalf("server closing: status %d, want 502", resp.StatusCode)
	}
	if l := h.env.lastLog(t); l.Term != [2]byte{'S', 'H'} || l.Status != 502 {
		t.Fatalf("log %+v, want 502 SH", l)
	}

	// 502: an invalid response.
	ln2 := listenLoopback(t)
	go func() {
		for {
			c, err := ln2.Accept()
			if err != nil {
				return
			}
			go func() {
				http.ReadRequest(bufio.NewReader(c))
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx")
				c.Close()
			}()
		}
	}()
	defer ln2.Close()
	h = newHarness(t, loadConfig(t, oneBackendConfig(ln2.Addr().String(), "", "")), "fe", Options{})
	resp, _ = dialClient(t, h.addr()).do(get("/"))
	if l := h.env.lastLog(t); resp.StatusCode != 502 || l.Term != [2]byte{'P', 'H'} || l.Error != "dup-content-length" {
		t.Fatalf("invalid response: %d, log %+v", resp.StatusCode, l)
	}

	// 503: every server down, and a server refusing connections.
	b := newNamedBackend(t, "s1", nil)
	h = newHarness(t, loadConfig(t, oneBackendConfig(b.hostPort(), "", "")), "fe", Options{})
	h.server("be", "s1").up.Store(false)
	resp, body := dialClient(t, h.addr()).do(get("/"))
	if resp.StatusCode != 503 || !strings.Contains(body, "No server is available") {
		t.Fatalf("no server: %d %q", resp.StatusCode, body)
	}
	if l := h.env.lastLog(t); l.Term != [2]byte{'S', 'C'} || l.Server != "<NOSRV>" {
		t.Fatalf("no server log %+v", l)
	}
	dead := listenLoopback(t)
	deadAddr := dead.Addr().String()
	dead.Close()
	h = newHarness(t, loadConfig(t, oneBackendConfig(deadAddr, "", "")), "fe", Options{})
	if resp, _ := dialClient(t, h.addr()).do(get("/")); resp.StatusCode != 503 {
		t.Fatalf("connection refused: status %d, want 503", resp.StatusCode)
	}

	// 504: the server does not answer within timeout server.
	slow := newNamedBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	})
	h = newHarness(t, loadConfig(t, oneBackendConfig(slow.hostPort(), "", "    timeout server 200ms")), "fe", Options{})
	start := time.Now()
	resp, _ = dialClient(t, h.addr()).do(get("/"))
	if resp.StatusCode != 504 || time.Since(start) > 3*time.Second {
		t.Fatalf("slow server: status %d after %v, want 504 after ~200ms", resp.StatusCode, time.Since(start))
	}
	if l := h.env.lastLog(t); l.Term != [2]byte{'s', 'H'} {
		t.Fatalf("504 log term %q", l.Term[:])
	}
}

func TestErrorfile(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/503.http"
	writeFile(t, path, "HTTP/1.0 503 Service Unavailable\nCache-Control: no-cache\nConnection: close\nContent-Type: text/html\n\n<html>custom 503</html>\n")
	b := newNamedBackend(t, "s1", nil)
	h := newHarness(t, loadConfig(t, oneBackendConfig(b.hostPort(), "    errorfile 503 "+path, "")), "fe", Options{})
	h.server("be", "s1").up.Store(false)
	out := rawExchange(t, h.addr(), get("/"), 3*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\n") || !strings.HasSuffix(out, "<html>custom 503</html>\n") {
		t.Fatalf("errorfile response %q", out)
	}
}

func TestTimeouts(t *testing.T) {
	b := newNamedBackend(t, "s1", nil)
	cfg := loadConfig(t, oneBackendConfig(b.hostPort(), "    timeout http-request 300ms\n    timeout http-keep-alive 200ms", ""))
	h := newHarness(t, cfg, "fe", Options{})

	// timeout http-request: a partial head gets 408 and a close.
	start := time.Now()
	out := rawExchange(t, h.addr(), "GET / HTTP/1.1\r\nHost: t\r\n", 5*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 408 ") || time.Since(start) > 3*time.Second {
		t.Fatalf("partial head: %q after %v", out, time.Since(start))
	}
	if l := h.env.lastLog(t); l.Term != [2]byte{'c', 'R'} || l.Status != 408 {
		t.Fatalf("408 log %+v", l)
	}
	// A slowloris feeding one byte at a time does not extend it.
	c := dialClient(t, h.addr())
	start = time.Now()
	slow := c.c
	go func() {
		for _, ch := range []byte("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + strings.Repeat("a", 90)) {
			if _, err := slow.Write([]byte{ch}); err != nil {
				return
			}
			time.Sleep(30 * time.Millisecond)
		}
	}()
	all, _ := io.ReadAll(c.br)
	// The feed lasts over 3 s: a timeout extended by each byte would answer after it.
	if !strings.HasPrefix(string(all), "HTTP/1.1 408 ") || time.Since(start) > 2*time.Second {
		t.Fatalf("slow head: %q after %v", all, time.Since(start))
	}

	// timeout http-keep-alive: an idle connection is closed silently.
	c = dialClient(t, h.addr())
	c.do(get("/"))
	start = time.Now()
	if !c.closed() {
		t.Fatal("idle keep-alive connection not closed")
	}
	if el := time.Since(start); el < 150*time.Millisecond || el > 2500*time.Millisecond {
		t.Fatalf("keep-alive close after %v, want ~200ms", el)
	}

	// timeout client during a request body: the server sees an aborted body.
	h2 := newHarness(t, loadConfig(t, oneBackendConfig(b.hostPort(), "    timeout client 300ms", "")), "fe", Options{})
	c = dialClient(t, h2.addr())
	io.WriteString(c.c, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
	start = time.Now()
	io.ReadAll(c.br)
	if time.Since(start) > 3*time.Second {
		t.Fatal("stalled request body not timed out")
	}
	waitFor(t, "the body timeout log", func() bool {
		for _, l := range h2.env.Logs() {
			if l.Term == [2]byte{'c', 'D'} {
				return true
			}
		}
		return false
	})
}

func TestExpectContinue(t *testing.T) {
	b := newNamedBackend(t, "s1", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d %s", n, r.Header.Get("Expect"))
	})
	h := newHarness(t, loadConfig(t, oneBackendConfig(b.hostPort(), "", "")), "fe", Options{})
	c := dialClient(t, h.addr())
	io.WriteString(c.c, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	line, _ := c.br.ReadString('\n')
	if line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("first line %q, want 100 Continue", line)
	}
	c.br.ReadString('\n')
	io.WriteString(c.c, "hello")
	resp, body := readResponse(t, c.br, "POST")
	if resp.StatusCode != 200 || body != "5 " {
		t.Fatalf("after 100-continue: %d %q", resp.StatusCode, body)
	}
	// Chunked upload on the same connection.
	resp, body = c.do("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
	if resp.StatusCode != 200 || body != "7 " {
		t.Fatalf("chunked upload: %d %q", resp.StatusCode, body)
	}
}

// TestSlowUploadOutlivesTimeoutServer: timeout server is about server inactivity, not a
// cap on the exchange: a body that takes longer than it to arrive still gets through,
// and a server that stops answering once it has the body still gets a 504.
func TestSlowUploadOutlivesTimeoutServer(t *testing.T) {
	b := newNamedBackend(t, "s1", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/hang" {
			<-r.Context().Done()
			return
		}
		fmt.Fprint(w, n)
	})
	h := newHarness(t, loadConfig(t, oneBackendConfig(b.hostPort(), "", "    timeout server 300ms")), "fe", Options{})
	c := dialClient(t, h.addr())
	io.WriteString(c.c, "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n")
	for i := 0; i < 10; i++ {
		time.Sleep(100 * time.Millisecond) // the client is slow on purpose
		io.WriteString(c.c, "x")
	}
	if resp, body := readResponse(t, c.br, "POST"); resp.StatusCode != 200 || body != "10" {
		t.Fatalf("slow upload: %d %q", resp.StatusCode, body)
	}
	start := time.Now()
	resp, _ := c.do("POST /hang HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
	if resp.StatusCode != 504 || time.Since(start) > 3*time.Second {
		t.Fatalf("server hanging after the body: %d after %v", resp.StatusCode, time.Since(start))
	}
}

// TestListenRulesRunOnce: a listen section's rules are its frontend's and its
// backend's at once; they must apply once.
func TestListenRulesRunOnce(t *testing.T) {
	b := newNamedBackend(t, "s1", nil)
	cfg := loadConfig(t, fmt.Sprintf(`
defaults
    mode http
    timeout client 5s
    timeout server 5s
listen web
    bind 127.0.0.1:19004
    http-request add-header X-Once 1
    http-response add-header X-Resp-Once 1
    server s1 %s
`, b.hostPort()))
	h := newHarness(t, cfg, "web", Options{})
	resp, _ := dialClient(t, h.addr()).do(get("/"))
	if n := len(b.requests()[0].Header.Values("X-Once")); n != 1 {
		t.Fatalf("request rule applied %d times", n)
	}
	if n := len(resp.Header.Values("X-Resp-Once")); n != 1 {
		t.Fatalf("response rule applied %d times", n)
	}
}
