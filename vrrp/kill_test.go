package vrrp

import (
	"testing"
	"time"

	"appl/internal/testbed"
)

// SIGKILL of the master with keepalived's default timing (VRRPv2, 1 s adverts), appl and
// keepalived side by side in the same bed: the failover time of each, and what happens
// to the dead master's VIP (appl's expires by itself, keepalived's stays).
func TestSigkillVersusKeepalived(t *testing.T) {
	if testing.Short() {
		t.Skip("long scenario (1 s adverts, ~20 s): skipped with -short, runs in CI")
	}
	requireKeepalived(t)
	p := newPairBed(t)
	fig := &figures{t: t}
	defer fig.print()
	w1, w2 := watchAddrs(t, p.n[0], "eth0"), watchAddrs(t, p.n[1], "eth0")
	cl := pollVIP(t, p.client, vip)
	has := func(w *addrWatch) func() bool { return func() bool { h, _ := w.has(vip); return h } }
	conf := func(prio int) string { return vrrpConf("VI", prio, "version 2", "advert-int 1s") }

	// appl pair.
	c1 := p.startChild(p.n[0], conf(200))
	s2 := startInproc(t, p.n[1], conf(100))
	testbed.Eventually(t, 8*time.Second, 10*time.Millisecond, "appl n1 master", func() bool { return has(w1)() && s2.state("VI") == "BACKUP" })
	cl.waitServed(t, "n1", time.Now(), 2*time.Second)
	_, lft := w1.has(vip)
	t0 := time.Now()
	c1.Kill()
	applFail := cl.waitServed(t, "n2", t0, 6*time.Second)
	testbed.Eventually(t, 8*time.Second, 10*time.Millisecond, "dead appl master's VIP expires", func() bool { return !has(w1)() })
	applGone := time.Since(t0)
	fig.add("appl, VRRPv2 1s: SIGKILL of master -> client served by backup after %v", applFail.Round(time.Millisecond))
	fig.add("appl: dead master's VIP (valid_lft %ds at the kill) left its interface after %v", lft, applGone.Round(10*time.Millisecond))
	s2.stop(t)
	testbed.Eventually(t, 3*time.Second, 10*time.Millisecond, "VIPs released", func() bool { return !has(w1)() && !has(w2)() })

	// keepalived pair, same bed, same timing.
	k1 := p.startKeepalived(p.n[0], kaConf(200, 2, "1"))
	k2 := p.startKeepalived(p.n[1], kaConf(100, 2, "1"))
	testbed.Eventually(t, 10*time.Second, 10*time.Millisecond, "keepalived n1 master", func() bool { return has(w1)() && !has(w2)() })
	cl.waitServed(t, "n1", time.Now(), 2*time.Second)
	t0 = time.Now()
	k1.kill()
	kaFail := cl.waitServed(t, "n2", t0, 6*time.Second)
	fig.add("keepalived, VRRPv2 1s: SIGKILL of master -> client served by backup after %v", kaFail.Round(time.Millisecond))
	// Watch the dead keepalived's VIP for as long as appl needed to drop its own, plus 1 s.
	stale := true
	for end := t0.Add(applGone + time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if !has(w1)() {
			stale = false
			break
		}
	}
	fig.add("keepalived: dead master's VIP still on its interface %v after the kill: %v (stays until restart)", (applGone + time.Second).Round(10*time.Millisecond), stale)
	if !stale {
		t.Log("note: keepalived's VIP disappeared by itself in this run")
	}
	k2.stop()

	if applFail > kaFail+300*time.Millisecond {
		t.Errorf("appl failover %v slower than keepalived's %v in the same bed", applFail, kaFail)
	}
	if applGone > time.Duration(lft+2)*time.Second {
		t.Errorf("dead master's VIP lingered %v, lifetime was %ds", applGone, lft)
	}
}
