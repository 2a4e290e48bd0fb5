package httpmode

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"appl/proxy/http1"
)

// recordingBackend records every byte it receives; it answers 200 and closes after a
// complete, valid request, and closes without answering otherwise.
type recordingBackend struct {
	ln       net.Listener
	mu       sync.Mutex
	got      bytes.Buffer
	complete int
	conns    int
	done     chan struct{}
}

func newRecordingBackend(t testing.TB) *recordingBackend {
	b := &recordingBackend{ln: listenLoopback(t), done: make(chan struct{}, 16)}
	go func() {
		for {
			c, err := b.ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns++
			b.mu.Unlock()
			go b.serve(c)
		}
	}()
	t.Cleanup(func() { b.ln.Close() })
	return b
}

type recorder struct {
	c net.Conn
	b *recordingBackend
}

func (r recorder) Read(p []byte) (int, error) {
	n, err := r.c.Read(p)
	r.b.mu.Lock()
	r.b.got.Write(p[:n])
	r.b.mu.Unlock()
	return n, err
}

func (b *recordingBackend) serve(c net.Conn) {
	defer func() { b.done <- struct{}{} }()
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	rd := http1.NewReader(recorder{c, b}, make([]byte, 32<<10))
	var req http1.Request
	if err := rd.ReadRequest(&req, http1.Limits{}); err != nil {
		return
	}
	var dec http1.ChunkedDecoder
	if _, err := rd.CopyBody(io.Discard, req.Framing(), &dec, make([]byte, 4096)); err != nil {
		return
	}
	b.mu.Lock()
	b.complete++
	b.mu.Unlock()
	io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
}

func (b *recordingBackend) snapshot() (string, int, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.got.String(), b.complete, b.conns
}

// TestSmugglingTableEndToEnd replays http1.SmugglingCases through a real client socket
// and the proxy, and asserts what the backend receives: nothing for a refused head, at
// most a well-formed prefix (never a complete request) for a refused body, exactly the
// normalised bytes for an accepted request.
func TestSmugglingTableEndToEnd(t *testing.T) {
	if len(http1.SmugglingCases) < 25 {
		t.Fatalf("only %d smuggling cases", len(http1.SmugglingCases))
	}
	for _, tc := range http1.SmugglingCases {
		t.Run(tc.Name, func(t *testing.T) {
			b := newRecordingBackend(t)
			h := newHarness(t, loadConfig(t, oneBackendConfig(b.ln.Addr().String(), "", "")), "fe", Options{})
			c, err := net.Dial("tcp", h.addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, tc.Request)
			c.(*net.TCPConn).CloseWrite()
			out, _ := io.ReadAll(c)
			resp := string(out)
			waitFor(t, "the log entry", func() bool { return len(h.env.Logs()) > 0 })
			l := h.env.Logs()[0]
			switch {
			case tc.HeadErr != nil:
				if !strings.HasPrefix(resp, "HTTP/1.1 400 ") {
					t.Fatalf("client got %q, want 400", resp)
				}
				if l.Error != tc.HeadErr.Name || l.Status != 400 || string(l.RequestLine) != "<BADREQ>" {
					t.Fatalf("log %+v, want error %s", l, tc.HeadErr.Name)
				}
				if got, _, conns := b.snapshot(); got != "" || conns != 0 {
					t.Fatalf("backend received %q over %d connections", got, conns)
				}
			case tc.BodyErr != nil:
				waitFor(t, "the session to end", func() bool { h.mu.Lock(); defer h.mu.Unlock(); return len(h.st) == 1 })
				if h.st[0].ServerConns > 0 {
					waitFor(t, "the backend connection to end", func() bool { return len(b.done) > 0 })
				}
				got, complete, _ := b.snapshot()
				if complete != 0 {
					t.Fatalf("backend received a complete request: %q", got)
				}
				checkChunkedPrefix(t, got)
				if resp != "" && !strings.HasPrefix(resp, "HTTP/1.1 400 ") {
					t.Fatalf("client got %q, want 400 or a close", resp)
				}
				if l.Error != tc.BodyErr.Name {
					t.Fatalf("log error %q, want %q", l.Error, tc.BodyErr.Name)
				}
			default:
				if !strings.HasPrefix(resp, "HTTP/1.1 200 ") {
					t.Fatalf("client got %q, want 200", resp)
				}
				waitFor(t, "the backend connection to end", func() bool { return len(b.done) > 0 })
				if got, _, _ := b.snapshot(); got != tc.Forward {
					t.Fatalf("backend received\n%q\nwant\n%q", got, tc.Forward)
				}
			}
		})
	}
}

// checkChunkedPrefix asserts that got is a valid request head followed by a valid but
// unfinished chunked body.
func checkChunkedPrefix(t *testing.T, got string) {
	t.Helper()
	if got == "" {
		return
	}
	var req http1.Request
	n, err := req.Parse([]byte(got), http1.Limits{})
	if err != nil {
		t.Fatalf("backend received an invalid head (%v): %q", err, got)
	}
	var dec http1.ChunkedDecoder
	_, _, derr := dec.Decode(nil, []byte(got[n:]))
	if derr != nil && derr != http1.ErrNeedMore {
		t.Fatalf("backend received malformed chunked bytes (%v): %q", derr, got[n:])
	}
	if dec.Done() {
		t.Fatalf("backend received a complete chunked body: %q", got[n:])
	}
}
