package tcprules

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"appl/proxy/stick"
)

// seed000 is the proxy part of seed 000's haproxy.cfg (transparent binds dropped).
const seed000 = `
frontend TCP-in
    bind 127.0.0.1:5000-5545
    mode             tcp
    use_backend	%[dst,map_ip(./map,not_found)]

backend ft_group
    stick-table type ip size 5k expire 1m store conn_cnt
    stick on src
    mode    tcp
    server srv1 127.0.0.1:1

backend frontend_group
    stick-table type ip size 5k expire 1m store conn_cnt
    stick on src
    mode    tcp
    server srv1 127.0.0.1:1

backend not_found
    tcp-request content accept if { src -f ./white_ip_list }
    tcp-request content reject
`

// connect runs one connection through fe and be the way the data plane does and
// returns the verdict and the server stuck to (or chosen by pick).
func connect(fe, be *Rules, src string, usable Usable, pick func() (string, int)) (Verdict, string) {
	s := newSess(src)
	defer s.Close(100, 200)
	if v := fe.Connection(s); v != Accept {
		return v, ""
	}
	if v := fe.Session(s); v != Accept {
		return v, ""
	}
	if v := fe.Content(s); v != Accept {
		return v, ""
	}
	if v := be.Content(s); v != Accept {
		return v, ""
	}
	name, id, ok := be.StickServer(s, usable)
	if !ok {
		name, id = pick()
	}
	be.StickStore(s, id, name)
	return Accept, name
}

func TestSeed000(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "white_ip_list", "")
	clk := newClock()
	ts := NewTables(stick.Options{Now: clk.Now})
	e := mustCompile(t, ts, dir, seed000)
	fe, nf, ft := e.rules["TCP-in"], e.rules["not_found"], e.rules["ft_group"]
	if got := ts.Names(); strings.Join(got, ",") != "frontend_group,ft_group" {
		t.Fatalf("tables = %v", got)
	}
	srv1 := func() (string, int) { return "srv1", 1 }

	// not_found: the white list is empty, so everything is refused.
	if v, _ := connect(fe, nf, "198.18.0.5:40000", nil, srv1); v != Reject {
		t.Fatalf("not_found with empty white list: %v, want reject", v)
	}
	if nf.NeedsData() {
		t.Error("not_found's rules read only src: they must not wait for data")
	}

	// The white list is a pattern file: adding an entry at run time (add acl) lets
	// that source through and no other.
	ref := e.maps.Ref(e.dir + "/white_ip_list")
	if ref == nil {
		t.Fatalf("white list not loaded in the maps store: %v", e.maps.Refs(false))
	}
	if _, err := ref.Add("198.18.0.5", ""); err != nil {
		t.Fatal(err)
	}
	if v, _ := connect(fe, nf, "198.18.0.5:40001", nil, srv1); v != Accept {
		t.Fatalf("white-listed source: %v, want accept", v)
	}
	if v, _ := connect(fe, nf, "198.18.0.6:40001", nil, srv1); v != Reject {
		t.Fatalf("other source: %v, want reject", v)
	}

	// ft_group: stick on src with store conn_cnt counts each connection of a client.
	const n = 7
	for i := 0; i < n; i++ {
		if v, name := connect(fe, ft, fmt.Sprintf("198.18.1.9:%d", 41000+i), nil, srv1); v != Accept || name != "srv1" {
			t.Fatalf("ft_group connection %d: %v %q", i, v, name)
		}
	}
	out := showTable(t, ft.Table())
	want := regexp.MustCompile(`(?m)^0x[0-9a-f]+: key=198\.18\.1\.9 use=0 exp=\d+ server_id=1 conn_cnt=7 server_key=srv1$`)
	if !want.MatchString(out) {
		t.Fatalf("show table ft_group:\n%s\nwant a line matching %s", out, want)
	}
	if !strings.HasPrefix(out, "# table: ft_group, type: ip, size:5120, used:1\n") {
		t.Fatalf("header: %q", out)
	}
}

func TestSeed000HAProxyCounts(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "white_ip_list", "")
	ts := NewTables(stick.Options{Now: newClock().Now})
	e, err := compileText(t, ts, dir, seed000, Options{HAProxyStickCounts: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		connect(e.rules["TCP-in"], e.rules["ft_group"], "198.18.1.9:1", nil, func() (string, int) { return "srv1", 1 })
	}
	if out := showTable(t, e.rules["ft_group"].Table()); !strings.Contains(out, " server_id=1 conn_cnt=0 server_key=srv1") {
		t.Fatalf("HAProxy counting: conn_cnt must stay 0 with stick on only:\n%s", out)
	}
}

