package http1

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// decodeAll runs the decoder over in, fed step bytes at a time, with an
// output buffer of capacity outCap (0: unbounded), as CopyBody does.
func decodeAll(in string, step, outCap int, payload bool) (string, int, error) {
	var d ChunkedDecoder
	var res []byte
	window := []byte{}
	fed := 0
	for {
		var out []byte
		if outCap > 0 {
			out = make([]byte, 0, outCap)
		}
		var n int
		var err error
		if payload {
			out, n, err = d.DecodePayload(out, window)
		} else {
			out, n, err = d.Decode(out, window)
		}
		// dst may only outgrow its capacity to hold one line that cannot
		// fit even in an empty buffer.
		if outCap > 0 && cap(out) != outCap && (len(out) <= outCap || bytes.Count(out, []byte("\r\n")) != 1) {
			return "", 0, errors.New("output grew beyond its capacity")
		}
		res = append(res, out...)
		window = window[n:]
		if err == io.EOF {
			return string(res), fed - len(window), nil
		}
		if err != nil {
			return string(res), 0, err
		}
		if n == 0 && len(out) == 0 {
			if fed == len(in) {
				return string(res), 0, io.ErrUnexpectedEOF
			}
			k := min(step, len(in)-fed)
			window = append(window, in[fed:fed+k]...)
			fed += k
		}
	}
}

func TestChunkedDecode(t *testing.T) {
	cases := []struct {
		in, out, payload string
		err              error
	}{
		{"0\r\n\r\n", "0\r\n\r\n", "", nil},
		{"5\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n", "hello", nil},
		{"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", nil},
		{"A\r\n0123456789\r\n0\r\n\r\n", "a\r\n0123456789\r\n0\r\n\r\n", "0123456789", nil},
		{"0005;ext;e2=v;e3=\"q \\\" t\"\r\nhello\r\n0;last\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n", "hello", nil},
		{"5 ;e\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n", "hello", nil},
		{"0\r\nA: 1\r\nB-C:x \r\n\r\n", "0\r\nA: 1\r\nB-C: x\r\n\r\n", "", nil},
		{"7fffffffffffffff\r\n", "", "", io.ErrUnexpectedEOF},
		{"8000000000000000\r\n", "", "", ErrChunkSizeOverflow},
		{"5\r\nhello\r\n", "", "", io.ErrUnexpectedEOF},
		{"5\r\nhelloXX", "", "", ErrChunkMissingCRLF},
		{"5\r\nhello\rX", "", "", ErrChunkMissingCRLF},
		{"5\r\n", "", "", io.ErrUnexpectedEOF},
		{"g\r\n", "", "", ErrBadChunkSize},
		{"5\rX\n", "", "", ErrBareCR},
		{"5;\r\nhello\r\n", "", "", ErrBadChunkExt},
		{"5;a=\r\nhello\r\n", "", "", ErrBadChunkExt},
		{"5;a=b c\r\nhello\r\n", "", "", ErrBadChunkExt},
		{"5;a=\"b\\\x01\"\r\n", "", "", ErrBadChunkExt},
		{"0\r\nA: 1\n\r\n", "", "", ErrBareLF},
		{"0\r\n\n", "", "", ErrBareLF},
		{"0\r\n\rX", "", "", ErrBareCR},
		{"0\r\nA: \x00\r\n\r\n", "", "", ErrBadHeaderValue},
		{"0\r\nX-Long-Trailer: 0123456789012345678901234567890\r\n\r\n", "0\r\nX-Long-Trailer: 0123456789012345678901234567890\r\n\r\n", "", nil},
		{"0\r\nContent-Length: 5\r\n\r\n", "0\r\nContent-Length: 5\r\n\r\n", "", nil},
		{strings.Repeat("0", 5000) + "\r\n", "", "", ErrChunkLineTooLong},
		{"0\r\nX: " + strings.Repeat("a", DefaultBufSize) + "\r\n\r\n", "", "", ErrTrailerTooLarge},
	}
	for _, c := range cases {
		for _, step := range []int{1, 2, 3, 7, 1 << 20} {
			for _, outCap := range []int{0, 24, 4096} {
				got, _, err := decodeAll(c.in, step, outCap, false)
				if !errors.Is(err, c.err) || (c.err == nil && err != nil) {
					t.Errorf("%.40q step %d cap %d: err %v, want %v", c.in, step, outCap, err, c.err)
					continue
				}
				if c.err == nil && got != c.out {
					t.Errorf("%.40q step %d cap %d: %q, want %q", c.in, step, outCap, got, c.out)
				}
				if c.err != nil {
					continue
				}
				p, _, err := decodeAll(c.in, step, outCap, true)
				if err != nil || p != c.payload {
					t.Errorf("%.40q payload %q %v, want %q", c.in, p, err, c.payload)
				}
			}
		}
	}
}

