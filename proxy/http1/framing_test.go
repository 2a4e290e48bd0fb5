package http1

import (
	"testing"
)

func mustReq(t *testing.T, raw string) *Request {
	t.Helper()
	r := new(Request)
	if _, err := r.Parse([]byte(raw), Limits{}); err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	return r
}

func mustResp(t *testing.T, raw string) *Response {
	t.Helper()
	r := new(Response)
	if _, err := r.Parse([]byte(raw), Limits{}); err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	return r
}

func TestRequestFraming(t *testing.T) {
	cases := []struct {
		raw  string
		want Framing
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", Framing{Kind: BodyNone}},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", Framing{Kind: BodyNone}},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n", Framing{Kind: BodyLength, Length: 42}},
		{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", Framing{Kind: BodyLength, Length: 3}},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", Framing{Kind: BodyChunked}},
		{"POST / HTTP/1.0\r\nContent-Length: 7\r\n\r\n", Framing{Kind: BodyLength, Length: 7}},
		{"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", Framing{Kind: BodyNone}},
	}
	for _, c := range cases {
		if got := mustReq(t, c.raw).Framing(); got != c.want {
			t.Errorf("%q: %+v, want %+v", c.raw, got, c.want)
		}
	}
}

func TestResponseFraming(t *testing.T) {
	get := mustReq(t, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	head := mustReq(t, "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n")
	connect := mustReq(t, "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n")
	cases := []struct {
		req  *Request
		raw  string
		want Framing
	}{
		{get, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", Framing{Kind: BodyLength, Length: 5}},
		{nil, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", Framing{Kind: BodyLength, Length: 5}},
		{head, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", Framing{Kind: BodyNone}},
		{head, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Framing{Kind: BodyNone}},
		{get, "HTTP/1.1 204 No Content\r\n\r\n", Framing{Kind: BodyNone}},
		{get, "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", Framing{Kind: BodyNone}},
		{get, "HTTP/1.1 100 Continue\r\n\r\n", Framing{Kind: BodyNone}},
		{get, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", Framing{Kind: BodyNone}},
		{get, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", Framing{Kind: BodyTunnel}},
		{connect, "HTTP/1.1 200 Connection established\r\n\r\n", Framing{Kind: BodyTunnel}},
		{connect, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n", Framing{Kind: BodyNone}},
		{get, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Framing{Kind: BodyChunked}},
		{get, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", Framing{Kind: BodyChunked}},
		{get, "HTTP/1.1 200 OK\r\n\r\n", Framing{Kind: BodyUntilClose}},
		{get, "HTTP/1.0 200 OK\r\n\r\n", Framing{Kind: BodyUntilClose}},
		{get, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", Framing{Kind: BodyNone}},
	}
	for _, c := range cases {
		if got := mustResp(t, c.raw).Framing(c.req); got != c.want {
			t.Errorf("%q: %+v, want %+v", c.raw, got, c.want)
		}
	}
}

func TestKeepAlive(t *testing.T) {
	reqs := []struct {
		raw  string
		want bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: te\r\nConnection: close\r\n\r\n", false},
		{"GET / HTTP/1.0\r\n\r\n", false},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
		{"GET / HTTP/1.0\r\nConnection: foo,  keep-alive \r\n\r\n", true},
	}
	for _, c := range reqs {
		if got := mustReq(t, c.raw).KeepAlive(); got != c.want {
			t.Errorf("%q: keep-alive %v", c.raw, got)
		}
	}
	get := mustReq(t, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	resps := []struct {
		raw  string
		want bool
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", true},
		{"HTTP/1.1 200 OK\r\n\r\n", false}, // until close
		{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n", false},
		{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false},
		{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n", true},
		{"HTTP/1.1 204 No Content\r\n\r\n", true},
		{"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", false},
	}
	for _, c := range resps {
		if got := mustResp(t, c.raw).KeepAlive(get); got != c.want {
			t.Errorf("%q: keep-alive %v", c.raw, got)
		}
	}
}

func TestUpgradeAndExpect(t *testing.T) {
	ws := mustReq(t, "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: x\r\n\r\n")
	if v, ok := ws.Upgrade(); !ok || string(v) != "websocket" || !ws.IsWebSocket() {
		t.Errorf("websocket upgrade not seen: %q %v", v, ok)
	}
	if !ws.HasConnectionToken("UPGRADE") || ws.HasConnectionToken("close") {
		t.Error("connection tokens")
	}
	h2c := mustReq(t, "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n")
	if _, ok := h2c.Upgrade(); !ok || h2c.IsWebSocket() {
		t.Error("h2c upgrade")
	}
	noConn := mustReq(t, "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n")
	if _, ok := noConn.Upgrade(); ok {
		t.Error("Upgrade without Connection: upgrade is not an upgrade request")
	}
	old := mustReq(t, "GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n")
	if old.IsWebSocket() {
		t.Error("HTTP/1.0 cannot upgrade")
	}
	for raw, want := range map[string]bool{
		"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n": true,
		"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n": true,
		"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\n":       false,
		"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n":                         false,
	} {
		if got := mustReq(t, raw).ExpectContinue(); got != want {
			t.Errorf("%q: expect-continue %v", raw, got)
		}
	}
	if resp := mustResp(t, Continue); !resp.IsInterim() || resp.Status() != 100 {
		t.Error("Continue is not an interim 100")
	}
}
