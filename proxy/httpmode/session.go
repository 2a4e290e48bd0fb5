package httpmode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"appl/proxy/acl"
	"appl/proxy/http1"
	"appl/proxy/tcprules"
)

// session is one client connection going through a Frontend. Sessions and their
// buffers are pooled: the steady state of a keep-alive connection allocates nothing per
// request on the common path.
type session struct {
	f   *Frontend
	env Env
	txn *acl.Txn
	ctx context.Context
	c   net.Conn

	cdr deadlineReader  // client reads
	cw  deadlineWriter  // client writes
	sw  *deadlineWriter // server writes: the current server connection's
	// raw reads and writes of c (see rawIO); kept with the pooled session.
	crio, cwio rawIO
	cr         *http1.Reader

	rbuf, out, reqHead, scratch, bscratch, lf, rep, cookieBuf, reqLine []byte

	dec, sdec     http1.ChunkedDecoder
	req, reqCopy  http1.Request
	fwd           *http1.Request // the forwarded head: req, or reqCopy once the body streams
	resp          http1.Response
	view          reqView
	log           LogEntry
	own           *srvConn // this client's server connection, kept between requests
	cur           atomic.Pointer[srvConn]
	aborted       atomic.Bool
	stats         SessionStats
	nreq          int
	accept        time.Time
	clientKeep    bool
	respPhase     bool
	expect        bool
	bodyRunning   bool
	dr            *drainState // registration with the drain signal, made at the first idle wait
	drainCtx      context.Context
	drainDone     <-chan struct{} // drainCtx.Done(); nil unless the Env is a Drainer
	bodyCh        chan bodyResult
	abortDone     chan struct{}
	bodyFraming   http1.Framing
	bodyTo        timeouts
	bodySrv       *srvConn
	copyBodyStart func()
	abortFn       func()            // s.abort, bound once
	ts            *tcprules.Session // stick counters (stick.go), nil without tables
	ownTS         bool              // ts is ours, not the data plane's
}

type bodyResult struct {
	n   int64
	err error
	// clientSide: the error came from reading the client (parse error, timeout, close).
	clientSide bool
}

var sessionPool sync.Pool

func newSession(f *Frontend) *session {
	if v := sessionPool.Get(); v != nil {
		s := v.(*session)
		if len(s.rbuf) == f.bufSize {
			s.f = f
			return s
		}
	}
	s := &session{
		f:         f,
		rbuf:      make([]byte, f.bufSize),
		out:       make([]byte, 0, f.bufSize+1024),
		reqHead:   make([]byte, 0, f.bufSize+1024),
		scratch:   make([]byte, 16<<10),
		bscratch:  make([]byte, 16<<10),
		bodyCh:    make(chan bodyResult, 1),
		abortDone: make(chan struct{}, 1),
	}
	s.cr = http1.NewReader(&s.cdr, s.rbuf)
	s.copyBodyStart = s.copyReqBody
	s.abortFn = s.abort
	return s
}

// Serve runs the HTTP/1.1 session of one accepted client connection until the client
// leaves, an error closes it, or ctx ends (shutdown: the connections are closed). accept
// is when the connection was accepted (the first request's timers start there). txn
// carries the connection's addresses (Src, Dst), FrontendName, TLS and Env for ACL
// fetches; Serve sets txn.HTTP and txn.BackendName for each request and resets its
// transaction variables between requests. Serve does not close c: the caller does,
// after Serve returns.
func (f *Frontend) Serve(ctx context.Context, c net.Conn, accept time.Time, env Env, txn *acl.Txn) SessionStats {
	s := newSession(f)
	s.env, s.txn, s.ctx, s.c, s.accept = env, txn, ctx, c, accept
	rc := socketRawConn(c)
	s.cdr = deadlineReader{conn: c, raw: s.crio.bind(rc, false)}
	s.cw = deadlineWriter{conn: c, raw: s.cwio.bind(rc, true)}
	s.cr.Reset(&s.cdr)
	s.stats = SessionStats{}
	s.nreq = 0
	s.aborted.Store(false)
	var stop func() bool
	if af, ok := ctx.(afterFuncer); ok {
		stop = af.AfterFunc(s.abortFn)
	} else {
		stop = context.AfterFunc(ctx, s.abortFn)
	}
	s.startDrain(env)
	s.stickStart()
	for !s.aborted.Load() && s.serveOne() {
	}
	s.stickStop()
	s.endDrain()
	if !stop() {
		<-s.abortDone // abort ran or runs: let it finish before the session is reused
	}
	if o := s.own; o != nil {
		s.own = nil
		if o.pool != nil && !s.aborted.Load() {
			o.pool.put(o)
		} else {
			o.close()
		}
	}
	st := s.stats
	st.BytesIn, st.BytesOut = s.cdr.n, s.cw.n
	s.env, s.txn, s.ctx, s.c = nil, nil, nil, nil
	s.cdr, s.cw, s.sw = deadlineReader{}, deadlineWriter{}, nil
	s.crio.rc, s.cwio.rc = nil, nil
	s.cr.Reset(nil)
	s.cur.Store(nil)
	if !s.bodyRunning {
		sessionPool.Put(s)
	}
	return st
}

