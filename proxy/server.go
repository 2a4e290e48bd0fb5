package proxy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"appl/proxy/check"
	"appl/proxy/config"
	"appl/proxy/httpmode"
)

// serverSpec is the immutable part of a server for one configuration generation.
type serverSpec struct {
	cfg *config.Server
	// addr is the resolved address; invalid when the server connects to the client's
	// original destination address (`server x *` or 0.0.0.0 in transparent setups).
	addr       netip.Addr
	port       int
	portOffset bool
	source     *config.Source
	probe      *check.Probe // nil: no health check
	params     check.Params
	weight     int
	maxConn    int
	maxQueue   int
}

// server is one backend server. It survives reloads when its backend and name stay, so
// that health, counters, sessions and runtime settings carry over.
type server struct {
	key     string // backend/server
	bename  string
	name    string
	spec    atomic.Pointer[serverSpec]
	owner   atomic.Pointer[backend] // backend of the current generation
	cur     atomic.Int64
	total   atomic.Int64
	queued  atomic.Int64 // waiters of its backend's queue bound to it (none today)
	backup  atomic.Bool
	mu      sync.Mutex // fields below
	machine *check.Machine
	admin   AdminState
	wover   int // runtime weight, -1 when the configured one applies
	chkStat string
	chkCode string // "L7STS"
	chkHTTP int    // 404
	lastChk time.Time
	chkDur  time.Duration
	changed time.Time
	stop    context.CancelFunc
	sessMu  sync.Mutex
	sess    sessList
	// pool keeps idle http server connections for the server's life (mode http).
	pool atomic.Pointer[httpmode.Pool]
	h    httpCounters
}

// ensurePool gives an http server its idle-connection pool (once: it is kept across
// reloads as long as the server lives).
func (s *server) ensurePool() {
	if s.pool.Load() == nil {
		s.pool.CompareAndSwap(nil, httpmode.NewPool(0, 0))
	}
}

// httpPool returns the server's pool, nil when it has none (no reuse).
func (s *server) httpPool() *httpmode.Pool { return s.pool.Load() }

// closePool closes the idle connections of a server that goes away; sessions still
// using it close their connection instead of pooling it.
func (s *server) closePool() {
	if pl := s.pool.Load(); pl != nil {
		pl.Close()
	}
}

func newServer(be, name string) *server {
	s := &server{key: be + "/" + name, bename: be, name: name, wover: -1}
	s.changed = time.Now()
	return s
}

// up reports health (servers without checks are always up) and admin state ready.
func (s *server) state() ServerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stateLocked()
}

func (s *server) stateLocked() ServerState {
	switch s.admin {
	case AdminMaint:
		return StateMaint
	}
	if s.machine != nil && !s.machine.Up() {
		return StateDown
	}
	if s.admin == AdminDrain {
		return StateDrain
	}
	if s.machine != nil && s.machine.Stopping() {
		return StateNoLB
	}
	return StateUp
}

// weightNow is the effective weight for balancing: 0 when not taking new traffic.
func (s *server) weightNow(now time.Time) int {
	sp := s.spec.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin != AdminReady {
		return 0
	}
	w := sp.weight
	if s.wover >= 0 {
		w = s.wover
	}
	if s.machine != nil {
		return s.machine.Weight(w, now)
	}
	return w
}

func (s *server) available() bool {
	return s.state() == StateUp
}

func (s *server) full() bool {
	mc := s.spec.Load().maxConn
	return mc > 0 && s.cur.Load() >= int64(mc)
}

// addrFor returns the address to connect to for a connection whose original
// destination was dst.
func (s *server) addrFor(dst netip.AddrPort) (netip.AddrPort, error) {
	sp := s.spec.Load()
	a := sp.addr
	if !a.IsValid() {
		a = dst.Addr()
	}
	port := sp.port
	switch {
	case sp.portOffset:
		port = int(dst.Port()) + sp.port
	case port == 0:
		port = int(dst.Port())
	}
	if !a.IsValid() || port <= 0 || port > 65535 {
		return netip.AddrPort{}, fmt.Errorf("no destination address for server %s", s.key)
	}
	return netip.AddrPortFrom(a, uint16(port)), nil
}

