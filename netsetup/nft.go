package netsetup

import (
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// nftSchema versions the rules netsetup generates: bump it when the expressions change
// so boxes running the old ones get their table replaced.
const nftSchema = "v1"

const preroutingChain = "prerouting"

// nftRule is one rule of netsetup's table. Its parameters are written into the rule's
// comment, which is how an applied table is recognised and how Rollback rebuilds it:
// google/nftables cannot decode the socket and tproxy expressions it reads back.
type nftRule struct {
	Socket bool   // the "packet of a transparent socket" rule
	Fam    byte   // NFPROTO_IPV4 or NFPROTO_IPV6 (tproxy rules)
	Lo, Hi uint16 // destination ports (tproxy rules)
	ToPort uint16 // 0: the packet's own destination port
	Mark   uint32
}

func famName(f byte) string {
	if f == unix.NFPROTO_IPV6 {
		return "ip6"
	}
	return "ip"
}

func (r nftRule) comment() string {
	if r.Socket {
		return fmt.Sprintf("appl %s socket mark %#x", nftSchema, r.Mark)
	}
	return fmt.Sprintf("appl %s tproxy %s dport %d-%d to %d mark %#x", nftSchema, famName(r.Fam), r.Lo, r.Hi, r.ToPort, r.Mark)
}

// parseNFTComment is the inverse of comment.
func parseNFTComment(c string) (nftRule, bool) {
	var r nftRule
	var fam string
	if _, err := fmt.Sscanf(c, "appl "+nftSchema+" socket mark %v", &r.Mark); err == nil {
		r.Socket = true
		return r, r.comment() == c
	}
	if _, err := fmt.Sscanf(c, "appl "+nftSchema+" tproxy %s dport %d-%d to %d mark %v", &fam, &r.Lo, &r.Hi, &r.ToPort, &r.Mark); err != nil {
		return r, false
	}
	switch fam {
	case "ip":
		r.Fam = unix.NFPROTO_IPV4
	case "ip6":
		r.Fam = unix.NFPROTO_IPV6
	default:
		return r, false
	}
	return r, r.comment() == c
}

// Desc is the rule for humans (diffs).
func (r nftRule) Desc() string {
	if r.Socket {
		return fmt.Sprintf("tcp packet of a transparent socket: mark %#x, accept", r.Mark)
	}
	to := "its own port"
	if r.ToPort != 0 {
		to = fmt.Sprintf("port %d", r.ToPort)
	}
	return fmt.Sprintf("%s tcp dport %s: tproxy to %s, mark %#x, accept", famName(r.Fam), PortRange{r.Lo, r.Hi}, to, r.Mark)
}

// Exprs builds the rule. trans.sh's iptables equivalents:
//
//	-m socket -j DIVERT (mark 1, accept)      -> socket transparent 1 meta mark set M accept
//	-p tcp --dport P -j TPROXY --tproxy-mark  -> tcp dport P tproxy to :P meta mark set M accept
func (r nftRule) Exprs() []expr.Any {
	if r.Socket {
		return concat(
			l4protoTCP(),
			[]expr.Any{
				&expr.Socket{Key: expr.SocketKeyTransparent, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{1}},
			},
			setMark(r.Mark),
			[]expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}},
		)
	}
	match := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{r.Fam}},
	}
	match = append(match, l4protoTCP()...)
	match = append(match, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2})
	if r.Lo == r.Hi {
		match = append(match, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(r.Lo)})
	} else {
		match = append(match, &expr.Range{Op: expr.CmpOpEq, Register: 1,
			FromData: binaryutil.BigEndian.PutUint16(r.Lo), ToData: binaryutil.BigEndian.PutUint16(r.Hi)})
	}
	// The tproxy expression needs the port in a register: the packet's own destination
	// port (HAProxy binds one listener per port of a range) or to-port.
	var port expr.Any = &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}
	if r.ToPort != 0 {
		port = &expr.Immediate{Register: 1, Data: binaryutil.BigEndian.PutUint16(r.ToPort)}
	}
	return concat(match,
		[]expr.Any{port, &expr.TProxy{Family: r.Fam, TableFamily: byte(nftables.TableFamilyINet), RegPort: 1}},
		setMark(r.Mark),
		[]expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}},
	)
}