// afterFuncer is what context.AfterFunc itself looks for on a parent context: a
// context that runs callbacks on its own when it ends. A data plane whose ctx has it
// spares a session the cancelCtx bookkeeping of context.AfterFunc (a child context,
// the parent's children map and its lock, a few allocations per connection).
type afterFuncer interface {
	AfterFunc(f func()) (stop func() bool)
}

// abort ends the session from outside (ctx done): closing the sockets unblocks any I/O.
func (s *session) abort() {
	s.aborted.Store(true)
	s.c.Close()
	if sc := s.cur.Load(); sc != nil {
		sc.conn.Close()
	}
	s.abortDone <- struct{}{}
}

func deadline(t time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return t.Add(d)
}

// serveOne reads one request and serves it; false ends the session.
func (s *session) serveOne() bool {
	f := s.f
	s.nreq++
	first := s.nreq == 1
	to := f.timeouts(nil)
	s.log = LogEntry{
		Client: s.txn.Src, Frontend: f.name, TLS: s.txn.TLS != nil, Backend: f.name, Server: "<NOSRV>",
		TR: -1, Tw: -1, Tc: -1, Tr: -1, Ta: -1, Term: [2]byte{'-', '-'}, Cookie: [2]byte{'-', '-'},
		RequestNo: s.nreq,
	}
	s.respPhase, s.expect, s.fwd = false, false, &s.req

	// Wait for the request: from accept for the first one (timeout http-request), and
	// for the next ones, timeout http-keep-alive until a byte arrives, then
	// http-request for the rest of the head.
	var tr time.Time
	inStart := s.cdr.n - int64(len(s.cr.Buffered()))
	if first {
		tr = s.accept
	} else {
		if len(s.cr.Buffered()) == 0 {
			s.cdr.idle = 0
			s.cdr.setFixed(deadline(time.Now(), to.keepAlive))
			if s.draining() {
				return false // soft stop: an idle connection closes at once
			}
			dr := s.idleDrain()
			if dr != nil {
				s.cdr.arm() // before enterIdle: a drain signal's deadline must not be overwritten
				if !dr.enterIdle() {
					return false
				}
			}
			err := s.cr.Fill()
			if dr != nil {
				dr.leaveIdle()
			}
			if err != nil {
				return false // idle keep-alive connection closed, timed out or drained: no log
			}
		}
		tr = time.Now()
	}
	s.cdr.idle = 0
	s.cdr.setFixed(deadline(tr, to.httpRequest))
	s.log.RequestDate = tr
	err := s.cr.ReadRequest(&s.req, f.lim)
	s.log.BytesIn = s.cdr.n - inStart
	if err != nil {
		return s.badRequest(err, first, tr)
	}
	s.stats.Requests++
	s.log.TR = time.Since(tr)
	s.reqLine = append(s.reqLine[:0], s.req.Method()...)
	s.reqLine = append(s.reqLine, ' ')
	s.reqLine = append(s.reqLine, s.req.Target()...)
	s.reqLine = append(s.reqLine, ' ')
	s.reqLine = append(s.reqLine, s.req.Version().String()...)
	s.log.RequestLine = s.reqLine

	s.txn.Reset()
	s.view.req = &s.req
	s.txn.HTTP = &s.view
	s.txn.BackendName = ""
	s.stickRequest()
	s.clientKeep = s.req.KeepAlive() && f.mode != modeClose && !s.draining()
	reqFraming := s.req.Framing()

	if s.reqRules(f.reqRules, nil) == ruleRespond || s.reqRules(f.redirects, nil) == ruleRespond {
		return s.sendLocal(reqFraming, to, tr)
	}
	if f.resp != nil && s.frontRespond(reqFraming, to) {
		return s.sendLocal(reqFraming, to, tr)
	}
	name := s.chooseBackend()
	var be Backend
	var bp *backendProg
	if name != "" {
		var ok bool
		if be, ok = s.env.Backend(name); ok {
			bp = f.backends[name]
		}
	}
	if bp == nil {
		s.log.Status, s.log.Term = 503, [2]byte{'P', 'R'}
		s.out = s.errorPage(s.out[:0], 503, nil)
		s.stats.Errors++
		return s.sendLocal(reqFraming, to, tr)
	}
	s.txn.BackendName = name
	s.log.Backend = name
	to = f.timeouts(bp)
	s.stickBackend(bp)
	if bp != f.self && s.reqRules(bp.reqRules, bp) == ruleRespond {
		return s.sendLocal(reqFraming, to, tr)
	}
	if rs, ok := be.(Responder); ok {
		out, status, handled := s.askResponder(rs, reqFraming, to)
		if handled {
			s.out = out
			s.log.Status, s.log.Term, s.log.Server = status, [2]byte{'L', 'R'}, "<STATS>"
			return s.sendLocal(reqFraming, to, tr)
		}
	}
	mode := max(f.mode, bp.mode)
	serverKeep := mode == modeKeepAlive
	if mode == modeClose {
		s.clientKeep = false
	}
	ck := cookieState{client: '-', server: '-'}
	if bp.cookie != nil {
		ck, s.cookieBuf = bp.readCookie(&s.req, time.Now(), s.cookieBuf)
	}
	upgrade := false
	if _, ok := s.req.Upgrade(); ok {
		upgrade = true
	}
	s.prepareRequest(bp, serverKeep, upgrade, reqFraming)

	srv, info, err := be.Pick(s.ctx, bp.hash.key(&s.req, s.txn), ck.preferred)
	s.log.Tw, s.log.SrvQueue, s.log.BeQueue, s.log.Redispatched = info.Queued, info.SrvQueue, info.BeQueue, info.Redispatched
	if err != nil {
		s.log.Status = 503
		switch err {
		case ErrQueueFull:
			s.log.Term = [2]byte{'P', 'Q'}
		case ErrQueueTimeout:
			s.log.Term = [2]byte{'s', 'Q'}
		default:
			s.log.Term = [2]byte{'S', 'C'}
		}
		s.log.Cookie = [2]byte{ck.client, ck.server}
		s.out = s.errorPage(s.out[:0], 503, bp)
		s.stats.Errors++
		return s.sendLocal(reqFraming, to, tr)
	}
	s.log.Server = srv.Name()
	if ck.preferred != "" && ck.preferred != srv.Name() {
		ck.client = ckDown
	}
	keep := s.forward(bp, srv, ck, serverKeep, upgrade, reqFraming, to, tr, first)
	srv.Release()
	s.stickEnd()
	s.env.Log(&s.log)
	return keep
}

