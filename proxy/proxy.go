package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"appl/proxy/accesslog"
	"appl/proxy/acl"
	"appl/proxy/balance"
	"appl/proxy/check"
	"appl/proxy/config"
	"appl/proxy/httpmode"
	"appl/proxy/stick"
	"appl/proxy/tcprules"
)

// Options tune a Proxy beyond its configuration.
type Options struct {
	// LogTag is the syslog tag of access and state lines; "haproxy" by default, so that
	// existing rsyslog rules and log parsers keep matching.
	LogTag string
	// ResolveTimeout bounds each server name lookup at New and Reload (default 5s).
	ResolveTimeout time.Duration
	// AcceptProxyTimeout bounds waiting for a PROXY header when the frontend has no
	// timeout client (default 5s).
	AcceptProxyTimeout time.Duration
	// ParkAfter is how long a quiet connection keeps its two forwarding goroutines before
	// it parks in the shared epoll set (relay.DefaultParkAfter when 0, never when < 0).
	ParkAfter time.Duration
	// HAProxyStickCounts makes `stick on`/`stick store-*` entries count nothing, as
	// HAProxy 2.6 does (appl counts conn_cnt etc. on them by default, see tcprules).
	HAProxyStickCounts bool
	// PurgeEvery is how often expired stick-table entries are purged (default 1s).
	PurgeEvery time.Duration
}

// Proxy is the running data plane.
type Proxy struct {
	log  *zap.Logger
	opts Options

	mu        sync.Mutex // Start, Reload, Shutdown, admin changes
	cur       atomic.Pointer[generation]
	listeners map[string]*listener
	servers   map[string]*server
	sinks     map[string]*accesslog.Sink
	started   bool
	stopped   bool
	// statsWanted: the first configuration has a stats page; New starts its sampler.
	statsWanted bool
	quit        chan struct{} // closed by Shutdown: accept loops and queues stop
	checkCtx    context.Context
	stopCheck   context.CancelFunc
	// drainCtx is done once Shutdown began: http sessions close when idle.
	drainCtx   context.Context
	startDrain context.CancelFunc
	checks     sync.WaitGroup

	// tables are the stick tables, kept across reloads (tcprules.Tables.Begin at build,
	// Commit when the generation is committed).
	tables *tcprules.Tables

	actconn atomic.Int64
	panics  atomic.Int64
	global  atomic.Pointer[limiter]

	sessMu   sync.Mutex
	sessions sessList
	drained  chan struct{} // signalled when actconn drops to 0 after Shutdown began

	subMu sync.Mutex
	subs  map[*subscriber]struct{}

	// testHook runs at the start of each connection's handling (tests inject panics).
	testHook atomic.Pointer[func()]
}

// generation is one configuration as it runs.
type generation struct {
	cfg       *config.Config
	frontends []*frontend
	backends  map[string]*backend
	order     []*backend
	loaded    time.Time
	rules     *tcprules.Build // committed with the generation
	// http is the compiled `mode http` engine of this configuration (nil without http
	// proxies); httpBE its backends as the engine sees them, by name.
	http   *httpmode.Program
	httpBE map[string]httpmode.Backend
}

// New validates cfg and prepares a Proxy: addresses resolved, algorithms and checks
// compiled, log targets opened. Nothing listens until Start.
func New(cfg *config.Config, log *zap.Logger, opts Options) (*Proxy, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if opts.LogTag == "" {
		opts.LogTag = "haproxy"
	}
	if opts.ResolveTimeout <= 0 {
		opts.ResolveTimeout = 5 * time.Second
	}
	if opts.AcceptProxyTimeout <= 0 {
		opts.AcceptProxyTimeout = 5 * time.Second
	}
	p := &Proxy{
		log: log, opts: opts,
		listeners: map[string]*listener{},
		servers:   map[string]*server{},
		sinks:     map[string]*accesslog.Sink{},
		quit:      make(chan struct{}),
		subs:      map[*subscriber]struct{}{},
		drained:   make(chan struct{}, 1),
		tables:    tcprules.NewTables(stick.Options{}),
	}
	if opts.PurgeEvery <= 0 {
		p.opts.PurgeEvery = time.Second
	}
	p.checkCtx, p.stopCheck = context.WithCancel(context.Background())
	p.drainCtx, p.startDrain = context.WithCancel(context.Background())
	g, pend, err := p.build(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := g.rules.Commit(); err != nil {
		return nil, err
	}
	p.commitServers(pend)
	p.global.Store(newLimiter(cfg.Global.MaxConn))
	p.cur.Store(g)
	if p.statsWanted {
		p.sampler()
	}
	return p, nil
}

// Start opens every listener and starts health checks. On error, nothing stays open.
func (p *Proxy) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		return errors.New("proxy: already started")
	}
	if p.stopped {
		return errors.New("proxy: shut down")
	}
	g := p.cur.Load()
	opened, err := p.openListeners(g)
	if err != nil {
		return err
	}
	p.started = true
	p.attach(g, opened)
	go p.purgeLoop()
	for _, be := range g.order {
		for _, s := range be.servers {
			sp := s.spec.Load()
			if sp.probe != nil {
				p.startCheck(p.checkCtx, s, initialDelay(sp.params.Inter))
			}
		}
	}
	return nil
}

