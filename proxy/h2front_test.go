package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"appl/proxy/tlsconf/tlstest"
)

// HTTP/2 towards clients (proxy/h2front): real TLS with ALPN h2, real HTTP/1.1
// backends, the same rules, ACLs, balancing, logs and counters as HTTP/1.

// h2Web is an HTTP/1.1 backend: it answers its name, the path, the protocol it got and
// the X-Test header; /upload hashes the body, /download?n=N streams N bytes, /slow
// waits for /release.
type h2Web struct {
	name    string
	srv     *httptest.Server
	reqs    atomic.Int64
	sent    atomic.Int64 // /download bytes written
	mu      sync.Mutex
	lastHdr http.Header
	release chan struct{}
}

func startH2Web(t *testing.T, name string) *h2Web {
	t.Helper()
	w := &h2Web{name: name, release: make(chan struct{})}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.reqs.Add(1)
		w.mu.Lock()
		w.lastHdr = r.Header.Clone()
		w.mu.Unlock()
		switch r.URL.Path {
		case "/upload":
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil {
				rw.WriteHeader(500)
				return
			}
			fmt.Fprintf(rw, "%d %x", n, h.Sum(nil))
			return
		case "/download":
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			rw.Header().Set("Content-Length", strconv.Itoa(n))
			buf := make([]byte, 64<<10)
			for i := range buf {
				buf[i] = byte(i * 7)
			}
			for n > 0 {
				k := min(n, len(buf))
				if _, err := rw.Write(buf[:k]); err != nil {
					return
				}
				w.sent.Add(int64(k))
				n -= k
			}
			return
		case "/chunked":
			for i := 0; i < 5; i++ {
				fmt.Fprintf(rw, "part%d;", i)
				rw.(http.Flusher).Flush()
			}
			return
		case "/slow":
			<-w.release
		}
		rw.Header().Set("X-Backend", name)
		fmt.Fprintf(rw, "%s %s %s %s", name, r.URL.Path, r.Proto, r.Header.Get("X-Test"))
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *h2Web) addr() string { return w.srv.Listener.Addr().String() }

type h2Env struct {
	fe      string
	pool    *x509.CertPool
	p       *Proxy
	lines   <-chan string
	dials   atomic.Int64
	logAddr string
	dir     string
	ca      *tlstest.CA
	webA    *h2Web
	webB    *h2Web
	webAPI  *h2Web
}

const h2Cfg = `
global
 log %s local0
defaults
 mode http
 log global
 option httplog
 timeout connect 2s
 timeout client 5s
 timeout server 5s
 timeout http-keep-alive 10s
 retries 0
frontend web
 bind %s ssl crt site.pem alpn h2,http/1.1
 acl is_api path_beg /api
 http-request deny if { path_beg /deny }
 http-request set-header X-Test h2-rule
 use_backend api if is_api
 default_backend app
backend app
 balance roundrobin
 server a %s
 server b %s
backend api
 server api %s
`

func startH2(t *testing.T) *h2Env {
	t.Helper()
	e := &h2Env{dir: t.TempDir(), ca: tlstest.NewCA(t, "h2ca")}
	e.ca.WriteBundle(t, e.dir, "site.pem", "h2.example.com", "h2.example.com")
	e.pool = x509.NewCertPool()
	e.pool.AppendCertsFromPEM(e.ca.CertPEM)
	e.webA, e.webB, e.webAPI = startH2Web(t, "a"), startH2Web(t, "b"), startH2Web(t, "api")
	e.logAddr, e.lines = udpLog(t)
	e.fe = freeAddr(t)
	e.p, _ = startProxy(t, loadTLSCfg(t, e.dir, e.cfg()))
	return e
}

func (e *h2Env) cfg() string {
	return fmt.Sprintf(h2Cfg, e.logAddr, e.fe, e.webA.addr(), e.webB.addr(), e.webAPI.addr())
}

func (e *h2Env) tlsConfig(protos ...string) *tls.Config {
	return &tls.Config{RootCAs: e.pool, ServerName: "h2.example.com", NextProtos: protos}
}