// chooseBackend runs use_backend rules, then default_backend. A `%[...]` name that
// names no backend makes its rule not apply (as HAProxy).
func (s *session) chooseBackend() string {
	for i := range s.f.useBackends {
		u := &s.f.useBackends[i]
		if u.Cond != nil && !u.Cond.Match(s.txn) {
			continue
		}
		if u.Expr == nil {
			return u.Backend
		}
		n, ok := u.Expr.String(s.txn)
		if !ok {
			continue
		}
		if _, found := s.f.backends[n]; found {
			if _, ok := s.env.Backend(n); ok {
				return n
			}
		}
	}
	return s.f.defBackend
}

// badRequest handles a request head that could not be read.
func (s *session) badRequest(err error, first bool, tr time.Time) bool {
	s.log.RequestLine = append(s.reqLine[:0], "<BADREQ>"...)
	status := 0
	var pe *http1.ParseError
	switch {
	case errors.As(err, &pe):
		status, s.log.Term, s.log.Error = 400, [2]byte{'P', 'R'}, pe.Name
	case isTimeout(err):
		if len(s.cr.Buffered()) == 0 && !first {
			return false
		}
		status, s.log.Term = 408, [2]byte{'c', 'R'}
	case err == io.EOF:
		if !first {
			return false
		}
		s.log.Term = [2]byte{'C', 'R'}
	default:
		s.log.Term = [2]byte{'C', 'R'}
	}
	if status != 0 {
		s.stats.Errors++
		s.log.Status = status
		s.out = http1.AppendError(s.out[:0], status)
		s.cw.setIdle(s.f.to.Client)
		n, _ := s.cw.Write(s.out)
		s.log.Bytes = int64(n)
	}
	s.log.Ta = time.Since(tr)
	s.stats.LastTerm = s.log.Term
	s.stickBadRequest()
	s.env.Log(&s.log)
	return false
}

