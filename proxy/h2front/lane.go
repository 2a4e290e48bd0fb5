package h2front

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"appl/proxy/acl"
	"appl/proxy/http1"
	"appl/proxy/httpmode"
)

// A lane is a virtual HTTP/1.1 client connection between the gateway and the engine:
// the engine's Serve runs on it as on any keep-alive connection, reading the requests
// of the streams given to it one after another (Read) and writing their responses
// (Write), which are parsed as they come and sent as HEADERS and DATA frames from the
// engine's own goroutine (a Write blocks while the client's window is closed: the
// back-pressure of a socket). A lane takes a new stream only while the engine waits in
// Read for its next request, so a stream never waits behind another one's response;
// its server connection and the engine's buffers stay with it between streams, as
// with HTTP/1.1 keep-alive.
type lane struct {
	cn *conn

	// Request side, guarded by cn.mu.
	cur     *stream // the stream whose request the engine reads
	idle    bool    // the engine waits for a request: the lane is in cn.idle
	dead    bool    // takes no more streams
	rshut   bool    // CloseRead
	rnotify chan struct{}

	rdl, wdl deadline

	// The streams whose responses are due, in order (guarded by mu).
	mu    sync.Mutex
	respQ []*stream
	done  chan struct{} // closed by Close
	once  sync.Once

	// The response parser: fed by Write, finished by run (wmu).
	wmu sync.Mutex
	rp  respParser

	env laneEnv
	txn acl.Txn
}

// respParser follows the engine's HTTP/1.1 responses across Writes.
type respParser struct {
	state uint8
	s     *stream // the stream of the response in progress
	left  int64   // BodyLength: bytes still due
	head  []byte  // an incomplete response head
	pend  []byte  // chunked: bytes of an incomplete line
	out   []byte  // chunked: decoded payload
	resp  http1.Response
	dec   http1.ChunkedDecoder
}

const (
	rsHead = iota
	rsLength
	rsChunked
	rsClose
)

var errBadResponse = errors.New("h2front: the engine wrote an invalid response")