// client is an HTTP/2-only client: every request goes over the connections it dials
// (counted in e.dials), as many streams on one connection as the server allows.
func (e *h2Env) client() *http.Client {
	tr := &http2.Transport{
		TLSClientConfig: e.tlsConfig("h2"),
		DialTLSContext: func(ctx context.Context, network, _ string, cfg *tls.Config) (net.Conn, error) {
			e.dials.Add(1)
			c, err := (&tls.Dialer{Config: cfg}).DialContext(ctx, network, e.fe)
			if err != nil {
				return nil, err
			}
			if p := c.(*tls.Conn).ConnectionState().NegotiatedProtocol; p != "h2" {
				c.Close()
				return nil, fmt.Errorf("negotiated %q, not h2", p)
			}
			return c, nil
		},
	}
	return &http.Client{Timeout: 20 * time.Second, Transport: tr}
}

func h2Get(c *http.Client, path string) (int, string, http.Header, error) {
	resp, err := c.Get("https://h2.example.com" + path)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.ProtoMajor != 2 {
		return 0, "", nil, fmt.Errorf("response over %s", resp.Proto)
	}
	return resp.StatusCode, string(b), resp.Header, err
}

// Many concurrent streams on one connection, balanced over two servers, routed by path,
// a deny, a header rule, HAProxy's httplog line with HTTP/2.0, and the counters.
func TestH2ConcurrentStreamsRulesAndLog(t *testing.T) {
	e := startH2(t)
	lines := e.lines
	c := e.client()

	// 90 requests in flight at a time (under the 100 streams the client may open).
	const n = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]int{}
	errs := make(chan error, n)
	slots := make(chan struct{}, 90)
	for i := 0; i < n; i++ {
		wg.Add(1)
		slots <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-slots }()
			path := fmt.Sprintf("/item/%d", i)
			switch i % 4 {
			case 1:
				path = fmt.Sprintf("/api/%d", i)
			case 2:
				path = fmt.Sprintf("/deny/%d", i)
			}
			st, body, hdr, err := h2Get(c, path)
			if err != nil {
				errs <- err
				return
			}
			switch {
			case strings.HasPrefix(path, "/deny"):
				if st != 403 {
					errs <- fmt.Errorf("%s: status %d, want 403", path, st)
				}
				mu.Lock()
				got["deny"]++
				mu.Unlock()
				return
			case st != 200:
				errs <- fmt.Errorf("%s: status %d %q", path, st, body)
				return
			}
			f := strings.Fields(body)
			if len(f) != 4 || f[1] != path || f[2] != "HTTP/1.1" || f[3] != "h2-rule" {
				errs <- fmt.Errorf("%s: backend saw %q", path, body)
				return
			}
			if hdr.Get("X-Backend") != f[0] {
				errs <- fmt.Errorf("%s: response header X-Backend %q, body %q", path, hdr.Get("X-Backend"), body)
			}
			if strings.HasPrefix(path, "/api") != (f[0] == "api") {
				errs <- fmt.Errorf("%s routed to %s", path, f[0])
			}
			mu.Lock()
			got[f[0]]++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if d := e.dials.Load(); d != 1 {
		t.Errorf("%d connections dialed, want all streams on 1 (ereq %d)", d, feStatus(e.p, "web").HTTP.ErrReq)
	}
	if got["api"] != n/4 || got["deny"] != n/4 || got["a"]+got["b"] != n/2 || got["a"] < n/8 || got["b"] < n/8 {
		t.Errorf("distribution %v", got)
	}
	// One httplog line per request, with the HTTP/2.0 version as HAProxy logs it.
	seen := map[string]bool{}
	deadline := time.After(5 * time.Second)
	for len(seen) < n {
		select {
		case l := <-lines:
			if !strings.Contains(l, "HTTP/2.0\"") {
				t.Fatalf("log line without HTTP/2.0: %s", l)
			}
			i := strings.Index(l, "\"GET ")
			seen[l[i:]] = true
			if strings.Contains(l, "/deny/") && !strings.Contains(l, " 403 ") {
				t.Errorf("deny line: %s", l)
			}
			if strings.Contains(l, "/api/") && !strings.Contains(l, " api/api ") {
				t.Errorf("api line: %s", l)
			}
		case <-deadline:
			t.Fatalf("%d log lines, want %d", len(seen), n)
		}
	}
	fs := feStatus(e.p, "web")
	if fs.HTTP.Requests != n || fs.HTTP.Hrsp[3] != n/4 || fs.HTTP.Hrsp[1] != 3*n/4 || fs.HTTP.Denied != n/4 {
		t.Errorf("frontend counters %+v", fs.HTTP)
	}
	if bs := beStatus(e.p, "app"); bs.HTTP.Requests != int64(n/2) {
		t.Errorf("backend app counters %+v", bs.HTTP)
	}
}

