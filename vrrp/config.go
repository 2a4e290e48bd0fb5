package vrrp

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"appl/internal/cfgfile"
	"appl/vrrp/fsm"
)

// Config is every vrrp, carp and vrrp-group section of a file.
type Config struct {
	Instances []*Instance
	Groups    []*Group
}

// Instance is one `vrrp NAME` or `carp NAME` section: one virtual router.
type Instance struct {
	Name      string
	Pos       cfgfile.Pos
	Proto     fsm.Proto
	Interface string
	// VRRP
	VRID           int
	Version        int
	Priority       int
	Interval       time.Duration
	AuthPass       string // VRRPv2 simple text authentication; never logged
	V3ChecksumAsV2 bool
	// CARP
	AdvBase, AdvSkew, Demote int
	Pass                     string // CARP HMAC key; never logged

	Addresses    []VIP
	Preempt      bool
	PreemptDelay time.Duration
	UnicastSrc   netip.Addr
	UnicastPeers []netip.Addr

	TrackInterfaces []Track
	TrackChecks     []Track
	TrackScripts    []Script

	Notify                                  string
	NotifyMaster, NotifyBackup, NotifyFault string

	GARPRepeat  int
	GARPDelay   time.Duration
	GARPRefresh time.Duration

	// UseVMAC puts the VIPs on a macvlan carrying the virtual router MAC
	// (00:00:5e:00:01:VRID, IPv6 00:00:5e:00:02:VRID) named VMACName; adverts are sent
	// from it unless VMACXmitBase (keepalived use_vmac / vmac_xmit_base).
	UseVMAC      bool
	VMACName     string
	VMACXmitBase bool
	// VIPLifetime is the kernel valid_lft of the VIPs, refreshed by each advert sent;
	// 0 means forever (no self-expiry).
	VIPLifetime time.Duration
}

// VIP is a virtual address with its prefix, on the instance's interface or Dev.
type VIP struct {
	Prefix netip.Prefix
	Dev    string
}

// Track is a tracked interface or built-in check and its weight (0: failure means fault).
type Track struct {
	Name   string
	Weight int
}

// Script is a command run periodically whose exit status is a tracked check.
type Script struct {
	Command    string
	Interval   time.Duration
	Timeout    time.Duration
	Rise, Fall int
	Weight     int
}

// Group is a `vrrp-group NAME` section: instances that change state together.
type Group struct {
	Name                                    string
	Pos                                     cfgfile.Pos
	Members                                 []string
	Notify                                  string
	NotifyMaster, NotifyBackup, NotifyFault string
}

// Family is 4 or 6, the address family of the instance's VIPs.
func (in *Instance) Family() int {
	if len(in.Addresses) > 0 && in.Addresses[0].Prefix.Addr().Is6() {
		return 6
	}
	return 4
}

// AdvertInterval is how often the master advertises.
func (in *Instance) AdvertInterval() time.Duration {
	return in.params(in.Priority).AdvertInterval()
}

func (in *Instance) params(prio int) fsm.Params {
	p := fsm.Params{Proto: in.Proto, Priority: prio, Interval: in.Interval, LearnInterval: in.Version == 3,
		AdvBase: in.AdvBase, AdvSkew: in.AdvSkew, Demote: in.Demote, Preempt: in.Preempt, PreemptDelay: in.PreemptDelay}
	// A tenth of an interval, 5 to 50 ms: long enough for the preempted master to
	// process our advert and drop its VIPs, short enough to be an unnoticeable gap.
	p.PreemptHold = min(max(p.AdvertInterval()/10, 5*time.Millisecond), 50*time.Millisecond)
	return p
}