// sendLocal sends the response appl built itself (s.out) and logs. The connection is
// kept only when the request had no body (it was not read) and the response does not
// announce a close.
func (s *session) sendLocal(reqFraming http1.Framing, to timeouts, tr time.Time) bool {
	if s.log.Denied {
		s.stats.Denied++
	}
	head := s.out
	if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
		head = head[:i]
	}
	keep := s.clientKeep && reqFraming.Kind == http1.BodyNone && !bytes.Contains(head, []byte("onnection: close"))
	s.stickEnd() // counted before the client sees the answer
	s.cw.setIdle(to.client)
	n, err := s.cw.Write(s.out)
	s.log.Bytes = int64(n)
	s.log.Ta = time.Since(tr)
	s.stats.LastTerm = s.log.Term
	s.env.Log(&s.log)
	return keep && err == nil
}

// prepareRequest rewrites the connection fields for the server side and adds the
// proxy's own fields (forwardfor).
func (s *session) prepareRequest(bp *backendProg, serverKeep, upgrade bool, fr http1.Framing) {
	r := &s.req
	// Hop-by-hop fields: those Connection lists, then the usual ones.
	for i := 0; i < r.Len(); i++ {
		h := r.At(i)
		if !equalFold(h.Name, "connection") {
			continue
		}
		for v := h.Value; len(v) > 0; {
			var e []byte
			if j := bytes.IndexByte(v, ','); j >= 0 {
				e, v = v[:j], v[j+1:]
			} else {
				e, v = v, nil
			}
			e = bytes.TrimSpace(e)
			if len(e) == 0 || equalFold(e, "close") || equalFold(e, "keep-alive") || equalFold(e, "upgrade") ||
				equalFold(e, "host") || equalFold(e, "content-length") || equalFold(e, "transfer-encoding") {
				continue
			}
			r.Del(bstr(e))
		}
	}
	r.Del("connection")
	r.Del("proxy-connection")
	r.Del("keep-alive")
	switch {
	case upgrade:
		r.Add("Connection", "upgrade")
	case !serverKeep:
		r.Add("Connection", "close")
	case r.Version() == http1.HTTP10:
		r.Add("Connection", "keep-alive")
	}
	fwd := bp.fwd
	if fwd == nil {
		fwd = s.f.fwd
	}
	if fwd != nil && s.txn.Src.IsValid() {
		a := s.txn.Src.Addr().Unmap()
		skip := fwd.Except.IsValid() && fwd.Except.Contains(a)
		if !skip && fwd.IfNone {
			_, skip = r.Header(fwd.Header)
		}
		if !skip {
			s.lf = a.AppendTo(s.lf[:0])
			r.Add(fwd.Header, bstr(s.lf))
		}
	}
	if r.ExpectContinue() && fr.Kind != http1.BodyNone {
		// appl answers 100 Continue itself once the server connection is ready.
		r.Del("expect")
		s.expect = true
	}
}

// serverConn returns a connection to srv: this client's own from its previous request,
// an idle one from the server's pool (not for the first request of a client
// connection: http-reuse safe), or a new one.
func (s *session) serverConn(srv Server, first, hasBody bool) (*srvConn, bool, error) {
	pool := srv.Pool()
	if o := s.own; o != nil {
		s.own = nil
		// A bodyless request is retried on a new connection if this one turns out
		// closed; one with a body is not, so probe first.
		if pool != nil && o.pool == pool && (!hasBody || o.alive()) {
			return o, true, nil
		}
		if o.pool != nil {
			o.pool.put(o)
		} else {
			o.close()
		}
	}
	if !first && pool != nil {
		if c := pool.get(); c != nil {
			s.stats.ServerConnReused++
			return c, true, nil
		}
	}
	return s.dial(srv, pool)
}

func (s *session) dial(srv Server, pool *Pool) (*srvConn, bool, error) {
	t0 := time.Now()
	c, err := srv.Dial(s.ctx)
	s.log.Tc = time.Since(t0)
	if err != nil {
		return nil, false, err
	}
	s.stats.ServerConns++
	return newSrvConn(c, pool, s.f.bufSize), false, nil
}