// A 20 MiB upload and a 20 MiB download stream through one connection, both ways
// under flow control, with a chunked response in between.
func TestH2LargeBodies(t *testing.T) {
	e := startH2(t)
	c := e.client()
	const size = 20 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*31 + i>>11)
	}
	sum := sha256.Sum256(data)
	// An upload of unknown length (chunked towards the server) and one with a length.
	for _, withLen := range []bool{false, true} {
		var body io.Reader = struct{ io.Reader }{bytes.NewReader(data)}
		if withLen {
			body = bytes.NewReader(data)
		}
		req, _ := http.NewRequest("POST", "https://h2.example.com/upload", body)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("%d %x", size, sum); resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("upload (length %v): %d %q, want %q", withLen, resp.StatusCode, b, want)
		}
	}
	resp, err := c.Get("https://h2.example.com/download?n=" + strconv.Itoa(size))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil || n != size || resp.ContentLength != size {
		t.Fatalf("download: %d bytes (length %d), %v", n, resp.ContentLength, err)
	}
	// A denied upload: 403 without the body being read, the client is told to stop
	// sending (RST_STREAM NO_ERROR after the response), the connection serves on.
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest("POST", "https://h2.example.com/deny/up", bytes.NewReader(data[:4<<20]))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("denied upload: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("denied upload: %d", resp.StatusCode)
		}
	}
	// HEAD: the length of the body that is not sent.
	resp, err = c.Head("https://h2.example.com/download?n=12345")
	if err != nil || resp.StatusCode != 200 || resp.ContentLength != 12345 {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
	resp.Body.Close()
	st, body, _, err := h2Get(c, "/chunked")
	if err != nil || st != 200 || body != "part0;part1;part2;part3;part4;" {
		t.Fatalf("chunked: %d %q %v", st, body, err)
	}
	if d := e.dials.Load(); d != 1 {
		t.Errorf("%d connections dialed", d)
	}
}

// rawH2 is a hand-driven HTTP/2 client connection: it can send what a real client
// never would.
type rawH2 struct {
	t   *testing.T
	c   net.Conn
	fr  *http2.Framer
	enc *hpack.Encoder
	buf bytes.Buffer
}

func (e *h2Env) raw(t *testing.T) *rawH2 {
	t.Helper()
	c, err := tls.Dial("tcp", e.fe, e.tlsConfig("h2"))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q", p)
	}
	return rawOn(t, c)
}

func rawOn(t *testing.T, c net.Conn) *rawH2 {
	t.Helper()
	t.Cleanup(func() { c.Close() })
	r := &rawH2{t: t, c: c, fr: http2.NewFramer(c, c)}
	r.fr.AllowIllegalWrites = true
	r.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	r.enc = hpack.NewEncoder(&r.buf)
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := r.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return r
}

// headers sends a HEADERS frame with fields given as name, value pairs.
func (r *rawH2) headers(id uint32, end bool, kv ...string) {
	r.t.Helper()
	r.buf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		r.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	if err := r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.buf.Bytes(), EndStream: end, EndHeaders: true}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawH2) get(id uint32, path string, extra ...string) {
	r.t.Helper()
	r.headers(id, true, append([]string{":method", "GET", ":scheme", "https", ":path", path, ":authority", "h2.example.com"}, extra...)...)
}