// Reload swaps in a new configuration. Listeners on unchanged addresses keep their
// socket; new ones are opened, removed ones closed. Established connections finish on
// the generation they started with. Server health, counters, sessions and runtime
// settings carry over by backend and server name. On error nothing changes.
func (p *Proxy) Reload(cfg *config.Config) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return errors.New("proxy: shut down")
	}
	g, pend, err := p.build(cfg)
	if err != nil {
		return err
	}
	var opened map[string]*listener
	if p.started {
		if opened, err = p.openListeners(g); err != nil {
			p.closeUnusedSinks(p.cur.Load())
			return err
		}
	}
	if ch, err := g.rules.Commit(); err != nil {
		for _, l := range opened {
			l.ln.Close()
		}
		p.closeUnusedSinks(p.cur.Load())
		return err
	} else {
		for _, w := range ch.Warnings {
			p.log.Warn("stick table not carried over", zap.Error(w))
		}
	}
	old := p.cur.Load()
	p.commitServers(pend)
	if cfg.Global.MaxConn != old.cfg.Global.MaxConn {
		p.global.Load().setMax(cfg.Global.MaxConn)
	}
	p.cur.Store(g)
	for _, fe := range g.frontends {
		fe.limit.setMax(fe.cfg.MaxConn)
	}
	if p.started {
		p.attach(g, opened)
	}
	// Servers gone from the configuration stop checking; kept ones restart with the new
	// parameters, continuing from their current health.
	live := map[*server]bool{}
	for _, be := range g.order {
		for _, s := range be.servers {
			live[s] = true
		}
	}
	for k, s := range p.servers {
		if !live[s] {
			s.stopCheck()
			s.closePool()
			delete(p.servers, k)
		}
	}
	if p.started {
		for _, be := range g.order {
			for _, s := range be.servers {
				sp := s.spec.Load()
				if sp.probe != nil {
					p.startCheck(p.checkCtx, s, sp.params.FastInter)
				} else {
					s.stopCheck()
				}
			}
		}
	}
	// Connections queued in the old generation move to the new backend of that name.
	for _, ob := range old.order {
		if nb := g.backends[ob.name]; nb != nil {
			ob.mu.Lock()
			for ob.queue.Len() > 0 {
				w := ob.queue.Remove(ob.queue.Front()).(*waiter)
				nb.mu.Lock()
				w.elem = nb.queue.PushBack(w)
				nb.mu.Unlock()
			}
			ob.mu.Unlock()
			nb.dispatch()
		}
	}
	p.closeUnusedSinks(g)
	p.log.Info("configuration reloaded", zap.Int("frontends", len(g.frontends)), zap.Int("backends", len(g.order)))
	return nil
}

// Shutdown stops accepting, lets connections drain until ctx ends, then closes the rest.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return nil
	}
	p.stopped = true
	close(p.quit)
	p.startDrain()
	for k, l := range p.listeners {
		l.close()
		delete(p.listeners, k)
	}
	p.stopCheck()
	p.mu.Unlock()
	p.checks.Wait()

	for p.actconn.Load() > 0 {
		select {
		case <-p.drained:
		case <-ctx.Done():
			n := p.killAll('K')
			p.log.Warn("hard stop: closing remaining connections", zap.Int("connections", n))
			p.waitIdle(5 * time.Second)
			p.closePools()
			p.closeSinks()
			return ctx.Err()
		}
	}
	p.closePools()
	p.closeSinks()
	return nil
}

// closePools closes the idle http server connections at the end of Shutdown.
func (p *Proxy) closePools() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.servers {
		s.closePool()
	}
}

func (p *Proxy) waitIdle(limit time.Duration) {
	t := time.NewTimer(limit)
	defer t.Stop()
	for p.actconn.Load() > 0 {
		select {
		case <-p.drained:
		case <-t.C:
			return
		}
	}
}

// pending is a server change applied when a build commits.
type pending struct {
	s     *server
	spec  *serverSpec
	owner *backend
	isNew bool
}

