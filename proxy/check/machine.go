package check

import "time"

// Params are a server's check settings after defaults were applied.
type Params struct {
	Rise, Fall                  int
	Inter, FastInter, DownInter time.Duration
	SlowStart                   time.Duration
}

// withDefaults fills HAProxy's defaults: rise 2, fall 3, inter 2s, fastinter and
// downinter equal to inter.
func (p Params) withDefaults() Params {
	if p.Rise <= 0 {
		p.Rise = 2
	}
	if p.Fall <= 0 {
		p.Fall = 3
	}
	if p.Inter <= 0 {
		p.Inter = 2 * time.Second
	}
	if p.FastInter <= 0 {
		p.FastInter = p.Inter
	}
	if p.DownInter <= 0 {
		p.DownInter = p.Inter
	}
	return p
}

// Machine is one server's health, as HAProxy counts it: health runs from 0 to
// rise+fall-1; the server is up while health >= rise. A success moves health up by one
// (reaching rise marks the server up and jumps to the top), a failure down by one
// (dropping below rise marks it down and jumps to 0). A server starts up with
// health = rise, so one failed check marks an absent server down at once, as HAProxy does.
type Machine struct {
	p          Params
	health     int
	up         bool
	stopping   bool // up, but a check asked for no new traffic (disable-on-404: NOLB)
	lastChange time.Time
}

// New returns a machine for a server that starts up (HAProxy's default) at now.
func New(p Params, now time.Time) *Machine {
	p = p.withDefaults()
	return &Machine{p: p, health: p.Rise, up: true, lastChange: now}
}

// Restore returns a machine carrying a previous one's state with new parameters (reload).
func Restore(p Params, up bool, health int, lastChange time.Time) *Machine {
	p = p.withDefaults()
	m := &Machine{p: p, health: health, up: up, lastChange: lastChange}
	if m.health > p.Rise+p.Fall-1 {
		m.health = p.Rise + p.Fall - 1
	}
	if up && m.health < p.Rise {
		m.health = p.Rise
	}
	if !up && m.health >= p.Rise {
		m.health = p.Rise - 1
	}
	if m.health < 0 {
		m.health = 0
	}
	return m
}

// Up reports whether the server is up.
func (m *Machine) Up() bool { return m.up }

// Health returns the counter, and Rise and Fall the thresholds, for status lines
// ("status: 1/2 DOWN" is health-or-(health-rise+1) over rise-or-fall as HAProxy prints).
func (m *Machine) Health() int { return m.health }

// Params returns the parameters with defaults applied.
func (m *Machine) Params() Params { return m.p }

// LastChange is when the server last went up or down.
func (m *Machine) LastChange() time.Time { return m.lastChange }

// Transition says what a result did.
type Transition int

const (
	NoChange Transition = iota
	WentUp
	WentDown
	WentStopping // still up, no new traffic (HAProxy's "is stopping", NOLB)
	LeftStopping // back to taking traffic
)

// Stopping reports whether the server is up but asked for no new traffic.
func (m *Machine) Stopping() bool { return m.up && m.stopping }

// Feed applies one check outcome's status: L7OKC (disable-on-404) counts as a success
// for health and puts an up server in the stopping state; a down server stays down on
// it, as in HAProxy, though its health rises, so the next full success brings it up.
func (m *Machine) Feed(s Status, now time.Time) Transition {
	if s != StatusL7OKC {
		return m.Result(s.Passed(), now)
	}
	top := m.p.Rise + m.p.Fall - 1
	if m.health < top {
		m.health++
		if m.health >= m.p.Rise {
			m.health = top
		}
	}
	if m.up && !m.stopping {
		m.stopping = true
		return WentStopping
	}
	return NoChange
}

// Result feeds one check outcome observed at now.
func (m *Machine) Result(ok bool, now time.Time) Transition {
	top := m.p.Rise + m.p.Fall - 1
	if ok {
		if m.health < top {
			m.health++
		}
		if !m.up && m.health >= m.p.Rise {
			m.up, m.stopping, m.health, m.lastChange = true, false, top, now
			return WentUp
		}
		if m.up && m.stopping {
			m.stopping = false
			return LeftStopping
		}
		return NoChange
	}
	if m.health > 0 {
		m.health--
	}
	if m.up && m.health < m.p.Rise {
		m.up, m.stopping, m.health, m.lastChange = false, false, 0, now
		return WentDown
	}
	return NoChange
}

// ForceDown marks the server down at once (a failing layer-4 connection of traffic is not
// used for this; the caller uses it for `disabled` or for admin states).
func (m *Machine) ForceDown(now time.Time) Transition {
	if !m.up {
		m.health = 0
		return NoChange
	}
	m.up, m.stopping, m.health, m.lastChange = false, false, 0, now
	return WentDown
}

// Interval is the delay before the next check: inter when fully healthy, downinter when
// fully down, fastinter while moving between the two.
func (m *Machine) Interval() time.Duration {
	switch m.health {
	case m.p.Rise + m.p.Fall - 1:
		return m.p.Inter
	case 0:
		return m.p.DownInter
	}
	return m.p.FastInter
}

// StatusCounter returns the numbers HAProxy prints after "status:": while up, the count of
// successes left before it would go down (health-rise+1) over fall; while down, the
// successes so far (health) over rise.
func (m *Machine) StatusCounter() (cur, of int) {
	if m.up {
		return m.health - m.p.Rise + 1, m.p.Fall
	}
	return m.health, m.p.Rise
}

// Weight is the effective weight at now of a server configured with weight w: during
// slowstart after coming up it ramps linearly from about 1 to w, as HAProxy's does; down
// servers weigh 0.
func (m *Machine) Weight(w int, now time.Time) int {
	if !m.up || m.stopping || w <= 0 {
		return 0
	}
	return Ramp(w, m.p.SlowStart, now.Sub(m.lastChange))
}

// Ramp is the slowstart weight of w at elapsed time into a ramp of length ss.
func Ramp(w int, ss, elapsed time.Duration) int {
	if ss <= 0 || elapsed >= ss || elapsed < 0 {
		return w
	}
	r := int((int64(w)*int64(elapsed) + int64(ss) - 1) / int64(ss))
	if r < 1 {
		r = 1
	}
	return r
}

// InSlowStart reports whether the weight is still ramping at now.
func (m *Machine) InSlowStart(now time.Time) bool {
	return m.up && m.p.SlowStart > 0 && now.Sub(m.lastChange) < m.p.SlowStart
}