// desiredNFT lists the prerouting rules trans.sh builds by hand with iptables.
func desiredNFT(cfg *Config) []nftRule {
	var out []nftRule
	marks := map[uint32]bool{}
	for _, t := range cfg.TProxy {
		if !marks[t.Mark] {
			marks[t.Mark] = true
			out = append(out, nftRule{Socket: true, Mark: t.Mark})
		}
	}
	for _, t := range cfg.TProxy {
		fams := []byte{unix.NFPROTO_IPV4}
		if t.IPv6 {
			fams = append(fams, unix.NFPROTO_IPV6)
		}
		for _, fam := range fams {
			for _, pr := range t.Ports {
				out = append(out, nftRule{Fam: fam, Lo: pr.Lo, Hi: pr.Hi, ToPort: t.ToPort, Mark: t.Mark})
			}
		}
	}
	return out
}

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func l4protoTCP() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
	}
}

func setMark(m uint32) []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: binaryutil.NativeEndian.PutUint32(m)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}
}

func preroutingSpec(t *nftables.Table) *nftables.Chain {
	return &nftables.Chain{
		Name:     preroutingChain,
		Table:    t,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookPrerouting,
		Priority: nftables.ChainPriorityMangle,
		Policy:   ptr(nftables.ChainPolicyAccept),
	}
}

func ptr[T any](v T) *T { return &v }

// nftMatches reports whether the live table is exactly what desired would build.
func nftMatches(cur *NFTState, desired []nftRule) bool {
	if cur == nil {
		return len(desired) == 0
	}
	if len(desired) == 0 || len(cur.Chains) != 1 {
		return false
	}
	c := cur.Chains[0]
	want := preroutingSpec(nil)
	if c.Name != want.Name || c.Type != want.Type || c.Hooknum == nil || *c.Hooknum != *want.Hooknum ||
		c.Priority == nil || *c.Priority != *want.Priority || c.Policy == nil || *c.Policy != *want.Policy {
		return false
	}
	rules := cur.Rules[c.Name]
	if len(rules) != len(desired) {
		return false
	}
	for i, r := range rules {
		got, _ := userdata.GetString(r.UserData, userdata.TypeComment)
		if got != desired[i].comment() {
			return false
		}
	}
	return true
}

// writeNFT replaces the table with desired in one transaction (nil desired: delete it).
func (s *System) writeNFT(name string, exists bool, desired []nftRule) error {
	t := &nftables.Table{Name: name, Family: nftables.TableFamilyINet}
	if exists {
		s.nft.DelTable(t)
	}
	if len(desired) > 0 {
		s.nft.AddTable(t)
		c := s.nft.AddChain(preroutingSpec(t))
		for _, r := range desired {
			s.nft.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: r.Exprs(),
				UserData: userdata.AppendString(nil, userdata.TypeComment, r.comment())})
		}
	}
	if err := s.nft.Flush(); err != nil {
		return fmt.Errorf("nftables table inet %s: %w", name, err)
	}
	return nil
}

// restoreNFT puts back a table read by readNFT (nil: no table), replacing what is there.
func (s *System) restoreNFT(name string, exists bool, snap *NFTState) error {
	t := &nftables.Table{Name: name, Family: nftables.TableFamilyINet}
	if exists {
		s.nft.DelTable(t)
	}
	if snap != nil {
		nt := &nftables.Table{Name: name, Family: nftables.TableFamilyINet, Flags: snap.Table.Flags}
		s.nft.AddTable(nt)
		for _, c := range snap.Chains {
			nc := *c
			nc.Table = nt
			added := s.nft.AddChain(&nc)
			for _, r := range snap.Rules[c.Name] {
				exprs := r.Exprs
				// Rebuild netsetup's own rules from their comments; others (added to the table
				// by hand) are restored as google/nftables decoded them, which may be lossy.
				if c, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok {
					if spec, ok := parseNFTComment(c); ok {
						exprs = spec.Exprs()
					}
				}
				s.nft.AddRule(&nftables.Rule{Table: nt, Chain: added, Exprs: exprs, UserData: r.UserData})
			}
		}
	}
	if err := s.nft.Flush(); err != nil {
		return fmt.Errorf("restore nftables table inet %s: %w", name, err)
	}
	return nil
}

// describeNFT is a one-line summary of a live table for diffs.
func describeNFT(n *NFTState) string {
	if n == nil {
		return "absent"
	}
	var parts []string
	for _, c := range n.Chains {
		parts = append(parts, fmt.Sprintf("chain %s: %d rules", c.Name, len(n.Rules[c.Name])))
	}
	return strings.Join(parts, ", ")
}
