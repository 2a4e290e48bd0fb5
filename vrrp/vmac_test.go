package vrrp

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"appl/internal/testbed"
)

// neighWatch samples the client's neighbour entry for the VIP every 10 ms (what `ip
// neigh` prints) and counts every link-layer address it held.
type neighWatch struct {
	h       *netlink.Handle
	ifindex int
	ip      net.IP
	mu      sync.Mutex
	seen    map[string]int
	last    string
	stop    chan struct{}
	wg      sync.WaitGroup
}

func watchNeigh(t *testing.T, host *testbed.Host, ifname, ip string) *neighWatch {
	t.Helper()
	ns, err := netns.GetFromName(host.NS)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nh.Close)
	link, err := nh.LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	w := &neighWatch{h: nh, ifindex: link.Attrs().Index, ip: net.ParseIP(ip), seen: map[string]int{}, stop: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tk.C:
			}
			if mac := w.read(); mac != "" {
				w.mu.Lock()
				w.seen[mac]++
				w.last = mac
				w.mu.Unlock()
			}
		}
	}()
	t.Cleanup(w.end)
	return w
}

func (w *neighWatch) read() string {
	ns, err := w.h.NeighList(w.ifindex, netlink.FAMILY_V4)
	if err != nil {
		return ""
	}
	for _, n := range ns {
		if n.IP.Equal(w.ip) && len(n.HardwareAddr) > 0 {
			return n.HardwareAddr.String()
		}
	}
	return ""
}

func (w *neighWatch) current() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

func (w *neighWatch) end() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
}

func (w *neighWatch) summary() (map[string]int, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.seen {
		n += c
	}
	return maps.Clone(w.seen), n
}

// wireWatch captures every frame the client's interface receives and records the
// source MAC of VRRP adverts and of ARP packets naming the VIP as sender.
type wireWatch struct {
	c       *packet.Conn
	vip     net.IP
	mu      sync.Mutex
	adverts map[string]int            // Ethernet source of protocol-112 packets
	vipARP  map[string]int            // "request|reply eth=SRC sha=SENDER" for ARP with sender IP = VIP
	garps   int                       // gratuitous ARP requests (sender = target = VIP)
	bySrc   map[string]map[string]int // Ethernet source -> kind of frame -> count
	wg      sync.WaitGroup
}

func watchWire(t *testing.T, host *testbed.Host, ifname, vipStr string) *wireWatch {
	t.Helper()
	w := &wireWatch{vip: net.ParseIP(vipStr).To4(), adverts: map[string]int{}, vipARP: map[string]int{}, bySrc: map[string]map[string]int{}}
	err := host.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		w.c, err = packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, _, err := w.c.ReadFrom(buf)
			if err != nil {
				return
			}
			w.frame(buf[:n])
		}
	}()
	t.Cleanup(w.end)
	return w
}

func (w *wireWatch) frame(b []byte) {
	if len(b) < 14 {
		return
	}
	src := net.HardwareAddr(b[6:12]).String()
	kind := fmt.Sprintf("ethertype %#04x", binary.BigEndian.Uint16(b[12:14]))
	switch binary.BigEndian.Uint16(b[12:14]) {
	case unix.ETH_P_ARP:
		kind = "arp"
	case unix.ETH_P_IPV6:
		kind = "ipv6"
		if len(b) >= 14+40 {
			switch b[14+6] {
			case 112:
				kind = "vrrp6"
			case 58:
				kind = "icmpv6"
			case 0:
				kind = "ipv6 hop-by-hop (MLD)"
			}
		}
	case unix.ETH_P_IP:
		kind = "ipv4"
		if len(b) >= 14+20 {
			switch b[14+9] {
			case 112:
				kind = "vrrp"
			case 2:
				kind = "igmp"
			default:
				kind = fmt.Sprintf("ipv4 proto %d", b[14+9])
			}
		}
	}
	w.mu.Lock()
	if w.bySrc[src] == nil {
		w.bySrc[src] = map[string]int{}
	}
	w.bySrc[src][kind]++
	w.mu.Unlock()
	switch binary.BigEndian.Uint16(b[12:14]) {
	case unix.ETH_P_IP:
		if len(b) >= 14+20 && b[14+9] == 112 {
			w.mu.Lock()
			w.adverts[src]++
			w.mu.Unlock()
		}
	case unix.ETH_P_ARP:
		a := b[14:]
		if len(a) < 28 || binary.BigEndian.Uint16(a[0:2]) != 1 || a[4] != 6 || a[5] != 4 {
			return
		}
		sha, spa, tpa := net.HardwareAddr(a[8:14]).String(), net.IP(a[14:18]), net.IP(a[24:28])
		if !spa.Equal(w.vip) {
			return
		}
		op := "request"
		if binary.BigEndian.Uint16(a[6:8]) == 2 {
			op = "reply"
		}
		w.mu.Lock()
		w.vipARP[fmt.Sprintf("%s eth=%s sha=%s", op, src, sha)]++
		if op == "request" && tpa.Equal(w.vip) {
			w.garps++
		}
		w.mu.Unlock()
	}
}

