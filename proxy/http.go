package proxy

// The `mode http` wiring: frontends whose mode is http hand their accepted connections
// to the compiled httpmode engine (one Program per configuration generation) instead of
// the tcp relay. This file implements the engine's side of the contract
// (httpmode.Env, Backend, Server) over the data plane's backends and servers: balancing,
// persistence, maxconn and queues, dialing with retries, source and send-proxy, the
// per-server idle pools, the access log and the http counters.

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"appl/proxy/accesslog"
	"appl/proxy/acl"
	"appl/proxy/balance"
	"appl/proxy/config"
	"appl/proxy/http1"
	"appl/proxy/httpmode"
	"appl/proxy/tcprules"
)

// httpCounters are the per-request totals of a frontend, backend or server (HAProxy's
// req_tot, hrsp_1xx..hrsp_other, dreq, ereq, eresp).
type httpCounters struct {
	req     atomic.Int64
	hrsp    [6]atomic.Int64 // 1xx, 2xx, 3xx, 4xx, 5xx, other
	denied  atomic.Int64
	errReq  atomic.Int64
	errResp atomic.Int64
	bytesI  atomic.Int64 // backends and servers; frontends count per connection
	bytesO  atomic.Int64
}

func (c *httpCounters) count(e *httpmode.LogEntry, bytes bool) {
	c.req.Add(1)
	switch st := e.Status; {
	case st >= 100 && st < 600:
		c.hrsp[st/100-1].Add(1)
	case st > 0:
		c.hrsp[5].Add(1)
	}
	if e.Denied {
		c.denied.Add(1)
	}
	if bytes {
		c.bytesI.Add(e.BytesIn)
		c.bytesO.Add(e.Bytes)
	}
}

// HTTPStats are the http totals of a frontend, backend or server (zero in tcp mode).
type HTTPStats struct {
	Requests int64    // req_tot
	Hrsp     [6]int64 // hrsp_1xx, 2xx, 3xx, 4xx, 5xx, other
	Denied   int64    // requests (or responses) refused by rules: dreq
	ErrReq   int64    // malformed or aborted requests: ereq
	ErrResp  int64    // invalid or aborted server responses: eresp
}

func (c *httpCounters) snapshot() HTTPStats {
	s := HTTPStats{Requests: c.req.Load(), Denied: c.denied.Load(), ErrReq: c.errReq.Load(), ErrResp: c.errResp.Load()}
	for i := range s.Hrsp {
		s.Hrsp[i] = c.hrsp[i].Load()
	}
	return s
}

// httpOptions builds the engine's compile options from the configuration.
func httpOptions(cfg *config.Config) (httpmode.Options, []string) {
	opt := httpmode.Options{BufSize: cfg.Global.TuneBufSize, ForwardFor: map[string]httpmode.ForwardFor{}}
	var errs []string
	add := func(pos fmt.Stringer, kind, name string, args []string) {
		if len(args) == 0 {
			return
		}
		f, err := httpmode.ParseForwardFor(args)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %s %s: option forwardfor: %v", pos, kind, name, err))
			return
		}
		opt.ForwardFor[name] = f
	}
	for _, fc := range cfg.Frontends {
		if fc.ACLs != nil && opt.ACL.BaseDir == "" && opt.ACL.Maps == nil {
			opt.ACL = fc.ACLs.Options()
		}
		if fc.Mode == config.ModeHTTP {
			add(fc.Pos, "frontend", fc.Name, fc.ForwardFor)
		}
	}
	for _, bc := range cfg.Backends {
		if bc.Mode == config.ModeHTTP {
			add(bc.Pos, "backend", bc.Name, bc.ForwardFor)
		}
	}
	return opt, errs
}

