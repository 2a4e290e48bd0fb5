package netsetup

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"appl/internal/cfgfile"
)

// Defaults for what netsetup owns.
const (
	DefaultTable       = "appl" // nftables table, family inet
	DefaultRulePrioMin = 10000  // policy rules netsetup owns: this range
	DefaultRulePrioMax = 10999  //
	RouteProtocol      = 97     // routes netsetup adds carry this protocol (ip route ... proto 97)
	DefaultTProxyMark  = 1      // trans.sh's mark
	DefaultTProxyTable = 100    // trans.sh's table
)

// Config is the decoded `network` section.
type Config struct {
	Interfaces []Interface
	Bridges    []Bridge
	Routes     []Route
	Rules      []Rule
	TProxy     []TProxy
	// NFTable is the inet table netsetup owns and replaces as a whole.
	NFTable string
	// RulePrioMin..RulePrioMax are the policy-rule priorities netsetup owns: rules there
	// that the config does not ask for are removed.
	RulePrioMin, RulePrioMax int
}

// Interface is `interface NAME [up|down] [mtu N] [address CIDR...] [exclusive]`.
type Interface struct {
	Name      string
	Down      bool // default up
	MTU       int  // 0: leave as is
	Addrs     []netip.Prefix
	Exclusive bool // remove permanent addresses not listed
	Pos       cfgfile.Pos
}

// Bridge is `bridge NAME ports P... [mtu N] [address CIDR...] [exclusive]`. The ports lose
// their own addresses (seed 000 moves enp1s0f0's address to br0).
type Bridge struct {
	Interface
	Ports []string
}

// Route is `route DEST via GW [dev D] [table T] [metric M]`, `route DEST dev D ...`,
// `route local DEST dev D ...` or `default-gateway GW [dev D] [table T] [metric M]`.
type Route struct {
	Dst    netip.Prefix
	Gw     netip.Addr // invalid: on-link through Dev
	Dev    string
	Table  int // 0: main
	Metric int // -1: family default
	Local  bool
	Pos    cfgfile.Pos
}

// Rule is `rule fwmark N[/MASK] lookup T [priority P] [ipv6]`.
type Rule struct {
	Mark, Mask uint32
	Table      int
	Priority   int // 0: next free in the owned range
	IPv6       bool
	Pos        cfgfile.Pos
}

// PortRange is one port or an inclusive range.
type PortRange struct{ Lo, Hi uint16 }

func (r PortRange) String() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(int(r.Lo))
	}
	return fmt.Sprintf("%d-%d", r.Lo, r.Hi)
}

// TProxy is `tproxy PORTS... [to-port N] [mark M] [table T] [priority P] [ipv6]`: what
// trans.sh does by hand. TCP packets to PORTS are handed to the transparent listener on
// the same port (or to-port), packets of existing transparent sockets are marked, and
// marked packets are routed to the local host through `local default dev lo table T`.
type TProxy struct {
	Ports    []PortRange
	ToPort   uint16 // 0: the packet's own destination port
	Mark     uint32
	Table    int
	Priority int
	IPv6     bool // also IPv6 (rule and local route for ::/0)
	Pos      cfgfile.Pos
}

