package vrrp

// Virtual MAC (keepalived's use_vmac): the VIPs live on a macvlan whose address is the
// virtual router MAC of RFC 5798 7.3, so a failover moves the MAC with the address and
// no neighbour's ARP/ND cache has to change.
//
// Why bridge mode where keepalived uses private: in private mode the kernel hands a
// frame whose source MAC is a local macvlan's MAC (the peer master's adverts, sent from
// the same virtual MAC) to that macvlan only, so keepalived listens on the macvlan and
// joins 224.0.0.18 there. In bridge mode those frames also reach the parent, so appl
// keeps its one receiving socket per interface on the parent, and a backup's macvlan
// (no address, no link-local, no group) sends nothing that could pull the switch's
// forwarding entry for the virtual MAC away from the master.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// vmacAddr is the virtual router MAC: 00:00:5e:00:01:VRID (IPv4), 00:00:5e:00:02:VRID (IPv6).
func vmacAddr(fam, vrid int) net.HardwareAddr {
	kind := byte(0x01)
	if fam == 6 {
		kind = 0x02
	}
	return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, kind, byte(vrid)}
}

// parentARP are the parent interface's sysctls while it carries a vmac, as keepalived
// sets them (arp_ignore, arp_filter) plus arp_announce: the parent must neither answer
// ARP for a VIP with its own MAC (arp_ignore=1) nor solicit with a VIP as sender when a
// reply from the VIP leaves through it (arp_announce=2), either of which would teach
// neighbours the parent's MAC for the VIP.
var parentARP = [][2]string{{"arp_ignore", "1"}, {"arp_filter", "1"}, {"arp_announce", "2"}}

// parentConf is a parent's sysctls from before its first vmac, restored after its last.
type parentConf struct {
	refs  int
	saved [][2]string
}

func ipv4Conf(ifname, key string) string { return filepath.Join("ipv4/conf", ifname, key) }

// sysctls reads (val == "") or writes each /proc/sys/net key inside the speaker's
// namespace; /proc/sys/net shows the namespace of the thread that opens it.
func (n *netIO) sysctls(kvs [][2]string) ([]string, error) {
	out := make([]string, len(kvs))
	err := n.inNS(func() error {
		var errs []error
		for i, kv := range kvs {
			path := filepath.Join("/proc/sys/net", kv[0])
			if kv[1] == "" {
				b, err := os.ReadFile(path)
				out[i] = strings.TrimSpace(string(b))
				errs = append(errs, err)
				continue
			}
			errs = append(errs, os.WriteFile(path, []byte(kv[1]), 0o644))
		}
		return errors.Join(errs...)
	})
	return out, err
}

// holdParent sets the parent's ARP sysctls, saving the old values on first use.
func (n *netIO) holdParent(parent string) error {
	if p := n.parents[parent]; p != nil {
		p.refs++
		return nil
	}
	read := [][2]string{{ipv4Conf("all", "rp_filter"), ""}}
	for _, kv := range parentARP {
		read = append(read, [2]string{ipv4Conf(parent, kv[0]), ""})
	}
	vals, err := n.sysctls(read)
	if err != nil {
		return fmt.Errorf("use-vmac: reading %s's ARP settings: %w", parent, err)
	}
	if vals[0] == "1" {
		// The kernel applies max(all, interface): strict reverse-path filtering drops
		// client traffic on the vmac, whose reverse route leaves through the parent.
		n.s.log.Warn("vrrp: net.ipv4.conf.all.rp_filter=1 (strict) drops traffic to the VIPs on a vmac; set it to 0 or 2 (loose)")
	}
	p := &parentConf{refs: 1}
	var set [][2]string
	for i, kv := range parentARP {
		p.saved = append(p.saved, [2]string{ipv4Conf(parent, kv[0]), vals[i+1]})
		set = append(set, [2]string{ipv4Conf(parent, kv[0]), kv[1]})
	}
	if _, err := n.sysctls(set); err != nil {
		_, _ = n.sysctls(p.saved)
		return fmt.Errorf("use-vmac: setting %s's ARP settings: %w", parent, err)
	}
	n.parents[parent] = p
	return nil
}

func (n *netIO) releaseParent(parent string) {
	p := n.parents[parent]
	if p == nil {
		return
	}
	if p.refs--; p.refs > 0 {
		return
	}
	delete(n.parents, parent)
	if _, err := n.sysctls(p.saved); err != nil && !errors.Is(err, os.ErrNotExist) {
		n.s.log.Warn("vrrp: cannot restore ARP settings", zap.String("interface", parent), zap.Error(err))
	}
}

// createVMAC replaces any macvlan named c.VMACName with a fresh one on c.Interface that
// carries the virtual MAC, configured as keepalived configures its vmac interfaces, up.
func (n *netIO) createVMAC(c *Instance) (*net.Interface, error) {
	parent, err := n.h.LinkByName(c.Interface)
	if err != nil {
		return nil, fmt.Errorf("interface %q: %w", c.Interface, err)
	}
	if old, err := n.h.LinkByName(c.VMACName); err == nil {
		if old.Type() != "macvlan" {
			return nil, fmt.Errorf("use-vmac: %q exists and is a %s, not a macvlan; appl leaves it alone (expected another `use-vmac IFNAME`)", c.VMACName, old.Type())
		}
		// Left by a crash: its MAC, parent or settings may be stale.
		if err := n.h.LinkDel(old); err != nil {
			return nil, fmt.Errorf("use-vmac: removing stale macvlan %q: %w", c.VMACName, err)
		}
		n.s.log.Info("vrrp: removed stale macvlan", zap.String("instance", c.Name), zap.String("vmac", c.VMACName))
	}
	if err := n.holdParent(c.Interface); err != nil {
		return nil, err
	}
	mv := &netlink.Macvlan{
		LinkAttrs: netlink.LinkAttrs{Name: c.VMACName, ParentIndex: parent.Attrs().Index, HardwareAddr: vmacAddr(c.Family(), c.VRID)},
		Mode:      netlink.MACVLAN_MODE_BRIDGE,
	}
	if err := n.h.LinkAdd(mv); err != nil {
		n.releaseParent(c.Interface)
		return nil, fmt.Errorf("use-vmac: creating macvlan %q on %s: %w", c.VMACName, c.Interface, err)
	}
	ifi, err := n.configureVMAC(c)
	if err != nil {
		n.deleteVMAC(c, nil)
		return nil, fmt.Errorf("use-vmac: %s: %w", c.VMACName, err)
	}
	return ifi, nil
}

