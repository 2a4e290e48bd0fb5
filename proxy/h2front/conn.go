package h2front

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"appl/proxy/acl"
	"appl/proxy/http1"
	"appl/proxy/httpmode"
)

// Engine is what serves the lanes: *httpmode.Frontend.
type Engine interface {
	Serve(ctx context.Context, c net.Conn, accept time.Time, env httpmode.Env, txn *acl.Txn) httpmode.SessionStats
}

// Options are one connection's limits and timeouts.
type Options struct {
	MaxConcurrentStreams uint32        // SETTINGS_MAX_CONCURRENT_STREAMS; 0: 100 (HAProxy's)
	InitialWindow        uint32        // per-stream receive window; 0: 65535
	ConnWindow           uint32        // connection receive window; 0: 1 MiB
	BufSize              int           // tune.bufsize: largest request/response head; 0: 16 KiB
	RequestTimeout       time.Duration // preface and first request (timeout http-request, else client)
	IdleTimeout          time.Duration // no stream open (timeout http-keep-alive, else http-request)
	ClientTimeout        time.Duration // a write to the client, a wait for the client's window
	// Stale, when set, reports that a reload replaced the configuration this
	// connection runs: the gateway then sends GOAWAY so the client reconnects.
	Stale func() bool
	// OnPanic is called with a recovered panic of the connection's goroutines.
	OnPanic func(v any)
	// OnProtocolError is called for each connection or stream error (malformed frame
	// or request), as it happens.
	OnProtocolError func()
}

// Result sums one HTTP/2 connection.
type Result struct {
	// Summed over the lanes; BytesIn and BytesOut are the connection's own (frames).
	httpmode.SessionStats
	Streams        int  // streams opened by the client
	ProtocolErrors int  // connection and stream errors for malformed frames or requests
	GoAway         bool // ended by our GOAWAY (drain, reload, idle timeout or an error)
}

const (
	errCodeNo       = http2.ErrCodeNo
	errCodeProtocol = http2.ErrCodeProtocol
	errCodeInternal = http2.ErrCodeInternal
	errCodeFlow     = http2.ErrCodeFlowControl
	errCodeClosed   = http2.ErrCodeStreamClosed
	errCodeRefused  = http2.ErrCodeRefusedStream
	errCodeCancel   = http2.ErrCodeCancel
	maxWindow       = 1<<31 - 1
)

type stream struct {
	id      uint32
	info    ReqInfo
	arrived time.Time

	// Guarded by cn.mu.
	in      []byte // serialized request bytes not yet read by the lane
	inOff   int
	inEnd   bool  // END_STREAM received: in holds the whole rest of the request
	clLeft  int64 // content-length bytes still expected
	recvWin int64 // what the client may still send on it
	debt    int64 // payload bytes buffered whose window is not given back yet
	unsent  int64 // window to give back in the next WINDOW_UPDATE
	read    bool  // the lane read some of it: it cannot move to another lane
	lane    *lane
	sendWin int64
	respEnd bool // END_STREAM sent
	reset   bool // RST_STREAM sent or received
	closed  bool // out of cn.streams
}

type conn struct {
	c      net.Conn
	cr     countReader
	fr     *http2.Framer
	bw     *bufio.Writer
	ctx    context.Context
	lctx   context.Context // the lanes': cancelled when the connection ends hard
	lstop  context.CancelFunc
	eng    Engine
	env    httpmode.Env
	txn    *acl.Txn
	opt    Options
	accept time.Time

	bufSize int

	// Writes: frames and the HPACK encoder (header blocks must leave in encoding order).
	wmu        sync.Mutex
	henc       *hpack.Encoder
	hbuf       bytes.Buffer
	scratch    []byte
	flushSched bool
	flushc     chan struct{}
	flushStop  chan struct{}
	flushDone  chan struct{}
	werr       error
	wfailed    atomic.Bool // werr is set: the reader ends the connection
	closing    atomic.Bool // teardown: no more socket writes
	warmed     time.Time
	out        int64

	mu           sync.Mutex
	flow         chan struct{} // closed and replaced when a send window grows
	streams      map[uint32]*stream
	lastID       uint32
	active       int
	nstreams     int
	sendConnWin  int64
	peerInitWin  int64
	peerMaxFrame int
	recvConnWin  int64
	connUnsent   int64
	idle         []*lane
	pending      []*stream
	nlanes       int
	goaway       bool // GOAWAY sent: no new stream
	peerGoaway   bool
	dead         bool
	st           httpmode.SessionStats
	lanes        sync.WaitGroup
	protoErrs    atomic.Int32

	logMu sync.Mutex
}