// build turns cfg into a generation without touching the running one.
func (p *Proxy) build(cfg *config.Config) (*generation, []pending, error) {
	if cfg == nil {
		return nil, nil, errors.New("proxy: no configuration")
	}
	g := &generation{cfg: cfg, backends: map[string]*backend{}, loaded: time.Now(), rules: p.tables.Begin()}
	var errs []string
	var pend []pending
	fail := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	seen := map[string]bool{}
	for _, bc := range cfg.Backends {
		if seen[bc.Name] {
			fail("%s: backend %s: duplicate name", bc.Pos, bc.Name)
			continue
		}
		seen[bc.Name] = true
		be, pb, err := p.buildBackend(bc)
		if err != nil {
			fail("%v", err)
			continue
		}
		pend = append(pend, pb...)
		g.backends[be.name] = be
		g.order = append(g.order, be)
	}
	for _, fc := range cfg.Frontends {
		if fc.Disabled {
			continue
		}
		fe, err := p.buildFrontend(fc, g)
		if err != nil {
			fail("%v", err)
			continue
		}
		g.frontends = append(g.frontends, fe)
	}
	for _, err := range p.compileRules(g) {
		fail("%v", err)
	}
	if len(errs) == 0 {
		errs = append(errs, p.compileHTTP(g)...)
	}
	if len(errs) > 0 {
		return nil, nil, errors.New(strings.Join(errs, "\n"))
	}
	return g, pend, nil
}

func (p *Proxy) buildBackend(bc *config.Backend) (*backend, []pending, error) {
	be := &backend{cfg: bc, name: bc.Name, hashed: balance.Hashed(bc.Balance.Algo)}
	var wP, wB []int
	var pend []pending
	names := map[string]bool{}
	for _, sc := range bc.Servers {
		if names[sc.Name] {
			return nil, nil, fmt.Errorf("%s: backend %s: duplicate server name %s", sc.Pos, bc.Name, sc.Name)
		}
		names[sc.Name] = true
		sp, err := p.buildServer(bc, sc)
		if err != nil {
			return nil, nil, err
		}
		key := bc.Name + "/" + sc.Name
		s, ok := p.servers[key]
		if !ok {
			s = newServer(bc.Name, sc.Name)
		}
		pend = append(pend, pending{s: s, spec: sp, owner: be, isNew: !ok})
		be.servers = append(be.servers, s)
		if sc.Backup {
			be.backups = append(be.backups, s)
			wB = append(wB, sp.weight)
		} else {
			be.primaries = append(be.primaries, s)
			wP = append(wP, sp.weight)
		}
	}
	var err error
	if be.pickP, err = balance.New(bc.Balance.Algo, bc.Balance.HashType, wP); err != nil {
		return nil, nil, fmt.Errorf("%s: backend %s: %v", bc.Pos, bc.Name, err)
	}
	if be.pickB, err = balance.New(bc.Balance.Algo, bc.Balance.HashType, wB); err != nil {
		return nil, nil, fmt.Errorf("%s: backend %s: %v", bc.Pos, bc.Name, err)
	}
	if be.hashed && bc.Balance.Algo != "source" {
		// A request without the key (no such parameter, header or cookie) is balanced
		// round robin, as HAProxy does.
		be.fallP, _ = balance.New("roundrobin", "", wP)
		be.fallB, _ = balance.New("roundrobin", "", wB)
	}
	if be.sinks, err = p.openSinks(bc.Log.Targets); err != nil {
		return nil, nil, fmt.Errorf("%s: backend %s: %v", bc.Pos, bc.Name, err)
	}
	return be, pend, nil
}

// anyAddr reports whether a server address means "the client's original destination".
func anyAddr(a string) bool {
	return a == "" || a == "*" || a == "0.0.0.0" || a == "::" || a == "[::]"
}

func (p *Proxy) resolve(host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return a.Unmap(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.ResolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("no address for %s", host)
	}
	return addrs[0], nil
}