// until reads frames until want returns true for one (its description is returned),
// failing on a timeout or an error.
func (r *rawH2) until(what string, want func(http2.Frame) bool) {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			r.t.Fatalf("waiting for %s: %v", what, err)
		}
		if want(f) {
			return
		}
	}
}

// status waits for the response head of stream id and returns its status.
func (r *rawH2) status(id uint32) string {
	r.t.Helper()
	st := ""
	r.until(fmt.Sprintf("response on stream %d", id), func(f http2.Frame) bool {
		if h, ok := f.(*http2.MetaHeadersFrame); ok && h.StreamID == id {
			st = h.PseudoValue("status")
			return true
		}
		if rst, ok := f.(*http2.RSTStreamFrame); ok && rst.StreamID == id {
			r.t.Fatalf("stream %d reset: %v", id, rst.ErrCode)
		}
		return false
	})
	return st
}

func (r *rawH2) rst(id uint32, code http2.ErrCode) {
	r.t.Helper()
	r.until(fmt.Sprintf("RST_STREAM %v on stream %d", code, id), func(f http2.Frame) bool {
		if rst, ok := f.(*http2.RSTStreamFrame); ok && rst.StreamID == id {
			if rst.ErrCode != code {
				r.t.Fatalf("stream %d reset with %v, want %v", id, rst.ErrCode, code)
			}
			return true
		}
		if h, ok := f.(*http2.MetaHeadersFrame); ok && h.StreamID == id {
			r.t.Fatalf("stream %d answered %s, want a reset", id, h.PseudoValue("status"))
		}
		return false
	})
}

// goaway waits for GOAWAY and returns it.
func (r *rawH2) goaway() *http2.GoAwayFrame {
	r.t.Helper()
	var g *http2.GoAwayFrame
	r.until("GOAWAY", func(f http2.Frame) bool {
		if x, ok := f.(*http2.GoAwayFrame); ok {
			g = x
			return true
		}
		return false
	})
	return g
}

// closed waits for the server to close the connection.
func (r *rawH2) closed() {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, err := r.fr.ReadFrame(); err != nil {
			if isTimeout(err) {
				r.t.Fatal("connection still open")
			}
			return
		}
	}
}

