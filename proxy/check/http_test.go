package check

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func mustHTTP(t testing.TB, h HTTPCheck) *HTTPCheck {
	t.Helper()
	c, err := CompileHTTP(h)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func httpAddr(t *testing.T, srv *httptest.Server) netip.AddrPort {
	t.Helper()
	return netip.MustParseAddrPort(strings.TrimPrefix(srv.URL, "http://"))
}

// captureServer answers every connection with resp after reading a full request head
// (and a Content-Length body), and hands the bytes it read to the test.
func captureServer(t *testing.T, resp string) (netip.AddrPort, <-chan []byte) {
	got := make(chan []byte, 16)
	a := listen(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		var b []byte
		chunk := make([]byte, 4096)
		for {
			if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
				var cl int
				for _, line := range strings.Split(string(b[:i]), "\r\n") {
					if k, v, ok := strings.Cut(line, ": "); ok && strings.EqualFold(k, "content-length") {
						fmt.Sscan(v, &cl)
					}
				}
				if len(b) >= i+4+cl {
					break
				}
			}
			n, err := c.Read(chunk)
			b = append(b, chunk[:n]...)
			if err != nil {
				break
			}
		}
		got <- b
		io.WriteString(c, resp)
	})
	return a, got
}

func TestHTTPCheckRequestBytes(t *testing.T) {
	cases := []struct {
		name  string
		h     HTTPCheck
		state string
		want  string
	}{
		// Captured from HAProxy 2.6 for the same settings.
		{"seed 004", HTTPCheck{Method: "GET", URI: "/healthCheck.html"}, "", "GET /healthCheck.html HTTP/1.0\r\n\r\n"},
		{"defaults", HTTPCheck{}, "", "OPTIONS / HTTP/1.0\r\n\r\n"},
		{"version hack", HTTPCheck{Method: "GET", URI: "/x", Version: "HTTP/1.1", Headers: [][2]string{{"Host", "www.example.com"}, {"User-Agent", "foo"}}}, "",
			"GET /x HTTP/1.1\r\nhost: www.example.com\r\nuser-agent: foo\r\nconnection: close\r\n\r\n"},
		{"send with body and state", HTTPCheck{Method: "POST", URI: "/p?q=1", Version: "HTTP/1.1", Headers: [][2]string{{"Host", "h.example"}, {"X-A", "b c"}}, Body: "abc def", SendState: true},
			"UP; address=127.0.0.1; port=80; name=be/s1; node=n; weight=1/1; scur=0/0; qcur=0",
			"POST /p?q=1 HTTP/1.1\r\nhost: h.example\r\nx-a: b c\r\nx-haproxy-server-state: UP; address=127.0.0.1; port=80; name=be/s1; node=n; weight=1/1; scur=0/0; qcur=0\r\ncontent-length: 7\r\nconnection: close\r\n\r\nabc def"},
		{"1.0 with body", HTTPCheck{Method: "POST", URI: "/p", Body: "abc"}, "", "POST /p HTTP/1.0\r\ncontent-length: 3\r\n\r\nabc"},
		{"own connection header", HTTPCheck{Version: "HTTP/1.1", Headers: [][2]string{{"Connection", "keep-alive"}}}, "", "OPTIONS / HTTP/1.1\r\nconnection: keep-alive\r\n\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, got := captureServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			state := c.state
			p := &Probe{Addr: a, Timeout: 2 * time.Second, HTTP: mustHTTP(t, c.h), ServerState: func() string { return state }}
			o := p.Run(context.Background())
			if !o.OK || o.Status != StatusL7OK || o.Code != 200 {
				t.Fatalf("outcome %+v", o)
			}
			if b := <-got; string(b) != c.want {
				t.Fatalf("server received\n%q\nwant\n%q", b, c.want)
			}
		})
	}
}

