package vrrp

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"appl/internal/testbed"
	"appl/vrrp/packet"
)

func carpConf(name string, advbase, advskew int, pass string, extra ...string) string {
	return fmt.Sprintf("carp %s\n    interface eth0\n    vhid 4\n    advbase %d\n    advskew %d\n    pass %s\n    address %s/24\n%s",
		name, advbase, advskew, pass, vip, indent(extra))
}

// The seed's FreeBSD setup (vhid 4, advskew 0 vs 100, pass, preempt): the lower advskew
// is master; adverts signed with a wrong password are rejected and counted; a clean
// stop hands over at once.
func TestCARPAdvskewAndPassword(t *testing.T) {
	p := newPairBed(t)
	fig := &figures{t: t}
	defer fig.print()
	w1, w2 := watchAddrs(t, p.n[0], "eth0"), watchAddrs(t, p.n[1], "eth0")
	cl := pollVIP(t, p.client, vip)
	s2 := startInproc(t, p.n[1], carpConf("c4", 1, 100, "passwd4", "preempt"))
	s1 := startInproc(t, p.n[0], carpConf("c4", 1, 0, "passwd4", "preempt"))
	testbed.Eventually(t, 6*time.Second, 10*time.Millisecond, "advskew 0 is master", func() bool {
		h1, _ := w1.has(vip)
		h2, _ := w2.has(vip)
		return h1 && !h2 && s1.state("c4") == "MASTER" && s2.state("c4") == "BACKUP"
	})
	cl.waitServed(t, "n1", time.Now(), 2*time.Second)

	// Forged adverts from the client: better (advskew 0, higher address), wrong key.
	snd := newRawSender(t, p.client, "198.18.1.10")
	vips := []netip.Addr{mustAddr(vip)}
	forged := func(key string) []byte {
		return packet.MarshalCARP(&packet.CARP{VHID: 4, AdvBase: 1, AdvSkew: 0, Counter: 7}, packet.CARPKey(key), vips)
	}
	const n = 5
	for range n {
		snd.send(t, 255, forged("passwd44"))
	}
	testbed.Eventually(t, 2*time.Second, 10*time.Millisecond, "wrong-password adverts counted", func() bool {
		return s1.sp.Counters().BadAuth >= n && s2.sp.Counters().BadAuth >= n
	})
	fig.add("CARP: %d adverts with a wrong password: n1 BadAuth=%d, n2 BadAuth=%d, states %s/%s",
		n, s1.sp.Counters().BadAuth, s2.sp.Counters().BadAuth, s1.state("c4"), s2.state("c4"))
	if s1.state("c4") != "MASTER" || s2.state("c4") != "BACKUP" {
		t.Fatal("a rejected advert changed state")
	}

	t0 := time.Now()
	s1.stop(t)
	d := cl.waitServed(t, "n2", t0, 3*time.Second)
	fig.add("CARP advbase 1: clean stop of master (advbase/advskew 255) -> backup serves after %v", d.Round(time.Millisecond))
	if d > time.Second {
		t.Errorf("clean-stop failover %v", d)
	}
	// Positive control: the forged advert with the right key is obeyed.
	snd.send(t, 255, forged("passwd4"))
	testbed.Eventually(t, time.Second, 5*time.Millisecond, "valid better advert obeyed", func() bool { return s2.state("c4") == "BACKUP" })
}

// CARP with OpenBSD's advbase 0 (sub-second): SIGKILL of the master, failover measured.
func TestCARPFastSigkill(t *testing.T) {
	p := newPairBed(t)
	fig := &figures{t: t}
	defer fig.print()
	w1 := watchAddrs(t, p.n[0], "eth0")
	cl := pollVIP(t, p.client, vip)
	c1 := p.startChild(p.n[0], carpConf("c4", 0, 26, "pw", "preempt"))
	s2 := startInproc(t, p.n[1], carpConf("c4", 0, 52, "pw", "preempt"))
	testbed.Eventually(t, 5*time.Second, 10*time.Millisecond, "n1 master", func() bool {
		h, _ := w1.has(vip)
		return h && s2.state("c4") == "BACKUP"
	})
	cl.waitServed(t, "n1", time.Now(), 2*time.Second)
	t0 := time.Now()
	c1.Kill()
	d := cl.waitServed(t, "n2", t0, 3*time.Second)
	fig.add("CARP advbase 0 advskew 26/52 (~100/200 ms adverts): SIGKILL of master -> backup serves after %v", d.Round(time.Millisecond))
	if d > time.Second {
		t.Errorf("failover %v over the 1s target", d)
	}
	testbed.Eventually(t, 5*time.Second, 10*time.Millisecond, "dead master's VIP expires", func() bool { h, _ := w1.has(vip); return !h })
	fig.add("CARP: dead master's VIP expired after %v", time.Since(t0).Round(10*time.Millisecond))
}