// compileHTTP compiles the http frontends and backends of g and attaches them. A
// compile error refuses the whole configuration (the running one keeps serving).
func (p *Proxy) compileHTTP(g *generation) []string {
	any := false
	for _, fe := range g.frontends {
		any = any || fe.cfg.Mode == config.ModeHTTP
	}
	for _, be := range g.order {
		any = any || be.cfg.Mode == config.ModeHTTP
	}
	if !any {
		return nil
	}
	opt, errs := httpOptions(g.cfg)
	if len(errs) > 0 {
		return errs
	}
	// http-request track-sc and the sc_*/src_* fetches use the tcprules of the same
	// generation (compiled before, committed after).
	opt.Stick = func(name string) *tcprules.Rules {
		if be := g.backends[name]; be != nil && be.rules != nil {
			return be.rules // a listen's frontend half has the same Rules
		}
		for _, fe := range g.frontends {
			if fe.name == name {
				return fe.rules
			}
		}
		return nil
	}
	prog, err := httpmode.Compile(g.cfg, opt)
	if err != nil {
		return []string{err.Error()}
	}
	for _, w := range prog.Warnings {
		p.log.Warn(w.Error())
	}
	g.http = prog
	g.httpBE = map[string]httpmode.Backend{}
	for _, be := range g.order {
		if be.cfg.Mode != config.ModeHTTP {
			continue
		}
		hb := &httpBackend{p: p, be: be, srv: make(map[*server]*httpServer, len(be.servers))}
		for _, s := range be.servers {
			hb.srv[s] = &httpServer{hb: hb, s: s}
		}
		if r := p.statsResponder(be); r != nil {
			g.httpBE[be.name] = &httpRespBackend{httpBackend: hb, r: r}
		} else {
			g.httpBE[be.name] = hb
		}
	}
	for _, fe := range g.frontends {
		if fe.cfg.Mode != config.ModeHTTP {
			continue
		}
		fe.http = prog.Frontend(fe.name)
		if fe.http == nil {
			errs = append(errs, fmt.Sprintf("%s: frontend %s: http engine has no program for it", fe.cfg.Pos, fe.name))
			continue
		}
		if r := p.frontStatsResponder(g, fe); r != nil {
			fe.http.SetResponder(r) // stats uri / prometheus-exporter of the frontend
		}
		// HAProxy refuses an http frontend that switches to a tcp backend.
		check := func(pos fmt.Stringer, name string) {
			if be := g.backends[name]; be != nil && be.cfg.Mode != config.ModeHTTP {
				errs = append(errs, fmt.Sprintf("%s: frontend %s: backend %s is in mode tcp; an http frontend needs http backends", pos, fe.name, name))
			}
		}
		if fe.cfg.DefaultBackend != "" {
			check(fe.cfg.Pos, fe.cfg.DefaultBackend)
		}
		for _, ub := range fe.cfg.UseBackends {
			if ub.Expr == nil {
				check(ub.Pos, ub.Backend)
			}
		}
	}
	return errs
}

// logBufs recycles httplog line buffers across sessions (a connection per request
// would otherwise grow a new one each time; Send copies the line).
var logBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// ctxKey finds the httpSession of a Dial in the session's context.
type ctxKey struct{}

// httpSession is one client connection served by the engine: its Env, its context, and
// what Dial needs (the client's addresses for source/usesrc, send-proxy and `server *`).
//
// It is the context.Context given to the engine itself (Value(ctxKey{}) is the
// session; kill ends it): one allocation instead of a WithValue, a WithCancel and the
// cancelCtx bookkeeping of the engine's context.AfterFunc (AfterFunc below is the
// method context.AfterFunc looks for on a parent). No deadline.
type httpSession struct {
	s *session

	mu     sync.Mutex
	done   chan struct{} // made on first Done
	err    error         // context.Canceled once killed
	after1 func()        // the first AfterFunc callback, until stopped
	afters []func()      // later ones (nil entries: stopped)
}

func (hs *httpSession) Deadline() (time.Time, bool) { return time.Time{}, false }

func (hs *httpSession) Done() <-chan struct{} {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.done == nil {
		hs.done = make(chan struct{})
		if hs.err != nil {
			close(hs.done)
		}
	}
	return hs.done
}

func (hs *httpSession) Err() error {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.err
}

