package proxyproto

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		done <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-done
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

var bigTLV = v2(0x21, 0x11, "7f0000017f00000200010002"+"e02710"+strings.Repeat("ab", 10000))

func TestReadLeavesStreamIntact(t *testing.T) {
	headers := [][]byte{
		[]byte("PROXY UNKNOWN\r\n"),
		[]byte("PROXY TCP4 127.0.0.2 127.0.0.3 54321 18443\r\n"),
		v2(0x21, 0x11, "7f0000017f00000200010002"),
		bigTLV,
	}
	payload := []byte("GET / HTTP/1.1\r\n\r\n\r\n\r\n\x00\r\nQUIT\nPROXY ")
	for _, hdr := range headers {
		in := append(append([]byte(nil), hdr...), payload...)
		// A 128-byte bufio.Reader makes the 10 kB TLV header larger than
		// the buffer and splits short ones over several fills.
		for _, size := range []int{128, 4096} {
			r := bufio.NewReaderSize(&chunkReader{b: in, n: 7}, size)
			h, err := Read(r)
			if err != nil {
				t.Fatalf("Read(%.20q, size %d): %v", hdr, size, err)
			}
			rest, _ := io.ReadAll(r)
			if !bytes.Equal(rest, payload) {
				t.Fatalf("stream after header = %q", rest)
			}
			want, _, _ := Parse(hdr)
			if h.Version != want.Version || h.Src != want.Src || len(h.TLVs) != len(want.TLVs) {
				t.Fatalf("Read = %+v; Parse = %+v", h, want)
			}
		}
		// The fallback for connections that cannot peek.
		cr := &chunkReader{b: in, n: 5}
		prefix, n, err := readHeaderPrefix(cr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := readRest(cr, prefix, n); err != nil {
			t.Fatal(err)
		}
		if rest, _ := io.ReadAll(cr); !bytes.Equal(rest, payload) {
			t.Fatalf("fallback: stream after header = %q", rest)
		}
	}
}

// chunkReader returns at most n bytes per Read, like a slow network.
type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), c.n, len(c.b))
	copy(p, c.b[:k])
	c.b = c.b[k:]
	return k, nil
}

func TestReadConsumesNothingOnError(t *testing.T) {
	in := "GET / HTTP/1.0\r\n\r\n"
	r := bufio.NewReader(strings.NewReader(in))
	if _, err := Read(r); !errors.Is(err, ErrNotProxy) {
		t.Fatalf("Read = %v; want ErrNotProxy", err)
	}
	if rest, _ := io.ReadAll(r); string(rest) != in {
		t.Fatalf("left %q", rest)
	}
}

func TestReadEndOfInput(t *testing.T) {
	if _, err := Read(bufio.NewReader(strings.NewReader(""))); err != io.EOF {
		t.Fatalf("empty: %v; want io.EOF", err)
	}
	_, err := Read(bufio.NewReader(strings.NewReader("PROXY TCP4 1.2")))
	if !errors.Is(err, ErrTruncated) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("partial: %v; want ErrTruncated", err)
	}
	_, err = Read(bufio.NewReader(bytes.NewReader(bigTLV[:5000])))
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("partial v2: %v; want ErrTruncated", err)
	}
}

// A server-speaks-first protocol: the client sends only the 15-byte header
// and waits. Read must return without waiting for a 16th byte.
func TestReadShortHeaderDoesNotWaitForMore(t *testing.T) {
	c, s := tcpPair(t)
	if _, err := c.Write([]byte("PROXY UNKNOWN\r\n")); err != nil {
		t.Fatal(err)
	}
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := Read(bufio.NewReader(s)); err != nil {
		t.Fatalf("Read: %v", err)
	}
	c2, s2 := tcpPair(t)
	if _, err := c2.Write([]byte("PROXY UNKNOWN\r\n")); err != nil {
		t.Fatal(err)
	}
	s2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := ReadConn(s2); err != nil {
		t.Fatalf("ReadConn: %v", err)
	}
}

