package appliance

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"appl/appliance/cluster"
	"appl/proxy"
	"appl/proxy/accesslog"
	"appl/proxy/config"
	"appl/proxy/maps"
	"appl/proxy/runtime"
	"appl/proxy/stats"
	"appl/proxy/stick"
)

// runtimeTarget exposes a running node to the runtime API (stats socket). It reads the
// proxy's public Status and calls its setters: the runtime package never sees the data
// plane, and the data plane never sees the socket protocol.
type runtimeTarget struct {
	node    *Node
	store   *maps.Store
	started time.Time
}

func (t *runtimeTarget) proxy() *proxy.Proxy {
	t.node.mu.Lock()
	defer t.node.mu.Unlock()
	return t.node.proxy
}

func (t *runtimeTarget) cfg() *config.Config { return t.node.Config().Proxy }

func (t *runtimeTarget) Info() []runtime.InfoField {
	st := t.proxy().Status()
	g := t.cfg().Global
	up := time.Since(t.started)
	return []runtime.InfoField{
		{Name: "Name", Value: "appl"},
		{Name: "Version", Value: t.node.opts.Version},
		{Name: "Release_date", Value: ""},
		{Name: "Nbthread", Value: strconv.Itoa(max(g.NbThread, 1))},
		{Name: "Nbproc", Value: "1"},
		{Name: "Process_num", Value: "1"},
		{Name: "Pid", Value: strconv.Itoa(os.Getpid())},
		{Name: "Uptime", Value: fmt.Sprintf("%dd %dh%02dm%02ds", int(up.Hours())/24, int(up.Hours())%24, int(up.Minutes())%60, int(up.Seconds())%60)},
		{Name: "Uptime_sec", Value: strconv.Itoa(int(up.Seconds()))},
		{Name: "Maxconn", Value: strconv.Itoa(t.proxy().GlobalMaxConn())},
		{Name: "CurrConns", Value: strconv.FormatInt(st.ActConn, 10)},
		{Name: "Panics", Value: strconv.FormatInt(st.Panics, 10)},
		{Name: "Node", Value: hostname()},
		{Name: "DroppedLogs", Value: strconv.FormatInt(accesslog.Dropped(), 10)},
	}
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// Stats renders the same rows as the stats page's ;csv (proxy/stats): one source for
// both, so the socket and the page never disagree.
func (t *runtimeTarget) Stats() []runtime.StatRow {
	return stats.Rows(t.proxy().StatsSnapshot())
}

func (t *runtimeTarget) ServersState(backend string) ([]runtime.ServerState, error) {
	st := t.proxy().Status()
	cfg := t.cfg()
	var out []runtime.ServerState
	found := backend == ""
	for i, be := range st.Backends {
		if backend != "" && be.Name != backend {
			continue
		}
		found = true
		bcfg := cfg.Backend(be.Name)
		for j, s := range be.Servers {
			ss := runtime.ServerState{BackendID: len(st.Frontends) + i + 1, Backend: be.Name, ServerID: j + 1, Server: s.Name,
				UWeight: s.Weight, IWeight: s.ConfWeight, FQDN: "-", CheckAddr: "-", AgentAddr: "-"}
			ss.Addr, ss.Port = splitAddr(s.Address)
			switch s.State {
			case proxy.StateUp, proxy.StateDrain:
				ss.OpState = runtime.OpRunning
			default:
				ss.OpState = runtime.OpStopped
			}
			switch s.Admin {
			case proxy.AdminMaint:
				ss.AdminState = runtime.AdminForcedMaint
			case proxy.AdminDrain:
				ss.AdminState = runtime.AdminForcedDrain
			}
			if !s.LastChange.IsZero() {
				ss.LastChange = time.Since(s.LastChange)
			}
			ss.CheckHealth = s.Health
			if bcfg != nil && j < len(bcfg.Servers) {
				ss.CheckPort = bcfg.Servers[j].CheckPort
			}
			out = append(out, ss)
		}
	}
	if !found {
		return nil, runtime.ErrNoBackend
	}
	return out, nil
}

func splitAddr(a string) (string, int) {
	i := strings.LastIndexByte(a, ':')
	if i < 0 {
		return a, 0
	}
	p, _ := strconv.Atoi(a[i+1:])
	return strings.Trim(a[:i], "[]"), p
}

// serverError turns the proxy's lookup errors into HAProxy's answers.
func (t *runtimeTarget) serverError(backend, server string, err error) error {
	if err == nil {
		return nil
	}
	if t.cfg().Backend(backend) == nil {
		return runtime.ErrNoBackend
	}
	if strings.Contains(err.Error(), "no such server") {
		return runtime.ErrNoServer
	}
	return err
}

func (t *runtimeTarget) SetServerState(backend, server string, st runtime.AdminState) error {
	var a proxy.AdminState
	switch st {
	case runtime.StateReady:
		a = proxy.AdminReady
	case runtime.StateDrain:
		a = proxy.AdminDrain
	case runtime.StateMaint:
		a = proxy.AdminMaint
	default:
		return fmt.Errorf("unknown state %v", st)
	}
	return t.serverError(backend, server, t.proxy().SetServerState(backend, server, a))
}

func (t *runtimeTarget) SetServerWeight(backend, server string, w int) error {
	if w < 0 || w > 256 {
		return runtime.ErrOutOfRange
	}
	return t.serverError(backend, server, t.proxy().SetServerWeight(backend, server, w))
}

func (t *runtimeTarget) EnableFrontend(name string) error {
	return frontendError(t.proxy().EnableFrontend(name), runtime.ErrFrontendEnabled)
}

func (t *runtimeTarget) DisableFrontend(name string) error {
	return frontendError(t.proxy().DisableFrontend(name), runtime.ErrFrontendDisabled)
}

func frontendError(err, unchanged error) error {
	switch {
	case errors.Is(err, proxy.ErrNoFrontend):
		return runtime.ErrNoFrontend
	case errors.Is(err, proxy.ErrUnchanged):
		return unchanged
	}
	return err
}

func (t *runtimeTarget) SetFrontendMaxConn(name string, n int) error {
	if n < 0 {
		return runtime.ErrOutOfRange
	}
	return frontendError(t.proxy().SetFrontendMaxConn(name, n), nil)
}

func (t *runtimeTarget) SetGlobalMaxConn(n int) error {
	if n < 0 {
		return runtime.ErrOutOfRange
	}
	return t.proxy().SetGlobalMaxConn(n)
}

func (t *runtimeTarget) Sessions() []runtime.Session {
	ss := t.proxy().Sessions()
	out := make([]runtime.Session, 0, len(ss))
	for _, s := range ss {
		rs := runtime.Session{ID: s.ID, Proto: "tcpv4", Src: s.Src, Frontend: s.Frontend, Backend: s.Backend, Server: s.Server,
			Age: s.Age, BytesIn: uint64(s.BytesIn), BytesOut: uint64(s.BytesOut)}
		if s.IPv6 {
			rs.Proto = "tcpv6"
		}
		if rs.Backend == "" {
			rs.Backend = "<NONE>"
		}
		if rs.Server == "" {
			rs.Server = "<none>"
		}
		out = append(out, rs)
	}
	return out
}

func (t *runtimeTarget) ShutdownSession(id uint64) error {
	if err := t.proxy().ShutdownSession(id); errors.Is(err, proxy.ErrNoSession) {
		return runtime.ErrNoSession
	} else {
		return err
	}
}

func (t *runtimeTarget) Tables() []*stick.Table { return t.proxy().Tables() }
func (t *runtimeTarget) Maps() runtime.MapStore { return t.store }

// openStatsSockets serves the runtime API on every `stats socket` of the global section.
// A socket that cannot be opened is logged and skipped: the node keeps running what it can.
// The server is returned even without sockets: the admin API runs its commands.
func (n *Node) openStatsSockets() *runtime.Server {
	socks := n.cfg.Proxy.Global.StatsSockets
	srv := runtime.NewServer(&runtimeTarget{node: n, store: n.opts.Maps, started: time.Now()}, n.log.Named("runtime"))
	if g := n.cfg.Proxy.Global; g.StatsTimeout > 0 {
		srv.Timeout = g.StatsTimeout
	}
	if g := n.cfg.Proxy.Global; g.StatsMaxConn > 0 {
		srv.MaxConns = g.StatsMaxConn
	}
	if n.cfg.Cluster != nil && n.front == nil {
		n.front = cluster.NewFront(srv, n.writes())
	}
	for _, s := range socks {
		mode := os.FileMode(s.Mode)
		if mode == 0 {
			mode = 0o600
		}
		level := runtime.DefaultLevel
		if s.Level != "" {
			l, err := runtime.ParseLevel(s.Level)
			if err != nil {
				n.log.Error("stats socket", zap.String("addr", s.Address), zap.Error(err))
				continue
			}
			level = l
		}
		so, err := socketOwner(s.User, s.Group)
		if err != nil {
			n.log.Error("stats socket not opened", zap.String("pos", s.Pos.String()), zap.Error(err))
			continue
		}
		so.Mode = mode
		l, err := runtime.ListenWith(s.Address, so)
		if err != nil {
			n.log.Error("stats socket not opened", zap.String("pos", s.Pos.String()), zap.Error(err))
			continue
		}
		n.log.Info("runtime API listening", zap.String("addr", s.Address), zap.String("level", level.String()))
		if n.front != nil {
			go func() { _ = n.front.Serve(l, level) }()
			continue
		}
		go func() { _ = srv.Serve(l, level) }()
	}
	return srv
}

// socketOwner resolves a stats socket's `user`/`uid` and `group`/`gid` (names
// or numbers); empty ones keep the process's own (-1).
func socketOwner(usr, grp string) (runtime.SocketOptions, error) {
	o := runtime.SocketOptions{UID: -1, GID: -1}
	if usr != "" {
		id, err := strconv.Atoi(usr)
		if err != nil {
			u, lerr := user.Lookup(usr)
			if lerr != nil {
				return o, fmt.Errorf("stats socket user %q: %v", usr, lerr)
			}
			id, _ = strconv.Atoi(u.Uid)
		}
		o.UID = id
	}
	if grp != "" {
		id, err := strconv.Atoi(grp)
		if err != nil {
			g, lerr := user.LookupGroup(grp)
			if lerr != nil {
				return o, fmt.Errorf("stats socket group %q: %v", grp, lerr)
			}
			id, _ = strconv.Atoi(g.Gid)
		}
		o.GID = id
	}
	return o, nil
}
