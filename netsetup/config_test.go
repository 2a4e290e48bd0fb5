package netsetup

import (
	"net/netip"
	"strings"
	"testing"

	"appl/internal/cfgfile"
)

func decodeText(text string) (*Config, error) {
	f, err := cfgfile.Parse("n.cfg", []byte(text), cfgfile.Options{})
	if err != nil {
		return nil, err
	}
	return Decode(f)
}

func TestDecodeSeed000(t *testing.T) {
	c, err := decodeText(`network
    bridge br0 ports enp1s0f0 address 198.18.2.1/24
    interface enp1s0f1 address 198.18.1.1/24 mtu 9000
    default-gateway 198.18.2.254
    route 198.18.8.0/24 via 198.18.1.254 dev enp1s0f1 table 200 metric 5
    route local 198.18.9.0/24 dev lo
    rule fwmark 0x2/0xff lookup 200 priority 10500 ipv6
    tproxy 5000-5545,19765 mark 1 table 100
    nft-table appl2
    rule-priorities 10000-10999
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Bridges) != 1 || c.Bridges[0].Name != "br0" || len(c.Bridges[0].Ports) != 1 || c.Bridges[0].Ports[0] != "enp1s0f0" ||
		c.Bridges[0].Addrs[0] != netip.MustParsePrefix("198.18.2.1/24") || c.Bridges[0].Down {
		t.Fatalf("bridge %+v", c.Bridges)
	}
	if it := c.Interfaces[0]; it.Name != "enp1s0f1" || it.MTU != 9000 || len(it.Addrs) != 1 {
		t.Fatalf("interface %+v", it)
	}
	if r := c.Routes[0]; r.Dst != netip.MustParsePrefix("0.0.0.0/0") || r.Gw != netip.MustParseAddr("198.18.2.254") || r.Metric != -1 {
		t.Fatalf("default gw %+v", r)
	}
	if r := c.Routes[1]; r.Table != 200 || r.Metric != 5 || r.Dev != "enp1s0f1" {
		t.Fatalf("route %+v", r)
	}
	if r := c.Routes[2]; !r.Local || r.Dev != "lo" {
		t.Fatalf("local route %+v", r)
	}
	if r := c.Rules[0]; r.Mark != 2 || r.Mask != 0xff || r.Table != 200 || r.Priority != 10500 || !r.IPv6 {
		t.Fatalf("rule %+v", r)
	}
	tp := c.TProxy[0]
	if len(tp.Ports) != 2 || tp.Ports[0] != (PortRange{5000, 5545}) || tp.Ports[1] != (PortRange{19765, 19765}) || tp.Mark != 1 || tp.Table != 100 {
		t.Fatalf("tproxy %+v", tp)
	}
	if c.NFTable != "appl2" {
		t.Fatalf("table %q", c.NFTable)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct{ text, want string }{
		{"network\n bridge br0 ports\n", "n.cfg:2: bridge: ports needs interface names"},
		{"network\n bridge br0 address 198.18.1.1/24\n", "n.cfg:2: bridge: br0 has no ports"},
		{"network\n interface eth0 address 198.18.1.300/24\n", `n.cfg:2: interface: bad address "198.18.1.300/24" (expected CIDR`},
		{"network\n interface eth0 mtu 10\n", `bad mtu "10" (expected 68-65535)`},
		{"network\n interface eth0\n interface eth0\n", "n.cfg:3: interface: eth0 already declared at n.cfg:2"},
		{"network\n interface this-name-is-too-long\n", "bad interface name"},
		{"network\n bridge br0 ports eth0\n interface eth0 address 198.18.1.1/24\n", "eth0 is a port of bridge br0 and cannot carry addresses"},
		{"network\n route 198.18.1.1/24 via 198.18.2.1\n", "host bits set (expected 198.18.1.0/24)"},
		{"network\n route 198.18.1.0/24\n", "needs via GW or dev D"},
		{"network\n route 198.18.1.0/24 via 2001:db8::1\n", "different families"},
		{"network\n default-gateway nowhere\n", `bad gateway "nowhere"`},
		{"network\n rule fwmark 1\n", "expected fwmark N[/MASK] lookup T"},
		{"network\n rule fwmark 1 lookup 100 priority 50\n", "priority 50 is outside the range netsetup owns (expected 10000-10999"},
		{"network\n tproxy\n", "expected at least one port"},
		{"network\n tproxy 70000\n", `bad port "70000"`},
		{"network\n tproxy 5000 to-port 0\n", `bad to-port "0"`},
		{"network\n tproxy 5545-5000\n", `bad port "5545-5000"`},
		{"network\n frobnicate\n", "n.cfg:2: frobnicate: unknown directive (expected interface, bridge"},
		{"network lan\n", "n.cfg:1: network: section takes no name"},
		{"network\n rule-priorities 5-2\n", "expected MIN-MAX"},
	}
	for _, c := range cases {
		_, err := decodeText(c.text)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.text, err, c.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("network\n bridge br0 ports lan0 address 198.18.2.1/24\n tproxy 5000-5545,19765 mark 1\n")
	f.Add("network\n route 198.18.8.0/24 via 198.18.1.254 table 200\n rule fwmark 0x2/0xff lookup 200\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := decodeText(text)
		if err != nil {
			return
		}
		// Whatever decodes must plan against an empty namespace without panicking.
		_, _ = planFrom(&State{names: map[int]string{}}, c, Options{})
	})
}
