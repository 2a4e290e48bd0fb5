package vrrp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"syscall"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"go.uber.org/zap"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"appl/vrrp/packet"
)

// netIO holds the speaker's kernel handles: netlink, link monitoring, raw sockets and
// announcers, all opened in the speaker's namespace.
type netIO struct {
	s      *Speaker
	h      *netlink.Handle
	ns     netns.NsHandle
	hasNS  bool
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	socks  []*ifSocket
	arps   map[int]*arp.Client
	ndps   map[int]*ipv6.PacketConn
	closed bool
	// parents holds the sysctls of interfaces carrying vmacs; Run loop only.
	parents map[string]*parentConf
}

func openNetIO(s *Speaker) (*netIO, error) {
	n := &netIO{s: s, done: make(chan struct{}), arps: map[int]*arp.Client{}, ndps: map[int]*ipv6.PacketConn{}, parents: map[string]*parentConf{}}
	var err error
	if s.opts.Namespace != "" {
		n.ns, err = netns.GetFromName(s.opts.Namespace)
		if err != nil {
			return nil, fmt.Errorf("vrrp: namespace %q: %w", s.opts.Namespace, err)
		}
		n.hasNS = true
		n.h, err = netlink.NewHandleAt(n.ns)
	} else {
		n.h, err = netlink.NewHandle()
	}
	if err != nil {
		return nil, fmt.Errorf("vrrp: netlink: %w", err)
	}
	ch := make(chan netlink.LinkUpdate, 64)
	opt := netlink.LinkSubscribeOptions{ErrorCallback: func(err error) {
		if !n.stopping() {
			s.log.Warn("vrrp: link monitor", zap.Error(err))
		}
	}}
	if n.hasNS {
		opt.Namespace = &n.ns
	}
	if err := netlink.LinkSubscribeWithOptions(ch, n.done, opt); err != nil {
		n.h.Close()
		return nil, fmt.Errorf("vrrp: link monitor: %w", err)
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			select {
			case <-n.done:
				return
			case u, ok := <-ch:
				if !ok {
					return
				}
				// The event only says the link changed: by the time the loop handles
				// it the link may have changed again (a vmac being created and set up
				// emits down then up), so the loop reads the current state.
				name := u.Attrs().Name
				s.post(n.done, func() {
					if _, known := s.links[name]; known {
						s.linkUpdate(name, n.linkUp(name))
					}
				})
			}
		}
	}()
	return n, nil
}

func isUp(flags uint32) bool { return flags&unix.IFF_UP != 0 && flags&unix.IFF_RUNNING != 0 }

func (n *netIO) close() {
	n.mu.Lock()
	n.closed = true
	close(n.done)
	for _, s := range n.socks {
		s.c.Close()
	}
	for _, c := range n.arps {
		c.Close()
	}
	for _, c := range n.ndps {
		c.Close()
	}
	n.mu.Unlock()
	n.wg.Wait()
	n.h.Close()
	if n.hasNS {
		n.ns.Close()
	}
}