func (n *netIO) configureVMAC(c *Instance) (*net.Interface, error) {
	link, err := n.h.LinkByName(c.VMACName)
	if err != nil {
		return nil, err
	}
	// No IPv6 link-local from the shared MAC: both nodes would own the same address
	// and a backup would send DAD, router solicitations and MLD from the virtual MAC.
	if err := n.h.LinkSetIP6AddrGenMode(link, 1 /* IN6_ADDR_GEN_MODE_NONE */); err != nil {
		return nil, fmt.Errorf("addrgenmode none: %w", err)
	}
	// keepalived's vmac settings: answer ARP only for the VIPs on the vmac, accept
	// packets from local sources, no reverse-path filter (the reverse route of a
	// client is through the parent), keep the other VIPs when the first one goes.
	set := [][2]string{
		{ipv4Conf(c.VMACName, "arp_ignore"), "1"},
		{ipv4Conf(c.VMACName, "accept_local"), "1"},
		{ipv4Conf(c.VMACName, "rp_filter"), "0"},
		{ipv4Conf(c.VMACName, "promote_secondaries"), "1"},
	}
	if c.Family() == 4 {
		set = append(set, [2]string{filepath.Join("ipv6/conf", c.VMACName, "disable_ipv6"), "1"})
	}
	if _, err := n.sysctls(set); err != nil {
		return nil, err
	}
	if err := n.h.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("link up: %w", err)
	}
	return n.iface(c.VMACName)
}

// deleteVMAC removes the instance's macvlan (never another kind of link) and restores
// the parent's settings after its last vmac.
func (n *netIO) deleteVMAC(c *Instance, ifi *net.Interface) {
	if ifi != nil {
		n.forgetAnnouncers(ifi.Index)
	}
	if l, err := n.h.LinkByName(c.VMACName); err == nil && l.Type() == "macvlan" {
		if err := n.h.LinkDel(l); err != nil {
			n.s.log.Warn("vrrp: cannot remove macvlan", zap.String("vmac", c.VMACName), zap.Error(err))
		}
	}
	n.releaseParent(c.Interface)
}

// forgetAnnouncers closes the GARP/NA sockets of a deleted interface.
func (n *netIO) forgetAnnouncers(ifindex int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c := n.arps[ifindex]; c != nil {
		c.Close()
		delete(n.arps, ifindex)
	}
	if c := n.ndps[ifindex]; c != nil {
		c.Close()
		delete(n.ndps, ifindex)
	}
}

// dropAll is a socket filter accepting nothing, for send-only sockets.
var dropAll = func() []bpf.RawInstruction {
	raw, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	if err != nil {
		panic(err) // a constant program
	}
	return raw
}()

// setFreebind lets an IPv6 socket on a vmac send from the parent's link-local address,
// which the vmac does not carry (it has no link-local on purpose, see configureVMAC).
func setFreebind(c net.PacketConn) error {
	return sockopt(c, func(fd int) error { return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_FREEBIND, 1) })
}

// vipDev is the interface a VIP goes on: its own dev, else the vmac, else the instance's.
func (in *instance) vipDev(v VIP) string {
	switch {
	case v.Dev != "" && v.Dev != in.cfg.Interface:
		return v.Dev
	case in.vmac != nil:
		return in.vmac.Name
	}
	return in.cfg.Interface
}

// openVMAC creates the instance's macvlan and, unless vmac-xmit-base, the socket its
// adverts leave from (so they carry the virtual MAC, as keepalived's do).
func (s *Speaker) openVMAC(in *instance) error {
	c := in.cfg
	ifi, err := s.nio.createVMAC(c)
	if err != nil {
		return err
	}
	in.vmac = ifi
	if !c.VMACXmitBase {
		tx, err := s.nio.openRaw(ifi, c.Family(), false)
		if err != nil {
			s.dropVMAC(in)
			return fmt.Errorf("use-vmac: socket on %s: %w", ifi.Name, err)
		}
		in.tx = tx
	}
	s.links[ifi.Name] = s.nio.linkUp(ifi.Name)
	s.log.Info("vrrp: vmac ready", zap.String("instance", c.Name), zap.String("vmac", ifi.Name),
		zap.Stringer("mac", ifi.HardwareAddr), zap.String("parent", c.Interface), zap.Bool("xmit_base", c.VMACXmitBase))
	return nil
}

// dropVMAC closes the instance's vmac socket and removes its macvlan.
func (s *Speaker) dropVMAC(in *instance) {
	if in.vmac == nil {
		return
	}
	if in.tx != in.sock {
		s.nio.closeSocket(in.tx)
		in.tx = in.sock
	}
	s.nio.deleteVMAC(in.cfg, in.vmac)
	delete(s.links, in.vmac.Name)
	in.vmac = nil
}
