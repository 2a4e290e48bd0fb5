package fsm

import (
	"net/netip"
	"time"
)

// Role is the protocol state of a virtual router.
type Role uint8

const (
	Init Role = iota
	Backup
	Master
	Fault
)

func (r Role) String() string {
	switch r {
	case Init:
		return "INIT"
	case Backup:
		return "BACKUP"
	case Master:
		return "MASTER"
	case Fault:
		return "FAULT"
	}
	return "?"
}

// Proto selects the election and timing rules.
type Proto uint8

const (
	VRRP Proto = iota
	CARP
)

// Params are the router's current settings; the caller passes them to every Step so a
// priority change (tracked check, demotion) takes effect at once.
type Params struct {
	Proto Proto
	// VRRP: effective priority 1..255 (255 = address owner) and the advertisement
	// interval. LearnInterval (VRRPv3) adopts the master's interval for the
	// Master_Down_Interval as RFC 5798 says; VRRPv2 uses its own.
	Priority      int
	Interval      time.Duration
	LearnInterval bool
	// CARP: advbase in seconds (0..254, 0 as in OpenBSD), advskew 0..254 and the
	// demotion counter (OpenBSD carp_demote; higher is less preferred).
	AdvBase, AdvSkew, Demote int

	Preempt      bool
	PreemptDelay time.Duration
	// PreemptHold delays adding the VIPs when preempting a master that is still alive:
	// the advert goes out first and the old master releases its VIPs on receipt, so the
	// two never hold them at once. 0 adds them at once (RFC behaviour).
	PreemptHold time.Duration
	// Self is the primary address this router sends from; it breaks priority ties
	// (RFC 5798 6.4.3: the higher address wins).
	Self netip.Addr
}

// AdvertInterval is how often a master advertises.
func (p Params) AdvertInterval() time.Duration {
	if p.Proto == CARP {
		return carpInterval(p.AdvBase, p.AdvSkew)
	}
	return p.Interval
}

func carpInterval(base, skew int) time.Duration {
	if base == 0 && skew == 0 {
		// OpenBSD: advbase 0 / advskew 0 advertises every 1/256 s.
		skew = 1
	}
	return time.Duration(base)*time.Second + time.Duration(skew)*time.Second/256
}

// MasterDown is how long a backup waits without hearing the master before taking over.
func (p Params) MasterDown(masterInterval time.Duration) time.Duration {
	if p.Proto == CARP {
		// carp(4): 3*advbase + advskew/256. With advbase 0 (OpenBSD) that would be a
		// single skew, too short to survive one lost packet, so appl waits three
		// of its own intervals instead.
		if p.AdvBase == 0 {
			return 3 * carpInterval(0, p.AdvSkew)
		}
		return 3*time.Duration(p.AdvBase)*time.Second + time.Duration(p.AdvSkew)*time.Second/256
	}
	if masterInterval <= 0 || !p.LearnInterval {
		masterInterval = p.Interval
	}
	return 3*masterInterval + p.skew(masterInterval)
}

// skew is RFC 5798's Skew_Time: ((256 - Priority) * Master_Adver_Interval) / 256.
func (p Params) skew(masterInterval time.Duration) time.Duration {
	if p.Proto == CARP {
		return time.Duration(p.AdvSkew) * time.Second / 256
	}
	if masterInterval <= 0 || !p.LearnInterval {
		masterInterval = p.Interval
	}
	return time.Duration(256-p.Priority) * masterInterval / 256
}

// Advert is a received, authenticated advertisement for this router.
type Advert struct {
	From netip.Addr
	// VRRP
	Priority int
	Interval time.Duration
	// CARP
	AdvBase, AdvSkew, Demote int
}

// leaving reports an advertisement that announces the sender is giving up mastership:
// VRRP priority 0, or CARP's advbase 255 / advskew 255.
func (a Advert) leaving(proto Proto) bool {
	if proto == CARP {
		return a.AdvBase == 255 && a.AdvSkew == 255
	}
	return a.Priority == 0
}

// better reports whether the sender of a beats the local router in an election.
func better(p Params, a Advert) bool {
	if p.Proto == CARP {
		if a.Demote != p.Demote {
			return a.Demote < p.Demote
		}
		them, us := carpInterval(a.AdvBase, a.AdvSkew), carpInterval(p.AdvBase, p.AdvSkew)
		if them != us {
			return them < us
		}
	} else if a.Priority != p.Priority {
		return a.Priority > p.Priority
	}
	// carp(4) has no tie-break (both stay master); appl uses VRRP's higher address wins.
	return a.From.Compare(p.Self) > 0
}

// EventKind says what happened.
type EventKind uint8