// forward sends the request to srv and relays the response. It returns whether the
// client connection can carry another request.
func (s *session) forward(bp *backendProg, srv Server, ck cookieState, serverKeep, upgrade bool, reqFraming http1.Framing, to timeouts, tr time.Time, first bool) bool {
	sc, reused, err := s.serverConn(srv, first, reqFraming.Kind != http1.BodyNone)
	if err != nil {
		return s.fail(503, [2]byte{'S', 'C'}, bp, ck, to, tr)
	}
	if reused {
		s.log.Tc = 0
	}
	s.reqHead = s.req.AppendTo(s.reqHead[:0])
	if reqFraming.Kind != http1.BodyNone {
		// The body will move the client window: keep a stable copy of the head for
		// the response stage (framing of HEAD/CONNECT, fetches, log).
		if _, err := s.reqCopy.Parse(s.reqHead, http1.Limits{MaxHead: len(s.reqHead) + 1}); err == nil {
			s.fwd = &s.reqCopy
			s.view.req = &s.reqCopy
		} else {
			sc.close()
			return s.fail(500, [2]byte{'P', 'R'}, bp, ck, to, tr)
		}
	}
	var sent time.Time
	for attempt := 0; ; attempt++ {
		s.cur.Store(sc)
		if s.aborted.Load() {
			// abort ran while the server was being dialed or picked and saw no s.cur:
			// close it here, or the request would wait out timeout server.
			sc.conn.Close()
		}
		sc.uses++
		sc.w.setIdle(to.server)
		s.sw = &sc.w
		sc.dr.setIdle(0)
		sc.dr.setFixed(deadline(time.Now(), to.server))
		_, err = s.sw.Write(s.reqHead)
		sent = time.Now()
		if err == nil && reqFraming.Kind != http1.BodyNone {
			if s.expect {
				s.cw.setIdle(to.client)
				s.cw.Write([]byte(http1.Continue))
			}
			s.startBody(sc, reqFraming, to)
		}
		if err == nil {
			err = s.readResponseHead(sc)
		}
		if err == nil {
			break
		}
		// A reused connection the server closed meanwhile: retry once on a new one
		// when nothing of the request is lost (no body).
		if reused && attempt == 0 && reqFraming.Kind == http1.BodyNone && !s.bodyRunning && !isTimeout(err) && !isParseError(err) {
			sc.close()
			var derr error
			sc, reused, derr = s.dial(srv, srv.Pool())
			if derr != nil {
				s.cur.Store(nil)
				return s.fail(503, [2]byte{'S', 'C'}, bp, ck, to, tr)
			}
			continue
		}
		sc.close()
		s.cur.Store(nil)
		return s.responseError(err, bp, ck, to, tr)
	}
	s.log.Tr = time.Since(sent)

	s.respPhase = true
	respFraming := s.resp.Framing(s.fwd)
	if s.resp.Status() == 101 && !upgrade {
		sc.close()
		s.cur.Store(nil)
		return s.responseError(errUnexpected101, bp, ck, to, tr)
	}
	if (bp != s.f.self && s.respRules(bp.respRules, bp)) || s.respRules(s.f.respRules, bp) {
		sc.close()
		s.cur.Store(nil)
		s.abortBody()
		s.log.Term = [2]byte{'P', 'H'}
		s.log.Cookie = [2]byte{ck.client, ck.server}
		s.stats.Denied++
		s.cw.setIdle(to.client)
		n, _ := s.cw.Write(s.out)
		s.log.Bytes = int64(n)
		s.log.Ta = time.Since(tr)
		s.stats.LastTerm = s.log.Term
		return false // the built-in 502 announces a close
	}
	if bp.cookie != nil {
		s.cookieBuf = bp.writeCookie(&s.resp, &ck, srv.Name(), s.fwd.IsMethod("POST"), time.Now(), s.cookieBuf)
		s.log.Cookie = [2]byte{ck.client, ck.server}
	}
	s.log.Status = s.resp.Status()
	srvKeep := serverKeep && s.resp.KeepAlive(s.fwd)
	keepC := s.clientKeep && respFraming.Kind != http1.BodyUntilClose && respFraming.Kind != http1.BodyTunnel &&
		!s.draining()
	s.resp.Del("connection")
	s.resp.Del("proxy-connection")
	s.resp.Del("keep-alive")
	switch {
	case respFraming.Kind == http1.BodyTunnel && s.resp.Status() == 101:
		s.resp.Add("Connection", "upgrade")
	case !keepC:
		s.resp.Add("Connection", "close")
	case s.fwd.Version() == http1.HTTP10:
		s.resp.Add("Connection", "keep-alive")
	}
	s.out = s.resp.AppendTo(s.out[:0])
	if respFraming.Kind == http1.BodyLength {
		// A small body that arrived with the head leaves in the same write: one
		// syscall (and one wake-up of the client) per response instead of two.
		if b := sc.r.Buffered(); len(b) > 0 && len(b) <= coalesceMax {
			k := int(min(int64(len(b)), respFraming.Length))
			s.out = append(s.out, b[:k]...)
			sc.r.Discard(k)
			if respFraming.Length -= int64(k); respFraming.Length == 0 {
				respFraming.Kind = http1.BodyNone
			}
		}
	}
	s.cw.setIdle(to.client)
	outStart := s.cw.n
	_, err = s.cw.Write(s.out)
	if err != nil {
		s.log.Term = [2]byte{'C', 'H'}
		return s.endForward(sc, false, outStart, tr)
	}
	if respFraming.Kind == http1.BodyTunnel {
		s.waitBody()
		s.log.Term = s.tunnel(sc, to)
		s.log.Bytes = s.cw.n - outStart
		sc.close()
		s.cur.Store(nil)
		s.log.Ta = time.Since(tr)
		s.stats.LastTerm = s.log.Term
		return false
	}
	if err := s.copyResponseBody(sc, respFraming, to); err != nil {
		return s.endForward(sc, false, outStart, tr)
	}
	if r := s.waitBody(); r.err != nil {
		keepC, srvKeep = false, false
		s.bodyTerm(r)
	}
	if srvKeep && len(sc.r.Buffered()) == 0 {
		s.own = sc
		s.cur.Store(nil)
	} else {
		sc.close()
		s.cur.Store(nil)
	}
	s.log.Bytes = s.cw.n - outStart
	s.log.Ta = time.Since(tr)
	s.stats.LastTerm = s.log.Term
	return keepC
}