// Malformed requests are stream errors (RST_STREAM, the connection serves on);
// malformed frames are connection errors (GOAWAY, closed); other connections never
// notice; every one is counted.
func TestH2MalformedFramesAndRequests(t *testing.T) {
	e := startH2(t)
	good := e.client()
	if st, _, _, err := h2Get(good, "/before"); err != nil || st != 200 {
		t.Fatalf("before: %d %v", st, err)
	}
	before := feStatus(e.p, "web").HTTP.ErrReq

	r := e.raw(t)
	base := []string{":method", "GET", ":scheme", "https", ":authority", "h2.example.com"}
	bad := [][]string{
		append([]string{":path", "/x", "X-Upper", "v"}, base...),        // upper-case name
		append([]string{":path", "/x", "connection", "close"}, base...), // connection-specific
		append([]string{":path", "/x", "te", "gzip"}, base...),          // te other than trailers
		append([]string{":path", "/x", "upgrade", "websocket"}, base...),
		base, // no :path
		{":method", "GET", ":scheme", "https", ":path", "/x", ":authority", "a.example", "host", "b.example"},
		append([]string{":path", "/x", ":status", "200"}, base...),      // response pseudo-header
		append([]string{":path", "x"}, base...),                         // not origin form
		append([]string{":path", "/x", "content-length", "5"}, base...), // END_STREAM with a length
	}
	id := uint32(1)
	for _, kv := range bad {
		r.headers(id, true, kv...)
		r.rst(id, http2.ErrCodeProtocol)
		id += 2
	}
	// The connection still serves, and the cookie crumbs reach the server as one field.
	r.get(id, "/after-bad", "cookie", "a=1", "cookie", "b=2")
	if st := r.status(id); st != "200" {
		t.Fatalf("after malformed requests: status %s", st)
	}
	if got := e.webA.hdr("Cookie") + e.webB.hdr("Cookie"); got != "a=1; b=2" {
		t.Errorf("cookie reached the server as %q", got)
	}
	// A CONNECT is answered, not reset.
	id += 2
	r.headers(id, true, ":method", "CONNECT", ":authority", "h2.example.com:443")
	if st := r.status(id); st != "501" {
		t.Errorf("CONNECT: status %s", st)
	}
	// Logged as the engine logs what it answers itself.
	for found := false; !found; {
		select {
		case l := <-e.lines:
			found = strings.Contains(l, " 501 ") && strings.Contains(l, `"CONNECT h2.example.com:443 HTTP/2.0"`) && strings.Contains(l, " web~ web/<NOSRV> ")
		case <-time.After(5 * time.Second):
			t.Fatal("no log line for the CONNECT")
		}
	}
	// A header list over tune.bufsize: 431.
	id += 2
	r.get(id, "/big", "x-big1", strings.Repeat("b", 9000), "x-big2", strings.Repeat("b", 9000))
	if st := r.status(id); st != "431" {
		t.Errorf("oversized header list: status %s", st)
	}

	// Connection errors.
	conns := []struct {
		name string
		do   func(r *rawH2)
		code http2.ErrCode
	}{
		{"DATA on stream 0", func(r *rawH2) { r.fr.WriteData(0, false, []byte("x")) }, http2.ErrCodeProtocol},
		{"HEADERS on an even stream", func(r *rawH2) { r.get(2, "/") }, http2.ErrCodeProtocol},
		{"window overflow", func(r *rawH2) { r.fr.WriteWindowUpdate(0, 1<<31-1) }, http2.ErrCodeFlowControl},
		{"DATA on an idle stream", func(r *rawH2) { r.fr.WriteData(9, true, []byte("x")) }, http2.ErrCodeProtocol},
		{"stream ids going back", func(r *rawH2) {
			r.get(5, "/")
			r.status(5)
			r.get(3, "/")
		}, http2.ErrCodeProtocol},
		{"CONTINUATION without HEADERS", func(r *rawH2) { r.fr.WriteContinuation(1, true, []byte{0x82}) }, http2.ErrCodeProtocol},
		{"bad hpack", func(r *rawH2) {
			r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0xff, 0xff, 0xff, 0xff}, EndStream: true, EndHeaders: true})
		}, http2.ErrCodeCompression},
	}
	nconn := 0
	for _, c := range conns {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			r := e.raw(t)
			c.do(r)
			if g := r.goaway(); g.ErrCode != c.code {
				t.Errorf("GOAWAY %v, want %v", g.ErrCode, c.code)
			}
			r.closed()
		})
		nconn++
	}
	// A client that does not speak HTTP/2 after negotiating it.
	c, err := tls.Dial("tcp", e.fe, e.tlsConfig("h2"))
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, c)
	c.Close()

	if st, _, _, err := h2Get(good, "/after"); err != nil || st != 200 {
		t.Fatalf("the other connection after the malformed ones: %d %v", st, err)
	}
	if d := e.dials.Load(); d != 1 {
		t.Errorf("the good client dialed %d times", d)
	}
	// + the HTTP/1 request on an h2 connection, + the CONNECT answered 501 (PR),
	want := int64(len(bad) + nconn + 3) // and the 431
	eventually(t, 5*time.Second, "protocol errors counted", func() bool {
		return feStatus(e.p, "web").HTTP.ErrReq-before == want
	})
}

func (w *h2Web) hdr(k string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lastHdr == nil {
		return ""
	}
	return w.lastHdr.Get(k)
}

