package netsetup

import (
	"os"
	"strings"
	"testing"
	"time"

	"appl/internal/cfgfile"
	"appl/internal/testbed"
	"appl/netsetup/netsetuptest"
)

func mustDecode(t *testing.T, text string) *Config {
	t.Helper()
	f, err := cfgfile.Parse("appl.cfg", []byte(text), cfgfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openHost(t *testing.T, h *testbed.Host) *System {
	t.Helper()
	s, err := OpenNetNS("/run/netns/" + h.NS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

const otherTable = `table inet other {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 9999 counter drop
	}
}
table ip filter {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ip saddr 198.18.9.9 drop
	}
}
`

func addOtherTables(t *testing.T, h *testbed.Host) string {
	t.Helper()
	cmd := h.Cmd("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(otherTable)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	return otherTablesDump(t, h)
}

func otherTablesDump(t *testing.T, h *testbed.Host) string {
	t.Helper()
	return h.MustRun("nft", "list", "table", "inet", "other") + h.MustRun("nft", "list", "table", "ip", "filter")
}

func TestTransparentABC(t *testing.T) {
	x := netsetuptest.BuildABC(t)
	others := addOtherTables(t, x.B)
	// A route the config replaces: rollback must bring this one back.
	x.B.MustRun("ip", "route", "add", "198.18.70.0/24", "via", "198.18.1.2")
	before := netsetuptest.Dump(t, x.B)
	netsetuptest.Backend(t, x.C, 5000)
	relay := netsetuptest.StartRelay(t, x.B, "0.0.0.0:5000")

	// Before netsetup, B only routes: the relay sees nothing.
	got, err := netsetuptest.ClientSees(x.A, x.BackendAddr+":5000")
	if err != nil || got != "peer="+x.ClientAddr+":"+strings.Split(got, ":")[1] || relay.Accepted() != 0 {
		t.Fatalf("plain routing: %q %v, relay accepted %d", got, err, relay.Accepted())
	}

	s := openHost(t, x.B)
	cfg := mustDecode(t, x.NetworkConfig("5000", "19765")+
		"    route 198.18.70.0/24 via 198.18.2.2\n    default-gateway 198.18.1.2\n")
	p, err := PlanFor(s, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("plan:\n%s", p)
	for _, want := range []string{"+ bridge br0", "~ link lan0: master br0", "- address 198.18.2.1/24 dev lan0 (moved to bridge br0)",
		"+ address 198.18.2.1/24 dev br0", "+ route local 0.0.0.0/0 dev lo table 100", "+ ipv4 rule priority 10000 fwmark 0x1/0xffffffff lookup 100",
		"+ nftables table inet appl", "ip tcp dport 5000: tproxy to its own port, mark 0x1, accept",
		"+ route 198.18.70.0/24 via 198.18.2.2 table main metric 0 proto 97", "+ route 0.0.0.0/0 via 198.18.1.2 table main metric 0 proto 97"} {
		if !strings.Contains(p.String(), want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	snap, err := Apply(s, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(s, cfg); err != nil {
		t.Fatal(err)
	}
	p2, err := PlanFor(s, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !p2.Empty() {
		t.Fatalf("second plan not empty:\n%s", p2)
	}
	t.Logf("nft:\n%s", x.B.MustRun("nft", "list", "table", "inet", "appl"))
	if r := x.B.MustRun("ip", "route", "show", "198.18.70.0/24"); !strings.Contains(r, "via 198.18.2.2 dev br0 proto 97") {
		t.Fatalf("route not replaced: %s", r)
	}
	if r := x.B.MustRun("ip", "route", "show", "default"); !strings.Contains(r, "default via 198.18.1.2 dev ext0 proto 97") {
		t.Fatalf("default gateway: %s", r)
	}
	if !x.B.HasAddr("br0", x.BLanAddr) || x.B.HasAddr(x.LanIf, x.BLanAddr) {
		t.Fatal("address not moved to br0")
	}
	if got := otherTablesDump(t, x.B); got != others {
		t.Fatalf("other tables changed by apply:\n%s\nwas:\n%s", got, others)
	}

	// Intercepted: the relay takes the connection and the backend sees the client itself.
	var line string
	testbed.Eventually(t, 10*time.Second, 50*time.Millisecond, "a connection through the relay", func() bool {
		line, err = netsetuptest.ClientSees(x.A, x.BackendAddr+":5000")
		return err == nil && relay.Accepted() > 0
	})
	if !strings.HasPrefix(line, "peer="+x.ClientAddr+":") {
		t.Fatalf("backend saw %q, want the client's address %s", line, x.ClientAddr)
	}
	if seen := relay.Seen(); len(seen) == 0 || seen[len(seen)-1] != x.ClientAddr+" -> "+x.BackendAddr+":5000" {
		t.Fatalf("relay saw %v", seen)
	}

	if err := Rollback(s, snap); err != nil {
		t.Fatal(err)
	}
	var after string
	deadline := time.Now().Add(5 * time.Second)
	for after = netsetuptest.Dump(t, x.B); after != before && time.Now().Before(deadline); after = netsetuptest.Dump(t, x.B) {
		time.Sleep(50 * time.Millisecond)
	}
	if after != before {
		_ = os.WriteFile("/tmp/boot-before.txt", []byte(before), 0o644)
		_ = os.WriteFile("/tmp/boot-after.txt", []byte(after), 0o644)
		t.Fatalf("rollback did not restore B:\n%s", lineDiff(before, after))
	}
	if got := otherTablesDump(t, x.B); got != others {
		t.Fatalf("other tables changed by rollback:\n%s", got)
	}
	// And B routes plainly again.
	n := relay.Accepted()
	got, err = netsetuptest.ClientSees(x.A, x.BackendAddr+":5000")
	if err != nil || !strings.HasPrefix(got, "peer="+x.ClientAddr+":") || relay.Accepted() != n {
		t.Fatalf("after rollback: %q %v (relay %d -> %d)", got, err, n, relay.Accepted())
	}
}

// lineDiff lists the lines only in a (-) or only in b (+).
func lineDiff(a, b string) string {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		count[l]--
	}
	var out []string
	for l, n := range count {
		switch {
		case n > 0:
			out = append(out, "- "+l)
		case n < 0:
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