// Decode reads the `network` sections of f. All problems are reported together.
func Decode(f *cfgfile.File) (*Config, error) {
	c := &Config{NFTable: DefaultTable, RulePrioMin: DefaultRulePrioMin, RulePrioMax: DefaultRulePrioMax}
	var errs cfgfile.Errors
	bad := func(l cfgfile.Line, format string, a ...any) { errs = append(errs, l.Errorf(format, a...)) }
	names := map[string]cfgfile.Pos{}
	declare := func(l cfgfile.Line, name string) bool {
		if !validIfName(name) {
			bad(l, "bad interface name %q (expected 1-15 characters, no '/', blanks or ':')", name)
			return false
		}
		if p, dup := names[name]; dup {
			bad(l, "%s already declared at %s", name, p)
			return false
		}
		names[name] = l.Pos
		return true
	}
	for _, s := range f.SectionsOf("network") {
		if s.Name != "" {
			errs = append(errs, &cfgfile.Error{Pos: s.Pos, Directive: "network", Msg: "section takes no name (expected a line with only 'network')"})
		}
		for _, l := range s.Lines {
			args := l.Words[1:]
			switch l.Keyword() {
			case "interface":
				if len(args) < 1 {
					bad(l, "expected NAME [up|down] [mtu N] [address CIDR...] [exclusive]")
					continue
				}
				var it Interface
				if err := decodeIface(&it, args[1:], nil); err != nil {
					bad(l, "%v", err)
					continue
				}
				if declare(l, args[0]) {
					it.Name, it.Pos = args[0], l.Pos
					c.Interfaces = append(c.Interfaces, it)
				}
			case "bridge":
				if len(args) < 1 {
					bad(l, "expected NAME ports IF... [mtu N] [address CIDR...]")
					continue
				}
				var br Bridge
				if err := decodeIface(&br.Interface, args[1:], &br.Ports); err != nil {
					bad(l, "%v", err)
					continue
				}
				if declare(l, args[0]) {
					br.Name, br.Pos = args[0], l.Pos
					c.Bridges = append(c.Bridges, br)
				}
			case "route", "default-gateway":
				r, err := decodeRoute(l.Keyword(), args)
				if err != nil {
					bad(l, "%v", err)
					continue
				}
				r.Pos = l.Pos
				c.Routes = append(c.Routes, r)
			case "rule":
				r, err := decodeRule(args)
				if err != nil {
					bad(l, "%v", err)
					continue
				}
				r.Pos = l.Pos
				c.Rules = append(c.Rules, r)
			case "tproxy":
				tp, err := decodeTProxy(args)
				if err != nil {
					bad(l, "%v", err)
					continue
				}
				tp.Pos = l.Pos
				c.TProxy = append(c.TProxy, tp)
			case "nft-table":
				if len(args) != 1 || !validTableName(args[0]) {
					bad(l, "expected one table name of letters, digits, '_' or '-' (default %s)", DefaultTable)
					continue
				}
				c.NFTable = args[0]
			case "rule-priorities":
				lo, hi, err := parseRange(args, 1, 32765)
				if err != nil {
					bad(l, "%v (expected MIN-MAX within 1-32765, e.g. 10000-10999)", err)
					continue
				}
				c.RulePrioMin, c.RulePrioMax = int(lo), int(hi)
			default:
				bad(l, "unknown directive (expected interface, bridge, route, default-gateway, rule, tproxy, nft-table or rule-priorities)")
			}
		}
	}
	// Cross-checks: ports, priorities.
	ports := map[string]string{}
	for _, br := range c.Bridges {
		if len(br.Ports) == 0 {
			errs = append(errs, &cfgfile.Error{Pos: br.Pos, Directive: "bridge", Msg: br.Name + " has no ports (expected: ports IF...)"})
		}
		for _, p := range br.Ports {
			if other, ok := ports[p]; ok {
				errs = append(errs, &cfgfile.Error{Pos: br.Pos, Directive: "bridge", Msg: fmt.Sprintf("port %s is already in bridge %s", p, other)})
			}
			ports[p] = br.Name
			if p == br.Name {
				errs = append(errs, &cfgfile.Error{Pos: br.Pos, Directive: "bridge", Msg: "a bridge cannot be its own port"})
			}
		}
	}
	for _, it := range c.Interfaces {
		if br, ok := ports[it.Name]; ok && len(it.Addrs) > 0 {
			errs = append(errs, &cfgfile.Error{Pos: it.Pos, Directive: "interface", Msg: fmt.Sprintf("%s is a port of bridge %s and cannot carry addresses (put them on %s)", it.Name, br, br)})
		}
	}
	inRange := func(p int) bool { return p >= c.RulePrioMin && p <= c.RulePrioMax }
	for _, r := range c.Rules {
		if r.Priority != 0 && !inRange(r.Priority) {
			errs = append(errs, &cfgfile.Error{Pos: r.Pos, Directive: "rule", Msg: fmt.Sprintf("priority %d is outside the range netsetup owns (expected %d-%d, see rule-priorities)", r.Priority, c.RulePrioMin, c.RulePrioMax)})
		}
	}
	for _, t := range c.TProxy {
		if t.Priority != 0 && !inRange(t.Priority) {
			errs = append(errs, &cfgfile.Error{Pos: t.Pos, Directive: "tproxy", Msg: fmt.Sprintf("priority %d is outside the range netsetup owns (expected %d-%d, see rule-priorities)", t.Priority, c.RulePrioMin, c.RulePrioMax)})
		}
	}
	return c, errs.Err()
}