// Decode reads every vrrp, carp and vrrp-group section of f. Errors are positioned and
// returned together.
func Decode(f *cfgfile.File) (*Config, error) {
	cfg := &Config{}
	var errs cfgfile.Errors
	names := map[string]cfgfile.Pos{}
	for _, s := range f.Sections {
		if s.Kind != "vrrp" && s.Kind != "carp" && s.Kind != "vrrp-group" {
			continue
		}
		head := cfgfile.Line{Pos: s.Pos, Words: []string{s.Kind}}
		if s.Name == "" {
			errs = append(errs, head.Errorf("missing name (expected `%s NAME`)", s.Kind))
			continue
		}
		if len(s.Args) > 0 {
			errs = append(errs, head.Errorf("unexpected words after the name %q (expected `%s NAME`)", s.Name, s.Kind))
		}
		if s.Kind == "vrrp-group" {
			g, es := decodeGroup(s)
			errs = append(errs, es...)
			cfg.Groups = append(cfg.Groups, g)
			continue
		}
		if p, dup := names[s.Name]; dup {
			errs = append(errs, head.Errorf("instance %q already defined at %s (expected unique names)", s.Name, p))
		}
		names[s.Name] = s.Pos
		in, es := decodeInstance(s)
		errs = append(errs, es...)
		if in != nil {
			cfg.Instances = append(cfg.Instances, in)
		}
	}
	errs = append(errs, crossCheck(cfg)...)
	if len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

// Defaults follow keepalived for vrrp (priority 100, advert 1s, version 2, preempt on,
// 5 gratuitous ARPs and a second burst 5s later) and carp(4) for carp (advbase 1,
// advskew 0, preempt off as net.inet.carp.preempt=0).
func decodeInstance(s *cfgfile.Section) (*Instance, cfgfile.Errors) {
	in := &Instance{Name: s.Name, Pos: s.Pos, GARPRepeat: 5, GARPDelay: 5 * time.Second, VIPLifetime: -1}
	carp := s.Kind == "carp"
	if carp {
		in.Proto, in.AdvBase = fsm.CARP, 1
	} else {
		in.Proto, in.Priority, in.Interval, in.Version, in.Preempt = fsm.VRRP, 100, time.Second, 2, true
	}
	var errs cfgfile.Errors
	var intervalLine, authLine, vmacLine, xmitLine *cfgfile.Line
	seenID := false
	head := cfgfile.Line{Pos: s.Pos, Words: []string{s.Kind}}
	for i := range s.Lines {
		l := &s.Lines[i]
		w := l.Words
		args := w[1:]
		bad := func(format string, a ...any) { errs = append(errs, l.Errorf(format, a...)) }
		one := func(what string) (string, bool) {
			if len(args) != 1 {
				bad("takes exactly one argument (expected %s)", what)
				return "", false
			}
			return args[0], true
		}
		intArg := func(lo, hi int, what string) (int, bool) {
			a, ok := one(what)
			if !ok {
				return 0, false
			}
			n, err := strconv.Atoi(a)
			if err != nil || n < lo || n > hi {
				bad("invalid value %q (expected %s, an integer from %d to %d)", a, what, lo, hi)
				return 0, false
			}
			return n, true
		}
		durArg := func(what string) (time.Duration, bool) {
			a, ok := one(what)
			if !ok {
				return 0, false
			}
			d, err := parseDuration(a)
			if err != nil {
				bad("invalid duration %q (expected %s, e.g. 100ms, 1s or 1 for one second)", a, what)
				return 0, false
			}
			return d, true
		}
		kw := l.Keyword()
		vrrpOnly := map[string]bool{"vrid": true, "priority": true, "advert-int": true, "version": true, "auth-pass": true, "v3-checksum-as-v2": true}
		carpOnly := map[string]bool{"vhid": true, "advbase": true, "advskew": true, "pass": true, "demote": true}
		if carp && vrrpOnly[kw] {
			bad("is a vrrp keyword; carp sections use vhid, advbase, advskew, pass, demote")
			continue
		}
		if !carp && carpOnly[kw] {
			bad("is a carp keyword; vrrp sections use vrid, priority, advert-int, version, auth-pass")
			continue
		}
		switch kw {
		case "interface":
			if a, ok := one("an interface name"); ok {
				in.Interface = a
			}
		case "vrid", "vhid":
			if n, ok := intArg(1, 255, "a virtual router id"); ok {
				in.VRID, seenID = n, true
			}
		case "priority":
			if n, ok := intArg(1, 255, "a priority, 255 for the address owner"); ok {
				in.Priority = n
			}
		case "advert-int":
			if d, ok := durArg("the advertisement interval"); ok {
				in.Interval, intervalLine = d, l
			}
		case "version":
			if n, ok := intArg(2, 3, "2 or 3"); ok {
				in.Version = n
			}
		case "auth-pass":
			if a, ok := one("a password of up to 8 characters"); ok {
				if len(a) > 8 {
					bad("password longer than 8 characters (expected at most 8: VRRPv2 carries 8 bytes)")
				}
				in.AuthPass, authLine = a, l
			}
		case "v3-checksum-as-v2":
			if len(args) != 0 {
				bad("takes no argument")
			}
			in.V3ChecksumAsV2 = true
		case "advbase":
			if n, ok := intArg(0, 254, "seconds"); ok {
				in.AdvBase = n
			}
		case "advskew":
			if n, ok := intArg(0, 254, "a skew in 1/256 s"); ok {
				in.AdvSkew = n
			}
		case "demote":
			if n, ok := intArg(0, 254, "a demotion counter"); ok {
				in.Demote = n
			}
		case "pass":
			if a, ok := one("a password"); ok {
				in.Pass = a
			}
		case "address":
			if len(args) != 1 && !(len(args) == 3 && args[1] == "dev") {
				bad("bad arguments (expected `address ADDR[/PREFIX] [dev IFNAME]`)")
				continue
			}
			p, err := parsePrefix(args[0])
			if err != nil {
				bad("%v (expected an IPv4 or IPv6 address with an optional /prefix)", err)
				continue
			}
			v := VIP{Prefix: p}
			if len(args) == 3 {
				v.Dev = args[2]
			}
			in.Addresses = append(in.Addresses, v)
		case "preempt":
			switch {
			case len(args) == 0:
			case len(args) == 2 && args[0] == "delay":
				d, err := parseDuration(args[1])
				if err != nil || d < 0 {
					bad("invalid delay %q (expected a duration such as 30s)", args[1])
				}
				in.PreemptDelay = d
			default:
				bad("bad arguments (expected `preempt` or `preempt delay DURATION`)")
			}
			in.Preempt = true
		case "nopreempt":
			if len(args) != 0 {
				bad("takes no argument")
			}
			in.Preempt = false
		case "unicast-src":
			if a, ok := one("a local address"); ok {
				ip, err := netip.ParseAddr(a)
				if err != nil {
					bad("invalid address %q (expected an IP address)", a)
				}
				in.UnicastSrc = ip
			}
		case "unicast-peer":
			if len(args) == 0 {
				bad("missing address (expected `unicast-peer ADDR...`)")
			}
			for _, a := range args {
				ip, err := netip.ParseAddr(a)
				if err != nil {
					bad("invalid address %q (expected an IP address)", a)
					continue
				}
				in.UnicastPeers = append(in.UnicastPeers, ip)
			}
		case "track-interface", "track-check":
			t, ok := decodeTrack(l)
			if !ok {
				bad("bad arguments (expected `%s NAME [weight W]`, W from -254 to 254)", kw)
				continue
			}
			if kw == "track-interface" {
				in.TrackInterfaces = append(in.TrackInterfaces, t)
			} else {
				in.TrackChecks = append(in.TrackChecks, t)
			}
		case "track-script":
			sc, err := decodeScript(args)
			if err != "" {
				bad("%s (expected `track-script COMMAND [interval D] [timeout D] [rise N] [fall N] [weight W]`)", err)
				continue
			}
			in.TrackScripts = append(in.TrackScripts, sc)
		case "notify", "notify-master", "notify-backup", "notify-fault":
			a, ok := one("a command, quoted if it has arguments")
			if !ok {
				continue
			}
			switch kw {
			case "notify":
				in.Notify = a
			case "notify-master":
				in.NotifyMaster = a
			case "notify-backup":
				in.NotifyBackup = a
			case "notify-fault":
				in.NotifyFault = a
			}
		case "garp-repeat":
			if n, ok := intArg(0, 100, "a count"); ok {
				in.GARPRepeat = n
			}
		case "garp-delay":
			if d, ok := durArg("the delay of the second burst, 0 for none"); ok {
				in.GARPDelay = d
			}
		case "garp-refresh":
			if d, ok := durArg("the refresh period, 0 for none"); ok {
				in.GARPRefresh = d
			}
		case "vip-lifetime":
			a, ok := one("a duration in whole seconds or `forever`")
			if !ok {
				continue
			}
			if a == "forever" {
				in.VIPLifetime = 0
				continue
			}
			d, err := parseDuration(a)
			if err != nil || d < time.Second || d%time.Second != 0 {
				bad("invalid lifetime %q (expected whole seconds, at least 1s, or `forever`)", a)
				continue
			}
			in.VIPLifetime = d
		case "use-vmac":
			if carp {
				bad("is not available for carp (carp(4) derives its own MAC from the vhid; expected a vrrp section)")
				continue
			}
			if len(args) > 1 {
				bad("takes at most one argument (expected `use-vmac [IFNAME]`)")
				continue
			}
			in.UseVMAC = true
			if len(args) == 1 {
				if err := checkIfName(args[0]); err != "" {
					bad("invalid interface name %q: %s", args[0], err)
					continue
				}
				in.VMACName = args[0]
			}
			vmacLine = l
		case "vmac-xmit-base":
			if carp {
				bad("is not available for carp (expected a vrrp section with use-vmac)")
				continue
			}
			if len(args) != 0 {
				bad("takes no argument")
			}
			in.VMACXmitBase, xmitLine = true, l
		case "state":
			bad("not supported by appl (keepalived's state; see docs/vrrp.md)")
		default:
			bad("unknown keyword (expected one of %s)", strings.Join(keywords(carp), ", "))
		}
	}
	// Whole-section checks.
	if in.Interface == "" {
		errs = append(errs, head.Errorf("section %q has no interface (expected `interface IFNAME`)", s.Name))
	}
	if !seenID {
		id := "vrid"
		if carp {
			id = "vhid"
		}
		errs = append(errs, head.Errorf("section %q has no %s (expected `%s 1..255`)", s.Name, id, id))
	}
	if len(in.Addresses) == 0 {
		errs = append(errs, head.Errorf("section %q has no virtual address (expected `address ADDR[/PREFIX]`)", s.Name))
	}
	fam6 := len(in.Addresses) > 0 && in.Addresses[0].Prefix.Addr().Is6()
	for _, v := range in.Addresses {
		if v.Prefix.Addr().Is6() != fam6 {
			errs = append(errs, head.Errorf("section %q mixes IPv4 and IPv6 addresses (expected one family per instance, as VRRP carries one)", s.Name))
			break
		}
	}
	if !carp {
		if fam6 && in.Version == 2 {
			errs = append(errs, head.Errorf("section %q has IPv6 addresses with version 2 (expected `version 3`)", s.Name))
		}
		if in.Version == 2 && (in.Interval%time.Second != 0 || in.Interval < time.Second || in.Interval > 255*time.Second) && intervalLine != nil {
			errs = append(errs, intervalLine.Errorf("VRRPv2 interval must be whole seconds from 1 to 255 (expected e.g. 1s, or `version 3` for centiseconds)"))
		}
		if in.Version == 3 && (in.Interval%(10*time.Millisecond) != 0 || in.Interval < 10*time.Millisecond || in.Interval > 40950*time.Millisecond) && intervalLine != nil {
			errs = append(errs, intervalLine.Errorf("VRRPv3 interval must be a multiple of 10ms from 10ms to 40.95s"))
		}
		if authLine != nil && in.Version != 2 {
			errs = append(errs, authLine.Errorf("authentication exists only in VRRPv2 (expected `version 2` or no auth-pass)"))
		}
	}
	if xmitLine != nil && !in.UseVMAC {
		errs = append(errs, xmitLine.Errorf("needs use-vmac (expected `use-vmac [IFNAME]` in the same section)"))
	}
	if in.UseVMAC {
		if in.VMACName == "" && seenID {
			// keepalived's default name; IPv6 instances get their own so an IPv4 and
			// an IPv6 instance may share a VRID.
			in.VMACName = fmt.Sprintf("vrrp.%d", in.VRID)
			if fam6 {
				in.VMACName = fmt.Sprintf("vrrp6.%d", in.VRID)
			}
		}
		if in.VMACName != "" && in.VMACName == in.Interface {
			errs = append(errs, vmacLine.Errorf("the macvlan name %q is the instance's own interface (expected another name)", in.VMACName))
		}
		if len(in.UnicastPeers) > 0 && !in.VMACXmitBase {
			// From the macvlan, unicast adverts would need ARP from the virtual MAC with
			// the base address as sender, teaching the peers a wrong MAC for it.
			errs = append(errs, vmacLine.Errorf("with unicast-peer needs vmac-xmit-base (as keepalived: unicast adverts must leave from %s)", in.Interface))
		}
	}
	if in.VIPLifetime < 0 {
		in.VIPLifetime = defaultLifetime(in.AdvertInterval())
	} else if in.VIPLifetime > 0 && in.VIPLifetime < 2*in.AdvertInterval() {
		errs = append(errs, head.Errorf("section %q: vip-lifetime %v shorter than two advertisement intervals (expected at least %v)", s.Name, in.VIPLifetime, 2*in.AdvertInterval()))
	}
	return in, errs
}

// defaultLifetime covers a master-down interval plus a second: a live master always
// refreshes in time, a dead one loses its VIPs soon after the backup has taken over.
func defaultLifetime(interval time.Duration) time.Duration {
	d := 3*interval + time.Second
	secs := int64(math.Ceil(d.Seconds()))
	if secs < 2 {
		secs = 2
	}
	return time.Duration(secs) * time.Second
}

func keywords(carp bool) []string {
	common := []string{"interface", "address", "preempt", "nopreempt", "unicast-src", "unicast-peer",
		"track-interface", "track-check", "track-script", "notify", "notify-master", "notify-backup",
		"notify-fault", "garp-repeat", "garp-delay", "garp-refresh", "vip-lifetime"}
	if carp {
		return append([]string{"vhid", "advbase", "advskew", "pass", "demote"}, common...)
	}
	return append([]string{"vrid", "priority", "advert-int", "version", "auth-pass", "v3-checksum-as-v2", "use-vmac", "vmac-xmit-base"}, common...)
}

func decodeTrack(l *cfgfile.Line) (Track, bool) {
	a := l.Words[1:]
	switch {
	case len(a) == 1:
		return Track{Name: a[0]}, true
	case len(a) == 3 && a[1] == "weight":
		w, err := strconv.Atoi(a[2])
		if err != nil || w < -254 || w > 254 {
			return Track{}, false
		}
		return Track{Name: a[0], Weight: w}, true
	}
	return Track{}, false
}

func decodeScript(a []string) (Script, string) {
	if len(a) == 0 {
		return Script{}, "missing command"
	}
	sc := Script{Command: a[0], Interval: time.Second, Rise: 1, Fall: 1}
	for i := 1; i < len(a); i += 2 {
		if i+1 >= len(a) {
			return sc, fmt.Sprintf("%q needs a value", a[i])
		}
		v := a[i+1]
		switch a[i] {
		case "interval", "timeout":
			d, err := parseDuration(v)
			if err != nil || d <= 0 {
				return sc, fmt.Sprintf("invalid %s %q", a[i], v)
			}
			if a[i] == "interval" {
				sc.Interval = d
			} else {
				sc.Timeout = d
			}
		case "rise", "fall":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				return sc, fmt.Sprintf("invalid %s %q", a[i], v)
			}
			if a[i] == "rise" {
				sc.Rise = n
			} else {
				sc.Fall = n
			}
		case "weight":
			n, err := strconv.Atoi(v)
			if err != nil || n < -254 || n > 254 {
				return sc, fmt.Sprintf("invalid weight %q", v)
			}
			sc.Weight = n
		default:
			return sc, fmt.Sprintf("unknown option %q", a[i])
		}
	}
	if sc.Timeout == 0 {
		sc.Timeout = sc.Interval
	}
	return sc, ""
}

