package main

import (
	"bytes"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"appl/internal/testbed"
	"appl/proxy/http1"
)

// rawRecorder is a raw TCP backend that records every byte of each connection. It
// answers 200 (and closes) after one complete valid request, and closes without
// answering otherwise.
type rawRecorder struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []*rawConn
}

type rawConn struct {
	got      bytes.Buffer
	complete bool
	done     bool
}

func startRawRecorder(t *testing.T) *rawRecorder {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &rawRecorder{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			rc := &rawConn{}
			r.mu.Lock()
			r.conns = append(r.conns, rc)
			r.mu.Unlock()
			go r.serve(c, rc)
		}
	}()
	return r
}

type recordingReader struct {
	c  net.Conn
	r  *rawRecorder
	rc *rawConn
}

func (x recordingReader) Read(p []byte) (int, error) {
	n, err := x.c.Read(p)
	x.r.mu.Lock()
	x.rc.got.Write(p[:n])
	x.r.mu.Unlock()
	return n, err
}

func (r *rawRecorder) serve(c net.Conn, rc *rawConn) {
	defer func() {
		c.Close()
		r.mu.Lock()
		rc.done = true
		r.mu.Unlock()
	}()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	rd := http1.NewReader(recordingReader{c, r, rc}, make([]byte, 64<<10))
	var req http1.Request
	if err := rd.ReadRequest(&req, http1.Limits{}); err != nil {
		return
	}
	var dec http1.ChunkedDecoder
	if _, err := rd.CopyBody(io.Discard, req.Framing(), &dec, make([]byte, 4096)); err != nil {
		return
	}
	r.mu.Lock()
	rc.complete = true
	r.mu.Unlock()
	io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
}

// since returns the connections opened after the first n, once all of them are done.
func (r *rawRecorder) since(n int) (conns []rawConn, allDone bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	allDone = true
	for _, rc := range r.conns[n:] {
		conns = append(conns, rawConn{complete: rc.complete, done: rc.done})
		conns[len(conns)-1].got.Write(rc.got.Bytes())
		allDone = allDone && rc.done
	}
	return conns, allDone
}

func (r *rawRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns)
}

// rawExchange sends req on a new connection, half-closes, and returns all the answer.
func rawExchange(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	out, _ := io.ReadAll(c)
	return string(out)
}

// validChunkedPrefix reports why got is not a valid request head followed by a valid,
// unfinished chunked body ("" when it is, or when got is empty).
func validChunkedPrefix(got string) string {
	if got == "" {
		return ""
	}
	var req http1.Request
	n, err := req.Parse([]byte(got), http1.Limits{})
	if err != nil {
		return "invalid head: " + err.Error()
	}
	var dec http1.ChunkedDecoder
	if _, _, err := dec.Decode(nil, []byte(got[n:])); err != nil && err != http1.ErrNeedMore {
		return "malformed chunked bytes: " + err.Error()
	}
	if dec.Done() {
		return "a complete chunked body"
	}
	return ""
}

// http1.SmugglingCases through a real appld, each on its own client connection, with a
// raw recording backend: a refused head gets 400 and reaches no server; a refused
// chunked body never reaches the server whole (at most the head and the valid chunks,
// re-encoded); an accepted request reaches it exactly as normalised (and, behind
// `option forwardfor`, with only X-Forwarded-For added at the end of the head).
func TestSmugglingTableThroughAppld(t *testing.T) {
	if len(http1.SmugglingCases) < 25 {
		t.Fatalf("only %d smuggling cases", len(http1.SmugglingCases))
	}
	rec := startRawRecorder(t)
	plain, xff := freePort(t), freePort(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "appl.cfg")
	writeCfg(t, path, `defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen plain
    bind `+plain+`
    server s `+rec.ln.Addr().String()+`
listen xff
    bind `+xff+`
    option forwardfor
    server s `+rec.ln.Addr().String()+`
`)
	startLocalAppld(t, path)
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "appld listening", func() bool {
		c, err := net.DialTimeout("tcp4", xff, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	var refused, cut, accepted int
	for _, tc := range http1.SmugglingCases {
		for _, front := range []string{plain, xff} {
			n := rec.count()
			resp := rawExchange(t, front, tc.Request)
			// A barrier request after the case: appld connected to the server for the
			// case (if at all) before answering the client, so the case's server
			// connections are accepted before the barrier's; they are those before it.
			barrier := "GET /barrier/" + tc.Name + " HTTP/1.1\r\nHost: b\r\n\r\n"
			if r := rawExchange(t, front, barrier); !strings.HasPrefix(r, "HTTP/1.1 200 ") {
				t.Fatalf("%s: barrier answered %q", tc.Name, r)
			}
			var conns []rawConn
			testbed.Eventually(t, 10*time.Second, 5*time.Millisecond, tc.Name+": backend connections closed", func() bool {
				var done bool
				conns, done = rec.since(n)
				return done && len(conns) > 0 && strings.HasPrefix(conns[len(conns)-1].got.String(), "GET /barrier/"+tc.Name+" ")
			})
			conns = conns[:len(conns)-1]
			switch {
			case tc.HeadErr != nil:
				if !strings.HasPrefix(resp, "HTTP/1.1 400 ") {
					t.Fatalf("%s: client got %q, want 400", tc.Name, resp)
				}
				if len(conns) != 0 {
					t.Fatalf("%s: refused head, but the backend got %d connection(s): %q", tc.Name, len(conns), conns[0].got.String())
				}
				refused++
			case tc.BodyErr != nil:
				if resp != "" && !strings.HasPrefix(resp, "HTTP/1.1 400 ") {
					t.Fatalf("%s: client got %q, want 400 or a close", tc.Name, resp)
				}
				for _, c := range conns {
					if c.complete {
						t.Fatalf("%s: the backend received a complete request: %q", tc.Name, c.got.String())
					}
					if why := validChunkedPrefix(c.got.String()); why != "" {
						t.Fatalf("%s: the backend received %s: %q", tc.Name, why, c.got.String())
					}
				}
				cut++
			default:
				if !strings.HasPrefix(resp, "HTTP/1.1 200 ") {
					t.Fatalf("%s: client got %q, want 200", tc.Name, resp)
				}
				want := tc.Forward
				if front == xff {
					head, body, _ := strings.Cut(tc.Forward, "\r\n\r\n")
					want = head + "\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n" + body
				}
				if len(conns) != 1 || conns[0].got.String() != want {
					var got []string
					for _, c := range conns {
						got = append(got, c.got.String())
					}
					t.Fatalf("%s via %s: backend received %q, want exactly\n%q", tc.Name, front, got, want)
				}
				accepted++
			}
		}
	}
	t.Logf("%d cases (x2 listens): %d refused heads, %d cut bodies, %d normalised", len(http1.SmugglingCases), refused/2, cut/2, accepted/2)
	if refused == 0 || cut == 0 || accepted == 0 {
		t.Fatal("the table lacks one kind of case")
	}
}