// decodeIface reads the option words of interface and bridge lines. ports is non-nil
// for a bridge.
func decodeIface(it *Interface, words []string, ports *[]string) error {
	mode := ""
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch w {
		case "up":
			it.Down, mode = false, ""
		case "down":
			it.Down, mode = true, ""
		case "exclusive":
			it.Exclusive, mode = true, ""
		case "mtu":
			if i+1 >= len(words) {
				return fmt.Errorf("mtu needs a value (expected 68-65535)")
			}
			n, err := strconv.Atoi(words[i+1])
			if err != nil || n < 68 || n > 65535 {
				return fmt.Errorf("bad mtu %q (expected 68-65535)", words[i+1])
			}
			it.MTU, mode = n, ""
			i++
		case "address":
			mode = "address"
			if i+1 >= len(words) {
				return fmt.Errorf("address needs a CIDR (e.g. 198.18.1.1/24)")
			}
		case "ports":
			if ports == nil {
				return fmt.Errorf("ports is for bridges (expected up, down, mtu, address or exclusive)")
			}
			mode = "ports"
			if i+1 >= len(words) {
				return fmt.Errorf("ports needs interface names")
			}
		default:
			switch mode {
			case "address":
				p, err := netip.ParsePrefix(w)
				if err != nil {
					return fmt.Errorf("bad address %q (expected CIDR such as 198.18.1.1/24 or 2001:db8::1/64)", w)
				}
				it.Addrs = append(it.Addrs, p)
			case "ports":
				if !validIfName(w) {
					return fmt.Errorf("bad port name %q", w)
				}
				*ports = append(*ports, w)
			default:
				opts := "up, down, mtu, address or exclusive"
				if ports != nil {
					opts = "ports, " + opts
				}
				return fmt.Errorf("unexpected %q (expected %s)", w, opts)
			}
		}
	}
	return nil
}

func decodeRoute(kw string, args []string) (Route, error) {
	r := Route{Metric: -1}
	rest := args
	if kw == "default-gateway" {
		if len(args) < 1 {
			return r, fmt.Errorf("expected GW [dev D] [table T] [metric M]")
		}
		gw, err := netip.ParseAddr(args[0])
		if err != nil {
			return r, fmt.Errorf("bad gateway %q (expected an IP address)", args[0])
		}
		r.Gw = gw
		if gw.Is4() {
			r.Dst = netip.MustParsePrefix("0.0.0.0/0")
		} else {
			r.Dst = netip.MustParsePrefix("::/0")
		}
		rest = args[1:]
	} else {
		if len(args) > 0 && args[0] == "local" {
			r.Local = true
			args = args[1:]
		}
		if len(args) < 1 {
			return r, fmt.Errorf("expected [local] DEST (via GW | dev D) [table T] [metric M]")
		}
		dst, err := parseDest(args[0])
		if err != nil {
			return r, err
		}
		r.Dst = dst
		rest = args[1:]
	}
	for i := 0; i < len(rest); i++ {
		if i+1 >= len(rest) {
			return r, fmt.Errorf("%q needs a value", rest[i])
		}
		v := rest[i+1]
		switch rest[i] {
		case "via":
			if kw == "default-gateway" || r.Local {
				return r, fmt.Errorf("unexpected via")
			}
			gw, err := netip.ParseAddr(v)
			if err != nil {
				return r, fmt.Errorf("bad gateway %q (expected an IP address)", v)
			}
			r.Gw = gw
		case "dev":
			if !validIfName(v) {
				return r, fmt.Errorf("bad device %q", v)
			}
			r.Dev = v
		case "table":
			t, err := parseTable(v)
			if err != nil {
				return r, err
			}
			r.Table = t
		case "metric":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return r, fmt.Errorf("bad metric %q (expected 0-4294967295)", v)
			}
			r.Metric = int(n)
		default:
			return r, fmt.Errorf("unexpected %q (expected via, dev, table or metric)", rest[i])
		}
		i++
	}
	if r.Gw.IsValid() && r.Gw.Is4() != r.Dst.Addr().Is4() {
		return r, fmt.Errorf("gateway %s and destination %s are of different families", r.Gw, r.Dst)
	}
	if !r.Gw.IsValid() && r.Dev == "" {
		return r, fmt.Errorf("route to %s needs via GW or dev D", r.Dst)
	}
	return r, nil
}

