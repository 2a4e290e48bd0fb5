package admin

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeNode is a node whose single VRRP instance obeys demotion at once, and whose
// peer (another fakeNode) takes over when this one is demoted, as a VRRP pair would.
type fakeNode struct {
	mu      sync.Mutex
	name    string
	state   string
	demoted bool
	checkOK bool
	peer    *fakeNode
	lines   []string
	events  chan Event
}

func newFake(name, state string) *fakeNode {
	return &fakeNode{name: name, state: state, checkOK: true, events: make(chan Event, 8)}
}

func (f *fakeNode) Status() NodeStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return NodeStatus{Node: f.name, Ready: true, Demoted: f.demoted, ConfigHash: "h",
		VRRP:   []Instance{{Name: "vi_1", State: f.state, Priority: 100}},
		Checks: []CheckStatus{{Name: "web", Backend: "bk", MinUp: 1, Up: 1, OK: f.checkOK}}}
}

func (f *fakeNode) Demote(on bool) error {
	f.mu.Lock()
	f.demoted = on
	wasMaster := f.state == "MASTER"
	if on && wasMaster {
		f.state = "BACKUP"
	}
	p := f.peer
	f.mu.Unlock()
	if on && wasMaster && p != nil {
		p.mu.Lock()
		p.state = "MASTER"
		p.mu.Unlock()
	}
	if !on && p != nil {
		// Undemoted with the higher priority: preempts.
		f.mu.Lock()
		f.state = "MASTER"
		f.mu.Unlock()
		p.mu.Lock()
		p.state = "BACKUP"
		p.mu.Unlock()
	}
	return nil
}

func (f *fakeNode) Reload() ReloadResult {
	return ReloadResult{Errors: []string{"x.cfg:3: bogus: unknown keyword"}}
}
func (f *fakeNode) CheckConfig(data []byte) ReloadResult {
	if strings.Contains(string(data), "bad") {
		return ReloadResult{Errors: []string{"x.cfg:1: bad"}}
	}
	return ReloadResult{OK: true, ConfigHash: "abc"}
}
func (f *fakeNode) Runtime(line string) string {
	f.mu.Lock()
	f.lines = append(f.lines, line)
	f.mu.Unlock()
	if strings.Contains(line, "/nope ") {
		return "No such server.\n\n"
	}
	return "\n"
}
func (f *fakeNode) Subscribe() (<-chan Event, func()) { return f.events, func() {} }

const token = "0123456789abcdef-token"

// httpsPeer serves f's API over TLS with the token and returns a client to it.
func httpsPeer(t *testing.T, f *fakeNode, peerOf *Client) (*Server, *Client) {
	t.Helper()
	s := New(f, Options{Token: token, Peer: peerOf})
	ts := httptest.NewUnstartedServer(s.TokenHandler())
	ts.TLS = &tls.Config{}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	c, err := NewHTTPSClient(strings.TrimPrefix(ts.URL, "https://"), token, "")
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func unixServer(t *testing.T, s *Server) (*Client, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "admin.sock")
	l, err := ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(l, nil) }()
	t.Cleanup(func() { s.Close() })
	return NewUnixClient(path), path
}

func TestUnixSocketMode0600AndStaleReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.sock")
	// A stale socket file from a killed process is replaced.
	l0, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l0.(*net.UnixListener).SetUnlinkOnClose(false)
	l0.Close()
	l, err := ListenUnix(path)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket %v %v, want a 0600 socket", st.Mode(), err)
	}
	// A live one is not stolen.
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if _, err := ListenUnix(path); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("second listener on a live socket: %v", err)
	}
	l.Close()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file left after close: %v", err)
	}
}

func TestTokenAndCSRF(t *testing.T) {
	f := newFake("n1", "MASTER")
	_, good := httpsPeer(t, f, nil)
	if _, err := good.Status(context.Background(), true); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	bad, _ := NewHTTPSClient(good.Where, "wrong-token-wrong-token", "")
	var ae *APIError
	if _, err := bad.Status(context.Background(), true); !errors.As(err, &ae) || ae.Status != 401 {
		t.Fatalf("wrong token: %v", err)
	}
	none, _ := NewHTTPSClient(good.Where, "", "")
	if _, err := none.Status(context.Background(), true); !errors.As(err, &ae) || ae.Status != 401 {
		t.Fatalf("no token: %v", err)
	}
	// A write without the CSRF header (what a cross-site form post looks like) is refused
	// even with the right credentials.
	req, _ := http.NewRequest("POST", "https://"+good.Where+"/v1/reload", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := good.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST without %s: %d", CSRFHeader, resp.StatusCode)
	}
}

