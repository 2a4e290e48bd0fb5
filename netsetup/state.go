package netsetup

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// LinkState is what netsetup reads and restores of a link.
type LinkState struct {
	Name   string
	Index  int
	Kind   string // "bridge", "veth", "device", ...
	Master string // "" when not enslaved
	MTU    int
	Up     bool // administratively up
}

// AddrState is one address on a link.
type AddrState struct {
	Link      string
	Prefix    netip.Prefix
	Permanent bool // valid_lft forever; VIPs with a lifetime are never touched
	raw       netlink.Addr
}

// managed reports whether netsetup may remove the address: permanent, and not IPv6
// link-local (the kernel owns those).
func (a AddrState) managed() bool {
	return a.Permanent && !a.Prefix.Addr().IsLinkLocalUnicast()
}

// State is a snapshot of a namespace's network configuration as far as netsetup cares.
type State struct {
	Links  []LinkState
	Addrs  []AddrState
	Routes []netlink.Route
	Rules  []netlink.Rule
	NFT    *NFTState // nil: netsetup's table does not exist
	names  map[int]string
}

// NFTState is the content of netsetup's own nftables table.
type NFTState struct {
	Table  *nftables.Table
	Chains []*nftables.Chain
	Rules  map[string][]*nftables.Rule // by chain name
}

// Link returns the named link or nil.
func (st *State) Link(name string) *LinkState {
	for i := range st.Links {
		if st.Links[i].Name == name {
			return &st.Links[i]
		}
	}
	return nil
}

// AddrsOf returns the addresses of a link.
func (st *State) AddrsOf(name string) []AddrState {
	var out []AddrState
	for _, a := range st.Addrs {
		if a.Link == name {
			out = append(out, a)
		}
	}
	return out
}

// Read snapshots the namespace: all links, addresses, routes of every table, policy rules
// (IPv4 and IPv6), and the nftables table named table (family inet).
func (s *System) Read(table string) (*State, error) {
	st := &State{names: map[int]string{}}
	links, err := s.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("netsetup: list links: %w", err)
	}
	for _, l := range links {
		a := l.Attrs()
		st.names[a.Index] = a.Name
	}
	for _, l := range links {
		a := l.Attrs()
		st.Links = append(st.Links, LinkState{
			Name: a.Name, Index: a.Index, Kind: l.Type(), Master: st.names[a.MasterIndex],
			MTU: a.MTU, Up: a.Flags&net.FlagUp != 0,
		})
	}
	addrs, err := s.nl.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("netsetup: list addresses: %w", err)
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		st.Addrs = append(st.Addrs, AddrState{
			Link: st.names[a.LinkIndex], Prefix: netip.PrefixFrom(ip.Unmap(), ones),
			Permanent: a.ValidLft == 0 || uint32(a.ValidLft) == 0xffffffff || a.Flags&unix.IFA_F_PERMANENT != 0,
			raw:       a,
		})
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rs, err := s.nl.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return nil, fmt.Errorf("netsetup: list routes: %w", err)
		}
		st.Routes = append(st.Routes, rs...)
		rules, err := s.nl.RuleList(fam)
		if err != nil {
			return nil, fmt.Errorf("netsetup: list rules: %w", err)
		}
		st.Rules = append(st.Rules, rules...)
	}
	nft, err := s.readNFT(table)
	if err != nil {
		return nil, err
	}
	st.NFT = nft
	return st, nil
}

func (s *System) readNFT(name string) (*NFTState, error) {
	tables, err := s.nft.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("netsetup: list nftables tables: %w", err)
	}
	var t *nftables.Table
	for _, x := range tables {
		if x.Name == name {
			t = x
		}
	}
	if t == nil {
		return nil, nil
	}
	chains, err := s.nft.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("netsetup: list nftables chains: %w", err)
	}
	ns := &NFTState{Table: t, Rules: map[string][]*nftables.Rule{}}
	for _, c := range chains {
		if c.Table == nil || c.Table.Name != name {
			continue
		}
		c.Table = t
		ns.Chains = append(ns.Chains, c)
		rules, err := s.nft.GetRules(t, c)
		if err != nil {
			return nil, fmt.Errorf("netsetup: list rules of chain %s: %w", c.Name, err)
		}
		ns.Rules[c.Name] = rules
	}
	sort.Slice(ns.Chains, func(i, j int) bool { return ns.Chains[i].Name < ns.Chains[j].Name })
	return ns, nil
}

// routeKey identifies a route for comparisons, with the device by name.
func routeKey(r netlink.Route, names map[int]string) string {
	dst := "default"
	if r.Dst != nil {
		dst = r.Dst.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "fam=%d table=%d type=%d dst=%s", r.Family, r.Table, r.Type, dst)
	if r.Gw != nil {
		fmt.Fprintf(&b, " via=%s", r.Gw)
	}
	if r.LinkIndex != 0 {
		fmt.Fprintf(&b, " dev=%s", names[r.LinkIndex])
	}
	if r.Src != nil {
		fmt.Fprintf(&b, " src=%s", r.Src)
	}
	fmt.Fprintf(&b, " metric=%d tos=%d scope=%d proto=%d", r.Priority, r.Tos, r.Scope, r.Protocol)
	for _, nh := range r.MultiPath {
		fmt.Fprintf(&b, " nh=%s/%s/%d", nh.Gw, names[nh.LinkIndex], nh.Hops)
	}
	return b.String()
}

// ruleKey identifies a policy rule for comparisons.
func ruleKey(r netlink.Rule) string {
	mask := uint32(0)
	if r.Mask != nil {
		mask = *r.Mask
	}
	if r.Mark != 0 && r.Mask == nil {
		mask = 0xffffffff
	}
	var b strings.Builder
	fmt.Fprintf(&b, "fam=%d prio=%d table=%d mark=%#x/%#x type=%d", r.Family, r.Priority, r.Table, r.Mark, mask, r.Type)
	if r.Src != nil {
		fmt.Fprintf(&b, " from=%s", r.Src)
	}
	if r.Dst != nil {
		fmt.Fprintf(&b, " to=%s", r.Dst)
	}
	if r.IifName != "" || r.OifName != "" {
		fmt.Fprintf(&b, " iif=%s oif=%s", r.IifName, r.OifName)
	}
	if r.Tos != 0 || r.Goto > 0 || r.Invert || r.IPProto != 0 {
		fmt.Fprintf(&b, " tos=%d goto=%d not=%v ipproto=%d", r.Tos, r.Goto, r.Invert, r.IPProto)
	}
	if r.Dport != nil || r.Sport != nil || r.UIDRange != nil {
		fmt.Fprintf(&b, " ports=%v/%v uid=%v", r.Dport, r.Sport, r.UIDRange)
	}
	if r.SuppressPrefixlen > 0 || r.SuppressIfgroup > 0 {
		fmt.Fprintf(&b, " suppress=%d/%d", r.SuppressPrefixlen, r.SuppressIfgroup)
	}
	return b.String()
}
