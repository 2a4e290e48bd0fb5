package h2front

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"

	"appl/proxy/http1"
)

func fields(kv ...string) []hpack.HeaderField {
	var out []hpack.HeaderField
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

var getBase = []string{":method", "GET", ":scheme", "https", ":path", "/p?q=1", ":authority", "ex.com"}

func TestBuildRequest(t *testing.T) {
	cases := []struct {
		name string
		kv   []string
		end  bool
		want string // the head, or the error text
		info ReqInfo
	}{
		{"get", append(getBase, "accept", "*/*"), true,
			"GET /p?q=1 HTTP/1.1\r\nhost: ex.com\r\naccept: */*\r\n\r\n", ReqInfo{}},
		{"cookie crumbs joined at the first crumb", append(getBase, "cookie", "a=1", "x-a", "b", "cookie", "b=2", "cookie", "c=3"), true,
			"GET /p?q=1 HTTP/1.1\r\nhost: ex.com\r\ncookie: a=1; b=2; c=3\r\nx-a: b\r\n\r\n", ReqInfo{}},
		{"post without length is chunked", []string{":method", "POST", ":scheme", "http", ":path", "/u", ":authority", "ex.com"}, false,
			"POST /u HTTP/1.1\r\nhost: ex.com\r\ntransfer-encoding: chunked\r\n\r\n", ReqInfo{Chunked: true}},
		{"post with length", []string{":method", "POST", ":scheme", "http", ":path", "/u", ":authority", "ex.com", "content-length", "10", "content-length", "10"}, false,
			"POST /u HTTP/1.1\r\nhost: ex.com\r\ncontent-length: 10\r\n\r\n", ReqInfo{HasCL: true, CL: 10}},
		{"host without authority", []string{":method", "HEAD", ":scheme", "http", ":path", "/", "host", "h.example"}, true,
			"HEAD / HTTP/1.1\r\nhost: h.example\r\n\r\n", ReqInfo{Head: true}},
		{"same host and authority", append(getBase, "host", "ex.com"), true,
			"GET /p?q=1 HTTP/1.1\r\nhost: ex.com\r\n\r\n", ReqInfo{}},
		{"options *", []string{":method", "OPTIONS", ":scheme", "http", ":path", "*", ":authority", "ex.com"}, true,
			"OPTIONS * HTTP/1.1\r\nhost: ex.com\r\n\r\n", ReqInfo{}},
		{"te trailers", append(getBase, "te", "trailers"), true, "GET /p?q=1 HTTP/1.1\r\nhost: ex.com\r\nte: trailers\r\n\r\n", ReqInfo{}},

		{"upper-case name", append(getBase, "Accept", "x"), true, ErrFieldName.Error(), ReqInfo{}},
		{"CR in value", append(getBase, "x", "a\r\nb: c"), true, ErrFieldValue.Error(), ReqInfo{}},
		{"NUL in value", append(getBase, "x", "a\x00"), true, ErrFieldValue.Error(), ReqInfo{}},
		{"leading space", append(getBase, "x", " a"), true, ErrFieldValue.Error(), ReqInfo{}},
		{"connection", append(getBase, "connection", "keep-alive"), true, ErrConnHeader.Error(), ReqInfo{}},
		{"keep-alive", append(getBase, "keep-alive", "5"), true, ErrConnHeader.Error(), ReqInfo{}},
		{"transfer-encoding", append(getBase, "transfer-encoding", "chunked"), false, ErrConnHeader.Error(), ReqInfo{}},
		{"proxy-connection", append(getBase, "proxy-connection", "x"), true, ErrConnHeader.Error(), ReqInfo{}},
		{"te gzip", append(getBase, "te", "gzip"), true, ErrConnHeader.Error(), ReqInfo{}},
		{"pseudo after regular", []string{":method", "GET", "x", "y", ":scheme", "https", ":path", "/", ":authority", "a"}, true, ErrPseudo.Error(), ReqInfo{}},
		{"duplicate :path", append(getBase, ":path", "/b"), true, ErrPseudo.Error(), ReqInfo{}},
		{"unknown pseudo", append([]string{":foo", "x"}, getBase...), true, ErrPseudo.Error(), ReqInfo{}},
		{":status in a request", append([]string{":status", "200"}, getBase...), true, ErrPseudo.Error(), ReqInfo{}},
		{":protocol", append([]string{":protocol", "websocket"}, getBase...), true, ErrPseudo.Error(), ReqInfo{}},
		{"no method", []string{":scheme", "https", ":path", "/", ":authority", "a"}, true, ErrPseudo.Error(), ReqInfo{}},
		{"no scheme", []string{":method", "GET", ":path", "/", ":authority", "a"}, true, ErrPseudo.Error(), ReqInfo{}},
		{"empty path", []string{":method", "GET", ":scheme", "https", ":path", "", ":authority", "a"}, true, ErrPath.Error(), ReqInfo{}},
		{"absolute path", []string{":method", "GET", ":scheme", "https", ":path", "http://a/", ":authority", "a"}, true, ErrPath.Error(), ReqInfo{}},
		{"space in path", []string{":method", "GET", ":scheme", "https", ":path", "/a b", ":authority", "a"}, true, ErrPath.Error(), ReqInfo{}},
		{"* not OPTIONS", []string{":method", "GET", ":scheme", "https", ":path", "*", ":authority", "a"}, true, ErrPath.Error(), ReqInfo{}},
		{"host mismatch", append(getBase, "host", "other.com"), true, ErrHostMismatch.Error(), ReqInfo{}},
		{"two hosts", []string{":method", "GET", ":scheme", "https", ":path", "/", "host", "a", "host", "b"}, true, ErrHostMismatch.Error(), ReqInfo{}},
		{"no authority", []string{":method", "GET", ":scheme", "https", ":path", "/"}, true, ErrNoAuthority.Error(), ReqInfo{}},
		{"bad authority", []string{":method", "GET", ":scheme", "https", ":path", "/", ":authority", "a b"}, true, ErrPseudo.Error(), ReqInfo{}},
		{"method with space", []string{":method", "G T", ":scheme", "https", ":path", "/", ":authority", "a"}, true, ErrPseudo.Error(), ReqInfo{}},
		{"bad content-length", append(getBase, "content-length", "1x"), false, ErrContentLength.Error(), ReqInfo{}},
		{"signed content-length", append(getBase, "content-length", "+1"), false, ErrContentLength.Error(), ReqInfo{}},
		{"differing content-lengths", append(getBase, "content-length", "1", "content-length", "2"), false, ErrContentLength.Error(), ReqInfo{}},
		{"length with END_STREAM", append(getBase, "content-length", "3"), true, ErrContentLength.Error(), ReqInfo{}},
		{"CONNECT", []string{":method", "CONNECT", ":authority", "a:443"}, true, ErrConnect.Error(), ReqInfo{}},
	}
	for _, c := range cases {
		out, info, err := BuildRequest([]byte("prefix"), fields(c.kv...), c.end)
		got := ""
		if err != nil {
			got = err.Error()
			if string(out) != "prefix" {
				t.Errorf("%s: dst changed on error: %q", c.name, out)
			}
		} else {
			got = strings.TrimPrefix(string(out), "prefix")
		}
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
			continue
		}
		if err == nil && info != c.info {
			t.Errorf("%s: info %+v, want %+v", c.name, info, c.info)
		}
	}
}