type countReader struct {
	c net.Conn
	n int64
}

func (r *countReader) Read(p []byte) (int, error) {
	n, err := r.c.Read(p)
	r.n += int64(n)
	return n, err
}

func (o *Options) fill() {
	if o.MaxConcurrentStreams == 0 {
		o.MaxConcurrentStreams = 100
	}
	if o.InitialWindow < 65535 || o.InitialWindow > maxWindow {
		o.InitialWindow = 65535
	}
	if o.ConnWindow < 65535 || o.ConnWindow > maxWindow {
		o.ConnWindow = 1 << 20
	}
	if o.BufSize <= 0 {
		o.BufSize = http1.DefaultBufSize
	}
}

// Serve runs the HTTP/2 connection c (the client preface not yet read: c was
// negotiated h2 by ALPN, or is a prior-knowledge clear connection) until the client
// leaves, an error ends it, or a GOAWAY (drain, reload, idle timeout) has let the open
// streams finish. Every stream is served by eng as an HTTP/1.1 request on a lane (see
// lane.go), with env and a copy of txn's connection fields. Serve does not close c.
func Serve(ctx context.Context, c net.Conn, accept time.Time, eng Engine, env httpmode.Env, txn *acl.Txn, opt Options) (res Result) {
	opt.fill()
	cn := &conn{
		c: c, ctx: ctx, eng: eng, env: env, txn: txn, opt: opt, accept: accept,
		bufSize:      opt.BufSize,
		flow:         make(chan struct{}),
		streams:      map[uint32]*stream{},
		sendConnWin:  65535,
		peerInitWin:  65535,
		peerMaxFrame: 16384,
		recvConnWin:  int64(opt.ConnWindow),
	}
	cn.lctx, cn.lstop = context.WithCancel(ctx)
	cn.cr.c = c
	cn.bw = bufio.NewWriterSize(writerFunc(cn.writeConn), 16<<10)
	cn.fr = http2.NewFramer(cn.bw, bufio.NewReaderSize(&cn.cr, 16<<10))
	cn.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	cn.fr.MaxHeaderListSize = uint32(opt.BufSize)
	cn.fr.SetReuseFrames()
	cn.henc = hpack.NewEncoder(&cn.hbuf)
	cn.flushc, cn.flushStop, cn.flushDone = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go cn.flusher()

	defer func() {
		if v := recover(); v != nil {
			cn.panicked(v)
			cn.protoErr()
			cn.shutdown(errCodeInternal)
		}
		cn.teardown()
		res.SessionStats = cn.st
		res.BytesIn, res.BytesOut = cn.cr.n, cn.out
		res.Streams = cn.nstreams
		res.ProtocolErrors = int(cn.protoErrs.Load())
		res.GoAway = cn.goaway
	}()
	cn.serve()
	return
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// writeConn is the socket side of the frame writer (under wmu): timeout client as
// an inactivity deadline, re-armed lazily.
func (cn *conn) writeConn(p []byte) (int, error) {
	if cn.closing.Load() {
		return 0, net.ErrClosed
	}
	if to := cn.opt.ClientTimeout; to > 0 {
		if now := time.Now(); now.Sub(cn.warmed) > to/8 {
			cn.warmed = now
			cn.c.SetWriteDeadline(now.Add(to))
		}
	}
	n, err := cn.c.Write(p)
	cn.out += int64(n)
	return n, err
}

func (cn *conn) protoErr() {
	cn.protoErrs.Add(1)
	if f := cn.opt.OnProtocolError; f != nil {
		f()
	}
}

func (cn *conn) panicked(v any) {
	if cn.opt.OnPanic != nil {
		cn.opt.OnPanic(v)
	}
}

// write runs f (frame writes into the buffer) under the write lock and has the
// flusher send them: frames of the streams that answer at about the same time leave
// together, in one TLS record and one syscall, instead of one write per response.
func (cn *conn) write(f func() error) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	err := cn.werr
	if err == nil {
		err = f()
	}
	if err == nil && !cn.flushSched {
		cn.flushSched = true
		notify(cn.flushc)
	}
	if err != nil {
		cn.writeFailed(err)
	}
	return err
}

// writeFailed (wmu held): the connection cannot be written any more.
func (cn *conn) writeFailed(err error) {
	if cn.werr == nil {
		cn.werr = err
		cn.wfailed.Store(true)
		cn.c.SetReadDeadline(time.Now()) // the reader ends the connection
	}
}

