package vrrp

import (
	"syscall"
	"testing"
	"time"

	"appl/internal/testbed"
)

// Two in-process appl speakers, VRRPv3 at 100 ms: the higher priority wins, a clean stop
// (priority 0) hands over at once, the returning node preempts back, never two masters.
func TestPairCleanStopAndPreempt(t *testing.T) {
	p := newPairBed(t)
	fig := &figures{t: t}
	defer fig.print()
	w1, w2 := watchAddrs(t, p.n[0], "eth0"), watchAddrs(t, p.n[1], "eth0")
	dual := sampleDual(t, w1, w2, vip)
	cl := pollVIP(t, p.client, vip)
	conf := func(prio int) string { return vrrpConf("VI", prio, "version 3", "advert-int 100ms") }

	s2 := startInproc(t, p.n[1], conf(100))
	testbed.Eventually(t, 3*time.Second, 10*time.Millisecond, "n2 master alone", func() bool { return s2.state("VI") == "MASTER" })
	s1 := startInproc(t, p.n[0], conf(200))
	t0 := time.Now()
	testbed.Eventually(t, 3*time.Second, 5*time.Millisecond, "n1 preempts", func() bool { h, _ := w1.has(vip); return h })
	fig.add("preempt by higher priority after join: %v", time.Since(t0).Round(time.Millisecond))
	testbed.Eventually(t, 2*time.Second, 5*time.Millisecond, "n2 releases", func() bool { h, _ := w2.has(vip); return !h })
	if s2.state("VI") != "BACKUP" {
		t.Fatalf("n2 state %s", s2.state("VI"))
	}
	cl.waitServed(t, "n1", time.Now(), 2*time.Second)

	// Clean stop of the master: priority 0, the backup takes over after its skew time.
	t0 = time.Now()
	s1.stop(t)
	d := cl.waitServed(t, "n2", t0, 3*time.Second)
	fig.add("clean stop (priority 0) failover, VRRPv3 100ms: client served by backup after %v", d.Round(time.Millisecond))
	if d > time.Second {
		t.Errorf("clean-stop failover %v over the 1s target", d)
	}
	if h, _ := w1.has(vip); h {
		t.Error("stopped node kept its VIP")
	}
	dual.end()
	fig.add("dual-master samples: %d of %d (10 ms sampling)", dual.dual.Load(), dual.samples.Load())
	if dual.dual.Load() != 0 {
		t.Errorf("%d dual-master samples", dual.dual.Load())
	}
}

// nopreempt keeps a lower master; preempt delay holds the higher node back for the delay.
func TestPairNopreemptAndPreemptDelay(t *testing.T) {
	p := newPairBed(t)
	fig := &figures{t: t}
	defer fig.print()
	w1 := watchAddrs(t, p.n[0], "eth0")
	conf := func(prio int, extra ...string) string {
		return vrrpConf("VI", prio, append([]string{"version 3", "advert-int 100ms"}, extra...)...)
	}
	s2 := startInproc(t, p.n[1], conf(100))
	testbed.Eventually(t, 3*time.Second, 10*time.Millisecond, "n2 master", func() bool { return s2.state("VI") == "MASTER" })

	s1 := startInproc(t, p.n[0], conf(200, "nopreempt"))
	testbed.Eventually(t, 2*time.Second, 10*time.Millisecond, "n1 backup", func() bool { return s1.state("VI") == "BACKUP" })
	// Observe for 1 s, about three master-down intervals: n1 must never take over.
	end := time.Now().Add(time.Second)
	for time.Now().Before(end) {
		if h, _ := w1.has(vip); h || s1.state("VI") != "BACKUP" || s2.state("VI") != "MASTER" {
			t.Fatalf("nopreempt violated: n1=%s n2=%s n1 has VIP=%v", s1.state("VI"), s2.state("VI"), h)
		}
		time.Sleep(10 * time.Millisecond) // sampling period of a bounded observation, not a wait
	}
	s1.stop(t)

	t0 := time.Now()
	s1 = startInproc(t, p.n[0], conf(200, "preempt delay 1s"))
	testbed.Eventually(t, 4*time.Second, 5*time.Millisecond, "n1 preempts after its delay", func() bool { return s1.state("VI") == "MASTER" })
	d := time.Since(t0)
	fig.add("preempt delay 1s: higher node took over %v after start", d.Round(time.Millisecond))
	if d < time.Second {
		t.Fatalf("preempted after %v, before the 1s delay", d)
	}
	if d > 2*time.Second {
		t.Fatalf("preempted after %v, long after the 1s delay", d)
	}
	testbed.Eventually(t, time.Second, 10*time.Millisecond, "n2 backup", func() bool { return s2.state("VI") == "BACKUP" })
}

