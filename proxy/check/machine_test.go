package check

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestRiseFall(t *testing.T) {
	m := New(Params{Rise: 2, Fall: 3, Inter: time.Second, FastInter: 100 * time.Millisecond, DownInter: 5 * time.Second}, t0)
	// Starts up one failure away from down, as HAProxy does.
	if !m.Up() || m.Interval() != 100*time.Millisecond {
		t.Fatalf("start: up=%v interval=%v", m.Up(), m.Interval())
	}
	m.Result(true, t0)
	if tr := m.Result(true, t0); tr != NoChange || m.Interval() != time.Second {
		t.Fatalf("success at start: %v %v", tr, m.Interval())
	}
	// Fully healthy: fall failures to go down, fastinter in between.
	for i := 1; i < 3; i++ {
		if tr := m.Result(false, t0); tr != NoChange || !m.Up() || m.Interval() != 100*time.Millisecond {
			t.Fatalf("failure %d: %v up=%v %v", i, tr, m.Up(), m.Interval())
		}
	}
	if tr := m.Result(false, t0); tr != WentDown || m.Interval() != 5*time.Second {
		t.Fatalf("third failure: %v %v", tr, m.Interval())
	}
	if c, of := m.StatusCounter(); c != 0 || of != 2 {
		t.Fatalf("status %d/%d", c, of)
	}
	if tr := m.Result(true, t0); tr != NoChange || m.Up() || m.Interval() != 100*time.Millisecond {
		t.Fatalf("first success: %v", tr)
	}
	if tr := m.Result(true, t0.Add(time.Second)); tr != WentUp || m.Interval() != time.Second {
		t.Fatalf("second success: %v", tr)
	}
	if m.LastChange() != t0.Add(time.Second) {
		t.Fatal("last change not recorded")
	}
}

func TestStartsUpAndOneFailureMarksDown(t *testing.T) {
	m := New(Params{Rise: 2, Fall: 3}, t0)
	if tr := m.Result(false, t0); tr != WentDown {
		t.Fatalf("got %v", tr)
	}
}

func TestSlowStartRamp(t *testing.T) {
	m := New(Params{Rise: 1, Fall: 1, SlowStart: 10 * time.Second}, t0)
	m.Result(false, t0)
	m.Result(true, t0)
	cases := []struct {
		at   time.Duration
		want int
	}{{0, 1}, {time.Second, 10}, {5 * time.Second, 50}, {10 * time.Second, 100}, {time.Hour, 100}}
	for _, c := range cases {
		if w := m.Weight(100, t0.Add(c.at)); w != c.want {
			t.Errorf("weight at %v = %d, want %d", c.at, w, c.want)
		}
	}
	m.Result(false, t0)
	if w := m.Weight(100, t0); w != 0 {
		t.Fatalf("down weight %d", w)
	}
}

func TestRestoreClamps(t *testing.T) {
	m := Restore(Params{Rise: 3, Fall: 2}, true, 99, t0)
	if !m.Up() || m.Health() != 4 {
		t.Fatalf("up=%v health=%d", m.Up(), m.Health())
	}
	m = Restore(Params{Rise: 3, Fall: 2}, false, 3, t0)
	if m.Up() || m.Health() != 2 {
		t.Fatalf("up=%v health=%d", m.Up(), m.Health())
	}
}
