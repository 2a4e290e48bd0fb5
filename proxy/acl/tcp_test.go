package acl

import (
	"strings"
	"testing"
)

func TestTCPFetchesAndMatchers(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "lists/white", `
# trusted
10.1.0.0/16
192.168.7.7
2001:db8::/32

`)
	cases := []struct {
		acl      string
		src, dst string
		want     bool
	}{
		{"acl a src 10.0.0.0/8", "10.2.3.4:5000", "1.1.1.1:80", true},
		{"acl a src 10.0.0.0/8", "11.2.3.4:5000", "1.1.1.1:80", false},
		{"acl a src 10.0.0.1 10.0.0.2", "10.0.0.2:1", "1.1.1.1:80", true},
		{"acl a src 10.0.0.0/255.255.0.0", "10.0.9.9:1", "1.1.1.1:80", true},
		{"acl a src 10.0.0.0/255.255.0.0", "10.1.9.9:1", "1.1.1.1:80", false},
		{"acl a dst 1.1.1.1", "10.0.0.2:1", "1.1.1.1:80", true},
		{"acl a dst -m ip 1.1.1.0/24", "10.0.0.2:1", "1.1.1.9:80", true},
		{"acl a src ::1", "[::1]:1", "1.1.1.1:80", true},
		{"acl a src 2001:db8::/32", "[2001:db8:1::1]:1", "1.1.1.1:80", true},
		{"acl a src 2001:db8::/32", "[2001:db9::1]:1", "1.1.1.1:80", false},
		{"acl a src 10.0.0.0/8", "[::ffff:10.0.0.1]:1", "1.1.1.1:80", true},
		{"acl a src -f lists/white", "10.1.200.1:1", "1.1.1.1:80", true},
		{"acl a src -f lists/white", "192.168.7.7:1", "1.1.1.1:80", true},
		{"acl a src -f lists/white", "192.168.7.8:1", "1.1.1.1:80", false},
		{"acl a src -n -f lists/white 8.8.8.8", "8.8.8.8:1", "1.1.1.1:80", true},
		{"acl a dst_port 80", "1.1.1.1:1", "2.2.2.2:80", true},
		{"acl a dst_port 80", "1.1.1.1:1", "2.2.2.2:81", false},
		{"acl a dst_port 1024:65535", "1.1.1.1:1", "2.2.2.2:5000", true},
		{"acl a dst_port 1024:65535", "1.1.1.1:1", "2.2.2.2:1023", false},
		{"acl a dst_port :1023", "1.1.1.1:1", "2.2.2.2:1023", true},
		{"acl a dst_port 5000:", "1.1.1.1:1", "2.2.2.2:5545", true},
		{"acl a src_port gt 1024", "1.1.1.1:1025", "2.2.2.2:1", true},
		{"acl a src_port gt 1024", "1.1.1.1:1024", "2.2.2.2:1", false},
		{"acl a src_port ge 1024", "1.1.1.1:1024", "2.2.2.2:1", true},
		{"acl a src_port lt 1024", "1.1.1.1:1024", "2.2.2.2:1", false},
		{"acl a src_port lt 1024", "1.1.1.1:1023", "2.2.2.2:1", true},
		{"acl a src_port le 1024", "1.1.1.1:1024", "2.2.2.2:1", true},
		{"acl a src_port eq 1024 2000", "1.1.1.1:2000", "2.2.2.2:1", true},
		{"acl a dst_port -m str 80", "1.1.1.1:1", "2.2.2.2:80", true},
		{"acl a dst_port -m str 8", "1.1.1.1:1", "2.2.2.2:80", false},
		{"acl a dst_port -m beg 8", "1.1.1.1:1", "2.2.2.2:80", true},
		{"acl a src -m str 10.0.0.1", "10.0.0.1:1", "2.2.2.2:80", true},
		{"acl a src -m beg 10.0.", "10.0.0.1:1", "2.2.2.2:80", true},
		{"acl a src -m found", "10.0.0.1:1", "2.2.2.2:80", true},
		{"acl a always_true", "10.0.0.1:1", "2.2.2.2:80", true},
		{"acl a always_false", "10.0.0.1:1", "2.2.2.2:80", false},
		{"acl a dst_port -- 80", "1.1.1.1:1", "2.2.2.2:80", true},
		{"acl a src", "10.0.0.1:1", "2.2.2.2:80", false}, // no patterns: never matches
	}
	for _, c := range cases {
		_, cond := build(t, Options{BaseDir: dir}, []string{c.acl}, "if a")
		if got := cond.Match(tcpTxn(c.src, c.dst)); got != c.want {
			t.Errorf("%s with src=%s dst=%s: got %v want %v", c.acl, c.src, c.dst, got, c.want)
		}
	}
}

