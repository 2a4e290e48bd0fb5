package netsetup

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Options tune planning.
type Options struct {
	// AdminAddr is the local address the administrator is connected through (see
	// AdminAddrFromEnv). A plan that would take it away is refused unless Force.
	AdminAddr netip.Addr
	Force     bool
}

// ErrAdminAddr is returned (wrapped) when a plan would cut the admin off.
var ErrAdminAddr = errors.New("plan removes the address you are connected through")

// Op is one change of a plan.
type Op struct {
	Sign   byte   // '+' add, '-' remove, '~' change
	Text   string // what it does, for the diff
	Detail []string
	apply  func(s *System) error
}

// Plan is the list of changes from the live state to the config, in the order they run.
type Plan struct {
	Ops     []Op
	cfg     *Config
	touched map[string]bool // links whose settings or addresses the plan changes
	created map[string]bool // links the plan creates
}

// Empty reports whether applying would change nothing.
func (p *Plan) Empty() bool { return len(p.Ops) == 0 }

// Format writes the diff, one change a line.
func (p *Plan) Format(w io.Writer) {
	if p.Empty() {
		fmt.Fprintln(w, "no network change")
		return
	}
	for _, op := range p.Ops {
		fmt.Fprintf(w, "%c %s\n", op.Sign, op.Text)
		for _, d := range op.Detail {
			fmt.Fprintf(w, "      %s\n", d)
		}
	}
	fmt.Fprintf(w, "%d network change(s)\n", len(p.Ops))
}

func (p *Plan) String() string {
	var b strings.Builder
	p.Format(&b)
	return b.String()
}

// PlanFor reads the namespace and compares it with cfg.
func PlanFor(s *System, cfg *Config, opt Options) (*Plan, error) {
	st, err := s.Read(cfg.NFTable)
	if err != nil {
		return nil, err
	}
	return planFrom(st, cfg, opt)
}

type wantRoute struct {
	fam, table, metric int
	dst                netip.Prefix
	gw                 netip.Addr
	dev                string
	local              bool
}

func (r wantRoute) String() string {
	var b strings.Builder
	if r.local {
		b.WriteString("local ")
	}
	b.WriteString(r.dst.String())
	if r.gw.IsValid() {
		fmt.Fprintf(&b, " via %s", r.gw)
	}
	if r.dev != "" {
		fmt.Fprintf(&b, " dev %s", r.dev)
	}
	fmt.Fprintf(&b, " table %s metric %d proto %d", tableName(r.table), r.metric, RouteProtocol)
	return b.String()
}

type wantRule struct {
	fam, prio, table int
	mark, mask       uint32
}

func (r wantRule) String() string {
	f := "ipv4"
	if r.fam == netlink.FAMILY_V6 {
		f = "ipv6"
	}
	return fmt.Sprintf("%s rule priority %d fwmark %#x/%#x lookup %s", f, r.prio, r.mark, r.mask, tableName(r.table))
}

func tableName(t int) string {
	switch t {
	case unix.RT_TABLE_MAIN:
		return "main"
	case unix.RT_TABLE_LOCAL:
		return "local"
	}
	return fmt.Sprint(t)
}