// flusher sends the buffered frames. It lets the goroutines that are ready to run
// (the lanes of other streams) add theirs first.
func (cn *conn) flusher() {
	defer close(cn.flushDone)
	for {
		select {
		case <-cn.flushc:
		case <-cn.flushStop:
			return
		}
		runtime.Gosched()
		cn.flush()
	}
}

func (cn *conn) flush() {
	cn.wmu.Lock()
	cn.flushSched = false
	if cn.werr == nil && cn.bw.Buffered() > 0 {
		if err := cn.bw.Flush(); err != nil {
			cn.writeFailed(err)
		}
	}
	cn.wmu.Unlock()
}

func (cn *conn) serve() {
	// The client preface and the first request: timeout http-request from accept.
	if to := cn.opt.RequestTimeout; to > 0 {
		cn.c.SetReadDeadline(cn.accept.Add(to))
	}
	var pre [len(http2.ClientPreface)]byte
	if _, err := io.ReadFull(&cn.cr, pre[:]); err != nil || string(pre[:]) != http2.ClientPreface {
		if err == nil {
			cn.protoErr()
			cn.write(func() error { return cn.fr.WriteGoAway(0, errCodeProtocol, []byte("bad preface")) })
			cn.goaway = true
		}
		return
	}
	settings := []http2.Setting{
		{ID: http2.SettingMaxConcurrentStreams, Val: cn.opt.MaxConcurrentStreams},
		{ID: http2.SettingMaxHeaderListSize, Val: uint32(cn.bufSize)},
	}
	if cn.opt.InitialWindow != 65535 {
		settings = append(settings, http2.Setting{ID: http2.SettingInitialWindowSize, Val: cn.opt.InitialWindow})
	}
	if cn.write(func() error {
		if err := cn.fr.WriteSettings(settings...); err != nil {
			return err
		}
		if d := cn.opt.ConnWindow - 65535; d > 0 {
			return cn.fr.WriteWindowUpdate(0, d)
		}
		return nil
	}) != nil {
		return
	}
	// A hard stop (shutdown-sessions, hard-stop-after, the runtime's kill) cancels ctx:
	// the reader wakes up and the lanes' sessions abort (lctx).
	// The socket itself is closed (a TLS close_notify could wait on a stuck client).
	stopKill := context.AfterFunc(cn.ctx, func() {
		if tc, ok := cn.c.(interface{ NetConn() net.Conn }); ok {
			tc.NetConn().Close()
		} else {
			cn.c.Close()
		}
	})
	defer stopKill()
	var stopDrain func() bool
	if d, ok := cn.env.(httpmode.Drainer); ok {
		if dctx := d.Draining(); dctx != nil {
			stopDrain = context.AfterFunc(dctx, func() { cn.startGoaway(errCodeNo) })
		}
	}
	if stopDrain != nil {
		defer stopDrain()
	}
	for {
		f, err := cn.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				cn.protoErr()
				cn.mu.Lock()
				if se.StreamID > cn.lastID && se.StreamID%2 == 1 {
					cn.lastID = se.StreamID // a malformed request still opened (and closes) its stream
				}
				s := cn.streams[se.StreamID]
				cn.mu.Unlock()
				if s != nil {
					cn.resetStream(s, se.Code, true)
				} else {
					cn.write(func() error { return cn.fr.WriteRSTStream(se.StreamID, se.Code) })
				}
				continue
			}
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				cn.protoErr()
				cn.shutdown(http2.ErrCode(ce))
				return
			}
			if err == http2.ErrFrameTooLarge {
				cn.protoErr()
				cn.shutdown(http2.ErrCodeFrameSize)
				return
			}
			if !isTimeout(err) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, net.ErrClosed) && !cn.wfailed.Load() {
				var ne net.Error
				if !errors.As(err, &ne) {
					// The framer's own connection errors (a DATA frame on stream 0, a
					// CONTINUATION out of place, a bad frame length...).
					cn.protoErr()
					cn.shutdown(errCodeProtocol)
					return
				}
			}
			if isTimeout(err) && !cn.wfailed.Load() {
				cn.mu.Lock()
				quiet := cn.active == 0
				cn.mu.Unlock()
				if quiet {
					cn.shutdown(errCodeNo) // idle (or a GOAWAY whose streams all ended)
				}
			}
			return // EOF, reset, a write failure, a frame cut by a timeout
		}
		if !cn.handle(f) {
			return
		}
	}
}

