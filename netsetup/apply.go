package netsetup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Snapshot is the state before an apply, and what Rollback restores.
type Snapshot struct {
	State            *State
	touched, created map[string]bool
	table            string
	prioMin, prioMax int
}

// Apply runs the plan's changes in order. The returned snapshot undoes them (Rollback).
// When a change fails, what was done is rolled back before Apply returns the error.
func Apply(s *System, p *Plan) (*Snapshot, error) {
	before, err := s.Read(p.cfg.NFTable)
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{State: before, touched: p.touched, created: p.created, table: p.cfg.NFTable,
		prioMin: p.cfg.RulePrioMin, prioMax: p.cfg.RulePrioMax}
	for _, op := range p.Ops {
		if err := op.apply(s); err != nil {
			err = fmt.Errorf("netsetup: %c %s: %w", op.Sign, op.Text, err)
			if rerr := Rollback(s, snap); rerr != nil {
				return nil, fmt.Errorf("%w; rollback failed too: %v", err, rerr)
			}
			return nil, fmt.Errorf("%w (rolled back)", err)
		}
	}
	return snap, nil
}

// Verify re-reads the namespace and fails if it does not match cfg (a non-empty plan).
func Verify(s *System, cfg *Config) error {
	p, err := PlanFor(s, cfg, Options{Force: true})
	if err != nil {
		return err
	}
	if !p.Empty() {
		return fmt.Errorf("netsetup: verify: live state differs from the config:\n%s", p)
	}
	return nil
}

// Rollback restores the links, addresses, routes, policy rules (in the owned priority
// range) and the nftables table of snap, then checks that they match it.
func Rollback(s *System, snap *Snapshot) error {
	cur, err := s.Read(snap.table)
	if err != nil {
		return err
	}
	old := snap.State
	var errs []error
	step := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	// nftables table.
	if !sameNFT(old.NFT, cur.NFT) {
		step("nftables", s.restoreNFT(snap.table, cur.NFT != nil, old.NFT))
	}
	// Policy rules in the owned range.
	oldRules, curRules := ownedRules(old, snap), ownedRules(cur, snap)
	for k, r := range curRules {
		if _, ok := oldRules[k]; !ok {
			step("delete rule "+k, ignoreMissing(s.nl.RuleDel(&r)))
		}
	}
	for k, r := range oldRules {
		if _, ok := curRules[k]; !ok {
			step("restore rule "+k, s.nl.RuleAdd(&r))
		}
	}
	// Routes netsetup added that were not there.
	oldRoutes := routeSet(old)
	for _, r := range cur.Routes {
		if int(r.Protocol) != RouteProtocol {
			continue
		}
		if _, ok := oldRoutes[routeKey(r, cur.names)]; !ok {
			r := r
			step("delete route "+routeKey(r, cur.names), ignoreMissing(s.nl.RouteDel(&r)))
		}
	}
	// Links: created ones go, touched ones get their master, mtu and state back.
	for name := range snap.created {
		if old.Link(name) == nil && cur.Link(name) != nil {
			step("delete link "+name, s.withLink(name, s.nl.LinkDel))
		}
	}
	for name := range snap.touched {
		ol, cl := old.Link(name), cur.Link(name)
		if ol == nil || cl == nil {
			continue
		}
		if ol.Master != cl.Master {
			step("restore master of "+name, s.withLink(name, func(l netlink.Link) error {
				if ol.Master == "" {
					return s.nl.LinkSetNoMaster(l)
				}
				return s.withLink(ol.Master, func(m netlink.Link) error { return s.nl.LinkSetMaster(l, m) })
			}))
		}
		if ol.MTU != cl.MTU {
			step("restore mtu of "+name, s.withLink(name, func(l netlink.Link) error { return s.nl.LinkSetMTU(l, ol.MTU) }))
		}
		if ol.Up != cl.Up {
			fn := s.nl.LinkSetDown
			if ol.Up {
				fn = s.nl.LinkSetUp
			}
			step("restore state of "+name, s.withLink(name, fn))
		}
		// Addresses.
		for _, a := range cur.AddrsOf(name) {
			if a.managed() && !hasAddr(old.AddrsOf(name), a.Prefix) {
				step("delete address "+a.Prefix.String(), delAddrOp(a, "rollback").apply(s))
			}
		}
		for _, a := range old.AddrsOf(name) {
			if a.managed() && !hasAddr(cur.AddrsOf(name), a.Prefix) {
				raw := a.raw
				step("restore address "+a.Prefix.String(), s.withLink(name, func(l netlink.Link) error {
					raw.LinkIndex = l.Attrs().Index
					raw.Flags &^= unix.IFA_F_PERMANENT | unix.IFA_F_TENTATIVE | unix.IFA_F_DADFAILED
					if raw.Broadcast == nil && a.Prefix.Addr().Is4() {
						raw.Broadcast = net.IPv4zero // had none: netlink would compute one
					}
					return s.nl.AddrAdd(l, &raw)
				}))
			}
		}
	}
	// Routes that went away (with an address, or replaced): put back, after addresses.
	now, err := s.Read(snap.table)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	nowRoutes := routeSet(now)
	keys := sortedKeys(oldRoutes)
	for _, k := range keys {
		if _, ok := nowRoutes[k]; ok {
			continue
		}
		r := oldRoutes[k]
		if name := old.names[r.LinkIndex]; r.LinkIndex != 0 {
			l := now.Link(name)
			if l == nil {
				continue
			}
			r.LinkIndex = l.Index
		}
		r.Flags &^= unix.RTNH_F_LINKDOWN | unix.RTNH_F_DEAD
		if err := s.nl.RouteReplace(&r); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("restore route %s: %w", k, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("netsetup: rollback: %w", errors.Join(errs...))
	}
	after, err := s.Read(snap.table)
	if err != nil {
		return err
	}
	if d := snap.Diff(after); len(d) > 0 {
		return fmt.Errorf("netsetup: rollback left differences:\n  %s", strings.Join(d, "\n  "))
	}
	return nil
}

// Diff lists how st differs from the snapshot in what netsetup owns or touched.
func (snap *Snapshot) Diff(st *State) []string {
	old := snap.State
	var d []string
	for name := range snap.touched {
		ol, cl := old.Link(name), st.Link(name)
		switch {
		case ol == nil && cl == nil:
		case ol == nil || cl == nil:
			d = append(d, fmt.Sprintf("link %s: present before %v, now %v", name, ol != nil, cl != nil))
		case ol.Master != cl.Master || ol.MTU != cl.MTU || ol.Up != cl.Up:
			d = append(d, fmt.Sprintf("link %s: was %+v, now %+v", name, *ol, *cl))
		}
		if cl != nil {
			if a, b := addrList(old.AddrsOf(name)), addrList(st.AddrsOf(name)); a != b {
				d = append(d, fmt.Sprintf("addresses of %s: were %s, now %s", name, a, b))
			}
		}
	}
	for name := range snap.created {
		if old.Link(name) == nil && st.Link(name) != nil {
			d = append(d, "link "+name+" still exists")
		}
	}
	for _, k := range setDiff(routeSet(old), routeSet(st)) {
		d = append(d, "route "+k)
	}
	for _, k := range setDiff(ownedRules(old, snap), ownedRules(st, snap)) {
		d = append(d, "rule "+k)
	}
	if !sameNFT(old.NFT, st.NFT) {
		d = append(d, fmt.Sprintf("nftables table inet %s: was %s, now %s", snap.table, describeNFT(old.NFT), describeNFT(st.NFT)))
	}
	sort.Strings(d)
	return d
}

func setDiff[V any](a, b map[string]V) []string {
	var out []string
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, "missing: "+k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, "extra: "+k)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func addrList(as []AddrState) string {
	var out []string
	for _, a := range as {
		if a.managed() {
			out = append(out, a.Prefix.String())
		}
	}
	sort.Strings(out)
	return "[" + strings.Join(out, " ") + "]"
}

func hasAddr(as []AddrState, p netip.Prefix) bool {
	for _, a := range as {
		if a.Prefix == p {
			return true
		}
	}
	return false
}

// routeSet keys every route except the kernel's own, which follow links and addresses.
func routeSet(st *State) map[string]netlink.Route {
	out := map[string]netlink.Route{}
	for _, r := range st.Routes {
		if r.Protocol == unix.RTPROT_KERNEL {
			continue
		}
		out[routeKey(r, st.names)] = r
	}
	return out
}

func ownedRules(st *State, snap *Snapshot) map[string]netlink.Rule {
	out := map[string]netlink.Rule{}
	for _, r := range st.Rules {
		if r.Priority >= snap.prioMin && r.Priority <= snap.prioMax {
			out[ruleKey(r)] = r
		}
	}
	return out
}

// sameNFT compares two reads of the table by chains and rule expressions.
func sameNFT(a, b *NFTState) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return nftDump(a) == nftDump(b)
}

