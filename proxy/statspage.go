package proxy

import (
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"appl/proxy/config"
	"appl/proxy/httpmode"
	"appl/proxy/stats"
)

// statsResponder returns the stats page of a backend (or listen) that has
// `stats enable` / `stats uri` or `http-request use-service prometheus-exporter`, or
// nil. The http engine asks the backend's Responder before picking a server, so the
// page answers its URI itself.
//
// Owned by the stats page work (proxy/stats); the http wiring only calls it.
func (p *Proxy) statsResponder(be *backend) httpmode.Responder {
	if be == nil || be.cfg == nil {
		return nil
	}
	pg := stats.New(be.name, be.cfg.Stats, be.cfg.Prometheus, statsSource{p})
	if pg == nil {
		return nil // a nil *stats.Page in the interface would not compare to nil
	}
	// Rates and maxima are measured from now on; the first configuration is still
	// being built here (no generation to read yet): New starts the sampler after it.
	if p.cur.Load() != nil {
		p.sampler()
	} else {
		p.statsWanted = true
	}
	return pg
}

// frontStatsResponder returns the page of an http frontend with `stats` lines (its own
// or its defaults') or `http-request use-service prometheus-exporter`, or nil. HAProxy
// checks a frontend's stats URI right after its http-request rules, so the page answers
// whatever use_backend or default_backend would choose, even with no backend at all
// (`frontend stats` / `bind :8404` / `stats uri /` is the common form). A listen's page
// is on its backend half (config): its frontend half answers with the same settings, so
// a listen's use_backend cannot route its own page away either.
func (p *Proxy) frontStatsResponder(g *generation, fe *frontend) httpmode.Responder {
	st, prom := fe.cfg.Stats, fe.cfg.Prometheus
	if st == nil && len(prom) == 0 {
		if be := g.backends[fe.name]; be != nil && be.cfg.Pos == fe.cfg.Pos { // a listen
			st, prom = be.cfg.Stats, be.cfg.Prometheus
		}
	}
	pg := stats.New(fe.name, st, prom, statsSource{p})
	if pg == nil {
		return nil
	}
	if p.cur.Load() != nil {
		p.sampler()
	} else {
		p.statsWanted = true
	}
	return pg
}

// StatsSnapshot is the data plane's state as proxy/stats reads it; the runtime API's
// `show stat` can render it with stats.Rows.
func (p *Proxy) StatsSnapshot() *stats.Snapshot { return statsSource{p}.Snapshot() }

// processStart stands for the process start time (the page's uptime).
var processStart = time.Now()

// statsSource adapts the running proxy to stats.Source.
type statsSource struct{ p *Proxy }

func (s statsSource) SetServerState(backend, server string, st stats.AdminState) error {
	var a AdminState
	switch st {
	case stats.AdminReady:
		a = AdminReady
	case stats.AdminDrain:
		a = AdminDrain
	case stats.AdminMaint:
		a = AdminMaint
	default:
		return stats.ErrNoServer
	}
	return s.p.SetServerState(backend, server, a)
}

func (s statsSource) SetServerWeight(backend, server string, w int) error {
	return s.p.SetServerWeight(backend, server, w)
}

func (s statsSource) Snapshot() *stats.Snapshot {
	p := s.p
	g := p.cur.Load()
	now := time.Now()
	st := p.Status()
	snap := &stats.Snapshot{
		Now: now, Started: processStart, PID: os.Getpid(), MaxConn: p.GlobalMaxConn(), CurConn: st.ActConn,
		Version: buildVersion(),
	}
	snap.Node, _ = os.Hostname()

	// One HAProxy proxy per section: a listen's two halves share a name and a row group.
	// Sections come in file order, as HAProxy numbers them.
	type entry struct {
		pos  int
		px   stats.Proxy
		seen bool
	}
	byName := map[string]*entry{}
	var order []*entry
	get := func(name string, line int) *entry {
		e := byName[name]
		if e == nil {
			e = &entry{pos: line, px: stats.Proxy{Name: name}}
			byName[name] = e
			order = append(order, e)
		}
		return e
	}
	for _, fe := range g.frontends {
		e := get(fe.name, fe.cfg.Pos.Line)
		e.px.Mode = fe.cfg.Mode.String()
		e.px.Frontend = &stats.Frontend{Counters: stats.Counters{
			Cur: fe.cur.Load(), Total: fe.total.Load(), Limit: int64(fe.limit.limit()),
			BytesIn: fe.bytesI.Load(), BytesOut: fe.bytesO.Load(),
			DeniedReq: fe.deniedConn.Load() + fe.deniedReq.Load(),
			ErrReq:    fe.proxyE.Load() + fe.noBE.Load(),
		}}
	}
	for _, bs := range st.Backends {
		be := g.backends[bs.Name]
		if be == nil {
			continue
		}
		e := get(be.name, be.cfg.Pos.Line)
		e.px.Mode = be.cfg.Mode.String()
		sb := &stats.Backend{
			Counters: stats.Counters{Cur: bs.Cur, Total: bs.Total, ErrConn: bs.ConnErrors},
			Queue:    int64(bs.Queue), Algo: bs.Algo,
		}
		for _, ss := range bs.Servers {
			sb.Servers = append(sb.Servers, statsServer(ss, serverConfig(be.cfg, ss.Name)))
		}
		e.px.Backend = sb
	}
	// Frontends and backends come from two lists; sort the merged proxies by position
	// (insertion sort: a handful of sections).
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && order[j].pos < order[j-1].pos; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	smp := p.sampler()
	for i, e := range order {
		e.px.ID = i + 1
		if fe := e.px.Frontend; fe != nil {
			smp.fill("f/"+e.px.Name, &fe.Counters)
		}
		if be := e.px.Backend; be != nil {
			smp.fill("b/"+e.px.Name, &be.Counters)
			smp.fillUpDown(e.px.Name, be, now)
			for j := range be.Servers {
				smp.fill("s/"+e.px.Name+"/"+be.Servers[j].Name, &be.Servers[j].Counters)
			}
		}
		snap.Proxies = append(snap.Proxies, e.px)
	}
	return snap
}