// connErr ends the connection with a GOAWAY for a protocol violation.
func (cn *conn) connErr(code http2.ErrCode) bool {
	cn.protoErr()
	cn.shutdown(code)
	return false
}

func (cn *conn) handle(f http2.Frame) bool {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			return true
		}
		if err := f.ForeachSetting(cn.applySetting); err != nil {
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				return cn.connErr(http2.ErrCode(ce))
			}
			return cn.connErr(errCodeProtocol)
		}
		cn.write(func() error { return cn.fr.WriteSettingsAck() })
	case *http2.MetaHeadersFrame:
		return cn.headers(f)
	case *http2.DataFrame:
		return cn.data(f)
	case *http2.WindowUpdateFrame:
		cn.mu.Lock()
		ok := true
		if f.StreamID == 0 {
			cn.sendConnWin += int64(f.Increment)
			ok = cn.sendConnWin <= maxWindow
		} else if s := cn.streams[f.StreamID]; s != nil {
			s.sendWin += int64(f.Increment)
			if s.sendWin > maxWindow {
				cn.mu.Unlock()
				cn.protoErr()
				cn.resetStream(s, errCodeFlow, true)
				return true
			}
		} else if f.StreamID > cn.lastID {
			cn.mu.Unlock()
			return cn.connErr(errCodeProtocol)
		}
		cn.wakeFlow()
		cn.mu.Unlock()
		if !ok {
			return cn.connErr(errCodeFlow)
		}
	case *http2.PingFrame:
		if !f.IsAck() {
			data := f.Data
			cn.write(func() error { return cn.fr.WritePing(true, data) })
		}
	case *http2.RSTStreamFrame:
		cn.mu.Lock()
		s := cn.streams[f.StreamID]
		idle := f.StreamID > cn.lastID
		cn.mu.Unlock()
		if idle {
			return cn.connErr(errCodeProtocol)
		}
		if s != nil {
			cn.resetStream(s, f.ErrCode, false)
		}
	case *http2.GoAwayFrame:
		cn.mu.Lock()
		cn.peerGoaway = true
		quiet := cn.active == 0
		cn.mu.Unlock()
		if quiet {
			return false
		}
	case *http2.PushPromiseFrame:
		return cn.connErr(errCodeProtocol)
	case *http2.PriorityFrame:
		if f.StreamID == f.StreamDep {
			cn.protoErr()
			cn.write(func() error { return cn.fr.WriteRSTStream(f.StreamID, errCodeProtocol) })
		}
	}
	return true
}

func (cn *conn) applySetting(s http2.Setting) error {
	if err := s.Valid(); err != nil {
		return err
	}
	switch s.ID {
	case http2.SettingInitialWindowSize:
		cn.mu.Lock()
		d := int64(s.Val) - cn.peerInitWin
		cn.peerInitWin = int64(s.Val)
		for _, st := range cn.streams {
			st.sendWin += d
			if st.sendWin > maxWindow {
				cn.mu.Unlock()
				return http2.ConnectionError(errCodeFlow)
			}
		}
		cn.wakeFlow()
		cn.mu.Unlock()
	case http2.SettingMaxFrameSize:
		cn.mu.Lock()
		cn.peerMaxFrame = int(s.Val)
		cn.mu.Unlock()
	case http2.SettingHeaderTableSize:
		cn.wmu.Lock()
		cn.henc.SetMaxDynamicTableSizeLimit(s.Val)
		cn.wmu.Unlock()
	}
	return nil
}

// wakeFlow wakes the senders waiting for window (cn.mu held).
func (cn *conn) wakeFlow() {
	close(cn.flow)
	cn.flow = make(chan struct{})
}

