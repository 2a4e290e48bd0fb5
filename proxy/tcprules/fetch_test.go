package tcprules

import (
	"strings"
	"testing"

	"appl/proxy/acl"
	"appl/proxy/stick"
)

const fetchCfg = `
frontend fe
    bind :1
    stick-table type ip size 100 expire 1m store conn_cnt,conn_cur,conn_rate(10s),sess_cnt,gpc0,gpt0,bytes_in_rate(1m),bytes_out_rate(1m)
    tcp-request connection track-sc0 src
    tcp-request connection track-sc1 src table other
    tcp-request connection sc-inc-gpc0(0)
    tcp-request connection sc-set-gpt0(0) 42
    tcp-request connection set-var(sess.port) src_port
    tcp-request content reject if { sc_get_gpc0(0) gt 3 }
    tcp-request content reject if { src_get_gpc0(other) gt 0 }
backend other
    stick-table type ip size 50 store conn_cnt,gpc0,http_req_rate(10s)
`

func TestFetches(t *testing.T) {
	ts := NewTables(stick.Options{Now: newClock().Now})
	e := mustCompile(t, ts, t.TempDir(), fetchCfg)
	fe := e.rules["fe"]
	eval := func(s *Session, expr string) (int64, bool) {
		t.Helper()
		x, err := acl.ParseExpr(expr, acl.Options{})
		if err != nil {
			t.Fatalf("ParseExpr(%q): %v", expr, err)
		}
		smp, ok := x.Eval(&s.Txn)
		if !ok {
			return 0, false
		}
		v, _ := smp.AsInt()
		return v, true
	}

	// Before any rule ran: nothing tracked, no current proxy.
	s := newSess("198.18.0.8:1234")
	for _, x := range []string{"sc_conn_cnt(0)", "sc0_conn_cnt", "src_conn_cnt", "table_cnt"} {
		if v, ok := eval(s, x); ok {
			t.Errorf("%s before tracking = %d, want no sample", x, v)
		}
	}
	if v, ok := eval(s, "sc_tracked(0)"); !ok || v != 0 {
		t.Errorf("sc_tracked(0) before tracking = %d %v", v, ok)
	}
	if fe.Connection(s) != Accept || fe.Session(s) != Accept {
		t.Fatal("connection refused")
	}
	// Two connections from the same source, the first still open.
	s2 := newSess("198.18.0.8:1235")
	fe.Connection(s2)
	fe.Session(s2)

	want := []struct {
		expr string
		v    int64
		ok   bool
	}{
		{"sc_conn_cnt(0)", 2, true},
		{"sc0_conn_cnt", 2, true},
		{"sc_conn_cur(0)", 2, true},
		{"sc0_conn_rate", 2, true},
		{"sc_sess_cnt(0)", 2, true},
		{"sc_get_gpc0(0)", 2, true},
		{"sc_get_gpt0(0)", 42, true},
		{"sc_tracked(1)", 1, true},
		{"sc2_tracked", 0, true},
		{"sc_conn_cnt(2)", 0, false},        // sc2 not tracked
		{"sc_http_req_rate(0)", 0, false},   // not stored in fe's table
		{"sc1_conn_cnt", 2, true},           // in table other
		{"sc_conn_cnt(0,other)", 2, true},   // sc0's key looked up in other
		{"sc_http_req_rate(1)", 0, true},    // stored, no request yet
		{"sc1_get_gpc0", 0, true},           //
		{"src_conn_cnt", 2, true},           // current proxy: fe
		{"src_conn_cnt(other)", 2, true},    //
		{"src_get_gpc0", 2, true},           //
		{"src_sess_rate", 0, false},         // not stored
		{"table_cnt", 1, true},              // fe's table
		{"table_avl", 99, true},             //
		{"table_cnt(other)", 1, true},       //
		{"table_avl(other)", 49, true},      //
		{"src,table_conn_cnt(fe)", 2, true}, // converter
		{"src,in_table(other)", 1, true},    //
		{"dst,in_table(other)", 0, true},    //
		{"dst,table_conn_cnt(fe)", 0, true}, // absent key: 0
		{"src,table_http_req_rate(fe)", 0, false},
		{"var(sess.port)", 1235, true}, // set-var on s2's own Txn below
	}
	for _, w := range want {
		target := s
		if w.expr == "var(sess.port)" {
			target = s2
		}
		v, ok := eval(target, w.expr)
		if v != w.v || ok != w.ok {
			t.Errorf("%s = %d, %v; want %d, %v", w.expr, v, ok, w.v, w.ok)
		}
	}

	// Side effects: inc and clr return the new / previous value.
	if v, _ := eval(s, "sc_inc_gpc0(0)"); v != 3 {
		t.Errorf("sc_inc_gpc0(0) = %d, want 3", v)
	}
	if v, _ := eval(s, "sc0_clr_gpc0"); v != 3 {
		t.Errorf("sc0_clr_gpc0 = %d, want 3 (previous)", v)
	}
	if v, _ := eval(s, "sc0_get_gpc0"); v != 0 {
		t.Errorf("gpc0 after clr = %d", v)
	}
	// src_inc_gpc0 creates the entry of an unknown source.
	s3 := newSess("198.18.0.99:1")
	s3.cur = fe
	if v, _ := eval(s3, "src_inc_gpc0(other)"); v != 1 {
		t.Errorf("src_inc_gpc0(other) on a new source = %d", v)
	}
	if ts.Get("other").Len() != 2 {
		t.Errorf("src_inc_gpc0 did not create the entry")
	}
	// ... so that content rule rejects that source now.
	s3.Close(0, 0)
	s3 = newSess("198.18.0.99:2")
	fe.Connection(s3)
	fe.Session(s3)
	if v := fe.Content(s3); v != Reject {
		t.Errorf("src_get_gpc0(other) gt 0: %v, want reject", v)
	}
	s3.Close(0, 0)

	s.Close(1000, 2000)
	s2.Close(0, 0)
	out := showTable(t, fe.Table())
	if !strings.Contains(out, "conn_cur=0") || !strings.Contains(out, "bytes_in_rate(60000)=1000 bytes_out_rate(60000)=2000") {
		t.Fatalf("after close:\n%s", out)
	}
}

func TestFetchArgErrors(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		{"sc_conn_cnt(3)", `stick counter "3" out of range`},
		{"sc_conn_cnt", "takes 1 to 2 argument(s)"},
		{"sc0_conn_cnt(a,b)", "takes 0 to 1 argument(s)"},
		{"src,table_conn_cnt", "takes 1 argument(s)"},
	} {
		_, err := acl.ParseExpr(c.expr, acl.Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.expr, err, c.want)
		}
	}
	known := func(kind, name string) bool { return kind != "table" || name == "fe" }
	if _, err := acl.ParseExpr("src_conn_cnt(nope)", acl.Options{Known: known}); err == nil ||
		!strings.Contains(err.Error(), `unknown stick-table "nope"`) {
		t.Errorf("unknown table: %v", err)
	}
	if _, err := acl.ParseExpr("src_conn_cnt(fe)", acl.Options{Known: known}); err != nil {
		t.Errorf("known table: %v", err)
	}
}

// A Txn without a Session (e.g. a fetch evaluated by code that does not use tcprules)
// finds nothing rather than panicking.
func TestFetchWithoutSession(t *testing.T) {
	x, err := acl.ParseExpr("src_conn_cnt", acl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := x.Eval(&acl.Txn{}); ok {
		t.Fatal("sample without a session")
	}
}