// An open connection holds its stick entry: conn_cur-like use= and no eviction.
func TestStickEntryInUseUntilClose(t *testing.T) {
	ts := NewTables(stick.Options{Now: newClock().Now})
	e := mustCompile(t, ts, t.TempDir(), `
backend be
    stick-table type ip size 10 expire 1m store conn_cnt,conn_cur
    stick on src
`)
	be := e.rules["be"]
	s := newSess("198.18.0.9:1")
	be.StickServer(s, nil)
	be.StickStore(s, 2, "web2")
	out := showTable(t, be.Table())
	if !strings.Contains(out, "use=1 ") || !strings.Contains(out, "conn_cnt=1 conn_cur=1") {
		t.Fatalf("open connection:\n%s", out)
	}
	s.Close(0, 0)
	out = showTable(t, be.Table())
	if !strings.Contains(out, "use=0 ") || !strings.Contains(out, "conn_cnt=1 conn_cur=0") {
		t.Fatalf("closed connection:\n%s", out)
	}
}

func TestStickinessSurvivesServerAddition(t *testing.T) {
	ts := NewTables(stick.Options{Now: newClock().Now})
	e := mustCompile(t, ts, t.TempDir(), `
frontend fe
    bind :1
backend be
    stick-table type ip size 100k expire 30m
    stick on src
`)
	fe, be := e.rules["fe"], e.rules["be"]
	servers := []string{"a", "b"}
	up := map[string]bool{"a": true, "b": true}
	usable := func(name string, _ int) bool { return up[name] }
	rr := 0
	pick := func() (string, int) {
		for {
			name := servers[rr%len(servers)]
			rr++
			if up[name] {
				return name, rr%len(servers) + 1
			}
		}
	}
	const keys = 1500
	src := func(i int) string {
		return netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}).String() + ":1234"
	}
	first := make([]string, keys)
	for i := range first {
		_, first[i] = connect(fe, be, src(i), usable, pick)
	}
	if n := be.Table().Len(); n != keys {
		t.Fatalf("table has %d entries, want %d", n, keys)
	}
	// Add servers: every key keeps its server.
	servers = append(servers, "c", "d")
	up["c"], up["d"] = true, true
	for round := 0; round < 2; round++ {
		for i := 0; i < keys; i++ {
			if _, got := connect(fe, be, src(i), usable, pick); got != first[i] {
				t.Fatalf("round %d key %d: server %q, was %q", round, i, got, first[i])
			}
		}
	}
	// Server a goes down: its keys move (and stick to their new server), others stay.
	up["a"] = false
	moved := make([]string, keys)
	for i := 0; i < keys; i++ {
		_, moved[i] = connect(fe, be, src(i), usable, pick)
		switch {
		case first[i] == "a" && moved[i] == "a":
			t.Fatalf("key %d still on the down server", i)
		case first[i] != "a" && moved[i] != first[i]:
			t.Fatalf("key %d moved from %q to %q though its server is up", i, first[i], moved[i])
		}
	}
	// a comes back: the moved keys stay where they went (the table now says so).
	up["a"] = true
	for i := 0; i < keys; i++ {
		if _, got := connect(fe, be, src(i), usable, pick); got != moved[i] {
			t.Fatalf("key %d: %q after a came back, want %q", i, got, moved[i])
		}
	}
}

func TestStickMatchAndStoreRequest(t *testing.T) {
	ts := NewTables(stick.Options{Now: newClock().Now})
	e := mustCompile(t, ts, t.TempDir(), `
backend be
    stick-table type ip size 1k expire 1m
    stick match src if { src 198.18.0.0/24 }
    stick store-request src
    stick store-request dst
backend ids
    stick-table type integer size 1k
    stick on src_port table ids
`)
	be := e.rules["be"]
	// Only the first store rule of a table applies: dst is not stored.
	s := newSess("198.18.0.7:9")
	if _, _, ok := be.StickServer(s, nil); ok {
		t.Fatal("empty table matched")
	}
	be.StickStore(s, 3, "web3")
	s.Close(0, 0)
	if n := be.Table().Len(); n != 1 {
		t.Fatalf("entries = %d, want 1 (first store rule per table only)\n%s", n, showTable(t, be.Table()))
	}
	s = newSess("198.18.0.7:10")
	if name, id, ok := be.StickServer(s, nil); !ok || name != "web3" || id != 3 {
		t.Fatalf("match: %q %d %v", name, id, ok)
	}
	s.Close(0, 0)
	// Outside the match condition: stored but never matched.
	s = newSess("198.18.9.7:10")
	be.StickServer(s, nil)
	be.StickStore(s, 4, "web4")
	s.Close(0, 0)
	s = newSess("198.18.9.7:11")
	if _, _, ok := be.StickServer(s, nil); ok {
		t.Fatal("matched although the match condition is false")
	}
	s.Close(0, 0)
	// An entry with only a server_id (e.g. `set table ... data.server_id 5`).
	ids := e.rules["ids"]
	k := ids.Table().IntKey(77)
	if err := ids.Table().ExecSet([]string{"key", "77", "data.server_id", "5"}); err != nil {
		t.Fatal(err)
	}
	_ = k
	s = newSess("198.18.0.1:77")
	if name, id, ok := ids.StickServer(s, func(n string, id int) bool { return n == "" && id == 5 }); !ok || id != 5 || name != "" {
		t.Fatalf("server_id only: %q %d %v", name, id, ok)
	}
	s.Close(0, 0)
}