func (w *wireWatch) end() {
	w.c.Close()
	w.wg.Wait()
}

func (w *wireWatch) snapshot() (adverts, vipARP map[string]int, garps int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.adverts), maps.Clone(w.vipARP), w.garps
}

// from returns the kinds of frames seen from one Ethernet source.
func (w *wireWatch) from(mac string) map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.bySrc[mac])
}

func sysctlValue(t *testing.T, h *testbed.Host, path string) string {
	t.Helper()
	return strings.TrimSpace(h.MustRun("cat", "/proc/sys/net/"+path))
}

// checkVMAC asserts the macvlan exists on eth0 with the virtual MAC, in bridge mode, up,
// with keepalived's sysctls on it and its parent.
func checkVMAC(t *testing.T, h *testbed.Host, name, mac string) {
	t.Helper()
	ns, err := netns.GetFromName(h.NS)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	l, err := nh.LinkByName(name)
	if err != nil {
		t.Fatalf("%s: no %s: %v", h.Name, name, err)
	}
	parent, err := nh.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	mv, ok := l.(*netlink.Macvlan)
	switch {
	case !ok:
		t.Errorf("%s: %s is a %s, not a macvlan", h.Name, name, l.Type())
	case mv.Mode != netlink.MACVLAN_MODE_BRIDGE:
		t.Errorf("%s: %s mode %v, want bridge", h.Name, name, mv.Mode)
	case mv.HardwareAddr.String() != mac:
		t.Errorf("%s: %s MAC %s, want %s", h.Name, name, mv.HardwareAddr, mac)
	case mv.ParentIndex != parent.Attrs().Index:
		t.Errorf("%s: %s parent index %d, want eth0's %d", h.Name, name, mv.ParentIndex, parent.Attrs().Index)
	case mv.Flags&net.FlagUp == 0:
		t.Errorf("%s: %s is down", h.Name, name)
	}
	want := map[string]string{
		"ipv4/conf/" + name + "/arp_ignore": "1", "ipv4/conf/" + name + "/accept_local": "1",
		"ipv4/conf/" + name + "/rp_filter": "0", "ipv4/conf/" + name + "/promote_secondaries": "1",
		"ipv6/conf/" + name + "/disable_ipv6": "1",
		"ipv4/conf/eth0/arp_ignore":           "1", "ipv4/conf/eth0/arp_filter": "1", "ipv4/conf/eth0/arp_announce": "2",
	}
	for k, v := range want {
		if got := sysctlValue(t, h, k); got != v {
			t.Errorf("%s: %s = %s, want %s", h.Name, k, got, v)
		}
	}
}

func linkExists(h *testbed.Host, name string) bool {
	_, err := h.Run("ip", "link", "show", "dev", name)
	return err == nil
}

