package tcprules

import (
	"fmt"
	"strings"
	"testing"

	"appl/proxy/stick"
)

func fill(t *testing.T, be *Rules, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		s := newSess(fmt.Sprintf("198.18.2.%d:1", i))
		be.StickServer(s, nil)
		be.StickStore(s, 1, "web1")
		s.Close(0, 0)
	}
}

func TestReloadKeepsTables(t *testing.T) {
	clk := newClock()
	ts := NewTables(stick.Options{Now: clk.Now})
	dir := t.TempDir()
	const v1 = `
backend keep
    stick-table type ip size 1k expire 1m store conn_cnt
    stick on src
backend grow
    stick-table type ip size 1k expire 1m
    stick on src
backend retype
    stick-table type ip size 1k
    stick on src
backend gone
    stick-table type ip size 1k
`
	e1 := mustCompile(t, ts, dir, v1)
	if strings.Join(e1.ch.Created, ",") != "gone,grow,keep,retype" {
		t.Fatalf("first load: %+v", e1.ch)
	}
	for _, n := range []string{"keep", "grow", "retype"} {
		fill(t, e1.rules[n], 5)
	}
	keep1 := ts.Get("keep")

	// A configuration that does not compile changes nothing.
	if _, err := compileText(t, ts, dir, v1+"backend x\n    stick on src table nowhere\n", Options{}); err == nil ||
		!strings.Contains(err.Error(), `appl.cfg:14: stick: no stick-table named "nowhere"`) {
		t.Fatalf("bad reference: %v", err)
	}
	if ts.Get("keep") != keep1 || ts.Get("gone") == nil || keep1.Len() != 5 {
		t.Fatal("a refused configuration changed the tables")
	}

	const v2 = `
backend keep
    stick-table type ip size 1k expire 1m store conn_cnt
    stick on src
backend grow
    stick-table type ip size 2k expire 5m store conn_cnt
    stick on src
backend retype
    stick-table type string len 16 size 1k
    stick on src
backend new
    stick-table type ip size 1k
`
	e2 := mustCompile(t, ts, dir, v2)
	ch := e2.ch
	if fmt.Sprint(ch.Kept, ch.Rebuilt, ch.Emptied, ch.Created, ch.Dropped) != "[keep] [grow] [retype] [new] [gone]" || len(ch.Warnings) > 0 {
		t.Fatalf("reload changes: %+v", ch)
	}
	if ts.Get("keep") != keep1 || e2.rules["keep"].Table() != keep1 {
		t.Fatal("unchanged table not kept")
	}
	if n := keep1.Len(); n != 5 {
		t.Fatalf("kept table has %d entries", n)
	}
	grow := ts.Get("grow")
	if grow.Size() != 2048 || grow.Len() != 5 {
		t.Fatalf("rebuilt table: size %d, %d entries", grow.Size(), grow.Len())
	}
	// The copied entries still stick, in the new table, through the new rules.
	s := newSess("198.18.2.3:9")
	if name, _, ok := e2.rules["grow"].StickServer(s, nil); !ok || name != "web1" {
		t.Fatalf("rebuilt entry: %q %v", name, ok)
	}
	s.Close(0, 0)
	if n := ts.Get("retype").Len(); n != 0 {
		t.Fatalf("retyped table has %d entries", n)
	}
	if ts.Get("gone") != nil {
		t.Fatal("dropped table still registered")
	}
	if got := strings.Join(ts.Names(), ","); got != "grow,keep,new,retype" {
		t.Fatalf("names %s", got)
	}
}

// A table referenced from another section: declared after its user, and a stick rule
// there adds server_id/server_key to it.
func TestTableReferencedAcrossSections(t *testing.T) {
	ts := NewTables(stick.Options{Now: newClock().Now})
	e := mustCompile(t, ts, t.TempDir(), `
frontend fe
    bind :1
    tcp-request connection track-sc2 src table shared
backend be
    stick on src table shared
backend shared
    stick-table type ip size 1k store conn_cur
`)
	tb := ts.Get("shared")
	if !tb.Stores(stick.DataServerID) || !tb.Stores(stick.DataServerKey) {
		t.Fatalf("stick rule did not enable server storage: %v", tb.Def())
	}
	s := newSess("198.18.0.4:1")
	e.rules["fe"].Connection(s)
	if en, tt := s.Tracked(2); en == nil || tt != tb {
		t.Fatal("track-sc2 into the shared table failed")
	}
	e.rules["be"].StickServer(s, nil)
	e.rules["be"].StickStore(s, 2, "b")
	out := showTable(t, tb)
	// The tracked entry is not counted twice by the stick store.
	if !strings.Contains(out, "use=1 ") || !strings.Contains(out, "server_id=2 conn_cur=1 server_key=b") {
		t.Fatalf("shared table:\n%s", out)
	}
	s.Close(0, 0)
	if out := showTable(t, tb); !strings.Contains(out, "use=0 ") || !strings.Contains(out, "conn_cur=0") {
		t.Fatalf("after close:\n%s", out)
	}
}
