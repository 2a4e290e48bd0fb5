package http1

import (
	"io"
	"strings"
	"testing"
)

// A typical browser request: about 500 bytes, 10 header fields.
func BenchmarkParseRequest(b *testing.B) {
	buf := []byte(browserRequest)
	var r Request
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Parse(buf, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// What the proxy does per request: parse, look up, rewrite as
// `option forwardfor` and a set-header rule would, serialize.
func BenchmarkParseAndSerialize(b *testing.B) {
	buf := []byte(browserRequest)
	out := make([]byte, 0, 4096)
	var r Request
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Parse(buf, Limits{}); err != nil {
			b.Fatal(err)
		}
		if _, ok := r.Cookie("SERVERID"); !ok {
			b.Fatal("cookie")
		}
		r.Add("X-Forwarded-For", "192.0.2.10")
		r.Set("X-Forwarded-Proto", "https")
		out = r.AppendTo(out[:0])
	}
}

func BenchmarkParseResponse(b *testing.B) {
	buf := []byte("HTTP/1.1 200 OK\r\nDate: Mon, 23 Nov 2026 12:00:00 GMT\r\nServer: nginx\r\n" +
		"Content-Type: text/html; charset=utf-8\r\nContent-Length: 65536\r\nConnection: keep-alive\r\n" +
		"Cache-Control: private, max-age=0\r\nSet-Cookie: SERVERID=s1; path=/\r\n\r\n")
	var r Response
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Parse(buf, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// Re-encoding a 1 MiB chunked body in 16 KiB chunks through a 16 KiB
// window and scratch buffer.
func BenchmarkCopyChunked(b *testing.B) {
	var sb strings.Builder
	chunk := strings.Repeat("x", 16384)
	for i := 0; i < 64; i++ {
		sb.WriteString("4000\r\n")
		sb.WriteString(chunk)
		sb.WriteString("\r\n")
	}
	sb.WriteString("0\r\n\r\n")
	body := sb.String()
	src := strings.NewReader(body)
	rd := NewReader(src, make([]byte, 16384))
	out := make([]byte, 0, 16384)
	var dec ChunkedDecoder
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(body)
		rd.Reset(src)
		if _, err := rd.CopyBody(io.Discard, Framing{Kind: BodyChunked}, &dec, out); err != nil {
			b.Fatal(err)
		}
	}
}

// loopReader serves s again and again, in reads of at most chunk bytes.
type loopReader struct {
	s     string
	off   int
	chunk int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := min(len(p), l.chunk, len(l.s)-l.off)
	copy(p, l.s[l.off:l.off+n])
	l.off = (l.off + n) % len(l.s)
	return n, nil
}

// The whole per-request path through a Reader (read head, forward head,
// copy a chunked body) allocates nothing in the steady state.
func TestReaderPathDoesNotAllocate(t *testing.T) {
	msg := browserRequest + "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
	rd := NewReader(&loopReader{s: msg, chunk: 100}, make([]byte, 4096))
	var req Request
	var dec ChunkedDecoder
	head := make([]byte, 0, 4096)
	scratch := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(200, func() {
		if err := rd.ReadRequest(&req, Limits{}); err != nil {
			t.Fatal(err)
		}
		req.Set("X-Forwarded-For", "192.0.2.1")
		head = req.AppendTo(head[:0])
		if _, err := rd.CopyBody(io.Discard, req.Framing(), &dec, scratch); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.2f allocations per request", allocs)
	}
}

func BenchmarkReadRequestKeepAlive(b *testing.B) {
	rd := NewReader(&loopReader{s: browserRequest, chunk: 1 << 20}, make([]byte, 16384))
	var req Request
	out := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if err := rd.ReadRequest(&req, Limits{}); err != nil {
			b.Fatal(err)
		}
		out = req.AppendTo(out[:0])
	}
}
