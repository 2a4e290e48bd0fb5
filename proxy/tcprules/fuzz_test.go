package tcprules

import (
	"net/netip"
	"strings"
	"testing"

	"appl/internal/cfgfile"
	"appl/proxy/stick"
)

// FuzzCompile feeds arbitrary directive lines to Compile: it must return rules or a
// positioned error, never panic, and compiled rules must run on a connection.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"tcp-request content accept if { src -f ./nowhere }\ntcp-request content reject",
		"stick-table type ip size 100k expire 30s store conn_rate(10s)\ntcp-request connection track-sc0 src\ntcp-request connection reject if { sc_conn_rate(0) gt 10 }",
		"stick-table type ip size 5k expire 1m store conn_cnt\nstick on src",
		"stick-table type string len 8 size 10\nstick match req.ssl_sni table b if !{ src 1.2.3.4 }\nstick store-response src",
		"tcp-request inspect-delay 5s\ntcp-request content sc-set-gpt0(1) src_port\ntcp-request session silent-drop unless TRUE",
		"tcp-request content set-var(sess.x) src,ipmask(24)\ntcp-request content unset-var(sess.x)",
		"stick-table type integer size 1\ntcp-request content track-sc2 src_port table b\ntcp-request content sc-inc-gpc1(2)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 4096 {
			return
		}
		var lines []cfgfile.Line
		for i, raw := range strings.Split(text, "\n") {
			w, err := cfgfile.SplitLine(raw, func(string) (string, bool) { return "", false })
			if err != nil || len(w) == 0 {
				continue
			}
			lines = append(lines, cfgfile.Line{Pos: cfgfile.Pos{File: "f.cfg", Line: i + 1}, Words: w})
		}
		b := NewTables(stick.Options{}).Begin()
		r, err := Compile("b", Listen, lines, nil, b, Options{})
		if err != nil {
			if len(cfgfile.AsErrors(err)) == 0 {
				t.Fatalf("unpositioned error: %v", err)
			}
			return
		}
		if _, err := b.Commit(); err != nil {
			if len(cfgfile.AsErrors(err)) == 0 {
				t.Fatalf("unpositioned commit error: %v", err)
			}
			return
		}
		s := NewSession()
		s.Reset(netip.MustParseAddrPort("198.18.0.1:1000"), netip.MustParseAddrPort("198.18.0.2:80"))
		r.Connection(s)
		r.Session(s)
		r.Content(s)
		if _, _, ok := r.StickServer(s, nil); !ok {
			r.StickStore(s, 1, "a")
		}
		r.StickStoreResponse(s, 1, "a")
		s.Close(1, 1)
	})
}
