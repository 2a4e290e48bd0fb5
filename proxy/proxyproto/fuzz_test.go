package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"testing"
)

func fuzzSeeds(f *testing.F) {
	for _, g := range haproxyGolden {
		b, _ := hex.DecodeString(g.hex)
		f.Add(append(b, "GET /"...))
	}
	local, _ := hex.DecodeString(haproxyLocalV2)
	f.Add(local)
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add([]byte("PROXY TCP6 ::ffff:1.2.3.4 2001:db8::2 1 2\r\nxx"))
	f.Add([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"))
	f.Add(v2(0x21, 0x31, unixBlock("\x00abs", "/x")))
	f.Add(v2(0x21, 0x12, "0a0000010a0000020035d903"+"0100026832"))
	f.Add(v2(0x20, 0x11, "7f0000017f00000200010002"+"04000100"))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
}

// FuzzRead checks, for any input: no panic; Parse and the two stream readers
// agree; a header never claims bytes beyond what it consumed; an accepted
// header re-encodes to bytes that parse to the same header.
func FuzzRead(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		h, n, err := Parse(in)
		if err != nil {
			if h != nil || n != 0 {
				t.Fatalf("error %v with header %+v, n %d", err, h, n)
			}
			if !errors.Is(err, ErrNotProxy) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrLineTooLong) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("unclassified error %v", err)
			}
		} else if n <= 0 || n > len(in) {
			t.Fatalf("n = %d for %d bytes", n, len(in))
		}

		r := bufio.NewReaderSize(&chunkReader{b: in, n: 3}, 128)
		rh, rerr := Read(r)
		checkSame(t, "Read", h, err, rh, rerr)
		if rerr == nil {
			if rest, _ := io.ReadAll(r); !bytes.Equal(rest, in[n:]) {
				t.Fatalf("Read left %q; want %q", rest, in[n:])
			}
		}

		cr := &chunkReader{b: in, n: 2}
		prefix, pn, perr := readHeaderPrefix(cr)
		var fh *Header
		if perr == nil {
			fh, perr = readRest(cr, prefix, pn)
		} else if perr == io.EOF {
			perr = ErrTruncated
		}
		checkSame(t, "fallback", h, err, fh, perr)
		if perr == nil {
			if rest, _ := io.ReadAll(cr); !bytes.Equal(rest, in[n:]) {
				t.Fatalf("fallback left %q; want %q", rest, in[n:])
			}
		}

		if err != nil {
			return
		}
		out, aerr := h.Append(nil)
		if aerr != nil {
			t.Fatalf("Append(%+v): %v", h, aerr)
		}
		h2, n2, err2 := Parse(out)
		if err2 != nil || n2 != len(out) {
			t.Fatalf("re-encoded %x: %v", out, err2)
		}
		if h.Version == 1 && !h.Proxied() {
			return // UNKNOWN drops what followed it on the line
		}
		if h.Command == CommandLocal {
			h.Family, h.Protocol = FamilyUnspec, ProtocolUnspec
		}
		if !reflect.DeepEqual(normTLVs(h), normTLVs(h2)) {
			t.Fatalf("round trip\n %+v\n %+v", h, h2)
		}
	})
}

func checkSame(t *testing.T, what string, h *Header, err error, h2 *Header, err2 error) {
	t.Helper()
	if (err == nil) != (err2 == nil) {
		t.Fatalf("%s: error %v; Parse error %v", what, err2, err)
	}
	if err != nil {
		if errors.Is(err, ErrTruncated) != (errors.Is(err2, ErrTruncated) || err2 == io.EOF) {
			t.Fatalf("%s: error %v; Parse error %v", what, err2, err)
		}
		return
	}
	if !reflect.DeepEqual(h, h2) {
		t.Fatalf("%s: %+v; Parse: %+v", what, h2, h)
	}
}

func normTLVs(h *Header) Header {
	c := *h
	if len(c.TLVs) == 0 {
		c.TLVs = nil
	}
	return c
}