func (hs *httpSession) Value(key any) any {
	if key == (ctxKey{}) {
		return hs
	}
	return nil
}

// AfterFunc runs f in its own goroutine once the session is killed (at once if it
// was); stop unregisters it and reports whether it did before f started.
func (hs *httpSession) AfterFunc(f func()) (stop func() bool) {
	hs.mu.Lock()
	if hs.err != nil {
		hs.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	if hs.after1 == nil && hs.afters == nil {
		// The engine's one callback: no closure, no slice.
		hs.after1 = f
		hs.mu.Unlock()
		return hs.stop1
	}
	i := len(hs.afters)
	hs.afters = append(hs.afters, f)
	hs.mu.Unlock()
	return func() bool {
		hs.mu.Lock()
		defer hs.mu.Unlock()
		if i >= len(hs.afters) || hs.afters[i] == nil {
			return false
		}
		hs.afters[i] = nil
		return true
	}
}

// stop1 unregisters after1.
func (hs *httpSession) stop1() bool {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.after1 == nil {
		return false
	}
	hs.after1 = nil
	// after1 is used once (a stale stop1 must not remove a later registration): later
	// registrations take the slice, and those already in it stay.
	if hs.afters == nil {
		hs.afters = []func(){}
	}
	return true
}

// kill ends the session (hard stop, shutdown session): the engine closes its sockets.
func (hs *httpSession) kill() {
	hs.mu.Lock()
	if hs.err != nil {
		hs.mu.Unlock()
		return
	}
	hs.err = context.Canceled
	if hs.done != nil {
		close(hs.done)
	}
	fs := hs.afters
	if hs.after1 != nil {
		fs = append(fs, hs.after1)
	}
	hs.after1, hs.afters = nil, nil
	hs.mu.Unlock()
	for _, f := range fs {
		if f != nil {
			go f()
		}
	}
}

// serveHTTP runs the engine on an accepted connection of an http frontend; cc is the
// client side as the engine must read it (a *tls.Conn on ssl binds), nil for a socket
// accepted raw (s.cfd, see takeRawClient).
func (p *Proxy) serveHTTP(s *session, cc net.Conn) {
	reserveStack(false, 0)
	fe := s.fe
	s.http = true
	raw := cc == nil
	if raw {
		fc := s.takeRawClient()
		if fc == nil {
			return
		}
		defer fc.Close()
		cc = fc
	}
	hs := &httpSession{s: s}
	p.sessMu.Lock()
	s.cancel = hs.kill
	p.sessMu.Unlock()
	if raw && s.killedRaw() {
		hs.kill() // killed between takeRawClient and s.cancel being visible to killAll
	}
	txn := &s.rs.Txn
	txn.Env = fe.gen
	st := p.serveEngine(hs, s, cc, hs, txn) // HTTP/2 clients go through h2front (tls.go)
	s.bytesIn, s.bytesOut = st.BytesIn, st.BytesOut
	fe.bytesI.Add(st.BytesIn)
	fe.bytesO.Add(st.BytesOut)
	s.term = st.LastTerm
	if s.term == [2]byte{} {
		s.term = [2]byte{'-', '-'}
	}
}

// Draining implements httpmode.Drainer: done once Shutdown began, so idle keep-alive
// connections close and responses end their connection.
func (hs *httpSession) Draining() context.Context { return hs.s.p.drainCtx }

// Backend implements httpmode.Env.
func (hs *httpSession) Backend(name string) (httpmode.Backend, bool) {
	b, ok := hs.s.fe.gen.httpBE[name]
	return b, ok
}

// Log implements httpmode.Env: counters, connection counts, then the httplog line.
func (hs *httpSession) Log(e *httpmode.LogEntry) {
	s := hs.s
	fe := s.fe
	fe.h.count(e, false)
	if e.Error != "" || (e.Term[1] == 'R' && e.Status >= 400) {
		fe.h.errReq.Add(1)
	}
	var be *backend
	var srv *server
	if e.Server != "<NOSRV>" || e.Backend != fe.name {
		be = fe.gen.backends[e.Backend]
	}
	if be != nil {
		be.h.count(e, true)
		if e.Server != "<NOSRV>" {
			for _, x := range be.servers {
				if x.name == e.Server {
					srv = x
					break
				}
			}
		}
		if e.Term[1] == 'H' && (e.Term[0] == 'S' || e.Term[0] == 's' || e.Error != "") {
			be.h.errResp.Add(1)
			if srv != nil {
				srv.h.errResp.Add(1)
			}
		}
		if srv != nil {
			srv.h.count(e, true)
		}
	}
	if len(fe.sinks) == 0 {
		return
	}
	if !fe.cfg.Log.HTTPLog {
		// One tcplog-style line at the end of the connection names the last request's
		// backend and server (strings owned by the configuration: no copy).
		if be != nil {
			s.httpBE = be.name
			s.httpSrv = "<NOSRV>"
			if srv != nil {
				s.httpSrv = srv.name
			}
		}
		return
	}
	if fe.cfg.Log.DontLogNull && e.BytesIn == 0 && e.Status == 0 {
		return
	}
	e.ActConn = int(s.p.actconn.Load())
	e.FeConn = int(fe.cur.Load())
	if be != nil {
		e.BeConn = int(be.cur.Load())
	}
	if srv != nil {
		e.SrvConn = int(srv.cur.Load())
	}
	bp := logBufs.Get().(*[]byte)
	line := e.AppendHTTPLog((*bp)[:0])
	now := time.Now()
	for _, sk := range fe.sinks {
		sk.Send(accesslog.Info, now, line)
	}
	if cap(line) <= 16<<10 {
		*bp = line
		logBufs.Put(bp)
	}
}

// NbSrv implements acl.Env (nbsrv) over the generation's backends.
func (g *generation) NbSrv(name string) (int, bool) {
	be := g.backends[name]
	if be == nil {
		return 0, false
	}
	a, b := be.upCounts()
	return a + b, true
}

// Userlist implements acl.Env (http_auth).
func (g *generation) Userlist(name string) acl.Userlist {
	for _, u := range g.cfg.Userlists {
		if u.Name == name {
			return u
		}
	}
	return nil
}

// httpBackend adapts a backend of one generation to httpmode.Backend.
type httpBackend struct {
	p   *Proxy
	be  *backend
	srv map[*server]*httpServer
}

// httpRespBackend is an httpBackend whose stats page answers some requests itself.
type httpRespBackend struct {
	*httpBackend
	r httpmode.Responder
}

func (h *httpRespBackend) Respond(dst []byte, req *http1.Request, txn *acl.Txn) ([]byte, int, bool) {
	return h.r.Respond(dst, req, txn)
}

// BodyLimit and RespondBody make httpRespBackend an httpmode.BodyResponder, so the
// engine reads the stats page's admin form from a browser's POST body (without them the
// page only saw the head and answered 501).
func (h *httpRespBackend) BodyLimit(req *http1.Request) int {
	if br, ok := h.r.(httpmode.BodyResponder); ok {
		return br.BodyLimit(req)
	}
	return 0
}

func (h *httpRespBackend) RespondBody(dst []byte, req *http1.Request, body []byte, txn *acl.Txn) ([]byte, int, bool) {
	if br, ok := h.r.(httpmode.BodyResponder); ok {
		return br.RespondBody(dst, req, body, txn)
	}
	return h.r.Respond(dst, req, txn)
}

func (h *httpBackend) Name() string { return h.be.name }

// Pick implements httpmode.Backend: the persistence cookie's server when it can serve
// (up or draining; a full one queues), else the balance algorithm.
func (h *httpBackend) Pick(ctx context.Context, k httpmode.HashKey, preferred string) (httpmode.Server, httpmode.PickInfo, error) {
	be := h.be
	var r pickReq
	if be.hashed {
		switch {
		case !k.Valid:
			r.nokey = true
		case be.cfg.Balance.Algo == "source":
			r.key = balance.KeyAddr(k.Addr)
		default:
			r.key = balance.KeyBytes(k.Data)
		}
	}
	if preferred != "" {
		for _, s := range be.servers {
			if s.name == preferred {
				if st := s.state(); st == StateUp || st == StateDrain {
					r.want = s
				}
				break
			}
		}
	}
	to := be.cfg.Timeouts
	qto := to.Queue
	if qto <= 0 {
		qto = to.Connect
	}
	s, tw, err := be.acquireReq(r, qto, ctx.Done())
	info := httpmode.PickInfo{Queued: tw}
	if tw > 0 || err != nil {
		info.BeQueue = be.queueLen() // only worth a lock when the queue was involved
	}
	if err != nil {
		switch err {
		case errQueueFull:
			return nil, info, httpmode.ErrQueueFull
		case errQueueTime:
			if ctx.Err() == nil {
				return nil, info, httpmode.ErrQueueTimeout
			}
		}
		return nil, info, httpmode.ErrNoServer
	}
	be.cur.Add(1)
	be.total.Add(1)
	hsrv := h.srv[s]
	if hsrv == nil {
		// A server of another generation's backend (cannot happen: picks come from
		// be's own lists), kept safe anyway.
		be.release(s)
		be.cur.Add(-1)
		return nil, info, httpmode.ErrNoServer
	}
	return hsrv, info, nil
}

// httpServer adapts a server, as picked from one backend, to httpmode.Server. It holds
// no per-request state: Pick returns the same one each time (no allocation).
type httpServer struct {
	hb *httpBackend
	s  *server
}

func (h *httpServer) Name() string { return h.s.name }

func (h *httpServer) Release() {
	h.hb.be.release(h.s)
	h.hb.be.cur.Add(-1)
}

func (h *httpServer) Pool() *httpmode.Pool {
	// A server whose TLS name comes from a fetch (sni req.hdr(host), sni ssl_fc_sni)
	// gets a connection per request: a pooled or kept one may carry another request's
	// SNI. A constant name (sni str(x)) pools as usual.
	if spec := h.s.spec.Load().cfg; spec.TLS != nil && spec.SNI != nil && spec.SNI.Fetch().Name != "str" {
		return nil
	}
	return h.s.httpPool()
}

// Dial connects to the server for the session in ctx: timeout connect, retries with
// HAProxy's turn-around delay, source / usesrc, send-proxy.
func (h *httpServer) Dial(ctx context.Context) (net.Conn, error) {
	var src, dst netip.AddrPort
	var txn *acl.Txn
	if hs, ok := ctx.Value(ctxKey{}).(*httpSession); ok {
		src, dst, txn = hs.s.src, hs.s.dst, &hs.s.rs.Txn
	}
	be := h.hb.be
	to := be.cfg.Timeouts
	retries := max(be.cfg.Retries, 0)
	var lastErr error
	for attempt := 0; ; attempt++ {
		// With timeout connect, connect does not watch ctx: a cancellable context costs
		// a watcher goroutine per connect in package net, and a hard stop waits at most
		// timeout connect for it.
		dctx := ctx
		if to.Connect > 0 {
			dctx = context.Background()
		}
		sc, err := dialHTTP(dctx, h.s, src, dst, to.Connect)
		if err == nil && be.serverKeepAlive() {
			keepAliveConn(sc)
		}
		if err == nil {
			if err := writeProxyHeader(sc, h.s, src, dst); err != nil {
				sc.Close()
				be.connErrors.Add(1)
				return nil, err
			}
			// ssl servers: the handshake is part of connecting (a failure is a 503).
			tc, err := h.hb.p.serverHandshake(h.s, to.Connect, sc, txn)
			if err != nil {
				be.connErrors.Add(1)
				return nil, err
			}
			return tc, nil
		}
		lastErr = err
		if attempt >= retries || ctx.Err() != nil {
			break
		}
		if !isTimeout(err) {
			wait := time.Second
			if to.Connect > 0 && to.Connect < wait {
				wait = to.Connect
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
	}
	be.connErrors.Add(1)
	return nil, lastErr
}