func TestConditionTruthTable(t *testing.T) {
	acls := []string{
		"acl A src 10.0.0.1",
		"acl B dst_port 80",
		"acl C src_port 1000",
		"acl A src 10.0.0.9", // ORed with the first A
	}
	conds := []struct {
		cond string
		fn   func(a, b, c bool) bool
	}{
		{"if A", func(a, b, c bool) bool { return a }},
		{"unless A", func(a, b, c bool) bool { return !a }},
		{"if A B", func(a, b, c bool) bool { return a && b }},
		{"if A B C", func(a, b, c bool) bool { return a && b && c }},
		{"if A || B", func(a, b, c bool) bool { return a || b }},
		{"if A or B", func(a, b, c bool) bool { return a || b }},
		{"if A B || C", func(a, b, c bool) bool { return a && b || c }},
		{"if A || B C", func(a, b, c bool) bool { return a || b && c }},
		{"if ! A", func(a, b, c bool) bool { return !a }},
		{"if !A B", func(a, b, c bool) bool { return !a && b }},
		{"unless A || !B", func(a, b, c bool) bool { return !(a || !b) }},
		{"if { src 10.0.0.1 10.0.0.9 } !C", func(a, b, c bool) bool { return a && !c }},
		{"if ! { dst_port 80 } || C", func(a, b, c bool) bool { return !b || c }},
		{"if TRUE A", func(a, b, c bool) bool { return a }},
		{"if FALSE || B", func(a, b, c bool) bool { return b }},
	}
	for _, cc := range conds {
		_, cond := build(t, Options{}, acls, cc.cond)
		for i := 0; i < 8; i++ {
			a, b, c := i&1 != 0, i&2 != 0, i&4 != 0
			src, dport, sport := "10.0.0.2", "81", "1001"
			if a {
				src = []string{"10.0.0.1", "10.0.0.9"}[i%2]
			}
			if b {
				dport = "80"
			}
			if c {
				sport = "1000"
			}
			txn := tcpTxn(src+":"+sport, "1.1.1.1:"+dport)
			if got, want := cond.Match(txn), cc.fn(a, b, c); got != want {
				t.Errorf("%q with A=%v B=%v C=%v: got %v want %v", cc.cond, a, b, c, got, want)
			}
		}
	}
}

func TestLaterDefinitionExtendsACL(t *testing.T) {
	s, cond := build(t, Options{}, []string{"acl A src 10.0.0.1"}, "if A")
	if err := s.Define(line(t, "acl A src 10.0.0.2")); err != nil {
		t.Fatal(err)
	}
	if !cond.Match(tcpTxn("10.0.0.2:1", "1.1.1.1:1")) {
		t.Fatal("second definition of A is not ORed into a condition parsed before it")
	}
}

func TestParseErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "bad", "10.0.0.1\nnot-an-ip\n")
	cases := []struct {
		acls []string
		cond string
		want []string
	}{
		{[]string{"acl a srcx 1.2.3.4"}, "", []string{"test.cfg:7: acl:", `unknown fetch "srcx"`, "src", "dst_port"}},
		{[]string{"acl a src 1.2.3"}, "", []string{`"1.2.3" is not an IP`}},
		{[]string{"acl a src -f missing.lst"}, "", []string{"missing.lst", "no such file"}},
		{[]string{"acl a src -f bad"}, "", []string{"bad:2", `"not-an-ip"`}},
		{[]string{"acl a dst_port 80x"}, "", []string{`"80x" is not an integer`}},
		{[]string{"acl a dst_port gt"}, "", []string{"operator gt needs a value"}},
		{[]string{"acl a src -m nope 1"}, "", []string{`unknown match method "nope"`, "str, beg"}},
		{[]string{"acl a src -x 1"}, "", []string{`unknown flag "-x"`}},
		{[]string{"acl a src -f"}, "", []string{"-f needs an argument"}},
		{[]string{"acl a"}, "", []string{"missing ACL name or fetch"}},
		{[]string{"acl a/b src 1.1.1.1"}, "", []string{`bad ACL name "a/b"`}},
		{[]string{"acl a src -m found 1.1.1.1"}, "", []string{"takes no values"}},
		{nil, "if nosuch", []string{"test.cfg:7: use_backend:", `unknown ACL "nosuch"`}},
		{nil, "when x", []string{"expected if or unless"}},
		{nil, "if", []string{"missing condition"}},
		{nil, "if { src 1.1.1.1", []string{"not closed"}},
		{nil, "if { }", []string{"empty anonymous ACL"}},
		{nil, "if TRUE ||", []string{"ends with '||'"}},
		{nil, "if || TRUE", []string{"without a condition before"}},
		{nil, "if !", []string{"'!' at the end"}},
		{nil, "if { src 1.1.1.1 } }", []string{"'}' without '{'"}},
		{nil, "if { nosuch(1) x }", []string{`unknown fetch "nosuch"`}},
		{nil, "if { src(1) x }", []string{"takes 0 argument(s), got 1"}},
	}
	for _, c := range cases {
		s := NewSet(Options{BaseDir: dir})
		var err error
		for _, a := range c.acls {
			if err = s.Define(line(t, a)); err != nil {
				break
			}
		}
		if err == nil {
			l := line(t, "use_backend x "+c.cond)
			_, err = s.ParseCond(l, l.Words[2:])
		}
		if err == nil {
			t.Errorf("%v %q: no error", c.acls, c.cond)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v %q: error %q does not contain %q", c.acls, c.cond, err, w)
			}
		}
	}
}