// coalesceMax bounds the body bytes appended to a response head for one write.
const coalesceMax = 16 << 10

var errUnexpected101 = errors.New("httpmode: 101 Switching Protocols without an upgrade request")

func isParseError(err error) bool {
	var pe *http1.ParseError
	return errors.As(err, &pe)
}

// readResponseHead reads the final response head, forwarding interim responses (1xx)
// to HTTP/1.1 clients; a 100 is dropped when appl already sent its own.
func (s *session) readResponseHead(sc *srvConn) error {
	for {
		if err := sc.r.ReadResponse(&s.resp, s.f.lim); err != nil {
			return err
		}
		if !s.resp.IsInterim() {
			return nil
		}
		if (s.resp.Status() == 100 && s.expect) || s.fwd.Version() == http1.HTTP10 {
			continue
		}
		s.out = s.resp.AppendTo(s.out[:0])
		if _, err := s.cw.Write(s.out); err != nil {
			return err
		}
	}
}

// endForward closes the server side after a failure during the response.
func (s *session) endForward(sc *srvConn, keep bool, outStart int64, tr time.Time) bool {
	sc.close()
	s.cur.Store(nil)
	s.abortBody()
	s.log.Bytes = s.cw.n - outStart
	s.log.Ta = time.Since(tr)
	s.stats.Errors++
	s.stats.LastTerm = s.log.Term
	return keep
}

// fail answers a generated error when no response has started.
func (s *session) fail(status int, term [2]byte, bp *backendProg, ck cookieState, to timeouts, tr time.Time) bool {
	s.abortBody()
	s.log.Status, s.log.Term = status, term
	s.log.Cookie = [2]byte{ck.client, ck.server}
	s.out = s.errorPage(s.out[:0], status, bp)
	s.stats.Errors++
	s.clientKeep = false
	s.cw.setIdle(to.client)
	n, _ := s.cw.Write(s.out)
	s.log.Bytes = int64(n)
	s.log.Ta = time.Since(tr)
	s.stats.LastTerm = s.log.Term
	return false
}

// responseError maps a failure to get a response head to 502/504 (or to the request
// body's own failure).
func (s *session) responseError(err error, bp *backendProg, ck cookieState, to timeouts, tr time.Time) bool {
	if s.bodyRunning {
		// The server side failed: stop reading the client, then see whether the
		// request body was the cause.
		if !isTimeout(err) {
			stopReading(s.c)
		}
		r := s.waitBody()
		if r.err != nil && r.clientSide && !errors.Is(r.err, errAborted) {
			s.bodyTerm(r)
			if isParseError(r.err) {
				return s.fail(400, s.log.Term, bp, ck, to, tr)
			}
			s.abortBody()
			s.log.Cookie = [2]byte{ck.client, ck.server}
			s.log.Ta = time.Since(tr)
			s.stats.Errors++
			s.stats.LastTerm = s.log.Term
			return false
		}
	}
	var pe *http1.ParseError
	switch {
	case errors.As(err, &pe):
		s.log.Error = pe.Name
		return s.fail(502, [2]byte{'P', 'H'}, bp, ck, to, tr)
	case isTimeout(err):
		return s.fail(504, [2]byte{'s', 'H'}, bp, ck, to, tr)
	}
	return s.fail(502, [2]byte{'S', 'H'}, bp, ck, to, tr)
}

var errAborted = errors.New("httpmode: request body aborted")

// startBody streams the request body to the server in its own goroutine, so that a
// server answering before the end of the body (or an interim response) is seen.
func (s *session) startBody(sc *srvConn, fr http1.Framing, to timeouts) {
	// No response deadline while the body flows (the server is busy taking it; a
	// stalled server shows as a write timeout): the body goroutine sets timeout
	// server once the body is sent. Clear it now, before that goroutine can set it.
	sc.dr.setIdle(0)
	sc.dr.arm()
	s.bodyRunning = true
	s.bodyFraming, s.bodyTo, s.bodySrv = fr, to, sc
	go s.copyBodyStart()
}