// startCheck runs the health check loop until ctx ends. first is the delay before the
// first probe.
func (p *Proxy) startCheck(ctx context.Context, s *server, first time.Duration) {
	sp := s.spec.Load()
	if sp.probe == nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	if s.stop != nil {
		s.stop()
	}
	s.stop = cancel
	s.mu.Unlock()
	p.checks.Add(1)
	go func() {
		defer p.checks.Done()
		t := time.NewTimer(first)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			s.mu.Lock()
			maint := s.admin == AdminMaint
			s.mu.Unlock()
			if !maint {
				pr := *s.spec.Load().probe
				pr.ServerState = func() string { return p.stateHeader(s) }
				o := pr.Run(ctx)
				if ctx.Err() != nil {
					return
				}
				p.checkResult(s, o)
			}
			s.mu.Lock()
			next := s.machine.Interval()
			s.mu.Unlock()
			t.Reset(next)
		}
	}()
}

func (s *server) stopCheck() {
	s.mu.Lock()
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
	s.mu.Unlock()
}

// checkResult feeds a probe outcome to the machine and logs like HAProxy.
func (p *Proxy) checkResult(s *server, o check.Outcome) {
	now := time.Now()
	s.mu.Lock()
	prev := s.stateLocked()
	wasUp := s.machine.Up()
	health := s.machine.Health()
	tr := s.machine.Feed(o.Status, now)
	s.lastChk, s.chkDur = now, o.Duration
	s.chkStat = o.Reason
	if o.Info != "" {
		s.chkStat += ": " + o.Info
	}
	s.chkCode, s.chkHTTP = o.Status.Code(), 0
	if o.Status.HasCode() {
		s.chkHTTP = o.Code
	}
	cur, of := s.machine.StatusCounter()
	moved := s.machine.Health() != health
	next := s.stateLocked()
	if tr != check.NoChange {
		s.changed = now
	}
	s.mu.Unlock()

	// HAProxy logs each check that moves the counter while the state is unchanged
	// ("failed" while up, "succeeded" while down), and a server line on transitions.
	if tr == check.NoChange && moved && (o.OK != wasUp) {
		verb := "failed"
		if o.OK {
			verb = "succeeded"
		}
		updown := "UP"
		if !wasUp {
			updown = "DOWN"
		}
		p.notice(s, fmt.Sprintf("Health check for server %s %s, reason: %s, check duration: %dms, status: %d/%d %s.",
			s.key, verb, o.Detail(), o.Duration.Milliseconds(), cur, of, updown))
	}
	if tr != check.NoChange && prev != next {
		p.transition(s, prev, next, o.Detail()+fmt.Sprintf(", check duration: %dms", o.Duration.Milliseconds()), o.Reason)
	}
}

// stateHeader is the X-Haproxy-Server-State value of http-check send-state, in
// HAProxy's format: "UP 2/3; address=...; port=...; name=be/s; node=...; weight=1/2;
// scur=0/0; qcur=0".
func (p *Proxy) stateHeader(s *server) string {
	now := time.Now()
	sp := s.spec.Load()
	w := s.weightNow(now)
	s.mu.Lock()
	hlt := "no check"
	if m := s.machine; m != nil {
		cur, of := m.StatusCounter()
		top := m.Params().Rise + m.Params().Fall - 1
		switch {
		case m.Up():
			hlt = "UP"
			if m.Stopping() {
				hlt = "NOLB"
			}
			if m.Health() != top {
				hlt += fmt.Sprintf(" %d/%d", cur, of)
			}
		case m.Health() > 0:
			hlt = fmt.Sprintf("DOWN %d/%d", cur, of)
		default:
			hlt = "DOWN"
		}
	}
	s.mu.Unlock()
	addr, port := "", 0
	if pr := sp.probe; pr != nil {
		addr, port = pr.Addr.Addr().String(), int(pr.Addr.Port())
	}
	var tot int
	var beCur int64
	if be := s.owner.Load(); be != nil {
		for _, o := range be.servers {
			tot += o.weightNow(now)
			beCur += o.cur.Load()
		}
	}
	node, _ := os.Hostname()
	return fmt.Sprintf("%s; address=%s; port=%d; name=%s; node=%s; weight=%d/%d; scur=%d/%d; qcur=%d",
		hlt, addr, port, s.key, node, w, tot, s.cur.Load(), beCur, s.queued.Load())
}