// inNS runs fn on a thread inside the speaker's namespace. The thread is never unlocked:
// it exits with its goroutine instead of returning to the pool in the wrong namespace.
func (n *netIO) inNS(fn func() error) error {
	if !n.hasNS {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(n.ns); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func (n *netIO) iface(name string) (*net.Interface, error) {
	var ifi *net.Interface
	err := n.inNS(func() (err error) { ifi, err = net.InterfaceByName(name); return })
	return ifi, err
}

func (n *netIO) linkUp(name string) bool {
	l, err := n.h.LinkByName(name)
	return err == nil && isUp(l.Attrs().RawFlags)
}

// source picks the address adverts are sent from: unicast-src, else the interface's
// primary IPv4 address (not a VIP), or its IPv6 link-local address (RFC 5798 5.1.2.1).
func (n *netIO) source(c *Instance, ifi *net.Interface) (netip.Addr, error) {
	if c.UnicastSrc.IsValid() {
		return c.UnicastSrc, nil
	}
	link, err := n.h.LinkByIndex(ifi.Index)
	if err != nil {
		return netip.Addr{}, err
	}
	fam := netlink.FAMILY_V4
	if c.Family() == 6 {
		fam = netlink.FAMILY_V6
	}
	addrs, err := n.h.AddrList(link, fam)
	if err != nil {
		return netip.Addr{}, err
	}
	vips := addrsOf(c)
	for _, secondaryOK := range []bool{false, true} {
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if contains(vips, ip) || (!secondaryOK && a.Flags&unix.IFA_F_SECONDARY != 0) || a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) != 0 {
				continue
			}
			if fam == netlink.FAMILY_V6 && !ip.IsLinkLocalUnicast() {
				continue
			}
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("interface %s has no IPv%d address to send from (expected a primary address or unicast-src)", ifi.Name, c.Family())
}

func contains(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

type sockKey struct{ ifindex, fam int }

// ifSocket is a raw protocol-112 socket bound to one interface and family.
type ifSocket struct {
	ifindex int
	ifname  string
	fam     int
	c       net.PacketConn
	r4      *ipv4.RawConn
	p6      *ipv6.PacketConn
	hasCARP bool
	own     map[netip.Addr]bool // our source addresses, to ignore looped-back adverts
}

// socket returns the receiving socket of an interface and family, opening it once.
func (n *netIO) socket(ifi *net.Interface, fam int) (*ifSocket, error) {
	if s := n.s.socks[sockKey{ifi.Index, fam}]; s != nil {
		return s, nil
	}
	sock, err := n.openRaw(ifi, fam, true)
	if err != nil {
		return nil, err
	}
	n.s.socks[sockKey{ifi.Index, fam}] = sock
	n.wg.Add(1)
	go n.receive(sock)
	return sock, nil
}

// openRaw opens a protocol-112 socket bound to ifi. A listening socket joins the VRRP
// group; a send-only one (a vmac's) joins nothing and filters out everything, so a
// backup's vmac never reports a group membership from the virtual MAC.
func (n *netIO) openRaw(ifi *net.Interface, fam int, listen bool) (*ifSocket, error) {
	sock := &ifSocket{ifindex: ifi.Index, ifname: ifi.Name, fam: fam, own: map[netip.Addr]bool{}}
	err := n.inNS(func() error {
		network, any := "ip4:112", "0.0.0.0"
		if fam == 6 {
			network, any = "ip6:112", "::"
		}
		c, err := net.ListenPacket(network, any)
		if err != nil {
			return err
		}
		sock.c = c
		if err := bindToDevice(c, ifi.Name); err != nil {
			c.Close()
			return err
		}
		if fam == 4 {
			r, err := ipv4.NewRawConn(c)
			if err == nil {
				err = errors.Join(r.SetMulticastInterface(ifi), r.SetMulticastLoopback(false))
				if listen {
					err = errors.Join(err, r.JoinGroup(ifi, &net.IPAddr{IP: packet.GroupV4.AsSlice()}))
				} else {
					err = errors.Join(err, r.SetBPF(dropAll))
				}
			}
			sock.r4 = r
			return err
		}
		p := ipv6.NewPacketConn(c)
		sock.p6 = p
		err = errors.Join(p.SetMulticastInterface(ifi), p.SetMulticastLoopback(false), p.SetMulticastHopLimit(packet.TTL),
			p.SetHopLimit(packet.TTL))
		if !listen {
			return errors.Join(err, p.SetBPF(dropAll), setFreebind(c))
		}
		return errors.Join(err, p.JoinGroup(ifi, &net.IPAddr{IP: packet.GroupV6.AsSlice()}),
			p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true))
	})
	if err != nil {
		if sock.c != nil {
			sock.c.Close()
		}
		return nil, err
	}
	n.mu.Lock()
	n.socks = append(n.socks, sock)
	n.mu.Unlock()
	return sock, nil
}

// closeSocket closes a send-only socket before the speaker stops (vmac removed).
func (n *netIO) closeSocket(sock *ifSocket) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.socks = slices.DeleteFunc(n.socks, func(x *ifSocket) bool { return x == sock })
	sock.c.Close()
}

func bindToDevice(c net.PacketConn, name string) error {
	return sockopt(c, func(fd int) error { return unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, name) })
}