// A server answering 404 on the seed's check URL goes down after fall checks with
// L7STS/404, and up again after rise checks once it answers 200.
func TestHTTPCheckDownOn404UpOn200(t *testing.T) {
	var code atomic.Int32
	code.Store(404)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthCheck.html" || r.Method != "GET" {
			w.WriteHeader(500)
			return
		}
		hits.Add(1)
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	p := &Probe{Addr: httpAddr(t, srv), Timeout: time.Second, HTTP: mustHTTP(t, HTTPCheck{Method: "GET", URI: "/healthCheck.html"})}
	m := New(Params{Rise: 2, Fall: 3}, t0)
	m.Result(true, t0) // fully healthy: fall failures to go down
	m.Result(true, t0)
	var last Outcome
	for i := 1; i <= 3; i++ {
		last = p.Run(context.Background())
		tr := m.Feed(last.Status, t0)
		if want := map[bool]Transition{true: WentDown, false: NoChange}[i == 3]; tr != want {
			t.Fatalf("check %d: %v (%+v)", i, tr, last)
		}
	}
	if last.Status != StatusL7STS || last.Code != 404 || last.Detail() != `Layer7 wrong status, code: 404, info: "Not Found"` || last.State() != "L7STS/404 Layer7 wrong status: Not Found" {
		t.Fatalf("outcome %+v %q %q", last, last.Detail(), last.State())
	}
	code.Store(200)
	for i := 1; i <= 2; i++ {
		last = p.Run(context.Background())
		tr := m.Feed(last.Status, t0)
		if want := map[bool]Transition{true: WentUp, false: NoChange}[i == 2]; tr != want {
			t.Fatalf("check %d after 200: %v (%+v)", i, tr, last)
		}
	}
	if last.Detail() != "Layer7 check passed, code: 200" || hits.Load() != 5 {
		t.Fatalf("%q hits=%d", last.Detail(), hits.Load())
	}
}

func TestHTTPCheckExpect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			io.WriteString(w, "status: this is ok\n")
		case "/chunked":
			w.(http.Flusher).Flush() // forces chunked encoding
			io.WriteString(w, "part one, ")
			w.(http.Flusher).Flush()
			io.WriteString(w, "this is ok")
		case "/redirect":
			w.Header().Set("Location", "/ok")
			w.WriteHeader(302)
		case "/empty":
		case "/teapot":
			w.WriteHeader(418)
		case "/oops":
			w.WriteHeader(500)
			io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()
	a := httpAddr(t, srv)
	cases := []struct {
		uri    string
		ex     []Expect
		status Status
		code   int
		info   string
	}{
		{"/ok", nil, StatusL7OK, 200, ""},
		{"/redirect", nil, StatusL7OK, 302, ""},
		{"/teapot", nil, StatusL7STS, 418, "I'm a teapot"},
		{"/ok", []Expect{{Match: "status", Pattern: "200"}}, StatusL7OK, 200, ""},
		{"/ok", []Expect{{Match: "status", Pattern: "201,300-399"}}, StatusL7STS, 200, "OK"},
		{"/redirect", []Expect{{Match: "status", Pattern: "201,300-399"}}, StatusL7OK, 302, ""},
		{"/ok", []Expect{{Negate: true, Match: "status", Pattern: "200"}}, StatusL7STS, 200, "OK"},
		{"/teapot", []Expect{{Negate: true, Match: "status", Pattern: "200-399"}}, StatusL7OK, 418, ""},
		{"/ok", []Expect{{Match: "rstatus", Pattern: "^2[0-9][0-9]$"}}, StatusL7OK, 200, ""},
		{"/ok", []Expect{{Match: "rstatus", Pattern: "^3"}}, StatusL7STS, 200, "OK"},
		{"/ok", []Expect{{Negate: true, Match: "rstatus", Pattern: "^2"}}, StatusL7STS, 200, "OK"},
		{"/ok", []Expect{{Match: "string", Pattern: "this is ok"}}, StatusL7OK, 200, ""},
		{"/ok", []Expect{{Match: "string", Pattern: "nope"}}, StatusL7RSP, 200, "HTTP content check did not match"},
		{"/ok", []Expect{{Negate: true, Match: "string", Pattern: "this is ok"}}, StatusL7RSP, 200, "HTTP check matched unwanted content"},
		{"/ok", []Expect{{Negate: true, Match: "string", Pattern: "error"}}, StatusL7OK, 200, ""},
		{"/ok", []Expect{{Match: "rstring", Pattern: `^status: this\s+is`}}, StatusL7OK, 200, ""},
		{"/ok", []Expect{{Match: "rstring", Pattern: `^this`}}, StatusL7RSP, 200, "HTTP content check did not match"},
		{"/ok", []Expect{{Negate: true, Match: "rstring", Pattern: `is ok`}}, StatusL7RSP, 200, "HTTP check matched unwanted content"},
		{"/chunked", []Expect{{Match: "string", Pattern: "one, this is ok"}}, StatusL7OK, 200, ""},
		{"/empty", []Expect{{Match: "string", Pattern: "x"}}, StatusL7RSP, 200, "HTTP content check could not find a response body"},
		// With expect rules there is no implicit status rule (HAProxy 2.6 passes this too).
		{"/oops", []Expect{{Match: "string", Pattern: "ok"}}, StatusL7OK, 500, ""},
		{"/oops", nil, StatusL7STS, 500, "Internal Server Error"},
		// All rules must pass, in order.
		{"/ok", []Expect{{Match: "string", Pattern: "ok"}, {Match: "status", Pattern: "201"}}, StatusL7STS, 200, "OK"},
	}
	for _, c := range cases {
		name := c.uri
		for _, e := range c.ex {
			name += fmt.Sprintf(" %v/%s/%s", e.Negate, e.Match, e.Pattern)
		}
		t.Run(name, func(t *testing.T) {
			p := &Probe{Addr: a, Timeout: 2 * time.Second, HTTP: mustHTTP(t, HTTPCheck{Method: "GET", URI: c.uri, Expect: c.ex})}
			o := p.Run(context.Background())
			if o.Status != c.status || o.Code != c.code || o.Info != c.info || o.OK != (c.status == StatusL7OK) {
				t.Fatalf("got %+v, want %s code %d info %q", o, c.status.Code(), c.code, c.info)
			}
		})
	}
}

