package httpmode

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"appl/internal/cfgfile"
	"appl/proxy/acl"
	"appl/proxy/config"
	"appl/proxy/stick"
	"appl/proxy/tcprules"
)

// stickProgram compiles cfg's tcp-request / stick rules the way the data plane does
// (one Build, every section, Commit after the http Program) and the http Program with
// the Stick hook. It returns the registry so that tests read the tables.
func stickProgram(t *testing.T, cfg *config.Config, opt Options) (*tcprules.Tables, map[string]*tcprules.Rules, Options) {
	t.Helper()
	tables := tcprules.NewTables(stick.Options{})
	b := tables.Begin()
	rules := map[string]*tcprules.Rules{}
	for _, be := range cfg.Backends {
		role := tcprules.Backend
		for _, fe := range cfg.Frontends {
			if fe.Name == be.Name && fe.Pos == be.Pos {
				role = tcprules.Listen
			}
		}
		r, err := tcprules.Compile(be.Name, role, be.Rules, be.ACLs, b, tcprules.Options{ACL: be.ACLs.Options()})
		if err != nil {
			t.Fatalf("tcprules %s: %v", be.Name, err)
		}
		rules[be.Name] = r
	}
	for _, fe := range cfg.Frontends {
		if rules[fe.Name] != nil {
			continue
		}
		r, err := tcprules.Compile(fe.Name, tcprules.Frontend, fe.Rules, fe.ACLs, b, tcprules.Options{ACL: fe.ACLs.Options()})
		if err != nil {
			t.Fatalf("tcprules %s: %v", fe.Name, err)
		}
		rules[fe.Name] = r
	}
	opt.Stick = func(name string) *tcprules.Rules { return rules[name] }
	if _, err := Compile(cfg, opt); err != nil {
		t.Fatalf("compile: %v", err)
	}
	if _, err := b.Commit(); err != nil {
		t.Fatalf("commit: %v", err)
	}
	t.Cleanup(tables.Close)
	return tables, rules, opt
}

// entryOf reads data type dt of key src in table name.
func entryOf(t *testing.T, tables *tcprules.Tables, name, src string, dt stick.DataType) uint64 {
	t.Helper()
	tb := tables.Get(name)
	if tb == nil {
		t.Fatalf("no table %q", name)
	}
	k, err := tb.ParseKey(src)
	if err != nil {
		t.Fatal(err)
	}
	e := tb.Lookup(k)
	if e == nil {
		return 0
	}
	v, ok := e.Get(dt)
	if !ok {
		t.Fatalf("table %s does not store %v", name, dt)
	}
	return v
}