func TestReadConnTCP(t *testing.T) {
	payload := []byte("\r\n\r\n\x00\r\nQUIT\nPROXY TCP4 and more")
	for _, hdr := range [][]byte{
		[]byte("PROXY TCP6 ::1 ::1 54323 18445\r\n"),
		v2(0x21, 0x11, "7f0000017f00000200010002"),
		bigTLV,
	} {
		c, s := tcpPair(t)
		in := append(append([]byte(nil), hdr...), payload...)
		go func() {
			// Several writes so that the server peeks partial headers
			// (TCP_NODELAY is Go's default). The pauses only spread the
			// arrivals; the assertions hold for any arrival pattern.
			i := 0
			for ; i < min(64, len(in)-9); i += 9 {
				c.Write(in[i : i+9])
				time.Sleep(time.Millisecond)
			}
			c.Write(in[i:])
			c.CloseWrite()
		}()
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		h, err := ReadConn(s)
		if err != nil {
			t.Fatalf("ReadConn(%.20q): %v", hdr, err)
		}
		want, _, _ := Parse(hdr)
		if h.Src != want.Src || h.Dst != want.Dst || len(h.TLVs) != len(want.TLVs) {
			t.Fatalf("ReadConn = %+v; want %+v", h, want)
		}
		rest, err := io.ReadAll(s)
		if err != nil || !bytes.Equal(rest, payload) {
			t.Fatalf("stream after header = %q, %v", rest, err)
		}
	}
}

func TestReadConnRefusesGarbageAtOnce(t *testing.T) {
	c, s := tcpPair(t)
	// The client sends a request and then waits for an answer: the error
	// must come from the bytes, not from the 10 s deadline.
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\n")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.SetReadDeadline(start.Add(10 * time.Second))
	if _, err := ReadConn(s); !errors.Is(err, ErrNotProxy) {
		t.Fatalf("ReadConn = %v; want ErrNotProxy", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("garbage refused only after %v", d)
	}
	// Nothing was consumed: the bytes are still there for a caller that
	// wants to log or answer them.
	buf := make([]byte, 3)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "GET" {
		t.Fatalf("after refusal read %q, %v", buf, err)
	}
}

func TestReadConnDeadline(t *testing.T) {
	c, s := tcpPair(t)
	if _, err := c.Write([]byte("PROXY TCP4 1.2")); err != nil {
		t.Fatal(err)
	}
	s.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := ReadConn(s); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("stalled header: %v; want deadline exceeded", err)
	}
	_, s2 := tcpPair(t) // silent client
	s2.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := ReadConn(s2); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("silent client: %v; want deadline exceeded", err)
	}
}

func TestReadConnEnd(t *testing.T) {
	c, s := tcpPair(t)
	c.Write([]byte("\r\n\r\n\x00\r\nQU"))
	c.Close()
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := ReadConn(s); !errors.Is(err, ErrTruncated) {
		t.Fatalf("truncated: %v", err)
	}
	c2, s2 := tcpPair(t)
	c2.Close()
	s2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := ReadConn(s2); err != io.EOF {
		t.Fatalf("closed at once: %v; want io.EOF", err)
	}
	// v2 body cut short after the length is known.
	c3, s3 := tcpPair(t)
	c3.Write(bigTLV[:300])
	c3.Close()
	s3.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := ReadConn(s3); !errors.Is(err, ErrTruncated) {
		t.Fatalf("truncated v2 body: %v", err)
	}
}

func TestReadConnPipe(t *testing.T) {
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	go func() {
		c.Write([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nrest"))
		c.Close()
	}()
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, err := ReadConn(s)
	if err != nil || h.Src.String() != "1.2.3.4:1" {
		t.Fatalf("ReadConn = %+v, %v", h, err)
	}
	if rest, _ := io.ReadAll(s); string(rest) != "rest" {
		t.Fatalf("rest = %q", rest)
	}
}
