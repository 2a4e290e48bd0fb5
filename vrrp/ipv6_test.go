package vrrp

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"appl/internal/testbed"
)

// VRRPv3 over IPv6 (ff02::12, link-local sources, pseudo-header checksum, unsolicited
// neighbour advertisements). Addresses are from 2001:2::/48, the IPv6 benchmarking
// block (RFC 5180), inside the test's own namespaces.
func TestIPv6Pair(t *testing.T) {
	p := newPairBed(t)
	const vip6 = "2001:2::100"
	for i, h := range p.n {
		h.MustRun("ip", "addr", "add", []string{"2001:2::1/64", "2001:2::2/64"}[i], "dev", "eth0", "nodad")
	}
	p.client.MustRun("ip", "addr", "add", "2001:2::10/64", "dev", "eth0", "nodad")
	for _, h := range append(p.n[:], p.client) {
		testbed.Eventually(t, 5*time.Second, 10*time.Millisecond, h.Name+" link-local address usable", func() bool {
			out, _ := h.Run("ip", "-6", "addr", "show", "dev", "eth0", "scope", "link")
			return strings.Contains(out, "fe80") && !strings.Contains(out, "tentative")
		})
	}
	w1, w2 := watchAddrs(t, p.n[0], "eth0"), watchAddrs(t, p.n[1], "eth0")
	conf := func(prio int) string {
		return fmt.Sprintf("vrrp V6\n    interface eth0\n    vrid 7\n    version 3\n    advert-int 100ms\n    address %s/64\n    priority %d\n", vip6, prio)
	}
	s2 := startInproc(t, p.n[1], conf(100))
	s1 := startInproc(t, p.n[0], conf(200))
	testbed.Eventually(t, 5*time.Second, 10*time.Millisecond, "n1 IPv6 master", func() bool {
		h1, _ := w1.has(vip6)
		h2, _ := w2.has(vip6)
		return h1 && !h2 && s2.state("V6") == "BACKUP"
	})
	if c := s2.sp.Counters(); c.RxAdverts == 0 || c.BadChecksum != 0 {
		t.Fatalf("backup counters: %+v", c)
	}
	for _, h := range p.n {
		responder6(t, h)
	}
	testbed.Eventually(t, 3*time.Second, 10*time.Millisecond, "client reaches the VIP on n1", func() bool {
		return ask6(t, p.client, vip6) == "n1"
	})
	t0 := time.Now()
	s1.stop(t)
	testbed.Eventually(t, 2*time.Second, 5*time.Millisecond, "n2 takes the IPv6 VIP", func() bool { h, _ := w2.has(vip6); return h })
	t.Logf("IPv6 clean-stop failover: %v", time.Since(t0).Round(time.Millisecond))
	testbed.Eventually(t, 3*time.Second, 10*time.Millisecond, "client reaches the VIP on n2", func() bool {
		return ask6(t, p.client, vip6) == "n2"
	})
	mac := p.n[1].MustRun("cat", "/sys/class/net/eth0/address")
	neigh := p.client.MustRun("ip", "-6", "neigh", "show", vip6)
	if want := strings.TrimSpace(mac); !strings.Contains(neigh, want) {
		t.Fatalf("client's neighbour entry %q does not point to n2 (%s)", neigh, want)
	}
}

func responder6(t *testing.T, h *testbed.Host) {
	c, err := h.ListenPacket("udp6", "[::]:7007")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = c.WriteTo([]byte(h.Name), from)
		}
	}()
}

// ask6 sends one datagram to [ip]:7007 from the client and returns who answered ("" on
// timeout).
func ask6(t *testing.T, client *testbed.Host, ip string) string {
	c, err := client.ListenPacket("udp6", "[2001:2::10]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteTo([]byte("ping"), &net.UDPAddr{IP: net.ParseIP(ip), Port: 7007}); err != nil {
		return ""
	}
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 64)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}
