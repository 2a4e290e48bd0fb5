package httpmode

import (
	"bufio"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"appl/internal/cfgfile"
	"appl/proxy/acl"
	"appl/proxy/config"
)

// loadConfig decodes a configuration text.
func loadConfig(t testing.TB, text string) *config.Config {
	t.Helper()
	f, err := cfgfile.Parse("test.cfg", []byte(text), cfgfile.Options{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	cfg, err := config.Decode(f, config.Options{})
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return cfg
}

// tServer is a test implementation of Server: it dials its address and counts.
type tServer struct {
	name  string
	addr  string
	up    atomic.Bool
	pool  *Pool
	dials atomic.Int64
	slots atomic.Int64
	picks atomic.Int64
}

func (s *tServer) Name() string { return s.name }
func (s *tServer) Pool() *Pool  { return s.pool }
func (s *tServer) Release()     { s.slots.Add(-1) }
func (s *tServer) Dial(ctx context.Context) (net.Conn, error) {
	s.dials.Add(1)
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil || !testFD {
		return c, err
	}
	return toFDConn(c)
}

// testFD: the harness gives the engine *FDConn sockets on both sides (what appld does),
// unless APPL_TEST_TCPCONN=1 asks for package net's *net.TCPConn.
var testFD = os.Getenv("APPL_TEST_TCPCONN") != "1"

// toFDConn moves a TCP connection to an FDConn: a duplicate of its descriptor (the
// socket stays open when the net.Conn is closed), non-blocking as the original.
func toFDConn(c net.Conn) (net.Conn, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) { nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		derr = err
	}
	local, remote := addrPort(c.LocalAddr()), addrPort(c.RemoteAddr())
	c.Close()
	if derr != nil {
		return nil, derr
	}
	return NewFDConn(nfd, local, remote), nil
}

// tBackend is a test Backend: preferred server when up, else a hash of the key when
// valid, else round robin over the servers that are up.
type tBackend struct {
	name    string
	servers []*tServer
	mu      sync.Mutex
	rr      int
	keys    []string
}

func (b *tBackend) Name() string { return b.name }

func (b *tBackend) Pick(ctx context.Context, key HashKey, preferred string) (Server, PickInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var up []*tServer
	for _, s := range b.servers {
		if s.up.Load() {
			up = append(up, s)
		}
	}
	if len(up) == 0 {
		return nil, PickInfo{}, ErrNoServer
	}
	pick := func(s *tServer) (Server, PickInfo, error) {
		s.slots.Add(1)
		s.picks.Add(1)
		return s, PickInfo{}, nil
	}
	if preferred != "" {
		for _, s := range up {
			if s.name == preferred {
				return pick(s)
			}
		}
	}
	if key.Valid {
		h := fnv.New64a()
		if key.Addr.IsValid() {
			h.Write(key.Addr.AsSlice())
		}
		h.Write(key.Data)
		b.keys = append(b.keys, string(key.Data))
		return pick(up[h.Sum64()%uint64(len(up))])
	}
	b.rr++
	return pick(up[b.rr%len(up)])
}

// tEnv is a test Env holding backends and the log.
type tEnv struct {
	backends map[string]*tBackend
	discard  bool // benchmarks: format the line, keep nothing
	mu       sync.Mutex
	logs     []LogEntry
	lines    []string
	scratch  []byte
}

func (e *tEnv) Backend(name string) (Backend, bool) {
	b, ok := e.backends[name]
	if !ok {
		return nil, false
	}
	return b, true
}

func (e *tEnv) Log(le *LogEntry) {
	if e.discard {
		e.mu.Lock()
		e.scratch = le.AppendHTTPLog(e.scratch[:0])
		e.mu.Unlock()
		return
	}
	c := *le
	c.RequestLine = append([]byte(nil), le.RequestLine...)
	e.mu.Lock()
	e.logs = append(e.logs, c)
	e.lines = append(e.lines, string(le.AppendHTTPLog(nil)))
	e.mu.Unlock()
}

func (e *tEnv) Logs() []LogEntry {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]LogEntry(nil), e.logs...)
}