// The decoder stops exactly at the end of the body: what follows is the
// next pipelined message.
func TestChunkedStopsAtEnd(t *testing.T) {
	in := "3\r\nabc\r\n0\r\nT: v\r\n\r\nGET / HTTP/1.1\r\n"
	var d ChunkedDecoder
	out, n, err := d.Decode(nil, []byte(in))
	if err != io.EOF || !d.Done() {
		t.Fatalf("err %v", err)
	}
	if in[n:] != "GET / HTTP/1.1\r\n" || string(out) != "3\r\nabc\r\n0\r\nT: v\r\n\r\n" {
		t.Fatalf("consumed %d, out %q", n, out)
	}
	// Further calls keep saying EOF and consume nothing.
	if _, n, err := d.Decode(nil, []byte("x")); err != io.EOF || n != 0 {
		t.Fatalf("after end: %d %v", n, err)
	}
	d.Reset()
	if d.Done() {
		t.Fatal("Reset did not restart")
	}
}

// A large chunked body streams through a small window and scratch buffer,
// byte-exact, with nothing buffered whole.
func TestCopyChunkedLarge(t *testing.T) {
	var enc bytes.Buffer
	var payload bytes.Buffer
	for i := 0; i < 300; i++ {
		chunk := bytes.Repeat([]byte{byte('a' + i%26)}, 1+i*37%5000)
		payload.Write(chunk)
		enc.Write(appendHex(nil, int64(len(chunk))))
		enc.WriteString("\r\n")
		enc.Write(chunk)
		enc.WriteString("\r\n")
	}
	enc.WriteString("0\r\n\r\n")
	want := enc.String()
	enc.WriteString("NEXT")
	rd := NewReader(&enc, make([]byte, 1500))
	var out bytes.Buffer
	var dec ChunkedDecoder
	n, err := rd.CopyBody(&out, Framing{Kind: BodyChunked}, &dec, make([]byte, 0, 512))
	if err != nil || n != int64(len(want)) || out.String() != want {
		t.Fatalf("copied %d (%v), equal %v", n, err, out.String() == want)
	}
	if string(rd.Buffered()) != "NEXT" {
		t.Fatalf("left %q", rd.Buffered())
	}
}

func TestCopyBodyLengthAndClose(t *testing.T) {
	src := strings.NewReader("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789GET")
	rd := NewReader(src, make([]byte, 32)) // window smaller than head+body
	var req Request
	if err := rd.ReadRequest(&req, Limits{}); err != ErrHeadTooLarge {
		t.Fatalf("head in 32 bytes: %v", err)
	}
	src.Seek(0, io.SeekStart)
	rd = NewReader(src, make([]byte, 64))
	if err := rd.ReadRequest(&req, Limits{}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	n, err := rd.CopyBody(&out, req.Framing(), nil, nil)
	if err != nil || n != 10 || out.String() != "0123456789" {
		t.Fatalf("%d %v %q", n, err, out.String())
	}
	rest, _ := io.ReadAll(rd)
	if string(rest) != "GET" {
		t.Fatalf("rest %q", rest)
	}

	// Truncated Content-Length body.
	rd = NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"), make([]byte, 64))
	var resp Response
	if err := rd.ReadResponse(&resp, Limits{}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if _, err := rd.CopyBody(&out, resp.Framing(nil), nil, nil); err != ErrTruncatedBody || out.String() != "short" {
		t.Fatalf("truncated: %v %q", err, out.String())
	}

	// Until-close body.
	big := strings.Repeat("x", 10000)
	rd = NewReader(strings.NewReader("HTTP/1.0 200 OK\r\n\r\n"+big), make([]byte, 64))
	if err := rd.ReadResponse(&resp, Limits{}); err != nil {
		t.Fatal(err)
	}
	f := resp.Framing(nil)
	out.Reset()
	if n, err := rd.CopyBody(&out, f, nil, nil); f.Kind != BodyUntilClose || err != nil || n != 10000 || out.String() != big {
		t.Fatalf("until close: %v %d %v", f.Kind, n, err)
	}

	// Truncated chunked body.
	rd = NewReader(strings.NewReader("5\r\nhel"), make([]byte, 64))
	out.Reset()
	var dec ChunkedDecoder
	if _, err := rd.CopyBody(&out, Framing{Kind: BodyChunked}, &dec, make([]byte, 0, 64)); err != ErrTruncatedBody {
		t.Fatalf("truncated chunked: %v", err)
	}
	if _, err := rd.CopyBody(&out, Framing{Kind: BodyTunnel}, nil, nil); err != ErrTunnel {
		t.Fatalf("tunnel: %v", err)
	}
}
