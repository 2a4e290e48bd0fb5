package proxy

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// TCP keep-alive: `option tcpka` in a frontend (or `option clitcpka`) turns SO_KEEPALIVE on
// for its client sockets, in a backend (or `option srvtcpka`) for its server sockets; a
// listen section is both. The kernel's net.ipv4.tcp_keepalive_* timers apply, as in
// HAProxy without clitcpka-idle/-intvl/-cnt. Without the options the sockets have no
// keep-alive (listeners and dialers turn Go's default off), as in HAProxy.

func (fe *frontend) clientKeepAlive() bool {
	return fe.cfg.Options["tcpka"] || fe.cfg.Options["clitcpka"]
}

func (be *backend) serverKeepAlive() bool {
	return be.cfg.Options["tcpka"] || be.cfg.Options["srvtcpka"]
}

func keepAliveFD(fd int) {
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
}

// keepAliveConn sets SO_KEEPALIVE on c's socket (a *net.TCPConn or an
// httpmode.FDConn: anything with SyscallConn).
func keepAliveConn(c net.Conn) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	if rc, err := sc.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { keepAliveFD(int(fd)) })
	}
}
