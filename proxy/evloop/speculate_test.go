package evloop

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pairBefore is relayed with a step run by the user before the relay starts: what the
// client sent (or how it ended) is then waiting when Start reads first. A nil step:
// nothing waits.
func pairBefore(t *testing.T, addr netip.AddrPort, before func(user *net.TCPConn)) (int, int, *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	uc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	user := uc.(*net.TCPConn)
	t.Cleanup(func() { user.Close() })
	pc, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	cfd, err := Detach(pc)
	if err != nil {
		t.Fatal(err)
	}
	sfd, err := Dial(addr, DialOptions{Timeout: 5 * time.Second})
	if err != nil {
		unix.Close(cfd)
		t.Fatal(err)
	}
	if before == nil {
		return cfd, sfd, user
	}
	before(user)
	// Until the bytes (or the FIN, or the reset) arrived at our end.
	deadline := time.Now().Add(5 * time.Second)
	for {
		pfd := []unix.PollFd{{Fd: int32(cfd), Events: unix.POLLIN}}
		if n, _ := unix.Poll(pfd, 10); n == 1 || time.Now().After(deadline) {
			break
		}
	}
	return cfd, sfd, user
}

// The request the client sent before the relay started reaches the server during Start,
// on the caller's goroutine, before any loop saw the connection.
func TestSpeculateWritesWaitingRequest(t *testing.T) {
	got := make(chan []byte, 1)
	addr := backend(t, func(c net.Conn) {
		b := make([]byte, 64)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _ := c.Read(b)
		got <- b[:n]
		c.Close()
	})
	cfd, sfd, _ := pairBefore(t, addr, func(u *net.TCPConn) { u.Write([]byte("GET / HTTP/1.0\r\n\r\n")) })
	defer unix.Close(cfd)
	defer unix.Close(sfd)
	c := &Conn{fd: [2]int{cfd, sfd}, hidx: -1}
	c.speculate()
	if n := c.bytes[Client].Load(); n != 18 {
		t.Fatalf("speculative read took %d bytes, want 18", n)
	}
	if f := c.flow[Client]; f.buf != nil || c.st.pending[Client] {
		t.Fatalf("bytes left for the loop: %+v pending %v", f, c.st.pending[Client])
	}
	if c.st.interest(Client) != unix.EPOLLIN || c.st.interest(Server) != unix.EPOLLIN {
		t.Fatalf("interest %x/%x after a complete write", c.st.interest(Client), c.st.interest(Server))
	}
	select {
	case b := <-got:
		if string(b) != "GET / HTTP/1.0\r\n\r\n" {
			t.Fatalf("server got %q", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server got nothing")
	}
}

// Nothing waiting: one read, nothing changes.
func TestSpeculateNothingWaiting(t *testing.T) {
	cfd, sfd, _ := pairBefore(t, backend(t, echo), nil)
	defer unix.Close(cfd)
	defer unix.Close(sfd)
	c := &Conn{fd: [2]int{cfd, sfd}, hidx: -1}
	c.speculate()
	if c.bytes[Client].Load() != 0 || c.flow[Client].buf != nil || c.st.shut[Client] || c.cause.Load() != 0 {
		t.Fatalf("state changed without data: %+v", c.st)
	}
}

// A client that sent its request and its FIN before the relay started: both go to the
// server, whose answer still comes back (half-close), and the relay ends normally.
func TestSpeculateRequestAndFin(t *testing.T) {
	addr := backend(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		c.Write([]byte("got " + string(b)))
		c.Close()
	})
	cfd, sfd, user := pairBefore(t, addr, func(u *net.TCPConn) {
		u.Write([]byte("abc"))
		u.CloseWrite()
	})
	res := make(chan Result, 1)
	if _, err := Start(cfd, sfd, Options{Idle: [2]time.Duration{5 * time.Second, 5 * time.Second}}, func(r Result) { res <- r }); err != nil {
		t.Fatal(err)
	}
	user.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(user)
	if err != nil || string(b) != "got abc" {
		t.Fatalf("answer %q, %v", b, err)
	}
	if r := waitResult(t, res); r.Cause != '-' || r.Bytes != [2]int64{3, 7} {
		t.Fatalf("%+v", r)
	}
}

// A client that reset before the relay started ends it with C at once.
func TestSpeculateReset(t *testing.T) {
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	addr := backend(t, func(c net.Conn) { <-hold; c.Close() })
	cfd, sfd, _ := pairBefore(t, addr, func(u *net.TCPConn) {
		u.SetLinger(0)
		u.Close()
	})
	res := make(chan Result, 1)
	if _, err := Start(cfd, sfd, Options{}, func(r Result) { res <- r }); err != nil {
		t.Fatal(err)
	}
	if r := waitResult(t, res); r.Cause != 'C' {
		t.Fatalf("cause %c, want C", r.Cause)
	}
}