func decodeGroup(s *cfgfile.Section) (*Group, cfgfile.Errors) {
	g := &Group{Name: s.Name, Pos: s.Pos}
	var errs cfgfile.Errors
	for i := range s.Lines {
		l := &s.Lines[i]
		args := l.Words[1:]
		switch kw := l.Keyword(); kw {
		case "member", "members":
			if len(args) == 0 {
				errs = append(errs, l.Errorf("missing instance name (expected `member NAME...`)"))
			}
			g.Members = append(g.Members, args...)
		case "notify", "notify-master", "notify-backup", "notify-fault":
			if len(args) != 1 {
				errs = append(errs, l.Errorf("takes exactly one argument (expected a command, quoted if it has arguments)"))
				continue
			}
			switch kw {
			case "notify":
				g.Notify = args[0]
			case "notify-master":
				g.NotifyMaster = args[0]
			case "notify-backup":
				g.NotifyBackup = args[0]
			case "notify-fault":
				g.NotifyFault = args[0]
			}
		default:
			errs = append(errs, l.Errorf("unknown keyword (expected one of member, notify, notify-master, notify-backup, notify-fault)"))
		}
	}
	if len(g.Members) == 0 {
		errs = append(errs, (&cfgfile.Line{Pos: s.Pos, Words: []string{"vrrp-group"}}).Errorf("group %q has no members (expected `member NAME...`)", s.Name))
	}
	return g, errs
}

