package fsm

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

var (
	t0    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	selfA = netip.MustParseAddr("198.18.1.1")
	peerB = netip.MustParseAddr("198.18.1.2")
)

func v3(prio int) Params {
	return Params{Proto: VRRP, Priority: prio, Interval: time.Second, LearnInterval: true, Preempt: true, Self: selfA}
}

func kinds(acts []Action) string {
	var s []string
	for _, a := range acts {
		s = append(s, a.String())
	}
	return strings.Join(s, ",")
}

func start(t *testing.T, p Params) State {
	t.Helper()
	s, _ := Step(p, State{}, Event{Kind: EvStart}, t0)
	return s
}

func adv(prio int) Event {
	return Event{Kind: EvAdvert, Advert: Advert{From: peerB, Priority: prio, Interval: time.Second}}
}

func TestMasterDownInterval(t *testing.T) {
	p := v3(100)
	s, acts := Step(p, State{}, Event{Kind: EvStart}, t0)
	if s.Role != Backup || kinds(acts) != "INIT->BACKUP" {
		t.Fatalf("start: %v %s", s.Role, kinds(acts))
	}
	// RFC 5798: 3*1s + (256-100)*1s/256 = 3.609375s.
	want := t0.Add(3*time.Second + 609375*time.Microsecond)
	if !s.Deadline().Equal(want) {
		t.Fatalf("deadline %v want %v", s.Deadline().Sub(t0), want.Sub(t0))
	}
	s2, acts := Step(p, s, Event{Kind: EvTimer}, want.Add(-time.Nanosecond))
	if s2.Role != Backup || len(acts) != 0 {
		t.Fatalf("early timer acted: %v %s", s2.Role, kinds(acts))
	}
	s2, acts = Step(p, s, Event{Kind: EvTimer}, want)
	if s2.Role != Master || kinds(acts) != "BACKUP->MASTER,send,add-vips,announce" {
		t.Fatalf("expiry: %v %s", s2.Role, kinds(acts))
	}
	if !s2.Deadline().Equal(want.Add(time.Second)) {
		t.Fatalf("next advert at %v", s2.Deadline().Sub(t0))
	}
	// Advert cadence: one send per interval, no drift.
	s3, acts := Step(p, s2, Event{Kind: EvTimer}, want.Add(time.Second+3*time.Millisecond))
	if kinds(acts) != "send" || !s3.Deadline().Equal(want.Add(2*time.Second)) {
		t.Fatalf("advert timer: %s next %v", kinds(acts), s3.Deadline().Sub(want))
	}
}

func TestOwnerStartsMaster(t *testing.T) {
	s, acts := Step(v3(255), State{}, Event{Kind: EvStart}, t0)
	if s.Role != Master || kinds(acts) != "INIT->MASTER,send,add-vips,announce" {
		t.Fatalf("%v %s", s.Role, kinds(acts))
	}
}

func TestBackupHearsHigherMaster(t *testing.T) {
	p := v3(100)
	s := start(t, p)
	now := t0.Add(3 * time.Second)
	s, acts := Step(p, s, adv(200), now)
	if s.Role != Backup || len(acts) != 0 || s.MasterAddr != peerB {
		t.Fatalf("%v %s %v", s.Role, kinds(acts), s.MasterAddr)
	}
	if !s.MasterDownAt.Equal(now.Add(p.MasterDown(time.Second))) {
		t.Fatal("master down timer not reset")
	}
}

func TestPreemptAndNopreempt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		preempt bool
		delay   time.Duration
		// when the lower master's advert arrives and whether it should reset the timer
		at        time.Duration
		wantReset bool
	}{
		{"preempt discards lower advert", true, 0, time.Second, false},
		{"nopreempt keeps lower master", false, 0, time.Second, true},
		{"preempt delay not yet passed", true, 10 * time.Second, 9 * time.Second, true},
		{"preempt delay passed", true, 10 * time.Second, 10 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := v3(200)
			p.Preempt, p.PreemptDelay = tc.preempt, tc.delay
			s := start(t, p)
			// Keep the lower master alive up to tc.at so the timer has not expired.
			for at := time.Second; at < tc.at; at += time.Second {
				s, _ = Step(p, s, adv(100), t0.Add(at))
			}
			before := s.MasterDownAt
			now := t0.Add(tc.at)
			s, _ = Step(p, s, adv(100), now)
			reset := !s.MasterDownAt.Equal(before)
			if reset != tc.wantReset {
				t.Fatalf("timer reset=%v want %v", reset, tc.wantReset)
			}
			if !tc.wantReset {
				s, acts := Step(p, s, Event{Kind: EvTimer}, before)
				if s.Role != Master || !strings.Contains(kinds(acts), "add-vips") {
					t.Fatalf("no preemption at timer expiry: %v %s", s.Role, kinds(acts))
				}
			}
		})
	}
}