func TestExpiryAndEvictionThroughRules(t *testing.T) {
	clk := newClock()
	ts := NewTables(stick.Options{Now: clk.Now, LRUGranularity: -1})
	e := mustCompile(t, ts, t.TempDir(), `
backend be
    stick-table type ip size 10 expire 30s
    stick on src
`)
	be := e.rules["be"]
	store := func(i int, srv string) {
		s := newSess(fmt.Sprintf("198.18.0.%d:1", i))
		if _, _, ok := be.StickServer(s, nil); !ok {
			be.StickStore(s, 1, srv)
		}
		s.Close(0, 0)
	}
	lookup := func(i int) (string, bool) {
		s := newSess(fmt.Sprintf("198.18.0.%d:2", i))
		defer s.Close(0, 0)
		name, _, ok := be.StickServer(s, nil)
		return name, ok
	}
	for i := 1; i <= 25; i++ {
		store(i, "s")
		clk.Advance(time.Millisecond)
	}
	if n := be.Table().Len(); n != 10 {
		t.Fatalf("size eviction: %d entries, want 10", n)
	}
	// The most recent ten are kept, the oldest evicted.
	for i := 16; i <= 25; i++ {
		if _, ok := lookup(i); !ok {
			t.Fatalf("recent key %d evicted", i)
		}
	}
	for i := 1; i <= 15; i++ {
		if _, ok := lookup(i); ok {
			t.Fatalf("old key %d kept past the table size", i)
		}
	}
	// Expiry: 29s later the entries are there; a match refreshes its entry (as in
	// HAProxy), so 31s after the stores only the matched one is left.
	clk.Advance(29 * time.Second)
	if _, ok := lookup(24); !ok {
		t.Fatal("entry expired early")
	}
	clk.Advance(2 * time.Second)
	if _, ok := lookup(25); ok {
		t.Fatal("entry alive after expire")
	}
	if _, ok := lookup(24); !ok {
		t.Fatal("entry refreshed by its match expired")
	}
	ts.PurgeExpired()
	if n := be.Table().Len(); n != 1 {
		t.Fatalf("%d entries after expiry, want 1:\n%s", n, showTable(t, be.Table()))
	}
	clk.Advance(31 * time.Second)
	if n := ts.PurgeExpired(); n != 1 || be.Table().Len() != 0 {
		t.Fatalf("PurgeExpired = %d, %d left", n, be.Table().Len())
	}
}

const rateLimit = `
frontend fe
    bind :1
    stick-table type ip size 100k expire 30s store conn_rate(10s),conn_cur,conn_cnt,sess_cnt
    tcp-request connection track-sc0 src
    tcp-request connection reject if { sc_conn_rate(0) gt 10 }
    default_backend be
backend be
    server s 127.0.0.1:1
`

// The same limit written with a named ACL and the sc0_ form.
const rateLimitNamed = `
frontend fe
    bind :1
    stick-table type ip size 100k expire 30s store conn_rate(10s),conn_cur,conn_cnt,sess_cnt
    acl abuse sc0_conn_rate gt 10
    tcp-request connection track-sc0 src
    tcp-request connection reject if abuse
    default_backend be
backend be
    server s 127.0.0.1:1
`

func TestRateLimitBySource(t *testing.T) {
	for name, cfg := range map[string]string{"anonymous": rateLimit, "named": rateLimitNamed} {
		t.Run(name, func(t *testing.T) { testRateLimit(t, cfg) })
	}
}

