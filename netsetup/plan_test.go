package netsetup

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

// fakeState is a namespace with lo, lan0 (198.18.2.1/24) and ext0 (198.18.1.1/24), up.
func fakeState() *State {
	st := &State{names: map[int]string{1: "lo", 2: "lan0", 3: "ext0"}}
	st.Links = []LinkState{{Name: "lo", Index: 1, Kind: "device", MTU: 65536, Up: true},
		{Name: "lan0", Index: 2, Kind: "veth", MTU: 1500, Up: true},
		{Name: "ext0", Index: 3, Kind: "veth", MTU: 1500, Up: true}}
	for i, a := range []string{"198.18.2.1/24", "198.18.1.1/24"} {
		p := netip.MustParsePrefix(a)
		st.Addrs = append(st.Addrs, AddrState{Link: st.names[i+2], Prefix: p, Permanent: true,
			raw: netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(24, 32)}, LinkIndex: i + 2}})
	}
	return st
}

func TestAdminAddressIsProtected(t *testing.T) {
	admin := Options{AdminAddr: netip.MustParseAddr("198.18.2.1")}
	cases := []struct {
		name, cfg string
		refused   bool
	}{
		{"moved to the bridge", "network\n bridge br0 ports lan0 address 198.18.2.1/24\n", false},
		{"dropped by the bridge", "network\n bridge br0 ports lan0\n", true},
		{"dropped by exclusive", "network\n interface lan0 address 198.18.2.9/24 exclusive\n", true},
		{"kept by exclusive", "network\n interface lan0 address 198.18.2.1/24 exclusive\n", false},
		{"its link set down", "network\n interface lan0 down\n", true},
		{"another link", "network\n interface ext0 down\n", false},
	}
	for _, c := range cases {
		cfg, err := decodeText(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = planFrom(fakeState(), cfg, admin)
		if got := errors.Is(err, ErrAdminAddr); got != c.refused {
			t.Errorf("%s: refused=%v (%v), want %v", c.name, got, err, c.refused)
		}
		if c.refused {
			if !strings.Contains(err.Error(), "198.18.2.1") || !strings.Contains(err.Error(), "--force") {
				t.Errorf("%s: error does not say which address or how to force: %v", c.name, err)
			}
			forced := admin
			forced.Force = true
			if _, err := planFrom(fakeState(), cfg, forced); err != nil {
				t.Errorf("%s: forced plan: %v", c.name, err)
			}
		}
	}
}

func TestPlanErrorsNameTheLine(t *testing.T) {
	cfg, err := decodeText("network\n bridge br0 ports nosuch0\n interface ext9 up\n")
	if err != nil {
		t.Fatal(err)
	}
	_, err = planFrom(fakeState(), cfg, Options{})
	if err == nil || !strings.Contains(err.Error(), "n.cfg:2: bridge br0: port nosuch0 does not exist") ||
		!strings.Contains(err.Error(), "n.cfg:3: interface ext9 does not exist") {
		t.Fatalf("got %v", err)
	}
}

func TestRulePriorities(t *testing.T) {
	cfg, err := decodeText("network\n rule fwmark 2 lookup 200 priority 10000\n tproxy 5000\n rule fwmark 3 lookup 300\n")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := assignRules(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint32]int{}
	for _, r := range rules {
		got[r.mark] = r.prio
	}
	if got[2] != 10000 || got[1] != 10001 || got[3] != 10002 {
		t.Fatalf("priorities %v", got)
	}
	cfg, _ = decodeText("network\n rule-priorities 100-100\n tproxy 5000\n rule fwmark 3 lookup 300\n")
	if _, err := assignRules(cfg); err == nil || !strings.Contains(err.Error(), "no free rule priority left in 100-100") {
		t.Fatalf("exhausted range: %v", err)
	}
}

func TestNFTCommentRoundTrip(t *testing.T) {
	cfg, err := decodeText("network\n tproxy 5000-5545,19765 to-port 5000 mark 0x10 ipv6\n tproxy 80 mark 2\n")
	if err != nil {
		t.Fatal(err)
	}
	rules := desiredNFT(cfg)
	if len(rules) != 2+4+1 {
		t.Fatalf("got %d rules: %+v", len(rules), rules)
	}
	for _, r := range rules {
		back, ok := parseNFTComment(r.comment())
		if !ok || back != r {
			t.Errorf("%q parsed back as %+v, %v", r.comment(), back, ok)
		}
	}
	for _, bad := range []string{"", "appl v1 socket mark", "appl v0 socket mark 0x1", "appl v1 tproxy ipx dport 1-2 to 0 mark 0x1", "appl v1 socket mark 0x1 extra"} {
		if _, ok := parseNFTComment(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// The seed-000 example of docs/network.md, planned against a box as it was before.
func TestSeed000PlanText(t *testing.T) {
	st := &State{names: map[int]string{1: "lo", 2: "enp1s0f0", 3: "enp1s0f1"}}
	st.Links = []LinkState{{Name: "lo", Index: 1, Kind: "device", MTU: 65536, Up: true},
		{Name: "enp1s0f0", Index: 2, Kind: "device", MTU: 1500, Up: true},
		{Name: "enp1s0f1", Index: 3, Kind: "device", MTU: 1500, Up: true}}
	for i, a := range []string{"10.0.0.1/24", "192.168.1.1/24"} {
		st.Addrs = append(st.Addrs, AddrState{Link: st.names[i+2], Prefix: netip.MustParsePrefix(a), Permanent: true})
	}
	cfg, err := decodeText(`network
    bridge br0 ports enp1s0f0 address 10.0.0.1/24
    interface enp1s0f1 address 192.168.1.1/24
    default-gateway 10.0.0.254
    tproxy 5000-5545 19765
`)
	if err != nil {
		t.Fatal(err)
	}
	p, err := planFrom(st, cfg, Options{AdminAddr: netip.MustParseAddr("10.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	want := `+ bridge br0
~ link enp1s0f0: master br0
- address 10.0.0.1/24 dev enp1s0f0 (moved to bridge br0)
~ link br0: up
+ address 10.0.0.1/24 dev br0
+ route 0.0.0.0/0 via 10.0.0.254 table main metric 0 proto 97
+ route local 0.0.0.0/0 dev lo table 100 metric 0 proto 97
+ ipv4 rule priority 10000 fwmark 0x1/0xffffffff lookup 100
+ nftables table inet appl
      chain prerouting (filter hook prerouting priority mangle, policy accept):
        tcp packet of a transparent socket: mark 0x1, accept
        ip tcp dport 5000-5545: tproxy to its own port, mark 0x1, accept
        ip tcp dport 19765: tproxy to its own port, mark 0x1, accept
9 network change(s)
`
	if got := p.String(); got != want {
		t.Fatalf("plan:\n%s\nwant:\n%s", got, want)
	}
}
