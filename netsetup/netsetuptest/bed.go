package netsetuptest

import (
	"context"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"appl/internal/testbed"
)

// ABC is the bed. Before netsetup runs, B carries its LAN address on the port itself
// (LanIf), as a box does before the bridge of seed 000 exists.
type ABC struct {
	Bed     *testbed.Bed
	A, B, C *testbed.Host
	Switch  *testbed.Switch

	ClientAddr  string // A's address, 198.18.1.2
	BExtAddr    string // B's address facing A, 198.18.1.1
	BLanAddr    string // B's address facing C, 198.18.2.1
	BackendAddr string // C's address, 198.18.2.2
	ExtIf       string // B's interface to A
	LanIf       string // B's interface to the switch (becomes a bridge port)
}

// BuildABC builds A—B—switch—C: A 198.18.1.2/24 default via B; B forwards between
// ext0 198.18.1.1/24 and lan0 198.18.2.1/24; C 198.18.2.2/24 default via B.
func BuildABC(t testing.TB) *ABC {
	t.Helper()
	b := testbed.New(t)
	x := &ABC{Bed: b, A: b.Host("a"), B: b.Host("b"), C: b.Host("c"), Switch: b.Switch("sw"),
		ClientAddr: "198.18.1.2", BExtAddr: "198.18.1.1", BLanAddr: "198.18.2.1", BackendAddr: "198.18.2.2",
		ExtIf: "ext0", LanIf: "lan0"}
	b.Wire(x.A, "eth0", x.B, x.ExtIf)
	x.A.Configure("eth0", x.ClientAddr+"/24")
	x.B.Configure(x.ExtIf, x.BExtAddr+"/24")
	b.Plug(x.B, x.Switch, x.LanIf, x.BLanAddr+"/24")
	b.Plug(x.C, x.Switch, "eth0", x.BackendAddr+"/24")
	x.A.MustRun("ip", "route", "add", "default", "via", x.BExtAddr)
	x.C.MustRun("ip", "route", "add", "default", "via", x.BLanAddr)
	x.B.MustRun("sysctl", "-qw", "net.ipv4.ip_forward=1")
	// No IPv6 DAD on links made later (br0): a tentative flag would make dumps racy.
	x.B.MustRun("sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0")
	for _, k := range []string{"all", "default", x.ExtIf, x.LanIf} {
		x.B.MustRun("sysctl", "-qw", "net.ipv4.conf."+k+".rp_filter=0")
	}
	return x
}

// NetworkConfig is B's `network` section in seed 000's shape: the LAN address moves to a
// bridge over the LAN port, and TCP to the given ports is intercepted (TPROXY).
func (x *ABC) NetworkConfig(ports ...string) string {
	return fmt.Sprintf(`network
    interface %s up address %s/24
    bridge br0 ports %s address %s/24
    tproxy %s
`, x.ExtIf, x.BExtAddr, x.LanIf, x.BLanAddr, strings.Join(ports, " "))
}

// Dump is B's network state as ip(8) and nft(8) print it, for before/after comparisons.
func Dump(t testing.TB, h *testbed.Host) string {
	t.Helper()
	var b strings.Builder
	sorted := func(args ...string) {
		lines := strings.Split(strings.TrimSpace(h.MustRun(args[0], args[1:]...)), "\n")
		sort.Strings(lines)
		fmt.Fprintf(&b, "## %s\n%s\n", strings.Join(args, " "), strings.Join(lines, "\n"))
	}
	sorted("ip", "-o", "link")
	sorted("ip", "-o", "addr")
	sorted("ip", "-4", "route", "show", "table", "all")
	sorted("ip", "-6", "route", "show", "table", "all")
	sorted("ip", "-4", "rule")
	sorted("ip", "-6", "rule")
	fmt.Fprintf(&b, "## nft\n%s", h.MustRun("nft", "list", "ruleset"))
	return b.String()
}

// Backend listens on C at port and answers every connection with "peer=ADDR\n" (the
// address it sees the connection from), then echoes.
func Backend(t testing.TB, h *testbed.Host, port int) {
	t.Helper()
	ln, err := h.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", port))
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
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(c, "peer=%s\n", c.RemoteAddr())
				_, _ = io.Copy(c, c)
			}()
		}
	}()
}

// Relay is a minimal transparent proxy: an IP_TRANSPARENT listener that accepts
// connections TPROXY hands it (whatever their destination) and forwards each one to its
// original destination from the client's own address (IP_TRANSPARENT dialer), the way
// `bind ... transparent` + `source 0.0.0.0 usesrc clientip` do.
type Relay struct {
	accepted atomic.Int64
	mu       sync.Mutex
	seen     []string // "client -> original destination"
}

// Accepted is the number of connections the relay took.
func (r *Relay) Accepted() int64 { return r.accepted.Load() }

// Seen lists "client -> destination" for each accepted connection.
func (r *Relay) Seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

func transparent(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_IP, syscall.IP_TRANSPARENT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// StartRelay runs a relay in host h listening on addr (e.g. "0.0.0.0:5000").
func StartRelay(t testing.TB, h *testbed.Host, addr string) *Relay {
	t.Helper()
	r := &Relay{}
	var ln net.Listener
	err := h.Do(func() (err error) {
		lc := net.ListenConfig{Control: transparent}
		ln, err = lc.Listen(context.Background(), "tcp4", addr)
		return err
	})
	if err != nil {
		t.Fatalf("relay listen %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.accepted.Add(1)
			go r.serve(h, c)
		}
	}()
	return r
}

func (r *Relay) serve(h *testbed.Host, c net.Conn) {
	defer c.Close()
	client := c.RemoteAddr().(*net.TCPAddr)
	dst := c.LocalAddr().(*net.TCPAddr)
	r.mu.Lock()
	r.seen = append(r.seen, fmt.Sprintf("%s -> %s", client.IP, dst))
	r.mu.Unlock()
	var up net.Conn
	err := h.Do(func() (err error) {
		d := net.Dialer{Timeout: 5 * time.Second, Control: transparent, LocalAddr: &net.TCPAddr{IP: client.IP}}
		up, err = d.Dial("tcp4", dst.String())
		return err
	})
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); _ = up.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); _ = c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}

// ClientSees connects from A to addr and returns the first line the backend sends.
func ClientSees(h *testbed.Host, addr string) (string, error) {
	c, err := h.Dial("tcp4", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 128)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(buf[:n])), nil
}