func famOf(a netip.Addr) int {
	if a.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// planFrom is the pure part of planning: state and config in, ordered changes out.
func planFrom(st *State, cfg *Config, opt Options) (*Plan, error) {
	p := &Plan{cfg: cfg, touched: map[string]bool{}, created: map[string]bool{}}
	var errs []error
	var create, master, portAddrs, linkSet, addrAdd, addrDel, routeDel, routeAdd, ruleDel, ruleAdd, nft []Op
	removed := map[netip.Addr]bool{}
	added := map[netip.Addr]bool{}
	downed := map[string]bool{}
	ports := map[string]string{}
	for _, br := range cfg.Bridges {
		for _, port := range br.Ports {
			ports[port] = br.Name
		}
	}

	ifaceOps := func(it Interface, l *LinkState) {
		name := it.Name
		p.touched[name] = true
		if it.MTU != 0 && (l == nil || l.MTU != it.MTU) {
			from := "default"
			if l != nil {
				from = fmt.Sprint(l.MTU)
			}
			mtu := it.MTU
			linkSet = append(linkSet, Op{Sign: '~', Text: fmt.Sprintf("link %s: mtu %s -> %d", name, from, mtu),
				apply: func(s *System) error {
					return s.withLink(name, func(l netlink.Link) error { return s.nl.LinkSetMTU(l, mtu) })
				}})
		}
		if up := !it.Down; l == nil || l.Up != up {
			word, fn := "up", (*netlink.Handle).LinkSetUp
			if !up {
				word, fn = "down", (*netlink.Handle).LinkSetDown
				downed[name] = true
			}
			linkSet = append(linkSet, Op{Sign: '~', Text: fmt.Sprintf("link %s: %s", name, word),
				apply: func(s *System) error { return s.withLink(name, func(l netlink.Link) error { return fn(s.nl, l) }) }})
		}
		var have []AddrState
		if l != nil {
			have = st.AddrsOf(name)
		}
		for _, a := range it.Addrs {
			found := false
			for _, h := range have {
				found = found || h.Prefix == a
			}
			added[a.Addr()] = true
			if found {
				continue
			}
			pfx := a
			addrAdd = append(addrAdd, Op{Sign: '+', Text: fmt.Sprintf("address %s dev %s", pfx, name),
				apply: func(s *System) error {
					return s.withLink(name, func(l netlink.Link) error { return s.nl.AddrAdd(l, &netlink.Addr{IPNet: ipnet(pfx)}) })
				}})
		}
		if it.Exclusive {
			for _, h := range have {
				keep := !h.managed()
				for _, a := range it.Addrs {
					keep = keep || h.Prefix == a
				}
				if !keep {
					addrDel = append(addrDel, delAddrOp(h, "not in the config, interface is exclusive"))
					removed[h.Prefix.Addr()] = true
				}
			}
		}
	}

	for _, br := range cfg.Bridges {
		l := st.Link(br.Name)
		name := br.Name
		if l == nil {
			p.created[name] = true
			create = append(create, Op{Sign: '+', Text: "bridge " + name,
				apply: func(s *System) error {
					return s.nl.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}})
				}})
		} else if l.Kind != "bridge" {
			errs = append(errs, fmt.Errorf("%s: %s exists and is a %s, not a bridge", br.Pos, name, l.Kind))
			continue
		}
		for _, port := range br.Ports {
			pl := st.Link(port)
			if pl == nil {
				errs = append(errs, fmt.Errorf("%s: bridge %s: port %s does not exist", br.Pos, name, port))
				continue
			}
			p.touched[port] = true
			if pl.Master != name {
				port := port
				master = append(master, Op{Sign: '~', Text: fmt.Sprintf("link %s: master %s", port, name),
					apply: func(s *System) error {
						return s.withLink(port, func(pl netlink.Link) error {
							return s.withLink(name, func(bl netlink.Link) error { return s.nl.LinkSetMaster(pl, bl) })
						})
					}})
			}
			for _, a := range st.AddrsOf(port) {
				if a.managed() {
					portAddrs = append(portAddrs, delAddrOp(a, "moved to bridge "+name))
					removed[a.Prefix.Addr()] = true
				}
			}
			if !pl.Up {
				port := port
				linkSet = append(linkSet, Op{Sign: '~', Text: fmt.Sprintf("link %s: up (port of %s)", port, name),
					apply: func(s *System) error { return s.withLink(port, s.nl.LinkSetUp) }})
			}
		}
		ifaceOps(br.Interface, l)
	}
	for _, it := range cfg.Interfaces {
		l := st.Link(it.Name)
		if l == nil {
			errs = append(errs, fmt.Errorf("%s: interface %s does not exist", it.Pos, it.Name))
			continue
		}
		ifaceOps(it, l)
	}

	// Routes: the config's, plus the TPROXY local routes.
	var routes []wantRoute
	for _, r := range cfg.Routes {
		w := wantRoute{fam: famOf(r.Dst.Addr()), table: r.Table, metric: r.Metric, dst: r.Dst, gw: r.Gw, dev: r.Dev, local: r.Local}
		routes = append(routes, w)
	}
	for _, t := range cfg.TProxy {
		routes = append(routes, wantRoute{fam: netlink.FAMILY_V4, table: t.Table, metric: -1, dst: netip.MustParsePrefix("0.0.0.0/0"), dev: "lo", local: true})
		if t.IPv6 {
			routes = append(routes, wantRoute{fam: netlink.FAMILY_V6, table: t.Table, metric: -1, dst: netip.MustParsePrefix("::/0"), dev: "lo", local: true})
		}
	}
	seenRoute := map[string]bool{}
	var wantRoutes []wantRoute
	for _, w := range routes {
		if w.table == 0 {
			w.table = unix.RT_TABLE_MAIN
		}
		if w.metric < 0 {
			w.metric = 0
			if w.fam == netlink.FAMILY_V6 {
				w.metric = 1024
			}
		}
		if k := w.String(); !seenRoute[k] {
			seenRoute[k] = true
			wantRoutes = append(wantRoutes, w)
		}
	}
	for _, w := range wantRoutes {
		ok := false
		for _, r := range st.Routes {
			if routeSatisfies(r, w, st.names, ports) {
				ok = true
				break
			}
		}
		if ok {
			continue
		}
		w := w
		routeAdd = append(routeAdd, Op{Sign: '+', Text: "route " + w.String(),
			apply: func(s *System) error { return s.replaceRoute(w) }})
	}
	for _, r := range st.Routes {
		if int(r.Protocol) != RouteProtocol {
			continue
		}
		wanted := false
		for _, w := range wantRoutes {
			wanted = wanted || routeSatisfies(r, w, st.names, ports)
		}
		if !wanted {
			r := r
			routeDel = append(routeDel, Op{Sign: '-', Text: "route " + routeKey(r, st.names),
				apply: func(s *System) error { return ignoreMissing(s.nl.RouteDel(&r)) }})
		}
	}

	// Policy rules in the owned priority range.
	wantRules, err := assignRules(cfg)
	if err != nil {
		errs = append(errs, err)
	}
	for _, r := range st.Rules {
		if r.Priority < cfg.RulePrioMin || r.Priority > cfg.RulePrioMax {
			continue
		}
		wanted := false
		for _, w := range wantRules {
			wanted = wanted || ruleSatisfies(r, w)
		}
		if !wanted {
			r := r
			ruleDel = append(ruleDel, Op{Sign: '-', Text: "rule " + ruleKey(r),
				apply: func(s *System) error { return ignoreMissing(s.nl.RuleDel(&r)) }})
		}
	}
	for _, w := range wantRules {
		ok := false
		for _, r := range st.Rules {
			ok = ok || ruleSatisfies(r, w)
		}
		if ok {
			continue
		}
		w := w
		ruleAdd = append(ruleAdd, Op{Sign: '+', Text: w.String(), apply: func(s *System) error {
			r := netlink.NewRule()
			r.Family, r.Priority, r.Table, r.Mark = w.fam, w.prio, w.table, w.mark
			r.Mask = ptr(w.mask)
			return s.nl.RuleAdd(r)
		}})
	}

	// nftables: the whole table, replaced atomically when it differs.
	desired := desiredNFT(cfg)
	if !nftMatches(st.NFT, desired) {
		name, exists := cfg.NFTable, st.NFT != nil
		op := Op{Sign: '~', Text: fmt.Sprintf("nftables table inet %s (now %s)", name, describeNFT(st.NFT)),
			apply: func(s *System) error { return s.writeNFT(name, exists, desired) }}
		if len(desired) == 0 {
			op.Sign, op.Text = '-', "nftables table inet "+name
		} else {
			if !exists {
				op.Sign, op.Text = '+', "nftables table inet "+name
			}
			op.Detail = append(op.Detail, "chain prerouting (filter hook prerouting priority mangle, policy accept):")
			for _, r := range desired {
				op.Detail = append(op.Detail, "  "+r.Desc())
			}
		}
		nft = append(nft, op)
	}

	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("netsetup: %w", err)
	}
	if a := opt.AdminAddr; a.IsValid() && !opt.Force {
		a = a.Unmap()
		for _, h := range st.Addrs {
			if h.Prefix.Addr() != a {
				continue
			}
			if removed[a] && !added[a] {
				return nil, fmt.Errorf("netsetup: %w (%s on %s); use --force if you have another way in", ErrAdminAddr, a, h.Link)
			}
			if downed[h.Link] {
				return nil, fmt.Errorf("netsetup: %w (%s: link %s set down); use --force if you have another way in", ErrAdminAddr, a, h.Link)
			}
		}
	}
	for _, ops := range [][]Op{create, master, portAddrs, linkSet, addrDel, addrAdd, routeDel, routeAdd, ruleDel, ruleAdd, nft} {
		p.Ops = append(p.Ops, ops...)
	}
	return p, nil
}