func nftDump(n *NFTState) string {
	var b strings.Builder
	for _, c := range n.Chains {
		fmt.Fprintf(&b, "chain %s type=%s", c.Name, c.Type)
		if c.Hooknum != nil && c.Priority != nil {
			fmt.Fprintf(&b, " hook=%d prio=%d", *c.Hooknum, *c.Priority)
		}
		if c.Policy != nil {
			fmt.Fprintf(&b, " policy=%d", *c.Policy)
		}
		b.WriteByte('\n')
		for _, r := range n.Rules[c.Name] {
			fmt.Fprintf(&b, "  rule %x", r.UserData)
			for _, e := range r.Exprs {
				fmt.Fprintf(&b, " %T%+v", e, e)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// Try applies the plan and keeps it only if confirm delivers true before timeout; on
// timeout, a false, a closed channel or ctx ending, it rolls back. It reports whether the
// change was kept.
func Try(ctx context.Context, s *System, p *Plan, timeout time.Duration, confirm <-chan bool) (bool, error) {
	snap, err := Apply(s, p)
	if err != nil {
		return false, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case ok, open := <-confirm:
		if ok && open {
			return true, nil
		}
	case <-t.C:
	case <-ctx.Done():
	}
	return false, Rollback(s, snap)
}

// AdminAddrFromEnv returns the local address of the SSH session this process runs in
// (the third field of SSH_CONNECTION), or an invalid Addr.
func AdminAddrFromEnv() netip.Addr {
	f := strings.Fields(os.Getenv("SSH_CONNECTION"))
	if len(f) != 4 {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(f[2])
	if err != nil {
		return netip.Addr{}
	}
	return a.WithZone("").Unmap()
}
