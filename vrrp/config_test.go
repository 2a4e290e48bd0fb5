package vrrp

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"appl/internal/cfgfile"
	"appl/vrrp/fsm"
)

func decodeString(t *testing.T, src string) (*Config, error) {
	t.Helper()
	f, err := cfgfile.Parse("appl.cfg", []byte(src), cfgfile.Options{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("lexer: %v", err)
	}
	return Decode(f)
}

func TestDecodeFull(t *testing.T) {
	cfg, err := decodeString(t, `
global
    maxconn 100
vrrp VI_1
    interface eth0
    vrid 51
    priority 150
    advert-int 100ms
    version 3
    address 198.18.1.100/24
    address 198.18.2.100 dev eth1
    preempt delay 30s
    unicast-src 198.18.1.1
    unicast-peer 198.18.1.2 198.18.1.3
    track-interface eth1 weight -20
    track-check be_app weight 0
    track-script "killall -0 haproxy" interval 2s rise 2 fall 3 weight 10
    notify "/usr/local/bin/notify.sh"
    notify-master "/bin/true"
    garp-repeat 3
    garp-refresh 60s
    vip-lifetime 5s
carp c4
    interface hn1
    vhid 4
    advskew 100
    pass passwd4
    address 10.2.2.4/24
    preempt
vrrp-group G
    member VI_1 c4
    notify-fault "/bin/false"
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Instances) != 2 || len(cfg.Groups) != 1 {
		t.Fatalf("%d instances %d groups", len(cfg.Instances), len(cfg.Groups))
	}
	v := cfg.Instances[0]
	if v.Proto != fsm.VRRP || v.VRID != 51 || v.Priority != 150 || v.Interval != 100*time.Millisecond || v.Version != 3 ||
		!v.Preempt || v.PreemptDelay != 30*time.Second || v.UnicastSrc != netip.MustParseAddr("198.18.1.1") ||
		len(v.UnicastPeers) != 2 || v.TrackInterfaces[0] != (Track{"eth1", -20}) || v.TrackChecks[0] != (Track{"be_app", 0}) ||
		v.GARPRepeat != 3 || v.GARPRefresh != time.Minute || v.VIPLifetime != 5*time.Second || v.NotifyMaster != "/bin/true" {
		t.Fatalf("vrrp decoded wrong: %+v", v)
	}
	if v.Addresses[0].Prefix != netip.MustParsePrefix("198.18.1.100/24") || v.Addresses[1] != (VIP{netip.MustParsePrefix("198.18.2.100/32"), "eth1"}) {
		t.Fatalf("addresses: %+v", v.Addresses)
	}
	sc := v.TrackScripts[0]
	if sc.Command != "killall -0 haproxy" || sc.Interval != 2*time.Second || sc.Rise != 2 || sc.Fall != 3 || sc.Weight != 10 || sc.Timeout != 2*time.Second {
		t.Fatalf("script: %+v", sc)
	}
	c := cfg.Instances[1]
	if c.Proto != fsm.CARP || c.VRID != 4 || c.AdvBase != 1 || c.AdvSkew != 100 || c.Pass != "passwd4" || !c.Preempt {
		t.Fatalf("carp decoded wrong: %+v", c)
	}
	// Default lifetime: 3 intervals (1+100/256 s each) + 1s, rounded up: 6s.
	if c.VIPLifetime != 6*time.Second {
		t.Fatalf("carp default lifetime %v", c.VIPLifetime)
	}
}

func TestDecodeDefaults(t *testing.T) {
	cfg, err := decodeString(t, "vrrp v\n interface eth0\n vrid 1\n address 198.18.0.1\ncarp c\n interface eth0\n vhid 1\n address 198.18.0.2\n")
	if err != nil {
		t.Fatal(err)
	}
	v, c := cfg.Instances[0], cfg.Instances[1]
	if v.Priority != 100 || v.Interval != time.Second || v.Version != 2 || !v.Preempt || v.GARPRepeat != 5 || v.VIPLifetime != 4*time.Second {
		t.Fatalf("vrrp defaults: %+v", v)
	}
	if c.Preempt || c.AdvBase != 1 || c.AdvSkew != 0 {
		t.Fatalf("carp defaults: %+v", c)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1\n bogus 1\n", "appl.cfg:5: bogus: unknown keyword (expected one of vrid"},
		{"vrrp a\n interface eth0\n vrid 300\n address 198.18.0.1\n", "appl.cfg:3: vrid: invalid value \"300\""},
		{"vrrp a\n interface eth0\n address 198.18.0.1\n", "appl.cfg:1: vrrp: section \"a\" has no vrid"},
		{"vrrp a\n vrid 1\n address 198.18.0.1\n", "has no interface"},
		{"vrrp a\n interface eth0\n vrid 1\n", "has no virtual address"},
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1\n advert-int 100ms\n", "appl.cfg:5: advert-int: VRRPv2 interval must be whole seconds"},
		{"vrrp a\n interface eth0\n vrid 1\n version 3\n advert-int 15ms\n address 198.18.0.1\n", "multiple of 10ms"},
		{"vrrp a\n interface eth0\n vrid 1\n version 3\n auth-pass x\n address 198.18.0.1\n", "appl.cfg:5: auth-pass: authentication exists only in VRRPv2"},
		{"vrrp a\n interface eth0\n vrid 1\n auth-pass 123456789\n address 198.18.0.1\n", "longer than 8"},
		{"vrrp a\n interface eth0\n vrid 1\n address 2001:db8::1\n", "IPv6 addresses with version 2"},
		{"vrrp a\n interface eth0\n vrid 1\n version 3\n address 2001:db8::1\n address 198.18.0.1\n", "mixes IPv4 and IPv6"},
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1/33\n", "appl.cfg:4: address: invalid address"},
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1\n advskew 3\n", "appl.cfg:5: advskew: is a carp keyword"},
		{"carp a\n interface eth0\n vhid 1\n address 198.18.0.1\n priority 3\n", "appl.cfg:5: priority: is a vrrp keyword"},
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1\nvrrp b\n interface eth0\n vrid 1\n address 198.18.0.2\n", "same interface, family and id"},
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1\nvrrp a\n interface eth1\n vrid 2\n address 198.18.0.2\n", "already defined at appl.cfg:1"},
		{"vrrp-group g\n member nope\n", "unknown instance \"nope\""},
		{"vrrp-group g\n", "has no members"},
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1\n state MASTER\n", "appl.cfg:5: state: not supported by appl (keepalived's state"},
		{"carp a\n interface eth0\n vhid 1\n address 198.18.0.1\n use-vmac\n", "appl.cfg:5: use-vmac: is not available for carp"},
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1\n use-vmac a b\n", "appl.cfg:5: use-vmac: takes at most one argument"},
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1\n use-vmac waytoolonginterfacename\n", "longer than 15 characters"},
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1\n use-vmac eth0\n", "appl.cfg:5: use-vmac: the macvlan name \"eth0\" is the instance's own interface"},
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1\n vmac-xmit-base\n", "appl.cfg:5: vmac-xmit-base: needs use-vmac"},
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1\n use-vmac\n unicast-peer 198.18.0.9\n", "appl.cfg:5: use-vmac: with unicast-peer needs vmac-xmit-base"},
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1\n use-vmac\nvrrp b\n interface eth1\n vrid 1\n address 198.18.0.2\n use-vmac\n", "uses the macvlan name \"vrrp.1\" already used by \"a\""},
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1\n use-vmac vx\nvrrp b\n interface vx\n vrid 2\n address 198.18.0.2\n", "runs on interface \"vx\", the macvlan \"a\" creates"},
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1\n track-check x weight 999\n", "track-check: bad arguments"},
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1\n track-script cmd interval\n", "\"interval\" needs a value"},
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1\n preempt soon\n", "expected `preempt` or `preempt delay DURATION`"},
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1\n vip-lifetime 1500ms\n", "whole seconds"},
		{"vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1\n vip-lifetime 1s\n", "shorter than two advertisement intervals"},
		{"vrrp\n", "missing name"},
	}
	for _, c := range cases {
		_, err := decodeString(t, c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %q", c.src, err, c.want)
		}
		if err != nil && len(cfgfile.AsErrors(err)) == 0 {
			t.Errorf("%q: error not positioned: %v", c.src, err)
		}
	}
}

func TestDecodeVMAC(t *testing.T) {
	cfg, err := decodeString(t, `
vrrp a
    interface eth0
    vrid 51
    address 198.18.1.100/24
    use-vmac
vrrp b
    interface eth0
    vrid 51
    version 3
    address 2001:db8::1
    use-vmac
vrrp c
    interface eth0
    vrid 52
    address 198.18.1.101/24
    use-vmac vmac52
    vmac-xmit-base
    unicast-peer 198.18.1.2
vrrp d
    interface eth0
    vrid 53
    address 198.18.1.102/24
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		use  bool
		xmit bool
	}{{"vrrp.51", true, false}, {"vrrp6.51", true, false}, {"vmac52", true, true}, {"", false, false}}
	for i, w := range want {
		in := cfg.Instances[i]
		if in.VMACName != w.name || in.UseVMAC != w.use || in.VMACXmitBase != w.xmit {
			t.Errorf("%s: vmac %q use %v xmit-base %v, want %+v", in.Name, in.VMACName, in.UseVMAC, in.VMACXmitBase, w)
		}
	}
	if got := vmacAddr(4, 51).String(); got != "00:00:5e:00:01:33" {
		t.Errorf("IPv4 VRID 51 MAC %s", got)
	}
	if got := vmacAddr(6, 255).String(); got != "00:00:5e:00:02:ff" {
		t.Errorf("IPv6 VRID 255 MAC %s", got)
	}
}

// Every keepalived corpus vrrp_instance has a documented appl equivalent; this checks
// the documentation covers every keyword the decoder accepts.
func TestDocsCoverKeywords(t *testing.T) {
	doc := readDoc(t)
	for _, carp := range []bool{false, true} {
		for _, kw := range keywords(carp) {
			if !strings.Contains(doc, "`"+kw) {
				t.Errorf("docs/vrrp.md does not document %q", kw)
			}
		}
	}
}