const (
	// EvStart leaves Init: the router joins (it should have cleared stale VIPs first).
	EvStart EventKind = iota
	// EvTimer is delivered when State.Deadline() has passed (extra ticks are harmless).
	EvTimer
	// EvAdvert is a valid advertisement for this router.
	EvAdvert
	// EvFault enters Fault (link down, a tracked item with no weight failed);
	// EvRecover leaves it.
	EvFault
	EvRecover
	// EvParams tells the machine its Params changed (priority, demotion).
	EvParams
	// EvRelease gives up mastership now: priority 0 advert and back to Backup, so the
	// peer takes over after its skew instead of a full Master_Down_Interval
	// (admin demote, a sync group member going backup).
	EvRelease
	// EvTakeover makes a backup master now (a sync group member became master).
	EvTakeover
	// EvShutdown leaves the protocol: priority 0 advert if master, back to Init.
	EvShutdown
)

// Event is one input.
type Event struct {
	Kind   EventKind
	Advert Advert // EvAdvert
}

// State is the machine's state; it is a value, copied in and out of Step.
type State struct {
	Role  Role
	Since time.Time
	// MasterInterval is the master's advertisement interval as learnt (VRRPv3).
	MasterInterval time.Duration
	// MasterDownAt is when a Backup takes over; NextAdvertAt when a Master advertises.
	MasterDownAt time.Time
	NextAdvertAt time.Time
	// PreemptAfter: before it, a backup does not preempt a lower-priority master.
	PreemptAfter time.Time
	// MasterAddr is the current master's address as last heard (Self when master).
	MasterAddr netip.Addr
	// LowerHeardAt is when a backup last discarded a live lower master's advert.
	LowerHeardAt time.Time
	// VIPsAt, when set, is when a new master that preempted a live one adds its VIPs.
	VIPsAt time.Time
}

// Deadline is when the caller must deliver EvTimer; zero means no timer.
func (s State) Deadline() time.Time {
	switch s.Role {
	case Backup:
		return s.MasterDownAt
	case Master:
		if !s.VIPsAt.IsZero() && s.VIPsAt.Before(s.NextAdvertAt) {
			return s.VIPsAt
		}
		return s.NextAdvertAt
	}
	return time.Time{}
}

// ActionKind is what the caller must do.
type ActionKind uint8

const (
	// ActSend sends an advertisement; Leaving asks for priority 0 (CARP: advbase and
	// advskew 255).
	ActSend ActionKind = iota
	ActAddVIPs
	ActRemoveVIPs
	// ActAnnounce sends gratuitous ARP / unsolicited NA for the VIPs.
	ActAnnounce
	// ActStateChange reports From -> To (notify hooks, events, logs).
	ActStateChange
)

// Action is one output, to be performed in order.
type Action struct {
	Kind     ActionKind
	Leaving  bool
	From, To Role
}

func (a Action) String() string {
	switch a.Kind {
	case ActSend:
		if a.Leaving {
			return "send(leaving)"
		}
		return "send"
	case ActAddVIPs:
		return "add-vips"
	case ActRemoveVIPs:
		return "remove-vips"
	case ActAnnounce:
		return "announce"
	case ActStateChange:
		return a.From.String() + "->" + a.To.String()
	}
	return "?"
}

// Step is the state machine.
func Step(p Params, s State, ev Event, now time.Time) (State, []Action) {
	m := &machine{p: p, s: s, now: now}
	m.step(ev)
	return m.s, m.acts
}

type machine struct {
	p    Params
	s    State
	now  time.Time
	acts []Action
}

func (m *machine) emit(a ...Action) { m.acts = append(m.acts, a...) }

func (m *machine) toMaster() {
	// The advert goes out before the VIPs are added: a preempted master releases them
	// as soon as it hears us. When that master is alive (heard within a master-down
	// interval), the VIPs wait PreemptHold so the two never hold them at once.
	m.emit(Action{Kind: ActStateChange, From: m.s.Role, To: Master}, Action{Kind: ActSend})
	live := !m.s.LowerHeardAt.IsZero() && m.now.Sub(m.s.LowerHeardAt) < m.p.MasterDown(m.s.MasterInterval)
	m.s.LowerHeardAt = time.Time{}
	if live && m.p.PreemptHold > 0 {
		m.s.VIPsAt = m.now.Add(m.p.PreemptHold)
	} else {
		m.s.VIPsAt = time.Time{}
		m.emit(Action{Kind: ActAddVIPs}, Action{Kind: ActAnnounce})
	}
	m.s.Role, m.s.Since = Master, m.now
	m.s.NextAdvertAt = m.now.Add(m.p.AdvertInterval())
	m.s.MasterAddr = m.p.Self
}

func (m *machine) toBackup(masterInterval time.Duration, leaving bool) {
	m.s.VIPsAt, m.s.LowerHeardAt = time.Time{}, time.Time{}
	if m.s.Role == Master {
		if leaving {
			m.emit(Action{Kind: ActSend, Leaving: true})
		}
		m.emit(Action{Kind: ActRemoveVIPs})
	}
	m.emit(Action{Kind: ActStateChange, From: m.s.Role, To: Backup})
	m.s.Role, m.s.Since = Backup, m.now
	m.s.MasterInterval = masterInterval
	m.s.MasterDownAt = m.now.Add(m.p.MasterDown(masterInterval))
	if m.s.MasterAddr == m.p.Self {
		m.s.MasterAddr = netip.Addr{}
	}
}