func sockopt(c net.PacketConn, set func(fd int) error) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return errors.New("not a syscall.Conn")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = set(int(fd)) }); err != nil {
		return err
	}
	return serr
}

func (n *netIO) receive(sock *ifSocket) {
	defer n.wg.Done()
	buf := make([]byte, 65536)
	for {
		var (
			src, dst netip.Addr
			ttl      int
			payload  []byte
		)
		if sock.r4 != nil {
			h, p, _, err := sock.r4.ReadFrom(buf)
			if err != nil {
				if n.stopping() {
					return
				}
				continue
			}
			src, _ = netip.AddrFromSlice(h.Src.To4())
			dst, _ = netip.AddrFromSlice(h.Dst.To4())
			ttl, payload = h.TTL, append([]byte(nil), p...)
		} else {
			nr, cm, from, err := sock.p6.ReadFrom(buf)
			if err != nil {
				if n.stopping() {
					return
				}
				continue
			}
			if ia, ok := from.(*net.IPAddr); ok {
				src, _ = netip.AddrFromSlice(ia.IP)
			}
			if cm != nil {
				ttl = cm.HopLimit
				dst, _ = netip.AddrFromSlice(cm.Dst)
			}
			payload = append([]byte(nil), buf[:nr]...)
		}
		n.s.post(n.done, func() { n.s.packetIn(sock, src, dst, ttl, payload) })
	}
}

func (n *netIO) stopping() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

func (s *ifSocket) send(src, dst netip.Addr, b []byte) error {
	if s.r4 != nil {
		h := &ipv4.Header{Version: ipv4.Version, Len: ipv4.HeaderLen, TOS: 0xc0, TotalLen: ipv4.HeaderLen + len(b),
			TTL: packet.TTL, Protocol: packet.Protocol, Src: src.AsSlice(), Dst: dst.AsSlice()}
		return s.r4.WriteTo(h, b, nil)
	}
	cm := &ipv6.ControlMessage{HopLimit: packet.TTL, Src: src.AsSlice(), IfIndex: s.ifindex}
	// No zone in the destination: Go would resolve its name in the calling thread's
	// namespace, which is not the socket's. The control message's IfIndex scopes it.
	_, err := s.p6.WriteTo(b, cm, &net.IPAddr{IP: dst.AsSlice()})
	return err
}

// VIPs.

func (s *Speaker) vipLink(in *instance, v VIP) (netlink.Link, error) {
	return s.nio.h.LinkByName(in.vipDev(v))
}

func vipAddr(in *instance, v VIP) *netlink.Addr {
	a := &netlink.Addr{IPNet: &net.IPNet{IP: v.Prefix.Addr().AsSlice(), Mask: net.CIDRMask(v.Prefix.Bits(), v.Prefix.Addr().BitLen())}}
	if secs := int(in.cfg.VIPLifetime.Seconds()); secs > 0 {
		a.ValidLft, a.PreferedLft = secs, secs
	}
	if v.Prefix.Addr().Is6() {
		a.Flags |= unix.IFA_F_NODAD
	}
	return a
}

// addVIPs installs (or refreshes the lifetime of) every VIP.
func (s *Speaker) addVIPs(in *instance) {
	in.vipsHeld = true
	for _, v := range in.cfg.Addresses {
		link, err := s.vipLink(in, v)
		if err == nil {
			err = s.nio.h.AddrReplace(link, vipAddr(in, v))
		}
		if err != nil {
			in.cnt.VIPErrors++
			s.warn(in, "vrrp: cannot add VIP", zap.Stringer("vip", v.Prefix), zap.Error(err))
		}
	}
}