// Two appl nodes with use-vmac, VRRPv3 at 100 ms, and a client polling the VIP. The
// client's neighbour entry for the VIP is the virtual MAC before and after every
// failover (SIGKILL, preempt back after restart, clean stop): the point of the vmac is
// that no ARP cache changes. Every advert and every ARP naming the VIP on the wire
// carries the virtual MAC. The macvlan replaces a stale one left by a SIGKILL, and a
// clean stop removes it and restores the parent's sysctls.
func TestVMACFailover(t *testing.T) {
	p := newPairBed(t)
	fig := &figures{t: t}
	defer fig.print()
	const vm = "vrrp.51"
	mac := vmacAddr(4, 51).String()
	conf := func(prio int) string { return vrrpConf("VI", prio, "version 3", "advert-int 100ms", "use-vmac") }
	parentKeys := []string{"ipv4/conf/eth0/arp_ignore", "ipv4/conf/eth0/arp_filter", "ipv4/conf/eth0/arp_announce"}
	var before []string
	for _, k := range parentKeys {
		before = append(before, sysctlValue(t, p.n[1], k))
	}
	v1, v2 := watchAddrsByName(t, p.n[0], vm), watchAddrsByName(t, p.n[1], vm)
	e1, e2 := watchAddrs(t, p.n[0], "eth0"), watchAddrs(t, p.n[1], "eth0")
	onParent := func() bool { a, _ := e1.has(vip); b, _ := e2.has(vip); return a || b }
	dual := sampleDual(t, v1, v2, vip)
	wire := watchWire(t, p.client, "eth0", vip)

	s2 := startInproc(t, p.n[1], conf(100))
	c1 := p.startChild(p.n[0], conf(200))
	testbed.Eventually(t, 5*time.Second, 10*time.Millisecond, "n1 master on its vmac", func() bool {
		h, _ := v1.has(vip)
		return h && s2.state("VI") == "BACKUP"
	})
	checkVMAC(t, p.n[0], vm, mac)
	checkVMAC(t, p.n[1], vm, mac)
	if st := s2.sp.Status(); len(st) != 1 || st[0].VMAC != vm {
		t.Errorf("status VMAC: %+v", st)
	}
	if h, _ := v2.has(vip); h {
		t.Error("the backup's vmac holds the VIP")
	}
	if onParent() {
		t.Error("a VIP is on a parent interface with use-vmac")
	}

	cl := pollVIP(t, p.client, vip)
	cl.waitServed(t, "n1", time.Now(), 2*time.Second)
	nw := watchNeigh(t, p.client, "eth0", vip)
	testbed.Eventually(t, 2*time.Second, 10*time.Millisecond, "client neighbour entry for the VIP", func() bool { return nw.current() != "" })
	if got := nw.current(); got != mac {
		t.Fatalf("client's neighbour entry for the VIP before failover: %s, want the virtual MAC %s", got, mac)
	}
	fig.add("before failover: client's `ip neigh` for %s: %s (the virtual MAC)", vip, nw.current())

	// SIGKILL of the master. Its VIP stays on its vmac until the lifetime runs out or
	// it restarts: dual samples in this phase are that, reported, not failures.
	dual.setPhase("sigkill")
	t0 := time.Now()
	c1.Kill()
	d := cl.waitServed(t, "n2", t0, 3*time.Second)
	fig.add("SIGKILL of master, VRRPv3 100ms, use-vmac: client served by backup after %v", d.Round(time.Millisecond))
	if d > time.Second {
		t.Errorf("vmac failover %v over the 1s target", d)
	}
	if got := nw.current(); got != mac {
		t.Errorf("client's neighbour entry after SIGKILL failover: %s, want %s", got, mac)
	}
	if !linkExists(p.n[0], vm) {
		t.Fatal("the SIGKILLed node's macvlan is gone; the stale-macvlan case is not exercised")
	}

	// Restart: the stale macvlan is replaced and the higher node preempts back.
	c1 = p.startChild(p.n[0], conf(200))
	t0 = time.Now()
	testbed.Eventually(t, 5*time.Second, 5*time.Millisecond, "restarted node removes the stale macvlan", func() bool {
		return strings.Contains(c1.Output.String(), "removed stale macvlan")
	})
	dual.setPhase("preempt")
	d = cl.waitServed(t, "n1", t0, 5*time.Second)
	fig.add("restart over a stale macvlan: higher node serves the VIP again after %v", d.Round(time.Millisecond))
	testbed.Eventually(t, time.Second, 5*time.Millisecond, "n2 releases", func() bool { h, _ := v2.has(vip); return !h })
	checkVMAC(t, p.n[0], vm, mac)
	if got := nw.current(); got != mac {
		t.Errorf("client's neighbour entry after preempt: %s, want %s", got, mac)
	}

	// Clean stop (priority 0): the macvlan goes with the process.
	dual.setPhase("clean stop")
	t0 = time.Now()
	if err := c1.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d = cl.waitServed(t, "n2", t0, 3*time.Second)
	fig.add("clean stop (priority 0), use-vmac: client served by backup after %v", d.Round(time.Millisecond))
	if _, ok := c1.Wait(5 * time.Second); !ok {
		t.Fatal("child did not stop on SIGTERM")
	}
	if linkExists(p.n[0], vm) {
		t.Error("cleanly stopped node left its macvlan")
	}
	if got := nw.current(); got != mac {
		t.Errorf("client's neighbour entry after clean-stop failover: %s, want %s", got, mac)
	}
	if onParent() {
		t.Error("a VIP is on a parent interface with use-vmac")
	}

	// The last node stops: its macvlan goes and eth0's ARP sysctls are as before.
	s2.stop(t)
	if linkExists(p.n[1], vm) {
		t.Error("in-process speaker left its macvlan after a clean stop")
	}
	for i, k := range parentKeys {
		if got := sysctlValue(t, p.n[1], k); got != before[i] {
			t.Errorf("n2 %s = %s after stop, want the original %s", k, got, before[i])
		}
	}

	dual.end()
	nw.end()
	seen, samples := nw.summary()
	fig.add("client neighbour entry for the VIP over the whole test: %v (%d samples at 10 ms)", seen, samples)
	if len(seen) != 1 || seen[mac] == 0 {
		t.Errorf("client's neighbour entry held %v, want only %s", seen, mac)
	}
	adverts, vipARP, garps := wire.snapshot()
	fig.add("adverts on the wire by Ethernet source: %v", adverts)
	fig.add("ARP naming the VIP as sender: %v (%d gratuitous)", vipARP, garps)
	if len(adverts) != 1 || adverts[mac] == 0 {
		t.Errorf("adverts came from %v, want only the virtual MAC %s", adverts, mac)
	}
	if garps == 0 {
		t.Error("no gratuitous ARP seen")
	}
	kinds := wire.from(mac)
	fig.add("frames from the virtual MAC by kind: %v", kinds)
	for k := range kinds {
		if k != "vrrp" && k != "arp" {
			t.Errorf("the virtual MAC sent %s frames (%d); only adverts and ARP expected", k, kinds[k])
		}
	}
	for k := range vipARP {
		if !strings.Contains(k, "eth="+mac+" sha="+mac) {
			t.Errorf("ARP naming the VIP from another MAC: %s", k)
		}
	}
	killed := dual.inPhase("sigkill")
	fig.add("dual-master samples: %d of %d, %d of them while the SIGKILLed master's VIP had not expired", dual.dual.Load(), dual.samples.Load(), killed)
	if n := dual.dual.Load() - int64(killed); n != 0 {
		t.Errorf("%d dual-master samples outside the SIGKILL phase", n)
	}
}

