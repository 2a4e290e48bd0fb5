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

// disable-on-404 (L7OKC): up servers stop taking traffic but stay up; down servers stay
// down though their health rises, so one full success brings them up.
func TestFeedConditionalPass(t *testing.T) {
	m := New(Params{Rise: 2, Fall: 3}, t0)
	if tr := m.Feed(StatusL7OKC, t0); tr != WentStopping || !m.Up() || !m.Stopping() || m.Weight(5, t0) != 0 {
		t.Fatalf("%v up=%v stopping=%v", tr, m.Up(), m.Stopping())
	}
	if tr := m.Feed(StatusL7OKC, t0); tr != NoChange {
		t.Fatalf("second 404: %v", tr)
	}
	if tr := m.Feed(StatusL7OK, t0); tr != LeftStopping || m.Stopping() || m.Weight(5, t0) != 5 {
		t.Fatalf("200: %v", tr)
	}
	m.Feed(StatusL7OKC, t0)
	for i := 0; i < 3; i++ {
		m.Feed(StatusL7STS, t0)
	}
	if m.Up() || m.Stopping() {
		t.Fatal("not down after fall failures")
	}
	for i := 0; i < 5; i++ {
		if tr := m.Feed(StatusL7OKC, t0); tr != NoChange || m.Up() {
			t.Fatalf("404 on a down server: %v", tr)
		}
	}
	if tr := m.Feed(StatusL7OK, t0); tr != WentUp || m.Stopping() {
		t.Fatalf("200 after 404s: %v", tr)
	}
	if tr := m.Feed(StatusL4CON, t0); tr != NoChange || !m.Up() {
		t.Fatalf("first failure when fully healthy: %v", tr)
	}
}

func TestStatusWording(t *testing.T) {
	cases := []struct {
		o             Outcome
		detail, state string
	}{
		{outcome(StatusL4OK, 0, ""), "Layer4 check passed", "L4OK Layer4 check passed"},
		{outcome(StatusL4TOUT, 0, ""), "Layer4 timeout", "L4TOUT Layer4 timeout"},
		{outcome(StatusL4CON, 0, "Connection refused"), `Layer4 connection problem, info: "Connection refused"`, "L4CON Layer4 connection problem: Connection refused"},
		{outcome(StatusL7TOUT, 0, ""), "Layer7 timeout", "L7TOUT Layer7 timeout"},
		{outcome(StatusL7RSP, 0, ""), "Layer7 invalid response", "L7RSP Layer7 invalid response"},
		{outcome(StatusL7OK, 200, ""), "Layer7 check passed, code: 200", "L7OK/200 Layer7 check passed"},
		{outcome(StatusL7OKC, 404, ""), "Layer7 check conditionally passed, code: 404", "L7OKC/404 Layer7 check conditionally passed"},
		{outcome(StatusL7STS, 503, "Service Unavailable"), `Layer7 wrong status, code: 503, info: "Service Unavailable"`, "L7STS/503 Layer7 wrong status: Service Unavailable"},
	}
	for _, c := range cases {
		if c.o.Detail() != c.detail || c.o.State() != c.state {
			t.Errorf("%s: %q / %q", c.o.Status.Code(), c.o.Detail(), c.o.State())
		}
	}
	// The numbers are HAProxy's HCHK_STATUS_* values (stats CSV check_status).
	if StatusL4OK != 6 || StatusL4CON != 8 || StatusL7TOUT != 12 || StatusL7OK != 15 || StatusL7STS != 17 {
		t.Fatal("status numbers moved")
	}
}