func parseDest(s string) (netip.Prefix, error) {
	switch s {
	case "default":
		return netip.MustParsePrefix("0.0.0.0/0"), nil
	case "default6":
		return netip.MustParsePrefix("::/0"), nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Masked() != p {
			return p, fmt.Errorf("destination %s has host bits set (expected %s)", s, p.Masked())
		}
		return p, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("bad destination %q (expected CIDR, an address or default)", s)
}

func parseTable(v string) (int, error) {
	switch v {
	case "main":
		return 254, nil
	case "local":
		return 255, nil
	case "default":
		return 253, nil
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad table %q (expected 1-4294967295, main, local or default)", v)
	}
	return int(n), nil
}

func decodeRule(args []string) (Rule, error) {
	r := Rule{Mask: 0xffffffff}
	seenMark, seenTable := false, false
	for i := 0; i < len(args); i++ {
		w := args[i]
		if w == "ipv6" {
			r.IPv6 = true
			continue
		}
		if i+1 >= len(args) {
			return r, fmt.Errorf("%q needs a value", w)
		}
		v := args[i+1]
		i++
		switch w {
		case "fwmark":
			m, mask, err := parseMark(v)
			if err != nil {
				return r, err
			}
			r.Mark, r.Mask, seenMark = m, mask, true
		case "lookup", "table":
			t, err := parseTable(v)
			if err != nil {
				return r, err
			}
			r.Table, seenTable = t, true
		case "priority", "pref":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return r, fmt.Errorf("bad priority %q", v)
			}
			r.Priority = n
		default:
			return r, fmt.Errorf("unexpected %q (expected fwmark N[/MASK] lookup T [priority P] [ipv6])", w)
		}
	}
	if !seenMark || !seenTable {
		return r, fmt.Errorf("expected fwmark N[/MASK] lookup T [priority P] [ipv6]")
	}
	return r, nil
}

func parseMark(v string) (uint32, uint32, error) {
	ms, masks, hasMask := strings.Cut(v, "/")
	m, err := strconv.ParseUint(ms, 0, 32)
	if err != nil || m == 0 {
		return 0, 0, fmt.Errorf("bad mark %q (expected 1-0xffffffff, optionally /MASK)", v)
	}
	mask := uint64(0xffffffff)
	if hasMask {
		mask, err = strconv.ParseUint(masks, 0, 32)
		if err != nil || mask == 0 {
			return 0, 0, fmt.Errorf("bad mask in %q", v)
		}
	}
	return uint32(m), uint32(mask), nil
}

func decodeTProxy(args []string) (TProxy, error) {
	t := TProxy{Mark: DefaultTProxyMark, Table: DefaultTProxyTable}
	for i := 0; i < len(args); i++ {
		w := args[i]
		if w == "ipv6" {
			t.IPv6 = true
			continue
		}
		if w[0] >= '0' && w[0] <= '9' {
			for _, part := range strings.Split(w, ",") {
				if part == "" {
					continue
				}
				lo, hi, err := parseRange([]string{part}, 1, 65535)
				if err != nil {
					return t, fmt.Errorf("bad port %q (expected PORT or LOW-HIGH within 1-65535)", part)
				}
				t.Ports = append(t.Ports, PortRange{uint16(lo), uint16(hi)})
			}
			continue
		}
		if i+1 >= len(args) {
			return t, fmt.Errorf("%q needs a value", w)
		}
		v := args[i+1]
		i++
		switch w {
		case "to-port":
			n, err := strconv.ParseUint(v, 10, 16)
			if err != nil || n == 0 {
				return t, fmt.Errorf("bad to-port %q (expected 1-65535)", v)
			}
			t.ToPort = uint16(n)
		case "mark":
			m, _, err := parseMark(v)
			if err != nil || strings.Contains(v, "/") {
				return t, fmt.Errorf("bad mark %q (expected 1-0xffffffff)", v)
			}
			t.Mark = m
		case "table":
			n, err := parseTable(v)
			if err != nil {
				return t, err
			}
			t.Table = n
		case "priority":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return t, fmt.Errorf("bad priority %q", v)
			}
			t.Priority = n
		default:
			return t, fmt.Errorf("unexpected %q (expected PORTS, to-port, mark, table, priority or ipv6)", w)
		}
	}
	if len(t.Ports) == 0 {
		return t, fmt.Errorf("expected at least one port or range (e.g. tproxy 5000-5545 19765)")
	}
	return t, nil
}

func parseRange(args []string, min, max uint64) (uint64, uint64, error) {
	if len(args) != 1 {
		return 0, 0, fmt.Errorf("expected one value")
	}
	los, his, isRange := strings.Cut(args[0], "-")
	lo, err := strconv.ParseUint(los, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("bad number %q", los)
	}
	hi := lo
	if isRange {
		if hi, err = strconv.ParseUint(his, 10, 32); err != nil {
			return 0, 0, fmt.Errorf("bad number %q", his)
		}
	}
	if lo < min || hi > max || lo > hi {
		return 0, 0, fmt.Errorf("bad range %q", args[0])
	}
	return lo, hi, nil
}

func validIfName(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsAny(s, "/: \t\n")
}

func validTableName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
