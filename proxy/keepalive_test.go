package proxy

import (
	"bufio"
	"net"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// socketKeepAlive finds, among this process's descriptors, the TCP socket from local
// to peer (the proxy runs in the test process) and reports its SO_KEEPALIVE.
func socketKeepAlive(t *testing.T, local, peer netip.AddrPort) bool {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		la, err1 := unix.Getsockname(fd)
		pa, err2 := unix.Getpeername(fd)
		if err1 != nil || err2 != nil {
			continue
		}
		if sockaddrAddrPort(la) != local || (peer.IsValid() && sockaddrAddrPort(pa) != peer) {
			continue
		}
		v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
		if err != nil {
			t.Fatal(err)
		}
		return v == 1
	}
	t.Fatalf("no socket %v -> %v in this process", local, peer)
	return false
}

// socketTo is socketKeepAlive for the socket whose peer is peer (the proxy's server side).
func socketTo(t *testing.T, peer netip.AddrPort) bool {
	t.Helper()
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pa, err := unix.Getpeername(fd); err == nil && sockaddrAddrPort(pa) == peer {
			v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
			if err != nil {
				t.Fatal(err)
			}
			return v == 1
		}
	}
	t.Fatalf("no socket to %v in this process", peer)
	return false
}

func sockaddrAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port))
	}
	return netip.AddrPort{}
}

// option tcpka (both sides in a listen), clitcpka (frontend) and srvtcpka (backend)
// turn SO_KEEPALIVE on for the proxy's sockets, in tcp and http mode; without them
// it stays off, as in HAProxy.
func TestTCPKeepAliveOptions(t *testing.T) {
	for _, tc := range []struct {
		name, mode, opts string
		cli, srv         bool
	}{
		{"tcp none", "tcp", "", false, false},
		{"tcp tcpka", "tcp", "option tcpka", true, true},
		{"tcp clitcpka", "tcp", "option clitcpka", true, false},
		{"tcp srvtcpka", "tcp", "option srvtcpka", false, true},
		{"http none", "http", "", false, false},
		{"http tcpka", "http", "option tcpka", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			back := rawHTTPBackend(t, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
			front := freeAddr(t)
			startProxy(t, loadCfg(t, `
defaults
    mode `+tc.mode+`
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen l
    bind `+front+`
    `+tc.opts+`
    server s1 `+back+`
`))
			c, err := net.Dial("tcp", front)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || line != "HTTP/1.1 200 OK\r\n" {
				t.Fatalf("answer %q %v", line, err)
			}
			// Both proxy sockets exist while the client holds its keep-alive connection.
			cli := socketKeepAlive(t, netip.MustParseAddrPort(front), netip.MustParseAddrPort(c.LocalAddr().String()))
			srv := socketTo(t, netip.MustParseAddrPort(back))
			if cli != tc.cli || srv != tc.srv {
				t.Fatalf("SO_KEEPALIVE client side %v server side %v, want %v %v", cli, srv, tc.cli, tc.srv)
			}
		})
	}
}