// A reload: the next stream is still served by the configuration the connection
// began with, with GOAWAY so that the client reconnects; new connections get the new
// configuration. A soft stop: GOAWAY at once, the stream in flight finishes, then the
// connection closes.
func TestH2GoawayOnReloadAndDrain(t *testing.T) {
	e := startH2(t)
	r := e.raw(t)
	r.get(1, "/one")
	if st := r.status(1); st != "200" {
		t.Fatalf("status %s", st)
	}
	cfg2 := strings.Replace(e.cfg(), "set-header X-Test h2-rule", "set-header X-Test reloaded", 1)
	if err := e.p.Reload(loadTLSCfg(t, e.dir, cfg2)); err != nil {
		t.Fatal(err)
	}
	r.get(3, "/two")
	var gotGoaway *http2.GoAwayFrame
	body := ""
	r.until("GOAWAY and the response of stream 3", func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			gotGoaway = f
		case *http2.DataFrame:
			if f.StreamID == 3 {
				body += string(f.Data())
				return f.StreamEnded() && gotGoaway != nil
			}
		}
		return false
	})
	if gotGoaway.LastStreamID != 3 || gotGoaway.ErrCode != http2.ErrCodeNo {
		t.Errorf("GOAWAY last %d code %v", gotGoaway.LastStreamID, gotGoaway.ErrCode)
	}
	if !strings.HasSuffix(body, "/two HTTP/1.1 h2-rule") {
		t.Errorf("stream 3 after the reload: %q (want the old rule)", body)
	}
	r.closed()
	if _, body, _, err := h2Get(e.client(), "/three"); err != nil || !strings.HasSuffix(body, "reloaded") {
		t.Errorf("new connection: %q %v", body, err)
	}

	// Soft stop with a stream in flight.
	r = e.raw(t)
	r.get(1, "/slow")
	eventually(t, 5*time.Second, "slow request at the server", func() bool { return e.webA.reqs.Load()+e.webB.reqs.Load() >= 4 })
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- e.p.Shutdown(ctx)
	}()
	if g := r.goaway(); g.ErrCode != http2.ErrCodeNo || g.LastStreamID != 1 {
		t.Errorf("drain GOAWAY last %d code %v", g.LastStreamID, g.ErrCode)
	}
	close(e.webA.release)
	close(e.webB.release)
	if st := r.status(1); st != "200" {
		t.Errorf("stream in flight at the soft stop: %s", st)
	}
	r.closed()
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// curl --http2 (nghttp2) against the same frontend: GET, an upload, and an HTTP/1.1
// client on the same bind still served over HTTP/1.1.
func TestH2Curl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	if out, _ := exec.Command("curl", "-V").Output(); !strings.Contains(string(out), "HTTP2") {
		t.Skip("curl without HTTP2")
	}
	e := startH2(t)
	_, port, _ := net.SplitHostPort(e.fe)
	caFile := e.dir + "/ca.pem"
	e.ca.WriteCA(t, e.dir, "ca.pem")
	curl := func(args ...string) string {
		t.Helper()
		base := []string{"-sS", "--max-time", "10", "--cacert", caFile, "--resolve", "h2.example.com:" + port + ":127.0.0.1"}
		out, err := exec.Command("curl", append(base, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v: %s", args, err, out)
		}
		return string(out)
	}
	url := "https://h2.example.com:" + port
	if got := curl("--http2", "-w", " v%{http_version}", url+"/curl"); !strings.HasSuffix(got, "/curl HTTP/1.1 h2-rule v2") {
		t.Errorf("curl --http2: %q", got)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	if err := os.WriteFile(e.dir+"/up.bin", data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got, want := curl("--http2", "--data-binary", "@"+e.dir+"/up.bin", url+"/upload"), fmt.Sprintf("%d %x", len(data), sum); got != want {
		t.Errorf("curl --http2 upload: %q, want %q", got, want)
	}
	// From stdin: no length, chunked towards the server.
	cmd := exec.Command("curl", "-sS", "--max-time", "10", "--cacert", caFile, "--resolve", "h2.example.com:"+port+":127.0.0.1",
		"--http2", "-X", "POST", "-T", "-", url+"/upload")
	cmd.Stdin = bytes.NewReader(data)
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != fmt.Sprintf("%d %x", len(data), sum) {
		t.Errorf("curl --http2 -T - (no length): %q %v", out, err)
	}
	if got := curl("--http2", "-o", "/dev/null", "-w", "%{http_code} %{size_download} v%{http_version}", url+"/download?n=3000000"); got != "200 3000000 v2" {
		t.Errorf("curl --http2 download: %q", got)
	}
	if got := curl("--http2", "-w", " %{http_code}", url+"/deny/x"); !strings.HasSuffix(got, " 403") {
		t.Errorf("curl --http2 deny: %q", got)
	}
	if got := curl("--http1.1", "-w", " v%{http_version}", url+"/one"); !strings.HasSuffix(got, "/one HTTP/1.1 h2-rule v1.1") {
		t.Errorf("curl --http1.1 on the same bind: %q", got)
	}
}

// `bind ... proto h2` on a clear bind: HTTP/2 with prior knowledge (Go's client with
// AllowHTTP, curl --http2-prior-knowledge), the other clear bind stays HTTP/1.1; an
// idle HTTP/2 connection gets GOAWAY at timeout http-keep-alive.
func TestH2PriorKnowledge(t *testing.T) {
	web := startH2Web(t, "a")
	h2c, h1 := freeAddr(t), freeAddr(t)
	cfg := loadTLSCfg(t, t.TempDir(), `
defaults
 mode http
 timeout connect 2s
 timeout client 5s
 timeout server 5s
 timeout http-keep-alive 300ms
frontend web
 bind `+h2c+` proto h2
 bind `+h1+`
 http-request set-header X-Test clear
 default_backend app
backend app
 server a `+web.addr()+`
`)
	startProxy(t, cfg)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, _ string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, h2c)
		},
	}}
	resp, err := c.Get("http://h2c.example/pk")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || string(b) != "a /pk HTTP/1.1 clear" {
		t.Errorf("h2c: %s %q", resp.Proto, b)
	}
	if _, body, _ := get(t, client(), "http://"+h1+"/one"); body != "a /one HTTP/1.1 clear" {
		t.Errorf("HTTP/1.1 bind: %q", body)
	}
	if out, err := exec.Command("curl", "-sS", "--max-time", "5", "--http2-prior-knowledge", "-w", " v%{http_version}", "http://"+h2c+"/curl").CombinedOutput(); err == nil {
		if string(out) != "a /curl HTTP/1.1 clear v2" {
			t.Errorf("curl --http2-prior-knowledge: %q", out)
		}
	}
	// Idle: GOAWAY NO_ERROR after timeout http-keep-alive, then the close.
	nc, err := net.Dial("tcp", h2c)
	if err != nil {
		t.Fatal(err)
	}
	r := rawOn(t, nc)
	r.get(1, "/x")
	if st := r.status(1); st != "200" {
		t.Fatalf("status %s", st)
	}
	t0 := time.Now()
	if g := r.goaway(); g.ErrCode != http2.ErrCodeNo || g.LastStreamID != 1 {
		t.Errorf("idle GOAWAY last %d %v", g.LastStreamID, g.ErrCode)
	}
	if d := time.Since(t0); d < 200*time.Millisecond || d > 3*time.Second {
		t.Errorf("idle GOAWAY after %v, want about 300ms", d)
	}
	r.closed()
}