func TestExprMapIP(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "map", `
# dst -> backend
198.18.0.10 bk_vm10
198.18.0.0/24 bk_net   # not a comment: the value is the rest
198.18.0.10 bk_dup
2001:db8::/64 bk_v6
`)
	e, err := ParseExpr("dst,map_ip(./map,not_found)", Options{BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for dst, want := range map[string]string{
		"198.18.0.10:80":     "bk_vm10",
		"198.18.0.11:80":     "bk_net   # not a comment: the value is the rest",
		"198.18.1.1:80":      "not_found",
		"[2001:db8::5]:443":  "bk_v6",
		"[2001:db8:1::5]:80": "not_found",
	} {
		got, ok := e.String(tcpTxn("1.1.1.1:1", dst))
		if !ok || got != want {
			t.Errorf("dst %s: got %q,%v want %q", dst, got, ok, want)
		}
	}
	e2, err := ParseExpr("dst,map_ip(./map)", Options{BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := e2.String(tcpTxn("1.1.1.1:1", "9.9.9.9:1")); ok {
		t.Errorf("no default: got %q, want no result", got)
	}
	for _, src := range []string{"src", "dst_port", "src,ipmask(24)"} {
		e, err := ParseExpr(src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := e.String(tcpTxn("10.1.2.3:4000", "1.1.1.1:5000"))
		want := map[string]string{"src": "10.1.2.3", "dst_port": "5000", "src,ipmask(24)": "10.1.2.0"}[src]
		if got != want {
			t.Errorf("%s: got %q want %q", src, got, want)
		}
	}
	for _, bad := range []string{"", "dst,nosuch", "dst,map_ip(./nofile)", "dst,map_ip()", "dst,map_ip(a,b,c)", "dst,map_ip(./map", "nosuch"} {
		if _, err := ParseExpr(bad, Options{BaseDir: dir}); err == nil {
			t.Errorf("ParseExpr(%q): no error", bad)
		}
	}
}

// TestConcurrentMatchWithEdits evaluates conditions and map expressions from several
// goroutines while the pattern file and the map are edited (run with -race).
func TestConcurrentMatchWithEdits(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "white", "10.0.0.0/8\n")
	writeFile(t, dir, "map", "198.18.0.0/15 bk_all\n")
	opt := Options{BaseDir: dir}
	opt.Maps = NewSet(opt).opt.Maps
	_, cond := build(t, opt, []string{"acl w src -f white", "acl h hdr(host) -i a.example"}, "if w || h")
	e, err := ParseExpr("dst,map_ip(map,none)", opt)
	if err != nil {
		t.Fatal(err)
	}
	white, m := opt.Maps.Ref("white"), opt.Maps.Ref("map")
	done := make(chan struct{})
	errs := make(chan string, 8)
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			txn := httpTxn("GET", "/", "Host: A.example")
			txn.Src = tcpTxn("10.1.1.1:1", "1.1.1.1:1").Src
			txn.Dst = tcpTxn("1.1.1.1:1", "198.18.5.5:80").Dst
			for i := 0; i < 3000; i++ {
				if !cond.Match(txn) {
					errs <- "condition false"
					return
				}
				if v, _ := e.String(txn); v != "bk_all" && v != "bk_one" {
					errs <- "map gave " + v
					return
				}
			}
		}()
	}
	for i := 0; i < 300; i++ {
		x, _ := white.Add("192.168.0.0/16", "")
		y, _ := m.Add("198.18.5.5", "bk_one")
		white.DelID(x.ID)
		m.DelID(y.ID)
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestNeedsHTTP(t *testing.T) {
	_, c := build(t, Options{}, []string{"acl a src 1.1.1.1", "acl p path_beg /x"}, "if a")
	_, c2 := build(t, Options{}, []string{"acl a src 1.1.1.1", "acl p path_beg /x"}, "if a || !p")
	_, c3 := build(t, Options{}, nil, "if { req.hdr(host) -m found }")
	if c.NeedsHTTP() || !c2.NeedsHTTP() || !c3.NeedsHTTP() {
		t.Errorf("NeedsHTTP: %v %v %v", c.NeedsHTTP(), c2.NeedsHTTP(), c3.NeedsHTTP())
	}
	e, _ := ParseExpr("dst,map_ip(/dev/null,x)", Options{})
	if e == nil || e.NeedsHTTP() {
		t.Error("dst expression needs no HTTP")
	}
}