func TestHTTPCheckDisableOn404(t *testing.T) {
	var code atomic.Int32
	code.Store(404)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(int(code.Load())) }))
	defer srv.Close()
	p := &Probe{Addr: httpAddr(t, srv), Timeout: time.Second, HTTP: mustHTTP(t, HTTPCheck{DisableOn404: true, Expect: []Expect{{Match: "status", Pattern: "200"}}})}
	m := New(Params{Rise: 2, Fall: 3}, t0)
	o := p.Run(context.Background())
	if o.Status != StatusL7OKC || !o.OK || o.Detail() != "Layer7 check conditionally passed, code: 404" {
		t.Fatalf("%+v %q", o, o.Detail())
	}
	if tr := m.Feed(o.Status, t0); tr != WentStopping || !m.Up() || !m.Stopping() || m.Weight(10, t0) != 0 {
		t.Fatalf("%v up=%v stopping=%v", tr, m.Up(), m.Stopping())
	}
	code.Store(200)
	o = p.Run(context.Background())
	if tr := m.Feed(o.Status, t0); tr != LeftStopping || m.Stopping() || m.Weight(10, t0) != 10 {
		t.Fatalf("%v %+v", tr, o)
	}
	// A down server stays down on 404s (HAProxy), the next 200 brings it up.
	code.Store(500)
	for m.Up() {
		m.Feed(p.Run(context.Background()).Status, t0)
	}
	code.Store(404)
	for i := 0; i < 3; i++ {
		if tr := m.Feed(p.Run(context.Background()).Status, t0); tr != NoChange || m.Up() {
			t.Fatalf("404 on a down server: %v", tr)
		}
	}
	code.Store(200)
	if tr := m.Feed(p.Run(context.Background()).Status, t0); tr != WentUp {
		t.Fatalf("200 after 404s: %v", tr)
	}
}