// A client that does not open its window gets exactly the window, and the server is
// held back (the body is not buffered whole in appl); opening the window resumes it.
func TestH2FlowControlHoldsTheServer(t *testing.T) {
	e := startH2(t)
	r := e.raw(t)
	const size = 32 << 20
	r.get(1, fmt.Sprintf("/download?n=%d", size))
	got := 0
	deadline := time.Now().Add(1500 * time.Millisecond)
	r.c.SetReadDeadline(deadline)
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			if !isTimeout(err) {
				t.Fatal(err)
			}
			break
		}
		if d, ok := f.(*http2.DataFrame); ok {
			got += len(d.Data())
		}
	}
	if got != 65535 {
		t.Errorf("received %d bytes of DATA within the initial window of 65535", got)
	}
	sent := func() int64 { return e.webA.sent.Load() + e.webB.sent.Load() }
	// The server stops: what it wrote sits in socket buffers and appl's bounded pipe.
	prev := int64(-1)
	eventually(t, 10*time.Second, "server held back", func() bool {
		cur := sent()
		same := cur == prev
		prev = cur
		time.Sleep(100 * time.Millisecond)
		return same
	})
	t.Logf("server wrote %d KiB while the client read 64 KiB", sent()>>10)
	if s := sent(); s > 16<<20 {
		t.Errorf("server wrote %d MiB while the client read 64 KiB", s>>20)
	}
	// Opening the windows lets the rest through.
	r.fr.WriteWindowUpdate(0, 1<<30)
	r.fr.WriteWindowUpdate(1, 1<<30)
	total := got
	r.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for total < size {
		f, err := r.fr.ReadFrame()
		if err != nil {
			t.Fatalf("after %d bytes: %v", total, err)
		}
		if d, ok := f.(*http2.DataFrame); ok {
			total += len(d.Data())
			if d.StreamEnded() {
				break
			}
		}
	}
	if total != size {
		t.Errorf("received %d of %d bytes", total, size)
	}
}

