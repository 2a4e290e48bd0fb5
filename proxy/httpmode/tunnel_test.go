package httpmode

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// wsBackend is a minimal WebSocket echo server: it answers the Upgrade handshake and
// echoes text frames (client frames are masked, its own are not).
func wsBackend(t testing.TB) net.Listener {
	ln := listenLoopback(t)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
					io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
					return
				}
				sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
				io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+
					base64.StdEncoding.EncodeToString(sum[:])+"\r\n\r\n")
				for {
					payload, op, err := readFrame(br)
					if err != nil || op == 8 {
						return
					}
					c.Write(frame(op, payload, false))
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln
}

func frame(op byte, p []byte, mask bool) []byte {
	b := []byte{0x80 | op}
	m := byte(0)
	if mask {
		m = 0x80
	}
	switch {
	case len(p) < 126:
		b = append(b, m|byte(len(p)))
	case len(p) < 65536:
		b = append(b, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(len(p)))
	}
	if !mask {
		return append(b, p...)
	}
	key := [4]byte{1, 2, 3, 4}
	b = append(b, key[:]...)
	for i, c := range p {
		b = append(b, c^key[i%4])
	}
	return b
}

func readFrame(r *bufio.Reader) ([]byte, byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, 0, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(r, e[:]); err != nil {
			return nil, 0, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(r, e[:]); err != nil {
			return nil, 0, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	var key [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return nil, 0, err
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return nil, 0, err
	}
	if masked {
		for i := range p {
			p[i] ^= key[i%4]
		}
	}
	return p, h[0] & 0x0f, nil
}

func TestWebSocketEcho(t *testing.T) {
	ln := wsBackend(t)
	h := newHarness(t, loadConfig(t, oneBackendConfig(ln.Addr().String(), "", "    timeout tunnel 400ms")), "fe", Options{})
	c := dialClient(t, h.addr())
	io.WriteString(c.c, "GET /chat HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Sec-Websocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" ||
		!strings.EqualFold(resp.Header.Get("Connection"), "upgrade") {
		t.Fatalf("handshake: %d %v", resp.StatusCode, resp.Header)
	}
	for _, msg := range []string{"hello", strings.Repeat("x", 300), strings.Repeat("y", 70000)} {
		c.c.Write(frame(1, []byte(msg), true))
		got, op, err := readFrame(c.br)
		if err != nil || op != 1 || string(got) != msg {
			t.Fatalf("echo of %d bytes: %d bytes op %d err %v", len(msg), len(got), op, err)
		}
	}
	// timeout tunnel closes an idle tunnel.
	start := time.Now()
	if !c.closed() {
		t.Fatal("idle tunnel not closed")
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("tunnel closed after %v, before timeout tunnel", el)
	}
	l := h.env.lastLog(t)
	if l.Status != 101 || l.Term[1] != 'D' {
		t.Fatalf("tunnel log %+v", l)
	}
}
