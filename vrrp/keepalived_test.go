package vrrp

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"appl/internal/testbed"
)

// keepalived runs a real keepalived (Debian package) in a test host, in the foreground,
// VRRP only, with per-test config and pid files; the host's /etc/keepalived is never read.
type keepalived struct {
	t       *testing.T
	proc    *testbed.Proc
	vrrpPid string
}

func requireKeepalived(t *testing.T) {
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Skip("keepalived not installed (apt-get install keepalived); interop test skipped")
	}
}

func kaConf(prio, version int, interval string, extra ...string) string {
	return fmt.Sprintf(`global_defs {
    router_id appl_test
    vrrp_garp_master_delay 0
}
vrrp_instance VI {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int %s
    version %d
%s    virtual_ipaddress {
        %s/24
    }
}
`, prio, interval, version, indent(extra), vip)
}

func (p *pairBed) startKeepalived(h *testbed.Host, conf string) *keepalived {
	p.t.Helper()
	dir := filepath.Join(p.dir, fmt.Sprintf("ka-%s-%d", h.Name, time.Now().UnixNano()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		p.t.Fatal(err)
	}
	cf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		p.t.Fatal(err)
	}
	k := &keepalived{t: p.t, vrrpPid: filepath.Join(dir, "vrrp.pid")}
	k.proc = h.Start("keepalived", "-n", "-l", "-D", "-P", "-G", "-R", "-f", cf,
		"-p", filepath.Join(dir, "keepalived.pid"), "-r", k.vrrpPid, "-c", filepath.Join(dir, "checkers.pid"))
	// The VRRP child outlives a SIGKILLed parent; make sure it never outlives the test.
	p.t.Cleanup(func() {
		if pid := k.childPid(); pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	testbed.Eventually(p.t, 5*time.Second, 10*time.Millisecond, "keepalived VRRP child started", func() bool { return k.childPid() > 0 })
	return k
}

func (k *keepalived) childPid() int {
	b, err := os.ReadFile(k.vrrpPid)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid > 0 && syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

// stop is keepalived's clean stop (SIGTERM): it sends priority 0 and removes its VIPs.
func (k *keepalived) stop() {
	k.t.Helper()
	if err := k.proc.Signal(syscall.SIGTERM); err != nil {
		k.t.Fatal(err)
	}
	if _, ok := k.proc.Wait(10 * time.Second); !ok {
		k.t.Fatal("keepalived did not stop on SIGTERM")
	}
}

// kill SIGKILLs the VRRP child, the process that owns the VIPs, then the parent.
func (k *keepalived) kill() {
	k.t.Helper()
	pid := k.childPid()
	if pid <= 0 {
		k.t.Fatal("no keepalived VRRP child")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		k.t.Fatal(err)
	}
	k.proc.Kill()
}

func (k *keepalived) output() string { return k.proc.Output.String() }

// interop drives one VRRP version against keepalived in both roles.
func TestKeepalivedInteropV3(t *testing.T) {
	requireKeepalived(t)
	interopRun(t, 3, 100*time.Millisecond, true)
}

func TestKeepalivedInteropV2(t *testing.T) {
	if testing.Short() {
		t.Skip("long scenario (1 s adverts, ~20 s): skipped with -short, runs in CI")
	}
	requireKeepalived(t)
	interopRun(t, 2, time.Second, false)
}

const kaPreempts = "keepalived preempts appl"

func interopRun(t *testing.T, version int, interval time.Duration, full bool) {
	p := newPairBed(t)
	fig := &figures{t: t}
	defer fig.print()
	w1, w2 := watchAddrs(t, p.n[0], "eth0"), watchAddrs(t, p.n[1], "eth0")
	dual := sampleDual(t, w1, w2, vip)
	cl := pollVIP(t, p.client, vip)
	kaInterval := strconv.FormatFloat(interval.Seconds(), 'f', -1, 64)
	var kaExtra, applExtra []string
	if version == 2 {
		kaExtra = []string{"authentication {", "    auth_type PASS", "    auth_pass s3cret", "}"}
		applExtra = []string{"auth-pass s3cret"}
	}
	appl := func(prio int) string {
		return vrrpConf("VI", prio, append([]string{fmt.Sprintf("version %d", version), "advert-int " + interval.String(),
			"track-check knob weight -150", "track-check boost weight 101"}, applExtra...)...)
	}
	has := func(w *addrWatch) func() bool { return func() bool { h, _ := w.has(vip); return h } }
	hasNot := func(w *addrWatch) func() bool { return func() bool { h, _ := w.has(vip); return !h } }
	wait := 6 * interval * 2
	if wait < 3*time.Second {
		wait = 3 * time.Second
	}
	limit := 4*interval + 500*time.Millisecond // master down + skew + processing

	// Role 1: appl master (n1, 200), keepalived backup (n2, 100).
	ka := p.startKeepalived(p.n[1], kaConf(100, version, kaInterval, kaExtra...))
	a := startInproc(t, p.n[0], appl(200))
	a.sp.SetCheck("boost", false)
	testbed.Eventually(t, wait, 10*time.Millisecond, "appl master, keepalived backup", func() bool {
		return a.state("VI") == "MASTER" && has(w1)() && hasNot(w2)() && strings.Contains(ka.output(), "Entering BACKUP STATE")
	})
	cl.waitServed(t, "n1", time.Now(), 2*time.Second)
	if c := a.sp.Counters(); c.RxAdverts != 0 && c.AddressMismatch != 0 {
		t.Errorf("keepalived adverts flagged: %+v", c)
	}

	t0 := time.Now()
	a.stop(t)
	d := cl.waitServed(t, "n2", t0, wait)
	fig.add("v%d %v: appl master stopped cleanly -> keepalived serves after %v", version, interval, d.Round(time.Millisecond))
	if d > limit {
		t.Errorf("failover to keepalived took %v", d)
	}
	t0 = time.Now()
	a = startInproc(t, p.n[0], appl(200))
	a.sp.SetCheck("boost", false)
	testbed.Eventually(t, wait, 5*time.Millisecond, "appl preempts keepalived", func() bool { return has(w1)() && hasNot(w2)() })
	fig.add("v%d %v: appl (200) restarted, preempted keepalived (100) after %v", version, interval, time.Since(t0).Round(time.Millisecond))

	if full {
		// Priority change: appl drops to 50, keepalived (preempt) takes over; back to 200.
		t0 = time.Now()
		dual.setPhase(kaPreempts)
		a.sp.SetCheck("knob", false)
		testbed.Eventually(t, wait, 5*time.Millisecond, "keepalived preempts lowered appl", func() bool { return has(w2)() && hasNot(w1)() })
		fig.add("v%d %v: appl priority 200->50, keepalived took over after %v", version, interval, time.Since(t0).Round(time.Millisecond))
		t0 = time.Now()
		dual.setPhase("")
		a.sp.SetCheck("knob", true)
		testbed.Eventually(t, wait, 5*time.Millisecond, "appl back", func() bool { return has(w1)() && hasNot(w2)() })
		fig.add("v%d %v: appl priority 50->200, appl preempted back after %v", version, interval, time.Since(t0).Round(time.Millisecond))
		// Link down on appl's side.
		t0 = time.Now()
		p.n[0].MustRun("ip", "link", "set", "eth0", "down")
		d = cl.waitServed(t, "n2", t0, wait)
		fig.add("v%d %v: appl master link down -> keepalived serves after %v", version, interval, d.Round(time.Millisecond))
		p.n[0].MustRun("ip", "link", "set", "eth0", "up")
		testbed.Eventually(t, wait, 5*time.Millisecond, "appl back after link up", func() bool { return has(w1)() && hasNot(w2)() })
	}
	a.stop(t)
	ka.stop()
	testbed.Eventually(t, wait, 10*time.Millisecond, "all VIPs released", func() bool { return hasNot(w1)() && hasNot(w2)() })

	// Role 2: keepalived master (n2, 200), appl backup (n1, 100).
	ka = p.startKeepalived(p.n[1], kaConf(200, version, kaInterval, kaExtra...))
	testbed.Eventually(t, wait, 10*time.Millisecond, "keepalived master alone", func() bool { return has(w2)() })
	a = startInproc(t, p.n[0], appl(100))
	a.sp.SetCheck("boost", false)
	testbed.Eventually(t, wait, 10*time.Millisecond, "appl backup", func() bool { return a.state("VI") == "BACKUP" })
	cl.waitServed(t, "n2", time.Now(), 2*time.Second)

	t0 = time.Now()
	ka.stop()
	d = cl.waitServed(t, "n1", t0, wait)
	fig.add("v%d %v: keepalived master stopped cleanly -> appl serves after %v", version, interval, d.Round(time.Millisecond))
	if d > limit {
		t.Errorf("failover to appl took %v", d)
	}
	t0 = time.Now()
	dual.setPhase(kaPreempts)
	ka = p.startKeepalived(p.n[1], kaConf(200, version, kaInterval, kaExtra...))
	testbed.Eventually(t, wait, 5*time.Millisecond, "keepalived preempts appl", func() bool { return has(w2)() && hasNot(w1)() })
	dual.setPhase("")
	fig.add("v%d %v: keepalived (200) restarted, preempted appl (100) after %v", version, interval, time.Since(t0).Round(time.Millisecond))

	t0 = time.Now()
	p.n[1].MustRun("ip", "link", "set", "eth0", "down")
	d = cl.waitServed(t, "n1", t0, wait)
	fig.add("v%d %v: keepalived master link down -> appl serves after %v", version, interval, d.Round(time.Millisecond))
	if d > limit {
		t.Errorf("failover to appl took %v", d)
	}
	dual.setPhase(kaPreempts)
	p.n[1].MustRun("ip", "link", "set", "eth0", "up")
	testbed.Eventually(t, wait, 5*time.Millisecond, "keepalived back after link up", func() bool { return has(w2)() && hasNot(w1)() })
	dual.setPhase("")

	if full {
		// Priority change on appl's side: 100 -> 201 (boost) beats keepalived's 200.
		t0 = time.Now()
		a.sp.SetCheck("boost", true)
		testbed.Eventually(t, wait, 5*time.Millisecond, "appl preempts keepalived", func() bool { return has(w1)() && hasNot(w2)() })
		fig.add("v%d %v: appl priority 100->201, preempted keepalived (200) after %v", version, interval, time.Since(t0).Round(time.Millisecond))
		t0 = time.Now()
		dual.setPhase(kaPreempts)
		a.sp.SetCheck("boost", false)
		testbed.Eventually(t, wait, 5*time.Millisecond, "keepalived back", func() bool { return has(w2)() && hasNot(w1)() })
		dual.setPhase("")
		fig.add("v%d %v: appl priority 201->100, keepalived preempted back after %v", version, interval, time.Since(t0).Round(time.Millisecond))
	}
	dual.end()
	kaOverlap := dual.inPhase(kaPreempts)
	fig.add("v%d: dual-master samples %d of %d (10 ms sampling, clean stops, link and priority changes); of which while keepalived preempted appl: %d",
		version, dual.dual.Load(), dual.samples.Load(), kaOverlap)
	// keepalived, when it preempts, adds its VIPs before its advert reaches us (its
	// vrrp_state_become_master order), so about a millisecond of overlap there is
	// keepalived's and is reported, not failed. Everything else must be clean.
	if n := dual.dual.Load() - int64(kaOverlap); n != 0 {
		t.Errorf("%d dual-master samples outside keepalived's own preemptions", n)
	}
	if kaOverlap > 3 {
		t.Errorf("%d dual-master samples while keepalived preempted: more than its ~1 ms overlap", kaOverlap)
	}
	if c := a.sp.Counters(); c.BadAuth+c.BadChecksum+c.BadLength+c.BadVersion+c.IntervalMismatch+c.AddressMismatch != 0 {
		t.Errorf("appl dropped or flagged keepalived adverts: %+v", c)
	}
}