func (p *Proxy) buildServer(bc *config.Backend, sc *config.Server) (*serverSpec, error) {
	where := fmt.Sprintf("%s: backend %s: server %s", sc.Pos, bc.Name, sc.Name)
	sp := &serverSpec{cfg: sc, port: sc.Port, portOffset: sc.PortOffset, weight: sc.Weight, maxConn: sc.MaxConn, maxQueue: sc.MaxQueue}
	if sp.weight < 0 || sp.weight > 256 {
		return nil, fmt.Errorf("%s: weight %d out of range (expected 0..256)", where, sp.weight)
	}
	if strings.HasPrefix(sc.Address, "unix@") {
		return nil, fmt.Errorf("%s: unix socket servers are not supported in tcp mode yet", where)
	}
	if !anyAddr(sc.Address) {
		a, err := p.resolve(sc.Address)
		if err != nil {
			return nil, fmt.Errorf("%s: cannot resolve %q: %v", where, sc.Address, err)
		}
		sp.addr = a
	}
	sp.source = bc.Source
	if sc.Source != nil {
		sp.source = sc.Source
	}
	if sp.source != nil {
		switch u := sp.source.UseSrc; u {
		case "", "clientip", "client":
		default:
			if _, err := netip.ParseAddr(u); err != nil {
				return nil, fmt.Errorf("%s: source usesrc %q not supported (expected clientip, client or an address)", where, u)
			}
		}
	}
	if sc.Check && !sc.Disabled {
		sp.params = check.Params{Rise: sc.Rise, Fall: sc.Fall, Inter: sc.Inter, FastInter: sc.FastInter, DownInter: sc.DownInter, SlowStart: sc.SlowStart}
		caddr := sp.addr
		if sc.CheckAddr != "" {
			a, err := p.resolve(sc.CheckAddr)
			if err != nil {
				return nil, fmt.Errorf("%s: cannot resolve check addr %q: %v", where, sc.CheckAddr, err)
			}
			caddr = a
		}
		cport := sc.CheckPort
		if cport == 0 && !sc.PortOffset {
			cport = sc.Port
		}
		if !caddr.IsValid() || cport <= 0 {
			return nil, fmt.Errorf("%s: health check needs an address and a port (set `addr` and `port` on a server that connects to the client's destination)", where)
		}
		ph := checkProxyHeader(sc)
		var steps []check.Step
		if bc.Check.Kind == "tcp-check" {
			for _, st := range bc.Check.TCPSteps {
				cs := check.Step{Action: st.Action, Port: st.Port, SendProxy: st.SendProxy, Data: st.Data, Negate: st.Negate, Match: st.Match, Pattern: st.Pattern}
				if st.Action == "connect" {
					var err error
					if cs.TLS, err = checkTLS(sc, st.SSL, st.Default, st.SNI, false); err != nil {
						return nil, fmt.Errorf("%s: %v", where, err)
					}
					if st.Default {
						cs.ProxyHeader = ph
					}
				}
				steps = append(steps, cs)
			}
			var err error
			if steps, err = check.Compile(steps); err != nil {
				return nil, fmt.Errorf("%s: %v", where, err)
			}
		}
		var httpChk *check.HTTPCheck
		if h := bc.Check.HTTP; bc.Check.Kind == "httpchk" && h != nil {
			hc := check.HTTPCheck{Method: h.Method, URI: h.URI, Version: h.Version, Headers: h.Headers, Body: h.Body,
				SendState: h.SendState, DisableOn404: h.DisableOn404, Port: h.ConnectPort, SendProxy: h.ConnectSendProxy}
			for _, e := range h.Expect {
				hc.Expect = append(hc.Expect, check.Expect{Negate: e.Negate, Match: e.Match, Pattern: e.Pattern})
			}
			var err error
			if httpChk, err = check.CompileHTTP(hc); err != nil {
				return nil, fmt.Errorf("%s: %v", where, err)
			}
		}
		// HAProxy: without `timeout check` the whole check gets inter; with it the
		// connect gets min(timeout connect, inter) and the response `timeout check`.
		inter := sp.params.Inter
		if inter <= 0 {
			inter = 2 * time.Second
		}
		timeout, readTimeout := inter, time.Duration(0)
		if tc := bc.Timeouts.Check; tc > 0 {
			readTimeout = tc
			if c := bc.Timeouts.Connect; c > 0 {
				timeout = min(c, inter)
			}
		}
		var src netip.Addr
		if sp.source != nil && sp.source.Addr.IsValid() && !sp.source.Addr.IsUnspecified() {
			src = sp.source.Addr
		}
		// The check's own connection (a connect check, the implicit connect of a
		// tcp-check sequence, the HTTP check) follows the server line, except an explicit
		// `http-check connect` without `default`, which is plain unless it says ssl.
		var ctls *tls.Config
		var err error
		if h := bc.Check.HTTP; httpChk != nil && h.Connect {
			ctls, err = checkTLS(sc, h.ConnectSSL, h.ConnectDefault, h.ConnectSNI, true)
			if !h.ConnectDefault {
				ph = 0
			}
		} else {
			ctls, err = checkTLS(sc, false, true, "", httpChk != nil)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
		sp.probe = &check.Probe{Addr: netip.AddrPortFrom(caddr, uint16(cport)), Source: src, Timeout: timeout, ReadTimeout: readTimeout, Steps: steps, HTTP: httpChk, TLS: ctls, ProxyHeader: ph}
	}
	return sp, nil
}

// commitServers applies the specs of a successful build.
func (p *Proxy) commitServers(pend []pending) {
	now := time.Now()
	for _, pd := range pend {
		s := pd.s
		s.spec.Store(pd.spec)
		s.owner.Store(pd.owner)
		s.backup.Store(pd.spec.cfg.Backup)
		if pd.owner.cfg.Mode == config.ModeHTTP {
			s.ensurePool()
		}
		s.mu.Lock()
		if pd.isNew {
			if pd.spec.cfg.Disabled {
				s.admin = AdminMaint
			}
		}
		switch {
		case pd.spec.probe == nil:
			s.machine = nil
			if pd.spec.cfg.Check {
				s.chkStat = ""
			}
		case s.machine == nil:
			s.machine = check.New(pd.spec.params, now)
		default:
			s.machine = check.Restore(pd.spec.params, s.machine.Up(), s.machine.Health(), s.machine.LastChange())
		}
		s.mu.Unlock()
		p.servers[s.key] = s
	}
}

// openSinks opens (or reuses) log targets.
func (p *Proxy) openSinks(ts []config.LogTarget) ([]*accesslog.Sink, error) {
	var out []*accesslog.Sink
	for _, t := range ts {
		key := fmt.Sprintf("%s|%s|%s|%s|%s", t.Address, t.Facility, t.Level, t.MinLevel, t.Format)
		if s, ok := p.sinks[key]; ok {
			out = append(out, s)
			continue
		}
		s, err := accesslog.Open(accesslog.Target{Address: t.Address, Facility: t.Facility, Level: t.Level, MinLevel: t.MinLevel, Format: t.Format}, p.opts.LogTag)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", t.Pos, err)
		}
		p.sinks[key] = s
		out = append(out, s)
	}
	return out, nil
}