func TestHTTPCheckTimeoutsAndFailures(t *testing.T) {
	h := mustHTTP(t, HTTPCheck{Method: "GET", URI: "/"})
	t.Run("accepts, never answers: L7TOUT", func(t *testing.T) {
		a := listen(t, func(c net.Conn) { io.Copy(io.Discard, c) })
		o := (&Probe{Addr: a, Timeout: 150 * time.Millisecond, HTTP: h}).Run(context.Background())
		if o.Status != StatusL7TOUT || o.OK || o.Detail() != "Layer7 timeout" || o.Duration < 150*time.Millisecond {
			t.Fatalf("%+v", o)
		}
	})
	t.Run("refused: L4CON", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		dead := netip.MustParseAddrPort(ln.Addr().String())
		ln.Close()
		o := (&Probe{Addr: dead, Timeout: time.Second, HTTP: h}).Run(context.Background())
		if o.Status != StatusL4CON || o.Detail() != `Layer4 connection problem, info: "Connection refused"` {
			t.Fatalf("%+v %q", o, o.Detail())
		}
	})
	t.Run("closes without answer: L7RSP", func(t *testing.T) {
		a := listen(t, func(c net.Conn) { c.Read(make([]byte, 100)) })
		o := (&Probe{Addr: a, Timeout: time.Second, HTTP: h}).Run(context.Background())
		if o.Status != StatusL7RSP || o.Detail() != "Layer7 invalid response" {
			t.Fatalf("%+v", o)
		}
	})
	t.Run("timeout check is a read timeout after the connect", func(t *testing.T) {
		a := listen(t, func(c net.Conn) {
			c.Read(make([]byte, 100))
			time.Sleep(300 * time.Millisecond) // the slow server under test
			io.WriteString(c, "HTTP/1.0 200 OK\r\n\r\n")
		})
		o := (&Probe{Addr: a, Timeout: 100 * time.Millisecond, ReadTimeout: 2 * time.Second, HTTP: h}).Run(context.Background())
		if o.Status != StatusL7OK {
			t.Fatalf("with timeout check: %+v", o)
		}
		o = (&Probe{Addr: a, Timeout: 100 * time.Millisecond, HTTP: h}).Run(context.Background())
		if o.Status != StatusL7TOUT {
			t.Fatalf("inter only: %+v", o)
		}
	})
}

// A full backlog leaves the SYN unanswered: the connect times out (L4TOUT).
func TestHTTPCheckConnectTimeout(t *testing.T) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a := netip.MustParseAddrPort(ln.Addr().String())
	// Fill the accept queue (never accepted) until a dial hangs.
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < 5000; i++ {
		c, err := net.DialTimeout("tcp", a.String(), 100*time.Millisecond)
		if err != nil {
			break
		}
		held = append(held, c)
	}
	o := (&Probe{Addr: a, Timeout: 200 * time.Millisecond, HTTP: mustHTTP(t, HTTPCheck{})}).Run(context.Background())
	if o.Status != StatusL4TOUT || o.Detail() != "Layer4 timeout" {
		t.Fatalf("%+v (held %d connections)", o, len(held))
	}
}

// A 1 MiB answer of garbage, or a valid head followed by an endless body, is a failure
// read through a bounded buffer.
func TestHTTPCheckHugeResponses(t *testing.T) {
	garbage := bytes.Repeat([]byte("garbage!"), 1<<17) // 1 MiB
	bigBody := append([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n"), bytes.Repeat([]byte("x"), 1<<20)...)
	hugeHead := append([]byte("HTTP/1.1 200 OK\r\n"), bytes.Repeat([]byte("X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"), 1<<15)...)
	cases := []struct {
		name string
		resp []byte
		ex   []Expect
		want Status
		info string
	}{
		{"garbage", garbage, nil, StatusL7RSP, ""},
		{"garbage, string expect", garbage, []Expect{{Match: "string", Pattern: "garbage"}}, StatusL7RSP, ""},
		{"head too large", hugeHead, nil, StatusL7RSP, ""},
		{"big body, string absent", bigBody, []Expect{{Match: "string", Pattern: "ok"}}, StatusL7RSP, "HTTP content check did not match"},
		{"big body, string in the first bytes", bigBody, []Expect{{Match: "string", Pattern: "xxx"}}, StatusL7OK, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var wg sync.WaitGroup
			wg.Add(1)
			a := listen(t, func(cn net.Conn) {
				defer wg.Done()
				cn.SetDeadline(time.Now().Add(3 * time.Second))
				cn.Read(make([]byte, 1000))
				cn.Write(c.resp)
			})
			p := &Probe{Addr: a, Timeout: 2 * time.Second, HTTP: mustHTTP(t, HTTPCheck{Expect: c.ex})}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			o := p.Run(context.Background())
			runtime.ReadMemStats(&after)
			if o.Status != c.want || o.Info != c.info {
				t.Fatalf("%+v", o)
			}
			// The response is 1 MiB; what the check allocated must stay near its 16 KiB buffer.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<10 {
				t.Fatalf("check allocated %d bytes for a %d-byte response", alloc, len(c.resp))
			}
			wg.Wait()
		})
	}
}

