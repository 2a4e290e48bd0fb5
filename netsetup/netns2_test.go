package netsetup

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"appl/internal/testbed"
	"appl/netsetup/netsetuptest"
)

// waitDump waits for h's dump to equal want, failing with the differing lines.
func waitDump(t *testing.T, h *testbed.Host, want, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	got := netsetuptest.Dump(t, h)
	for got != want && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		got = netsetuptest.Dump(t, h)
	}
	if got != want {
		t.Fatalf("%s:\n%s", what, lineDiff(want, got))
	}
}

func TestTryRollsBackUnlessConfirmed(t *testing.T) {
	x := netsetuptest.BuildABC(t)
	before := netsetuptest.Dump(t, x.B)
	s := openHost(t, x.B)
	cfg := mustDecode(t, x.NetworkConfig("5000"))
	p, err := PlanFor(s, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	kept, err := Try(context.Background(), s, p, 300*time.Millisecond, nil)
	if err != nil || kept {
		t.Fatalf("unconfirmed try: kept=%v err=%v", kept, err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("rolled back after %v, before the timeout", d)
	}
	waitDump(t, x.B, before, "unconfirmed try did not restore B")

	confirm := make(chan bool, 1)
	confirm <- true
	p, err = PlanFor(s, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	kept, err = Try(context.Background(), s, p, 10*time.Second, confirm)
	if err != nil || !kept {
		t.Fatalf("confirmed try: kept=%v err=%v", kept, err)
	}
	if err := Verify(s, cfg); err != nil {
		t.Fatal(err)
	}
}

func TestFailedApplyRollsBack(t *testing.T) {
	x := netsetuptest.BuildABC(t)
	before := netsetuptest.Dump(t, x.B)
	s := openHost(t, x.B)
	// The bridge and the address move succeed, then the route cannot be added.
	cfg := mustDecode(t, x.NetworkConfig("5000")+"    route 198.18.50.0/24 via 198.18.77.1\n")
	p, err := PlanFor(s, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Apply(s, p)
	if err == nil || !strings.Contains(err.Error(), "route 198.18.50.0/24 via 198.18.77.1") || !strings.Contains(err.Error(), "(rolled back)") {
		t.Fatalf("apply: %v", err)
	}
	waitDump(t, x.B, before, "failed apply did not restore B")
}

// Rollback restores a table netsetup had written before, not just "no table".
func TestRollbackRestoresPreviousTable(t *testing.T) {
	x := netsetuptest.BuildABC(t)
	others := addOtherTables(t, x.B)
	s := openHost(t, x.B)
	cfg1 := mustDecode(t, x.NetworkConfig("5000"))
	p, err := PlanFor(s, cfg1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(s, p); err != nil {
		t.Fatal(err)
	}
	mid := netsetuptest.Dump(t, x.B)
	cfg2 := mustDecode(t, x.NetworkConfig("6000", "7000-7100", "to-port", "7000", "priority", "10007", "ipv6")+
		"    rule fwmark 0x20 lookup 120\n    route 198.18.60.0/24 via 198.18.2.2 table 120\n")
	p, err = PlanFor(s, cfg2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second plan:\n%s", p)
	snap, err := Apply(s, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(s, cfg2); err != nil {
		t.Fatal(err)
	}
	ruleset := x.B.MustRun("nft", "list", "table", "inet", "appl")
	for _, want := range []string{"tcp dport 7000-7100", "tproxy ip to :7000", "tproxy ip6 to :7000", "socket transparent 1"} {
		if !strings.Contains(ruleset, want) {
			t.Errorf("nft table lacks %q:\n%s", want, ruleset)
		}
	}
	if rules := x.B.MustRun("ip", "-6", "rule"); !strings.Contains(rules, "10007:\tfrom all fwmark 0x1 lookup 100") {
		t.Errorf("ipv6 rule missing:\n%s", rules)
	}
	if err := Rollback(s, snap); err != nil {
		t.Fatal(err)
	}
	waitDump(t, x.B, mid, "rollback did not restore the first apply's state")
	if got := otherTablesDump(t, x.B); got != others {
		t.Fatalf("other tables changed:\n%s", got)
	}
	p, err = PlanFor(s, cfg1, Options{})
	if err != nil || !p.Empty() {
		t.Fatalf("after rollback the first config is not in force: %v\n%s", err, p)
	}
}

func TestCLI(t *testing.T) {
	x := netsetuptest.BuildABC(t)
	before := netsetuptest.Dump(t, x.B)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "appl.cfg")
	if err := os.WriteFile(cfgPath, []byte(x.NetworkConfig("5000")), 0o644); err != nil {
		t.Fatal(err)
	}
	ns := "/run/netns/" + x.B.NS
	t.Setenv("SSH_CONNECTION", "")
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := runCLI(args, strings.NewReader(stdin), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errOut := run("", "plan", "--netns", ns, "-f", cfgPath)
	if code != 0 || !strings.Contains(out, "+ bridge br0") {
		t.Fatalf("plan: %d\n%s%s", code, out, errOut)
	}
	code, _, _ = run("", "apply", "--dry-run", "--netns", ns, "-f", cfgPath)
	if code != 0 || netsetuptest.Dump(t, x.B) != before {
		t.Fatalf("dry-run: %d or changed state", code)
	}
	// --try with no confirmation (stdin at EOF, as when the SSH session dropped).
	code, out, errOut = run("", "apply", "--try", "30", "--netns", ns, "-f", cfgPath)
	if code != 1 || !strings.Contains(out, "rolled back") {
		t.Fatalf("unconfirmed try: %d\n%s%s", code, out, errOut)
	}
	waitDump(t, x.B, before, "unconfirmed --try did not restore B")
	code, out, errOut = run("\n", "apply", "--try", "30", "--netns", ns, "-f", cfgPath)
	if code != 0 || !strings.Contains(out, "confirmed") {
		t.Fatalf("confirmed try: %d\n%s%s", code, out, errOut)
	}
	code, out, _ = run("", "apply", "--netns", ns, "-f", cfgPath)
	if code != 0 || !strings.Contains(out, "no network change") {
		t.Fatalf("second apply: %d\n%s", code, out)
	}
	// Taking away the admin's address is refused, the SSH session's address by default.
	cut := filepath.Join(dir, "cut.cfg")
	_ = os.WriteFile(cut, []byte("network\n interface ext0 address 198.18.1.9/24 exclusive\n"), 0o644)
	t.Setenv("SSH_CONNECTION", "198.18.1.2 50000 198.18.1.1 22")
	code, _, errOut = run("", "apply", "--netns", ns, "-f", cut)
	if code != 2 || !strings.Contains(errOut, "you are connected through (198.18.1.1 on ext0)") {
		t.Fatalf("admin cut: %d %s", code, errOut)
	}
	if !x.B.HasAddr("ext0", "198.18.1.1") {
		t.Fatal("refused plan changed the address")
	}
	code, _, errOut = run("", "apply", "--force", "--netns", ns, "-f", cut)
	if code != 0 || x.B.HasAddr("ext0", "198.18.1.1") || !x.B.HasAddr("ext0", "198.18.1.9") {
		t.Fatalf("forced: %d %s", code, errOut)
	}
	bad := filepath.Join(dir, "bad.cfg")
	_ = os.WriteFile(bad, []byte("network\n tproxy 99999\n"), 0o644)
	if code, _, errOut := run("", "plan", "--netns", ns, "-f", bad); code != 2 || !strings.Contains(errOut, "bad.cfg:2: tproxy: bad port") {
		t.Fatalf("bad config: %d %s", code, errOut)
	}
	if code, _, _ := run("", "nope"); code != 2 {
		t.Fatal("usage")
	}
}