// The data plane counts sessions (cur, total) but not their rate or maximum. Until it
// does, a sampler started with the first stats page or snapshot of a Proxy reads the
// counters once a second: rate is the sessions of the last second, rate_max and smax the
// highest values seen by the samples (smax also by each snapshot), so a burst shorter
// than a second can be missed. It stops with the Proxy (Shutdown).
type sampler struct {
	mu   sync.Mutex
	last time.Time
	m    map[string]*sampled
	// updown follows servers and backends through the state-change events: chkdown,
	// downtime and the backend's lastchg, which the data plane does not total.
	updown map[string]*upDown
}

type sampled struct {
	total               int64
	rate, rateMax, smax int64
}

type upDown struct {
	down       bool
	since      time.Time // start of the current down period
	downtime   time.Duration
	downs      int64
	lastChange time.Time
}

var samplers sync.Map // *Proxy -> *sampler

func (p *Proxy) sampler() *sampler {
	if v, ok := samplers.Load(p); ok {
		return v.(*sampler)
	}
	s := &sampler{m: map[string]*sampled{}, updown: map[string]*upDown{}}
	if v, loaded := samplers.LoadOrStore(p, s); loaded {
		return v.(*sampler)
	}
	events, cancel := p.Subscribe()
	st := p.Status()
	s.observe(st, time.Now())
	s.start(st, time.Now())
	go func() {
		defer cancel()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				samplers.Delete(p)
				return
			case e, ok := <-events:
				if ok {
					s.event(e)
				}
			case now := <-t.C:
				s.observe(p.Status(), now)
			}
		}
	}()
	return s
}

// start records who is down when the sampler begins.
func (s *sampler) start(st Status, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, be := range st.Backends {
		bd := &upDown{lastChange: now}
		if be.ActiveUp+be.BackupUp == 0 && len(be.Servers) > 0 {
			bd.down, bd.since = true, now
		}
		s.updown["b/"+be.Name] = bd
		for _, sv := range be.Servers {
			sd := &upDown{lastChange: sv.LastChange}
			if sv.State == StateDown {
				sd.down, sd.since = true, now
			}
			s.updown["s/"+be.Name+"/"+sv.Name] = sd
		}
	}
}

// event applies a server state change to its server's and backend's totals.
func (s *sampler) event(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	get := func(k string) *upDown {
		x := s.updown[k]
		if x == nil {
			x = &upDown{}
			s.updown[k] = x
		}
		return x
	}
	sd := get("s/" + e.Backend + "/" + e.Server)
	sd.lastChange = e.Time
	switch {
	case e.To == StateDown && !sd.down:
		sd.down, sd.since = true, e.Time
		sd.downs++
	case e.To != StateDown && sd.down:
		sd.down = false
		sd.downtime += e.Time.Sub(sd.since)
	}
	bd := get("b/" + e.Backend)
	switch down := e.ActiveUp+e.BackupUp == 0; {
	case down && !bd.down:
		bd.down, bd.since, bd.lastChange = true, e.Time, e.Time
		bd.downs++
	case !down && bd.down:
		bd.down, bd.lastChange = false, e.Time
		bd.downtime += e.Time.Sub(bd.since)
	}
}

