package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"appl/internal/testbed"
)

// Pipelined requests and Expect: 100-continue through appld on one client connection:
// three requests written at once (a POST with a body, a GET, a HEAD) get their three
// answers in order, the HEAD's without a body; a request with Expect: 100-continue gets
// the interim 100 before its body is sent, then its answer.
func TestPipelinedAndExpectContinueThroughAppld(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s body=%s", r.Method, r.URL.Path, b)
	}))
	t.Cleanup(web.Close)
	front := freePort(t)
	path := filepath.Join(t.TempDir(), "appl.cfg")
	writeCfg(t, path, `defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen web
    bind `+front+`
    server s `+web.Listener.Addr().String()+`
`)
	startLocalAppld(t, path)
	var c net.Conn
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "appld listening", func() bool {
		var err error
		c, err = net.DialTimeout("tcp4", front, time.Second)
		return err == nil
	})
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	io.WriteString(c, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"+
		"GET /b HTTP/1.1\r\nHost: x\r\n\r\n"+
		"HEAD /c HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []struct{ method, body string }{{"POST", "POST /a body=hello"}, {"GET", "GET /b body="}, {"HEAD", ""}} {
		resp, err := http.ReadResponse(br, &http.Request{Method: want.method})
		if err != nil {
			t.Fatalf("%s: %v", want.method, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(b) != want.body {
			t.Fatalf("%s: %d %q %v, want %q", want.method, resp.StatusCode, b, err, want.body)
		}
		if want.method == "HEAD" && resp.ContentLength != int64(len("HEAD /c body=")) {
			t.Fatalf("HEAD: Content-Length %d, want the GET's", resp.ContentLength)
		}
	}
	// Expect: 100-continue on the same connection: the body is sent only after the 100.
	io.WriteString(c, "PUT /d HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("interim answer %q %v, want 100 Continue", line, err)
	}
	for line != "\r\n" {
		if line, err = br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	io.WriteString(c, "abc")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "PUT /d body=abc" {
		t.Fatalf("after 100-continue: %d %q", resp.StatusCode, b)
	}
}
