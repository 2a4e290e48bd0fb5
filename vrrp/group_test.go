package vrrp

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"appl/internal/testbed"
)

const vip2 = "198.18.1.101"

// A sync group moves together: a script check failing on one member of the master's
// group faults both members, the peer takes both VIPs; notify hooks run with
// keepalived's arguments.
func TestSyncGroupScriptAndHooks(t *testing.T) {
	p := newPairBed(t)
	fig := &figures{t: t}
	defer fig.print()
	w1, w2 := watchAddrs(t, p.n[0], "eth0"), watchAddrs(t, p.n[1], "eth0")
	flag := filepath.Join(p.dir, "healthy")
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	hookLog := filepath.Join(p.dir, "hooks.log")
	conf := func(prio int, extraA ...string) string {
		return fmt.Sprintf(`vrrp A
    interface eth0
    vrid 51
    priority %d
    version 3
    advert-int 100ms
    address %s/24
%svrrp B
    interface eth0
    vrid 52
    priority %d
    version 3
    advert-int 100ms
    address %s/24
vrrp-group G
    member A B
`, prio, vip, indent(extraA), prio, vip2)
	}
	s2 := startInproc(t, p.n[1], conf(100))
	s1 := startInproc(t, p.n[0], conf(200,
		fmt.Sprintf(`track-script "test -e %s" interval 50ms fall 2 rise 2`, flag),
		fmt.Sprintf(`notify "echo >>%s"`, hookLog),
		fmt.Sprintf(`notify-fault "echo fault-hook >>%s"`, hookLog)))
	both := func(w *addrWatch) bool {
		a, _ := w.has(vip)
		b, _ := w.has(vip2)
		return a && b
	}
	none := func(w *addrWatch) bool {
		a, _ := w.has(vip)
		b, _ := w.has(vip2)
		return !a && !b
	}
	testbed.Eventually(t, 5*time.Second, 10*time.Millisecond, "n1 master of A and B", func() bool { return both(w1) && none(w2) })

	t0 := time.Now()
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 3*time.Second, 5*time.Millisecond, "n2 takes both VIPs", func() bool { return both(w2) && none(w1) })
	fig.add("script check failed on member A: both group members moved to the peer after %v", time.Since(t0).Round(time.Millisecond))
	if s1.state("A") != "FAULT" || s1.state("B") != "FAULT" {
		t.Fatalf("states A=%s B=%s, expected both FAULT", s1.state("A"), s1.state("B"))
	}
	testbed.Eventually(t, 3*time.Second, 10*time.Millisecond, "hooks ran", func() bool {
		b, _ := os.ReadFile(hookLog)
		return strings.Contains(string(b), "INSTANCE A FAULT") && strings.Contains(string(b), "fault-hook")
	})

	t0 = time.Now()
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 3*time.Second, 5*time.Millisecond, "n1 takes both back", func() bool { return both(w1) && none(w2) })
	fig.add("script check recovered: both members back on n1 after %v", time.Since(t0).Round(time.Millisecond))
	if s2.state("A") != "BACKUP" || s2.state("B") != "BACKUP" {
		t.Fatalf("n2 states A=%s B=%s", s2.state("A"), s2.state("B"))
	}
	b, _ := os.ReadFile(hookLog)
	if !strings.Contains(string(b), "INSTANCE A MASTER 200") {
		t.Fatalf("notify hook output: %q", b)
	}
}

// Reload keeps an unchanged instance's state, applies a new priority at once, starts
// added instances and stops removed ones (VIPs released).
func TestReload(t *testing.T) {
	p := newPairBed(t)
	w1, w2 := watchAddrs(t, p.n[0], "eth0"), watchAddrs(t, p.n[1], "eth0")
	base := vrrpConf("VI", 200, "version 3", "advert-int 100ms")
	s2 := startInproc(t, p.n[1], vrrpConf("VI", 100, "version 3", "advert-int 100ms"))
	s1 := startInproc(t, p.n[0], base)
	testbed.Eventually(t, 3*time.Second, 10*time.Millisecond, "n1 master", func() bool { return s1.state("VI") == "MASTER" })
	since := s1.sp.Status()[0].Since
	reload := func(text string) {
		t.Helper()
		cfg, err := decodeString(t, text)
		if err != nil {
			t.Fatal(err)
		}
		if err := s1.sp.Reload(cfg); err != nil {
			t.Fatal(err)
		}
	}
	// Same identity, added instance.
	reload(base + "vrrp EXTRA\n    interface eth0\n    vrid 60\n    priority 200\n    version 3\n    advert-int 100ms\n    address " + vip2 + "/24\n")
	testbed.Eventually(t, 3*time.Second, 10*time.Millisecond, "added instance master", func() bool { h, _ := w1.has(vip2); return h })
	if st := s1.sp.Status(); s1.state("VI") != "MASTER" || !st[0].Since.Equal(since) {
		t.Fatalf("unchanged instance restarted: %+v", st[0])
	}
	// Lower priority: n2 preempts. Removed instance: its VIP is released.
	reload(vrrpConf("VI", 50, "version 3", "advert-int 100ms"))
	testbed.Eventually(t, 3*time.Second, 5*time.Millisecond, "n2 preempts after reload", func() bool {
		h, _ := w2.has(vip)
		return h && s2.state("VI") == "MASTER" && s1.state("VI") == "BACKUP"
	})
	if h, _ := w1.has(vip2); h {
		t.Fatal("removed instance kept its VIP")
	}
	if st := s1.sp.Status(); len(st) != 1 || st[0].EffectivePriority != 50 {
		t.Fatalf("status after reload: %+v", st)
	}
}
