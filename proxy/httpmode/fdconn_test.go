package httpmode

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fdPair returns an FDConn and the *net.TCPConn at the other end of a loopback
// connection.
func fdPair(t *testing.T) (*FDConn, *net.TCPConn) {
	t.Helper()
	ln := listenLoopback(t)
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	fc, err := toFDConn(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fc.Close(); peer.Close() })
	return fc.(*FDConn), peer.(*net.TCPConn)
}

func TestFDConnStaysOutOfPollerWhenNothingWaits(t *testing.T) {
	c, peer := fdPair(t)
	if _, err := peer.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	// The bytes are there: wait until the kernel says so, then read without a poller.
	rc, _ := c.SyscallConn()
	waitFor(t, "bytes readable", func() bool {
		n := 0
		rc.Control(func(fd uintptr) { n = pending(fd) })
		return n == 7
	})
	r := &rawIO{}
	r.bind(rc, false)
	buf := make([]byte, 64)
	n, err := r.read(buf)
	if err != nil || string(buf[:n]) != "request" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	w := &rawIO{}
	w.bind(rc, true)
	if _, err := w.write([]byte("response")); err != nil {
		t.Fatal(err)
	}
	if st := c.state.Load(); st != fdRaw {
		t.Fatalf("state %d after a read of ready bytes and a write: the socket entered the poller", st)
	}
	got := make([]byte, 8)
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(peer, got); err != nil || string(got) != "response" {
		t.Fatalf("peer got %q, %v", got, err)
	}
	// A read that must wait moves it to the poller and gets the bytes sent later.
	go func() {
		// Only once the read found nothing and moved the socket to the poller.
		for deadline := time.Now().Add(5 * time.Second); c.state.Load() != fdPolled && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		peer.Write([]byte("later"))
	}()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err = r.read(buf)
	if err != nil || string(buf[:n]) != "later" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if st := c.state.Load(); st != fdPolled {
		t.Fatalf("state %d after a read that waited, want polled", st)
	}
}

// pending is the number of bytes waiting in fd's receive queue.
func pending(fd uintptr) int {
	n, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	if err != nil {
		return 0
	}
	return n
}

func TestFDConnDeadlines(t *testing.T) {
	for _, polled := range []bool{false, true} {
		c, peer := fdPair(t)
		if polled {
			// A read that waits moves the socket to the poller.
			c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
				t.Fatalf("first read: %v, want a timeout", err)
			}
			if c.state.Load() != fdPolled {
				t.Fatal("not polled after a read that waited")
			}
		}
		// A deadline in the past fails at once, even with bytes ready (as net.Conn).
		peer.Write([]byte("x"))
		c.SetReadDeadline(time.Unix(1, 0))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("polled=%v: read past deadline: %v, want a timeout", polled, err)
		}
		// A future deadline on a read that waits fires in time.
		c.SetReadDeadline(time.Time{})
		if _, err := c.Read(make([]byte, 1)); err != nil {
			t.Fatalf("polled=%v: %v", polled, err)
		}
		start := time.Now()
		c.SetReadDeadline(start.Add(50 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
			t.Fatalf("polled=%v: %v, want a timeout", polled, err)
		}
		if el := time.Since(start); el < 40*time.Millisecond || el > 3*time.Second {
			t.Fatalf("polled=%v: timed out after %v, want about 50ms", polled, el)
		}
		c.SetWriteDeadline(time.Unix(1, 0))
		if _, err := c.Write([]byte("y")); !isTimeout(err) {
			t.Fatalf("polled=%v: write past deadline: %v", polled, err)
		}
	}
}

func TestFDConnCloseWakesBlockedRead(t *testing.T) {
	c, _ := fdPair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		errc <- err
	}()
	waitFor(t, "read parked in the poller", func() bool { return c.state.Load() == fdPolled })
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("blocked read ended with %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the blocked read")
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
}

func TestFDConnRawCloseAndHalfClose(t *testing.T) {
	c, peer := fdPair(t)
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := peer.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("peer after CloseWrite: %d, %v, want EOF", n, err)
	}
	peer.Write([]byte("still readable"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 32)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "still readable" {
		t.Fatalf("read after CloseWrite: %q, %v", buf[:n], err)
	}
	peer.CloseWrite()
	for {
		_, err = c.Read(buf)
		if err != nil {
			break
		}
	}
	if err != io.EOF {
		t.Fatalf("read at end: %v, want io.EOF", err)
	}
	raw := c.state.Load() == fdRaw
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close (raw %v): %v", raw, err)
	}
	if _, err := c.Write(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if err := c.SetDeadline(time.Now()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("deadline after close: %v", err)
	}
}

// spliceN between an FDConn and a *net.TCPConn, both ways, with a slow reader so that
// writes wait for room (the FDConn moves to the poller mid-copy).
func TestSpliceFDConnAndTCPConn(t *testing.T) {
	a, aPeer := fdPair(t) // a: FDConn, aPeer: its TCP peer
	b, bPeer := fdPair(t)
	bt := bPeer                                             // a *net.TCPConn end, spliced to/from a
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, dir := range []string{"fd->tcp", "tcp->fd"} {
		var src, dst net.Conn
		var feed, drain net.Conn
		if dir == "fd->tcp" {
			src, dst, feed, drain = a, bt, aPeer, b
		} else {
			src, dst, feed, drain = bt, a, b, aPeer
		}
		go func() { feed.Write(data) }()
		got := make(chan []byte, 1)
		go func() {
			var buf bytes.Buffer
			drain.SetReadDeadline(time.Now().Add(10 * time.Second))
			p := make([]byte, 4096)
			for buf.Len() < len(data) {
				n, err := drain.Read(p)
				buf.Write(p[:n])
				if err != nil {
					break
				}
				if buf.Len() < 64<<10 {
					time.Sleep(time.Millisecond) // slow start: the writer fills its buffer
				}
			}
			got <- buf.Bytes()
		}()
		src.SetReadDeadline(time.Now().Add(10 * time.Second))
		dst.SetWriteDeadline(time.Now().Add(10 * time.Second))
		n, rerr, werr := spliceN(socketRawConn(dst), socketRawConn(src), int64(len(data)))
		if n != int64(len(data)) || rerr != nil || werr != nil {
			t.Fatalf("%s: spliced %d of %d: read %v, write %v", dir, n, len(data), rerr, werr)
		}
		if g := <-got; !bytes.Equal(g, data) {
			t.Fatalf("%s: the reader got %d bytes, not what was sent", dir, len(g))
		}
	}
	// A source that ends early reports io.EOF with what it moved.
	aPeer.Write([]byte("short"))
	aPeer.CloseWrite()
	a.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, rerr, werr := spliceN(socketRawConn(bt), socketRawConn(a), 100)
	if n != 5 || rerr != io.EOF || werr != nil {
		t.Fatalf("short source: %d, %v, %v; want 5, EOF", n, rerr, werr)
	}
}