func (e *tEnv) lastLog(t testing.TB) LogEntry {
	t.Helper()
	var l []LogEntry
	waitFor(t, "a log entry", func() bool { l = e.Logs(); return len(l) > 0 })
	return l[len(l)-1]
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// harness runs a compiled frontend on a loopback listener.
type harness struct {
	t    testing.TB
	ln   net.Listener
	env  *tEnv
	fe   *Frontend
	prog *Program
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
	mu   sync.Mutex
	st   []SessionStats
}

// newHarness compiles cfg (addresses of servers are used as written) and serves the
// named frontend.
func newHarness(t testing.TB, cfg *config.Config, feName string, opt Options) *harness {
	t.Helper()
	prog, err := Compile(cfg, opt)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	env := &tEnv{backends: map[string]*tBackend{}}
	for _, b := range cfg.Backends {
		tb := &tBackend{name: b.Name}
		for _, s := range b.Servers {
			ts := &tServer{name: s.Name, addr: fmt.Sprintf("%s:%d", s.Address, s.Port), pool: NewPool(0, 0)}
			ts.up.Store(true)
			tb.servers = append(tb.servers, ts)
		}
		env.backends[b.Name] = tb
	}
	fe := prog.Frontend(feName)
	if fe == nil {
		t.Fatalf("no http frontend %q", feName)
	}
	ln := listenLoopback(t)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, ln: ln, env: env, fe: fe, prog: prog, ctx: ctx, stop: cancel}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if testFD {
				if c, err = toFDConn(c); err != nil {
					t.Errorf("toFDConn: %v", err)
					return
				}
			}
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				txn := &acl.Txn{Src: addrPort(c.RemoteAddr()), Dst: addrPort(c.LocalAddr()), FrontendName: feName, Env: aclEnv{cfg}}
				st := fe.Serve(ctx, c, time.Now(), env, txn)
				c.Close()
				h.mu.Lock()
				h.st = append(h.st, st)
				h.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(h.close)
	return h
}

func (h *harness) close() {
	h.stop()
	h.ln.Close()
	h.wg.Wait()
	for _, b := range h.env.backends {
		for _, s := range b.servers {
			s.pool.Close()
		}
	}
}

func (h *harness) addr() string { return h.ln.Addr().String() }

func (h *harness) server(be, name string) *tServer {
	for _, s := range h.env.backends[be].servers {
		if s.name == name {
			return s
		}
	}
	h.t.Fatalf("no server %s/%s", be, name)
	return nil
}

// listenLoopback listens on a port of a loopback address of its own (127.77.X.Y):
// the machine is shared with load tests that can exhaust the ports of 127.0.0.1.
func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	var last error
	for i := 0; i < 20; i++ {
		n := loopbackSeq.Add(1)
		a := fmt.Sprintf("127.77.%d.%d:0", (os.Getpid()+int(n)/250)%250+1, int(n)%250+1)
		ln, err := net.Listen("tcp", a)
		if err == nil {
			return ln
		}
		last = err
	}
	t.Fatalf("listen: %v", last)
	return nil
}

var loopbackSeq atomic.Int64

// aclEnv answers userlists from the decoded configuration.
type aclEnv struct{ cfg *config.Config }

func (e aclEnv) NbSrv(string) (int, bool) { return 0, false }
func (e aclEnv) Userlist(name string) acl.Userlist {
	for _, u := range e.cfg.Userlists {
		if u.Name == name {
			return u
		}
	}
	return nil
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return netip.AddrPort{}
}

// namedBackend is a net/http test server answering its name and recording requests.
type namedBackend struct {
	name  string
	srv   *httptest.Server
	conns atomic.Int64
	mu    sync.Mutex
	reqs  []*http.Request
}

func newNamedBackend(t testing.TB, name string, h http.HandlerFunc) *namedBackend {
	b := &namedBackend{name: name}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.reqs = append(b.reqs, r.Clone(context.Background()))
		b.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("X-Server", name)
		io.WriteString(w, name)
	}))
	b.srv.Listener.Close()
	b.srv.Listener = listenLoopback(t)
	b.srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateNew {
			b.conns.Add(1)
		}
	}
	b.srv.Start()
	t.Cleanup(b.srv.Close)
	return b
}

func (b *namedBackend) hostPort() string { return strings.TrimPrefix(b.srv.URL, "http://") }

func (b *namedBackend) requests() []*http.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*http.Request(nil), b.reqs...)
}

// rawExchange writes req on a new connection and reads everything until the proxy
// closes or timeout passes.
func rawExchange(t testing.TB, addr, req string, timeout time.Duration) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

// readResponse reads one response from a buffered connection.
func readResponse(t testing.TB, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