// fillUpDown sets downtime, chkdown and lastchg of a backend and its servers.
func (s *sampler) fillUpDown(name string, be *stats.Backend, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	total := func(x *upDown) time.Duration {
		d := x.downtime
		if x.down {
			d += now.Sub(x.since)
		}
		return d
	}
	if x := s.updown["b/"+name]; x != nil {
		be.Downtime, be.LastChange, be.Downs = total(x), x.lastChange, x.downs
	}
	for i := range be.Servers {
		sv := &be.Servers[i]
		x := s.updown["s/"+name+"/"+sv.Name]
		if x == nil {
			continue
		}
		sv.Downtime = total(x)
		if sv.Check != nil {
			sv.Check.Downs = x.downs
		}
	}
}

func (s *sampler) observe(st Status, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	elapsed := now.Sub(s.last)
	first := s.last.IsZero()
	s.last = now
	add := func(key string, cur, total int64) {
		x := s.m[key]
		if x == nil {
			x = &sampled{total: total}
			s.m[key] = x
		}
		if !first && elapsed > 0 {
			x.rate = (total - x.total) * int64(time.Second) / int64(elapsed)
			x.rate = max(x.rate, 0)
			x.rateMax = max(x.rateMax, x.rate)
		}
		x.total = total
		x.smax = max(x.smax, cur)
	}
	for _, fe := range st.Frontends {
		add("f/"+fe.Name, fe.Cur, fe.Total)
	}
	for _, be := range st.Backends {
		add("b/"+be.Name, be.Cur, be.Total)
		for _, sv := range be.Servers {
			add("s/"+be.Name+"/"+sv.Name, sv.Cur, sv.Total)
		}
	}
}

// fill sets the sampled rate and maxima of one counter set.
func (s *sampler) fill(key string, c *stats.Counters) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.m[key]
	if x == nil {
		c.Max = c.Cur
		return
	}
	x.smax = max(x.smax, c.Cur)
	c.Rate, c.RateMax, c.Max = x.rate, x.rateMax, x.smax
}

func serverConfig(b *config.Backend, name string) *config.Server {
	for _, s := range b.Servers {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// statsServer converts a server's status; sc (its configuration) gives limits and the
// check's rise and fall.
func statsServer(ss ServerStatus, sc *config.Server) stats.Server {
	out := stats.Server{
		Name: ss.Name, Addr: ss.Address, Backup: ss.Backup,
		Counters: stats.Counters{Cur: ss.Cur, Total: ss.Total},
		Queue:    int64(ss.Queue), Weight: ss.Weight, ConfWeight: ss.ConfWeight, LastChange: ss.LastChange,
	}
	switch ss.State {
	case StateUp:
		out.State = stats.StateUp
	case StateMaint:
		out.State = stats.StateMaint
	case StateDrain:
		out.State = stats.StateDrain
	case StateNoLB:
		out.State = stats.StateNoLB
	default:
		out.State = stats.StateDown
	}
	if sc != nil {
		out.Limit, out.QueueLimit = int64(sc.MaxConn), int64(sc.MaxQueue)
		if sc.Check {
			desc, info, _ := strings.Cut(ss.CheckStatus, ": ")
			code := ss.CheckCode
			if code == "" {
				code = checkCode(ss.CheckStatus)
			}
			out.Check = &stats.Check{
				Status: code, Code: ss.CheckHTTP, Desc: desc, Info: info, Duration: ss.CheckTime, Last: ss.LastCheck,
				Health: ss.Health, HealthOf: ss.HealthOf, Rise: sc.Rise, Fall: sc.Fall,
			}
		}
	}
	return out
}

// checkCode maps the check's text to HAProxy's short check_status code.
func checkCode(s string) string {
	switch {
	case s == "":
		return ""
	case strings.HasPrefix(s, "Layer7 check passed"):
		return "L7OK"
	case strings.HasPrefix(s, "Layer7 wrong status"):
		return "L7STS"
	case strings.HasPrefix(s, "Layer7 timeout"):
		return "L7TOUT"
	case strings.HasPrefix(s, "Layer7"):
		return "L7RSP"
	case strings.HasPrefix(s, "Layer6 check passed"):
		return "L6OK"
	case strings.HasPrefix(s, "Layer6 timeout"):
		return "L6TOUT"
	case strings.HasPrefix(s, "Layer6"):
		return "L6RSP"
	case strings.Contains(s, "passed"):
		return "L4OK"
	case strings.Contains(s, "timeout"):
		return "L4TOUT"
	case strings.HasPrefix(s, "Socket error"):
		return "SOCKERR"
	}
	return "L4CON"
}

// buildVersion is the module version the binary was built from, or its VCS revision.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return s.Value[:12]
		}
	}
	return ""
}