func delAddrOp(a AddrState, why string) Op {
	raw := a.raw
	return Op{Sign: '-', Text: fmt.Sprintf("address %s dev %s (%s)", a.Prefix, a.Link, why),
		apply: func(s *System) error {
			return s.withLink(a.Link, func(l netlink.Link) error {
				raw.LinkIndex = l.Attrs().Index
				return ignoreMissing(s.nl.AddrDel(l, &raw))
			})
		}}
}

// assignRules lists the wanted policy rules, giving rules without a priority the next
// free ones of the owned range, in config order.
func assignRules(cfg *Config) ([]wantRule, error) {
	used := map[int]bool{}
	for _, r := range cfg.Rules {
		used[r.Priority] = r.Priority != 0
	}
	for _, t := range cfg.TProxy {
		if t.Priority != 0 {
			used[t.Priority] = true
		}
	}
	next := cfg.RulePrioMin
	alloc := func(p int) (int, error) {
		if p != 0 {
			return p, nil
		}
		for next <= cfg.RulePrioMax && used[next] {
			next++
		}
		if next > cfg.RulePrioMax {
			return 0, fmt.Errorf("no free rule priority left in %d-%d", cfg.RulePrioMin, cfg.RulePrioMax)
		}
		used[next] = true
		return next, nil
	}
	var out []wantRule
	seen := map[wantRule]bool{}
	add := func(w wantRule) {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	for _, t := range cfg.TProxy {
		prio, err := alloc(t.Priority)
		if err != nil {
			return nil, err
		}
		add(wantRule{fam: netlink.FAMILY_V4, prio: prio, table: t.Table, mark: t.Mark, mask: 0xffffffff})
		if t.IPv6 {
			add(wantRule{fam: netlink.FAMILY_V6, prio: prio, table: t.Table, mark: t.Mark, mask: 0xffffffff})
		}
	}
	for _, r := range cfg.Rules {
		prio, err := alloc(r.Priority)
		if err != nil {
			return nil, err
		}
		add(wantRule{fam: netlink.FAMILY_V4, prio: prio, table: r.Table, mark: r.Mark, mask: r.Mask})
		if r.IPv6 {
			add(wantRule{fam: netlink.FAMILY_V6, prio: prio, table: r.Table, mark: r.Mark, mask: r.Mask})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].prio < out[j].prio })
	return out, nil
}