func TestPriorityZeroTakesOverAfterSkew(t *testing.T) {
	p := v3(100)
	s := start(t, p)
	now := t0.Add(time.Second)
	s, _ = Step(p, s, adv(200), now)
	s, _ = Step(p, s, adv(0), now.Add(time.Second))
	want := now.Add(time.Second + p.skew(time.Second))
	if !s.MasterDownAt.Equal(want) {
		t.Fatalf("after priority 0: %v want skew %v", s.MasterDownAt.Sub(now), p.skew(time.Second))
	}
}

func TestMasterElection(t *testing.T) {
	p := v3(150)
	s, _ := Step(p, State{}, Event{Kind: EvTakeover}, t0) // Init ignores takeover
	if s.Role != Init {
		t.Fatal("takeover from init")
	}
	s = start(t, p)
	s, _ = Step(p, s, Event{Kind: EvTimer}, s.Deadline())
	if s.Role != Master {
		t.Fatal("not master")
	}
	m := s
	s, acts := Step(p, m, adv(100), t0.Add(5*time.Second))
	if s.Role != Master || kinds(acts) != "send,announce" {
		t.Fatalf("lower advert: %v %s", s.Role, kinds(acts))
	}
	s, acts = Step(p, m, adv(200), t0.Add(5*time.Second))
	if s.Role != Backup || kinds(acts) != "remove-vips,MASTER->BACKUP" || s.MasterAddr != peerB {
		t.Fatalf("higher advert: %v %s", s.Role, kinds(acts))
	}
	// Equal priority: the higher address wins (peerB > selfA).
	s, _ = Step(p, m, adv(150), t0.Add(5*time.Second))
	if s.Role != Backup {
		t.Fatal("equal priority, higher address did not win")
	}
	p.Self = netip.MustParseAddr("198.18.1.9")
	s, _ = Step(p, m, adv(150), t0.Add(5*time.Second))
	if s.Role != Master {
		t.Fatal("equal priority, lower address won")
	}
}

func TestShutdownFaultRelease(t *testing.T) {
	p := v3(255)
	m := start(t, p)
	s, acts := Step(p, m, Event{Kind: EvShutdown}, t0.Add(time.Second))
	if s.Role != Init || kinds(acts) != "send(leaving),remove-vips,MASTER->INIT" {
		t.Fatalf("shutdown: %s", kinds(acts))
	}
	s, acts = Step(p, m, Event{Kind: EvFault}, t0.Add(time.Second))
	if s.Role != Fault || kinds(acts) != "send(leaving),remove-vips,MASTER->FAULT" || !s.Deadline().IsZero() {
		t.Fatalf("fault: %s", kinds(acts))
	}
	if s2, acts := Step(p, s, adv(100), t0.Add(2*time.Second)); s2.Role != Fault || len(acts) != 0 {
		t.Fatal("fault acted on an advert")
	}
	s, acts = Step(p, s, Event{Kind: EvRecover}, t0.Add(2*time.Second))
	if s.Role != Master {
		t.Fatalf("owner recover: %v %s", s.Role, kinds(acts))
	}
	p = v3(100)
	s, acts = Step(p, m, Event{Kind: EvRelease}, t0.Add(time.Second))
	if s.Role != Backup || kinds(acts) != "send(leaving),remove-vips,MASTER->BACKUP" {
		t.Fatalf("release: %s", kinds(acts))
	}
}

func TestParamsChangeAdvertisesAtOnce(t *testing.T) {
	p := v3(255)
	m := start(t, p)
	p.Priority = 50
	s, acts := Step(p, m, Event{Kind: EvParams}, t0.Add(300*time.Millisecond))
	if kinds(acts) != "send" || !s.NextAdvertAt.Equal(t0.Add(1300*time.Millisecond)) {
		t.Fatalf("%s", kinds(acts))
	}
}