func TestServerStateGoesThroughRuntimeExec(t *testing.T) {
	f := newFake("n1", "MASTER")
	c, _ := unixServer(t, New(f, Options{}))
	ctx := context.Background()
	if err := c.SetServerState(ctx, "bk", "s1", "maint"); err != nil {
		t.Fatal(err)
	}
	var ae *APIError
	if err := c.SetServerState(ctx, "bk", "nope", "drain"); !errors.As(err, &ae) || ae.Status != 404 || !strings.Contains(ae.Msg, "No such server") {
		t.Fatalf("unknown server: %v", err)
	}
	if err := c.SetServerState(ctx, "bk", "s1", "up"); !errors.As(err, &ae) || ae.Status != 400 {
		t.Fatalf("bad state: %v", err)
	}
	// A name cannot smuggle a second runtime command.
	if err := c.SetServerState(ctx, "bk;shutdown sessions", "s1", "maint"); !errors.As(err, &ae) || ae.Status != 400 {
		t.Fatalf("injected name: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	want := []string{"set server bk/s1 state maint", "set server bk/nope state drain"}
	if strings.Join(f.lines, "|") != strings.Join(want, "|") {
		t.Fatalf("runtime lines %q, want %q", f.lines, want)
	}
}

func TestReloadAndCheckRefusals(t *testing.T) {
	c, _ := unixServer(t, New(newFake("n1", "MASTER"), Options{}))
	ctx := context.Background()
	res, err := c.Reload(ctx)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 422 || len(ae.Errors) != 1 || !strings.Contains(ae.Msg, "refused") || res.OK {
		t.Fatalf("refused reload: %v %+v", err, res)
	}
	if res, err := c.CheckConfig(ctx, []byte("good")); err != nil || !res.OK || res.ConfigHash != "abc" {
		t.Fatalf("check good: %v %+v", err, res)
	}
	if _, err := c.CheckConfig(ctx, []byte("bad")); !errors.As(err, &ae) || ae.Status != 422 {
		t.Fatalf("check bad: %v", err)
	}
}

func TestFailoverHandsOverAndBack(t *testing.T) {
	n1, n2 := newFake("n1", "MASTER"), newFake("n2", "BACKUP")
	n1.peer, n2.peer = n2, n1
	// Each node reaches the other over HTTPS.
	var c1, c2 *Client
	s2 := New(n2, Options{Token: token})
	ts2 := httptest.NewUnstartedServer(s2.TokenHandler())
	ts2.TLS = &tls.Config{}
	ts2.StartTLS()
	defer ts2.Close()
	c2, _ = NewHTTPSClient(strings.TrimPrefix(ts2.URL, "https://"), token, "")
	s1 := New(n1, Options{Token: token, Peer: c2})
	ts1 := httptest.NewUnstartedServer(s1.TokenHandler())
	ts1.TLS = &tls.Config{}
	ts1.StartTLS()
	defer ts1.Close()
	c1, _ = NewHTTPSClient(strings.TrimPrefix(ts1.URL, "https://"), token, "")
	s2.opts.Peer = c1

	local1, _ := unixServer(t, s1)
	ctx := context.Background()
	res, err := local1.Failover(ctx, FailoverRequest{Wait: true})
	if err != nil || res.Master != "n2" || res.From != "n1" || !res.Waited || len(res.Instances) != 1 {
		t.Fatalf("failover: %v %+v", err, res)
	}
	if n1.Status().VRRP[0].State != "BACKUP" || !n1.Status().Demoted {
		t.Fatalf("n1 after failover: %+v", n1.Status())
	}
	// Nothing to hand over now.
	var ae *APIError
	if _, err := local1.Failover(ctx, FailoverRequest{Wait: true}); !errors.As(err, &ae) || ae.Status != 409 || !strings.Contains(ae.Msg, "master of no instance") {
		t.Fatalf("failover from a backup: %v", err)
	}
	// --to n1 from n1: n2 clears n1's demotion and steps down.
	res, err = local1.Failover(ctx, FailoverRequest{To: "n1", Wait: true})
	if err != nil || res.Master != "n1" {
		t.Fatalf("failover --to n1: %v %+v", err, res)
	}
	if n1.Status().Demoted || n1.Status().VRRP[0].State != "MASTER" {
		t.Fatalf("n1 after taking over: %+v", n1.Status())
	}
	// An unknown target is refused.
	if _, err := local1.Failover(ctx, FailoverRequest{To: "n7"}); !errors.As(err, &ae) || ae.Status != 400 {
		t.Fatalf("--to n7: %v", err)
	}
}

func TestFailoverRefusesUnhealthyOrUnreachablePeer(t *testing.T) {
	n1, n2 := newFake("n1", "MASTER"), newFake("n2", "FAULT")
	n1.peer = n2
	_, c2 := httpsPeer(t, n2, nil)
	local, _ := unixServer(t, New(n1, Options{Peer: c2}))
	ctx := context.Background()
	var ae *APIError
	if _, err := local.Failover(ctx, FailoverRequest{Wait: true}); !errors.As(err, &ae) || ae.Status != 409 || !strings.Contains(ae.Msg, "vi_1 is FAULT") {
		t.Fatalf("faulty peer: %v", err)
	}
	n2.mu.Lock()
	n2.state, n2.checkOK = "BACKUP", false
	n2.mu.Unlock()
	if _, err := local.Failover(ctx, FailoverRequest{Wait: true}); !errors.As(err, &ae) || !strings.Contains(ae.Msg, "check web failing") {
		t.Fatalf("peer with a failing check: %v", err)
	}
	if n1.Status().VRRP[0].State != "MASTER" || n1.Status().Demoted {
		t.Fatal("a refused failover demoted the node")
	}
	// --force goes ahead.
	res, err := local.Failover(ctx, FailoverRequest{Wait: true, Force: true})
	if err != nil || res.Master != "n2" || !res.Forced || !strings.Contains(res.Note, "forced") {
		t.Fatalf("forced: %v %+v", err, res)
	}

	// Unreachable peer: refused, with a message naming the address.
	m := newFake("m", "MASTER")
	dead, _ := NewHTTPSClient("127.0.0.1:1", token, "")
	lc, _ := unixServer(t, New(m, Options{Peer: dead}))
	_, err = lc.Failover(ctx, FailoverRequest{Wait: true})
	if !errors.As(err, &ae) || !strings.Contains(ae.Msg, "127.0.0.1:1 unreachable") {
		t.Fatalf("unreachable peer: %v", err)
	}
	st, err := lc.Status(ctx, false)
	if err != nil || st.Local.Node != "m" || st.Peer != nil || !strings.Contains(st.PeerError, "unreachable") {
		t.Fatalf("status with an unreachable peer: %v %+v", err, st)
	}
}

func TestClientErrorsNameTheCause(t *testing.T) {
	dir := t.TempDir()
	_, err := NewUnixClient(filepath.Join(dir, "missing.sock")).Status(context.Background(), true)
	if !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("missing socket: %v", err)
	}
}

func TestEventsStream(t *testing.T) {
	f := newFake("n1", "MASTER")
	c, _ := unixServer(t, New(f, Options{}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := make(chan Event, 1)
	go func() {
		_ = c.Events(ctx, func(e Event) {
			got <- e
			cancel()
		})
	}()
	f.events <- Event{Kind: "vrrp", Instance: "vi_1", From: "BACKUP", To: "MASTER"}
	select {
	case e := <-got:
		b, _ := json.Marshal(e)
		if e.Kind != "vrrp" || e.To != "MASTER" {
			t.Fatalf("event %s", b)
		}
	case <-ctx.Done():
		t.Fatal("no event")
	}
}

// POST /v1/runtime runs one runtime line and returns its answer; a body with line breaks
// (a second command smuggled in) or no command is refused before the node sees it.
func TestRuntimeEndpoint(t *testing.T) {
	f := newFake("n1", "MASTER")
	c, _ := unixServer(t, New(f, Options{}))
	ctx := context.Background()
	out, err := c.Runtime(ctx, "show map ./map")
	if err != nil || out != "\n" {
		t.Fatalf("show map: %q %v", out, err)
	}
	var ae *APIError
	for _, bad := range []string{"show map\nshutdown sessions", "show map\r", "   "} {
		if _, err := c.Runtime(ctx, bad); !errors.As(err, &ae) || ae.Status != 400 {
			t.Fatalf("command %q: %v, want 400", bad, err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.Join(f.lines, "|") != "show map ./map" {
		t.Fatalf("runtime lines %q, want only the valid one", f.lines)
	}
}