func (s *session) copyReqBody() {
	sc, fr, to, sw := s.bodySrv, s.bodyFraming, s.bodyTo, s.sw
	defer func() {
		// This goroutine is not under the data plane's recover: a bug here must not
		// take the process down. Report it as a failed body.
		if v := recover(); v != nil {
			sc.conn.Close()
			s.bodyCh <- bodyResult{err: fmt.Errorf("httpmode: panic in request body copy: %v", v)}
		}
	}()
	s.cdr.setIdle(to.client)
	var r bodyResult
	switch fr.Kind {
	case http1.BodyLength:
		r = s.copyLength(sw, &s.cdr, s.cr, fr.Length)
	case http1.BodyChunked:
		sw.err = nil
		n, err := s.cr.CopyBody(sw, fr, &s.dec, s.bscratch)
		r = bodyResult{n: n, err: err}
		if err != nil {
			r.clientSide = sw.err == nil
		}
	}
	if r.err != nil {
		// Stop the server side: it must not take a partial body as a complete one.
		sc.conn.Close()
	} else if to.server > 0 {
		sc.conn.SetReadDeadline(time.Now().Add(to.server))
	}
	s.bodyCh <- r
}

// copyLength copies n body bytes: the window first, then the sockets directly.
func (s *session) copyLength(dst *deadlineWriter, src *deadlineReader, r *http1.Reader, n int64) bodyResult {
	var done int64
	if b := r.Buffered(); len(b) > 0 {
		k := int(min(int64(len(b)), n))
		m, err := dst.Write(b[:k])
		r.Discard(m)
		done += int64(m)
		if err != nil {
			return bodyResult{n: done, err: err}
		}
	}
	if done == n {
		return bodyResult{n: done}
	}
	dst.err, src.err = nil, nil
	m, err := copyRaw(dst, src, n-done, s.bscratch)
	done += m
	if err != nil {
		return bodyResult{n: done, err: err, clientSide: dst.err == nil}
	}
	return bodyResult{n: done}
}

// waitBody waits for the request body goroutine, if one runs.
func (s *session) waitBody() bodyResult {
	if !s.bodyRunning {
		return bodyResult{}
	}
	r := <-s.bodyCh
	s.bodyRunning = false
	return r
}

// abortBody stops a running request body copy: the client's read side is shut (its
// pending read returns at once, and a deadline could be re-armed by the copy), the
// server connection, which will not be reused, is closed.
func (s *session) abortBody() {
	if !s.bodyRunning {
		return
	}
	stopReading(s.c)
	if s.bodySrv != nil {
		s.bodySrv.conn.Close()
	}
	s.waitBody()
	s.clientKeep = false
}

// stopReading makes pending and later reads of c fail at once, leaving writes usable
// (for the error response that follows).
func stopReading(c net.Conn) {
	if cr, ok := c.(interface{ CloseRead() error }); ok && cr.CloseRead() == nil {
		return
	}
	c.SetReadDeadline(time.Unix(1, 0))
}

// bodyTerm sets the termination flags for a failed request body.
func (s *session) bodyTerm(r bodyResult) {
	var pe *http1.ParseError
	switch {
	case errors.As(r.err, &pe):
		s.log.Term, s.log.Error = [2]byte{'P', 'D'}, pe.Name
	case !r.clientSide:
		s.log.Term = [2]byte{'S', 'D'}
		if isTimeout(r.err) {
			s.log.Term[0] = 's'
		}
	case isTimeout(r.err):
		s.log.Term = [2]byte{'c', 'D'}
	default:
		s.log.Term = [2]byte{'C', 'D'}
	}
}

