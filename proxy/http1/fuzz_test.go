package http1

import (
	"bytes"
	"testing"
)

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(browserRequest))
	for _, c := range SmugglingCases {
		if len(c.Request) < 2048 {
			f.Add([]byte(c.Request))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var r Request
		n, err := r.Parse(in, Limits{})
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with n=%d", err, n)
			}
			return
		}
		if n > len(in) {
			t.Fatalf("n=%d > len %d", n, len(in))
		}
		out := r.AppendTo(nil)
		fr, ka, ws := r.Framing(), r.KeepAlive(), r.IsWebSocket()
		var r2 Request
		n2, err := r2.Parse(out, Limits{MaxHead: len(out) + 1})
		if err != nil || n2 != len(out) {
			t.Fatalf("serialized head %q does not reparse: %v", out, err)
		}
		if out2 := r2.AppendTo(nil); !bytes.Equal(out, out2) {
			t.Fatalf("unstable:\n%q\n%q", out, out2)
		}
		if r2.Framing() != fr || r2.KeepAlive() != ka || r2.IsWebSocket() != ws {
			t.Fatalf("semantics changed through serialization: %q", out)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"HTTP/1.1 204\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	get := new(Request)
	get.Parse([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), Limits{})
	f.Fuzz(func(t *testing.T, in []byte) {
		var r Response
		n, err := r.Parse(in, Limits{})
		if err != nil {
			return
		}
		if n > len(in) {
			t.Fatalf("n=%d > len %d", n, len(in))
		}
		out := r.AppendTo(nil)
		fr, ka := r.Framing(get), r.KeepAlive(get)
		var r2 Response
		n2, err := r2.Parse(out, Limits{MaxHead: len(out) + 1})
		if err != nil || n2 != len(out) {
			t.Fatalf("serialized head %q does not reparse: %v", out, err)
		}
		if out2 := r2.AppendTo(nil); !bytes.Equal(out, out2) {
			t.Fatalf("unstable:\n%q\n%q", out, out2)
		}
		if r2.Framing(get) != fr || r2.KeepAlive(get) != ka {
			t.Fatalf("semantics changed through serialization: %q", out)
		}
	})
}

func FuzzChunked(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"005;a=\"b\"\r\nhello\r\n0\r\nT: 1\r\n\r\nGET",
		"1\r\na\r\n1\r\nb\r\n0\r\n\r\n",
		"ffffffffffffffffff\r\n",
		"5\nhello\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		var d ChunkedDecoder
		out, n, err := d.Decode(nil, in)
		if n > len(in) {
			t.Fatalf("consumed %d of %d", n, len(in))
		}
		if err != nil && err.Error() != "EOF" {
			return
		}
		// Fed in small steps into a small output buffer: same result.
		s := int(step%16) + 1
		got, m, err2 := decodeAll(string(in), s, 32, false)
		if err == nil {
			// Incomplete body: the stepwise run must not complete either.
			if err2 == nil {
				t.Fatalf("stepwise completed an incomplete body %q", in)
			}
			return
		}
		if err2 != nil || got != string(out) || m != n {
			t.Fatalf("stepwise %q/%d/%v, whole %q/%d", got, m, err2, out, n)
		}
		// The canonical re-encoding is a fixed point.
		var d2 ChunkedDecoder
		out2, n2, err := d2.Decode(nil, out)
		if err == nil || err.Error() != "EOF" || n2 != len(out) || !bytes.Equal(out, out2) {
			t.Fatalf("re-encoding not stable: %q -> %q (%v)", out, out2, err)
		}
	})
}
