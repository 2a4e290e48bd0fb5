package http1

import (
	"crypto/sha256"
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// A request with a 32 MiB body relayed between two loopback TCP connections
// the way the proxy will: head parsed from a small window, re-serialized,
// body copied by CopyBody (splice-capable path), bytes intact.
func TestCopyBodyOverTCP(t *testing.T) {
	const size = 32 << 20
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()

	// Client: send the request and a body of a known pattern.
	sentSum := make(chan []byte, 1)
	go func() {
		sent := sha256.New()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			sentSum <- nil
			return
		}
		defer c.Close()
		io.WriteString(c, "PUT /big HTTP/1.1\r\nHost: a\r\nContent-Length: "+strconv.Itoa(size)+"\r\n\r\n")
		block := make([]byte, 64<<10)
		for i := range block {
			block[i] = byte(i * 7)
		}
		for n := 0; n < size; n += len(block) {
			sent.Write(block)
			if _, err := c.Write(block); err != nil {
				sentSum <- nil
				return
			}
		}
		sentSum <- sent.Sum(nil)
		io.Copy(io.Discard, c) // until the relay closes
	}()
	// Backend: read the head and count the body.
	type result struct {
		head string
		n    int64
		sum  []byte
		err  error
	}
	got := make(chan result, 1)
	go func() {
		c, err := backend.Accept()
		if err != nil {
			got <- result{err: err}
			return
		}
		defer c.Close()
		rd := NewReader(c, make([]byte, 16384))
		var req Request
		if err := rd.ReadRequest(&req, Limits{}); err != nil {
			got <- result{err: err}
			return
		}
		head := string(req.AppendTo(nil))
		h := sha256.New()
		n, err := rd.CopyBody(h, req.Framing(), nil, nil)
		got <- result{head, n, h.Sum(nil), err}
	}()

	cc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	deadline := time.Now().Add(60 * time.Second)
	cc.SetDeadline(deadline)
	sc, err := net.Dial("tcp", backend.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	sc.SetDeadline(deadline)

	rd := NewReader(cc, make([]byte, 16384))
	var req Request
	if err := rd.ReadRequest(&req, Limits{}); err != nil {
		t.Fatal(err)
	}
	req.Add("X-Forwarded-For", "127.0.0.1")
	if _, err := sc.Write(req.AppendTo(nil)); err != nil {
		t.Fatal(err)
	}
	n, err := rd.CopyBody(sc, req.Framing(), nil, nil)
	if err != nil || n != size {
		t.Fatalf("relayed %d: %v", n, err)
	}
	select {
	case r := <-got:
		if r.err != nil || r.n != size {
			t.Fatalf("backend got %d: %v", r.n, r.err)
		}
		if r.head != "PUT /big HTTP/1.1\r\nHost: a\r\nContent-Length: 33554432\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n" {
			t.Fatalf("backend head %q", r.head)
		}
		if string(r.sum) != string(<-sentSum) {
			t.Fatal("body corrupted")
		}
	case <-time.After(time.Until(deadline)):
		t.Fatal("backend did not finish")
	}
}