// appl with use-vmac and a real keepalived with use_vmac in one group, VRRPv3 at 100 ms:
// both put the VIP behind the same virtual MAC, so the client's neighbour entry never
// changes whichever of them is master.
func TestVMACKeepalived(t *testing.T) {
	requireKeepalived(t)
	p := newPairBed(t)
	fig := &figures{t: t}
	defer fig.print()
	const vm = "vrrp.51"
	mac := vmacAddr(4, 51).String()
	appl := func(prio int) string { return vrrpConf("VI", prio, "version 3", "advert-int 100ms", "use-vmac") }
	kaVMAC := func(prio int) string { return kaConf(prio, 3, "0.1", "use_vmac") }
	v1, v2 := watchAddrsByName(t, p.n[0], vm), watchAddrsByName(t, p.n[1], vm)
	has := func(w *addrWatch) bool { h, _ := w.has(vip); return h }
	dual := sampleDual(t, v1, v2, vip)
	wire := watchWire(t, p.client, "eth0", vip)
	// On keepalived's own interface: what its node sends, including what a bridge with
	// IGMP snooping would not flood to the client (reports).
	kaWire := watchWire(t, p.n[1], "eth0", vip)
	parentMAC := func(h *testbed.Host) string {
		for _, f := range strings.Fields(h.MustRun("ip", "-o", "link", "show", "dev", "eth0")) {
			if hw, err := net.ParseMAC(f); err == nil && len(hw) == 6 && f != "ff:ff:ff:ff:ff:ff" {
				return hw.String()
			}
		}
		t.Fatalf("%s: no eth0 MAC", h.Name)
		return ""
	}
	applMAC, kaMAC := parentMAC(p.n[0]), parentMAC(p.n[1])

	// Role 1: appl master (n1, 200), keepalived backup (n2, 100).
	ka := p.startKeepalived(p.n[1], kaVMAC(100))
	a := startInproc(t, p.n[0], appl(200))
	testbed.Eventually(t, 5*time.Second, 10*time.Millisecond, "appl master, keepalived backup", func() bool {
		return a.state("VI") == "MASTER" && has(v1) && !has(v2) && strings.Contains(ka.output(), "Entering BACKUP STATE")
	})
	checkVMAC(t, p.n[0], vm, mac)
	kaLink := strings.Fields(p.n[1].MustRun("ip", "-d", "-o", "link", "show", "dev", vm))
	if i := slices.Index(kaLink, "macvlan"); i > 0 && i+2 < len(kaLink) && kaLink[i+1] == "mode" {
		fig.add("keepalived's %s: macvlan mode %s (appl's: bridge)", vm, kaLink[i+2])
	}
	cl := pollVIP(t, p.client, vip)
	cl.waitServed(t, "n1", time.Now(), 2*time.Second)
	nw := watchNeigh(t, p.client, "eth0", vip)
	testbed.Eventually(t, 2*time.Second, 10*time.Millisecond, "client neighbour entry", func() bool { return nw.current() != "" })
	if got := nw.current(); got != mac {
		t.Fatalf("client's neighbour entry for the VIP: %s, want %s", got, mac)
	}

	t0 := time.Now()
	a.stop(t)
	d := cl.waitServed(t, "n2", t0, 3*time.Second)
	fig.add("appl master stopped cleanly -> keepalived (use_vmac) serves after %v", d.Round(time.Millisecond))
	if d > time.Second {
		t.Errorf("failover to keepalived took %v", d)
	}
	if linkExists(p.n[0], vm) {
		t.Error("stopped appl left its macvlan")
	}
	// keepalived master: not asserted here (see the summary below).
	t0 = time.Now()
	a = startInproc(t, p.n[0], appl(200))
	d = cl.waitServed(t, "n1", t0, 3*time.Second)
	testbed.Eventually(t, time.Second, 5*time.Millisecond, "keepalived releases", func() bool { return !has(v2) })
	fig.add("appl (200) restarted, preempted keepalived (100): serves after %v", d.Round(time.Millisecond))
	// keepalived (no arp_announce=2) may have left its parent MAC in the client's entry;
	// appl's gratuitous ARPs from the virtual MAC must put the vmac back.
	testbed.Eventually(t, 2*time.Second, 10*time.Millisecond, "client neighbour entry back to "+mac+" after appl preempted", func() bool { return nw.current() == mac })
	a.stop(t)
	ka.stop()
	testbed.Eventually(t, 3*time.Second, 10*time.Millisecond, "all VIPs released", func() bool { return !has(v1) && !has(v2) })

	// Role 2: keepalived master (n2, 200), appl backup (n1, 100).
	ka = p.startKeepalived(p.n[1], kaVMAC(200))
	testbed.Eventually(t, 5*time.Second, 10*time.Millisecond, "keepalived master alone", func() bool { return has(v2) })
	a = startInproc(t, p.n[0], appl(100))
	testbed.Eventually(t, 3*time.Second, 10*time.Millisecond, "appl backup", func() bool { return a.state("VI") == "BACKUP" })
	cl.waitServed(t, "n2", time.Now(), 2*time.Second)
	t0 = time.Now()
	ka.stop()
	d = cl.waitServed(t, "n1", t0, 3*time.Second)
	fig.add("keepalived (use_vmac) master stopped cleanly -> appl serves after %v", d.Round(time.Millisecond))
	if d > time.Second {
		t.Errorf("failover to appl took %v", d)
	}
	if got := nw.current(); got != mac {
		t.Errorf("client's neighbour entry after keepalived stopped: %s, want %s", got, mac)
	}
	a.stop(t)

	dual.end()
	nw.end()
	seen, samples := nw.summary()
	fig.add("client neighbour entry for the VIP over the whole test: %v (%d samples); appl's eth0 is %s, keepalived's %s", seen, samples, applMAC, kaMAC)
	if seen[mac] == 0 || seen[applMAC] != 0 {
		t.Errorf("client's neighbour entry held %v: want the virtual MAC %s and never appl's parent MAC %s", seen, mac, applMAC)
	}
	if n := seen[kaMAC]; n > 0 {
		// keepalived leaves the parent's arp_announce at 0: its answer from the VIP
		// goes out eth0, whose ARP request names the VIP with eth0's MAC.
		fig.add("while keepalived was master the client's entry held keepalived's parent MAC for %d samples (keepalived does not set arp_announce=2; appl does)", n)
	}
	adverts, vipARP, garps := wire.snapshot()
	fig.add("adverts by Ethernet source: %v; ARP naming the VIP: %v (%d gratuitous)", adverts, vipARP, garps)
	if len(adverts) != 1 || adverts[mac] == 0 {
		t.Errorf("adverts came from %v, want only %s", adverts, mac)
	}
	fig.add("frames from the virtual MAC by kind, at the client: %v; on keepalived's eth0 (both directions): %v", wire.from(mac), kaWire.from(mac))
	fig.add("dual-master samples: %d of %d", dual.dual.Load(), dual.samples.Load())
	if dual.dual.Load() != 0 {
		t.Errorf("%d dual-master samples", dual.dual.Load())
	}
	if c := a.sp.Counters(); c.BadChecksum+c.BadLength+c.BadVersion+c.AddressMismatch+c.IntervalMismatch != 0 {
		t.Errorf("appl dropped or flagged keepalived adverts: %+v", c)
	}
}