func TestAppendTrailers(t *testing.T) {
	out, err := AppendTrailers(nil, fields("x-sum", "abc"), true)
	if err != nil || string(out) != "0\r\nx-sum: abc\r\n\r\n" {
		t.Errorf("chunked trailers: %q %v", out, err)
	}
	if out, err := AppendTrailers(nil, fields("x-sum", "abc"), false); err != nil || len(out) != 0 {
		t.Errorf("trailers of a length body: %q %v", out, err)
	}
	for _, kv := range [][]string{{":path", "/"}, {"X", "y"}, {"content-length", "1"}, {"x", "a\nb"}, {"transfer-encoding", "chunked"}} {
		if _, err := AppendTrailers(nil, fields(kv...), true); err == nil {
			t.Errorf("trailer %v accepted", kv)
		}
	}
}

// checkHead is what any head BuildRequest accepts must satisfy: it parses as exactly
// one HTTP/1.1 request head (nothing smuggled after it), with the framing announced.
func checkHead(t *testing.T, head []byte, info ReqInfo) {
	var req http1.Request
	n, err := req.Parse(head, http1.Limits{MaxHead: len(head) + 1})
	if err != nil {
		// The HTTP/1 parser may be stricter (it answers 400 then); it must never see
		// a different message than the one the client sent.
		var pe *http1.ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("head %q: %v", head, err)
		}
		return
	}
	if n != len(head) {
		t.Fatalf("head %q parsed as %d of %d bytes", head, n, len(head))
	}
	fr := req.Framing()
	switch {
	case info.Chunked && fr.Kind != http1.BodyChunked,
		info.HasCL && info.CL > 0 && (fr.Kind != http1.BodyLength || fr.Length != info.CL),
		!info.Chunked && !(info.HasCL && info.CL > 0) && fr.Kind != http1.BodyNone:
		t.Fatalf("head %q: framing %+v, info %+v", head, fr, info)
	}
	if h, ok := req.Header("host"); !ok || len(h) == 0 {
		t.Fatalf("head %q without host", head)
	}
	if req.HeaderCount("host") != 1 {
		t.Fatalf("head %q with %d hosts", head, req.HeaderCount("host"))
	}
}

// FuzzBuildRequest: any header list (name=value lines; the first byte tells whether
// HEADERS ended the stream) either is refused or becomes one well-framed HTTP/1.1
// head. The same input is also tried as an HPACK block.
func FuzzBuildRequest(f *testing.F) {
	f.Add([]byte("1:method=GET\n:scheme=https\n:path=/\n:authority=a\ncookie=a=1\ncookie=b"))
	f.Add([]byte("0:method=POST\n:scheme=http\n:path=/u\n:authority=a\ncontent-length=5"))
	f.Add([]byte("0:method=POST\n:scheme=http\n:path=/u\nhost=a\nx=\r\ntransfer-encoding: chunked"))
	f.Add([]byte("1:method=GET\n:scheme=https\n:path=/\n:authority=a\nhost=a\nte=trailers"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		end := data[0]&1 == 1
		var fs []hpack.HeaderField
		for _, line := range bytes.Split(data[1:], []byte("\n")) {
			name, value, _ := bytes.Cut(line, []byte("="))
			if len(name) > 1 {
				if i := bytes.IndexByte(name[1:], '='); i >= 0 {
					name = name[:i+1]
				}
			}
			fs = append(fs, hpack.HeaderField{Name: string(name), Value: string(value)})
		}
		if head, info, err := BuildRequest(nil, fs, end); err == nil {
			checkHead(t, head, info)
		}
		var got []hpack.HeaderField
		dec := hpack.NewDecoder(4096, func(h hpack.HeaderField) { got = append(got, h) })
		dec.SetMaxStringLength(16 << 10)
		if _, err := dec.Write(data[1:]); err == nil && dec.Close() == nil {
			if head, info, err := BuildRequest(nil, got, end); err == nil {
				checkHead(t, head, info)
			}
		}
	})
}