// headers opens a stream (or ends one with trailers).
func (cn *conn) headers(f *http2.MetaHeadersFrame) bool {
	id := f.StreamID
	if id%2 == 0 {
		return cn.connErr(errCodeProtocol)
	}
	cn.mu.Lock()
	if id <= cn.lastID {
		s := cn.streams[id]
		if s == nil {
			cn.mu.Unlock()
			return cn.connErr(errCodeProtocol) // a stream id going back, or a closed stream
		}
		if s.inEnd {
			cn.mu.Unlock()
			return cn.connErr(errCodeClosed) // HEADERS after END_STREAM
		}
		// Trailers: they must end the stream.
		if !f.StreamEnded() {
			cn.mu.Unlock()
			cn.protoErr()
			cn.resetStream(s, errCodeProtocol, true)
			return true
		}
		var err error
		if s.info.HasCL && s.clLeft != 0 {
			err = ErrContentLength
		}
		if err == nil {
			s.in, err = AppendTrailers(s.in, f.RegularFields(), s.info.Chunked)
		}
		if err != nil {
			cn.mu.Unlock()
			cn.protoErr()
			cn.resetStream(s, errCodeProtocol, true)
			return true
		}
		s.inEnd = true
		end := s.respEnd
		l := s.lane
		cn.mu.Unlock()
		if l != nil {
			notify(l.rnotify)
		}
		if end {
			cn.mu.Lock()
			cn.closeStream(s)
			cn.mu.Unlock()
		}
		return true
	}
	cn.lastID = id
	if cn.goaway || cn.dead {
		cn.mu.Unlock()
		return true // after our GOAWAY: ignored, the client retries elsewhere
	}
	if cn.active >= int(cn.opt.MaxConcurrentStreams) {
		cn.mu.Unlock()
		cn.protoErr()
		cn.write(func() error { return cn.fr.WriteRSTStream(id, errCodeRefused) })
		return true
	}
	cn.mu.Unlock()

	if f.Truncated {
		cn.localResponse(id, 431, "<BADREQ>") // counted by the log, as the engine's 4xx
		return true
	}
	head, info, err := BuildRequest(make([]byte, 0, 512), f.Fields, f.StreamEnded())
	if err != nil {
		if err == ErrConnect {
			cn.localResponse(id, 501, "CONNECT "+f.PseudoValue("authority")+" HTTP/2.0")
			return true
		}
		cn.protoErr()
		cn.write(func() error { return cn.fr.WriteRSTStream(id, errCodeProtocol) })
		return true
	}
	s := &stream{id: id, info: info, arrived: time.Now(), in: head, clLeft: info.CL, recvWin: int64(cn.opt.InitialWindow)}
	s.inEnd = f.StreamEnded()
	stale := cn.opt.Stale != nil && cn.opt.Stale()
	cn.mu.Lock()
	s.sendWin = cn.peerInitWin
	cn.streams[id] = s
	cn.nstreams++
	if cn.active++; cn.active == 1 {
		cn.c.SetReadDeadline(time.Time{})
	}
	cn.dispatch(s)
	cn.mu.Unlock()
	if stale {
		cn.startGoaway(errCodeNo) // a reload replaced this configuration: finish, then reconnect
	}
	return true
}

// localResponse answers a stream the engine never sees (431, 501), and logs it as the
// engine logs what it answers itself (status counted, termination PR).
func (cn *conn) localResponse(id uint32, status int, line string) {
	cn.write(func() error {
		cn.hbuf.Reset()
		cn.henc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(status)})
		cn.henc.WriteField(hpack.HeaderField{Name: "content-length", Value: "0"})
		return cn.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: cn.hbuf.Bytes(), EndStream: true, EndHeaders: true})
	})
	now := time.Now()
	e := &httpmode.LogEntry{
		Client: cn.txn.Src, RequestDate: now, Frontend: cn.txn.FrontendName, TLS: cn.txn.TLS != nil,
		Backend: cn.txn.FrontendName, Server: "<NOSRV>", TR: 0, Tw: -1, Tc: -1, Tr: -1, Ta: 0,
		Status: status, Term: [2]byte{'P', 'R'}, Cookie: [2]byte{'-', '-'}, RequestLine: []byte(line),
	}
	cn.logMu.Lock()
	cn.env.Log(e)
	cn.logMu.Unlock()
}

// dispatch gives s to an idle lane, a new lane, or queues it (cn.mu held).
func (cn *conn) dispatch(s *stream) {
	if cn.dead {
		return
	}
	if n := len(cn.idle); n > 0 {
		l := cn.idle[n-1]
		cn.idle = cn.idle[:n-1]
		l.assign(s)
		return
	}
	if cn.nlanes < 2*int(cn.opt.MaxConcurrentStreams) {
		l := newLane(cn)
		cn.nlanes++
		cn.lanes.Add(1)
		l.assign(s)
		go l.run(s.arrived)
		return
	}
	cn.pending = append(cn.pending, s)
}

func (cn *conn) removeIdle(l *lane) {
	l.idle = false
	for i, x := range cn.idle {
		if x == l {
			cn.idle = append(cn.idle[:i], cn.idle[i+1:]...)
			return
		}
	}
}