func testRateLimit(t *testing.T, cfg string) {
	clk := newClock()
	ts := NewTables(stick.Options{Now: clk.Now})
	e := mustCompile(t, ts, t.TempDir(), cfg)
	fe, be := e.rules["fe"], e.rules["be"]
	one := func(src string) Verdict {
		v, _ := connect(fe, be, src, nil, func() (string, int) { return "s", 1 })
		return v
	}
	for i := 1; i <= 10; i++ {
		if v := one("198.18.0.1:1"); v != Accept {
			t.Fatalf("connection %d (rate %d <= 10): %v", i, i, v)
		}
		clk.Advance(100 * time.Millisecond)
	}
	for i := 11; i <= 15; i++ {
		if v := one("198.18.0.1:1"); v != Reject {
			t.Fatalf("connection %d above the limit: %v", i, v)
		}
	}
	if v := one("198.18.0.2:1"); v != Accept {
		t.Fatalf("another source: %v", v)
	}
	out := showTable(t, fe.Table())
	// HAProxy counts rejected connections in conn_cnt but sessions only when accepted.
	if !strings.Contains(out, "key=198.18.0.1 use=0 ") || !strings.Contains(out, "conn_cnt=15 conn_rate(10000)=15 conn_cur=0 sess_cnt=10") {
		t.Fatalf("counters:\n%s", out)
	}
	// Two periods later the rate has decayed to zero.
	clk.Advance(20 * time.Second)
	if v := one("198.18.0.1:1"); v != Accept {
		t.Fatalf("after the rate window: %v", v)
	}
}

func TestVerdictsAndOrder(t *testing.T) {
	ts := NewTables(stick.Options{Now: newClock().Now})
	e := mustCompile(t, ts, t.TempDir(), `
frontend fe
    bind :1
    acl bad src 198.18.7.0/24
    tcp-request connection silent-drop if { src 198.18.6.6 }
    tcp-request connection accept if { src 198.18.5.0/24 }
    tcp-request connection reject if bad
    tcp-request session reject if { src 198.18.4.4 }
    tcp-request content reject if { dst_port 6666 }
    tcp-request content accept
    tcp-request content reject
`)
	fe := e.rules["fe"]
	cases := []struct {
		src, dst string
		stage    string
		want     Verdict
	}{
		{"198.18.6.6:1", "198.18.0.1:80", "connection", SilentDrop},
		{"198.18.7.1:1", "198.18.0.1:80", "connection", Reject},
		{"198.18.5.1:1", "198.18.0.1:80", "content", Accept},
		{"198.18.4.4:1", "198.18.0.1:80", "session", Reject},
		{"198.18.3.3:1", "198.18.0.1:6666", "content", Reject},
		{"198.18.3.3:1", "198.18.0.1:80", "content", Accept},
	}
	for _, c := range cases {
		s := NewSession()
		s.Reset(ap(c.src), ap(c.dst))
		v, stage := fe.Connection(s), "connection"
		if v == Accept {
			v, stage = fe.Session(s), "session"
		}
		if v == Accept {
			v, stage = fe.Content(s), "content"
		}
		s.Close(0, 0)
		if v != c.want || stage != c.stage {
			t.Errorf("%s -> %s: %v at %s, want %v at %s", c.src, c.dst, v, stage, c.want, c.stage)
		}
	}
}

// A listen section compiled once (Listen) or per half runs its content rules once.
func TestListenContentRunsOnce(t *testing.T) {
	const cfg = `
listen l
    bind :1
    stick-table type ip size 1k store gpc0
    tcp-request content track-sc1 src
    tcp-request content sc-inc-gpc0(1)
`
	check := func(fe, be *Rules) {
		t.Helper()
		s := newSess("198.18.0.3:4")
		fe.Connection(s)
		fe.Session(s)
		fe.Content(s)
		be.Content(s)
		e, _ := s.Tracked(1)
		if e == nil {
			t.Fatal("not tracked")
		}
		if v, _ := e.Get(stick.DataGPC0); v != 1 {
			t.Fatalf("gpc0 = %d after one connection, want 1", v)
		}
		s.Close(0, 0)
		e.Table().Clear()
	}
	ts := NewTables(stick.Options{Now: newClock().Now})
	e := mustCompile(t, ts, t.TempDir(), cfg)
	check(e.rules["l"], e.rules["l"])

	// Per half, as a data plane that compiles Frontend and Backend separately does.
	b := ts.Begin()
	lines := parseLines(t, cfg)
	fe, err := Compile("l", Frontend, lines, nil, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	be, err := Compile("l", Backend, lines, nil, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := b.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Kept) != 1 || fe.Table() != be.Table() {
		t.Fatalf("halves must share the kept table: %+v", ch)
	}
	check(fe, be)
}