func TestV3LearnsMasterInterval(t *testing.T) {
	p := v3(100)
	p.Interval = 100 * time.Millisecond
	s := start(t, p)
	a := adv(200)
	a.Advert.Interval = 2 * time.Second
	s, _ = Step(p, s, a, t0)
	if s.MasterInterval != 2*time.Second || !s.MasterDownAt.Equal(t0.Add(p.MasterDown(2*time.Second))) {
		t.Fatalf("learnt %v", s.MasterInterval)
	}
	p.LearnInterval = false // VRRPv2
	s = start(t, p)
	s, _ = Step(p, s, a, t0)
	if !s.MasterDownAt.Equal(t0.Add(p.MasterDown(0))) || p.MasterDown(0) != 300*time.Millisecond+p.skew(0) {
		t.Fatalf("v2 used the master's interval")
	}
}

func carp(skew int) Params {
	return Params{Proto: CARP, AdvBase: 1, AdvSkew: skew, Preempt: true, Self: selfA}
}

func carpAdv(base, skew, demote int) Event {
	return Event{Kind: EvAdvert, Advert: Advert{From: peerB, AdvBase: base, AdvSkew: skew, Demote: demote}}
}

func TestCARP(t *testing.T) {
	p := carp(0)
	s := start(t, p)
	if got := s.Deadline().Sub(t0); got != 3*time.Second {
		t.Fatalf("carp master down %v want 3s", got)
	}
	// A slower (higher advskew) master is preempted at once.
	s2, acts := Step(p, s, carpAdv(1, 100, 0), t0.Add(time.Second))
	if s2.Role != Master || !strings.Contains(kinds(acts), "add-vips") {
		t.Fatalf("preempt: %v %s", s2.Role, kinds(acts))
	}
	// Without preempt it waits.
	np := p
	np.Preempt = false
	s2, _ = Step(np, s, carpAdv(1, 100, 0), t0.Add(time.Second))
	if s2.Role != Backup {
		t.Fatal("nopreempt carp took over")
	}
	// A faster master keeps us backup; a demoted one does not.
	bp := carp(100)
	b := start(t, bp)
	b2, _ := Step(bp, b, carpAdv(1, 0, 0), t0.Add(time.Second))
	if b2.Role != Backup || !b2.MasterDownAt.Equal(t0.Add(time.Second+3*time.Second+100*time.Second/256)) {
		t.Fatalf("faster master: %v %v", b2.Role, b2.MasterDownAt.Sub(t0))
	}
	b2, _ = Step(bp, b, carpAdv(1, 0, 1), t0.Add(time.Second))
	if b2.Role != Master {
		t.Fatal("demoted master not preempted")
	}
	// Leaving advert (advbase 255, advskew 255) -> take over now, even without preempt.
	np = bp
	np.Preempt = false
	b2, _ = Step(np, b, carpAdv(255, 255, 0), t0.Add(time.Second))
	if b2.Role != Master {
		t.Fatal("leaving master not replaced at once")
	}
	// Master hearing a faster router steps down.
	m, _ := Step(bp, b, Event{Kind: EvTimer}, b.Deadline())
	m2, acts := Step(bp, m, carpAdv(1, 0, 0), b.Deadline().Add(time.Second))
	if m2.Role != Backup || !strings.Contains(kinds(acts), "remove-vips") {
		t.Fatalf("master step down: %s", kinds(acts))
	}
	// advbase 0 (OpenBSD) gives sub-second timing.
	fast := Params{Proto: CARP, AdvBase: 0, AdvSkew: 26}
	if got := fast.AdvertInterval(); got < 100*time.Millisecond || got > 102*time.Millisecond {
		t.Fatalf("advbase 0 advskew 26 interval %v", got)
	}
}

