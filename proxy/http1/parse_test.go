package http1

import (
	"errors"
	"io"
	"strings"
	"testing"
)

const browserRequest = "GET /search/results?q=load+balancer&page=2&lang=en HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Referer: https://www.example.com/\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: SERVERID=s1; session=abc123def456; theme=dark\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"Priority: u=0, i\r\n" +
	"\r\n"

func TestParseRequestFields(t *testing.T) {
	var r Request
	n, err := r.Parse([]byte(browserRequest+"NEXT"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(browserRequest) {
		t.Fatalf("head length %d, want %d", n, len(browserRequest))
	}
	if string(r.Method()) != "GET" || !r.IsMethod("GET") {
		t.Errorf("method %q", r.Method())
	}
	if string(r.Path()) != "/search/results" {
		t.Errorf("path %q", r.Path())
	}
	if q, ok := r.Query(); !ok || string(q) != "q=load+balancer&page=2&lang=en" {
		t.Errorf("query %q %v", q, ok)
	}
	if r.Version() != HTTP11 {
		t.Errorf("version %v", r.Version())
	}
	if r.Len() != 10 {
		t.Errorf("%d fields, want 10", r.Len())
	}
	if v, ok := r.Header("HOST"); !ok || string(v) != "www.example.com" {
		t.Errorf("Host %q %v", v, ok)
	}
	if v, ok := r.Header("accept-encoding"); !ok || string(v) != "gzip, deflate, br" {
		t.Errorf("Accept-Encoding %q", v)
	}
	if _, ok := r.Header("X-Missing"); ok {
		t.Error("found a missing field")
	}
	for name, want := range map[string]string{"SERVERID": "s1", "session": "abc123def456", "theme": "dark"} {
		if v, ok := r.Cookie(name); !ok || string(v) != want {
			t.Errorf("cookie %s = %q %v, want %q", name, v, ok, want)
		}
	}
	if _, ok := r.Cookie("serverid"); ok {
		t.Error("cookie names are case-sensitive")
	}
	if !r.KeepAlive() || r.ExpectContinue() || r.IsWebSocket() {
		t.Error("connection semantics wrong")
	}
	if f := r.Framing(); f.Kind != BodyNone {
		t.Errorf("framing %v", f.Kind)
	}
}

func TestParseRequestForms(t *testing.T) {
	cases := []struct {
		raw, path, query, authority string
		hasQuery                    bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "/", "", "", false},
		{"GET /a? HTTP/1.1\r\nHost: a\r\n\r\n", "/a", "", "", true},
		{"GET /a?b?c HTTP/1.1\r\nHost: a\r\n\r\n", "/a", "b?c", "", true},
		{"GET http://b.example:8080/x?y HTTP/1.1\r\nHost: b.example:8080\r\n\r\n", "/x", "y", "b.example:8080", true},
		{"GET http://b.example HTTP/1.1\r\nHost: b.example\r\n\r\n", "", "", "b.example", false},
		{"CONNECT b.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n", "", "", "b.example:443", false},
		{"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "", "", "", false},
		{"GET / HTTP/1.0\r\n\r\n", "/", "", "", false}, // Host optional in 1.0
		{"GET /%7Euser/a;p=1 HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", "/%7Euser/a;p=1", "", "", false},
	}
	for _, c := range cases {
		var r Request
		if _, err := r.Parse([]byte(c.raw), Limits{}); err != nil {
			t.Errorf("%q: %v", c.raw, err)
			continue
		}
		q, hq := r.Query()
		if string(r.Path()) != c.path || string(q) != c.query || hq != c.hasQuery || string(r.Authority()) != c.authority {
			t.Errorf("%q: path %q query %q/%v authority %q", c.raw, r.Path(), q, hq, r.Authority())
		}
	}
}

// Errors of the request parser beyond the smuggling table.
func TestParseRequestErrors(t *testing.T) {
	cases := []struct {
		raw  string
		want error
	}{
		{"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", nil},
		{"GET * HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget},
		{"CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget},
		{"GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget},
		{"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget},
		{"GET /\t HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget},
		{" GET / HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadRequestLine},
		{"GET\r\nHost: a\r\n\r\n", ErrBadRequestLine},
		{"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", ErrBadRequestLine},
		{"GET / HTTP/1.1\rHost: a\r\n\r\n", ErrBareCR},
		{"\r\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", ErrBareCR},
		{"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", ErrBareLF},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\r", ErrBareCR},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n", ErrBadHeaderValue},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n", nil}, // obs-text allowed
		{"GET / HTTP/1.1\r\nHost: a\r\nX:\r\n\r\n", nil},             // empty value allowed
		{"GET / HTTP/1.1\r\nHost: a\r\nX\n: 1\r\n\r\n", ErrBadHeaderName},
		{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", ErrBadContentLength},
		{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n", nil},
		{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", ErrBadContentLength},
		{"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", ErrBadTransferEncoding},
		{"GET / HTTP/1.1\r\nHost:\r\n\r\n", nil},
		{"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", ErrBadHost},
		{"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", ErrDupHost},
		// Syntax errors win over meaning, whatever the order.
		{"GET / HTTP/1.1\r\nContent-Length: x\r\nX : 1\r\n\r\n", ErrSpaceBeforeColon},
	}
	for _, c := range cases {
		var r Request
		_, err := r.Parse([]byte(c.raw), Limits{})
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%q: got %v, want %v", c.raw, err, c.want)
		}
	}
}

func TestParseResponse(t *testing.T) {
	cases := []struct {
		raw    string
		status int
		reason string
		want   error
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", 200, "OK", nil},
		{"HTTP/1.0 404 Not Found\r\n\r\n", 404, "Not Found", nil},
		{"HTTP/1.1 204\r\n\r\n", 204, "", nil},
		{"HTTP/1.1 204 \r\n\r\n", 204, "", nil},
		{"HTTP/1.1 500 Internal  Server\tError\r\n\r\n", 500, "Internal  Server\tError", nil},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 200, "OK", nil},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 0, "", ErrBadTransferEncoding},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0, "", ErrBadTransferEncoding},
		{"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, "", ErrTEInHTTP10},
		{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 0, "", ErrCLAndTE},
		{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 0, "", ErrDupContentLength},
		{"HTTP/1.1 99 OK\r\n\r\n", 0, "", ErrBadStatusLine},
		{"HTTP/1.1 600 OK\r\n\r\n", 0, "", ErrBadStatusLine},
		{"HTTP/1.1 20x OK\r\n\r\n", 0, "", ErrBadStatusLine},
		{"HTTP/1.1  200 OK\r\n\r\n", 0, "", ErrBadStatusLine},
		{"HTTP/1.1 2000 OK\r\n\r\n", 0, "", ErrBadStatusLine},
		{"HTTP/1.1 200 O\x00K\r\n\r\n", 0, "", ErrBadStatusLine},
		{"HTTP/1.1 200 OK\n\r\n", 0, "", ErrBareLF},
		{"HTTP/2 200 OK\r\n\r\n", 0, "", ErrBadVersion},
		{"ICY 200 OK\r\n\r\n", 0, "", ErrBadVersion},
		{"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 0, "", ErrObsFold},
		{"HTTP/1.1 200 OK\r\nSet-Cookie: a=b\r\nSet-Cookie: c=d\r\n\r\n", 200, "OK", nil},
	}
	for _, c := range cases {
		var r Response
		n, err := r.Parse([]byte(c.raw), Limits{})
		if c.want != nil {
			if !errors.Is(err, c.want) {
				t.Errorf("%q: got %v, want %v", c.raw, err, c.want)
			}
			continue
		}
		if err != nil || n != len(c.raw) {
			t.Errorf("%q: %d %v", c.raw, n, err)
			continue
		}
		if r.Status() != c.status || string(r.Reason()) != c.reason {
			t.Errorf("%q: status %d reason %q", c.raw, r.Status(), r.Reason())
		}
	}
}

// Canonical heads serialize back to the exact input bytes.
func TestRoundTrip(t *testing.T) {
	reqs := []string{
		browserRequest,
		"POST /api/v1/items HTTP/1.1\r\nHost: api.example\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n",
		"GET http://a.example/x?y=1 HTTP/1.1\r\nHost: a.example\r\n\r\n",
		"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\nX-Empty: \r\n\r\n",
		"PUT /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
	}
	for _, raw := range reqs {
		var r Request
		if _, err := r.Parse([]byte(raw), Limits{}); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if got := string(r.AppendTo(nil)); got != raw {
			t.Errorf("round trip\n%q\ngave\n%q", raw, got)
		}
	}
	resps := []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 12\r\n\r\n",
		"HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"HTTP/1.1 204 \r\n\r\n",
	}
	for _, raw := range resps {
		var r Response
		if _, err := r.Parse([]byte(raw), Limits{}); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if got := string(r.AppendTo(nil)); got != raw {
			t.Errorf("round trip\n%q\ngave\n%q", raw, got)
		}
	}
}

// Several requests in one buffer parse one after the other.
func TestPipelined(t *testing.T) {
	buf := []byte("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
		"\r\nGET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" +
		"GET /4 HTT")
	var r Request
	var paths []string
	for {
		n, err := r.Parse(buf, Limits{})
		if err == ErrNeedMore {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, string(r.Path()))
		if ka := r.KeepAlive(); ka != (string(r.Path()) != "/3") {
			t.Errorf("%s: keep-alive %v", r.Path(), ka)
		}
		buf = buf[n:]
		if f := r.Framing(); f.Kind == BodyLength {
			if string(buf[:f.Length]) != "abc" {
				t.Fatalf("body %q", buf[:f.Length])
			}
			buf = buf[f.Length:]
		}
	}
	if strings.Join(paths, ",") != "/1,/2,/3" || string(buf) != "GET /4 HTT" {
		t.Fatalf("paths %v, left %q", paths, buf)
	}
}

// Feeding a head one more byte at a time gives ErrNeedMore until the result
// of the whole buffer, for every input of the smuggling table and more.
func TestSplitAtEveryByte(t *testing.T) {
	inputs := []string{browserRequest}
	for _, c := range SmugglingCases {
		if len(c.Request) < 4096 {
			inputs = append(inputs, c.Request)
		}
	}
	for _, in := range inputs {
		var whole Request
		wn, werr := whole.Parse([]byte(in), Limits{})
		wantHead := ""
		if werr == nil {
			wantHead = string(whole.AppendTo(nil))
		}
		var r Request
		i := 0
		for ; i <= len(in); i++ {
			n, err := r.Parse([]byte(in[:i]), Limits{})
			if err == ErrNeedMore {
				continue
			}
			if err != werr || n != wn {
				t.Errorf("%q: prefix %d gave %d %v, whole gave %d %v", in, i, n, err, wn, werr)
			} else if err == nil && string(r.AppendTo(nil)) != wantHead {
				t.Errorf("%q: prefix %d serialized differently", in, i)
			}
			break
		}
		if i > len(in) && werr != ErrNeedMore {
			t.Errorf("%q: never completed", in)
		}
	}
}

// The same split test through a Reader fed one byte per Read.
func TestReaderOneBytePerRead(t *testing.T) {
	raw := browserRequest + "POST /2 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n" + browserRequest
	rd := NewReader(&oneByteReader{s: raw}, make([]byte, 1024))
	var r Request
	var body strings.Builder
	var dec ChunkedDecoder
	for i, want := range []string{"/search/results", "/2", "/search/results"} {
		if err := rd.ReadRequest(&r, Limits{}); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if string(r.Path()) != want {
			t.Fatalf("request %d: path %q", i, r.Path())
		}
		if _, err := rd.CopyBody(&body, r.Framing(), &dec, make([]byte, 0, 16)); err != nil {
			t.Fatalf("request %d body: %v", i, err)
		}
	}
	if body.String() != "3\r\nabc\r\n0\r\nT: 1\r\n\r\n" {
		t.Fatalf("body %q", body.String())
	}
	if err := rd.ReadRequest(&r, Limits{}); err != io.EOF {
		t.Fatalf("after last request: %v", err)
	}
}

type oneByteReader struct{ s string }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(o.s) == 0 {
		return 0, io.EOF
	}
	p[0] = o.s[0]
	o.s = o.s[1:]
	return 1, nil
}

func TestLimits(t *testing.T) {
	var r Request
	head := "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 100) + "\r\n\r\n"
	if _, err := r.Parse([]byte(head), Limits{MaxHead: len(head)}); err != nil {
		t.Errorf("head of exactly MaxHead refused: %v", err)
	}
	if _, err := r.Parse([]byte(head), Limits{MaxHead: len(head) - 1}); err != ErrHeadTooLarge {
		t.Errorf("head one byte over MaxHead: %v", err)
	}
	if _, err := r.Parse([]byte(head[:len(head)-5]), Limits{MaxHead: len(head) - 10}); err != ErrHeadTooLarge {
		t.Errorf("incomplete head over MaxHead: %v", err)
	}
	three := "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n"
	if _, err := r.Parse([]byte(three), Limits{MaxHeaders: 3}); err != nil {
		t.Errorf("3 fields with MaxHeaders 3: %v", err)
	}
	if _, err := r.Parse([]byte(three), Limits{MaxHeaders: 2}); err != ErrTooManyHeaders {
		t.Errorf("3 fields with MaxHeaders 2: %v", err)
	}
	// A Reader whose window is smaller than the head reports it too.
	rd := NewReader(strings.NewReader(head), make([]byte, 64))
	if err := rd.ReadRequest(&r, Limits{}); err != ErrHeadTooLarge {
		t.Errorf("head larger than the window: %v", err)
	}
	rd = NewReader(strings.NewReader("GET / HTTP/1.1\r\nHo"), make([]byte, 64))
	if err := rd.ReadRequest(&r, Limits{}); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated head: %v", err)
	}
}

// scanValue agrees with the byte table for every byte at every position.
func TestScanValue(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 20; pos++ {
			buf := []byte(strings.Repeat("a", 24))
			buf[pos] = byte(c)
			want := len(buf)
			if !valueChar[c] {
				want = pos
			}
			if got := scanValue(buf, 0); got != want {
				t.Fatalf("byte %#x at %d: %d, want %d", c, pos, got, want)
			}
		}
	}
}

// Response heads split at every byte, and an interim 100 followed by the
// final response on one connection.
func TestResponseSplitAndInterim(t *testing.T) {
	raw := "HTTP/1.1 100 Continue\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: SRV=s1\r\n\r\nok" +
		"HTTP/1.1 204 No Content\r\n\r\n"
	for i := 0; i < len(raw); i++ {
		var r Response
		n, err := r.Parse([]byte(raw[:i]), Limits{})
		if i < 25 && err != ErrNeedMore {
			t.Fatalf("prefix %d: %d %v", i, n, err)
		}
		if i >= 25 && (err != nil || n != 25 || r.Status() != 100) {
			t.Fatalf("prefix %d: %d %v", i, n, err)
		}
	}
	rd := NewReader(&oneByteReader{s: raw}, make([]byte, 256))
	var r Response
	var body strings.Builder
	var statuses []int
	for {
		if err := rd.ReadResponse(&r, Limits{}); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, r.Status())
		if _, err := rd.CopyBody(&body, r.Framing(nil), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(statuses) != 3 || statuses[0] != 100 || statuses[1] != 200 || statuses[2] != 204 || body.String() != "ok" {
		t.Fatalf("statuses %v body %q", statuses, body.String())
	}
}

func TestHostAndExpectScope(t *testing.T) {
	var resp Response
	if _, err := resp.Parse([]byte("HTTP/1.1 200 OK\r\nHost: a\r\nHost: b\r\nContent-Length: 0\r\n\r\n"), Limits{}); err != nil {
		t.Errorf("Host rules applied to a response: %v", err)
	}
	var req Request
	if _, err := req.Parse([]byte("PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"), Limits{}); err != nil || req.ExpectContinue() {
		t.Errorf("Expect in HTTP/1.0 must be ignored: %v %v", err, req.ExpectContinue())
	}
}