func (s *Speaker) removeVIPs(in *instance) {
	in.vipsHeld = false
	for _, v := range in.cfg.Addresses {
		link, err := s.vipLink(in, v)
		if err == nil {
			err = s.nio.h.AddrDel(link, vipAddr(in, v))
		}
		if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) {
			in.cnt.VIPErrors++
			s.warn(in, "vrrp: cannot remove VIP", zap.Stringer("vip", v.Prefix), zap.Error(err))
		}
	}
}

// announce sends gratuitous ARP (IPv4) or unsolicited neighbour advertisements (IPv6)
// for every VIP, garp-repeat times.
func (s *Speaker) announce(in *instance) {
	n := max(in.cfg.GARPRepeat, 1)
	for _, v := range in.cfg.Addresses {
		ifi, err := s.nio.iface(in.vipDev(v))
		if err != nil || len(ifi.HardwareAddr) == 0 {
			continue
		}
		ip := v.Prefix.Addr()
		for range n {
			if ip.Is4() {
				err = s.nio.garp(ifi, ip)
			} else {
				err = s.nio.unsolicitedNA(ifi, ip, in.src)
			}
			if err != nil {
				s.warn(in, "vrrp: announce failed", zap.Stringer("vip", ip), zap.Error(err))
				break
			}
		}
	}
}

func (n *netIO) garp(ifi *net.Interface, ip netip.Addr) error {
	n.mu.Lock()
	c := n.arps[ifi.Index]
	n.mu.Unlock()
	if c == nil {
		if err := n.inNS(func() (err error) { c, err = arp.Dial(ifi); return }); err != nil {
			return err
		}
		n.mu.Lock()
		n.arps[ifi.Index] = c
		n.mu.Unlock()
	}
	// A gratuitous ARP request (sender = target = VIP) updates every neighbour cache
	// that already has the VIP, whatever its locktime (Linux treats it as garp).
	p, err := arp.NewPacket(arp.OperationRequest, ifi.HardwareAddr, ip, ethernet.Broadcast, ip)
	if err != nil {
		return err
	}
	return c.WriteTo(p, ethernet.Broadcast)
}

func (n *netIO) unsolicitedNA(ifi *net.Interface, ip netip.Addr, src netip.Addr) error {
	n.mu.Lock()
	c := n.ndps[ifi.Index]
	n.mu.Unlock()
	if c == nil {
		// A raw ICMPv6 socket of our own rather than ndp.Conn: ndp names the interface
		// as a zone, resolved in the calling thread's namespace, not the socket's.
		err := n.inNS(func() error {
			pc, err := net.ListenPacket("ip6:ipv6-icmp", "::")
			if err != nil {
				return err
			}
			// Freebind: on a vmac the source (the parent's link-local) is not local.
			if err := errors.Join(bindToDevice(pc, ifi.Name), setFreebind(pc)); err != nil {
				pc.Close()
				return err
			}
			c = ipv6.NewPacketConn(pc)
			return nil
		})
		if err != nil {
			return err
		}
		n.mu.Lock()
		n.ndps[ifi.Index] = c
		n.mu.Unlock()
	}
	b, err := ndp.MarshalMessage(&ndp.NeighborAdvertisement{Override: true, TargetAddress: ip,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: ifi.HardwareAddr}}})
	if err != nil {
		return err
	}
	// The kernel fills in the ICMPv6 checksum; NDP requires hop limit 255.
	cm := &ipv6.ControlMessage{HopLimit: 255, Src: src.AsSlice(), IfIndex: ifi.Index}
	_, err = c.WriteTo(b, cm, &net.IPAddr{IP: netip.IPv6LinkLocalAllNodes().AsSlice()})
	return err
}