func ruleSatisfies(r netlink.Rule, w wantRule) bool {
	mask := uint32(0xffffffff)
	if r.Mask != nil {
		mask = *r.Mask
	}
	return r.Family == w.fam && r.Priority == w.prio && r.Table == w.table && r.Mark == w.mark && mask == w.mask &&
		r.Src == nil && r.Dst == nil && r.IifName == "" && r.OifName == "" && !r.Invert && r.Goto <= 0 &&
		r.Tos == 0 && r.IPProto == 0 && r.Dport == nil && r.Sport == nil && r.UIDRange == nil &&
		r.SuppressPrefixlen <= 0 && r.SuppressIfgroup <= 0
}

func routeDst(r netlink.Route) netip.Prefix {
	if r.Dst == nil {
		if r.Family == netlink.FAMILY_V6 {
			return netip.MustParsePrefix("::/0")
		}
		return netip.MustParsePrefix("0.0.0.0/0")
	}
	a, _ := netip.AddrFromSlice(r.Dst.IP)
	ones, _ := r.Dst.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}

// routeSatisfies reports whether a live route is the wanted one. A route through a bridge
// port does not count: the port loses its addresses and the kernel drops such routes.
func routeSatisfies(r netlink.Route, w wantRoute, names map[int]string, ports map[string]string) bool {
	typ := unix.RTN_UNICAST
	if w.local {
		typ = unix.RTN_LOCAL
	}
	if r.Family != w.fam || r.Table != w.table || r.Type != typ || r.Priority != w.metric || routeDst(r) != w.dst || len(r.MultiPath) > 0 {
		return false
	}
	var gw netip.Addr
	if r.Gw != nil {
		gw, _ = netip.AddrFromSlice(r.Gw)
		gw = gw.Unmap()
	}
	dev := names[r.LinkIndex]
	if gw != w.gw || (w.dev != "" && dev != w.dev) {
		return false
	}
	_, isPort := ports[dev]
	return !isPort
}

func ipnet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func (s *System) withLink(name string, fn func(netlink.Link) error) error {
	l, err := s.nl.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	return fn(l)
}

func (s *System) replaceRoute(w wantRoute) error {
	r := &netlink.Route{Family: w.fam, Table: w.table, Dst: ipnet(w.dst), Priority: w.metric,
		Protocol: netlink.RouteProtocol(RouteProtocol), Type: unix.RTN_UNICAST, Scope: netlink.SCOPE_UNIVERSE}
	if w.gw.IsValid() {
		r.Gw = net.IP(w.gw.AsSlice())
	} else {
		r.Scope = netlink.SCOPE_LINK
	}
	if w.local {
		r.Type, r.Scope = unix.RTN_LOCAL, netlink.SCOPE_HOST
	}
	if w.dev != "" {
		l, err := s.nl.LinkByName(w.dev)
		if err != nil {
			return fmt.Errorf("route %s: device %s: %w", w, w.dev, err)
		}
		r.LinkIndex = l.Attrs().Index
	}
	if err := s.nl.RouteReplace(r); err != nil {
		return fmt.Errorf("route %s: %w", w, err)
	}
	return nil
}

func ignoreMissing(err error) error {
	if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EADDRNOTAVAIL) {
		return nil
	}
	return err
}