func (p *Proxy) closeUnusedSinks(g *generation) {
	used := map[*accesslog.Sink]bool{}
	for _, fe := range g.frontends {
		for _, s := range fe.sinks {
			used[s] = true
		}
	}
	for _, be := range g.order {
		for _, s := range be.sinks {
			used[s] = true
		}
	}
	for k, s := range p.sinks {
		if !used[s] {
			// Sessions of the old generation may still log to it: stdout needs no
			// closing, and a closed datagram socket only drops their lines.
			s.Close()
			delete(p.sinks, k)
		}
	}
}

func (p *Proxy) closeSinks() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, s := range p.sinks {
		s.Close()
		delete(p.sinks, k)
	}
}

// compileRules compiles the tcp-request, stick and stick-table lines of every section.
// A listen section (a frontend and a backend from the same lines) is compiled once.
func (p *Proxy) compileRules(g *generation) []error {
	var errs []error
	opt := func(a *acl.Set) tcprules.Options {
		o := tcprules.Options{HAProxyStickCounts: p.opts.HAProxyStickCounts}
		if a != nil {
			o.ACL = a.Options()
		}
		return o
	}
	for _, be := range g.order {
		var fe *frontend
		for _, f := range g.frontends {
			if f.name == be.name && f.cfg.Pos == be.cfg.Pos {
				fe = f
			}
		}
		role := tcprules.Backend
		if fe != nil {
			role = tcprules.Listen
		}
		r, err := tcprules.Compile(be.name, role, be.cfg.Rules, be.cfg.ACLs, g.rules, opt(be.cfg.ACLs))
		if err != nil {
			errs = append(errs, err) // positioned by Compile
			continue
		}
		be.rules = r
		if fe != nil {
			fe.rules = r
		}
	}
	for _, fe := range g.frontends {
		if fe.rules != nil {
			continue
		}
		r, err := tcprules.Compile(fe.name, tcprules.Frontend, fe.cfg.Rules, fe.cfg.ACLs, g.rules, opt(fe.cfg.ACLs))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fe.rules = r
	}
	return errs
}

// purgeLoop drops expired stick-table entries until Shutdown.
func (p *Proxy) purgeLoop() {
	t := time.NewTicker(p.opts.PurgeEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			p.tables.PurgeExpired()
		case <-p.quit:
			return
		}
	}
}

// Tables returns the committed stick tables, sorted by name (runtime API `show table`).
func (p *Proxy) Tables() []*stick.Table {
	var out []*stick.Table
	for _, n := range p.tables.Names() {
		if t := p.tables.Get(n); t != nil {
			out = append(out, t)
		}
	}
	return out
}