// laneEnded settles the lane's stream when the engine closed the lane: a stream it
// never read goes to another lane, one it left half-read is reset.
func (cn *conn) laneEnded(l *lane) {
	cn.mu.Lock()
	l.dead = true
	cn.removeIdle(l)
	cn.nlanes--
	s := l.cur
	l.cur = nil
	var rst *stream
	if s != nil && !s.reset {
		if !s.read && !s.closed && !cn.dead {
			l.unqueue(s)
			s.lane = nil
			cn.dispatch(s)
		} else if s.respEnd {
			// The response was complete; the rest of the request is not wanted (and
			// what it holds gives the connection window back).
			rst = s
		}
	}
	cn.mu.Unlock()
	if rst != nil {
		cn.resetStream(rst, errCodeNo, true)
	}
}

// data takes a DATA frame into its stream's request bytes.
func (cn *conn) data(f *http2.DataFrame) bool {
	flen := int64(f.Header().Length)
	data := f.Data()
	cn.mu.Lock()
	if flen > cn.recvConnWin {
		cn.mu.Unlock()
		return cn.connErr(errCodeFlow)
	}
	cn.recvConnWin -= flen
	s := cn.streams[f.StreamID]
	if s == nil || s.reset || s.inEnd {
		idle := f.StreamID > cn.lastID
		cn.connUnsent += flen
		upd := cn.connUpdate(false)
		cn.mu.Unlock()
		if idle {
			return cn.connErr(errCodeProtocol)
		}
		cn.sendUpdates(upd)
		if s != nil && !s.reset {
			cn.protoErr()
			cn.resetStream(s, errCodeClosed, true)
		} else if s == nil {
			cn.write(func() error { return cn.fr.WriteRSTStream(f.StreamID, errCodeClosed) })
		}
		return true
	}
	if flen > s.recvWin {
		cn.mu.Unlock()
		cn.protoErr()
		cn.resetStream(s, errCodeFlow, true)
		return true
	}
	s.recvWin -= flen
	// Padding is given back at once.
	cn.connUnsent += flen - int64(len(data))
	s.unsent += flen - int64(len(data))
	if s.info.HasCL {
		s.clLeft -= int64(len(data))
		if s.clLeft < 0 || (f.StreamEnded() && s.clLeft != 0) {
			cn.mu.Unlock()
			cn.protoErr()
			cn.resetStream(s, errCodeProtocol, true)
			return true
		}
	}
	if s.inOff > 0 && s.inOff == len(s.in) {
		s.in, s.inOff = s.in[:0], 0
	}
	if len(data) > 0 {
		if s.info.Chunked {
			s.in = strconv.AppendInt(s.in, int64(len(data)), 16)
			s.in = append(s.in, "\r\n"...)
			s.in = append(s.in, data...)
			s.in = append(s.in, "\r\n"...)
		} else {
			s.in = append(s.in, data...)
		}
		s.debt += int64(len(data))
	}
	if f.StreamEnded() {
		if s.info.Chunked {
			s.in = append(s.in, "0\r\n\r\n"...)
		}
		s.inEnd = true
	}
	end := s.inEnd && s.respEnd
	if end {
		cn.closeStream(s)
	}
	l := s.lane
	upd := cn.connUpdate(false)
	cn.mu.Unlock()
	cn.sendUpdates(upd)
	if l != nil {
		notify(l.rnotify)
	}
	return true
}

// updates are the WINDOW_UPDATE frames to send after a lock is released.
type updates struct {
	conn     uint32
	stream   uint32
	streamID uint32
}

// connUpdate takes the connection window to give back once 32 KiB (at most half the
// window) is owed, or all of it when force (cn.mu held). Not waiting for half of a
// large window matters: the bytes held back by streams whose server is slow must not
// also hold back the window the other streams need.
func (cn *conn) connUpdate(force bool) updates {
	var u updates
	if cn.connUnsent > 0 && (force || cn.connUnsent >= min(32<<10, int64(cn.opt.ConnWindow)/2)) {
		u.conn = uint32(cn.connUnsent)
		cn.recvConnWin += cn.connUnsent
		cn.connUnsent = 0
	}
	return u
}

// consume copies request bytes of s for its lane and counts the window to give back
// (cn.mu held). Head and chunk-framing bytes are counted as payload: the window is
// given back a little early (at most one head per stream), never late.
func (cn *conn) consume(s *stream, p []byte) (int, updates) {
	n := copy(p, s.in[s.inOff:])
	s.inOff += n
	s.read = true
	if s.inOff == len(s.in) {
		s.in, s.inOff = s.in[:0], 0
	} else if s.inOff > cap(s.in)/2 {
		s.in = s.in[:copy(s.in, s.in[s.inOff:])]
		s.inOff = 0
	}
	credit := min(int64(n), s.debt)
	s.debt -= credit
	s.unsent += credit
	cn.connUnsent += credit
	var u updates
	if !s.inEnd && !s.closed && s.unsent > 0 && s.unsent >= int64(cn.opt.InitialWindow)/2 {
		u.stream, u.streamID = uint32(s.unsent), s.id
		s.recvWin += s.unsent
		s.unsent = 0
	}
	c := cn.connUpdate(false)
	u.conn = c.conn
	return n, u
}