// IPv6 with use-vmac: the macvlan carries 00:00:5e:00:02:VRID and no link-local address,
// adverts and neighbour advertisements leave from it with the parent's link-local as
// source, and the client's neighbour entry for the VIP stays the virtual MAC across a
// clean-stop failover.
func TestVMACIPv6(t *testing.T) {
	p := newPairBed(t)
	fig := &figures{t: t}
	defer fig.print()
	const vip6, vm = "2001:2::100", "vrrp6.7"
	mac := vmacAddr(6, 7).String()
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
	wire := watchWire(t, p.client, "eth0", vip)
	v1, v2 := watchAddrsByName(t, p.n[0], vm), watchAddrsByName(t, p.n[1], vm)
	conf := func(prio int) string {
		return fmt.Sprintf("vrrp V6\n    interface eth0\n    vrid 7\n    version 3\n    advert-int 100ms\n    address %s/64\n    priority %d\n    use-vmac\n", vip6, prio)
	}
	s2 := startInproc(t, p.n[1], conf(100))
	s1 := startInproc(t, p.n[0], conf(200))
	testbed.Eventually(t, 5*time.Second, 10*time.Millisecond, "n1 IPv6 master on its vmac", func() bool {
		h1, _ := v1.has(vip6)
		h2, _ := v2.has(vip6)
		return h1 && !h2 && s2.state("V6") == "BACKUP"
	})
	for _, h := range p.n {
		if out := h.MustRun("ip", "-6", "addr", "show", "dev", vm, "scope", "link"); strings.Contains(out, "fe80") {
			t.Errorf("%s: %s has a link-local address: %s", h.Name, vm, out)
		}
		if got := h.MustRun("cat", "/sys/class/net/"+vm+"/address"); strings.TrimSpace(got) != mac {
			t.Errorf("%s: %s MAC %s, want %s", h.Name, vm, got, mac)
		}
	}
	if c := s2.sp.Counters(); c.RxAdverts == 0 || c.BadChecksum != 0 {
		t.Fatalf("backup counters: %+v", c)
	}
	for _, h := range p.n {
		responder6(t, h)
	}
	testbed.Eventually(t, 3*time.Second, 10*time.Millisecond, "client reaches the VIP on n1", func() bool {
		return ask6(t, p.client, vip6) == "n1"
	})
	neigh := func() string { return p.client.MustRun("ip", "-6", "neigh", "show", vip6) }
	if n := neigh(); !strings.Contains(n, mac) {
		t.Fatalf("client's neighbour entry before failover %q, want %s", n, mac)
	}
	t0 := time.Now()
	s1.stop(t)
	testbed.Eventually(t, 3*time.Second, 5*time.Millisecond, "client reaches the VIP on n2", func() bool {
		return ask6(t, p.client, vip6) == "n2"
	})
	fig.add("IPv6 use-vmac clean stop: client reaches the VIP on the backup after %v (one probe every <=200 ms)", time.Since(t0).Round(time.Millisecond))
	if n := neigh(); !strings.Contains(n, mac) {
		t.Errorf("client's neighbour entry after failover %q, want %s", n, mac)
	}
	if linkExists(p.n[0], vm) {
		t.Error("stopped node left its macvlan")
	}
	kinds := wire.from(mac)
	fig.add("IPv6: frames from the virtual MAC by kind: %v; client's neighbour entry: %s", kinds, strings.TrimSpace(neigh()))
	if kinds["vrrp6"] == 0 || kinds["icmpv6"] == 0 {
		t.Errorf("expected adverts and neighbour advertisements from %s, saw %v", mac, kinds)
	}
}