func TestCompileHTTPRefusesBadInput(t *testing.T) {
	bad := []HTTPCheck{
		{Expect: []Expect{{Match: "status", Pattern: "abc"}}},
		{Expect: []Expect{{Match: "status", Pattern: "399-200"}}},
		{Expect: []Expect{{Match: "status", Pattern: "200,"}}},
		{Expect: []Expect{{Match: "rstring", Pattern: "("}}},
		{Expect: []Expect{{Match: "hdr", Pattern: "x"}}},
		{URI: "/a b"},
		{Headers: [][2]string{{"X", "a\r\nInjected: 1"}}},
	}
	for _, h := range bad {
		if _, err := CompileHTTP(h); err == nil {
			t.Errorf("accepted %+v", h)
		}
	}
}

func TestJudgeNeedsMoreUntilDecided(t *testing.T) {
	h := mustHTTP(t, HTTPCheck{Expect: []Expect{{Match: "string", Pattern: "world"}}})
	full := []byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world")
	for i := 0; i < len(full); i++ {
		if o, done := h.Judge(full[:i], false); done {
			t.Fatalf("decided at %d of %d bytes: %+v", i, len(full), o)
		}
	}
	if o, done := h.Judge(full, false); !done || o.Status != StatusL7OK {
		t.Fatalf("%+v %v", o, done)
	}
	// Cut short by the server: judged on what arrived, as HAProxy does.
	if o, done := h.Judge(full[:len(full)-6], true); !done || o.Status != StatusL7RSP {
		t.Fatalf("%+v %v", o, done)
	}
}

func FuzzJudge(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), false)
	f.Add([]byte("HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"), true)
	f.Add([]byte("HTTP/1.0 100 Continue\r\n\r\nHTTP/1.0 503 x\r\n\r\n"), true)
	f.Add([]byte("garbage"), true)
	checks := []*HTTPCheck{
		mustHTTP(f, HTTPCheck{}),
		mustHTTP(f, HTTPCheck{DisableOn404: true, Expect: []Expect{{Match: "status", Pattern: "200-299,404"}, {Negate: true, Match: "rstatus", Pattern: "^5"}}}),
		mustHTTP(f, HTTPCheck{Expect: []Expect{{Match: "string", Pattern: "ok"}, {Negate: true, Match: "rstring", Pattern: "err(or)?"}}}),
		mustHTTP(f, HTTPCheck{Method: "HEAD", Expect: []Expect{{Match: "string", Pattern: "ok"}}}),
	}
	f.Fuzz(func(t *testing.T, b []byte, eof bool) {
		for _, h := range checks {
			o, done := h.Judge(b, eof)
			if eof && !done {
				t.Fatalf("not decided at eof")
			}
			if !done {
				continue
			}
			if o.Status < StatusL4OK || o.Reason != o.Status.Description() || o.OK != o.Status.Passed() {
				t.Fatalf("inconsistent outcome %+v", o)
			}
			// A verdict reached before the end is final: learning that nothing more
			// comes does not change it.
			if !eof {
				if o2, _ := h.Judge(b, true); o2 != o {
					t.Fatalf("eof changed %+v to %+v", o, o2)
				}
			}
		}
	})
}

// A check stopped by its context (shutdown, reload) ends its I/O at once instead of
// waiting for the check timeout.
func TestHTTPCheckStopsWithContext(t *testing.T) {
	accepted := make(chan struct{}, 1)
	a := listen(t, func(c net.Conn) {
		accepted <- struct{}{}
		io.Copy(io.Discard, c)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Outcome, 1)
	go func() {
		done <- (&Probe{Addr: a, Timeout: 10 * time.Second, HTTP: mustHTTP(t, HTTPCheck{})}).Run(ctx)
	}()
	select {
	case <-accepted: // the check is connected and waits for its answer
	case <-time.After(5 * time.Second):
		t.Fatal("check did not connect")
	}
	cancel()
	select {
	case o := <-done:
		if o.OK || o.Duration > 5*time.Second {
			t.Fatalf("%+v", o)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("check still running 5s after its context ended")
	}
}