// Two routers on a lossless simulated wire with a fake clock: whatever the start order,
// they converge to one master, the higher priority, and a stopped master is replaced
// within its Master_Down_Interval (skew when it sent priority 0).
func TestSimulatedPair(t *testing.T) {
	type node struct {
		p     Params
		s     State
		alive bool
	}
	a := &node{p: v3(200), alive: true}
	b := &node{p: v3(100), alive: true}
	a.p.Interval, b.p.Interval = 100*time.Millisecond, 100*time.Millisecond
	b.p.Self = peerB
	nodes := []*node{a, b}
	type pkt struct {
		to  *node
		at  time.Time
		adv Advert
	}
	var wire []pkt
	now := t0
	masters := func() (n int) {
		for _, x := range nodes {
			if x.alive && x.s.Role == Master {
				n++
			}
		}
		return
	}
	apply := func(x *node, ev Event) {
		var acts []Action
		x.s, acts = Step(x.p, x.s, ev, now)
		for _, act := range acts {
			if act.Kind != ActSend {
				continue
			}
			prio := x.p.Priority
			if act.Leaving {
				prio = 0
			}
			for _, y := range nodes {
				if y != x {
					wire = append(wire, pkt{y, now.Add(time.Millisecond), Advert{From: x.p.Self, Priority: prio, Interval: x.p.Interval}})
				}
			}
		}
	}
	run := func(d time.Duration) {
		end := now.Add(d)
		for ; now.Before(end); now = now.Add(time.Millisecond) {
			rest := wire[:0:0]
			for _, w := range wire {
				if !w.at.After(now) {
					if w.to.alive {
						apply(w.to, Event{Kind: EvAdvert, Advert: w.adv})
					}
				} else {
					rest = append(rest, w)
				}
			}
			wire = rest
			for _, x := range nodes {
				if x.alive && !x.s.Deadline().IsZero() && !now.Before(x.s.Deadline()) {
					apply(x, Event{Kind: EvTimer})
				}
			}
		}
	}
	apply(b, Event{Kind: EvStart})
	run(time.Second) // b alone becomes master
	if b.s.Role != Master {
		t.Fatal("lone b not master")
	}
	apply(a, Event{Kind: EvStart})
	run(time.Second) // a preempts
	if a.s.Role != Master || b.s.Role != Backup || masters() != 1 {
		t.Fatalf("after a joins: a=%v b=%v", a.s.Role, b.s.Role)
	}
	// Clean stop of a: b takes over within skew + one tick.
	stop := now
	apply(a, Event{Kind: EvShutdown})
	var took time.Duration
	for took = 0; b.s.Role != Master && took < time.Second; took += time.Millisecond {
		run(time.Millisecond)
	}
	if want := b.p.skew(100*time.Millisecond) + 3*time.Millisecond; now.Sub(stop) > want {
		t.Fatalf("clean stop failover %v > %v", now.Sub(stop), want)
	}
	// Crash of b (no priority 0): a, restarted, waits out its own master-down.
	apply(a, Event{Kind: EvStart})
	run(time.Second)
	if a.s.Role != Master || masters() != 1 {
		t.Fatal("a did not preempt back")
	}
	a.alive = false
	crash := now
	for b.s.Role != Master && now.Sub(crash) < 2*time.Second {
		run(time.Millisecond)
	}
	if d := now.Sub(crash); b.s.Role != Master || d > b.p.MasterDown(100*time.Millisecond)+2*time.Millisecond {
		t.Fatalf("crash failover took %v (master down %v)", d, b.p.MasterDown(100*time.Millisecond))
	}
}

func TestPreemptHoldDelaysVIPs(t *testing.T) {
	p := v3(200)
	p.PreemptHold = 10 * time.Millisecond
	s := start(t, p)
	s, _ = Step(p, s, adv(100), t0.Add(time.Second)) // live lower master, discarded
	at := s.MasterDownAt
	s, acts := Step(p, s, Event{Kind: EvTimer}, at)
	if s.Role != Master || kinds(acts) != "BACKUP->MASTER,send" {
		t.Fatalf("preempting a live master: %s", kinds(acts))
	}
	if !s.Deadline().Equal(at.Add(10 * time.Millisecond)) {
		t.Fatalf("hold deadline %v", s.Deadline().Sub(at))
	}
	s, acts = Step(p, s, Event{Kind: EvTimer}, at.Add(10*time.Millisecond))
	if kinds(acts) != "add-vips,announce" || !s.VIPsAt.IsZero() {
		t.Fatalf("after hold: %s", kinds(acts))
	}
	// A master that went silent (crash) is not waited for.
	s = start(t, p)
	s, acts = Step(p, s, Event{Kind: EvTimer}, s.MasterDownAt)
	if kinds(acts) != "BACKUP->MASTER,send,add-vips,announce" {
		t.Fatalf("silent master: %s", kinds(acts))
	}
}