// dialFrom opens a connection from a chosen loopback source address.
func dialFrom(t *testing.T, src, addr string) *client {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

// The rate limit in http mode: http-request track-sc0 src and a 429 above N
// requests per period, per source. Keep-alive and new connections count alike.
func TestHTTPRateLimitBySource(t *testing.T) {
	b := newNamedBackend(t, "s1", nil)
	fe := `    stick-table type ip size 100 expire 30s store http_req_cnt,http_req_rate(10s),http_err_cnt,http_err_rate(10s)
    http-request track-sc0 src
    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 5 }`
	cfg := loadConfig(t, oneBackendConfig(b.hostPort(), fe, ""))
	tables, _, opt := stickProgram(t, cfg, Options{})
	h := newHarness(t, cfg, "fe", opt)

	c := dialFrom(t, "127.0.0.1", h.addr())
	for i := 1; i <= 8; i++ {
		if i == 4 { // a new connection from the same source shares the counter
			c = dialFrom(t, "127.0.0.1", h.addr())
		}
		resp, body := c.do(get(fmt.Sprintf("/r%d", i)))
		want := 200
		if i > 5 {
			want = 429
		}
		if resp.StatusCode != want {
			t.Fatalf("request %d from 127.0.0.1: status %d %q, want %d", i, resp.StatusCode, body, want)
		}
		if want == 429 && resp.Close {
			// deny keeps the connection for the next request (no body).
			t.Logf("request %d: connection closed after 429", i)
			c = dialFrom(t, "127.0.0.1", h.addr())
		}
	}
	if n := len(b.requests()); n != 5 {
		t.Fatalf("server saw %d requests, want 5 (the ones under the limit)", n)
	}
	// Another source is not limited.
	c2 := dialFrom(t, "127.0.0.2", h.addr())
	for i := 0; i < 3; i++ {
		if resp, _ := c2.do(get("/other")); resp.StatusCode != 200 {
			t.Fatalf("127.0.0.2 request %d: %d, want 200", i, resp.StatusCode)
		}
	}
	if got := entryOf(t, tables, "fe", "127.0.0.1", stick.DataHTTPReqCnt); got != 8 {
		t.Fatalf("http_req_cnt = %d, want 8", got)
	}
	if got := entryOf(t, tables, "fe", "127.0.0.1", stick.DataHTTPErrCnt); got != 3 {
		t.Fatalf("http_err_cnt = %d, want 3 (the 429s)", got)
	}
	if got := entryOf(t, tables, "fe", "127.0.0.1", stick.DataHTTPErrRate); got != 3 {
		t.Fatalf("http_err_rate = %d, want 3", got)
	}
	if got := entryOf(t, tables, "fe", "127.0.0.2", stick.DataHTTPReqCnt); got != 3 {
		t.Fatalf("127.0.0.2 http_req_cnt = %d, want 3", got)
	}
	// Entries tracked per request are released at the end of each request.
	waitFor(t, "entries released", func() bool {
		tb := tables.Get("fe")
		k, _ := tb.ParseKey("127.0.0.1")
		e := tb.Lookup(k)
		return e != nil && e.Use() == 0
	})
}

// A backend's own table and src_* fetches in backend http-request rules, track-sc1
// into another section's table, and http_err counted from server 4xx responses.
func TestHTTPTrackBackendTableAndErrors(t *testing.T) {
	b := newNamedBackend(t, "s1", nil)
	b404 := newNamedBackend(t, "s404", nil)
	_ = b404
	text := fmt.Sprintf(`
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s

backend counters
    stick-table type ip size 10 expire 1m store http_req_cnt,http_err_cnt

frontend fe
    bind 127.0.0.1:19002
    http-request track-sc1 src table counters
    default_backend be

backend be
    stick-table type ip size 10 expire 1m store http_req_cnt
    http-request track-sc0 src
    http-request deny deny_status 403 if { src_http_req_cnt ge 3 }
    http-request return status 404 if { path /missing }
    server s1 %s
`, b.hostPort())
	cfg := loadConfig(t, text)
	tables, _, opt := stickProgram(t, cfg, Options{})
	h := newHarness(t, cfg, "fe", opt)
	c := dialClient(t, h.addr())
	for i, tc := range []struct {
		path string
		want int
	}{{"/a", 200}, {"/missing", 404}, {"/b", 403}, {"/c", 403}} {
		resp, body := c.do(get(tc.path))
		if resp.StatusCode != tc.want {
			t.Fatalf("request %d %s: %d %q, want %d", i, tc.path, resp.StatusCode, body, tc.want)
		}
		if resp.Close { // a denial closes the connection
			c = dialClient(t, h.addr())
		}
	}
	if got := entryOf(t, tables, "be", "127.0.0.1", stick.DataHTTPReqCnt); got != 4 {
		t.Fatalf("be http_req_cnt = %d, want 4", got)
	}
	if got := entryOf(t, tables, "counters", "127.0.0.1", stick.DataHTTPReqCnt); got != 4 {
		t.Fatalf("counters http_req_cnt = %d, want 4", got)
	}
	if got := entryOf(t, tables, "counters", "127.0.0.1", stick.DataHTTPErrCnt); got != 3 {
		t.Fatalf("counters http_err_cnt = %d, want 3 (404, 403, 403)", got)
	}
}

// When the data plane ran the tcp-request rules (tcp-request connection track-sc0) it
// hands its Session in txn.Ext: that counter, tracked for the whole connection, counts
// every request of the keep-alive connection and is not released between requests.
func TestHTTPCountsOnConnectionTrackedCounter(t *testing.T) {
	b := newNamedBackend(t, "s1", nil)
	fe := `    stick-table type ip size 10 expire 1m store conn_cnt,http_req_cnt,http_req_rate(10s)
    tcp-request connection track-sc0 src
    http-request deny deny_status 429 if { sc0_http_req_rate gt 3 }`
	cfg := loadConfig(t, oneBackendConfig(b.hostPort(), fe, ""))
	tables, rules, opt := stickProgram(t, cfg, Options{})
	prog, err := Compile(cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, cfg, "fe", Options{}) // only for its env and backends
	ln := listenLoopback(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				ts := tcprules.NewSession()
				ts.Reset(addrPort(c.RemoteAddr()), addrPort(c.LocalAddr()))
				fr := rules["fe"]
				if fr.Connection(ts) != tcprules.Accept || fr.Session(ts) != tcprules.Accept {
					return
				}
				ts.Txn.FrontendName, ts.Txn.Env = "fe", aclEnv{cfg}
				prog.Frontend("fe").Serve(ctx, c, time.Now(), h.env, &ts.Txn)
				ts.Close(0, 0)
			}()
		}
	}()
	c := dialClient(t, ln.Addr().String())
	for i := 1; i <= 5; i++ {
		if i == 3 {
			tb := tables.Get("fe")
			k, _ := tb.ParseKey("127.0.0.1")
			if e := tb.Lookup(k); e == nil || e.Use() != 1 {
				t.Fatal("the connection's counter must stay tracked between requests")
			}
		}
		resp, _ := c.do(get("/"))
		want := 200
		if i > 3 {
			want = 429
		}
		if resp.StatusCode != want {
			t.Fatalf("request %d: %d, want %d", i, resp.StatusCode, want)
		}
		if resp.Close {
			break // the denial closed the connection
		}
	}
	if got := entryOf(t, tables, "fe", "127.0.0.1", stick.DataHTTPReqCnt); got != 4 {
		t.Fatalf("http_req_cnt = %d, want 4 (3 served, 1 refused)", got)
	}
	if got := entryOf(t, tables, "fe", "127.0.0.1", stick.DataConnCnt); got != 1 {
		t.Fatalf("conn_cnt = %d, want 1 (one connection)", got)
	}
}