func (cn *conn) sendUpdates(u updates) {
	if u.conn == 0 && u.stream == 0 {
		return
	}
	cn.write(func() error {
		if u.stream > 0 {
			if err := cn.fr.WriteWindowUpdate(u.streamID, u.stream); err != nil {
				return err
			}
		}
		if u.conn > 0 {
			return cn.fr.WriteWindowUpdate(0, u.conn)
		}
		return nil
	})
}

// closeStream takes s out of the open streams (cn.mu held): its buffered request
// bytes no longer hold connection window.
func (cn *conn) closeStream(s *stream) {
	if s.closed {
		return
	}
	s.closed = true
	delete(cn.streams, s.id)
	if cn.active--; cn.active == 0 {
		switch {
		case cn.goaway || cn.peerGoaway || cn.dead:
			cn.c.SetReadDeadline(time.Now()) // the reader ends the connection
		case cn.opt.IdleTimeout > 0:
			cn.c.SetReadDeadline(time.Now().Add(cn.opt.IdleTimeout))
		}
	}
	cn.wakeFlow()
}

// resetStream ends s with RST_STREAM (send: ours; else the client's): its lane is
// closed (the engine aborts the request, as for an HTTP/1 client that left).
func (cn *conn) resetStream(s *stream, code http2.ErrCode, send bool) {
	cn.mu.Lock()
	if s.reset {
		cn.mu.Unlock()
		return
	}
	s.reset = true
	// Whatever it still holds or will get gives the connection window back.
	cn.connUnsent += s.debt
	s.debt = 0
	wasClosed := s.closed
	cn.closeStream(s)
	for i, p := range cn.pending {
		if p == s {
			cn.pending = append(cn.pending[:i], cn.pending[i+1:]...)
			break
		}
	}
	l := s.lane
	// The lane still works on this stream (reads its request or writes its response):
	// the engine aborts it.
	abort := l != nil && (l.cur == s || !s.respEnd)
	upd := cn.connUpdate(false)
	cn.mu.Unlock()
	cn.sendUpdates(upd)
	if send && !wasClosed {
		cn.write(func() error { return cn.fr.WriteRSTStream(s.id, code) })
	}
	if abort {
		l.Close()
	}
}

// respDone: the whole response of s was sent (END_STREAM).
func (cn *conn) respDone(s *stream) {
	cn.mu.Lock()
	s.respEnd = true
	if s.inEnd {
		cn.closeStream(s)
	}
	// The engine answered without reading the whole request body and closed its lane
	// (a deny, an error): the client is told to stop sending.
	stop := !s.inEnd && s.lane != nil && s.lane.dead
	cn.mu.Unlock()
	if stop {
		cn.resetStream(s, errCodeNo, true)
	}
}

// writeHeaders sends the response head of s (split in CONTINUATION frames beyond the
// client's frame size). body, when not nil, is the whole response body: it leaves in
// the same write (one TLS record, one syscall for a small response) when the client's
// windows and frame size take it at once; sent tells whether it did.
func (cn *conn) writeHeaders(s *stream, resp *http1.Response, keepCL, end bool, body []byte) (sent bool) {
	cn.mu.Lock()
	gone := s.reset || cn.dead
	maxFrame := cn.peerMaxFrame
	n := int64(len(body))
	withBody := body != nil && !gone && n <= int64(maxFrame) && n <= s.sendWin && n <= cn.sendConnWin
	if withBody {
		s.sendWin -= n
		cn.sendConnWin -= n
		end = true
	}
	if end && !gone {
		// Closed before the frame leaves: the client may open the next stream as soon
		// as it sees END_STREAM, and must not find the old one still counted.
		s.respEnd = true
		if s.inEnd {
			cn.closeStream(s)
		}
	}
	cn.mu.Unlock()
	if gone {
		return false
	}
	cn.write(func() error {
		cn.hbuf.Reset()
		cn.scratch = encodeResponse(cn.henc, resp, keepCL, cn.scratch)
		block := cn.hbuf.Bytes()
		first := block
		if len(first) > maxFrame {
			first = first[:maxFrame]
		}
		block = block[len(first):]
		endHeaders := end && !withBody
		if err := cn.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: s.id, BlockFragment: first, EndStream: endHeaders, EndHeaders: len(block) == 0}); err != nil {
			return err
		}
		for len(block) > 0 {
			k := min(len(block), maxFrame)
			if err := cn.fr.WriteContinuation(s.id, k == len(block), block[:k]); err != nil {
				return err
			}
			block = block[k:]
		}
		if withBody {
			return cn.fr.WriteData(s.id, true, body)
		}
		return nil
	})
	return withBody
}