// A real process SIGKILLed: the backup takes over within the master-down interval and
// the dead master's VIP leaves its interface by itself when its lifetime runs out. Then
// the master's link goes down and up.
func TestPairKillAndLinkDown(t *testing.T) {
	p := newPairBed(t)
	fig := &figures{t: t}
	defer fig.print()
	w1, w2 := watchAddrs(t, p.n[0], "eth0"), watchAddrs(t, p.n[1], "eth0")
	cl := pollVIP(t, p.client, vip)
	conf := func(prio int) string { return vrrpConf("VI", prio, "version 3", "advert-int 100ms") }
	s2 := startInproc(t, p.n[1], conf(100))
	c1 := p.startChild(p.n[0], conf(200))
	testbed.Eventually(t, 5*time.Second, 10*time.Millisecond, "n1 master", func() bool { h, _ := w1.has(vip); return h && s2.state("VI") == "BACKUP" })
	cl.waitServed(t, "n1", time.Now(), 2*time.Second)
	_, lft := w1.has(vip)
	fig.add("master VIP valid_lft while advertising: %ds (refreshed by every advert)", lft)
	if lft <= 0 || lft > 2 {
		t.Errorf("VIP lifetime %d, expected 1..2 s for 100 ms adverts", lft)
	}

	t0 := time.Now()
	c1.Kill()
	d := cl.waitServed(t, "n2", t0, 3*time.Second)
	fig.add("SIGKILL of master, VRRPv3 100ms: client served by backup after %v", d.Round(time.Millisecond))
	if d > time.Second {
		t.Errorf("failover %v over the 1s target", d)
	}
	testbed.Eventually(t, 5*time.Second, 10*time.Millisecond, "dead master's VIP expires", func() bool { h, _ := w1.has(vip); return !h })
	fig.add("SIGKILLed master's VIP left its interface by itself after %v (kernel valid_lft)", time.Since(t0).Round(10*time.Millisecond))

	// Restart: preempt back, then link down on the master.
	c1 = p.startChild(p.n[0], conf(200))
	t0 = time.Now()
	testbed.Eventually(t, 5*time.Second, 5*time.Millisecond, "n1 back as master", func() bool { h, _ := w1.has(vip); return h })
	testbed.Eventually(t, time.Second, 5*time.Millisecond, "n2 releases", func() bool { h, _ := w2.has(vip); return !h })
	fig.add("restarted higher-priority node preempted back after %v", time.Since(t0).Round(time.Millisecond))
	cl.waitServed(t, "n1", time.Now(), 2*time.Second)

	dual := sampleDual(t, w1, w2, vip)
	t0 = time.Now()
	p.n[0].MustRun("ip", "link", "set", "eth0", "down")
	d = cl.waitServed(t, "n2", t0, 3*time.Second)
	fig.add("master link down: client served by backup after %v", d.Round(time.Millisecond))
	if d > time.Second {
		t.Errorf("link-down failover %v over the 1s target", d)
	}
	testbed.Eventually(t, time.Second, 5*time.Millisecond, "faulted master drops VIP", func() bool { h, _ := w1.has(vip); return !h })
	t0 = time.Now()
	p.n[0].MustRun("ip", "link", "set", "eth0", "up")
	testbed.Eventually(t, 5*time.Second, 5*time.Millisecond, "n1 master after link up", func() bool { h, _ := w1.has(vip); return h })
	testbed.Eventually(t, time.Second, 5*time.Millisecond, "n2 releases", func() bool { h, _ := w2.has(vip); return !h })
	fig.add("link up: higher node master again after %v", time.Since(t0).Round(time.Millisecond))
	dual.end()
	fig.add("dual-master samples during link down/up: %d of %d", dual.dual.Load(), dual.samples.Load())
	if dual.dual.Load() != 0 {
		t.Errorf("%d dual-master samples", dual.dual.Load())
	}
	if err := c1.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, ok := c1.Wait(5 * time.Second); !ok {
		t.Fatal("child did not stop on SIGTERM")
	}
	if h, _ := w1.has(vip); h {
		t.Error("SIGTERMed child left its VIP")
	}
}