func crossCheck(cfg *Config) cfgfile.Errors {
	var errs cfgfile.Errors
	byName := map[string]*Instance{}
	type key struct {
		ifname string
		proto  fsm.Proto
		fam    int
		id     int
	}
	ids := map[key]*Instance{}
	for _, in := range cfg.Instances {
		byName[in.Name] = in
		k := key{in.Interface, in.Proto, in.Family(), in.VRID}
		if o := ids[k]; o != nil && in.Interface != "" && in.VRID != 0 {
			errs = append(errs, (&cfgfile.Line{Pos: in.Pos, Words: []string{"vrrp"}}).Errorf(
				"%q uses the same interface, family and id as %q at %s (expected a different vrid/vhid)", in.Name, o.Name, o.Pos))
		}
		ids[k] = in
	}
	vmacs := map[string]*Instance{}
	for _, in := range cfg.Instances {
		if in.VMACName == "" {
			continue
		}
		if o := vmacs[in.VMACName]; o != nil {
			errs = append(errs, (&cfgfile.Line{Pos: in.Pos, Words: []string{"vrrp"}}).Errorf(
				"%q uses the macvlan name %q already used by %q at %s (expected `use-vmac IFNAME` with another name)", in.Name, in.VMACName, o.Name, o.Pos))
		}
		vmacs[in.VMACName] = in
	}
	for _, in := range cfg.Instances {
		if o := vmacs[in.Interface]; o != nil {
			errs = append(errs, (&cfgfile.Line{Pos: in.Pos, Words: []string{"vrrp"}}).Errorf(
				"%q runs on interface %q, the macvlan %q creates (expected another use-vmac name)", in.Name, in.Interface, o.Name))
		}
	}
	inGroup := map[string]string{}
	for _, g := range cfg.Groups {
		head := cfgfile.Line{Pos: g.Pos, Words: []string{"vrrp-group"}}
		for _, m := range g.Members {
			if byName[m] == nil {
				errs = append(errs, head.Errorf("group %q names unknown instance %q (expected a vrrp or carp section name)", g.Name, m))
			}
			if o, dup := inGroup[m]; dup {
				errs = append(errs, head.Errorf("instance %q is already in group %q (expected one group per instance)", m, o))
			}
			inGroup[m] = g.Name
		}
	}
	return errs
}

// parseDuration accepts HAProxy/keepalived forms: a bare number of seconds ("1", "0.1")
// or a number with a unit (us, ms, s, m, h).
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || f > 1e6 {
			return 0, fmt.Errorf("out of range")
		}
		return time.Duration(f * float64(time.Second)).Round(time.Millisecond), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return d, nil
}

// checkIfName returns why name cannot be a Linux interface name, or "".
func checkIfName(name string) string {
	switch {
	case len(name) > 15:
		return "longer than 15 characters"
	case name == "." || name == "..":
		return "reserved"
	case strings.ContainsAny(name, "/: \t\n"):
		return "contains '/', ':' or a space"
	}
	return ""
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid address %q", s)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid address %q", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
