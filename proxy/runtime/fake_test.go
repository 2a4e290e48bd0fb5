package runtime

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"appl/proxy/maps"
	"appl/proxy/stick"
)

// fakeServer is a server of the fake data plane.
type fakeServer struct {
	id      int
	name    string
	addr    string
	port    int
	weight  int
	iweight int
	state   AdminState
	backup  bool
}

type fakeBackend struct {
	id      int
	name    string
	servers []*fakeServer
}

type fakeFrontend struct {
	id      int
	name    string
	enabled bool
	maxconn int
}

// fakeTarget is a small data plane: two backends, one frontend, sessions,
// real stick tables and a real maps store.
type fakeTarget struct {
	mu        sync.Mutex
	backends  []*fakeBackend
	frontends []*fakeFrontend
	maxconn   int
	hardMax   int
	sessions  []Session
	tables    []*stick.Table
	store     *maps.Store
	panicInfo atomic.Bool
}

func newFakeTarget(t testing.TB) *fakeTarget {
	t.Helper()
	f := &fakeTarget{
		backends: []*fakeBackend{
			{id: 3, name: "be1", servers: []*fakeServer{
				{id: 1, name: "s1", addr: "127.0.0.1", port: 47101, weight: 10, iweight: 10, state: StateReady},
				{id: 2, name: "s2", addr: "127.0.0.1", port: 47102, weight: 20, iweight: 20, state: StateReady, backup: true},
			}},
			{id: 4, name: "be2", servers: []*fakeServer{
				{id: 1, name: "s3", addr: "127.0.0.1", port: 47103, weight: 1, iweight: 1, state: StateReady},
			}},
		},
		frontends: []*fakeFrontend{{id: 2, name: "fe", enabled: true, maxconn: 1000}},
		maxconn:   1000,
		hardMax:   4000,
		sessions: []Session{
			{ID: 0x1a2b, Proto: "tcpv4", Src: "127.0.0.1:40000", Frontend: "fe", Backend: "be1", Server: "s1", Age: 75 * time.Second, BytesIn: 10, BytesOut: 20},
			{ID: 0x3c4d, Proto: "tcpv4", Src: "127.0.0.2:40001", Frontend: "fe", Age: time.Second},
		},
		store: maps.NewStore(),
	}
	def, err := stick.ParseDef(strings.Fields("type ip size 100 expire 30m store conn_cnt,conn_rate(10s),server_id"))
	if err != nil {
		t.Fatal(err)
	}
	f.tables = append(f.tables, stick.New("be1", def, stick.Options{}))
	def2, err := stick.ParseDef(strings.Fields("type string len 32 size 10 store gpc0"))
	if err != nil {
		t.Fatal(err)
	}
	f.tables = append(f.tables, stick.New("st", def2, stick.Options{}))
	t.Cleanup(func() {
		for _, tb := range f.tables {
			tb.Close()
		}
	})

	dir := t.TempDir()
	mapFile := filepath.Join(dir, "hosts.map")
	aclFile := filepath.Join(dir, "white.acl")
	os.WriteFile(mapFile, []byte("10.0.0.0/8 be1\n192.168.1.1 be2\n"), 0o644)
	os.WriteFile(aclFile, []byte("127.0.0.1\n10.1.0.0/16\n"), 0o644)
	acl, err := f.store.Load(aclFile, aclFile, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acl.Index(maps.IP, false); err != nil {
		t.Fatal(err)
	}
	acl.NoteUse("acl", "appl.cfg", 13)
	m, err := f.store.Load(mapFile, mapFile, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Index(maps.IP, false); err != nil {
		t.Fatal(err)
	}
	m.NoteUse("map", "appl.cfg", 14)
	return f
}

func (f *fakeTarget) mapPath() string { return f.store.Refs(true)[0].Name() }
func (f *fakeTarget) aclPath() string { return f.store.Refs(false)[0].Name() }

func (f *fakeTarget) Info() []InfoField {
	if f.panicInfo.Load() {
		panic("boom")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return []InfoField{{"Name", "appl"}, {"Version", "0.1"}, {"Maxconn", strconv.Itoa(f.maxconn)}, {"Hard_maxconn", strconv.Itoa(f.hardMax)}}
}

func (f *fakeTarget) Stats() []StatRow {
	f.mu.Lock()
	defer f.mu.Unlock()
	var rows []StatRow
	for _, fe := range f.frontends {
		r := NewStatRow(fe.name, "", TypeFrontend, fe.id, 0)
		r.SetInt(ColScur, 0)
		r.SetInt(ColSlim, int64(fe.maxconn))
		if fe.enabled {
			r.SetStr(ColStatus, "OPEN")
		} else {
			r.SetStr(ColStatus, "STOP")
		}
		r.SetStr(ColMode, "tcp")
		rows = append(rows, r)
	}
	for _, be := range f.backends {
		for _, s := range be.servers {
			r := NewStatRow(be.name, s.name, TypeServer, be.id, s.id)
			r.SetInt(ColWeight, int64(s.weight))
			switch s.state {
			case StateMaint:
				r.SetStr(ColStatus, "MAINT")
			case StateDrain:
				r.SetStr(ColStatus, "DRAIN")
			default:
				r.SetStr(ColStatus, "UP")
			}
			r.SetStr(ColAddr, s.addr+":"+strconv.Itoa(s.port))
			rows = append(rows, r)
		}
		r := NewStatRow(be.name, "", TypeBackend, be.id, 0)
		r.SetStr(ColStatus, "UP")
		r.SetStr(ColAlgo, "roundrobin")
		rows = append(rows, r)
	}
	return rows
}

func (f *fakeTarget) ServersState(backend string) ([]ServerState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ServerState
	found := backend == ""
	for _, be := range f.backends {
		if backend != "" && be.name != backend {
			continue
		}
		found = true
		for _, s := range be.servers {
			st := ServerState{BackendID: be.id, Backend: be.name, ServerID: s.id, Server: s.name, Addr: s.addr,
				OpState: OpRunning, UWeight: s.weight, IWeight: s.iweight, LastChange: 3 * time.Second,
				CheckStatus: 1, CheckHealth: 2, Port: s.port}
			switch s.state {
			case StateMaint:
				st.AdminState = AdminForcedMaint
			case StateDrain:
				st.AdminState = AdminForcedDrain
			}
			out = append(out, st)
		}
	}
	if !found {
		return nil, ErrNoBackend
	}
	return out, nil
}

func (f *fakeTarget) server(be, srv string) (*fakeServer, error) {
	for _, b := range f.backends {
		if b.name == be {
			for _, s := range b.servers {
				if s.name == srv {
					return s, nil
				}
			}
			return nil, ErrNoServer
		}
	}
	return nil, ErrNoBackend
}

func (f *fakeTarget) SetServerState(be, srv string, st AdminState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.server(be, srv)
	if err != nil {
		return err
	}
	s.state = st
	return nil
}

func (f *fakeTarget) SetServerWeight(be, srv string, w int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.server(be, srv)
	if err != nil {
		return err
	}
	s.weight = w
	return nil
}

func (f *fakeTarget) frontend(name string) (*fakeFrontend, error) {
	for _, fe := range f.frontends {
		if fe.name == name {
			return fe, nil
		}
	}
	return nil, ErrNoFrontend
}

func (f *fakeTarget) EnableFrontend(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fe, err := f.frontend(name)
	if err != nil {
		return err
	}
	if fe.enabled {
		return ErrFrontendEnabled
	}
	fe.enabled = true
	return nil
}

func (f *fakeTarget) DisableFrontend(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fe, err := f.frontend(name)
	if err != nil {
		return err
	}
	if !fe.enabled {
		return ErrFrontendDisabled
	}
	fe.enabled = false
	return nil
}

func (f *fakeTarget) SetFrontendMaxConn(name string, n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fe, err := f.frontend(name)
	if err != nil {
		return err
	}
	fe.maxconn = n
	return nil
}

func (f *fakeTarget) SetGlobalMaxConn(n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n > f.hardMax {
		return ErrOutOfRange
	}
	if n == 0 {
		n = f.hardMax
	}
	f.maxconn = n
	return nil
}

func (f *fakeTarget) Sessions() []Session {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Session(nil), f.sessions...)
}

func (f *fakeTarget) ShutdownSession(id uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, s := range f.sessions {
		if s.ID == id {
			f.sessions = append(f.sessions[:i], f.sessions[i+1:]...)
			return nil
		}
	}
	return ErrNoSession
}

func (f *fakeTarget) Tables() []*stick.Table { return f.tables }
func (f *fakeTarget) Maps() MapStore         { return f.store }

// sockets is a running Server with one unix socket per level.
type sockets struct {
	srv  *Server
	path map[Level]string
	ft   *fakeTarget
}

func startSockets(t *testing.T) *sockets {
	t.Helper()
	ft := newFakeTarget(t)
	srv := NewServer(ft, nil)
	srv.Timeout = 5 * time.Second
	dir := t.TempDir()
	s := &sockets{srv: srv, path: map[Level]string{}, ft: ft}
	errs := make(chan error, 3)
	for _, lv := range []Level{LevelUser, LevelOperator, LevelAdmin} {
		p := filepath.Join(dir, lv.String()+".sock")
		l, err := Listen(p, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		s.path[lv] = p
		go func() { errs <- srv.Serve(l, lv) }()
	}
	t.Cleanup(func() {
		srv.Close()
		for range 3 {
			if err := <-errs; err != ErrServerClosed {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		}
	})
	return s
}

// socat sends one line the way `echo LINE | socat stdio SOCKET` does
// (line, then end of input) and reads the answer until the server closes.
func socat(t *testing.T, path, line string) string {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	c.(*net.UnixConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	return string(b)
}

func (s *sockets) admin(t *testing.T, line string) string { return socat(t, s.path[LevelAdmin], line) }

// readUntil reads from r until the data read ends with suffix.
func readUntil(t *testing.T, r *bufio.Reader, suffix string) string {
	t.Helper()
	var b strings.Builder
	for !strings.HasSuffix(b.String(), suffix) {
		c, err := r.ReadByte()
		if err != nil {
			t.Fatalf("reading until %q: %v (got %q)", suffix, err, b.String())
		}
		b.WriteByte(c)
	}
	return b.String()
}
