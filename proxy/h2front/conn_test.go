package h2front

import (
	"bytes"
	"context"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"appl/proxy/acl"
	"appl/proxy/http1"
	"appl/proxy/httpmode"
)

// echoEngine stands for the HTTP/1 engine: it reads requests (bodies included) from
// the lane and answers each with its method, target and the body's length as read
// (a chunked body counts its framing).
type echoEngine struct{}

func (echoEngine) Serve(ctx context.Context, c net.Conn, _ time.Time, env httpmode.Env, _ *acl.Txn) httpmode.SessionStats {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	rd := http1.NewReader(c, make([]byte, 16<<10))
	var req http1.Request
	var dec http1.ChunkedDecoder
	var st httpmode.SessionStats
	for {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if err := rd.ReadRequest(&req, http1.Limits{}); err != nil {
			return st
		}
		st.Requests++
		line := string(req.Method()) + " " + string(req.Target())
		dec.Reset()
		n, err := rd.CopyBody(io.Discard, req.Framing(), &dec, make([]byte, 4096))
		if err != nil {
			return st
		}
		body := line + " " + itoa(n)
		resp := "HTTP/1.1 200 OK\r\ncontent-length: " + itoa(int64(len(body))) + "\r\nconnection: keep-alive\r\n\r\n" + body
		if _, err := c.Write([]byte(resp)); err != nil {
			return st
		}
		env.Log(&httpmode.LogEntry{RequestLine: []byte(line + " HTTP/1.1")})
	}
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

type nopEnv struct{ lines chan string }

func (nopEnv) Backend(string) (httpmode.Backend, bool) { return nil, false }
func (e nopEnv) Log(le *httpmode.LogEntry) {
	if e.lines != nil {
		e.lines <- string(le.RequestLine)
	}
}

// serveOver runs Serve on one end of a pipe with client bytes written to the other,
// and returns what the client received; Serve must end within the deadline.
func serveOver(t testing.TB, in []byte, env httpmode.Env, opt Options) []byte {
	return serveEngineOver(t, echoEngine{}, in, env, opt)
}

func serveEngineOver(t testing.TB, eng Engine, in []byte, env httpmode.Env, opt Options) []byte {
	cli, srv := net.Pipe()
	done := make(chan Result, 1)
	go func() {
		done <- Serve(context.Background(), srv, time.Now(), eng, env, &acl.Txn{}, opt)
		srv.Close()
	}()
	var out bytes.Buffer
	got := make(chan struct{})
	go func() {
		io.Copy(&out, cli)
		close(got)
	}()
	go func() {
		cli.Write(in)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("Serve did not end")
	}
	cli.Close()
	<-got
	return out.Bytes()
}

// clientBytes builds a client's side of a connection with the framer.
func clientBytes(f func(fr *http2.Framer, enc func(kv ...string) []byte)) []byte {
	var b bytes.Buffer
	b.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&b, nil)
	fr.AllowIllegalWrites = true
	fr.WriteSettings()
	var hb bytes.Buffer
	he := hpack.NewEncoder(&hb)
	f(fr, func(kv ...string) []byte {
		hb.Reset()
		for i := 0; i+1 < len(kv); i += 2 {
			he.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
		}
		return append([]byte(nil), hb.Bytes()...)
	})
	return b.Bytes()
}

// responses decodes the server's frames: the status and body of each stream, and the
// GOAWAY code ("" when none).
func responses(t testing.TB, out []byte) (map[uint32]string, string) {
	fr := http2.NewFramer(io.Discard, bytes.NewReader(out))
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	got := map[uint32]string{}
	goaway := ""
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return got, goaway
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			got[f.StreamID] += f.PseudoValue("status") + " "
		case *http2.DataFrame:
			got[f.StreamID] += string(f.Data())
		case *http2.RSTStreamFrame:
			got[f.StreamID] += "RST " + f.ErrCode.String()
		case *http2.GoAwayFrame:
			goaway = f.ErrCode.String()
		}
	}
}

// The gateway over a pipe with a stand-in engine: two streams (one with a body in
// two DATA frames, chunked towards the engine), a request line logged as HTTP/2.0,
// an idle GOAWAY at the end.
func TestServeOverPipe(t *testing.T) {
	in := clientBytes(func(fr *http2.Framer, enc func(kv ...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true,
			BlockFragment: enc(":method", "GET", ":scheme", "https", ":path", "/a", ":authority", "x")})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndHeaders: true,
			BlockFragment: enc(":method", "POST", ":scheme", "https", ":path", "/b", ":authority", "x")})
		fr.WriteData(3, false, []byte("hello "))
		fr.WriteData(3, true, []byte("world"))
	})
	lines := make(chan string, 4)
	got, goaway := responses(t, serveOver(t, in, nopEnv{lines: lines}, Options{
		RequestTimeout: time.Second, IdleTimeout: 300 * time.Millisecond, ClientTimeout: time.Second,
	}))
	// 26: the engine read "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n", one chunk per DATA frame.
	if got[1] != "200 GET /a 0" || got[3] != "200 POST /b 26" {
		t.Errorf("responses %v", got)
	}
	if goaway != "NO_ERROR" {
		t.Errorf("GOAWAY %q", goaway)
	}
	close(lines)
	n := 0
	for l := range lines {
		if l != "GET /a HTTP/2.0" && l != "POST /b HTTP/2.0" {
			t.Errorf("log line %q", l)
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d log lines", n)
	}
}