// Compile errors of http-request track-sc are positioned and say what is expected.
func TestHTTPTrackCompileErrors(t *testing.T) {
	for _, tc := range []struct{ fe, want string }{
		{"    http-request track-sc0 src", `section "fe" has no stick-table`},
		{"    http-request track-sc3 src table fe", "out of range"},
		{"    stick-table type ip size 10\n    http-request track-sc0", "missing key"},
		{"    stick-table type ip size 10\n    http-request track-sc0 src table nope", `no stick-table named "nope"`},
		{"    stick-table type ip size 10\n    http-request track-sc0 nosuchfetch", "nosuchfetch"},
	} {
		cfg, err := decode(tc.fe)
		if err != nil {
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%q: decode error %v, want %q", tc.fe, err, tc.want)
			}
			continue
		}
		err = compileWithStick(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "test.cfg:") {
			t.Errorf("%q: error %v, want a positioned one containing %q", tc.fe, err, tc.want)
		}
	}
}

func decode(fe string) (*config.Config, error) {
	text := oneBackendConfig("127.0.0.1:1", fe, "")
	f, err := parseText(text)
	if err != nil {
		return nil, err
	}
	return config.Decode(f, config.Options{})
}

// compileWithStick is stickProgram returning the first error instead of failing.
func compileWithStick(cfg *config.Config) error {
	tables := tcprules.NewTables(stick.Options{})
	b := tables.Begin()
	rules := map[string]*tcprules.Rules{}
	for _, fe := range cfg.Frontends {
		r, err := tcprules.Compile(fe.Name, tcprules.Frontend, fe.Rules, fe.ACLs, b, tcprules.Options{ACL: fe.ACLs.Options()})
		if err != nil {
			return err
		}
		rules[fe.Name] = r
	}
	for _, be := range cfg.Backends {
		r, err := tcprules.Compile(be.Name, tcprules.Backend, be.Rules, be.ACLs, b, tcprules.Options{ACL: be.ACLs.Options()})
		if err != nil {
			return err
		}
		rules[be.Name] = r
	}
	if _, err := Compile(cfg, Options{Stick: func(n string) *tcprules.Rules { return rules[n] }, ACL: acl.Options{}}); err != nil {
		return err
	}
	_, err := b.Commit()
	return err
}

func parseText(text string) (*cfgfile.File, error) {
	return cfgfile.Parse("test.cfg", []byte(text), cfgfile.Options{})
}