// vmac-xmit-base sends adverts from the parent (its own MAC) while GARP and the VIPs stay
// on the vmac; a reload that turns use-vmac off removes the macvlan, restores the
// parent's sysctls and puts the VIP back on the parent, and turning it on again
// recreates the macvlan.
func TestVMACXmitBaseAndReload(t *testing.T) {
	p := newPairBed(t)
	fig := &figures{t: t}
	defer fig.print()
	const vm = "vrrp.51"
	mac := vmacAddr(4, 51).String()
	parentMAC := strings.TrimSpace(p.n[0].MustRun("cat", "/sys/class/net/eth0/address"))
	arpIgnore := sysctlValue(t, p.n[0], "ipv4/conf/eth0/arp_ignore")
	conf := func(prio int, extra ...string) string {
		return vrrpConf("VI", prio, append([]string{"version 3", "advert-int 100ms"}, extra...)...)
	}
	v1, e1 := watchAddrsByName(t, p.n[0], vm), watchAddrs(t, p.n[0], "eth0")
	has := func(w *addrWatch) bool { h, _ := w.has(vip); return h }
	wire := watchWire(t, p.client, "eth0", vip)
	startInproc(t, p.n[1], conf(100, "use-vmac", "vmac-xmit-base"))
	s1 := startInproc(t, p.n[0], conf(200, "use-vmac", "vmac-xmit-base"))
	testbed.Eventually(t, 5*time.Second, 10*time.Millisecond, "n1 master on its vmac", func() bool { return has(v1) && s1.state("VI") == "MASTER" })
	cl := pollVIP(t, p.client, vip)
	cl.waitServed(t, "n1", time.Now(), 2*time.Second)
	nw := watchNeigh(t, p.client, "eth0", vip)
	testbed.Eventually(t, 2*time.Second, 10*time.Millisecond, "client neighbour entry is the virtual MAC", func() bool { return nw.current() == mac })
	testbed.Eventually(t, 2*time.Second, 10*time.Millisecond, "3 adverts from n1 seen", func() bool {
		a, _, _ := wire.snapshot()
		return a[parentMAC] >= 3
	})
	adverts, vipARP, _ := wire.snapshot()
	fig.add("vmac-xmit-base: adverts by Ethernet source %v (n1's eth0 is %s); ARP naming the VIP %v", adverts, parentMAC, vipARP)
	if adverts[parentMAC] == 0 || adverts[mac] != 0 {
		t.Errorf("with vmac-xmit-base adverts came from %v, want n1's eth0 %s only", adverts, parentMAC)
	}
	for k := range vipARP {
		if !strings.Contains(k, "eth="+mac) {
			t.Errorf("ARP naming the VIP from another MAC: %s", k)
		}
	}

	reload := func(text string) {
		t.Helper()
		cfg, err := decodeString(t, text)
		if err != nil {
			t.Fatal(err)
		}
		if err := s1.sp.Reload(cfg); err != nil {
			t.Fatal(err)
		}
	}
	reload(conf(200))
	testbed.Eventually(t, 3*time.Second, 5*time.Millisecond, "n1 master again, VIP on eth0", func() bool { return has(e1) && s1.state("VI") == "MASTER" })
	if linkExists(p.n[0], vm) {
		t.Error("reload without use-vmac left the macvlan")
	}
	if got := sysctlValue(t, p.n[0], "ipv4/conf/eth0/arp_ignore"); got != arpIgnore {
		t.Errorf("eth0 arp_ignore %s after the vmac went, want the original %s", got, arpIgnore)
	}
	if st := s1.sp.Status(); st[0].VMAC != "" {
		t.Errorf("status still names a vmac: %+v", st[0])
	}
	reload(conf(200, "use-vmac"))
	testbed.Eventually(t, 3*time.Second, 5*time.Millisecond, "VIP back on a new vmac", func() bool { return has(v1) && !has(e1) && s1.state("VI") == "MASTER" })
	checkVMAC(t, p.n[0], vm, mac)
	cl.waitServed(t, "n1", time.Now(), 2*time.Second)
	testbed.Eventually(t, 2*time.Second, 10*time.Millisecond, "client neighbour entry back to the virtual MAC", func() bool { return nw.current() == mac })
}

// A link that already has the vmac's name but is not a macvlan is never removed: Run
// fails with an error naming it, and the parent's sysctls are left as they were.
func TestVMACRefusesForeignLink(t *testing.T) {
	p := newPairBed(t)
	h := p.n[0]
	h.MustRun("ip", "link", "add", "vrrp.51", "type", "veth", "peer", "name", "x51")
	before := sysctlValue(t, h, "ipv4/conf/eth0/arp_ignore")
	cfg, err := decodeString(t, vrrpConf("VI", 100, "use-vmac"))
	if err != nil {
		t.Fatal(err)
	}
	sp, err := New(cfg, nil, Options{Namespace: h.NS})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = sp.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), `"vrrp.51" exists and is a veth, not a macvlan`) {
		t.Fatalf("Run: %v, want a refusal naming the veth", err)
	}
	if !linkExists(h, "vrrp.51") {
		t.Fatal("the foreign link was removed")
	}
	if got := sysctlValue(t, h, "ipv4/conf/eth0/arp_ignore"); got != before {
		t.Errorf("eth0 arp_ignore %s, want %s untouched", got, before)
	}
}
