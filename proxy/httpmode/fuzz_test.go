package httpmode

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"appl/internal/cfgfile"
	"appl/proxy/acl"
	"appl/proxy/http1"
)

// FuzzParseRule feeds arbitrary rule lines to the rule parser: it must return a rule or
// an error, never panic.
func FuzzParseRule(f *testing.F) {
	for _, l := range strings.Split(rulesFrontend, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "use_backend") {
			f.Add(l)
		}
	}
	f.Add("redirect prefix /x code 308 drop-query append-slash set-cookie A=B")
	f.Add("http-request return status 503 content-type text/html file /nonexistent")
	f.Add("http-request set-var-fmt(txn.a) %[src]-%[path]")
	f.Add("http-request del-header ^x- -m reg")
	f.Add("http-response set-status 418 reason teapot")
	set := acl.NewSet(acl.Options{})
	set.Define(cfgfile.Line{Words: []string{"acl", "a", "path_beg", "/a"}})
	f.Fuzz(func(t *testing.T, line string) {
		words, err := cfgfile.SplitLine(line, func(string) (string, bool) { return "", false })
		if err != nil || len(words) == 0 {
			return
		}
		switch words[0] {
		case "http-request", "http-response", "redirect":
		default:
			words = append([]string{"http-request"}, words...)
		}
		_ = ParseRule(cfgfile.Line{Pos: cfgfile.Pos{File: "fuzz", Line: 1}, Words: words}, set, acl.Options{BaseDir: t.TempDir()}, "fe")
	})
}

// pipeServer is a Server whose connections are in-memory pipes to a goroutine that
// answers each valid request with a small response.
type pipeServer struct {
	pool     *Pool
	respBody int // body size of each response ("ok" when 0)
}

func (p *pipeServer) Name() string { return "p1" }
func (p *pipeServer) Pool() *Pool  { return p.pool }
func (p *pipeServer) Release()     {}
func (p *pipeServer) Dial(ctx context.Context) (net.Conn, error) {
	a, b := net.Pipe()
	go func() {
		defer b.Close()
		b.SetDeadline(time.Now().Add(2 * time.Second))
		rd := http1.NewReader(b, make([]byte, 16<<10))
		var req http1.Request
		var dec http1.ChunkedDecoder
		for {
			if rd.ReadRequest(&req, http1.Limits{}) != nil {
				return
			}
			if _, err := rd.CopyBody(io.Discard, req.Framing(), &dec, make([]byte, 4096)); err != nil {
				return
			}
			body := "ok"
			if p.respBody > 0 {
				body = strings.Repeat("z", p.respBody)
			}
			if _, err := io.WriteString(b, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body); err != nil {
				return
			}
		}
	}()
	return a, nil
}

type pipeBackend struct{ s *pipeServer }

func (b pipeBackend) Name() string { return "be" }
func (b pipeBackend) Pick(context.Context, HashKey, string) (Server, PickInfo, error) {
	return b.s, PickInfo{}, nil
}

type nopEnv struct{ be Backend }

func (e nopEnv) Backend(name string) (Backend, bool) { return e.be, name == "be" }
func (e nopEnv) Log(l *LogEntry)                     { l.AppendHTTPLog(nil) }

// FuzzServe runs arbitrary client bytes through a whole session in memory: no panic,
// the session ends, and what reaches the server always parses as valid requests
// (checked by the pipe server, which stops at the first invalid byte).
func FuzzServe(f *testing.F) {
	for _, c := range http1.SmugglingCases {
		f.Add(c.Request)
	}
	f.Add("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	f.Add("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nxyz")
	f.Add("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc")
	cfg := loadConfig(f, oneBackendConfig("127.0.0.1:1", "    option forwardfor\n    http-request set-header X-A %[path]\n    timeout http-request 300ms\n    timeout http-keep-alive 30ms", "    timeout server 1s\n    timeout tunnel 200ms"))
	prog, err := Compile(cfg, Options{})
	if err != nil {
		f.Fatal(err)
	}
	fe := prog.Frontend("fe")
	env := nopEnv{pipeBackend{&pipeServer{pool: NewPool(4, time.Second)}}}
	f.Fuzz(func(t *testing.T, in string) {
		a, b := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			fe.Serve(context.Background(), b, time.Now(), env, &acl.Txn{FrontendName: "fe"})
			b.Close()
		}()
		go func() {
			a.SetWriteDeadline(time.Now().Add(3 * time.Second))
			io.WriteString(a, in)
		}()
		a.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, a)
		a.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("session did not end for input %q", in)
		}
	})
}

// TestServeOverPipes runs bodies through connections that cannot splice (net.Pipe, as a
// tls.Conn would be): the buffered copy path, both directions.
func TestServeOverPipes(t *testing.T) {
	cfg := loadConfig(t, oneBackendConfig("127.0.0.1:1", "", ""))
	prog, err := Compile(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := nopEnv{pipeBackend{&pipeServer{pool: NewPool(4, time.Second), respBody: 200000}}}
	a, b := net.Pipe()
	go func() {
		prog.Frontend("fe").Serve(context.Background(), b, time.Now(), env, &acl.Txn{FrontendName: "fe"})
		b.Close()
	}()
	defer a.Close()
	a.SetDeadline(time.Now().Add(10 * time.Second))
	go io.WriteString(a, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("u", 100000)+
		"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	out, _ := io.ReadAll(a)
	resps := strings.Count(string(out), "HTTP/1.1 200 OK\r\n")
	if resps != 2 || len(out) < 2*200000 {
		t.Fatalf("got %d responses, %d bytes", resps, len(out))
	}
}