// errStreamGone: the stream was reset (by either side) or the connection ended.
var errStreamGone = errors.New("h2front: stream reset or connection closed")

// sendData sends p on s within the client's windows, waiting for them up to timeout
// client (then the stream is reset) or until cancel is closed (the lane's write
// deadline: os.ErrDeadlineExceeded); end sets END_STREAM on the last frame.
func (cn *conn) sendData(s *stream, p []byte, end bool, cancel, done <-chan struct{}) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		cn.mu.Lock()
		for len(p) > 0 && !s.reset && !cn.dead && (s.sendWin <= 0 || cn.sendConnWin <= 0) {
			ch := cn.flow
			cn.mu.Unlock()
			var tc <-chan time.Time
			if to := cn.opt.ClientTimeout; to > 0 {
				if timer == nil {
					timer = time.NewTimer(to)
				} else {
					timer.Reset(to)
				}
				tc = timer.C
			}
			select {
			case <-ch:
			case <-cancel:
				return os.ErrDeadlineExceeded
			case <-done:
				return net.ErrClosed
			case <-tc:
				// The client does not read this stream: give up on it.
				cn.resetStream(s, errCodeCancel, true)
				return errStreamGone
			}
			cn.mu.Lock()
		}
		if s.reset || cn.dead {
			cn.mu.Unlock()
			return errStreamGone
		}
		n := min(int64(len(p)), s.sendWin, cn.sendConnWin, int64(cn.peerMaxFrame))
		s.sendWin -= n
		cn.sendConnWin -= n
		last := end && int(n) == len(p)
		if last {
			s.respEnd = true // closed before the frame leaves, see writeHeaders
			if s.inEnd {
				cn.closeStream(s)
			}
		}
		cn.mu.Unlock()
		chunk := p[:n]
		if err := cn.write(func() error { return cn.fr.WriteData(s.id, last, chunk) }); err != nil {
			return err
		}
		p = p[n:]
		if last || (len(p) == 0 && !end) {
			return nil
		}
	}
}

// startGoaway announces the end of the connection (drain, reload): the open streams
// finish, new ones are refused.
func (cn *conn) startGoaway(code http2.ErrCode) {
	cn.mu.Lock()
	if cn.goaway {
		cn.mu.Unlock()
		return
	}
	cn.goaway = true
	last := cn.lastID
	quiet := cn.active == 0
	cn.mu.Unlock()
	cn.write(func() error { return cn.fr.WriteGoAway(last, code, nil) })
	if quiet {
		cn.c.SetReadDeadline(time.Now())
	}
}

// shutdown sends GOAWAY (once) and marks the connection dead.
func (cn *conn) shutdown(code http2.ErrCode) {
	cn.mu.Lock()
	sent := cn.goaway
	cn.goaway = true
	last := cn.lastID
	cn.mu.Unlock()
	if !sent || code != errCodeNo {
		cn.write(func() error { return cn.fr.WriteGoAway(last, code, nil) })
	}
}

// teardown ends every lane and waits for them: no goroutine of the connection
// outlives Serve. Responses being written finish first (the last stream of a GOAWAY
// closes before its last frame leaves); a client that does not read bounds that by
// timeout client (the write deadline).
func (cn *conn) teardown() {
	cn.mu.Lock()
	cn.dead = true
	cn.wakeFlow()
	ls := append([]*lane(nil), cn.idle...)
	cn.idle = nil
	for _, s := range cn.streams {
		if s.lane != nil {
			ls = append(ls, s.lane)
		}
	}
	cn.pending = nil
	cn.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	cn.lstop()
	if cn.wfailed.Load() {
		cn.c.SetWriteDeadline(time.Now())
	}
	cn.lanes.Wait()
	close(cn.flushStop)
	<-cn.flushDone
	cn.flush() // the last frames (GOAWAY)
	cn.closing.Store(true)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
