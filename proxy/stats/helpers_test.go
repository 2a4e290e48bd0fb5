package stats

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"appl/proxy/acl"
	"appl/proxy/config"
	"appl/proxy/http1"
)

// fakeSource is a Source over a fixed snapshot that records admin calls and applies
// them to its servers, as the data plane would.
type fakeSource struct {
	mu    sync.Mutex
	snap  Snapshot
	calls []string
}

func (f *fakeSource) Snapshot() *Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.snap
	s.Proxies = nil
	for _, p := range f.snap.Proxies {
		if p.Backend != nil {
			b := *p.Backend
			b.Servers = append([]Server(nil), b.Servers...)
			p.Backend = &b
		}
		s.Proxies = append(s.Proxies, p)
	}
	return &s
}

func (f *fakeSource) server(be, srv string) (*Server, error) {
	for i := range f.snap.Proxies {
		p := &f.snap.Proxies[i]
		if p.Name != be || p.Backend == nil {
			continue
		}
		for j := range p.Backend.Servers {
			if p.Backend.Servers[j].Name == srv {
				return &p.Backend.Servers[j], nil
			}
		}
		return nil, ErrNoServer
	}
	return nil, ErrNoBackend
}

func (f *fakeSource) SetServerState(be, srv string, st AdminState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.server(be, srv)
	if err != nil {
		return err
	}
	f.calls = append(f.calls, fmt.Sprintf("state %s/%s %s", be, srv, st))
	switch st {
	case AdminMaint:
		s.State = StateMaint
	case AdminDrain:
		s.State = StateDrain
	case AdminReady:
		s.State = StateUp
	}
	return nil
}

func (f *fakeSource) SetServerWeight(be, srv string, w int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.server(be, srv)
	if err != nil {
		return err
	}
	f.calls = append(f.calls, fmt.Sprintf("weight %s/%s %d", be, srv, w))
	s.Weight = w
	return nil
}

func (f *fakeSource) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// seedSource mirrors seed 002's HTTP listens and its stats listen.
func seedSource() *fakeSource {
	chk := func(h, of int) *Check {
		return &Check{Status: "L4OK", Desc: "Layer4 check passed", Duration: 2 * time.Millisecond, Last: t0, Health: h, HealthOf: of, Rise: 2, Fall: 3}
	}
	srv := func(name, addr string, st State, c *Check) Server {
		return Server{Name: name, Addr: addr, State: st, Weight: 1, ConfWeight: 1, LastChange: t0.Add(-90 * time.Second), Check: c,
			Counters: Counters{Cur: 2, Max: 5, Total: 40, BytesIn: 1000, BytesOut: 5000}}
	}
	return &fakeSource{snap: Snapshot{
		Now: t0, Started: t0.Add(-65 * time.Second), PID: 4242, Node: "lb1", Version: "0.9", MaxConn: 20000, CurConn: 3,
		Proxies: []Proxy{
			{Name: "haproxy_10.2.2.5_80", Mode: "http",
				Frontend: &Frontend{Counters: Counters{Cur: 4, Max: 9, Total: 80, BytesIn: 2000, BytesOut: 10000, DeniedReq: 1}},
				Backend: &Backend{Algo: "source", Counters: Counters{Cur: 4, Total: 80}, Servers: []Server{
					srv("http_srv-1", "198.18.6.1:80", StateUp, chk(3, 3)),
					srv("http_srv-2", "198.18.6.2:80", StateDown, &Check{Status: "L4CON", Desc: "Layer4 connection problem", Info: "Connection refused", Health: 1, HealthOf: 2, Rise: 2, Fall: 3, Failures: 4, Downs: 1}),
				}}},
			{Name: "stats", Mode: "http", Frontend: &Frontend{}, Backend: &Backend{}},
		},
	}}
}

// reqView is acl.HTTPView over a parsed request (what the http engine gives fetches).
type reqView struct{ r *http1.Request }

func (v reqView) Method() string { return string(v.r.Method()) }
func (v reqView) Path() string   { return string(v.r.Path()) }
func (v reqView) URI() string    { return string(v.r.Target()) }
func (v reqView) Query() string {
	q, _ := v.r.Query()
	return string(q)
}
func (v reqView) Header(name string) (string, bool) {
	b, ok := v.r.Header(name)
	return string(b), ok
}
func (v reqView) HeaderValues(name string) []string {
	var out []string
	for i := 0; i < v.r.Len(); i++ {
		h := v.r.At(i)
		if strings.EqualFold(string(h.Name), name) {
			out = append(out, string(h.Value))
		}
	}
	return out
}

// aclEnv answers userlists from a decoded configuration.
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

func parseReq(t testing.TB, raw string) *http1.Request {
	t.Helper()
	r := new(http1.Request)
	if _, err := r.Parse([]byte(raw), http1.Limits{}); err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return r
}

// response is a parsed answer of Respond.
type response struct {
	status  int
	head    string
	body    string
	handled bool
}

func (r response) header(name string) string {
	for _, l := range strings.Split(r.head, "\r\n")[1:] {
		k, v, _ := strings.Cut(l, ":")
		if strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func do(t testing.TB, p *Page, cfg *config.Config, raw string, body []byte) response {
	t.Helper()
	req := parseReq(t, raw)
	txn := &acl.Txn{HTTP: reqView{req}, Env: aclEnv{cfg}}
	var out []byte
	var status int
	var handled bool
	if body != nil {
		out, status, handled = p.RespondBody(nil, req, body, txn)
	} else {
		out, status, handled = p.Respond(nil, req, txn)
	}
	if !handled {
		return response{}
	}
	head, b, ok := strings.Cut(string(out), "\r\n\r\n")
	if !ok {
		t.Fatalf("response without head end: %q", out)
	}
	var code int
	fmt.Sscanf(head, "HTTP/1.1 %d", &code)
	if code != status {
		t.Fatalf("status %d but head says %q", status, head)
	}
	r := response{status: status, head: head, body: b, handled: true}
	if cl := r.header("content-length"); cl != fmt.Sprint(len(b)) && !strings.HasPrefix(raw, "HEAD") {
		t.Fatalf("content-length %s for %d body bytes", cl, len(b))
	}
	return r
}

func basic(user, pass string) string {
	return "Authorization: Basic " + b64(user+":"+pass) + "\r\n"
}
