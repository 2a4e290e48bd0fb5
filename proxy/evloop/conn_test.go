package evloop

import (
	"errors"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// backend is a loopback listener; each accepted connection is passed to serve.
func backend(t *testing.T, serve func(c net.Conn)) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

func echo(c net.Conn) {
	io.Copy(c, c)
	c.Close()
}

// relayed returns the user's end of a connection relayed by a loop to the server at
// addr (dialed with Dial), and the channel of the relay's result.
func relayed(t *testing.T, addr netip.AddrPort, opt Options) (net.Conn, *Conn, chan Result) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	user, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
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
	res := make(chan Result, 1)
	c, err := Start(cfd, sfd, opt, func(r Result) { res <- r })
	if err != nil {
		t.Fatal(err)
	}
	return user, c, res
}

func waitResult(t *testing.T, res chan Result) Result {
	t.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("relay did not end")
	}
	return Result{}
}

func TestDialRelayEcho(t *testing.T) {
	user, c, res := relayed(t, backend(t, echo), Options{})
	msg := []byte("hello through the loop")
	for k := 0; k < 3; k++ {
		user.Write(msg)
		got := make([]byte, len(msg))
		user.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(user, got); err != nil || string(got) != string(msg) {
			t.Fatalf("round %d: %q %v", k, got, err)
		}
	}
	if in, out := c.Bytes(); in != 3*int64(len(msg)) || out != in {
		t.Fatalf("bytes %d/%d", in, out)
	}
	user.(*net.TCPConn).CloseWrite()
	// The echo server sees the FIN, closes; the relay ends normally.
	if r := waitResult(t, res); r.Cause != '-' || r.Bytes[Client] != 3*int64(len(msg)) {
		t.Fatalf("%+v", r)
	}
}

func TestDialRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	_, err := Dial(addr, DialOptions{Timeout: time.Second})
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("got %v", err)
	}
}

func TestDialTimeout(t *testing.T) {
	// A listener with a backlog of 0 that never accepts: once its queue is full the
	// kernel drops further SYNs, so a connection attempt hangs.
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(lfd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(lfd)
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port))
	for k := 0; k < 8; k++ {
		start := time.Now()
		fd, err := Dial(addr, DialOptions{Timeout: 200 * time.Millisecond})
		if err == nil {
			defer unix.Close(fd)
			continue
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("attempt %d: %v", k, err)
		}
		if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
			t.Fatalf("timed out after %v", d)
		}
		return
	}
	t.Fatal("no connection attempt hung on the full backlog")
}

func TestKillFromOtherGoroutine(t *testing.T) {
	user, c, res := relayed(t, backend(t, echo), Options{})
	c.Kill('K')
	if r := waitResult(t, res); r.Cause != 'K' {
		t.Fatalf("%+v", r)
	}
	user.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := user.Read(make([]byte, 1)); err == nil {
		t.Fatal("user still connected")
	}
}

func TestServerTimeout(t *testing.T) {
	hold := func(c net.Conn) { io.Copy(io.Discard, c); c.Close() }
	start := time.Now()
	_, _, res := relayed(t, backend(t, hold), Options{Idle: [2]time.Duration{time.Hour, 150 * time.Millisecond}})
	r := waitResult(t, res)
	if r.Cause != 's' || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("%+v after %v", r, time.Since(start))
	}
}