// Killing the session (runtime `shutdown session`, hard-stop-after) closes an HTTP/2
// connection with a stream in flight at once, as it does an HTTP/1 one.
func TestH2KillSession(t *testing.T) {
	e := startH2(t)
	r := e.raw(t)
	r.get(1, "/slow")
	eventually(t, 5*time.Second, "slow request at the server", func() bool { return e.webA.reqs.Load()+e.webB.reqs.Load() >= 1 })
	ss := e.p.Sessions()
	if len(ss) != 1 {
		t.Fatalf("sessions %+v", ss)
	}
	t0 := time.Now()
	if err := e.p.ShutdownSession(ss[0].ID); err != nil {
		t.Fatal(err)
	}
	r.closed()
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("closed %v after the kill", d)
	}
	close(e.webA.release)
	close(e.webB.release)
}

// Streams cancelled by the client at random points (before the response, during an
// upload, during a download) among normal ones: the others complete, the connection
// serves on, and no lane or goroutine is left behind once it closes.
func TestH2CancelledStreams(t *testing.T) {
	e := startH2(t)
	c := e.client()
	var wg sync.WaitGroup
	var okN, cancelled atomic.Int64
	errs := make(chan error, 300)
	slots := make(chan struct{}, 40)
	for i := 0; i < 240; i++ {
		wg.Add(1)
		slots <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-slots }()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var req *http.Request
			switch i % 4 {
			case 0:
				req, _ = http.NewRequestWithContext(ctx, "GET", "https://h2.example.com/download?n=1000000", nil)
			case 1:
				req, _ = http.NewRequestWithContext(ctx, "POST", "https://h2.example.com/upload", io.LimitReader(neverEnding('u'), 1<<20))
			default:
				req, _ = http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("/item/%d", i), nil)
				req.URL.Scheme, req.URL.Host = "https", "h2.example.com"
			}
			if i%3 == 0 {
				time.AfterFunc(time.Duration(i%7)*time.Millisecond, cancel)
			}
			resp, err := c.Do(req)
			if err != nil {
				if ctx.Err() != nil {
					cancelled.Add(1)
					return
				}
				errs <- fmt.Errorf("request %d: %v", i, err)
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch {
			case err != nil && ctx.Err() != nil:
				cancelled.Add(1)
			case err != nil:
				errs <- fmt.Errorf("request %d body: %v", i, err)
			case resp.StatusCode != 200:
				errs <- fmt.Errorf("request %d: status %d", i, resp.StatusCode)
			default:
				okN.Add(1)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if okN.Load() < 100 {
		t.Errorf("%d completed, %d cancelled", okN.Load(), cancelled.Load())
	}
	if st, _, _, err := h2Get(c, "/after"); err != nil || st != 200 {
		t.Fatalf("after the cancellations: %d %v", st, err)
	}
	// (The client may open a second connection: x/net counts a stream it reset
	// against the limit until a PING round trip confirms the reset.) No protocol
	// error on either side.
	if n := feStatus(e.p, "web").HTTP.ErrReq; n != 0 {
		t.Errorf("%d request errors", n)
	}
	c.Transport.(*http2.Transport).CloseIdleConnections()
	eventually(t, 10*time.Second, "the connection's goroutines gone", func() bool {
		return h2Goroutines() == 0 && len(e.p.Sessions()) == 0
	})
}

// h2Goroutines counts the goroutines running h2front code (lanes, pumps, flushers,
// connection readers).
func h2Goroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("appl/proxy/h2front.")) {
			n++
		}
	}
	return n
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}