// transition reports a state change of s: log line, events, session kills, queue.
func (p *Proxy) transition(s *server, from, to ServerState, detail, reason string) {
	be := s.owner.Load()
	now := time.Now()
	var act, bck int
	if be != nil {
		act, bck = be.upCounts()
	}
	sessions := s.cur.Load()
	queued := 0
	if be != nil {
		queued = be.queueLen()
	}
	switch to {
	case StateUp:
		where := "online"
		p.notice(s, fmt.Sprintf("Server %s is UP, reason: %s. %d active and %d backup servers %s. %d sessions requeued, %d total in queue.",
			s.key, detail, act, bck, where, 0, queued))
	case StateDown, StateMaint:
		verb := "is DOWN"
		if to == StateMaint {
			verb = "is going DOWN for maintenance"
		}
		p.alert(s, fmt.Sprintf("Server %s %s, reason: %s. %d active and %d backup servers left. %d sessions active, %d requeued, %d remaining in queue.",
			s.key, verb, detail, act, bck, sessions, 0, queued))
		if act == 0 && bck == 0 && be != nil {
			p.alert(s, fmt.Sprintf("backend %s has no server available!", s.bename))
		}
	case StateDrain:
		p.notice(s, fmt.Sprintf("Server %s is DRAIN, reason: %s.", s.key, detail))
	case StateNoLB:
		p.alert(s, fmt.Sprintf("Server %s is stopping, reason: %s. %d active and %d backup servers online. %d sessions requeued, %d total in queue.",
			s.key, detail, act, bck, 0, queued))
	}
	sp := s.spec.Load()
	if (to == StateDown || to == StateMaint) && sp.cfg.OnMarkedDown == "shutdown-sessions" {
		s.killSessions('D')
	}
	if to == StateUp && !sp.cfg.Backup && sp.cfg.OnMarkedUp == "shutdown-backup-sessions" && be != nil {
		for _, o := range be.servers {
			if o.spec.Load().cfg.Backup {
				o.killSessions('U')
			}
		}
	}
	if be != nil {
		be.dispatch()
	}
	p.emit(Event{Time: now, Backend: s.bename, Server: s.name, From: from, To: to, Reason: reason, ActiveUp: act, BackupUp: bck})
}

// initialDelay spreads the first checks over one interval, as HAProxy does, so that a
// backend of many servers is not probed in one burst.
func initialDelay(inter time.Duration) time.Duration {
	if inter <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(inter)))
}

func (p *Proxy) notice(s *server, msg string) {
	p.log.Info(msg)
	p.sendBackendLog(s, 5, msg)
}

func (p *Proxy) alert(s *server, msg string) {
	p.log.Warn(msg)
	p.sendBackendLog(s, 1, msg)
}

func (p *Proxy) sendBackendLog(s *server, sev int, msg string) {
	be := s.owner.Load()
	if be == nil {
		return
	}
	now := time.Now()
	for _, sk := range be.sinks {
		sk.Send(sev, now, []byte(msg))
	}
}

// statusLocked fills a ServerStatus.
func (s *server) status(now time.Time) ServerStatus {
	sp := s.spec.Load()
	w := s.weightNow(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ServerStatus{
		Name: s.name, State: s.stateLocked(), Admin: s.admin, Backup: sp.cfg.Backup,
		CheckStatus: s.chkStat, CheckCode: s.chkCode, CheckHTTP: s.chkHTTP, LastCheck: s.lastChk, CheckTime: s.chkDur, LastChange: s.changed,
		Cur: s.cur.Load(), Total: s.total.Load(), Weight: w, ConfWeight: sp.weight,
	}
	host := "*"
	if sp.addr.IsValid() {
		host = sp.addr.String()
	}
	switch {
	case sp.portOffset:
		st.Address = fmt.Sprintf("%s:%+d", host, sp.port)
	case sp.port != 0:
		st.Address = net.JoinHostPort(host, strconv.Itoa(sp.port))
	default:
		st.Address = host
	}
	if s.machine != nil {
		st.Health, st.HealthOf = s.machine.StatusCounter()
	}
	return st
}