func (m *machine) join() {
	m.s.PreemptAfter = m.now.Add(m.p.PreemptDelay)
	if m.p.Proto == VRRP && m.p.Priority == 255 {
		m.toMaster()
		return
	}
	m.toBackup(m.p.AdvertInterval(), false)
}

func (m *machine) step(ev Event) {
	p, now := m.p, m.now
	switch ev.Kind {
	case EvStart:
		if m.s.Role == Init {
			m.join()
		}
	case EvRecover:
		if m.s.Role == Fault {
			m.join()
		}
	case EvFault:
		switch m.s.Role {
		case Fault:
		case Master:
			m.emit(Action{Kind: ActSend, Leaving: true}, Action{Kind: ActRemoveVIPs})
			fallthrough
		default:
			m.emit(Action{Kind: ActStateChange, From: m.s.Role, To: Fault})
			m.s.Role, m.s.Since = Fault, now
			m.s.MasterAddr = netip.Addr{}
		}
	case EvShutdown:
		if m.s.Role == Master {
			m.emit(Action{Kind: ActSend, Leaving: true}, Action{Kind: ActRemoveVIPs})
		}
		if m.s.Role != Init {
			m.emit(Action{Kind: ActStateChange, From: m.s.Role, To: Init})
			m.s.Role, m.s.Since = Init, now
		}
	case EvTimer:
		switch m.s.Role {
		case Backup:
			if !now.Before(m.s.MasterDownAt) {
				m.toMaster()
			}
		case Master:
			if !m.s.VIPsAt.IsZero() && !now.Before(m.s.VIPsAt) {
				m.s.VIPsAt = time.Time{}
				m.emit(Action{Kind: ActAddVIPs}, Action{Kind: ActAnnounce})
			}
			if !now.Before(m.s.NextAdvertAt) {
				m.emit(Action{Kind: ActSend})
				next := m.s.NextAdvertAt.Add(p.AdvertInterval())
				if !next.After(now) {
					next = now.Add(p.AdvertInterval())
				}
				m.s.NextAdvertAt = next
			}
		}
	case EvParams:
		// A master advertises its new priority at once so a better backup can preempt
		// without waiting for the next interval.
		if m.s.Role == Master {
			m.emit(Action{Kind: ActSend})
			m.s.NextAdvertAt = now.Add(p.AdvertInterval())
		}
	case EvRelease:
		if m.s.Role == Master {
			m.toBackup(p.AdvertInterval(), true)
		}
	case EvTakeover:
		if m.s.Role == Backup {
			m.toMaster()
		}
	case EvAdvert:
		m.advert(ev.Advert)
	}
}

func (m *machine) advert(a Advert) {
	p, now := m.p, m.now
	leaving := a.leaving(p.Proto)
	switch m.s.Role {
	case Backup:
		if leaving {
			if p.Proto == CARP {
				// carp(4) takes over at once from a master that says it is leaving.
				m.toMaster()
				return
			}
			// RFC 5798 6.4.2: Master_Down_Timer = Skew_Time, so the best backup wins.
			m.s.MasterDownAt = now.Add(p.skew(m.s.MasterInterval))
			return
		}
		preemptNow := p.Preempt && !now.Before(m.s.PreemptAfter) && !better(p, a)
		if preemptNow {
			m.s.LowerHeardAt = now
			if p.Proto == CARP {
				// carp(4) with preempt: a backup that advertises faster takes over at once.
				m.toMaster()
			}
			// RFC 5798: discard; the Master_Down_Timer expiry makes us master.
			return
		}
		if p.LearnInterval && a.Interval > 0 {
			m.s.MasterInterval = a.Interval
		}
		m.s.MasterDownAt = now.Add(p.MasterDown(m.s.MasterInterval))
		m.s.MasterAddr = a.From
	case Master:
		if leaving {
			// Another master gives up: assert ourselves at once.
			m.emit(Action{Kind: ActSend})
			m.s.NextAdvertAt = now.Add(p.AdvertInterval())
			return
		}
		if better(p, a) {
			interval := a.Interval
			if p.Proto == CARP {
				interval = carpInterval(a.AdvBase, a.AdvSkew)
			}
			m.toBackup(interval, false)
			m.s.MasterAddr = a.From
			return
		}
		// A lower router thinks it is master (a healed split brain): answer at once
		// and re-announce the VIPs so switches and hosts learn us again (keepalived #166).
		m.emit(Action{Kind: ActSend}, Action{Kind: ActAnnounce})
		m.s.NextAdvertAt = now.Add(p.AdvertInterval())
	default:
		// Init and Fault ignore advertisements.
	}
}