// copyResponseBody streams the response body to the client.
func (s *session) copyResponseBody(sc *srvConn, fr http1.Framing, to timeouts) error {
	sc.dr.setIdle(to.server)
	s.cw.err = nil
	sc.dr.err = nil
	var err error
	switch fr.Kind {
	case http1.BodyNone:
		return nil
	case http1.BodyLength, http1.BodyUntilClose:
		n := fr.Length
		if fr.Kind == http1.BodyUntilClose {
			n = -1
		}
		if b := sc.r.Buffered(); len(b) > 0 {
			k := len(b)
			if n >= 0 {
				k = int(min(int64(k), n))
			}
			m, werr := s.cw.Write(b[:k])
			sc.r.Discard(m)
			if werr != nil {
				err = werr
			} else if n >= 0 {
				n -= int64(m)
			}
		}
		if err == nil && n != 0 {
			_, err = copyRaw(&s.cw, &sc.dr, n, s.scratch)
		}
	case http1.BodyChunked:
		_, err = sc.r.CopyBody(&s.cw, fr, &s.sdec, s.scratch)
	}
	if err == nil {
		return nil
	}
	switch {
	case s.cw.err != nil && isTimeout(s.cw.err):
		s.log.Term = [2]byte{'c', 'D'}
	case s.cw.err != nil:
		s.log.Term = [2]byte{'C', 'D'}
	case isTimeout(err):
		s.log.Term = [2]byte{'s', 'D'}
	case isParseError(err):
		s.log.Term = [2]byte{'P', 'D'}
		s.log.Error = err.(*http1.ParseError).Name
	default:
		s.log.Term = [2]byte{'S', 'D'}
	}
	return err
}

// tunnel relays bytes both ways after a 101 (or a 2xx to CONNECT) until both sides have
// closed, or nothing moved in either direction for timeout tunnel (else the longer of
// timeout client and server). It returns the termination flags.
func (s *session) tunnel(sc *srvConn, to timeouts) [2]byte {
	idle := to.tunnel
	if idle <= 0 {
		idle = max(to.client, to.server)
	}
	// Bytes already read past the heads belong to the tunnel.
	if b := s.cr.Buffered(); len(b) > 0 {
		if _, err := sc.conn.Write(b); err != nil {
			return [2]byte{'S', 'D'}
		}
		s.cr.Discard(len(b))
	}
	if b := sc.r.Buffered(); len(b) > 0 {
		if _, err := s.cw.Write(b); err != nil {
			return [2]byte{'C', 'D'}
		}
		sc.r.Discard(len(b))
	}
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	done := make(chan [2]byte, 1)
	up := &deadlineWriter{conn: sc.conn}
	go func() {
		defer func() {
			if v := recover(); v != nil { // not under the data plane's recover
				s.c.Close()
				sc.conn.Close()
				done <- [2]byte{'I', 'D'}
			}
		}()
		done <- pump(up, s.c, s.rbuf, idle, &last, 'C', 'S', &s.cdr.n)
	}()
	down := pump(&s.cw, sc.conn, sc.buf, idle, &last, 'S', 'C', nil)
	upTerm := <-done
	if down != [2]byte{'-', '-'} {
		return down
	}
	return upTerm
}

// pump copies src to dst until EOF (then half-closes dst) or an error; idle is checked
// against the shared last-activity time so that one busy direction keeps the other alive.
// rd and wr are the termination causes for a read or write failure.
func pump(dst *deadlineWriter, src net.Conn, buf []byte, idle time.Duration, last *atomic.Int64, rd, wr byte, count *int64) [2]byte {
	for {
		if idle > 0 {
			src.SetReadDeadline(time.Now().Add(idle))
			dst.conn.SetWriteDeadline(time.Now().Add(idle))
		}
		n, err := src.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			if count != nil {
				*count += int64(n)
			}
			if _, werr := dst.conn.Write(buf[:n]); werr != nil {
				src.Close()
				dst.conn.Close()
				return [2]byte{wr, 'D'}
			}
			dst.n += int64(n)
		}
		if err == nil {
			continue
		}
		if isTimeout(err) && time.Since(time.Unix(0, last.Load())) < idle {
			continue
		}
		if err == io.EOF {
			if cw, ok := dst.conn.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			} else {
				dst.conn.Close()
			}
			return [2]byte{'-', '-'}
		}
		src.Close()
		dst.conn.Close()
		if isTimeout(err) {
			return [2]byte{rd + 'a' - 'A', 'D'}
		}
		return [2]byte{rd, 'D'}
	}
}

// askResponder asks a Responder, reading first the small body a BodyResponder needs (the
// stats page's admin form). Copying a Content-Length body only advances the client
// window, so s.req stays valid.
func (s *session) askResponder(rs Responder, fr http1.Framing, to timeouts) ([]byte, int, bool) {
	br, ok := rs.(BodyResponder)
	if !ok || fr.Kind != http1.BodyLength {
		return rs.Respond(s.out[:0], &s.req, s.txn)
	}
	limit := br.BodyLimit(&s.req)
	if limit <= 0 || fr.Length > int64(limit) {
		return rs.Respond(s.out[:0], &s.req, s.txn)
	}
	s.cdr.setIdle(to.client)
	var body bytes.Buffer
	if _, err := s.cr.CopyBody(&body, fr, &s.dec, nil); err != nil {
		return append(s.out[:0], "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"...), 400, true
	}
	return br.RespondBody(s.out[:0], &s.req, body.Bytes(), s.txn)
}