func newLane(cn *conn) *lane {
	l := &lane{
		cn:      cn,
		rnotify: make(chan struct{}, 1),
		rdl:     newDeadline(),
		wdl:     newDeadline(),
		done:    make(chan struct{}),
	}
	l.env = laneEnv{cn: cn}
	t := cn.txn
	l.txn = acl.Txn{Src: t.Src, Dst: t.Dst, FrontendName: t.FrontendName, TLS: t.TLS, ClientHelloSNI: t.ClientHelloSNI, Env: t.Env}
	return l
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// run serves the lane's streams until the engine ends the virtual connection.
func (l *lane) run(first time.Time) {
	cn := l.cn
	defer cn.lanes.Done()
	defer func() {
		if v := recover(); v != nil {
			cn.panicked(v)
		}
		l.Close()
		cn.laneEnded(l)
		l.wmu.Lock()
		l.finishResponses()
		l.wmu.Unlock()
	}()
	st := cn.eng.Serve(cn.lctx, l, first, &l.env, &l.txn)
	cn.mu.Lock()
	cn.st.Requests += st.Requests
	cn.st.Denied += st.Denied
	cn.st.Errors += st.Errors
	cn.st.ServerConns += st.ServerConns
	cn.st.ServerConnReused += st.ServerConnReused
	if st.LastTerm != [2]byte{} {
		cn.st.LastTerm = st.LastTerm
	}
	cn.mu.Unlock()
}

// Read gives the engine the serialized request of the lane's stream, then waits for
// the next stream (the keep-alive wait: the lane is idle then).
func (l *lane) Read(p []byte) (int, error) {
	cn := l.cn
	for {
		cn.mu.Lock()
		if l.rshut || isClosed(l.done) {
			cn.mu.Unlock()
			return 0, net.ErrClosed
		}
		if l.cur == nil && !l.dead {
			if len(cn.pending) > 0 {
				s := cn.pending[0]
				cn.pending = cn.pending[1:]
				cn.removeIdle(l)
				l.assign(s)
			} else if !l.idle {
				l.idle = true
				cn.idle = append(cn.idle, l)
			}
		}
		if s := l.cur; s != nil && s.inOff < len(s.in) {
			n, upd := cn.consume(s, p)
			if s.inOff == len(s.in) && s.inEnd {
				l.cur = nil // the whole request was read; the next Read waits for a stream
			}
			cn.mu.Unlock()
			cn.sendUpdates(upd)
			return n, nil
		}
		if s := l.cur; s != nil && s.inEnd && s.inOff == len(s.in) {
			l.cur = nil
			continue
		}
		dl := l.rdl.wait()
		if isClosed(dl) {
			if l.cur == nil {
				l.dead = true // timed out idle: no stream may be given to it now
				cn.removeIdle(l)
			}
			cn.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		cn.mu.Unlock()
		select {
		case <-l.rnotify:
		case <-dl:
		case <-l.done:
		}
	}
}

// assign gives s to the lane (cn.mu held).
func (l *lane) assign(s *stream) {
	l.cur, l.idle = s, false
	s.lane = l
	l.mu.Lock()
	l.respQ = append(l.respQ, s)
	l.mu.Unlock()
	notify(l.rnotify)
}

// Write parses the engine's response bytes and sends them as frames.
func (l *lane) Write(p []byte) (int, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if isClosed(l.done) {
		return 0, net.ErrClosed
	}
	if err := l.feed(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (l *lane) feed(p []byte) error {
	cn, rp := l.cn, &l.rp
	for len(p) > 0 {
		switch rp.state {
		case rsHead:
			src := p
			if len(rp.head) > 0 {
				rp.head = append(rp.head, p...)
				src = rp.head
			}
			n, err := rp.resp.Parse(src, http1.Limits{MaxHead: cn.bufSize})
			if err == http1.ErrNeedMore {
				if len(rp.head) == 0 {
					rp.head = append(rp.head, p...)
				}
				if len(rp.head) > cn.bufSize {
					return errBadResponse
				}
				return nil
			}
			if err != nil {
				return errBadResponse
			}
			p = src[n:]
			k, err := l.startResponse(p)
			rp.head = rp.head[:0] // p may still refer to it: nothing appends to it before p is used
			if err != nil {
				return err
			}
			p = p[k:]
		case rsLength:
			k := int(min(int64(len(p)), rp.left))
			rp.left -= int64(k)
			if err := cn.sendData(rp.s, p[:k], rp.left == 0, l.wdl.wait(), l.done); err != nil {
				return err
			}
			p = p[k:]
			if rp.left == 0 {
				l.endResponse()
			}
		case rsClose:
			err := cn.sendData(rp.s, p, false, l.wdl.wait(), l.done)
			p = nil
			if err != nil {
				return err
			}
		case rsChunked:
			src := p
			if len(rp.pend) > 0 {
				rp.pend = append(rp.pend, p...)
				src = rp.pend
			}
			p = nil
			for {
				out, k, derr := rp.dec.DecodePayload(rp.out[:0], src)
				src = src[k:]
				if len(out) > 0 {
					if err := cn.sendData(rp.s, out, false, l.wdl.wait(), l.done); err != nil {
						return err
					}
				}
				if derr == io.EOF {
					if err := cn.sendData(rp.s, nil, true, nil, nil); err != nil {
						return err
					}
					l.endResponse()
					p = src // the next response's bytes
					break
				}
				if derr != nil {
					return errBadResponse
				}
				if k == 0 && len(out) == 0 {
					rp.pend = append(rp.pend[:0], src...) // an incomplete line: wait for more
					break
				}
			}
			if rp.state != rsChunked {
				rp.pend = rp.pend[:0]
			}
		}
	}
	return nil
}

// startResponse sends the head just parsed (rp.resp) and sets up its body; rest are
// the bytes that followed the head, of which it returns how many it sent with it.
func (l *lane) startResponse(rest []byte) (int, error) {
	cn, rp := l.cn, &l.rp
	s := l.front()
	if s == nil {
		return 0, errBadResponse
	}
	resp := &rp.resp
	if resp.IsInterim() {
		cn.writeHeaders(s, resp, false, false, nil)
		return 0, nil
	}
	fr := resp.Framing(nil)
	if s.info.Head {
		fr = http1.Framing{Kind: http1.BodyNone}
	}
	if fr.Kind == http1.BodyTunnel {
		return 0, errBadResponse // no upgrade over HTTP/2: the engine never tunnels here
	}
	var body []byte
	if fr.Kind == http1.BodyLength && int64(len(rest)) >= fr.Length {
		body = rest[:fr.Length] // a small response arrived whole: one write for both
	}
	k := 0
	if cn.writeHeaders(s, resp, fr.Kind == http1.BodyLength || s.info.Head, fr.Kind == http1.BodyNone, body) {
		k = len(body)
		fr.Kind = http1.BodyNone
	}
	rp.s = s
	switch fr.Kind {
	case http1.BodyNone:
		l.endResponse()
	case http1.BodyLength:
		rp.state, rp.left = rsLength, fr.Length
	case http1.BodyChunked:
		rp.state = rsChunked
		rp.dec.Reset()
		if rp.out == nil {
			rp.out = make([]byte, 0, 16<<10)
		}
	default:
		rp.state = rsClose
	}
	return k, nil
}

// endResponse: the response of rp.s was sent whole.
func (l *lane) endResponse() {
	rp := &l.rp
	l.pop(rp.s)
	l.cn.respDone(rp.s)
	rp.state, rp.s = rsHead, nil
}

// finishResponses settles what the engine left when it closed the lane: a response
// delimited by the close ends, a cut one is reset, streams never answered are reset
// (wmu held, after laneEnded moved an unread stream to another lane).
func (l *lane) finishResponses() {
	cn, rp := l.cn, &l.rp
	switch {
	case rp.state == rsClose && rp.s != nil:
		if cn.sendData(rp.s, nil, true, nil, nil) == nil {
			l.endResponse()
		}
	case rp.state != rsHead && rp.s != nil:
		// The response was cut (the engine gave up): the client must not take a
		// partial body as complete.
		l.pop(rp.s)
		cn.resetStream(rp.s, errCodeInternal, true)
	}
	rp.state, rp.s = rsHead, nil
	rp.head, rp.pend = rp.head[:0], rp.pend[:0]
	l.mu.Lock()
	left := l.respQ
	l.respQ = nil
	l.mu.Unlock()
	for _, s := range left {
		cn.resetStream(s, errCodeInternal, true)
	}
}

// Close ends the virtual connection: the engine's reads and writes fail.
func (l *lane) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// CloseRead makes reads fail (the engine stops reading a request body it gave up on).
func (l *lane) CloseRead() error {
	l.cn.mu.Lock()
	l.rshut = true
	l.cn.mu.Unlock()
	notify(l.rnotify)
	return nil
}

func (l *lane) LocalAddr() net.Addr  { return l.cn.c.LocalAddr() }
func (l *lane) RemoteAddr() net.Addr { return l.cn.c.RemoteAddr() }
func (l *lane) SetDeadline(t time.Time) error {
	l.rdl.set(t)
	l.wdl.set(t)
	return nil
}
func (l *lane) SetReadDeadline(t time.Time) error  { l.rdl.set(t); return nil }
func (l *lane) SetWriteDeadline(t time.Time) error { l.wdl.set(t); return nil }

// front returns the stream the next response belongs to.
func (l *lane) front() *stream {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.respQ) == 0 {
		return nil
	}
	return l.respQ[0]
}

func (l *lane) pop(s *stream) {
	l.mu.Lock()
	if len(l.respQ) > 0 && l.respQ[0] == s {
		l.respQ = l.respQ[1:]
	}
	l.mu.Unlock()
}

// unqueue removes s (not yet read: it is given to another lane).
func (l *lane) unqueue(s *stream) {
	l.mu.Lock()
	for i, x := range l.respQ {
		if x == s {
			l.respQ = append(l.respQ[:i], l.respQ[i+1:]...)
			break
		}
	}
	l.mu.Unlock()
}

// laneEnv is the engine's Env for one lane: the connection's Env, with Log calls
// serialized (the data plane's Env formats into one buffer per client connection) and
// the request line's version logged as HTTP/2.0, as HAProxy does.
type laneEnv struct {
	cn   *conn
	line []byte
}

func (e *laneEnv) Backend(name string) (httpmode.Backend, bool) { return e.cn.env.Backend(name) }

var h11 = []byte(" HTTP/1.1")

func (e *laneEnv) Log(le *httpmode.LogEntry) {
	if bytes.HasSuffix(le.RequestLine, h11) {
		e.line = append(e.line[:0], le.RequestLine[:len(le.RequestLine)-len(h11)]...)
		e.line = append(e.line, " HTTP/2.0"...)
		le.RequestLine = e.line
	}
	e.cn.logMu.Lock()
	e.cn.env.Log(le)
	e.cn.logMu.Unlock()
}

// Draining passes the data plane's drain signal on: an idle lane closes at once (the
// gateway has sent GOAWAY by then).
func (e *laneEnv) Draining() context.Context {
	if d, ok := e.cn.env.(httpmode.Drainer); ok {
		return d.Draining()
	}
	return nil
}