// FuzzServe: any bytes after the client preface end the connection (or idle out)
// without a panic, and Serve returns.
func FuzzServe(f *testing.F) {
	f.Add(clientBytes(func(fr *http2.Framer, enc func(kv ...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true,
			BlockFragment: enc(":method", "GET", ":scheme", "https", ":path", "/", ":authority", "x")})
	})[len(http2.ClientPreface):])
	f.Add(clientBytes(func(fr *http2.Framer, enc func(kv ...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: false,
			BlockFragment: enc(":method", "POST", ":scheme", "https", ":path", "/", ":authority", "x", "content-length", "3")})
		fr.WriteContinuation(1, true, enc("x-a", "b"))
		fr.WriteData(1, false, []byte("ab"))
		fr.WriteWindowUpdate(0, 100)
		fr.WriteRSTStream(1, http2.ErrCodeCancel)
		fr.WritePing(false, [8]byte{1})
		fr.WriteData(1, true, []byte("c"))
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndHeaders: true, EndStream: false,
			BlockFragment: enc(":method", "PUT", ":scheme", "https", ":path", "/", ":authority", "x")})
		fr.WriteData(3, false, []byte("zz"))
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndHeaders: true, EndStream: true, BlockFragment: enc("x-trailer", "1")})
		fr.WriteGoAway(0, http2.ErrCodeNo, nil)
	})[len(http2.ClientPreface):])
	f.Fuzz(func(t *testing.T, data []byte) {
		in := append([]byte(http2.ClientPreface), data...)
		serveOver(t, in, nopEnv{}, Options{
			RequestTimeout: 30 * time.Millisecond, IdleTimeout: 30 * time.Millisecond, ClientTimeout: 100 * time.Millisecond,
		})
	})
}

// stuckEngine reads a request head and then neither reads the body nor answers until
// the lane is closed.
type stuckEngine struct{}

func (stuckEngine) Serve(ctx context.Context, c net.Conn, _ time.Time, _ httpmode.Env, _ *acl.Txn) httpmode.SessionStats {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	// The head, byte by byte: nothing of the body is read.
	var head []byte
	b := make([]byte, 1)
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		if _, err := c.Read(b); err != nil {
			return httpmode.SessionStats{}
		}
		head = append(head, b[0])
	}
	<-ctx.Done()
	return httpmode.SessionStats{}
}

// A client sending beyond the windows it was given: past a stream's window is a
// stream error, past the connection's a connection error (FLOW_CONTROL_ERROR), and
// appl never holds more than the windows. No goroutine outlives Serve.
func TestFlowControlViolations(t *testing.T) {
	before := runtime.NumGoroutine()
	chunk := make([]byte, 16384)
	post := func(enc func(kv ...string) []byte) []byte {
		return enc(":method", "POST", ":scheme", "https", ":path", "/", ":authority", "x")
	}
	in := clientBytes(func(fr *http2.Framer, enc func(kv ...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: post(enc)})
		for i := 0; i < 4; i++ {
			fr.WriteData(1, false, chunk) // 65536 > 65535
		}
	})
	got, goaway := responses(t, serveEngineOver(t, stuckEngine{}, in, nopEnv{}, Options{IdleTimeout: 100 * time.Millisecond, RequestTimeout: time.Second}))
	if got[1] != "RST FLOW_CONTROL_ERROR" {
		t.Errorf("stream window exceeded: %q (GOAWAY %q)", got[1], goaway)
	}
	// 17 streams of 65535 bytes each exceed the 1 MiB connection window.
	in = clientBytes(func(fr *http2.Framer, enc func(kv ...string) []byte) {
		for id := uint32(1); id <= 33; id += 2 {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, BlockFragment: post(enc)})
			for i := 0; i < 3; i++ {
				fr.WriteData(id, false, chunk)
			}
			fr.WriteData(id, false, chunk[:16383])
		}
	})
	_, goaway = responses(t, serveEngineOver(t, stuckEngine{}, in, nopEnv{}, Options{IdleTimeout: 100 * time.Millisecond, RequestTimeout: time.Second}))
	if goaway != "FLOW_CONTROL_ERROR" {
		t.Errorf("connection window exceeded: GOAWAY %q", goaway)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left (%d before)", n, before)
	}
}
