package tcprules

import (
	"strings"
	"testing"
	"time"

	"appl/internal/cfgfile"
	"appl/proxy/stick"
)

func compileOne(t testing.TB, role Role, text string) (*Rules, error) {
	t.Helper()
	lines := parseLines(t, "backend b\n"+text)
	b := NewTables(stick.Options{}).Begin()
	r, err := Compile("b", role, lines, nil, b, Options{})
	if err != nil {
		return nil, err
	}
	if _, err := b.Commit(); err != nil {
		return nil, err
	}
	return r, nil
}

func TestCompileErrors(t *testing.T) {
	cases := []struct{ text, want string }{
		{"tcp-request", "t.cfg:2: tcp-request: missing ruleset (expected connection, session, content or inspect-delay)"},
		{"tcp-request foo accept", `t.cfg:2: tcp-request: unknown tcp-request ruleset "foo"`},
		{"tcp-request content", "t.cfg:2: tcp-request: missing action (expected accept, reject"},
		{"tcp-request content allow", `t.cfg:2: tcp-request: unknown tcp-request content action "allow" (expected accept, reject, silent-drop, track-sc0`},
		{"tcp-request content capture req.payload(0,4) len 4", `tcp-request content action "capture" is not supported by appl yet`},
		{"tcp-request inspect-delay", "inspect-delay takes one time value"},
		{"tcp-request inspect-delay 5x", `bad inspect-delay "5x" (expected a time such as 500ms or 5s)`},
		{"tcp-request content track-sc0 src", `track-sc0: section "b" has no stick-table (expected a stick-table line here or 'table NAME')`},
		{"tcp-request content track-sc3 src table b", `track-sc3: stick counter "3" out of range (expected 0, 1 or 2`},
		{"tcp-request content track-sc0", "track-sc0: missing key (expected track-sc0 KEY [table NAME] [if|unless COND], e.g. track-sc0 src)"},
		{"tcp-request content track-sc0 if TRUE", "track-sc0: missing key"},
		{"tcp-request content track-sc0 src table", "track-sc0: 'table' needs a table name"},
		{"tcp-request content track-sc0 nosuch(1) table b", `bad sample expression "nosuch(1)": unknown fetch "nosuch"`},
		{"tcp-request content reject when TRUE", `unexpected "when" (expected if or unless followed by a condition, or the end of the line)`},
		{"tcp-request content reject if", "missing condition"},
		{"tcp-request content reject if nosuch_acl", `unknown ACL "nosuch_acl"`},
		{"tcp-request content sc-inc-gpc0 if TRUE", `unknown tcp-request content action "sc-inc-gpc0" (expected accept`},
		{"tcp-request content sc-inc-gpc0()", `bad action "sc-inc-gpc0()" (expected sc-inc-gpc0(N) with N 0, 1 or 2)`},
		{"tcp-request content sc-set-gpt0(0)", "sc-set-gpt0(0): missing value"},
		{"tcp-request content set-var(x) src", `set-var(x): variable "x" needs a scope`},
		{"tcp-request content set-var(txn.x)", "set-var(txn.x): missing expression"},
		{"stick", "t.cfg:2: stick: missing rule (expected stick on|match|store-request|store-response KEY"},
		{"stick with src", `unknown stick rule "with"`},
		{"stick on", "stick on: missing key"},
		{"stick on src", `stick on: section "b" has no stick-table`},
		{"stick match src table", "stick match: 'table' needs a table name"},
		{"stick on src table elsewhere", `t.cfg:2: stick: no stick-table named "elsewhere" (expected the name of a frontend, backend or listen section that declares one: none declared)`},
		{"stick-table type ip size 1k\nstick-table type ip size 2k", "t.cfg:3: stick-table: only one stick-table per section"},
		{"stick-table type foo size 1k", "t.cfg:2: stick-table: unknown type 'foo', expected ip, ipv6, integer, string or binary"},
	}
	for _, c := range cases {
		_, err := compileOne(t, Listen, c.text)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %q", c.text, err, c.want)
		}
	}
}

func TestCompileCollectsAllErrors(t *testing.T) {
	_, err := compileOne(t, Listen, "tcp-request content allow\nstick on\ntcp-request content accept\n")
	es := cfgfile.AsErrors(err)
	if len(es) != 2 || es[0].Pos.Line != 2 || es[1].Pos.Line != 3 {
		t.Fatalf("errors: %v", err)
	}
}

func TestCompileRolesAndDelay(t *testing.T) {
	const text = `stick-table type ip size 1k
tcp-request inspect-delay 5s
tcp-request connection reject if { src 198.18.9.9 }
tcp-request content accept if { req.ssl_sni -m end .example }
stick on src
http-request deny
`
	r, err := compileOne(t, Frontend, text)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.conn) != 1 || len(r.content) != 1 || r.HasStick() || r.InspectDelay() != 5*time.Second || !r.NeedsData() {
		t.Fatalf("frontend half: conn %d content %d stick %v delay %v data %v", len(r.conn), len(r.content), r.HasStick(), r.InspectDelay(), r.NeedsData())
	}
	r, err = compileOne(t, Backend, text)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.conn) != 0 || len(r.content) != 1 || !r.HasStick() {
		t.Fatalf("backend half: conn %d content %d stick %v", len(r.conn), len(r.content), r.HasStick())
	}
	for _, c := range []struct {
		rule string
		data bool
	}{
		{"tcp-request content reject if { src 198.18.0.0/16 }", false},
		{"tcp-request content reject if !{ dst_port 25 } { src 198.18.0.0/16 }", false},
		{"tcp-request content reject if { req.ssl_sni -m found }", true},
		{"tcp-request content reject if { req_ssl_sni -m found }", true},
		{"tcp-request content reject if LOCALHOST", false},
		{"tcp-request content reject", false},
		{"tcp-request content track-sc0 req.ssl_sni", true},
	} {
		r, err := compileOne(t, Frontend, "stick-table type string size 1k\ntcp-request inspect-delay 1s\n"+c.rule)
		if err != nil {
			t.Fatalf("%s: %v", c.rule, err)
		}
		if r.NeedsData() != c.data {
			t.Errorf("%s: NeedsData %v, want %v", c.rule, r.NeedsData(), c.data)
		}
	}
	// Without an inspect-delay... the rules still only read what is there.
	if r, _ := compileOne(t, Frontend, "tcp-request content reject if { src 1.2.3.4 }"); r.InspectDelay() != 0 {
		t.Fatal("inspect-delay without the line")
	}
}
