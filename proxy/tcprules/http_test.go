package tcprules

import (
	"strings"
	"testing"

	"appl/internal/cfgfile"
	"appl/proxy/acl"
	"appl/proxy/stick"
)

func httpLine(words ...string) cfgfile.Line {
	return cfgfile.Line{Pos: cfgfile.Pos{File: "h.cfg", Line: 7}, Words: append([]string{"http-request"}, words...)}
}

// The HTTP engine's view: a request-scoped counter counts requests, not connections,
// and is released by EndRequest; a connection-scoped counter stays and counts every
// request.
func TestHTTPTrackLifetimes(t *testing.T) {
	ts := NewTables(stick.Options{Now: newClock().Now})
	e := mustCompile(t, ts, t.TempDir(), `
frontend fe
    bind :1
    stick-table type ip size 10 expire 1m store conn_cnt,conn_cur,http_req_cnt,http_req_rate(10s),http_err_cnt
    tcp-request connection track-sc0 src
backend other
    stick-table type ip size 10 expire 1m store http_req_cnt,conn_cnt
`)
	fe := e.rules["fe"]
	tr, err := fe.CompileHTTPTrack(httpLine("track-sc1", "src", "table", "other"), []string{"track-sc1", "src", "table", "other"}, acl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.SC() != 1 {
		t.Fatalf("SC() = %d", tr.SC())
	}
	s := newSess("198.18.3.4:1000")
	if fe.Connection(s) != Accept || fe.Session(s) != Accept {
		t.Fatal("refused")
	}
	var txn acl.Txn
	txn.Src = s.Txn.Src
	if err := s.Bind(&txn); err != nil {
		t.Fatal(err)
	}
	if SessionOf(&txn) != s {
		t.Fatal("SessionOf after Bind")
	}
	for req := 1; req <= 3; req++ {
		s.CountHTTPReq() // start of a request: sc0 counts it
		fe.Enter(s)
		if !tr.Run(s, &txn) {
			t.Fatalf("request %d: track-sc1 did not track", req)
		}
		if tr.Run(s, &txn) {
			t.Fatal("a counter already tracking must not track again")
		}
		if req == 2 {
			s.CountHTTPErr()
		}
		s.EndRequest()
		if e, _ := s.Tracked(1); e != nil {
			t.Fatal("EndRequest must free sc1")
		}
		if e, _ := s.Tracked(0); e == nil {
			t.Fatal("EndRequest must keep the connection's sc0")
		}
	}
	s.Close(0, 0)
	feTab, other := ts.Get("fe"), ts.Get("other")
	if out := showTable(t, feTab); !strings.Contains(out, "conn_cnt=1 conn_cur=0 http_req_cnt=3 http_req_rate(10000)=3 http_err_cnt=1") {
		t.Fatalf("fe table:\n%s", out)
	}
	// The request-scoped counter counted the 3 requests and no connection.
	if out := showTable(t, other); !strings.Contains(out, "use=0") || !strings.Contains(out, "conn_cnt=0 http_req_cnt=3") {
		t.Fatalf("other table:\n%s", out)
	}
}

func TestHTTPTrackErrors(t *testing.T) {
	ts := NewTables(stick.Options{})
	e := mustCompile(t, ts, t.TempDir(), `
frontend fe
    bind :1
    stick-table type ip size 10
frontend bare
    bind :2
`)
	for _, tc := range []struct {
		r     string
		words []string
		want  string
	}{
		{"bare", []string{"track-sc0", "src"}, `section "bare" has no stick-table`},
		{"fe", []string{"track-sc5", "src"}, "out of range"},
		{"fe", []string{"track-sc0"}, "missing key"},
		{"fe", []string{"track-sc0", "src", "table"}, "needs a table name"},
		{"fe", []string{"track-sc0", "src", "table", "nope"}, `no stick-table named "nope"`}, // Build committed: checked now
		{"fe", []string{"track-sc0", "bogus_fetch"}, "bogus_fetch"},
		{"fe", []string{"deny"}, "not a track-sc action"},
	} {
		_, err := e.rules[tc.r].CompileHTTPTrack(httpLine(tc.words...), tc.words, acl.Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "h.cfg:7") {
			t.Errorf("%s %v: %v, want a positioned error with %q", tc.r, tc.words, err, tc.want)
		}
	}
	s := NewSession()
	txn := acl.Txn{Ext: "something"}
	if err := s.Bind(&txn); err == nil {
		t.Fatal("Bind over a foreign Ext must fail")
	}
	txn.Ext = NewSession()
	if err := s.Bind(&txn); err == nil {
		t.Fatal("Bind over another Session must fail")
	}
}