func TestBackpressure(t *testing.T) {
	// The server reads nothing until the client sent 8 MiB: the client direction must
	// wait for the server to become writable, without losing or reordering bytes.
	const total = 8 << 20
	got := make(chan int64, 1)
	slow := func(c net.Conn) {
		time.Sleep(100 * time.Millisecond) // let the socket buffers fill up first
		var n int64
		buf := make([]byte, 64<<10)
		var want byte
		for {
			m, err := c.Read(buf)
			for _, b := range buf[:m] {
				if b != want {
					got <- -1
					c.Close()
					return
				}
				want++
			}
			n += int64(m)
			if err != nil {
				break
			}
		}
		got <- n
		c.Close()
	}
	user, _, res := relayed(t, backend(t, slow), Options{Idle: [2]time.Duration{10 * time.Second, 10 * time.Second}})
	go func() {
		p := make([]byte, total)
		for i := range p {
			p[i] = byte(i)
		}
		user.Write(p)
		user.(*net.TCPConn).CloseWrite()
	}()
	select {
	case n := <-got:
		if n != total {
			t.Fatalf("server got %d bytes in order, want %d", n, total)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("transfer stalled")
	}
	if r := waitResult(t, res); r.Cause != '-' || r.Bytes[Client] != total {
		t.Fatalf("%+v", r)
	}
}

func TestManyConnections(t *testing.T) {
	addr := backend(t, echo)
	before := Active()
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for k := 0; k < n; k++ {
		user, _, res := relayed(t, addr, Options{Idle: [2]time.Duration{10 * time.Second, 10 * time.Second}})
		wg.Add(1)
		go func() {
			defer wg.Done()
			user.SetDeadline(time.Now().Add(10 * time.Second))
			for r := 0; r < 10; r++ {
				if _, err := user.Write([]byte("ping")); err != nil {
					errs <- err
					return
				}
				b := make([]byte, 4)
				if _, err := io.ReadFull(user, b); err != nil || string(b) != "ping" {
					errs <- errors.New("bad echo")
					return
				}
			}
			user.Close()
			if r := waitResult(t, res); r.Bytes[Client] != 40 {
				errs <- errors.New("bad byte count")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if a := Active(); a != before {
		t.Fatalf("%d connections still active (before %d)", a, before)
	}
}

func TestPanicInDoneSparesTheLoop(t *testing.T) {
	addr := backend(t, echo)
	panics := make(chan any, 1)
	// done panics: the loop must survive it, report it, and relay the next connection.
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	user, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer user.Close()
	pc, _ := ln.AcceptTCP()
	cfd, _ := Detach(pc)
	sfd, err := Dial(addr, DialOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Start(cfd, sfd, Options{OnPanic: func(v any) { panics <- v }}, func(Result) { panic("boom") })
	if err != nil {
		t.Fatal(err)
	}
	c.Kill('K')
	select {
	case v := <-panics:
		if v != "boom" {
			t.Fatalf("panic %v", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("panic not reported")
	}
	// Every loop still relays.
	for k := 0; k < 2*len(loops); k++ {
		u, _, res := relayed(t, addr, Options{})
		u.Write([]byte("x"))
		u.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(u, make([]byte, 1)); err != nil {
			t.Fatalf("connection %d after the panic: %v", k, err)
		}
		u.Close()
		waitResult(t, res)
	}
}

func TestDialSourceAndIPv6(t *testing.T) {
	// Source address with a kernel-chosen port (source 127.0.0.2): the backend sees it.
	peers := make(chan netip.AddrPort, 1)
	addr := backend(t, func(c net.Conn) {
		peers <- c.RemoteAddr().(*net.TCPAddr).AddrPort()
		c.Close()
	})
	fd, err := Dial(addr, DialOptions{Local: netip.MustParseAddrPort("127.0.0.2:0"), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	select {
	case p := <-peers:
		if p.Addr().Unmap() != netip.MustParseAddr("127.0.0.2") || p.Port() == 0 {
			t.Fatalf("backend saw %v", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
	}
	// IPv6 loopback, when the host has it.
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer ln.Close()
	fd, err = Dial(ln.Addr().(*net.TCPAddr).AddrPort(), DialOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

func TestMixedEndingsLeakNothing(t *testing.T) {
	addr := backend(t, echo)
	// Warm up: loops, their eventfds and epoll descriptors exist before the baseline.
	u, _, res := relayed(t, addr, Options{})
	u.Close()
	waitResult(t, res)
	fds0, active0 := openFDs(t), Active()
	const n = 60
	results := make(chan Result, n)
	for k := 0; k < n; k++ {
		u, c, res := relayed(t, addr, Options{Idle: [2]time.Duration{5 * time.Second, 5 * time.Second}})
		u.SetDeadline(time.Now().Add(10 * time.Second))
		u.Write([]byte("hi"))
		io.ReadFull(u, make([]byte, 2))
		switch k % 4 {
		case 0: // orderly close
			u.Close()
		case 1: // reset
			u.(*net.TCPConn).SetLinger(0)
			u.Close()
		case 2: // half-close, then read until the server's FIN comes back
			u.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, u)
			u.Close()
		case 3: // administrative kill
			c.Kill('K')
		}
		results <- waitResult(t, res)
	}
	close(results)
	want := map[int]byte{0: '-', 1: 'C', 2: '-', 3: 'K'}
	k := 0
	for r := range results {
		if r.Cause != want[k%4] {
			t.Errorf("connection %d ended with %c, want %c", k, r.Cause, want[k%4])
		}
		k++
	}
	if a := Active(); a != active0 {
		t.Fatalf("active %d, was %d", a, active0)
	}
	// The users' sockets are closed by now except the killed ones' (t.Cleanup): each
	// relay closed its own two.
	deadline := time.Now().Add(5 * time.Second)
	for openFDs(t) > fds0+n/4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := openFDs(t); got > fds0+n/4 {
		t.Fatalf("%d descriptors open, baseline %d (+%d user sockets of killed relays)", got, fds0, n/4)
	}
}

// A connection with a short timeout added to loops that sleep until a far deadline (of
// their other connections) times out on time: add moves the sleeping loop's wake-up
// closer without waking it.
func TestShortTimeoutOnSleepingLoop(t *testing.T) {
	hold := func(c net.Conn) { io.Copy(io.Discard, c); c.Close() }
	addr := backend(t, hold)
	// Long-lived connections until every loop holds one and sleeps until its deadline,
	// ten seconds away (connections go to the loops round robin; other goroutines may
	// take turns in between).
	if err := startLoops(); err != nil {
		t.Fatal(err)
	}
	sleeping := func() bool {
		for _, l := range loops {
			l.mu.Lock()
			su := l.sleepUntil
			l.mu.Unlock()
			if su == 0 || su == math.MaxInt64 {
				return false
			}
		}
		return true
	}
	var long []chan Result
	for deadline := time.Now().Add(5 * time.Second); !sleeping(); {
		if time.Now().After(deadline) {
			t.Fatal("the loops do not sleep with a deadline")
		}
		if len(long) < 4*len(loops) {
			_, _, res := relayed(t, addr, Options{Idle: [2]time.Duration{10 * time.Second, 10 * time.Second}})
			long = append(long, res)
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	_, _, res := relayed(t, addr, Options{Idle: [2]time.Duration{time.Hour, 150 * time.Millisecond}})
	r := waitResult(t, res)
	if d := time.Since(start); r.Cause != 's' || d < 150*time.Millisecond || d > 5*time.Second {
		t.Fatalf("%+v after %v, want s after 150ms", r, d)
	}
	for _, res := range long {
		select {
		case r := <-res:
			t.Fatalf("a long connection ended early: %+v", r)
		default:
		}
	}
}
